# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cross-host mesh: what a peer's ssh key may do on a host (THE rule). Pure, stdlib only.

Each fleet host's user key is authorized on its peers (``roles/ssh_mesh``) as one line of
:func:`authorized_line`: ``restrict`` (no pty, no port, agent or X11 forwarding, no ~/.ssh/rc)
and a forced command, ``tools/fleet/mesh-receive --from <the key's inventory host>``. Whatever
the client asked to run, sshd runs that command; the client's command line
(``SSH_ORIGINAL_COMMAND``) is DATA: :func:`parse_request` reads it as the words of an
``agent-send.sh ... -m -`` call (what ``agent-send.sh -H`` sends, see ``send-relay.sh``), against
a whitelist of options, and never runs it. The message comes on stdin, at most
:data:`MAX_BYTES`. The receiver then runs this host's own ``agent-send.sh`` (the same delivery
code) with ``--src-host`` set to the authenticated host from its ``--from``, so the preamble and
the audit name the host whose key authenticated, never the host the request claims.

Agents that share a tenant's uid on one host trust each other (one trust domain): the sender's
session name in a request is whatever the sending host's agent declared.
"""

from __future__ import annotations

import os
import re
import shlex

from ansible_collections.mosaic.fleet.plugins.module_utils.contract import LOG_DIR, SEND_TOOL, valid_name

RECEIVE_TOOL = "tools/fleet/mesh-receive"   # relative to MOSAIC_HOME: the forced command
AUDIT_LOG = LOG_DIR + "/mesh.log"          # one line per request a peer key made
MAX_BYTES = 262144                          # the largest message a peer may send (stdin)
REFUSED = "refused"                         # the audit outcome of a request that is not a send

HOST_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
SOURCE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*\Z")      # agent-send.sh's SOURCE_RE
SOCKET_RE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*)?\Z")    # agent-send.sh's SOCKET_RE
TIMEOUT_RE = re.compile(r"[0-9]{1,2}(\.[0-9]{1,6})?\Z")       # under 100 s: a peer holds a pane's lock no longer
# agent-send.sh options a peer may pass, and the rule each value follows.
VALUE_OPTIONS = {
    "-s": ("session", None),
    "-S": ("source", SOURCE_RE),
    "-L": ("socket", SOCKET_RE),
    "--timeout": ("timeout", TIMEOUT_RE),
    "--src-host": ("claimed_host", HOST_RE),
    "--dst-host": ("dst_host", HOST_RE),
}
FLAG_OPTIONS = {"--json": ("json", True), "--verify": ("verify", True), "--no-verify": ("verify", False)}
ONLY = "this key only delivers messages (agent-send.sh -H)"


class Refused(ValueError):
    """A request that is not a send this receiver accepts; the message says why."""


def parse_request(command):
    """The send request in ``command`` (``SSH_ORIGINAL_COMMAND``) as a dict, or :class:`Refused`.

    Keys: session, source, socket (None: not given), timeout, claimed_host, dst_host, json, verify.
    """
    if not command or not command.strip():
        raise Refused("%s: no command given (no shell, no pty)" % ONLY)
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise Refused("%s: unreadable command line (%s)" % (ONLY, exc))
    if os.path.basename(words[0]) != os.path.basename(SEND_TOOL):
        raise Refused("%s: %s is not agent-send.sh" % (ONLY, shlex.quote(words[0][:80])))
    request = dict(session=None, source="", socket=None, timeout="10", claimed_host="", dst_host="",
                   json=False, verify=True)
    message_on_stdin = False
    args = words[1:]
    while args:
        option = args.pop(0)
        if option in FLAG_OPTIONS:
            key, value = FLAG_OPTIONS[option]
            request[key] = value
        elif option in VALUE_OPTIONS and args:
            key, rule = VALUE_OPTIONS[option]
            value = args.pop(0)
            if rule is not None and not rule.match(value):
                raise Refused("invalid %s value: %s" % (option, shlex.quote(value[:80])))
            request[key] = value
        elif option == "-m" and args and args[0] == "-":
            args.pop(0)
            message_on_stdin = True
        elif option == "-m":
            raise Refused("the message must come on stdin (-m -), never on the command line")
        else:
            raise Refused("option %s is not accepted over the mesh" % shlex.quote(option[:80]))
    if not message_on_stdin:
        raise Refused("no -m - (the message on stdin)")
    if not request["session"] or not valid_name(request["session"]):
        raise Refused("invalid or missing session name (-s)")
    return request


def delivery_argv(send_tool, request, from_host):
    """The local ``agent-send.sh`` call for ``request``: its source host is ``from_host``, the
    host whose key authenticated; always ``--json`` (the sender reads the outcome from it)."""
    argv = [send_tool, "--src-host", from_host, "-s", request["session"], "--timeout", request["timeout"],
            "--json"]
    if request["source"]:
        argv += ["-S", request["source"]]
    if request["socket"] is not None:
        argv += ["-L", request["socket"]]
    if request["dst_host"]:
        argv += ["--dst-host", request["dst_host"]]
    if not request["verify"]:
        argv.append("--no-verify")
    return argv + ["-m", "-"]


def forced_command(mosaic_home, from_host, max_bytes=MAX_BYTES):
    """The forced command for the key of inventory host ``from_host``; ``mosaic_home`` absolute."""
    if not HOST_RE.match(from_host or ""):
        raise ValueError("invalid mesh host name %r (letters, digits, '_', '.', '-')" % (from_host,))
    if not mosaic_home.startswith("/") or '"' in mosaic_home or "\n" in mosaic_home:
        raise ValueError("MOSAIC_HOME %r is not an absolute path an authorized_keys line can name" % (mosaic_home,))
    return "%s --from %s --max-bytes %d" % (
        shlex.quote(os.path.join(mosaic_home, RECEIVE_TOOL)), from_host, int(max_bytes))


def authorized_line(public_key, from_host, mosaic_home, max_bytes=MAX_BYTES):
    """One ``authorized_keys`` line: ``public_key`` (``type base64 [comment]``) may only deliver,
    as ``from_host``."""
    parts = public_key.split()
    key = " ".join(parts)
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise ValueError("not an ssh public key: %r" % (key[:40],))
    return 'restrict,command="%s" %s' % (forced_command(mosaic_home, from_host, max_bytes), key)


def audit_line(when, from_host, request, size, outcome, reason=""):
    """One line of :data:`AUDIT_LOG`: time, the authenticated host, what the request claimed
    (source host and session), the destination, the message size and the outcome."""
    request = request or {}
    fields = [when, "outcome=%s" % outcome, "from=%s" % from_host,
              "claimed=%s:%s" % (_plain(request.get("claimed_host")), _plain(request.get("source"))),
              "dst=%s" % _plain(request.get("session")), "bytes=%d" % size]
    if reason:
        fields.append("reason=%s" % shlex.quote(" ".join(reason.split())[:300]))
    return " ".join(fields) + "\n"


def _plain(value):
    """A request value as the audit shows it: ``-`` when absent; only its safe characters."""
    return re.sub(r"[^A-Za-z0-9_.@-]", "?", value[:80]) if value else "-"
