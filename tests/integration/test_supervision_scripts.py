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


@pytest.mark.parametrize("n_restarts", [2, 0])
def test_under_the_unit_only_a_systemd_restart_waits_out_the_backoff(fleet_env, socket_name, tmp_path, n_restarts):
    """start-agent-session.sh under the unit, finding the dead pane its runtime left: when systemd
    restarted the unit (NRestarts > 0, here a stand-in systemctl) it waits the rest of the backoff
    (the third short run in a row: 1 s doubled twice, 4 s after the end) before replacing the
    pane; a deliberate start (NRestarts 0: the operator's, after reset-failed) waits nothing and
    forgets the backoff."""
    from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig, roster
    doc = {"version": 1, "profile": "full", "tmux": {"socket_name": socket_name},
           "supervision": {"restart_delay": 1, "restart_delay_max": 8, "restart_spacing": 0},
           "agents": [{"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
                      {"name": "enhancer", "class": "enhancer", "runtime": "stub"},
                      {"name": "a1", "runtime": "stub"}]}
    normalized, violations = roster.validate(doc, default_host="h")
    assert not violations, violations
    run_dir = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run")
    tmux(fleet_env, socket_name, "new-session", "-d", "-s", "mosaic-holder", "sleep", "infinity")
    pid = start(fleet_env, socket_name, "a1", command="sleep 0.3; exit 3")
    wait_for(lambda: gone(pid), timeout=15, what="the runtime to end")
    wait_for(lambda: pane(fleet_env, socket_name, "a1", "#{pane_dead}") == "1", timeout=15, what="the dead pane")
    # Started without a unit, its pane-died hook ran agent-died, which (no roster yet) left it dead.
    log = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "supervision.log")
    wait_for(lambda: b"not restarted" in (read_file(log) or b""), timeout=15, what="agent-died")
    with open(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "roster.yaml"), "w") as handle:
        handle.write(hostconfig.render_roster(normalized, "h"))
    with open(os.path.join(run_dir, "a1.backoff"), "w") as handle:
        handle.write('{"step": 1, "delay": 2, "time": 0}\n')
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "systemctl").write_text("#!/bin/sh\necho %d\n" % n_restarts)
    (bindir / "systemctl").chmod(0o755)
    write_agent_env(fleet_env, "a1", socket=socket_name, command="sleep 300")
    with open(os.path.join(run_dir, "a1.exit"), "w") as handle:
        handle.write('{"time": %d, "status": 3, "signal": null}\n' % int(time.time()))
    unit_env = dict(fleet_env, MOSAIC_AGENT_UNIT="mosaic-agent@a1.service",
                    PATH="%s:%s" % (bindir, fleet_env["PATH"]))
    before = time.monotonic()
    result = run_tool(fleet_env, "start-agent-session.sh", "a1", run_env=unit_env)
    took = time.monotonic() - before
    assert "replacing it" in result.stdout, (result.stdout, result.stderr)
    assert pane(fleet_env, socket_name, "a1", "#{pane_dead}") == "0"
    if n_restarts:
        assert "restart backoff (step 2): 4s after the end; waiting" in result.stdout, result.stdout
        assert took >= 2.5, took
        assert json.loads(read_file(os.path.join(run_dir, "a1.backoff")))["step"] == 2
    else:
        assert "backoff" not in result.stdout and took < 2.5, (result.stdout, took)
        assert not os.path.exists(os.path.join(run_dir, "a1.backoff"))


PLUGIN_DRIVER = r"""
const [kind, plugin, jitiPath] = process.argv.slice(2);
if (kind === "pi") {
  const { createJiti } = await import(jitiPath);
  const mod = await createJiti(import.meta.url).import(plugin);
  (mod.default || mod)({ on() {} });
} else {
  const mod = await import(plugin);
  await mod.MosaicHeartbeat();
}
// The event loop runs 4 s, is blocked 5 s (a hung runtime), then runs 1.5 s more.
setTimeout(() => {
  console.log("block " + Date.now() / 1000);
  const until = Date.now() + 5000;
  while (Date.now() < until) { /* busy */ }
  console.log("unblock " + Date.now() / 1000);
}, 4000);
setTimeout(() => process.exit(0), 10500);
"""


class NotifyManager:
    """A stand-in for the user manager's notify socket: records (time, message) of what arrives and
    closes the fds systemd-notify passes (its barrier)."""

    def __init__(self, path):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.server.bind(path)
        self.server.settimeout(0.5)
        self.got, self.done = [], False
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.done:
            try:
                data, ancdata, _flags, _addr = self.server.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
            except socket.timeout:
                continue
            except OSError:
                return
            self.got.append((time.time(), data.decode()))
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
                    for fd in fds:
                        os.close(fd)

    def close(self):
        self.done = True
        self.thread.join(5)
        self.server.close()

    def watchdog_times(self):
        return [at for at, text in self.got if "WATCHDOG=1" in text]


@pytest.mark.parametrize("kind, watchdog", [("opencode", "3"), ("pi", "3"), ("opencode", "")])
def test_the_pi_and_opencode_plugins_feed_the_watchdog_from_their_event_loop(
        fleet_env, tmp_path, request, kind, watchdog):
    """Under a unit with a watchdog (MOSAIC_NOTIFY_SOCKET + MOSAIC_WATCHDOG_SEC) the heartbeat
    plugin's timer runs tools/fleet/heartbeat, which sends WATCHDOG=1: while node's event loop runs
    (idle) it keeps feeding it, while the loop is blocked (hung) it stops; without a watchdog it
    sends nothing. pi's plugin is TypeScript: loaded with jiti, as pi does (the pinned runtimes)."""
    if not shutil.which("systemd-notify"):
        pytest.skip("no systemd-notify here")
    plugin = os.path.join(fleet_env["MOSAIC_HOME"], "tools", "fleet",
                          "pi-heartbeat.ts" if kind == "pi" else "opencode-heartbeat.js")
    jiti = ""
    if kind == "pi":
        jiti = os.path.join(os.path.dirname(request.getfixturevalue("runtime_bin")), "jiti", "lib", "jiti.mjs")
    driver = tmp_path / "driver.mjs"
    driver.write_text(PLUGIN_DRIVER)
    manager = NotifyManager(str(tmp_path / "notify"))
    env = dict(fleet_env, MOSAIC_NOTIFY_SOCKET=str(tmp_path / "notify"), MOSAIC_WATCHDOG_SEC=watchdog,
               MOSAIC_AGENT_NAME="a1", MOSAIC_HEARTBEAT_INTERVAL="1")
    try:
        result = subprocess.run(["node", str(driver), kind, plugin, jiti], env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        time.sleep(1)
    finally:
        manager.close()
    assert result.returncode == 0, result.stderr
    marks = dict(line.split() for line in result.stdout.split("\n") if line.startswith(("block", "unblock")))
    blocked, unblocked = float(marks["block"]), float(marks["unblock"])
    fed = manager.watchdog_times()
    assert os.path.exists(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "a1.heartbeat"))
    if not watchdog:
        assert fed == [], manager.got
        return
    assert len([t for t in fed if t < blocked]) >= 2, (fed, blocked)
    # A feed started just before the block may land in its first moments; none after that.
    assert [t for t in fed if blocked + 1.5 < t < unblocked] == [], (fed, blocked, unblocked)
    assert [t for t in fed if t >= unblocked], (fed, unblocked)


def freezer():
    """A new cgroup v1 freezer (``/sys/fs/cgroup/freezer``), or None where there is none we may write.
    (tmux continues a pane it sees stopped, so SIGSTOP cannot stand for a hung runtime; a frozen
    cgroup can.)"""
    path = "/sys/fs/cgroup/freezer/mosaic-test-%d" % os.getpid()
    try:
        os.mkdir(path)
    except OSError:
        return None
    return path


def write_to(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def test_real_pi_feeds_the_watchdog_while_idle_and_not_while_hung(fleet_env, socket_name, tmp_path, pi_command):
    """The whole chain with the real pi (the pinned one): start-agent-session.sh under a unit with a
    watchdog (NOTIFY_SOCKET, the drop-in's MOSAIC_WATCHDOG_SEC) -> the pane -> pi's heartbeat
    extension -> tools/fleet/heartbeat -> WATCHDOG=1 on the (stand-in) notify socket, again and
    again while pi idles at its prompt; where a cgroup freezer is available, none while pi is frozen
    (its event loop does not run, as in a hang), and again once it is thawed."""
    if not shutil.which("systemd-notify"):
        pytest.skip("no systemd-notify here")
    write_agent_env(fleet_env, "coder0", runtime="pi", model="openai-codex/gpt-5.5:high",
                    socket=socket_name, agent_class="coder")
    manager = NotifyManager(str(tmp_path / "notify"))
    run_env = dict(fleet_env, MOSAIC_RUNTIME_BIN=os.path.dirname(pi_command), MOSAIC_HEARTBEAT_INTERVAL="1",
                   PI_OFFLINE="1", NOTIFY_SOCKET=str(tmp_path / "notify"), MOSAIC_WATCHDOG_SEC="3")
    frozen = freezer()
    try:
        result = run_tool(fleet_env, "start-agent-session.sh", "coder0", run_env=run_env)
        assert result.returncode == 0, result.stderr
        pid = int(pane(fleet_env, socket_name, "coder0", "#{pane_pid}"))
        wait_for(lambda: len(manager.watchdog_times()) >= 3, timeout=60, what="pi feeding the watchdog")
        if frozen is None:
            return
        write_to(os.path.join(frozen, "cgroup.procs"), str(pid))
        write_to(os.path.join(frozen, "freezer.state"), "FROZEN")
        hung = time.time()
        time.sleep(4)   # four beat intervals: proof of absence needs some time
        write_to(os.path.join(frozen, "freezer.state"), "THAWED")
        thawed = time.time()
        wait_for(lambda: [t for t in manager.watchdog_times() if t > thawed], timeout=15, what="feeding again")
        fed = manager.watchdog_times()
        assert [t for t in fed if hung + 1.5 < t < thawed] == [], (fed, hung, thawed)
    finally:
        manager.close()
        if frozen is not None:
            write_to(os.path.join(frozen, "freezer.state"), "THAWED")
            for task in open(os.path.join(frozen, "cgroup.procs")).read().split():
                write_to("/sys/fs/cgroup/freezer/cgroup.procs", task)
            os.rmdir(frozen)
