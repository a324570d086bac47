"""tools/fleet/heartbeat's runtime modes, run as the runtimes run them (real bash and python3, the
installed framework): --status (Claude's status line), --notify (Claude's Notification hook),
--hook (activity: the notice is answered) and --codex (codex's notify, with a codex session file)."""

import json
import os
import subprocess
import time

from framework_util import read_file, tool

STATUS = {
    "session_id": "s-1", "model": {"id": "claude-x", "display_name": "X"},
    "cost": {"total_cost_usd": 0.25},
    "context_window": {"context_window_size": 200000, "used_percentage": 7, "total_input_tokens": 14000,
                       "total_output_tokens": 300, "current_usage": {"input_tokens": 14000, "output_tokens": 300}},
}


def run(env, *args, stdin="", extra=None):
    run_env = dict(env, MOSAIC_AGENT_NAME="orch", MOSAIC_RUNTIME_PID="4242")
    run_env.update(extra or {})
    return subprocess.run([tool(env, "heartbeat")] + list(args), env=run_env, input=stdin, capture_output=True,
                          text=True, timeout=30, check=False)


def run_file(env, suffix):
    data = read_file(os.path.join(env["MOSAIC_HOME"], "fleet", "run", "orch" + suffix))
    return None if data is None else data.decode()


def test_status_mode_beats_records_the_metering_and_prints_a_status_line(fleet_env):
    before = int(time.time())
    result = run(fleet_env, "--status", stdin=json.dumps(STATUS))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mosaic · claude-x · ctx 7% · of 200k · $0.25\n"
    stamp, pid = run_file(fleet_env, ".heartbeat").split()
    assert int(stamp) >= before and pid == "4242"
    meter = json.loads(run_file(fleet_env, ".meter.json"))
    assert meter["at"] >= before
    assert {k: meter[k] for k in ("source", "model", "context_window", "context_used_pct", "input_tokens",
                                  "output_tokens", "cost_usd", "session_id")} == {
        "source": "claude-status", "model": "claude-x", "context_window": 200000, "context_used_pct": 7,
        "input_tokens": 14000, "output_tokens": 300, "cost_usd": 0.25, "session_id": "s-1"}
    # no temporary file is left behind
    assert sorted(os.listdir(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run"))) == [
        "orch.heartbeat", "orch.meter.json"]
    # garbage on stdin still beats, prints a line and exits 0
    result = run(fleet_env, "--status", stdin="{not json")
    assert result.returncode == 0 and result.stdout == "mosaic · ?\n"


def test_notify_records_the_notice_and_activity_answers_it(fleet_env):
    notice = {"hook_event_name": "Notification", "message": "Claude needs your permission",
              "notification_type": "permission_prompt"}
    assert run(fleet_env, "--notify", stdin=json.dumps(notice)).returncode == 0
    assert json.loads(run_file(fleet_env, ".notice.json"))["type"] == "permission_prompt"
    assert run_file(fleet_env, ".heartbeat") is not None
    # the status line does not answer it; the next activity hook does
    assert run(fleet_env, "--status", stdin=json.dumps(STATUS)).returncode == 0
    assert run_file(fleet_env, ".notice.json") is not None
    assert run(fleet_env, "--hook", "ignored", stdin="{}").returncode == 0
    assert run_file(fleet_env, ".notice.json") is None


def test_codex_mode_reads_the_threads_session_file(fleet_env, tmp_path):
    codex_home = tmp_path / "codex"
    day = codex_home / "sessions" / "2026" / "11" / "29"
    day.mkdir(parents=True)
    thread = "01a227cf-d2cf-7311-bc2f-9d586ff1eb8b"
    lines = [{"type": "session_meta", "payload": {"id": thread}},
             {"type": "turn_context", "payload": {"model": "mock-model"}},
             {"type": "event_msg", "payload": {"type": "token_count", "info": {
                 "total_token_usage": {"input_tokens": 3522, "output_tokens": 53},
                 "last_token_usage": {"total_tokens": 1320}, "model_context_window": 258400}}}]
    session = day / ("rollout-2026-11-29T14-57-41-%s.jsonl" % thread)
    session.write_text("".join(json.dumps(line) + "\n" for line in lines))
    extra = {"CODEX_HOME": str(codex_home)}
    # codex's title thread has no session file: a beat, no metering
    title = json.dumps({"type": "agent-turn-complete", "thread-id": "01a227d0-0546-7fb2-9924-23d28d4b4315"})
    assert run(fleet_env, "--codex", title, extra=extra).returncode == 0
    assert run_file(fleet_env, ".heartbeat") is not None and run_file(fleet_env, ".meter.json") is None
    turn = json.dumps({"type": "agent-turn-complete", "thread-id": thread, "last-assistant-message": "done"})
    assert run(fleet_env, "--codex", turn, extra=extra).returncode == 0
    meter = json.loads(run_file(fleet_env, ".meter.json"))
    assert (meter["model"], meter["input_tokens"], meter["output_tokens"], meter["context_used_pct"],
            meter["session_file"]) == ("mock-model", 3522, 53, 0.5, str(session))
    # a hostile thread id reads nothing
    assert run(fleet_env, "--codex", '{"thread-id": "../../x"}', extra=extra).returncode == 0


def test_runtime_modes_never_fail_the_runtime(fleet_env):
    for args in (["--status"], ["--notify"], ["--codex", "{}"], ["--hook"]):
        # a MOSAIC_HOME nothing can be written in
        result = run(fleet_env, *args, stdin="{}", extra={"MOSAIC_HOME": "/proc/mosaic-nonexistent"})
        assert result.returncode == 0, (args, result.stderr)
    assert run(fleet_env, extra={"MOSAIC_HOME": "/proc/mosaic-nonexistent"}).returncode == 1
