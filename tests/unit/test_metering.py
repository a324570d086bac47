"""metering.py: the runtimes' metering and waiting signals, from the inputs the real runtimes give
(Claude Code 2.1.197's status-line and Notification JSON, codex 0.171's session file and notify
argument, as recorded against the mock model), and the runtime table's waiting patterns."""

import json

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import metering, runtime_table

# Claude Code's status-line input after one turn (recorded; paths shortened).
CLAUDE_STATUS = {
    "session_id": "7de2b59c-d9d6-4ae0-9f6f-3d084c7efe85",
    "transcript_path": "/home/f/.claude/projects/-w/7de2b59c.jsonl",
    "model": {"id": "claude-opus-4-8", "display_name": "Opus 4.8"},
    "version": "2.1.197",
    "cost": {"total_cost_usd": 0.01457, "total_duration_ms": 16579, "total_api_duration_ms": 121},
    "context_window": {"total_input_tokens": 1300, "total_output_tokens": 20, "context_window_size": 200000,
                       "current_usage": {"input_tokens": 1300, "output_tokens": 20, "cache_creation_input_tokens": 0,
                                         "cache_read_input_tokens": 0},
                       "used_percentage": 1, "remaining_percentage": 99},
    "exceeds_200k_tokens": False,
}

# The tail of a codex session file (recorded), one JSON object a line.
CODEX_LINES = [
    json.dumps({"type": "session_meta", "payload": {"id": "01a227cf-d2cf-7311-bc2f-9d586ff1eb8b"}}),
    json.dumps({"type": "turn_context", "payload": {"model": "mock-model", "cwd": "/w"}}),
    "not json at all, token_count",
    json.dumps({"type": "event_msg", "payload": {"type": "token_count", "info": {
        "total_token_usage": {"input_tokens": 2222, "output_tokens": 33, "total_tokens": 2255},
        "last_token_usage": {"input_tokens": 2222, "output_tokens": 33, "total_tokens": 2255},
        "model_context_window": 258400}}}),
    json.dumps({"type": "event_msg", "payload": {"type": "token_count", "info": {
        "total_token_usage": {"input_tokens": 3522, "output_tokens": 53, "total_tokens": 3575},
        "last_token_usage": {"input_tokens": 1300, "output_tokens": 20, "total_tokens": 1320},
        "model_context_window": 258400}}}),
]


def test_claude_status_line_input_becomes_the_metering_record():
    record = metering.from_claude_status(CLAUDE_STATUS, 1000)
    assert record == {"at": 1000, "source": "claude-status", "model": "claude-opus-4-8", "context_window": 200000,
                      "context_tokens": 1320, "context_used_pct": 1, "input_tokens": 1300, "output_tokens": 20,
                      "cost_usd": 0.01457, "session_id": "7de2b59c-d9d6-4ae0-9f6f-3d084c7efe85"}
    assert metering.status_line(record) == "mosaic · claude-opus-4-8 · ctx 1% · of 200k · $0.01"


def test_claude_status_before_the_first_turn_has_no_usage_yet():
    data = dict(CLAUDE_STATUS, context_window={"total_input_tokens": 0, "total_output_tokens": 0,
                                               "context_window_size": 200000, "current_usage": None,
                                               "used_percentage": None})
    record = metering.from_claude_status(data, 5)
    assert record["context_used_pct"] is None if "context_used_pct" in record else True
    assert "context_tokens" not in record and record["input_tokens"] == 0
    assert metering.from_claude_status({}, 5) == {"at": 5, "source": "claude-status"}
    assert metering.status_line({"at": 5}) == "mosaic · ?"


def test_codex_session_file_gives_the_last_token_count_and_model():
    record = metering.from_codex_rollout(CODEX_LINES, 1000, session_file="/c/rollout-x.jsonl")
    assert record == {"at": 1000, "source": "codex-session", "model": "mock-model", "context_window": 258400,
                      "context_tokens": 1320, "context_used_pct": 0.5, "input_tokens": 3522, "output_tokens": 53,
                      "session_id": "01a227cf-d2cf-7311-bc2f-9d586ff1eb8b", "session_file": "/c/rollout-x.jsonl"}
    assert metering.from_codex_rollout(CODEX_LINES[:3], 1000) is None


@pytest.mark.parametrize("argument, thread", [
    ('{"type":"agent-turn-complete","thread-id":"01a227cf-d2cf-7311-bc2f-9d586ff1eb8b"}',
     "01a227cf-d2cf-7311-bc2f-9d586ff1eb8b"),
    ('{"thread-id":"../../etc/passwd"}', None),
    ('{"thread-id":"*"}', None),
    ("not json", None),
    ("", None),
    ('["thread-id"]', None),
])
def test_codex_thread_id_is_only_a_plain_id(argument, thread):
    assert metering.codex_thread_id(argument) == thread


def test_sidecars_round_trip_and_junk_is_dropped():
    record = metering.from_claude_status(CLAUDE_STATUS, 1000)
    assert metering.parse_meter(metering.dumps(record)) == record
    assert metering.parse_meter('{"at": 1, "cost_usd": "lots", "model": 3, "input_tokens": true, "x": 1}') == {"at": 1}
    for text in (None, "", "{", "[]", '{"model": "m"}'):
        assert metering.parse_meter(text) is None
    notice = metering.notice_from_claude({"hook_event_name": "Notification", "message": "Claude needs your permission",
                                          "notification_type": "permission_prompt"}, 7)
    assert metering.parse_notice(metering.dumps(notice)) == {
        "at": 7, "type": "permission_prompt", "message": "Claude needs your permission"}
    assert metering.parse_notice('{"type": "x"}') is None
    fields = metering.record_fields(None)
    assert set(fields) == set(metering.RECORD_FIELDS) | {"meter_at", "meter_source"}
    assert set(fields.values()) == {None}


@pytest.mark.parametrize("value, text", [(None, "-"), (999, "999"), (1320, "1k"), (24000, "24k"),
                                         (200000, "200k"), (1000000, "1M"), (1500000, "1.5M")])
def test_human_tokens(value, text):
    assert metering.human_tokens(value) == text


CLAUDE_WAITING = runtime_table.TABLE["runtimes"]["claude"]["health"]["waiting"]
CODEX_WAITING = runtime_table.TABLE["runtimes"]["codex"]["health"]["waiting"]


@pytest.mark.parametrize("spec, screen, reason", [
    # the screens Claude Code 2.1.197 shows (recorded in tmux against the mock)
    (CLAUDE_WAITING, " Bash command\n   touch /tmp/x\n Do you want to proceed?\n ❯ 1. Yes\n   3. No\n"
                     " Esc to cancel · Tab to amend", "permission prompt"),
    (CLAUDE_WAITING, " Accessing workspace:\n /w\n ❯ 1. Yes, I trust this folder\n   2. No, exit", "workspace trust dialog"),
    (CLAUDE_WAITING, "  Detected a custom API key in your environment\n  Do you want to use this API key?\n"
                     "    1. Yes\n  ❯ 2. No (recommended)", "API key approval dialog"),
    (CLAUDE_WAITING, "  WARNING: Claude Code running in Bypass Permissions mode\n  ❯ 1. No, exit\n    2. Yes, I accept",
     "bypass-permissions acknowledgement"),
    (CLAUDE_WAITING, " ❯ 2. Dark mode ✔\n   3. Light mode\n  Syntax theme: Monokai Extended (ctrl+t to disable)",
     "first-run onboarding (theme)"),
    (CLAUDE_WAITING, "  ⎿  5-hour limit reached ∙ resets 3pm (Europe/Paris)\n❯ ", "usage limit; resets 3pm (Europe/Paris)"),
    (CLAUDE_WAITING, "● You've hit your limit · resets 11am (UTC)\n❯ ", "usage limit; resets 11am (UTC)"),
    (CLAUDE_WAITING, "❯ \n  ⏵⏵ bypass permissions on (shift+tab to cycle)", None),
    (CODEX_WAITING, "■ You've hit your usage limit. Upgrade to Pro. Try again at 3:05 PM.\n› Ask Codex",
     "usage limit; try again at 3:05 PM"),
    (CODEX_WAITING, "■ You've hit your usage limit. Try again at 3:05 PM.", "usage limit; try again at 3:05 PM"),
    (CODEX_WAITING, "  Would you like to run the following command?\n  $ rm -rf x", "approval prompt"),
    (CODEX_WAITING, "› Ask Codex to do anything", None),
])
def test_screen_patterns_of_the_table(spec, screen, reason):
    assert metering.screen_waiting(spec["screen"], screen, spec["tail_lines"]) == reason


def test_only_the_screens_tail_counts():
    spec = CLAUDE_WAITING
    screen = "Do you want to proceed?\n" + "\n".join("line %d" % i for i in range(30)) + "\n\n\n"
    assert metering.screen_waiting(spec["screen"], screen, spec["tail_lines"]) is None
    assert metering.screen_waiting(spec["screen"], screen, 40) == "permission prompt"
    assert metering.screen_waiting(spec["screen"], None, 40) is None


def test_notice_counts_only_for_listed_types_since_the_session_started():
    notice = {"at": 100, "type": "permission_prompt", "message": "Claude needs your permission"}
    kinds = CLAUDE_WAITING["notifications"]
    assert metering.notice_waiting(kinds, notice, 50) == "permission prompt: Claude needs your permission"
    assert metering.notice_waiting(kinds, dict(notice, message=""), 50) == "permission prompt"
    assert metering.notice_waiting(kinds, notice, 150) is None
    assert metering.notice_waiting(kinds, dict(notice, type="idle_prompt"), 50) is None
    assert metering.notice_waiting(None, notice, 50) is None


def test_every_runtime_says_what_it_meters_and_how_it_idles():
    for name, spec in runtime_table.TABLE["runtimes"].items():
        health = spec["health"]
        assert health["idle"] in ("beats", "turn_end"), name
        assert health["metering"] and health["how"], name
        for entry in (health.get("waiting") or {}).get("screen", []):
            assert set(entry) == {"pattern", "reason"}, name
