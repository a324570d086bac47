"""Health and metering of the real runtimes (claude, codex, pi, opencode: the pinned ones) against
the mock model, started as a fleet starts them (start-agent-session.sh -> launch-agent -> the
runtime table) on local tmux, observed by fleet_ps's own code:

- every runtime stays ``healthy`` while idle for 3 x stale_after (Claude through its status line,
  pi and opencode through their timers, codex by the turn-end rule);
- every runtime shows its metering in fleet_ps after a turn, and the ps.yml table its CTX/COST;
- a Claude left at its workspace trust dialog, and one at a permission prompt, are ``waiting``
  with the reason; answering the prompt makes it healthy again.

One fleet for the module (the runtimes start once), runtimes started one after the other.
"""

import json
import os
import shlex
import subprocess
import time
import uuid

import pytest

from ansible_util import ansible_env
from framework_util import REPO, capture, install_framework, read_file, wait_for
from mock_model import API_KEY, prepare_home, text, tool_call
from test_fleet_ps import Fleet
from ansible_collections.mosaic.fleet.plugins.module_utils import envfile, ps_report, runtime_table

STALE_AFTER = 10
RUNTIMES = ("claude", "codex", "pi", "opencode")
NAMES = {"claude": "orch", "codex": "cx", "pi": "pi0", "opencode": "oc"}
# Claude without --dangerously-skip-permissions, with the table's hooks and status line: it asks
# before a tool call that writes.
CLAUDE_SETTINGS = runtime_table.TABLE["runtimes"]["claude"]["heartbeat"]["args"][0][1]["json"]
ASKER_COMMAND = "exec claude --model mock-model --settings " + shlex.quote(json.dumps(CLAUDE_SETTINGS))
AGENTS = [
    {"name": "orch", "class": "orchestrator", "runtime": "claude", "model_hint": "mock-model"},
    {"name": "cx", "class": "coder", "runtime": "codex", "model_hint": "mock-model"},
    {"name": "pi0", "class": "coder", "runtime": "pi", "model_hint": "mosaic/mock-model"},
    {"name": "oc", "class": "coder", "runtime": "opencode", "model_hint": "mosaic/mock-model"},
    {"name": "asker", "class": "worker", "runtime": "claude", "model_hint": "mock-model", "command": ASKER_COMMAND},
    # its working directory (outside the trusted home) gets no first-run trust: Claude stops at
    # the trust dialog
    {"name": "truster", "class": "worker", "runtime": "claude", "model_hint": "mock-model",
     "working_directory": "<untrusted>"},
]


@pytest.fixture(scope="module")
def real_fleet(mock_model, runtime_bin, tmp_path_factory):
    root = tmp_path_factory.mktemp("real-fleet")
    home = root / "home"
    mosaic_home = home / ".config" / "mosaic"
    install_framework(mosaic_home, symlinks=True)
    for sub in ("fleet/agents", "fleet/run", "fleet/log", "credentials"):
        (mosaic_home / sub).mkdir(parents=True, exist_ok=True)
    untrusted = root / "untrusted"
    untrusted.mkdir()
    agents = [dict(a, working_directory=str(untrusted)) if a.get("working_directory") == "<untrusted>" else dict(a)
              for a in AGENTS]
    tmux_tmpdir = root / "tmux"
    tmux_tmpdir.mkdir()
    # The fleet's own first-run state for every agent but truster (as fleet_host_config writes it).
    trusted = [dict(name=a["name"], runtime=a["runtime"], working_directory=a.get("working_directory", "~"),
                    model_hint=a["model_hint"]) for a in agents if a["name"] != "truster"]
    for runtime in ("claude", "codex"):   # the two credential sets: Anthropic's and OpenAI's API
        prepare_home(str(home), runtime, str(home), mock_model.url, runtime_bin, agents=trusted)
    secrets = [("ANTHROPIC_BASE_URL", mock_model.url), ("ANTHROPIC_API_KEY", API_KEY),
               ("OPENAI_BASE_URL", mock_model.url + "/v1"), ("OPENAI_API_KEY", API_KEY)]
    if os.geteuid() == 0:
        secrets.append(("IS_SANDBOX", "1"))   # Claude Code's own switch for root in a sandbox
    (mosaic_home / "credentials" / "fleet.env").write_text(envfile.render_env_file(secrets))
    env = {"HOME": str(home), "MOSAIC_HOME": str(mosaic_home), "TMUX_TMPDIR": str(tmux_tmpdir),
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TERM": "xterm-256color",
           "USER": os.environ.get("USER", "root")}
    fleet = Fleet(env, "t-" + uuid.uuid4().hex[:10], agents)
    fleet.document_agents = agents
    fleet.env.update(MOSAIC_RUNTIME_BIN=runtime_bin, MOSAIC_HEARTBEAT_INTERVAL="2")
    mock_model.script([text("ok")])
    fleet.tool("holder.sh", "start")
    yield fleet
    fleet.tmux("kill-server")


def records(fleet):
    report = fleet.ps(stale_after=STALE_AFTER)
    return report, dict((a["name"], a) for a in report["agents"])


def send(fleet, name, message):
    result = subprocess.run([os.path.join(fleet.mosaic_home, "tools", "tmux", "agent-send.sh"), "-s", name,
                             "-S", "operator", "-m", message, "--json", "--timeout", "60"],
                            env=fleet.env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_every_runtime_stays_healthy_while_idle(real_fleet):
    fleet = real_fleet
    for runtime in RUNTIMES:   # one after the other: two cores
        name = NAMES[runtime]
        fleet.tool("start-agent-session.sh", name)
        fleet.wait_agent(name, lambda a: a["health"] == "healthy" and a["heartbeat_current"] or
                         (a["health"] == "healthy" and "idle since it started" in a["health_reason"]),
                         "%s (%s) healthy" % (name, runtime), timeout=180, stale_after=STALE_AFTER)
    # codex beats only at turn ends: let it draw its prompt before the quiet period starts
    wait_for(lambda: time.time() - records(fleet)[1]["cx"]["pane_activity"] > 3, timeout=60,
             what="codex's pane to settle")

    samples = []
    deadline = time.monotonic() + 3 * STALE_AFTER
    while time.monotonic() < deadline:
        _report, now = records(fleet)
        states = dict((NAMES[r], (now[NAMES[r]]["health"], now[NAMES[r]]["health_reason"])) for r in RUNTIMES)
        assert all(state == "healthy" for state, _why in states.values()), states
        samples.append(now)
        time.sleep(2)
    assert len(samples) >= 5
    last = samples[-1]
    # claude, pi and opencode kept beating (their own process, idle); codex is idle since it started
    for name in ("orch", "pi0", "oc"):
        assert last[name]["heartbeat_age"] <= STALE_AFTER, last[name]
        assert last[name]["drift"] is False, last[name]["drift_reasons"]
    assert "idle since it started" in last["cx"]["health_reason"] and last["cx"]["drift"] is False


def test_every_runtime_shows_its_metering(real_fleet, mock_model):
    fleet = real_fleet
    mock_model.script([text("metered answer", user="metering-check", usage={"input_tokens": 1200, "output_tokens": 34}),
                       text("ok")])
    for runtime in RUNTIMES:
        assert send(fleet, NAMES[runtime], "metering-check: answer briefly")["outcome"] == "delivered"

    def metered(record):
        return record["input_tokens"] and record["model"] and record["meter_source"]
    wait_for(lambda: all(metered(r) for n, r in records(fleet)[1].items() if n in NAMES.values()),
             timeout=180, what="metering from every runtime: %r" % (
                 dict((n, (r["model"], r["input_tokens"])) for n, r in records(fleet)[1].items()),))
    report, now = records(fleet)
    claude, codex, pi, opencode = (now[NAMES[r]] for r in RUNTIMES)
    # Claude: its status line's input; the fleet's 200k window (CLAUDE_CODE_DISABLE_1M_CONTEXT)
    assert claude["meter_source"] == "claude-status" and claude["model"] == "mock-model"
    assert claude["context_window"] == 200000 and claude["cost_usd"] is not None
    assert claude["input_tokens"] >= 1200 and claude["output_tokens"] >= 34
    # codex: its session file at the turn's end; no cost
    assert codex["meter_source"] == "codex-session" and codex["model"] == "mock-model"
    assert codex["context_window"] and codex["context_used_pct"] is not None and codex["cost_usd"] is None
    # pi: its own usage accounting
    assert pi["meter_source"] == "pi" and pi["input_tokens"] >= 1200 and pi["cost_usd"] is not None
    assert pi["context_window"] and pi["context_used_pct"] is not None
    # opencode: totals and cost, no context window
    assert opencode["meter_source"] == "opencode" and opencode["input_tokens"] >= 1200
    assert opencode["context_window"] is None
    # ps.yml's table: CTX and COST, a total for the tenant
    table = ps_report.fleet_ps_table(ps_report.fleet_ps_records({"localhost": dict(
        report, agents=[now[NAMES[r]] for r in RUNTIMES])}))
    print(table)
    lines = table.splitlines()
    header = lines[0].split()
    cells = dict((line.split()[2], line.split()) for line in lines[1:5])
    assert cells["orch"][header.index("COST")].startswith("$")
    assert cells["cx"][header.index("COST")] == "-" and cells["cx"][header.index("CTX")].endswith("%")
    assert any(line.startswith("tenant acme: cost $") and "(4 of 4 agents)" in line for line in lines), table
    assert all(now[NAMES[r]]["health"] == "healthy" for r in RUNTIMES), [now[NAMES[r]]["health_reason"] for r in RUNTIMES]


def test_claude_at_its_trust_dialog_or_a_permission_prompt_is_waiting(real_fleet, mock_model, tmp_path):
    fleet = real_fleet
    touched = str(tmp_path / "touched")
    mock_model.script([tool_call("claude", "touch %s" % touched, user="perm-check"),
                       text("touched it", user="perm-check", after_tool=True), text("ok")])
    fleet.tool("start-agent-session.sh", "truster")
    fleet.tool("start-agent-session.sh", "asker")
    record = fleet.wait_health("truster", "waiting", timeout=120, stale_after=STALE_AFTER)
    assert record["waiting_reason"] == "workspace trust dialog" == record["health_reason"]
    assert record["heartbeat_current"] is False   # the dialog comes before any hook or status line

    fleet.wait_health("asker", "healthy", timeout=120, stale_after=STALE_AFTER)
    assert send(fleet, "asker", "perm-check: touch the file")["outcome"] == "delivered"
    record = fleet.wait_health("asker", "waiting", timeout=120, stale_after=STALE_AFTER)
    assert record["waiting_reason"].startswith("permission prompt"), record
    assert not os.path.exists(touched)
    # Claude's Notification hook said so too (heartbeat --notify): the notice beside the heartbeat
    notice_path = os.path.join(fleet.mosaic_home, "fleet", "run", "asker.notice.json")
    notice = wait_for(lambda: read_file(notice_path), timeout=60, what="Claude's permission notification")
    assert json.loads(notice)["type"] == "permission_prompt"
    # it stays waiting (not stale) while nobody answers, and its status line keeps beating
    time.sleep(1)
    assert records(fleet)[1]["asker"]["health"] == "waiting"

    # A human answers (Enter: "Yes"): the tool runs, the activity hook clears the notice.
    assert fleet.tmux("send-keys", "-t", "=asker:", "Enter").returncode == 0
    wait_for(lambda: os.path.exists(touched), timeout=60,
             what="the approved tool call to run; screen:\n" + capture(fleet.env, fleet.socket, "asker")[-2000:])
    fleet.wait_health("asker", "healthy", timeout=60, stale_after=STALE_AFTER)
    wait_for(lambda: read_file(notice_path) is None, timeout=30, what="the notice to be cleared")


def sheet_command(fleet, agent, peer, message):
    """The command ``agent``'s Fleet Comms sheet prints for sending to ``peer``, with ``...``
    replaced by ``message``: what a real agent is told to run."""
    with open(os.path.join(fleet.mosaic_home, "fleet", "agents", agent + ".comms.md"), encoding="utf-8") as handle:
        lines = sorted(set(line.strip() for line in handle if " -s %s -m " % peer in line))
    assert len(lines) == 1, lines   # (a coder's sheet names its point of contact twice, the same way)
    assert lines[0].endswith('-m "..."'), lines[0]
    return lines[0][:-len('"..."')] + '"%s"' % message


def test_round_trip_through_the_comms_sheets(real_fleet, mock_model, tmp_path):
    """send.yml -> the Claude orchestrator, whose model delegates by running its sheet's commands
    for the pi, codex and opencode coders; each coder's model answers with its sheet's reply
    command; the orchestrator's next requests to the model carry each reply under that coder's
    preamble."""
    fleet = real_fleet
    coders = ("pi0", "cx", "oc")
    for name in ("orch",) + coders:
        fleet.tool("start-agent-session.sh", name)   # idempotent: already running in module order
        fleet.wait_agent(name, lambda a: a["health"] == "healthy", "%s healthy" % name, timeout=180,
                         stale_after=STALE_AFTER)
    question = "roundtrip-delegate: what is six times seven?"
    delegate = " && ".join(sheet_command(fleet, "orch", coder, question) for coder in coders)
    replies = dict((coder, sheet_command(fleet, coder, "orch", "roundtrip-reply: 42")) for coder in coders)
    assert replies["pi0"] == replies["oc"]   # the same sheet line; the preamble tells them apart
    mock_model.script([
        tool_call("claude", delegate, user="roundtrip-task"),
        text("Delegated.", user="roundtrip-task", after_tool=True),
        tool_call("pi", replies["pi0"], user="roundtrip-delegate"),     # pi and opencode: tool `bash`
        tool_call("codex", replies["cx"], user="roundtrip-delegate"),
        text("Replied.", user="roundtrip-delegate", after_tool=True),
        text("Thanks, noted.", user="roundtrip-reply"),
        text("ok"),
    ])
    seen = len(mock_model.requests())
    document = {"version": 1, "tenant": "acme", "profile": "canary",
                "tmux": {"socket_name": fleet.socket, "holder_session": "mosaic-holder"},
                "agents": fleet.document_agents}
    extra = tmp_path / "send.json"
    extra.write_text(json.dumps({"mosaic_fleet_roster": document, "mosaic_fleet_mosaic_home": fleet.mosaic_home,
                                 "agent": "orch", "message": "roundtrip-task: ask the coders what six times seven is"}))
    bin_dir = os.path.join(REPO, ".venv", "bin")
    env = ansible_env(fleet.env, tmp_path / "ansible-tmp", PATH="%s:%s" % (bin_dir, fleet.env["PATH"]))
    result = subprocess.run([os.path.join(bin_dir, "ansible-playbook"), "-c", "local", "mosaic.fleet.send",
                             "-e", "@%s" % extra], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    for coder in coders:
        # the coder got the orchestrator's message under the orchestrator's preamble ...
        mock_model.wait_request(lambda r, c=coder: "[localhost:orch -> localhost:%s] roundtrip-delegate" % c in r.text,
                                timeout=180, after=seen, what="%s's turn with the orchestrator's message" % coder)
        # ... and the orchestrator's next request carries its reply under the coder's preamble.
        mock_model.wait_request(lambda r, c=coder: "[localhost:%s -> localhost:orch] roundtrip-reply: 42" % c in r.text
                                and '"Bash"' in r.text, timeout=180, after=seen,
                                what="the orchestrator's request with %s's reply" % coder)
    with open(os.path.join(fleet.mosaic_home, "fleet", "log", "send.log"), encoding="utf-8") as handle:
        log = handle.read()
    for coder in coders:
        assert "outcome=delivered src=localhost:orch dst=localhost:%s " % coder in log
        assert "outcome=delivered src=localhost:%s dst=localhost:orch " % coder in log
