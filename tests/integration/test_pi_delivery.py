"""Delivery into a real TUI: the pi coding agent, started in tmux without credentials.

agent-send.sh must report ``delivered`` only because the message really left pi's input and pi
took it. The checks rest on what any release of pi must do, not on how one release draws its
screen:

- pi's input is the line the terminal cursor stands on (where its editor puts the cursor, and
  where agent-send.sh looks); once pi has taken a message that line is back to what it showed
  before (empty), with no part of the message and no paste placeholder left on it;
- pi reacted outside that line: without an API key it answers with an error (a line mentioning
  an error or the API key, one more than before), or it shows the message in its transcript;
- the pane is alive (pi did not exit).

The pi under test is the pinned one (tests/runtimes, see the pi_command fixture) or the one that
MOSAIC_TEST_PI names.
"""

import json
import os
import re
import subprocess
import time

# pi's answer to a message it cannot send to a model (any wording that names an error or the key).
ANSWER = re.compile(r"(?i)\berror\b|\bapi key\b")


class Screen:
    """One look at a pane: every row of its history and screen, and the row the cursor is on."""

    def __init__(self, agent):
        target = "=%s:" % agent.name
        # One tmux call, so the rows and the cursor come from the same moment.
        result = agent.tmux("capture-pane", "-p", "-S", "-", "-t", target, ";",
                            "display-message", "-p", "-t", target,
                            "#{history_size} #{cursor_y} #{pane_dead}")
        assert result.returncode == 0, result.stderr
        *rows, status = result.stdout.rstrip("\n").split("\n")
        history, cursor_y, dead = (int(n) for n in status.split())
        self.rows = rows
        self.cursor_row = history + cursor_y
        self.dead = dead == 1

    @property
    def input(self):
        """The line the cursor stands on: pi's input."""
        return self.rows[self.cursor_row].strip() if self.cursor_row < len(self.rows) else ""

    @property
    def outside(self):
        """Every row but the input's: the transcript and pi's other parts."""
        return [row for i, row in enumerate(self.rows) if i != self.cursor_row]

    def answers(self):
        return sum(1 for row in self.outside if ANSWER.search(row))

    def __str__(self):
        return "\n".join(("> " if i == self.cursor_row else "  ") + row.rstrip()
                         for i, row in enumerate(self.rows) if row.strip() or i == self.cursor_row)


def wait_settled(agent, timeout=60):
    """pi is up: its screen shows something and has held still for a second."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        screen = Screen(agent)
        assert not screen.dead, "pi exited:\n%s" % screen
        if screen.rows != (last.rows if last else None) or screen.cursor_row != last.cursor_row:
            last, since = screen, time.monotonic()
        elif any(row.strip() for row in screen.rows) and time.monotonic() - since >= 1.0:
            return screen
        assert time.monotonic() < deadline, "pi's screen never settled:\n%s" % screen
        time.sleep(0.1)


def wait_taken(agent, before, message, timeout=10):
    """Wait until pi has taken ``message``: its input is back to ``before``'s and it reacted."""
    pieces = [line.strip() for line in message.splitlines() if line.strip()]
    deadline = time.monotonic() + timeout
    while True:
        screen = Screen(agent)
        problems = []
        if screen.dead:
            problems.append("pi's pane is dead")
        if screen.input != before.input:
            problems.append("pi's input shows %r, not %r as before the send" % (screen.input, before.input))
        if any(piece[-24:] in screen.input for piece in pieces):
            problems.append("the message is still in pi's input")
        echoed = any(piece[-24:] in row for piece in pieces for row in screen.outside)
        if screen.answers() <= before.answers() and not echoed:
            problems.append("pi did not react: no new answer and no echo of the message")
        if not problems:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError("%s\n%s" % ("; ".join(problems), screen))
        time.sleep(0.1)


def send(env, socket, session, message):
    result = subprocess.run(
        [os.path.join(env["MOSAIC_HOME"], "tools", "tmux", "agent-send.sh"), "-L", socket, "-s", session,
         "--json", "--timeout", "20", "-m", "-"],
        env=env, input=message, capture_output=True, text=True, timeout=60, check=False)
    return result.returncode, json.loads(result.stdout)


def test_pi_takes_the_message_out_of_its_input(pi_command, start_agent, fleet_env, socket_name, tmp_path):
    pi_home = tmp_path / "pi-home"
    pi_home.mkdir()
    env = dict(fleet_env, HOME=str(pi_home))
    # PI_OFFLINE: pi fetches nothing (fd, ripgrep) off the internet at start.
    pi = start_agent("pi0", command="exec env PI_OFFLINE=1 %s" % pi_command, env=env, ready=None)
    before = wait_settled(pi)
    assert before.input == "", "pi's input is not empty at start:\n%s" % before

    message = "please review the patch in ~/work; reply with `ok` when done $(id)"
    rc, report = send(fleet_env, socket_name, "pi0", message)
    assert rc == 0 and report["outcome"] == "delivered", report
    after = wait_taken(pi, before, message)

    # A long multi-line message shows as a paste placeholder in the input; it must leave it too.
    long_message = "\n".join("line %03d of a long briefing" % i for i in range(120))
    rc, report = send(fleet_env, socket_name, "pi0", long_message)
    assert rc == 0 and report["outcome"] == "delivered", report
    wait_taken(pi, after, long_message)
    assert pi.pane("#{pane_dead}") == "0"
