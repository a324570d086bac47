"""Delivery into a real TUI: the pi coding agent, started in tmux without credentials.

Without an API key pi shows its full TUI, takes a pasted message into its input box and, on
Enter, clears the box and prints an error about the missing key. agent-send.sh must report
``delivered`` only because the message really left the box.
"""

import json
import os
import re
import subprocess

from framework_util import wait_for

RULE = re.compile(r"^\u2500{20,}$")


def input_box(screen):
    """The lines between pi's two horizontal rules (its editor)."""
    lines = screen.splitlines()
    rules = [i for i, line in enumerate(lines) if RULE.match(line.strip())]
    assert len(rules) >= 2, screen
    return lines[rules[-2] + 1:rules[-1]]


def send(env, socket, session, message):
    result = subprocess.run(
        [os.path.join(env["MOSAIC_HOME"], "tools", "tmux", "agent-send.sh"), "-L", socket, "-s", session,
         "--json", "--timeout", "20", "-m", "-"],
        env=env, input=message, capture_output=True, text=True, timeout=60, check=False)
    return result.returncode, json.loads(result.stdout)


def test_pi_takes_the_message_out_of_its_input_box(pi_command, start_agent, fleet_env, socket_name, tmp_path):
    pi_home = tmp_path / "pi-home"
    pi_home.mkdir()
    env = dict(fleet_env, HOME=str(pi_home))
    pi = start_agent("pi0", command="exec %s" % pi_command, env=env, ready=None)
    wait_for(lambda: len([l for l in pi.capture().splitlines() if RULE.match(l.strip())]) >= 2,
             timeout=60, what="pi's input box")
    assert not "".join(input_box(pi.capture())).strip()

    message = "please review the patch in ~/work; reply with `ok` when done $(id)"
    rc, report = send(fleet_env, socket_name, "pi0", message)
    assert rc == 0 and report["outcome"] == "delivered", report
    screen = pi.capture()
    assert not "".join(input_box(screen)).strip(), screen  # the box is empty again
    assert "No API key" in screen or message[-20:] in screen, screen  # pi answered in the transcript
    assert pi.pane("#{pane_dead}") == "0"

    # A long multi-line message shows as a paste placeholder in the box; it must leave it too.
    long_message = "\n".join("line %03d of a long briefing" % i for i in range(120))
    rc, report = send(fleet_env, socket_name, "pi0", long_message)
    assert rc == 0 and report["outcome"] == "delivered", report
    assert not "".join(input_box(pi.capture())).strip()
