"""fleet_ps against real tmux and the framework's stub agents.

Each test stands up a small fleet in its own HOME/MOSAIC_HOME/TMUX_TMPDIR (conftest.fleet_env):
the rendered roster and env files come from fleet_host_config's own renderer
(hostconfig.plan_files), the holder and agents are started with the framework's holder.sh and
start-agent-session.sh. Most tests call ps.probe in-process (fast); the ``ansible`` tests run the
real module and playbook the way an operator does.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from ansible_util import ansible_env as shared_ansible_env
from framework_util import wait_for
from ansible_collections.mosaic.fleet.plugins.module_utils import host, hostconfig, ps, ps_probe
from ansible_collections.mosaic.fleet.plugins.module_utils import roster as fleet_roster

RESULT = re.compile(r"^localhost \| (SUCCESS|FAILED!) => (\{.*?^\})$", re.M | re.S)


class Fleet(object):
    """A fleet of agents on localhost, on one test socket."""

    def __init__(self, env, socket, agents, tenant="acme"):
        self.env = dict(env, MOSAIC_HEARTBEAT_INTERVAL="0.5")
        self.socket = socket
        self.mosaic_home = env["MOSAIC_HOME"]
        document = {"version": 1, "tenant": tenant, "profile": "canary",
                    "tmux": {"socket_name": socket, "holder_session": "mosaic-holder"},
                    "agents": agents}
        self.roster = fleet_roster.normalize(document, default_host="localhost")
        for relpath, content in hostconfig.plan_files(self.roster, "localhost").items():
            path = os.path.join(self.mosaic_home, relpath)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(content)

    def tool(self, name, *args):
        result = subprocess.run([os.path.join(self.mosaic_home, "tools", "fleet", name)] + list(args),
                                env=self.env, capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        return result

    def start(self, *names):
        self.tool("holder.sh", "start")
        for name in names:
            self.tool("start-agent-session.sh", name)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=10, check=False)

    def run(self, argv, env):
        """The runner fleet_ps gets: one subprocess, counted by the caller through report['commands']."""
        full = dict(self.env, **(env or {}))
        proc = subprocess.run(argv, env=full, capture_output=True, text=True, timeout=30, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def ps(self, **options):
        roster, rendered = ps_probe.load_roster(self.mosaic_home)
        options.setdefault("supervisor", "tmux")
        return ps_probe.probe(roster, self.run, host.fleet_user(), self.mosaic_home, rendered_host_name=rendered,
                              hostname="test-host-not-in-roster", **options)

    def agent(self, name, **options):
        return [a for a in self.ps(**options)["agents"] if a["name"] == name][0]

    def wait_agent(self, name, predicate, what, timeout=15, **options):
        """Poll fleet_ps until ``predicate(record of name)`` holds; return that record."""
        def check():
            record = self.agent(name, **options)
            return record if predicate(record) else None
        return wait_for(check, timeout=timeout, what=what)

    def wait_health(self, name, health, timeout=15, **options):
        return self.wait_agent(name, lambda a: a["health"] == health, "%s to be %s" % (name, health),
                               timeout=timeout, **options)


STUBS = [
    {"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
    {"name": "enhancer", "class": "enhancer", "runtime": "stub"},
    {"name": "worker", "class": "worker", "runtime": "stub"},
]


@pytest.fixture
def fleet(fleet_env, socket_name):
    return Fleet(fleet_env, socket_name, [dict(a) for a in STUBS])


def all_healthy(fleet):
    report = fleet.ps()
    return report if report["all_healthy"] and report["total"] == 3 else None


def test_all_healthy_with_one_command_holder_and_viewer(fleet):
    fleet.start("orchestrator", "enhancer", "worker")
    # A read-only viewer (grouped session) is neither an agent nor ad hoc.
    assert fleet.tmux("new-session", "-d", "-t", "orchestrator", "-s", "orchestrator-view").returncode == 0
    report = wait_for(lambda: all_healthy(fleet), what="every stub healthy")

    assert report["summary"] == dict(dict.fromkeys(report["summary"], 0), healthy=3)
    assert {"healthy", "stale", "unresponsive", "waiting", "dead", "stopped", "missing"} <= set(report["summary"])
    assert report["adhoc_sessions"] == []
    assert report["viewer_sessions"] == [{"session": "orchestrator-view", "socket": fleet.socket,
                                          "agent": "orchestrator"}]
    assert report["holder_running"] is True
    assert report["host"] == "localhost" and report["host_rule"] == "rendered roster"
    assert report["drift"] is False
    # one list-panes for the whole host: no systemd here (tmux supervisor), one socket
    assert len(report["commands"]) == 1 and report["commands"][0][:4] == ["tmux", "-L", fleet.socket, "list-panes"]
    for agent in report["agents"]:
        assert agent["tenant_id"] == "acme" and agent["host"] == "localhost"
        assert agent["supervisor"] == "tmux" and agent["session_exists"] is True
        assert agent["pane_current_command"] == "python3"
        # the stub beats with its own pid, which is the pane's process (launch-agent execs it)
        assert agent["heartbeat_pid"] == agent["pane_pid"]
        assert 0 <= agent["heartbeat_age"] <= 5
        assert agent["pane_dead"] is False and agent["drift_reason"] is None


def test_killed_session_is_missing(fleet):
    fleet.start("orchestrator", "enhancer", "worker")
    wait_for(lambda: all_healthy(fleet), what="every stub healthy")
    assert fleet.tmux("kill-session", "-t", "=worker").returncode == 0
    report = fleet.ps()
    worker = [a for a in report["agents"] if a["name"] == "worker"][0]
    assert worker["health"] == "missing"
    assert worker["session_exists"] is False and worker["pane_pid"] is None
    assert report["summary"]["healthy"] == 2 and report["summary"]["missing"] == 1
    assert report["all_healthy"] is False


def test_killed_stub_with_remain_on_exit_is_dead(fleet):
    fleet.start("orchestrator", "enhancer", "worker")
    enhancer = fleet.wait_health("enhancer", "healthy")
    os.kill(enhancer["pane_pid"], signal.SIGKILL)
    dead = fleet.wait_health("enhancer", "dead")
    assert dead["pane_dead"] is True and dead["session_exists"] is True
    version = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=True).stdout.split()[-1]
    if tuple(int(p) for p in re.findall(r"\d+", version)[:2]) >= (3, 3):  # pane_dead_signal is 3.3+
        # tmux 3.3a does not always record the exit status of a SIGKILLed pane (measured: about
        # 1 kill in 5 shows pane_dead=1 with an empty pane_dead_signal, for good): when it did,
        # fleet_ps must report it.
        assert dead["pane_dead_signal"] in (9, None)
        if dead["pane_dead_signal"] == 9:
            assert "killed by signal 9" in dead["health_reason"]
    assert fleet.agent("orchestrator")["health"] == "healthy"


def test_stub_that_stops_beating_goes_stale_and_recovers(fleet):
    fleet.start("orchestrator", "enhancer", "worker")
    worker = fleet.wait_health("worker", "healthy", stale_after=2)
    # Stop its heartbeat while the stub keeps running. (Freezing it with signals does not work in
    # tmux: the server SIGCONTs a stopped pane process at once, and SIGTSTP/SIGTTIN/SIGTTOU are
    # discarded for the pane's orphaned process group.) The stub writes its heartbeat through a
    # temporary file ".NAME.heartbeat.PID" in fleet/run: a directory of that name makes the
    # write fail, and the stub carries on.
    blocker = os.path.join(fleet.mosaic_home, "fleet", "run", ".worker.heartbeat.%d" % worker["pane_pid"])
    os.mkdir(blocker)
    try:
        stale = fleet.wait_health("worker", "stale", stale_after=2)
        assert stale["heartbeat_age"] > 2
        assert stale["pane_dead"] is False and stale["drift"] is False
        assert stale["pane_current_command"] == "python3"
        # its neighbours keep beating
        assert fleet.agent("orchestrator", stale_after=2)["health"] == "healthy"
    finally:
        os.rmdir(blocker)
    fleet.wait_health("worker", "healthy", stale_after=2)


def test_agent_without_heartbeat_is_unresponsive(fleet_env, socket_name):
    # The runtime is python3 (so no drift) but never writes a heartbeat.
    quiet = {"name": "quiet", "runtime": "stub", "command": "exec python3 -c 'import time; time.sleep(300)'",
             "supervision": {"grace": 0}}   # no grace period: unresponsive at once (see the next test)
    fleet = Fleet(fleet_env, socket_name, [quiet, dict(STUBS[0])])
    fleet.start("quiet", "orchestrator")
    fleet.wait_health("orchestrator", "healthy")
    quiet = fleet.wait_health("quiet", "unresponsive")
    assert quiet["heartbeat_age"] is None and quiet["heartbeat_current"] is False
    assert quiet["pane_current_command"] == "python3" and quiet["drift"] is False


def test_agent_without_heartbeat_within_its_grace_is_starting(fleet_env, socket_name):
    """A new session without a heartbeat yet is not unresponsive during its supervision grace."""
    quiet = {"name": "quiet", "runtime": "stub", "command": "exec python3 -c 'import time; time.sleep(300)'",
             "supervision": {"grace": 600}}
    fleet = Fleet(fleet_env, socket_name, [quiet, dict(STUBS[0])])
    fleet.start("quiet", "orchestrator")
    fleet.wait_health("orchestrator", "healthy")
    quiet = fleet.wait_health("quiet", "starting")
    assert "no heartbeat yet (grace 600s)" in quiet["health_reason"]


def test_stray_session_is_adhoc(fleet):
    fleet.start("orchestrator", "enhancer", "worker")
    wait_for(lambda: all_healthy(fleet), what="every stub healthy")
    assert fleet.tmux("new-session", "-d", "-s", "scratch").returncode == 0
    report = fleet.ps()
    assert report["all_healthy"] is True
    assert [(s["session"], s["socket"], s["roster_host"]) for s in report["adhoc_sessions"]] == [
        ("scratch", fleet.socket, None)]
    assert report["adhoc_sessions"][0]["pane_current_command"] in ps.SHELLS
    assert report["drift"] is True


def test_pi_under_node_is_healthy_and_pi_fallen_back_to_bash_drifts(fleet_env, socket_name, tmp_path):
    """pi runs under node: a pane showing `node` is fine; a pane back at a shell is drift."""
    node_dir = tmp_path / "bin"
    node_dir.mkdir()
    # A long-running process whose argv[0] is "node", like `#!/usr/bin/env node` pi.
    agents = [{"name": "coder0", "runtime": "pi", "command": "exec -a node sleep 300"},
              {"name": "coder1", "runtime": "pi"}]
    fleet = Fleet(fleet_env, socket_name, agents)
    fleet.start("coder0")
    # coder1's runtime "exited" and left a shell in its pane.
    assert fleet.tmux("new-session", "-d", "-s", "coder1", "bash").returncode == 0
    run_dir = os.path.join(fleet.mosaic_home, "fleet", "run")
    for name in ("coder0", "coder1"):
        pid = fleet.tmux("display-message", "-p", "-t", "=%s:" % name, "#{pane_pid}").stdout.strip()
        with open(os.path.join(run_dir, name + ".heartbeat"), "w") as handle:
            handle.write("%d %s\n" % (int(time.time()) + 1, pid))
    coder0 = fleet.wait_agent("coder0", lambda a: a["pane_current_command"] == "node", "coder0 running as node")
    assert coder0["health"] == "healthy" and coder0["drift"] is False
    coder1 = fleet.wait_agent("coder1", lambda a: a["pane_current_command"] == "bash", "coder1's shell")
    assert coder1["drift"] is True
    assert "fell back to a shell" in coder1["drift_reason"] and "node or pi" in coder1["drift_reason"]


def test_default_socket_fleet(fleet_env):
    """A roster without a socket name: the default tmux socket (no -L), private to the test."""
    fleet = Fleet(fleet_env, "", [dict(STUBS[0])])
    fleet.socket = ""
    fleet.start("orchestrator")

    def healthy():
        report = fleet.ps()
        return report if report["all_healthy"] and report["total"] == 1 else None
    report = wait_for(healthy, what="orchestrator healthy on the default socket")
    assert report["sockets"] == [""]
    assert report["commands"][0][:2] == ["tmux", "list-panes"]


# ---------------------------------------------------------------------------------------------
# the real module and playbook


def ansible_env(fleet_env, tmp_path):
    return shared_ansible_env(fleet_env, tmp_path / "ansible-tmp", **{
        "PATH": os.path.dirname(sys.executable) + os.pathsep + fleet_env["PATH"],
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        # The operator may run this from inside tmux: the module must ignore $TMUX.
        "TMUX": "/nonexistent/socket,1,0",
    })


def ansible(env, args, tmp_path):
    binary = os.path.join(os.path.dirname(sys.executable), "ansible")
    binary = binary if os.path.exists(binary) else shutil.which("ansible")
    argv = [binary, "localhost", "-m", "mosaic.fleet.fleet_ps", "-a", args]
    proc = subprocess.run(argv, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120,
                          check=False)
    match = RESULT.search(proc.stdout)
    assert match, "no result in the output of %s:\n%s%s" % (argv, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    return match.group(1), json.loads(match.group(2))


def test_ansible_adhoc_reports_healthy_then_missing_and_adhoc(fleet, fleet_env, tmp_path):
    fleet.start("orchestrator", "enhancer", "worker")
    wait_for(lambda: all_healthy(fleet), what="every stub healthy")
    env = ansible_env(fleet_env, tmp_path)
    # What an operator types (mosaic_home because this test's HOME is not the user's home).
    args = "user=%s mosaic_home=%s supervisor=tmux" % (host.fleet_user()[0], fleet.mosaic_home)
    status, result = ansible(env, args, tmp_path)
    assert status == "SUCCESS" and result["changed"] is False
    assert [(a["name"], a["health"]) for a in result["agents"]] == [
        ("enhancer", "healthy"), ("orchestrator", "healthy"), ("worker", "healthy")]
    assert result["all_healthy"] is True and result["adhoc_sessions"] == []
    assert result["host"] == "localhost" and result["host_rule"] == "rendered roster"

    assert fleet.tmux("kill-session", "-t", "=worker").returncode == 0
    assert fleet.tmux("new-session", "-d", "-s", "stray").returncode == 0
    status, result = ansible(env, args + " host=localhost stale_after=60 tmux_tmpdir=%s"
                             % fleet_env["TMUX_TMPDIR"], tmp_path)
    assert status == "SUCCESS"
    health = dict((a["name"], a["health"]) for a in result["agents"])
    assert health == {"enhancer": "healthy", "orchestrator": "healthy", "worker": "missing"}
    assert [s["session"] for s in result["adhoc_sessions"]] == ["stray"]
    assert result["summary"]["missing"] == 1 and result["all_healthy"] is False
    assert len(result["commands"]) == 1

    status, result = ansible(env, args + " agents=worker,enhancer", tmp_path)
    assert [a["name"] for a in result["agents"]] == ["enhancer", "worker"]


def test_ansible_adhoc_fails_clearly_without_a_roster(fleet_env, tmp_path):
    env = ansible_env(fleet_env, tmp_path)
    status, result = ansible(env, "mosaic_home=%s" % (tmp_path / "nowhere"), tmp_path)
    assert status == "FAILED!"
    assert "cannot read the rendered roster" in result["msg"] and "mosaic.fleet.fleet" in result["msg"]


def run_playbook(env, tmp_path, extra, options=()):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "[fleet]\n"
        "localhost ansible_connection=local ansible_python_interpreter=%s\n"
        # nothing listens on port 9 (discard) here: an unreachable host, fast
        "%s\n" % (sys.executable, extra.pop("unreachable", "")))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    argv = [binary, "-i", str(inventory), "mosaic.fleet.ps"] + list(options)
    for key, value in extra.items():
        argv += ["-e", "%s=%s" % (key, value)]
    proc = subprocess.run(argv, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=180,
                          check=False)
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


TABLE_START = re.compile(r"^HOST +TENANT +AGENT +CLASS +RUNTIME +UNIT +SESSION +HEARTBEAT +HEALTH +CTX +COST +DRIFT$")
TABLE_END = re.compile(r"^(OK|NOT OK): ")


def shown_table(output):
    """The table's lines exactly as ps.yml prints them: header line through the OK/NOT OK line.

    Also checks that they are plain text (no JSON quoting) and that the columns line up.
    """
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if TABLE_START.match(line)]
    assert len(starts) == 1, "the table header (at column 0, once) is not in:\n" + output
    end = next(i for i in range(starts[0], len(lines)) if TABLE_END.match(lines[i]))
    table = lines[starts[0]:end + 1]
    for line in table:
        assert '"' not in line and not line.endswith(",") and not line.startswith(" "), line
    # Every row has its cells where the header's columns start: two spaces before, a cell at.
    header = table[0]
    columns = [m.start() for m in re.finditer(r"\S+", header)]
    rows = table[1:table.index("")] if "" in table else table[1:]
    rows = [row for row in rows if not re.match(r"^\S+: (unreachable|error): ", row)]
    assert rows, table
    for row in rows:
        for start in columns[1:]:
            assert row[start - 2:start] == "  " and row[start] != " ", (row, start)
    return table


def test_playbook_table_json_and_exit_code(fleet, fleet_env, tmp_path):
    fleet.start("orchestrator", "enhancer", "worker")
    wait_for(lambda: all_healthy(fleet), what="every stub healthy")
    env = ansible_env(fleet_env, tmp_path)
    out = tmp_path / "ps.json"
    common = {"mosaic_fleet_mosaic_home": fleet.mosaic_home, "mosaic_fleet_supervisor": "tmux",
              "mosaic_fleet_ps_json": str(out)}

    proc = run_playbook(env, tmp_path, dict(common))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = shown_table(proc.stdout)
    rows = [line.split() for line in table if line.startswith("localhost ")]
    assert [r[2] for r in rows] == ["enhancer", "orchestrator", "worker"]
    assert all(r[1] == "acme" and r[5] == "(tmux)" and r[6] == "yes" and r[8] == "healthy" for r in rows)
    assert "OK: every agent is healthy" in table
    data = json.loads(out.read_text())
    assert data["summary"]["ok"] is True and data["summary"]["agents"] == 3
    assert [r["name"] for r in data["records"]] == ["enhancer", "orchestrator", "worker"]

    # One agent down and one host unreachable: the report still comes, and the play fails.
    assert fleet.tmux("kill-session", "-t", "=enhancer").returncode == 0
    proc = run_playbook(env, tmp_path, dict(common, unreachable=(
        "ghost ansible_host=127.0.0.1 ansible_port=9 ansible_user=nobody "
        "ansible_ssh_common_args='-o ConnectTimeout=3 -o StrictHostKeyChecking=no'")))
    assert proc.returncode != 0
    table = shown_table(proc.stdout)
    rows = dict((line.split()[2], line.split()) for line in table if line.startswith("localhost "))
    assert rows["enhancer"][8] == "missing" and rows["worker"][8] == "healthy"
    assert [line.split()[8] for line in table if line.startswith("ghost ")] == ["unreachable"]
    assert any(line.startswith("NOT OK: 1 agent not healthy") for line in table)
    data = json.loads(out.read_text())
    assert data["summary"]["ok"] is False
    assert data["summary"]["problems"] == ["localhost/enhancer: missing"]
    assert data["summary"]["unreachable_hosts"] == ["ghost"]
    assert "localhost/enhancer: missing" in proc.stdout


# A stdout callback that prints one JSON document, like ansible.posix.json (not in ansible-core).
JSON_CALLBACK = '''
import json
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "json"

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.results = []

    def v2_runner_on_ok(self, result, **kwargs):
        self.results.append({"task": result._task.get_name(), "result": result._result})

    def v2_playbook_on_stats(self, stats):
        self._display.display(json.dumps({"results": self.results}, default=str))
'''


def test_playbook_table_is_plain_text_under_every_callback(fleet, fleet_env, tmp_path):
    """The table exactly as an operator sees it: plain lines under the task's banner, aligned."""
    fleet.start("orchestrator", "enhancer", "worker")
    wait_for(lambda: all_healthy(fleet), what="every stub healthy")
    assert fleet.tmux("kill-session", "-t", "=worker").returncode == 0
    env = ansible_env(fleet_env, tmp_path)
    common = {"mosaic_fleet_mosaic_home": fleet.mosaic_home, "mosaic_fleet_supervisor": "tmux"}
    expected = [
        r"HOST       TENANT  AGENT         CLASS         RUNTIME  UNIT    SESSION  HEARTBEAT  HEALTH   CTX  COST  DRIFT",
        r"localhost  acme    enhancer      enhancer      stub     \(tmux\)  yes      \d+s +healthy  -    -     -",
        r"localhost  acme    orchestrator  orchestrator  stub     \(tmux\)  yes      \d+s +healthy  -    -     -",
        r"localhost  acme    worker        worker        stub     \(tmux\)  no       \d+s +missing  -    -     -",
        r"",
        r"3 agents on 1 host: 2 healthy, 1 missing",
        r"NOT OK: 1 agent not healthy",
    ]

    def check(output):
        table = shown_table(output)
        assert len(table) == len(expected), table
        for line, pattern in zip(table, expected):
            assert re.fullmatch(pattern, line), (line, pattern)
        return output.splitlines().index(table[0])

    # The default callback, as configured by nobody: banner, the table, then the task's status.
    proc = run_playbook(env, tmp_path, dict(common))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    first = check(proc.stdout)
    lines = proc.stdout.splitlines()
    assert lines[first - 1].startswith("TASK [Show the fleet] ***")
    assert lines[first + len(expected)] == "ok: [localhost]"
    assert "msg" not in "\n".join(lines[first - 1:first + len(expected) + 1])

    # -v shows the action's result, which does not repeat the table; --check prints it the same.
    proc = run_playbook(env, tmp_path, dict(common), ["-v"])
    first = check(proc.stdout)
    assert proc.stdout.splitlines()[first + len(expected)] == 'ok: [localhost] => {"changed": false}'
    proc = run_playbook(env, tmp_path, dict(common), ["--check"])
    check(proc.stdout)

    for callback in ("minimal", "oneline"):
        proc = run_playbook(dict(env, ANSIBLE_STDOUT_CALLBACK=callback), tmp_path, dict(common))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        check(proc.stdout)

    # A callback that prints JSON for programs keeps stdout one document; the table is on stderr.
    plugins = tmp_path / "callbacks"
    plugins.mkdir()
    (plugins / "json.py").write_text(JSON_CALLBACK)
    proc = run_playbook(dict(env, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_CALLBACK_PLUGINS=str(plugins)),
                        tmp_path, dict(common))
    document = json.loads(proc.stdout)
    assert "Show the fleet" in [r["task"] for r in document["results"]]
    check(proc.stderr)


def test_table_action_adhoc_prints_and_refuses_bad_records(fleet_env, tmp_path):
    env = ansible_env(fleet_env, tmp_path)
    binary = os.path.join(os.path.dirname(sys.executable), "ansible")

    def adhoc(args):
        proc = subprocess.run([binary, "localhost", "-m", "mosaic.fleet.fleet_ps_table", "-a", json.dumps(args)],
                              env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120, check=False)
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    record = {"kind": "agent", "host": "web1", "name": "coder0", "tenant_id": "acme", "class": "coder",
              "runtime": "stub", "supervisor": "tmux", "session_exists": True, "pane_dead": False,
              "heartbeat_age": 3, "health": "healthy", "drift": False}
    proc = adhoc({"records": [record], "summary": False})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "HOST  TENANT  AGENT   CLASS  RUNTIME  UNIT    SESSION  HEARTBEAT  HEALTH   CTX  COST  DRIFT",
        "web1  acme    coder0  coder  stub     (tmux)  yes      3s         healthy  -    -     -"]
    assert "OK: every agent is healthy" not in proc.stdout

    proc = adhoc({"records": [{"health": "healthy"}]})
    assert proc.returncode != 0
    assert "cannot render the records" in proc.stdout and "fleet_ps_records" in proc.stdout
