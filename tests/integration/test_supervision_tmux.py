"""tmux mode (no systemd): the agent session's pane-died hook runs tools/fleet/agent-died, which
restarts the agent by the roster's supervision policy (restart, delay, crash-loop guard), on real
tmux. fleet_ps (ps_probe, tmux supervisor) reads the restart count, the last exit and crashloop."""

import json
import re
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


def decisions(env, name):
    """(wait, step, delay) of each restart decision agent-died logged for ``name``."""
    path = os.path.join(env["MOSAIC_HOME"], "fleet", "log", "supervision.log")
    found = re.findall(r"%s: the runtime [^;]*; restarting in (\d+)s \(backoff step (\d+), (\d+)s after the end\)"
                       % re.escape(name), text(path) if os.path.exists(path) else "")
    return [tuple(int(v) for v in f) for f in found]


def test_restart_backoff_grows_to_its_cap_and_resets_after_a_stable_run(fleet_env, socket_name, tmp_path):
    """restart_delay 1 s doubling to restart_delay_max 4 s while runs are shorter than stable_after
    (3 s); a run of 3 s or more starts again at 1 s; a deliberate start forgets the backoff."""
    render_roster(fleet_env, socket_name, [{"name": "w0", "runtime": "stub"}], restart_delay_max=4, stable_after=3,
                  crashloop_burst=100)
    long_run = tmp_path / "long"
    start(fleet_env, socket_name, "w0",
          command="if [ -e %s ]; then rm -f %s; sleep 4; fi; sleep 0.3; exit 3" % (long_run, long_run))
    wait_for(lambda: len(decisions(fleet_env, "w0")) >= 4, timeout=TIMEOUT, what="four restart decisions")
    long_run.write_text("")
    wait_for(lambda: len(decisions(fleet_env, "w0")) >= 5, timeout=TIMEOUT, what="the decision after a long run")
    made = decisions(fleet_env, "w0")
    assert [(step, delay) for _wait, step, delay in made[:5]] == [(0, 1), (1, 2), (2, 4), (3, 4), (0, 1)], made
    assert all(wait <= delay for wait, _step, delay in made)
    # The time between two restarts grew with the delays (restarts are stamped when they happen).
    stamps = [int(t) for t in text(run_file(fleet_env, "w0", ".restarts")).split()]
    assert stamps[3] - stamps[2] >= 4 and stamps[2] - stamps[1] >= 2, stamps
    assert json.loads(text(run_file(fleet_env, "w0", ".backoff")))["step"] == 0
    # A deliberate stop and start: the backoff starts afresh (its record is gone).
    assert run_tool(fleet_env, "stop-agent-session.sh", "w0").returncode == 0
    start(fleet_env, socket_name, "w0", command="sleep 300")
    assert not os.path.exists(run_file(fleet_env, "w0", ".backoff"))
