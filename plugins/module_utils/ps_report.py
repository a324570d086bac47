# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet-wide fleet_ps report: per-host results -> records, a summary and a text table.

Controller side only (the ``mosaic.fleet.fleet_ps_*`` filters and the ``fleet_ps_table`` action
use it); pure functions, unit-tested directly. ``fleet_ps_table`` is THE table rendering.
"""

from __future__ import annotations

from ansible_collections.mosaic.fleet.plugins.module_utils.metering import RECORD_FIELDS as METER_FIELDS
from ansible_collections.mosaic.fleet.plugins.module_utils.metering import human_tokens
from ansible_collections.mosaic.fleet.plugins.module_utils.ps import HEALTH_STATES, HEALTHY, SYSTEMD, WAITING

UNREACHABLE = "unreachable"
ERROR = "error"
ADHOC = "adhoc"
HOST_STATES = (UNREACHABLE, ERROR)
COLUMNS = ("HOST", "TENANT", "AGENT", "CLASS", "RUNTIME", "UNIT", "SESSION", "HEARTBEAT", "HEALTH", "CTX", "COST",
           "DRIFT")
CONNECTOR = "connector"
_KIND_ORDER = {"agent": 0, CONNECTOR: 1, "host": 2, ADHOC: 3}

# Keys every record has, so JSON consumers and the table need no special cases.
_RECORD_KEYS = ("kind", "host", "tenant_id", "name", "class", "runtime", "supervisor", "unit",
                "unit_active_state", "unit_enabled", "session_exists", "pane_current_command",
                "pane_dead", "heartbeat_age", "health", "health_reason", "drift", "drift_reason",
                "waiting_reason") + METER_FIELDS


def _blank(**fields):
    record = dict((key, None) for key in _RECORD_KEYS)
    record.update(fields)
    return record


def _fleet_results(result):
    """A host's fleet_ps results: one, or one per fleet (tenant) when the task looped over the
    host's fleets (``mosaic_fleets``: a registered loop, ``{"results": [...]}``)."""
    if isinstance(result, dict) and isinstance(result.get("results"), list):
        return [item if isinstance(item, dict) else {} for item in result["results"]]
    return [result if isinstance(result, dict) else {}]


def _placements(results):
    """host -> agent names, merged from every host that answered (each carries the whole roster's)."""
    merged = {}
    for result in [one for many in results.values() for one in _fleet_results(many)]:
        if isinstance(result, dict):
            for host, names in (result.get("placement") or {}).items():
                for name in names or []:
                    if name not in merged.setdefault(host, []):
                        merged[host].append(name)
    return merged


def fleet_ps_records(results):
    """Records for every agent, ad-hoc session and failed host, sorted by host then agent.

    ``results``: inventory host -> that host's registered ``fleet_ps`` result (or the registered
    loop of one per fleet the host carries, ``mosaic_fleets``). A result with
    ``unreachable`` gives one ``unreachable`` record per agent the other hosts' rosters place
    there (or one record without an agent when none is known); a result without ``agents``
    (the module failed) gives ``error`` records the same way, with the module's message.
    """
    if not isinstance(results, dict):
        raise TypeError("fleet_ps_records expects a mapping of host to fleet_ps result, got %s"
                        % type(results).__name__)
    placement = _placements(results)
    records = []
    for host, result in [(host, one) for host, many in results.items() for one in _fleet_results(many)]:
        if result.get("unreachable") or "agents" not in result:
            state = UNREACHABLE if result.get("unreachable") else ERROR
            fallback = "host unreachable" if state == UNREACHABLE else "fleet_ps did not run on this host"
            message = str(result.get("msg") or fallback)
            names = placement.get(host) or [None]
            for name in names:
                records.append(_blank(kind="agent" if name else "host", host=host, name=name,
                                      health=state, health_reason=message, drift=False))
            continue
        for agent in result["agents"]:
            record = _blank()
            record.update(agent)
            record.update(kind="agent", host=host)
            records.append(record)
        connector = result.get("connector")
        if isinstance(connector, dict):
            records.append(_blank(kind=CONNECTOR, host=host, tenant_id=result.get("tenant_id"),
                                  name="(connector %s)" % (connector.get("kind") or "?"),
                                  health=connector.get("state"), health_reason=connector.get("reason"), drift=False))
        for session in result.get("adhoc_sessions") or []:
            where = session.get("roster_host")
            records.append(_blank(
                kind=ADHOC, host=host, tenant_id=result.get("tenant_id"), name=session.get("session"),
                supervisor=result.get("supervisor"), session_exists=True,
                pane_current_command=session.get("pane_current_command"), pane_dead=session.get("pane_dead"),
                socket=session.get("socket"), health=ADHOC, drift=True,
                health_reason="a tmux session on the fleet socket that is not in the roster",
                drift_reason=("session not in this host's roster (the roster places %s on %s)" % (
                    session.get("session"), where)) if where else "session not in the roster"))
    records.sort(key=lambda r: (str(r["host"]), str(r["tenant_id"] or ""), _KIND_ORDER.get(r["kind"], 9),
                                str(r["name"] or "")))
    return records


def fleet_ps_summary(records):
    """Counts for the fleet: per health state, ad-hoc sessions, drifting agents, failed hosts.

    ``ok`` is true when every agent and connector is healthy and every host answered;
    ``problems`` names each agent or connector that is not healthy as ``host/name: health``.
    """
    counts = dict((state, 0) for state in HEALTH_STATES + HOST_STATES)
    hosts = []
    unreachable = []
    errors = []
    problems = []
    agents = adhoc = drift = connectors = connectors_not_healthy = 0
    for record in records:
        host = record.get("host")
        if host not in hosts:
            hosts.append(host)
        health = record.get("health")
        if record.get("kind") == ADHOC:
            adhoc += 1
            continue
        if record.get("kind") == CONNECTOR:
            connectors += 1
            if health != HEALTHY:
                connectors_not_healthy += 1
                problems.append("%s/%s: %s (%s)" % (host, record.get("name"), health, record.get("health_reason")))
            continue
        if health == UNREACHABLE and host not in unreachable:
            unreachable.append(host)
        if health == ERROR and host not in errors:
            errors.append(host)
        if record.get("kind") == "agent":
            agents += 1
            counts[health] = counts.get(health, 0) + 1
            drift += 1 if record.get("drift") else 0
            if health != HEALTHY:
                problems.append("%s/%s: %s" % (host, record.get("name"), health))
    not_healthy = agents - counts[HEALTHY]
    return {
        "hosts": len(hosts),
        "agents": agents,
        "counts": counts,
        "not_healthy": not_healthy,
        "problems": problems,
        "drift": drift,
        "adhoc_sessions": adhoc,
        "unreachable_hosts": unreachable,
        "error_hosts": errors,
        "connectors": connectors,
        "connectors_not_healthy": connectors_not_healthy,
        "ok": not_healthy == 0 and connectors_not_healthy == 0 and not unreachable and not errors,
    }


def format_age(seconds):
    """Heartbeat age for humans: ``-``, ``42s``, ``12m``, ``3h``, ``2d``."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return "%ds" % seconds
    if seconds < 7200:
        return "%dm" % (seconds // 60)
    if seconds < 172800:
        return "%dh" % (seconds // 3600)
    return "%dd" % (seconds // 86400)


def _unit_cell(record):
    if record.get("supervisor") == SYSTEMD and record.get("unit_active_state"):
        state = record["unit_active_state"]
        if record.get("unit_enabled") is False:
            state += ",disabled"
        return state
    if record.get("supervisor"):
        return "(%s)" % record["supervisor"]
    return "-"


def _session_cell(record):
    if record.get("session_exists") is None:
        return "-"
    if not record["session_exists"]:
        return "no"
    return "dead" if record.get("pane_dead") else "yes"


def format_percent(value):
    """Context used: ``-``, ``0%``, ``12%``, ``0.5%`` (one decimal below 10)."""
    if value is None:
        return "-"
    return ("%.1f%%" % value).replace(".0%", "%") if value < 10 else "%d%%" % round(value)


def format_cost(value):
    """Cost in USD: ``-`` (not known), ``$0.00``, ``$12.34``."""
    return "-" if value is None else "$%.2f" % value


def _row(record):
    if record.get("kind") == ADHOC:
        drift = record.get("drift_reason") or "-"
        return (record["host"], record.get("tenant_id") or "-", record.get("name") or "-", "-",
                record.get("pane_current_command") or "-", "-", _session_cell(record), "-", ADHOC, "-", "-",
                drift)
    if record.get("kind") == CONNECTOR:
        return (record["host"], record.get("tenant_id") or "-", record.get("name") or "-", "-", "-", "-", "-",
                "-", record.get("health") or "-", "-", "-", "-")
    if record.get("health") in HOST_STATES:
        return (record["host"], "-", record.get("name") or "-", "-", "-", "-", "-", "-", record["health"],
                "-", "-", "-")
    drift = record.get("drift_reason") if record.get("drift") else "-"
    return (record["host"], record.get("tenant_id") or "-", record.get("name") or "-",
            record.get("class") or "-", record.get("runtime") or "-", _unit_cell(record),
            _session_cell(record), format_age(record.get("heartbeat_age")), record.get("health") or "-",
            format_percent(record.get("context_used_pct")), format_cost(record.get("cost_usd")), drift or "-")


def tenant_totals(records):
    """Per tenant (in order of appearance): agents, how many report a cost / tokens, and the sums.

    ``[{"tenant_id", "agents", "cost_usd", "cost_agents", "input_tokens", "output_tokens",
    "token_agents"}]``; sums are None where no agent of the tenant reports them."""
    totals = {}
    order = []
    for record in records:
        if record.get("kind") != "agent" or record.get("health") in HOST_STATES:
            continue
        tenant = record.get("tenant_id") or "-"
        if tenant not in totals:
            order.append(tenant)
            totals[tenant] = {"tenant_id": tenant, "agents": 0, "cost_usd": None, "cost_agents": 0,
                              "input_tokens": None, "output_tokens": None, "token_agents": 0}
        total = totals[tenant]
        total["agents"] += 1
        if record.get("cost_usd") is not None:
            total["cost_agents"] += 1
            total["cost_usd"] = round((total["cost_usd"] or 0) + record["cost_usd"], 6)
        if record.get("input_tokens") is not None or record.get("output_tokens") is not None:
            total["token_agents"] += 1
            total["input_tokens"] = (total["input_tokens"] or 0) + (record.get("input_tokens") or 0)
            total["output_tokens"] = (total["output_tokens"] or 0) + (record.get("output_tokens") or 0)
    return [totals[t] for t in order]


def total_lines(records):
    """``tenant acme: cost $1.23 (3 of 4 agents), tokens 24k in / 1k out (4 of 4 agents)``, one per
    tenant; nothing when no agent of the fleet reports any metering (a stub fleet)."""
    totals = tenant_totals(records)
    if not any(t["cost_agents"] or t["token_agents"] for t in totals):
        return []
    lines = []
    for total in totals:
        lines.append("tenant %s: cost %s (%d of %d agents), tokens %s in / %s out (%d of %d agents)" % (
            total["tenant_id"], format_cost(total["cost_usd"]), total["cost_agents"], total["agents"],
            human_tokens(total["input_tokens"]), human_tokens(total["output_tokens"]), total["token_agents"],
            total["agents"]))
    return lines


def summary_lines(summary):
    counts = summary["counts"]
    parts = ["%d %s" % (counts[s], s) for s in HEALTH_STATES if counts.get(s) or s == HEALTHY]
    line = "%d agent%s on %d host%s: %s" % (
        summary["agents"], "" if summary["agents"] == 1 else "s",
        summary["hosts"], "" if summary["hosts"] == 1 else "s", ", ".join(parts))
    lines = [line]
    extras = []
    if summary["drift"]:
        extras.append("%d drifting" % summary["drift"])
    if summary["adhoc_sessions"]:
        extras.append("%d ad-hoc session%s" % (summary["adhoc_sessions"], "" if summary["adhoc_sessions"] == 1 else "s"))
    if summary["unreachable_hosts"]:
        extras.append("unreachable: %s" % ", ".join(summary["unreachable_hosts"]))
    if summary["error_hosts"]:
        extras.append("fleet_ps failed on: %s" % ", ".join(summary["error_hosts"]))
    if summary.get("connectors_not_healthy"):
        extras.append("connector not healthy: %s" % ", ".join(p for p in summary["problems"] if "/(connector " in p))
    if extras:
        lines.append("; ".join(extras))
    lines.append("OK: every agent is healthy" if summary["ok"] else
                 "NOT OK: %d agent%s not healthy%s%s" % (
                     summary["not_healthy"], "" if summary["not_healthy"] == 1 else "s",
                     ", and some hosts did not answer" if (summary["unreachable_hosts"] or summary["error_hosts"]) else "",
                     ", and the connector is not healthy" if summary.get("connectors_not_healthy") else ""))
    return lines


def fleet_ps_table(records, summary=True):
    """The records as an aligned text table (one line per record), then the summary lines.

    A host that did not answer gets its message on a line below the table.
    """
    rows = [COLUMNS] + [tuple(str(cell) for cell in _row(r)) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(len(COLUMNS) - 1)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    seen = set()
    for record in records:
        if record.get("kind") == CONNECTOR and record.get("health") != HEALTHY:
            lines.append("%s: %s: %s: %s" % (record["host"], record["name"], record["health"],
                                             record.get("health_reason") or ""))
        elif record.get("kind") == "agent" and record.get("health") == WAITING:
            lines.append("%s: %s: waiting: %s" % (record["host"], record["name"],
                                                  record.get("waiting_reason") or record.get("health_reason") or ""))
        elif record.get("health") in HOST_STATES and record["host"] not in seen:
            seen.add(record["host"])
            lines.append("%s: %s: %s" % (record["host"], record["health"], record.get("health_reason") or ""))
    totals = total_lines(records)
    if totals:
        lines.append("")
        lines.extend(totals)
    if summary:
        lines.append("")
        lines.extend(summary_lines(fleet_ps_summary(records)))
    return "\n".join(lines)
