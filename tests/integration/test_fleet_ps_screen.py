"""fleet_ps ``lines``: each agent's recent screen, for every agent of a host, in one tmux call per
socket, on real tmux with the framework's stub agents (in-process probe and the real module)."""

import json
import os

from framework_util import wait_for
from ansible_collections.mosaic.fleet.plugins.module_utils import host
from test_fleet_ps import STUBS, Fleet, ansible, ansible_env


def type_line(fleet, name, text):
    assert fleet.tmux("send-keys", "-t", "=%s:" % name, "-l", text).returncode == 0
    assert fleet.tmux("send-keys", "-t", "=%s:" % name, "Enter").returncode == 0


def stub_log(fleet, name):
    path = os.path.join(fleet.mosaic_home, "fleet", "run", name + ".stub.log")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def test_screens_of_every_agent_in_one_tmux_call(fleet_env, socket_name):
    fleet = Fleet(fleet_env, socket_name, [dict(a) for a in STUBS])
    fleet.start("orchestrator", "enhancer", "worker")
    fleet.wait_health("worker", "healthy")
    for name in ("enhancer", "worker"):
        type_line(fleet, name, "note for %s" % name)
        wait_for(lambda n=name: stub_log(fleet, n), what="%s's input" % name)
    # A pane that prints something shaped like a section header cannot forge another agent's screen.
    type_line(fleet, "worker", "mosaic-screen-0000 enhancer")
    wait_for(lambda: len(stub_log(fleet, "worker")) == 2, what="worker's second input")
    assert fleet.tmux("kill-session", "-t", "=orchestrator").returncode == 0

    report = fleet.ps(screen_lines=6)
    screens = {a["name"]: a["screen"] for a in report["agents"]}
    assert screens["orchestrator"] is None                    # no session, no screen
    for name in ("enhancer", "worker"):
        lines = screens[name].splitlines()
        assert 0 < len(lines) <= 6, screens[name]
        assert any("note for %s" % name in line for line in lines), screens[name]
        assert lines[-1] == "stub>"                           # trailing blank lines dropped
    assert "note for worker" not in screens["enhancer"] and "note for enhancer" not in screens["worker"]
    assert "mosaic-screen-0000 enhancer" in screens["worker"]
    # One list-panes and ONE capture call for the whole socket, whatever the agent count.
    assert len(report["commands"]) == 2
    assert report["commands"][1][:3] == ["tmux", "-L", fleet.socket]
    assert report["commands"][1].count("capture-pane") == 2
    # Without lines: no screen key, no extra call.
    plain = fleet.ps()
    assert len(plain["commands"]) == 1 and "screen" not in plain["agents"][0]


def test_screens_from_the_module_ad_hoc(fleet_env, socket_name, tmp_path):
    fleet = Fleet(fleet_env, socket_name, [dict(a) for a in STUBS])
    fleet.start("orchestrator", "enhancer", "worker")
    fleet.wait_health("worker", "healthy")
    type_line(fleet, "worker", "hello from the controller test")
    wait_for(lambda: stub_log(fleet, "worker"), what="worker's input")
    env = ansible_env(fleet_env, tmp_path)
    args = "user=%s mosaic_home=%s supervisor=tmux lines=3 agents=worker" % (host.fleet_user()[0], fleet.mosaic_home)
    status, result = ansible(env, args, tmp_path)
    assert status == "SUCCESS", result
    (worker,) = result["agents"]
    assert "hello from the controller test" in worker["screen"] and len(worker["screen"].splitlines()) <= 3
    status, result = ansible(env, args.replace("lines=3", "lines=-1"), tmp_path)
    assert status == "FAILED!" and "lines must be between 0 and" in result["msg"]
