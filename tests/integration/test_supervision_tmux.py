"""tmux mode (no systemd): the agent session's pane-died hook runs tools/fleet/agent-died, which
restarts the agent by the roster's supervision policy (restart, delay, crash-loop guard), on real
tmux. fleet_ps (ps_probe, tmux supervisor) reads the restart count, the last exit and crashloop."""

import json
import os
import signal

from framework_util import pane, run_tool, sessions, tmux, wait_for, write_agent_env

from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig, roster

TIMEOUT = 60


def render_roster(env, socket, agents, **fleet):
    doc = {"version": 1, "profile": "full", "tmux": {"socket_name": socket},
           "supervision": dict({"restart_delay": 1, "restart_spacing": 0}, **fleet),
           "agents": [{"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
                      {"name": "enhancer", "class": "enhancer", "runtime": "stub"}] + agents}
    normalized, violations = roster.validate(doc, default_host="h")
    assert not violations, violations
    with open(os.path.join(env["MOSAIC_HOME"], "fleet", "roster.yaml"), "w") as handle:
        handle.write(hostconfig.render_roster(normalized, "h"))


def start(env, socket, name, command=""):
    # As on a real host, the holder session keeps the fleet's tmux server up while an agent's
    # dead session is replaced (the server would exit with its last session).
    if "mosaic-holder" not in sessions(env, socket):
        assert tmux(env, socket, "new-session", "-d", "-s", "mosaic-holder", "sleep", "infinity").returncode == 0
    write_agent_env(env, name, socket=socket, command=command)
    result = run_tool(env, "start-agent-session.sh", name)
    assert result.returncode == 0, result.stderr
    return int(pane(env, socket, name, "#{pane_pid}"))


def alive_pid(env, socket, name):
    result = tmux(env, socket, "list-panes", "-t", "=%s:" % name, "-F", "#{pane_dead} #{pane_pid}")
    dead, _sep, pid = result.stdout.strip().partition(" ")
    return int(pid) if result.returncode == 0 and dead == "0" else None


def text(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def run_file(env, name, suffix):
    return os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + suffix)


def fleet_ps(env):
    """tools/fleet/fleet-ps --json (fleet_ps's own code) on this host: agent records by name."""
    result = run_tool(env, "fleet-ps", "--json", "--supervisor", "tmux", "--host", "h")
    assert result.returncode in (0, 1), result.stderr
    return dict((r["name"], r) for r in json.loads(result.stdout)["records"] if r.get("kind") == "agent")


def test_a_killed_runtime_comes_back(fleet_env, socket_name):
    render_roster(fleet_env, socket_name, [{"name": "w0", "runtime": "stub"}])
    pid = start(fleet_env, socket_name, "w0", command="sleep 300")
    os.kill(pid, signal.SIGKILL)
    new = wait_for(lambda: (alive_pid(fleet_env, socket_name, "w0") or pid) != pid and alive_pid(
        fleet_env, socket_name, "w0"), timeout=TIMEOUT, what="w0 back with a new pid")
    assert new != pid
    assert json.loads(text(run_file(fleet_env, "w0", ".exit")))["signal"] == 9
    assert len(text(run_file(fleet_env, "w0", ".restarts")).split()) == 1
    log = text(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "supervision.log"))
    assert "w0: the runtime was killed by signal 9; restarting in 1s" in log
    rec = fleet_ps(fleet_env)["w0"]
    assert (rec["restarts"], rec["last_exit_signal"], rec["pane_dead"]) == (1, 9, False)
    assert rec["last_restart_at"] is not None


def test_crash_loop_is_held_back_until_started_deliberately(fleet_env, socket_name):
    render_roster(fleet_env, socket_name, [{"name": "w0", "runtime": "stub"}], crashloop_burst=3)
    start(fleet_env, socket_name, "w0", command="sleep 0.5; exit 3")
    held = run_file(fleet_env, "w0", ".crashloop")
    wait_for(lambda: os.path.exists(held), timeout=TIMEOUT, what="the crash-loop guard")
    assert json.loads(text(held))["restarts"] == 2
    assert pane(fleet_env, socket_name, "w0", "#{pane_dead}") == "1"
    assert len(text(run_file(fleet_env, "w0", ".restarts")).split()) == 2
    assert json.loads(text(run_file(fleet_env, "w0", ".exit")))["status"] == 3
    rec = fleet_ps(fleet_env)["w0"]
    assert rec["health"] == "crashloop" and "after 2 restarts (at most 3 starts in 900s)" in rec["health_reason"]
    assert (rec["restarts"], rec["last_exit_status"]) == (2, 3)
    # The cause fixed, a deliberate start (as the playbook's) brings it back with a fresh budget.
    pid = start(fleet_env, socket_name, "w0", command="sleep 300")
    assert alive_pid(fleet_env, socket_name, "w0") == pid
    assert not os.path.exists(held) and not os.path.exists(run_file(fleet_env, "w0", ".restarts"))


def test_clean_exit_deliberate_stop_and_never_are_not_restarted_but_always_is(fleet_env, socket_name):
    render_roster(fleet_env, socket_name, [
        {"name": "clean", "runtime": "stub"},
        {"name": "never", "runtime": "stub", "supervision": {"restart": "never"}},
        {"name": "stopped", "runtime": "stub"},
        {"name": "always", "runtime": "stub", "supervision": {"restart": "always"}}])
    start(fleet_env, socket_name, "clean", command="sleep 0.5; exit 0")
    start(fleet_env, socket_name, "never", command="sleep 0.5; exit 1")
    start(fleet_env, socket_name, "stopped", command="sleep 300")
    always = start(fleet_env, socket_name, "always", command="sleep 0.5; exit 0")
    assert run_tool(fleet_env, "stop-agent-session.sh", "stopped").returncode == 0
    wait_for(lambda: (alive_pid(fleet_env, socket_name, "always") or always) != always,
             timeout=TIMEOUT, what="always restarted after a clean exit")
    log = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "supervision.log")
    wait_for(lambda: "never: the runtime exited with status 1; restart: never: not restarted" in text(log)
             and "clean: the runtime exited with status 0; restart: on-failure: not restarted" in text(log),
             timeout=TIMEOUT, what="the decisions logged")
    for name in ("clean", "never"):
        assert pane(fleet_env, socket_name, name, "#{pane_dead}") == "1", name
        assert not os.path.exists(run_file(fleet_env, name, ".restarts"))
    assert "stopped" not in sessions(fleet_env, socket_name)
    assert "mosaic-holder" in sessions(fleet_env, socket_name)
