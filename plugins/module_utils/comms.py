# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Fleet Comms sheet: what one agent needs to know to talk to the rest of its fleet.

Pure rendering from the normalized roster (see docs/DEVELOPING.md). The sheet gives the agent its
identity ``[host:name]``, the exact ``agent-send.sh`` command for every peer (short form on the
same host, ``-H`` for another host, ``-L`` only for a named socket: the same rule as
``tmux.socket_args``), the point of contact, the reply rule and the meaning of a send result.
"""

from __future__ import annotations

import shlex

from ansible_collections.mosaic.fleet.plugins.module_utils import contract, mandate
from ansible_collections.mosaic.fleet.plugins.module_utils.connector import reply_lines
from ansible_collections.mosaic.fleet.plugins.module_utils.tmux import socket_args

# MOSAIC_HOME as a sheet shows it by default, and agent-send.sh under it.
HOME_SHOWN = contract.DEFAULT_MOSAIC_HOME
SEND_TOOL = HOME_SHOWN + "/" + contract.SEND_TOOL
MESSAGE_PLACEHOLDER = '"..."'
# The classes whose sheet says how to observe the fleet from a pane (the mandates that monitor it).
OBSERVER_CLASSES = ("orchestrator", "enhancer")


def identity(agent):
    """``[host:name]``: how an agent is named in every preamble."""
    return "[%s:%s]" % (agent["host"], agent["name"])


def _quote(word):
    # Names and sockets are validated to safe characters; ssh destinations are free text.
    return shlex.quote(str(word))


def send_command(sender, peer, send_tool=SEND_TOOL):
    """The exact shell command ``sender`` runs to message ``peer`` (the text is a placeholder)."""
    words = [send_tool if send_tool.startswith("~/") else _quote(send_tool)]
    words += [_quote(w) for w in socket_args(peer["socket"])]
    if peer["host"] != sender["host"]:
        words += ["-H", _quote(peer["ssh"] or peer["host"])]
    words += ["-s", _quote(peer["name"]), "-m", MESSAGE_PLACEHOLDER]
    return " ".join(words)


def _socket_phrase(socket):
    return "the named tmux socket `%s` (`tmux -L %s`)" % (socket, socket) if socket \
        else "the default tmux socket (no `-L`)"


def mandate_line(klass, home=HOME_SHOWN):
    """The sheet's line naming the file(s) that hold the mandate of ``klass`` (mandate.py's rule)."""
    framework = mandate.framework_mandate(klass)
    local = "`%s/%s`" % (home, mandate.local_mandate(klass))
    if framework is None:
        return ("- Mandate: %s, written by your operator (the framework ships no `%s` role). If it "
                "is missing, ask the orchestrator for your mandate before you take on work."
                % (local, klass))
    role = mandate.mandate_role(klass)
    alias = "" if role == klass else "class `%s` is the framework's `%s` role: " % (klass, role)
    return ("- Mandate: %s`%s/%s`, then your operator's overlay %s when it exists (an overlay may "
            "only tighten the mandate)." % (alias, home, framework, local))


def _find(normalized, name):
    for agent in normalized["agents"]:
        if agent["name"] == name:
            return agent
    raise KeyError("agent %r is not in the roster" % name)


def render_comms_sheet(normalized, agent_name, send_tool=SEND_TOOL, home=HOME_SHOWN):
    """The Fleet Comms sheet (Markdown) for ``agent_name``; ``home`` is MOSAIC_HOME as shown."""
    me = _find(normalized, agent_name)
    peers = [a for a in normalized["agents"] if a["name"] != agent_name]
    orchestrator = next((a for a in normalized["agents"] if a["class"] == "orchestrator"), None)

    out = []
    add = out.append
    add("# Fleet Comms: %s" % identity(me))
    add("")
    add("Written by mosaic.fleet from the fleet roster (tenant `%s`, profile `%s`). It is rewritten "
        "whenever the roster changes; do not edit it." % (normalized["tenant"], normalized["profile"]))
    add("")
    add("## Who you are")
    add("")
    add("- Identity: `%s` (host `%s`, tmux session `%s`). Every message you send carries it."
        % (identity(me), me["host"], me["name"]))
    add("- Class: `%s`; runtime: `%s`." % (me["class"], me["runtime"]))
    add(mandate_line(me["class"], home))
    add("- Your session lives on %s." % _socket_phrase(me["socket"]))
    add("")
    add("## Point of contact")
    add("")
    if orchestrator is None:
        add("This fleet has no orchestrator. Coordinate with your peers directly and leave "
            "decisions that need a human to the operator.")
    elif orchestrator["name"] == me["name"]:
        add("You are the orchestrator: the fleet's point of contact. Peers report to you, ask you "
            "and escalate to you; you assign the work.")
    else:
        add("The orchestrator `%s` is your point of contact: report progress, ask questions and "
            "escalate there. Reach it with:" % identity(orchestrator))
        add("")
        add("    %s" % send_command(me, orchestrator, send_tool))
    add("")
    add("## Peers")
    add("")
    if not peers:
        add("You are the only agent in this fleet; there is no peer to message.")
    else:
        add("Send with `%s`. It delivers your text literally, prefixed with the preamble "
            "`[%s:%s -> <host>:<agent>]`. Replace `...` with your message." % (send_tool, me["host"], me["name"]))
        add("")
        for peer in peers:
            notes = []
            if orchestrator is not None and peer["name"] == orchestrator["name"]:
                notes.append("point of contact")
            notes.append("same host" if peer["host"] == me["host"] else "on host `%s`" % peer["host"])
            add("- `%s`, %s (%s):" % (identity(peer), peer["class"], ", ".join(notes)))
            add("")
            add("      %s" % send_command(me, peer, send_tool))
            add("")
        if out[-1] == "":
            out.pop()
    add("")
    add("## Replying")
    add("")
    add("Every message you receive starts with a preamble `[src_host:src_session -> dst_host:dst_session]`. "
        "To reply, flip it: send to `src_session` on `src_host` with that peer's command above "
        "(your own preamble is added for you). A message starting `[web2:coder1 -> %s:%s]` is "
        "answered with the command for `coder1` on `web2`." % (me["host"], me["name"]))
    add("")
    add("What a preamble proves: its `src_host` of a message from another host is the host whose "
        "key the receiving host authenticated, never what the sender claims. Its `src_session` is "
        "what the sender declares: the agents of this fleet on one host share one Linux user (one "
        "trust domain), so any of them can send under any name. Only this fleet's agents and its "
        "operator can write to your pane; other tenants on the host cannot.")
    add("")
    add("## What a send result means")
    add("")
    add("`agent-send.sh` reports one outcome per message:")
    add("")
    add("- `delivered`: there is evidence that this message was submitted to the peer's input. "
        "It says the text arrived, not that it was read or acted on: wait for a reply.")
    add("- `unconfirmed`: the text was typed in but its submission could not be verified. Do not "
        "resend blindly (the peer may get it twice); check with the peer first.")
    add("- `not_delivered`: nothing was submitted (dead pane, host unreachable, ...); `no_session`: the "
        "peer's session does not exist. Retry later, or tell %s." % ("the operator" if orchestrator is None else "the point of contact"))
    add("")
    out.extend(reply_lines(normalized, me, home))
    if me["class"] in OBSERVER_CLASSES:
        out.extend(observing_lines(me, home))
    return "\n".join(out)


def observing_lines(me, home=HOME_SHOWN):
    """The sheet's "Observing the fleet" section (orchestrator and enhancer sheets)."""
    fleet_ps = "%s/%s" % (home, contract.FLEET_PS_TOOL)
    transcripts = "%s/%s" % (home, contract.TRANSCRIPT_DIR)
    return [
        "## Observing the fleet",
        "",
        "From your pane, without Ansible, for the agents on your host (`%s`):" % me["host"],
        "",
        "    %s           # the fleet table: health, heartbeat age, drift, ad-hoc sessions" % fleet_ps,
        "    %s --json    # the same as records; exit 0 when every agent here is healthy" % fleet_ps,
        "",
        "- A peer's recent output: `tail -c 4000 %s/<name>%s` (the raw terminal stream; the older "
        "part is in `<name>%s%s`)." % (transcripts, contract.TRANSCRIPT_SUFFIX, contract.TRANSCRIPT_SUFFIX,
                                       contract.TRANSCRIPT_ROTATED_SUFFIX),
        "- Agents on other hosts: message them, or ask the operator (`ansible-playbook mosaic.fleet.ps` "
        "shows the whole fleet).",
        "- `%s/%s <name>` is the operator's read-only view from a terminal; it does not work from "
        "inside a pane. Never type into another agent's pane: talk with `agent-send.sh`."
        % (home, contract.WATCH_TOOL),
        "",
    ]
