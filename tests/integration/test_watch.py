"""tools/fleet/watch on real tmux: read-only, size-neutral, leaves nothing behind, seen by fleet_ps.

Each test stands up a stub agent with start-agent-session.sh (through test_fleet_ps.Fleet) and
runs ``watch`` inside a pane of an *outer* tmux server (its own socket in the test's TMUX_TMPDIR,
so conftest kills it too) whose size differs from the agent's. Keys are sent to that outer pane,
as an operator's keyboard would type them into the viewer.
"""

import json
import os
import subprocess
import time

from framework_util import read_file, run_tool, wait_for
from test_fleet_ps import Fleet

AGENT = "coder0"
OUTER_SIZE = ("90", "25")          # the agent's window is 220x50 (start-agent-session.sh)


class Outer(object):
    """An outer tmux server whose one pane runs ``watch NAME`` and records its exit code."""

    def __init__(self, fleet, name, tmp_path):
        self.env = fleet.env
        self.socket = fleet.socket + "-outer"
        self.rc_path = str(tmp_path / "watch.rc")
        watch = os.path.join(fleet.mosaic_home, "tools", "fleet", "watch")
        # An argv: tmux execs it without a shell; the name is data.
        script = '"$0" "$1"; echo $? > "$2.tmp"; mv "$2.tmp" "$2"; sleep 60'
        result = self.tmux("new-session", "-d", "-s", "outer", "-x", OUTER_SIZE[0], "-y", OUTER_SIZE[1],
                           "bash", "-c", script, watch, name, self.rc_path)
        assert result.returncode == 0, result.stderr

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=10, check=False)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "=outer:").stdout

    def keys(self, *keys):
        assert self.tmux("send-keys", "-t", "=outer:", *keys).returncode == 0

    def exit_code(self):
        data = read_file(self.rc_path)
        return int(data) if data else None


def sessions(fleet):
    """{name: (attached, group_list)} of every session on the fleet's socket."""
    out = fleet.tmux("list-sessions", "-F", "#{session_name}\t#{session_attached}\t#{session_group_list}").stdout
    return {line.split("\t")[0]: tuple(line.split("\t")[1:]) for line in out.splitlines()}


def window_size(fleet, name=AGENT):
    return fleet.tmux("display-message", "-p", "-t", "=%s:" % name, "#{window_width}x#{window_height}").stdout.strip()


def viewers(fleet):
    return [name for name in sessions(fleet) if name.startswith(AGENT + "-view-")]


def start(fleet_env, socket_name):
    fleet = Fleet(fleet_env, socket_name, [{"name": AGENT, "class": "coder", "runtime": "stub"}])
    fleet.start(AGENT)
    fleet.wait_health(AGENT, "healthy")
    return fleet


def attached_viewer(fleet):
    names = [name for name in viewers(fleet) if sessions(fleet)[name][0] == "1"]
    return names[0] if names else None


def test_watch_is_read_only_keeps_the_size_and_leaves_no_viewer(fleet_env, socket_name, tmp_path):
    fleet = start(fleet_env, socket_name)
    assert window_size(fleet) == "220x50"
    outer = Outer(fleet, AGENT, tmp_path)
    viewer = wait_for(lambda: attached_viewer(fleet), what="an attached viewer session")
    # The viewer is grouped with the agent's session and named by the contract's rule.
    assert viewer == "%s-view-%s" % (AGENT, viewer.rsplit("-", 1)[1])
    assert AGENT in sessions(fleet)[viewer][1].split(",")
    # It shows the agent's screen, its client is read-only and the agent's window kept its size
    # although the viewer's terminal is 90x25.
    wait_for(lambda: "stub>" in outer.screen(), what="the agent's screen in the viewer")
    clients = fleet.tmux("list-clients", "-F", "#{client_session} #{client_flags} #{client_width}x#{client_height}").stdout
    assert clients.split()[0] == viewer and "read-only" in clients.split()[1]
    assert clients.split()[2] == "%sx%s" % OUTER_SIZE
    assert window_size(fleet) == "220x50"

    # fleet_ps while watching: the agent healthy, the viewer a viewer, nothing ad hoc.
    report = fleet.ps()
    assert report["adhoc_sessions"] == []
    assert report["viewer_sessions"] == [{"session": viewer, "socket": fleet.socket, "agent": AGENT}]
    assert [(a["name"], a["health"]) for a in report["agents"]] == [(AGENT, "healthy")]

    # A line typed in the viewer never reaches the agent: nothing in the stub's log, nothing on
    # its input line.
    outer.keys("-l", "typed in the viewer")
    outer.keys("Enter")
    # The keys went through the outer pane to the viewer's client: give a leak time to land.
    time.sleep(1.0)
    log = os.path.join(fleet.mosaic_home, "fleet", "run", AGENT + ".stub.log")
    # Control: the same keys sent to the agent's own pane do arrive, so the log would show them.
    assert fleet.tmux("send-keys", "-t", "=%s:" % AGENT, "-l", "sent to the agent").returncode == 0
    assert fleet.tmux("send-keys", "-t", "=%s:" % AGENT, "Enter").returncode == 0
    wait_for(lambda: read_file(log), what="the stub's log")
    assert [json.loads(line)["text"] for line in read_file(log).decode().splitlines()] == ["sent to the agent"]
    assert "typed in the viewer" not in fleet.tmux("capture-pane", "-p", "-t", "=%s:" % AGENT).stdout

    # Detach with the prefix key: watch exits 0, no viewer session remains, the size is the same.
    outer.keys("C-b", "d")
    assert wait_for(lambda: outer.exit_code() is not None and [outer.exit_code()], what="watch to end") == [0]
    assert sorted(sessions(fleet)) == sorted([AGENT, "mosaic-holder"])
    assert window_size(fleet) == "220x50"
    assert fleet.ps()["viewer_sessions"] == []


def test_a_viewer_whose_terminal_goes_away_leaves_nothing(fleet_env, socket_name, tmp_path):
    fleet = start(fleet_env, socket_name)
    outer = Outer(fleet, AGENT, tmp_path)
    wait_for(lambda: attached_viewer(fleet), what="an attached viewer session")
    # The operator's terminal disappears: the whole outer server is killed, watch gets no chance.
    assert outer.tmux("kill-server").returncode == 0
    wait_for(lambda: not viewers(fleet), what="the viewer session to go")
    assert sorted(sessions(fleet)) == sorted([AGENT, "mosaic-holder"])
    assert window_size(fleet) == "220x50"
    assert fleet.agent(AGENT)["health"] == "healthy"


def test_watch_refuses_what_it_cannot_watch(fleet_env, socket_name):
    fleet = Fleet(fleet_env, socket_name, [{"name": AGENT, "class": "coder", "runtime": "stub"}])
    result = run_tool(fleet.env, "watch", AGENT)          # env file, no session
    assert result.returncode == 4 and "has no session" in result.stderr
    result = run_tool(fleet.env, "watch", "nobody")        # no env file
    assert result.returncode == 3 and "no env file" in result.stderr
    for argv in ([], ["bad.name"], [AGENT, "extra"]):
        assert run_tool(fleet.env, "watch", *argv).returncode == 2
    assert fleet.tmux("list-sessions").returncode != 0     # nothing was created
