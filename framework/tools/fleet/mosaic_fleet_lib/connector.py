# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roster's ``connector`` on hosts: the config file the connector reads and the sheet's lines.

The connector itself is ``framework/tools/fleet/connector`` (``mosaic_connector.py`` beside it):
it runs on the orchestrator's host and reads ``fleet/connector.json``. This module renders that
file from the normalized roster (only for a kind other than ``tmux``, only on the orchestrator's
host; never a secret: the token stays in ``credentials/fleet.env``) and the orchestrator's comms
sheet lines for answering the operator. Pure; no I/O.
"""

from __future__ import annotations

import json

# framework/tools/fleet/mosaic_connector.py reads the same path (tests/unit/test_connector.py
# checks that they agree).
CONNECTOR_FILE = "fleet/connector.json"
CONNECTOR_TOOL = "tools/fleet/connector"
TOKEN_KEYS = {"matrix": "MOSAIC_MATRIX_TOKEN"}


def orchestrator_of(normalized):
    return next((a for a in normalized["agents"] if a["class"] == "orchestrator"), None)


def render_connector_config(normalized, host):
    """``fleet/connector.json`` text for ``host``, or None when it gets none (kind tmux, no
    orchestrator, or the orchestrator runs elsewhere)."""
    connector = normalized.get("connector") or {"kind": "tmux"}
    kind = connector.get("kind", "tmux")
    orchestrator = orchestrator_of(normalized)
    if kind == "tmux" or orchestrator is None or orchestrator["host"] != host:
        return None
    config = {"kind": kind, "orchestrator": orchestrator["name"], kind: dict(connector.get(kind) or {})}
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def reply_lines(normalized, me, home):
    """The orchestrator's sheet section on answering the operator through the connector, or []."""
    connector = normalized.get("connector") or {"kind": "tmux"}
    kind = connector.get("kind", "tmux")
    orchestrator = orchestrator_of(normalized)
    if kind != "matrix" or orchestrator is None or orchestrator["name"] != me["name"]:
        return []
    tool = "%s/%s" % (home, CONNECTOR_TOOL)
    room = (connector.get("matrix") or {}).get("room_id", "")
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
