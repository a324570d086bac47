# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only metering and "waiting on a human" signals of the runtimes (pure, stdlib only).

What each runtime tells us about its spend and context, turned into ONE record shape (the
metering sidecar ``fleet/run/<name>.meter.json``, ``contract.meter_file``), and what it tells
us about a human it waits for (``fleet/run/<name>.notice.json``, ``contract.notice_file``, and
its screen). Writers: ``tools/fleet/heartbeat`` (``--status`` for Claude's status line,
``--notify`` for Claude's Notification hook, ``--codex`` for codex's notify), the pi extension
and the opencode plugin (they write the same shape in JavaScript). Reader: ``fleet_ps``
(``ps_probe`` reads the files, ``ps`` classifies). Which signals a runtime has is data: the
``health`` part of each runtime in THE runtime table (``framework/fleet/runtimes.json``).

The metering record (every key optional except ``at``; unknown keys are dropped on reading)::

    {"at": <epoch>, "source": "claude-status|codex-session|pi|opencode", "model": "...",
     "context_window": <tokens>, "context_tokens": <tokens in the window now>,
     "context_used_pct": <0..100>, "input_tokens": <session total>, "output_tokens": <total>,
     "cost_usd": <session total>, "session_id": "...", "session_file": "<codex rollout path>"}
"""

from __future__ import annotations

import json
import re

METER_VERSION = 1

# key -> type the reader keeps (anything else, or a value of another type, is dropped)
_NUMBER = (int, float)
METER_FIELDS = (
    ("at", _NUMBER),
    ("source", str),
    ("model", str),
    ("context_window", _NUMBER),
    ("context_tokens", _NUMBER),
    ("context_used_pct", _NUMBER),
    ("input_tokens", _NUMBER),
    ("output_tokens", _NUMBER),
    ("cost_usd", _NUMBER),
    ("session_id", str),
    ("session_file", str),
)
# The keys fleet_ps adds to every agent record (None when unknown).
RECORD_FIELDS = ("model", "context_window", "context_tokens", "context_used_pct", "input_tokens",
                 "output_tokens", "cost_usd", "session_id")


def _get(obj, *path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _num(value):
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return None
    return value


def _clean(record):
    """Keep the known keys with values of their type; numbers stay numbers (bool is not one)."""
    out = {}
    for key, kind in METER_FIELDS:
        value = record.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            continue
        out[key] = value
    return out


def percent(tokens, window):
    """``tokens`` as a percentage of ``window`` (one decimal), None when either is unknown."""
    tokens, window = _num(tokens), _num(window)
    if tokens is None or not window:
        return None
    return round(100.0 * tokens / window, 1)


def from_claude_status(data, now):
    """The metering record from Claude Code's status-line input (a dict; see docs/runtimes.md)."""
    window = _num(_get(data, "context_window", "context_window_size"))
    current = _get(data, "context_window", "current_usage")
    in_context = None
    if isinstance(current, dict):
        keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
        parts = [_num(current.get(k)) for k in keys]
        if any(p is not None for p in parts):
            in_context = sum(p for p in parts if p is not None)
    used = _num(_get(data, "context_window", "used_percentage"))
    if used is None:
        used = percent(in_context, window)
    model = _get(data, "model", "id") or _get(data, "model", "display_name")
    return _clean({
        "at": now, "source": "claude-status", "model": model, "context_window": window,
        "context_tokens": in_context, "context_used_pct": used,
        "input_tokens": _num(_get(data, "context_window", "total_input_tokens")),
        "output_tokens": _num(_get(data, "context_window", "total_output_tokens")),
        "cost_usd": _num(_get(data, "cost", "total_cost_usd")),
        "session_id": _get(data, "session_id"),
    })


def from_codex_rollout(lines, now, session_file=None):
    """The metering record from a codex session file (``CODEX_HOME/sessions/.../rollout-*.jsonl``):
    the last ``token_count`` event's totals and window, the last ``turn_context``'s model.
    ``lines``: the file's lines (its tail is enough). None when no token count is in them."""
    usage = model = session_id = None
    for line in lines:
        if "token_count" not in line and "turn_context" not in line and "session_meta" not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        payload = event.get("payload") if isinstance(event, dict) else None
        if not isinstance(payload, dict):
            continue
        if event.get("type") == "turn_context" and isinstance(payload.get("model"), str):
            model = payload["model"]
        elif event.get("type") == "session_meta" and isinstance(payload.get("id"), str):
            session_id = payload["id"]
        elif payload.get("type") == "token_count" and isinstance(payload.get("info"), dict):
            usage = payload["info"]
    if usage is None:
        return None
    window = _num(usage.get("model_context_window"))
    last = _num(_get(usage, "last_token_usage", "total_tokens"))
    return _clean({
        "at": now, "source": "codex-session", "model": model, "context_window": window,
        "context_tokens": last, "context_used_pct": percent(last, window),
        "input_tokens": _num(_get(usage, "total_token_usage", "input_tokens")),
        "output_tokens": _num(_get(usage, "total_token_usage", "output_tokens")),
        "session_id": session_id, "session_file": session_file,
    })


def codex_thread_id(argument):
    """The ``thread-id`` of codex's notify argument (JSON), or None."""
    try:
        data = json.loads(argument)
    except (TypeError, ValueError):
        return None
    thread = data.get("thread-id") if isinstance(data, dict) else None
    return thread if isinstance(thread, str) and re.match(r"^[0-9A-Za-z-]{8,64}$", thread) else None


def notice_from_claude(data, now):
    """The notice record of Claude Code's Notification hook input: type and message."""
    kind = data.get("notification_type") if isinstance(data, dict) else None
    message = data.get("message") if isinstance(data, dict) else None
    return {"at": now, "type": kind if isinstance(kind, str) else "",
            "message": message[:300] if isinstance(message, str) else ""}


def dumps(record):
    """One line of compact JSON (what the writers put in a sidecar)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"


def parse_meter(text):
    """A metering sidecar's text -> the cleaned record, or None when unreadable or without ``at``."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    record = _clean(data)
    return record if "at" in record else None


def parse_notice(text):
    """A notice sidecar's text -> {"at", "type", "message"}, or None."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(data, dict) or _num(data.get("at")) is None:
        return None
    return {"at": data["at"], "type": str(data.get("type") or ""), "message": str(data.get("message") or "")}


def status_line(record):
    """The short status line Claude shows under its prompt: model, context %, cost."""
    parts = [record.get("model") or "?"]
    if record.get("context_used_pct") is not None:
        parts.append("ctx %s%%" % _short(record["context_used_pct"]))
    if record.get("context_window"):
        parts.append("of %s" % human_tokens(record["context_window"]))
    if record.get("cost_usd") is not None:
        parts.append("$%.2f" % record["cost_usd"])
    return "mosaic · " + " · ".join(parts)


def _short(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def human_tokens(value):
    """12345 -> ``12k``, 200000 -> ``200k``, 1000000 -> ``1M``."""
    if value is None:
        return "-"
    value = int(value)
    if value >= 1000000:
        return _short(value / 1000000.0) + "M"
    if value >= 1000:
        return "%dk" % round(value / 1000.0)
    return str(value)


def record_fields(meter):
    """The metering keys of a fleet_ps agent record from a parsed sidecar (None: all None)."""
    meter = meter or {}
    fields = dict((key, meter.get(key)) for key in RECORD_FIELDS)
    fields["meter_at"] = meter.get("at")
    fields["meter_source"] = meter.get("source")
    return fields


# --------------------------------------------------------------------------------------------
# waiting on a human


def screen_waiting(patterns, screen, tail_lines):
    """The reason of the first screen pattern found in the last ``tail_lines`` lines of
    ``screen``, or None. ``patterns``: the runtime table's ``health.waiting.screen`` list of
    ``{"pattern": <Python regex>, "reason": <text; {group} fills a named group>}``."""
    if not screen or not patterns:
        return None
    lines = screen.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    text = "\n".join(lines[-int(tail_lines):]) if tail_lines else "\n".join(lines)
    for entry in patterns:
        match = re.search(entry["pattern"], text, re.MULTILINE)
        if match:
            groups = dict((k, (v or "").strip()) for k, v in match.groupdict().items())
            try:
                return entry["reason"].format(**groups)
            except (KeyError, IndexError, ValueError):
                return entry["reason"]
    return None


def notice_waiting(notifications, notice, since):
    """The reason a notice (the runtime's last notification since its last activity) gives, or
    None: only types listed in the table's ``health.waiting.notifications`` count, and only a
    notice written since ``since`` (the session's creation; an older one is a previous run's)."""
    if not notice or not notifications:
        return None
    if since is not None and notice["at"] < since:
        return None
    label = notifications.get(notice["type"])
    if not label:
        return None
    return "%s: %s" % (label, notice["message"]) if notice["message"] else label
