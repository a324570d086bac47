# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roster's ``connector`` on hosts: the config file the connector reads and the sheet's lines.

The connector itself is ``framework/tools/fleet/connector`` (``mosaic_connector.py`` beside it):
it runs on the orchestrator's host and reads ``fleet/connector.json``. This module renders that
file from the normalized roster (only for a kind other than ``tmux``, only on the orchestrator's
host; never a secret: the token stays in ``credentials/fleet.env``) and the orchestrator's comms
sheet lines for answering the operator. Pure; no I/O.

Kinds register by name in :data:`KINDS` (the framework's ``mosaic_connector.py`` registers the
same names): what the fleet does with a kind is read from there, never decided by comparing the
kind's name. A kind has ``service`` (the fleet runs ``connector run`` for it: matrix; for discord
the orchestrator's Claude Code is the connector, through its Discord channel plugin),
``token_key`` (its secret in ``credentials/fleet.env``), ``runtimes`` (the orchestrator runtimes
it works with; None: any) and ``sheet`` (the orchestrator's lines on answering the operator).
"""

from __future__ import annotations

import json

# framework/tools/fleet/mosaic_connector.py reads the same path (tests/unit/test_connector.py
# checks that they agree).
CONNECTOR_FILE = "fleet/connector.json"
CONNECTOR_TOOL = "tools/fleet/connector"


def _matrix_sheet(settings, tool):
    room = settings.get("room_id", "")
    return [
        "## The operator (Matrix)",
        "",
        "The operator writes to you in the Matrix room `%s`. Such a message arrives with the line "
        "`[matrix message from @user:server in !room (event $id)]` before its text (and `, thread "
        "$root` when it was written in a thread). Answer in the room, never with agent-send.sh:" % room,
        "",
        "    %s reply -m - <<'EOF'" % tool,
        "    your answer",
        "    EOF",
        "",
        "In a thread, add `--thread $root` (the thread named in the message). The text is sent as it is "
        "(at most 16000 bytes). Exit 0: posted; 1: not posted yet, queued and retried by the connector.",
        "",
    ]


def _discord_sheet(settings, _tool):
    return [
        "## The operator (Discord)",
        "",
        "The operator writes to you on Discord, in the channel `%s` (or a direct message), through "
        "Claude Code's Discord channel plugin: such a message arrives as a `<channel source=\"discord\" "
        "chat_id=\"...\" message_id=\"...\" user=\"...\">` block. Answer with the plugin's `reply` tool "
        "(its `chat_id`; `reply_to` the message id to thread it), never with agent-send.sh. Only the "
        "operators the roster allows reach you; the plugin drops everyone else." % settings.get("channel_id", ""),
        "",
    ]


KINDS = {
    "tmux": {"service": False, "token_key": None, "runtimes": None, "sheet": None},
    "matrix": {"service": True, "token_key": "MOSAIC_MATRIX_TOKEN", "runtimes": None, "sheet": _matrix_sheet},
    "discord": {"service": False, "token_key": "DISCORD_BOT_TOKEN", "runtimes": ("claude",),
                "sheet": _discord_sheet},
}
TOKEN_KEYS = dict((name, kind["token_key"]) for name, kind in KINDS.items() if kind["token_key"])


def orchestrator_of(normalized):
    return next((a for a in normalized["agents"] if a["class"] == "orchestrator"), None)


def _connector(normalized):
    connector = normalized.get("connector") or {"kind": "tmux"}
    return connector, KINDS.get(connector.get("kind", "tmux"), KINDS["tmux"])


def render_connector_config(normalized, host):
    """``fleet/connector.json`` text for ``host``, or None when it gets none (kind tmux, no
    orchestrator, or the orchestrator runs elsewhere)."""
    connector, kind = _connector(normalized)
    name = connector.get("kind", "tmux")
    orchestrator = orchestrator_of(normalized)
    if kind is KINDS["tmux"] or orchestrator is None or orchestrator["host"] != host:
        return None
    config = {"kind": name, "orchestrator": orchestrator["name"], name: dict(connector.get(name) or {})}
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def runs_service(normalized, host):
    """Whether the fleet runs ``connector run`` on ``host`` (it gets a ``fleet/connector.json``
    and the kind is a service)."""
    return bool(_connector(normalized)[1]["service"]) and render_connector_config(normalized, host) is not None


def runtime_problem(kind_name, runtime, orchestrator):
    """A message when an orchestrator on ``runtime`` cannot carry connector ``kind_name``, else None."""
    kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None or kind["runtimes"] is None or runtime in kind["runtimes"]:
        return None
    return "connector kind %s needs an orchestrator on runtime %s (the orchestrator %s runs %s)" % (
        kind_name, " or ".join(kind["runtimes"]), orchestrator, runtime)


def reply_lines(normalized, me, home):
    """The orchestrator's sheet section on answering the operator through the connector, or []."""
    connector, kind = _connector(normalized)
    orchestrator = orchestrator_of(normalized)
    if kind["sheet"] is None or orchestrator is None or orchestrator["name"] != me["name"]:
        return []
    return kind["sheet"](connector.get(connector.get("kind")) or {}, "%s/%s" % (home, CONNECTOR_TOOL))
