"""The script side of supervision (framework/tools/fleet/supervision.sh) on real tmux, without
systemd: what the agent unit's ExecStop does when its runtime has ended by itself (record the end,
exit with the runtime's status, keep the dead pane) versus a deliberate stop (kill the session,
exit 0); the stub's hang mode; the restart spacing. The unit itself runs them in molecule
(extensions/molecule/lifecycle/tests/supervision)."""

import array
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from framework_util import pane, read_file, run_tool, screen_with, sessions, tmux, wait_for, write_agent_env


def start(env, socket, name, command=""):
    write_agent_env(env, name, socket=socket, command=command)
    result = run_tool(env, "start-agent-session.sh", name)
    assert result.returncode == 0, result.stderr
    return int(pane(env, socket, name, "#{pane_pid}"))


def as_unit(env, name, pid):
    """What the unit's ExecStart leaves behind: the PIDFile naming the runtime, and the env."""
    with open(os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + ".pid"), "w") as handle:
        handle.write("%d\n" % pid)
    return dict(env, MOSAIC_AGENT_UNIT="mosaic-agent@%s.service" % name)


def exit_record(env, name):
    return json.loads(read_file(os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + ".exit")))


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(") ", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("how, code, status, sig", [
    ("kill", 128 + 9, None, 9),
    ("exit 3", 3, 3, None),
    ("exit 0", 0, 0, None),
])
def test_execstop_after_the_runtime_ended_records_it_and_exits_with_its_status(
        fleet_env, socket_name, how, code, status, sig):
    command = "sleep 300" if how == "kill" else "sleep 1; %s" % how
    pid = start(fleet_env, socket_name, "a1", command=command)
    unit_env = as_unit(fleet_env, "a1", pid)
    if how == "kill":
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), timeout=15, what="the runtime to end")
    before = time.time()
    result = run_tool(fleet_env, "stop-agent-session.sh", "a1", run_env=unit_env)
    assert result.returncode == code, (result.stdout, result.stderr)
    record = exit_record(fleet_env, "a1")
    assert (record["status"], record["signal"]) == (status, sig)
    assert before - 2 <= record["time"] <= time.time() + 1
    assert ("killed by signal 9" if sig else "exited with status %d" % status) in result.stdout
    # The dead pane stays to look at (the next start replaces it); the pid file is gone.
    assert "a1" in sessions(fleet_env, socket_name)
    assert pane(fleet_env, socket_name, "a1", "#{pane_dead}") == "1"
    assert not os.path.exists(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "a1.pid"))


def test_a_deliberate_stop_kills_the_session_and_succeeds(fleet_env, socket_name):
    pid = start(fleet_env, socket_name, "a1", command="sleep 300")
    start(fleet_env, socket_name, "keep", command="sleep 300")
    result = run_tool(fleet_env, "stop-agent-session.sh", "a1", run_env=as_unit(fleet_env, "a1", pid))
    assert result.returncode == 0, result.stderr
    assert sessions(fleet_env, socket_name) == ["keep"]
    assert not os.path.exists(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "a1.exit"))


def test_the_stub_hangs_on_request_and_beats_no_more(fleet_env, socket_name):
    env = dict(fleet_env, MOSAIC_HEARTBEAT_INTERVAL="0.2")
    write_agent_env(env, "s1", socket=socket_name)
    assert run_tool(env, "start-agent-session.sh", "s1", run_env=env).returncode == 0
    beat = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "s1.heartbeat")
    wait_for(lambda: os.path.exists(beat), timeout=15, what="the first beat")
    tmux(fleet_env, socket_name, "send-keys", "-t", "=s1:", "-l", "/hang")
    tmux(fleet_env, socket_name, "send-keys", "-t", "=s1:", "Enter")
    wait_for(lambda: screen_with(fleet_env, socket_name, "s1", "[stub] hanging"), timeout=15, what="hang")
    stamp = os.stat(beat).st_mtime
    time.sleep(1.5)   # seven beat intervals: proof of absence needs some time
    assert os.stat(beat).st_mtime == stamp
    assert pane(fleet_env, socket_name, "s1", "#{pane_dead}") == "0"


def test_restart_spacing_keeps_restarts_of_one_runtime_apart(fleet_env):
    """Two restarts of the same runtime at once: the second waits the spacing; another runtime
    does not."""
    script = ('. "$MOSAIC_HOME/tools/fleet/lib.sh"; . "$MOSAIC_HOME/tools/fleet/supervision.sh"; '
              'mosaic_restart_spacing "$1" 2; date +%s.%N')
    procs = [subprocess.Popen(["bash", "-c", script, "x", runtime], env=fleet_env, stdout=subprocess.PIPE, text=True)
             for runtime in ("stub", "stub", "pi")]
    outs = [p.communicate(timeout=30)[0] for p in procs]
    done = dict(enumerate(float(o.strip().splitlines()[-1]) for o in outs))
    stubs = sorted([done[0], done[1]])
    assert stubs[1] - stubs[0] >= 1.5, outs
    assert "waiting" in outs[0] + outs[1]
    assert abs(done[2] - stubs[0]) < 1.5, outs


def test_the_heartbeat_feeds_the_unit_watchdog(fleet_env, tmp_path):
    """tools/fleet/heartbeat sends WATCHDOG=1 to MOSAIC_NOTIFY_SOCKET (the agent unit's notify
    socket) and waits for the manager to have read it (systemd-notify's barrier: the fd it passes
    is closed by the reader), so a short-lived hook process is never dropped as unknown."""
    if not shutil.which("systemd-notify"):
        pytest.skip("no systemd-notify here")
    path = str(tmp_path / "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(15)
    got = []

    def manager():
        try:
            while True:
                data, ancdata, _flags, _addr = server.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
                got.append(data.decode())
                for level, kind, payload in ancdata:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds = array.array("i")
                        fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
                        for fd in fds:
                            os.close(fd)   # the barrier: the sender returns once this is closed
                if "BARRIER=1" in got[-1]:
                    return
        except OSError:
            return
    thread = threading.Thread(target=manager)
    thread.start()
    env = dict(fleet_env, MOSAIC_NOTIFY_SOCKET=path)
    started = time.monotonic()
    result = run_tool(env, "heartbeat", "a1", str(os.getpid()), run_env=env)
    thread.join(20)
    server.close()
    assert result.returncode == 0, result.stderr
    assert "WATCHDOG=1" in got, got
    assert time.monotonic() - started < 5, "the heartbeat waited for the barrier's timeout"
    assert os.path.exists(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "a1.heartbeat"))
