"""The fleet-wide report (plugins/module_utils/ps_report.py) and its filters: records, summary, table."""

import json
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.mosaic.fleet.plugins.action import fleet_ps_table as table_action
from ansible_collections.mosaic.fleet.plugins.filter import fleet_ps as filters
from ansible_collections.mosaic.fleet.plugins.module_utils import ps_report as report

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ps")


def load(name):
    with open(os.path.join(DATA, name), "r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


RESULTS = load("fleet_results.yaml")


def test_records_sorted_by_host_then_agent_with_failed_hosts_as_rows():
    records = report.fleet_ps_records(RESULTS)
    keys = [(r["host"], r["kind"], r["name"], r["health"]) for r in records]
    assert keys == [
        ("web1", "agent", "coder0", "stale"),
        ("web1", "agent", "orchestrator", "healthy"),
        ("web1", "adhoc", "scratch", "adhoc"),
        # web2 did not answer: its agents come from the placement web1 reported.
        ("web2", "agent", "coder1", "unreachable"),
        ("web2", "agent", "enhancer", "unreachable"),
        ("web3", "host", None, "error"),
        ("web4", "agent", "coder9", "healthy"),
    ]
    web2 = [r for r in records if r["host"] == "web2"]
    assert all("Connection timed out" in r["health_reason"] for r in web2)
    error = [r for r in records if r["host"] == "web3"][0]
    assert "cannot read the rendered roster" in error["health_reason"]
    # Full module records pass through (for the JSON file).
    orchestrator = [r for r in records if r["name"] == "orchestrator"][0]
    assert orchestrator["pane_pid"] == 101 and orchestrator["tenant_id"] == "acme"
    json.dumps(records)


def test_summary():
    summary = report.fleet_ps_summary(report.fleet_ps_records(RESULTS))
    assert summary["agents"] == 5
    assert summary["hosts"] == 4
    assert summary["counts"]["healthy"] == 2
    assert summary["counts"]["stale"] == 1
    assert summary["counts"]["unreachable"] == 2
    assert summary["not_healthy"] == 3
    assert summary["problems"] == ["web1/coder0: stale", "web2/coder1: unreachable", "web2/enhancer: unreachable"]
    assert summary["adhoc_sessions"] == 1
    assert summary["drift"] == 1
    assert summary["unreachable_hosts"] == ["web2"]
    assert summary["error_hosts"] == ["web3"]
    assert summary["ok"] is False


def test_summary_ok_only_when_every_agent_is_healthy_and_every_host_answered():
    healthy = {"web1": RESULTS["web1"]}
    healthy["web1"] = dict(RESULTS["web1"], agents=[a for a in RESULTS["web1"]["agents"] if a["health"] == "healthy"])
    summary = report.fleet_ps_summary(report.fleet_ps_records(healthy))
    # an ad-hoc session is reported, not a failure
    assert summary["adhoc_sessions"] == 1
    assert summary["ok"] is True
    assert report.fleet_ps_summary([])["ok"] is True
    summary = report.fleet_ps_summary(report.fleet_ps_records({"web2": RESULTS["web2"]}))
    assert summary["ok"] is False and summary["unreachable_hosts"] == ["web2"]


def test_table():
    text = report.fleet_ps_table(report.fleet_ps_records(RESULTS))
    lines = text.splitlines()
    header = lines[0].split()
    assert header == list(report.COLUMNS)
    # Every data row has its cells where the header's columns start.
    starts = [lines[0].index(col) for col in report.COLUMNS]
    rows = lines[1:8]
    for row in rows:
        for start in starts[1:]:
            assert row[start - 2:start] == "  ", row
    assert rows[0].split()[:9] == ["web1", "acme", "coder0", "coder", "pi", "active", "yes", "5m", "stale"]
    assert rows[0].endswith("pane runs 'bash', not the pi runtime (expected node or pi); it fell back to a shell")
    assert rows[1].split() == ["web1", "acme", "orchestrator", "orchestrator", "stub", "active", "yes", "3s",
                               "healthy", "-", "-", "-"]
    assert rows[2].split()[:9] == ["web1", "acme", "scratch", "-", "bash", "-", "yes", "-", "adhoc"]
    assert rows[3].split() == ["web2", "-", "coder1", "-", "-", "-", "-", "-", "unreachable", "-", "-", "-"]
    assert rows[6].split()[:9] == ["web4", "default", "coder9", "coder", "codex", "(tmux)", "yes", "12s", "healthy"]
    assert "web2: unreachable: Failed to connect to the host via ssh: Connection timed out" in lines
    assert lines[-3:] == [
        "5 agents on 4 hosts: 2 healthy, 1 stale",
        "1 drifting; 1 ad-hoc session; unreachable: web2; fleet_ps failed on: web3",
        "NOT OK: 3 agents not healthy, and some hosts did not answer",
    ]


def test_table_without_summary_and_empty():
    assert report.fleet_ps_table([], summary=False) == "  ".join(report.COLUMNS)
    assert report.fleet_ps_table([]).splitlines()[-1] == "OK: every agent is healthy"


@pytest.mark.parametrize("seconds, text", [
    (None, "-"), (-3, "0s"), (0, "0s"), (59.9, "59s"), (119, "119s"), (120, "2m"), (7199, "119m"),
    (7200, "2h"), (172799, "47h"), (172800, "2d"),
])
def test_format_age(seconds, text):
    assert report.format_age(seconds) == text


@pytest.mark.parametrize("record, cell", [
    ({"supervisor": "systemd", "unit_active_state": "failed", "unit_enabled": True}, "failed"),
    ({"supervisor": "systemd", "unit_active_state": "active", "unit_enabled": False}, "active,disabled"),
    ({"supervisor": "tmux"}, "(tmux)"),
    ({}, "-"),
])
def test_unit_cell(record, cell):
    assert report._unit_cell(record) == cell


def test_session_cell():
    assert report._session_cell({"session_exists": True, "pane_dead": True}) == "dead"
    assert report._session_cell({"session_exists": False}) == "no"
    assert report._session_cell({"session_exists": None}) == "-"


def test_records_rejects_a_non_mapping():
    with pytest.raises(TypeError, match="mapping of host"):
        report.fleet_ps_records([1, 2])
    with pytest.raises(AnsibleFilterError, match="mapping of host"):
        filters.fleet_ps_records([1, 2])


def test_filters_are_registered_and_render_the_shared_report():
    registered = filters.FilterModule().filters()
    assert set(registered) == {"fleet_ps_records", "fleet_ps_summary", "fleet_ps_table"}
    records = registered["fleet_ps_records"](RESULTS)
    assert records == report.fleet_ps_records(RESULTS)
    assert registered["fleet_ps_summary"](records) == report.fleet_ps_summary(records)
    assert registered["fleet_ps_table"](records) == report.fleet_ps_table(records)
    assert registered["fleet_ps_table"](records, False) == report.fleet_ps_table(records, summary=False)


@pytest.mark.parametrize("callback, programs", [
    ("default", False), ("ansible.builtin.default", False), ("minimal", False), ("oneline", False),
    ("community.general.yaml", False), (None, False), ("json", True), ("ansible.posix.json", True),
    ("ansible.posix.jsonl", True),
])
def test_table_action_sends_the_table_to_stderr_only_beside_json_callbacks(callback, programs):
    assert table_action.stdout_is_for_programs(callback) is programs


def test_a_connector_that_is_not_healthy_is_a_row_a_problem_and_makes_the_fleet_not_ok():
    results = {"web1": {"agents": [{"name": "orch", "health": "healthy", "drift": False}], "tenant_id": "t",
                        "connector": {"kind": "matrix", "state": "unauthenticated",
                                      "reason": "whoami: 401 M_UNKNOWN_TOKEN"}},
               "web2": {"agents": [{"name": "coder0", "health": "healthy", "drift": False}], "connector": None}}
    records = report.fleet_ps_records(results)
    assert [(r["host"], r["kind"], r["name"], r["health"]) for r in records] == [
        ("web1", "agent", "orch", "healthy"),
        ("web1", "connector", "(connector matrix)", "unauthenticated"),
        ("web2", "agent", "coder0", "healthy"),
    ]
    summary = report.fleet_ps_summary(records)
    assert (summary["agents"], summary["not_healthy"], summary["connectors"], summary["connectors_not_healthy"],
            summary["ok"], summary["unreachable_hosts"]) == (2, 0, 1, 1, False, [])
    assert summary["problems"] == ["web1/(connector matrix): unauthenticated (whoami: 401 M_UNKNOWN_TOKEN)"]
    table = report.fleet_ps_table(records)
    assert "web1: (connector matrix): unauthenticated: whoami: 401 M_UNKNOWN_TOKEN" in table
    assert "NOT OK: 0 agents not healthy, and the connector is not healthy" in table
    results["web1"]["connector"] = {"kind": "matrix", "state": "healthy", "reason": "ok"}
    assert report.fleet_ps_summary(report.fleet_ps_records(results))["ok"] is True


def _agent(name, tenant, **fields):
    record = {"kind": "agent", "host": "web1", "name": name, "tenant_id": tenant, "class": "coder",
              "runtime": "claude", "supervisor": "tmux", "session_exists": True, "pane_dead": False,
              "heartbeat_age": 3, "health": "healthy", "drift": False}
    record.update(fields)
    return report.fleet_ps_records({"web1": {"agents": [record]}})[0]


def test_metering_columns_waiting_lines_and_a_total_per_tenant():
    records = [
        _agent("orch", "acme", context_used_pct=12.4, cost_usd=0.4213, input_tokens=24000, output_tokens=900),
        _agent("asker", "acme", health="waiting", waiting_reason="permission prompt: Claude needs your permission",
               health_reason="permission prompt: Claude needs your permission"),
        _agent("coder", "beta", runtime="codex", context_used_pct=0.51, input_tokens=3522, output_tokens=53),
        _agent("pi0", "beta", runtime="pi", context_used_pct=0, cost_usd=0.0),
    ]
    lines = report.fleet_ps_table(records).splitlines()
    header = lines[0].split()
    ctx, cost = header.index("CTX"), header.index("COST")
    cells = dict((line.split()[2], line.split()) for line in lines[1:5])
    assert (cells["orch"][ctx], cells["orch"][cost]) == ("12%", "$0.42")
    assert (cells["asker"][ctx], cells["asker"][cost]) == ("-", "-")
    assert (cells["coder"][ctx], cells["coder"][cost]) == ("0.5%", "-")
    assert (cells["pi0"][ctx], cells["pi0"][cost]) == ("0%", "$0.00")
    assert "web1: asker: waiting: permission prompt: Claude needs your permission" in lines
    assert "tenant acme: cost $0.42 (1 of 2 agents), tokens 24k in / 900 out (1 of 2 agents)" in lines
    assert "tenant beta: cost $0.00 (1 of 2 agents), tokens 4k in / 53 out (1 of 2 agents)" in lines
    assert lines[-1] == "NOT OK: 1 agent not healthy"
    assert report.fleet_ps_summary(records)["problems"] == ["web1/asker: waiting"]


def test_no_total_lines_when_no_agent_reports_metering():
    assert report.total_lines([_agent("a", "acme"), _agent("b", "beta")]) == []
    assert [t["agents"] for t in report.tenant_totals([_agent("a", "acme"), _agent("b", "acme")])] == [2]
