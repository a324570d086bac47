# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's chat connectors: where the orchestrator talks to humans.

A connector kind is a class registered by name (``@register("matrix")``) with ``service`` (whether
``connector run`` runs ``Service`` for it) and these calls:

* ``send(text, thread=None, txn=None)``: orchestrator -> human (``thread``: the event it answers in
  thread; ``txn``: the reply's transaction id when the caller made it);
* ``subscribe()``: human -> orchestrator, an iterator of inbound messages (``Inbound``);
* ``health()``: ``{"state": "healthy" | "unreachable" | "unauthenticated", "reason": str}``;
* ``launch(agent)``: ``(argv, env)`` the agent's runtime gets added by ``launch-agent`` (``env``
  as ``KEY=value``); ``([], [])`` for every agent but the one a kind needs it for.

``tmux`` is the default: the operator types into the orchestrator's pane and reads it there, so
it sends nowhere, subscribes to nothing and is always healthy. ``matrix`` speaks the client-server
API with the standard library (urllib): versions, whoami, a filtered /sync long-poll, send with an
idempotent transaction id, thread relations. ``Service`` runs a connector for the fleet (the
``connector run`` command): the persisted sync position, the inbound spool delivered through
agent-send.sh, the outbox of replies, the audit log. The fleet's core calls ``connector_for``
and never branches on the kind.

The commands (``main``, run by the ``connector`` wrapper): ``connector run``, ``connector reply``,
``connector health``. A running connector also takes replies at its desk (``Service.open_desk``):
the wrapper's quick path for ``connector reply`` hands the text over instead of starting Python.

Runs on the orchestrator's host as the fleet user; Python 3.8+, standard library only.
"""

import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

CONFIG_FILE = "fleet/connector.json"   # {"kind", "orchestrator", "<kind>": {...}} (relative to MOSAIC_HOME)
SECRETS_FILE = "credentials/fleet.env"
SPOOL_DIR = "fleet/spool"               # <kind>/in/*.json (inbound), <kind>/out/*.json (replies)
STATE_DIR = "fleet/run"                 # connector.<kind>.json: the sync position
AUDIT_LOG = "fleet/log/connector.log"   # one JSON line per decision (no message text)
DELIVERED_KEEP = 1000                    # event ids kept in the spool's ledger of delivered events
SEND_LOG = "fleet/log/send.log"         # agent-send.sh's audit line per send
SEND_TOOL = "tools/tmux/agent-send.sh"
MAX_TEXT_BYTES = 16000                  # a message's text, either way (UTF-8 bytes)
# The desk where a running connector takes replies from the `connector` wrapper (its bash quick
# path: no Python to start). DESK_FILE (0600) holds "PORT KEY": a listener on 127.0.0.1:PORT that
# answers only requests carrying KEY (made anew at each start). A request is
# DESK_MAGIC NUL key NUL txn NUL thread NUL size NUL text (size: the text's bytes, decimal; thread
# empty for none); the answer one line, "0 JSON" (posted) or "1 MESSAGE" (not posted: refused, or
# queued for `connector run`). The wrapper repeats these names (tests/unit/test_connector.py).
DESK_FILE = "fleet/run/connector.desk"
DESK_MAGIC = b"mosaic-reply-1"
INTERPRETER_FILE = "fleet/run/connector.python"  # `connector run`'s sys.executable, for the wrapper
DESK_HANDLERS = 8                                # requests handled at once, at most
TOKEN_KEY = "MOSAIC_MATRIX_TOKEN"

HEALTHY, UNREACHABLE, UNAUTHENTICATED = "healthy", "unreachable", "unauthenticated"
KINDS = {}


class ConnectorError(Exception):
    """A failure with a message for humans (no traceback)."""


def register(name):
    def wrap(cls):
        KINDS[name] = cls
        cls.kind = name
        return cls
    return wrap


def connector_for(config, mosaic_home):
    """The connector the config names (default tmux)."""
    kind = (config or {}).get("kind", "tmux")
    if kind not in KINDS:
        raise ConnectorError("unknown connector kind %r (known: %s)" % (kind, ", ".join(sorted(KINDS))))
    return KINDS[kind](config or {}, mosaic_home)


def load_config(mosaic_home):
    path = os.path.join(mosaic_home, CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {"kind": "tmux"}
    except (OSError, ValueError) as err:
        raise ConnectorError("cannot read %s: %s" % (path, err)) from err


def read_secret(mosaic_home, key):
    """``key`` from credentials/fleet.env (written by envfile.render_env_file: bare or
    double-quoted with backslash escapes). The file must not be readable by group or others."""
    path = os.path.join(mosaic_home, SECRETS_FILE)
    try:
        mode = os.stat(path).st_mode
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as err:
        raise ConnectorError("cannot read the fleet's credentials %s: %s" % (path, err.strerror)) from err
    if mode & 0o077:
        raise ConnectorError("%s is readable by others (mode %o); it must be 0600" % (path, mode & 0o777))
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                out, chars = [], iter(value[1:-1])
                for char in chars:
                    out.append(next(chars, "") if char == "\\" else char)
                value = "".join(out)
            return value
    raise ConnectorError("%s has no %s" % (path, key))


def check_size(size):
    if size > MAX_TEXT_BYTES:
        raise ConnectorError("the message is %d bytes; the limit is %d" % (size, MAX_TEXT_BYTES))


def bounded(text):
    """``text`` cut to MAX_TEXT_BYTES (UTF-8, on a character boundary), with a marker."""
    data = text.encode("utf-8")
    if len(data) <= MAX_TEXT_BYTES:
        return text
    cut = data[:MAX_TEXT_BYTES].decode("utf-8", "ignore")
    return cut + "\n[... %d more bytes not shown]" % (len(data) - len(cut.encode("utf-8")))


def write_private_text(path, text):
    """Write ``text`` to ``path`` atomically, mode 0600."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_private(path, data):
    """Write ``data`` (a dict) as JSON to ``path`` atomically, mode 0600."""
    write_private_text(path, json.dumps(data))


def report_outcome(path):
    """The outcome in agent-send.sh's --json report (its last line) in the file ``path``, or
    ``not_delivered`` when there is none."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().strip().splitlines()
        return json.loads(lines[-1]).get("outcome") or "not_delivered"
    except (OSError, ValueError, IndexError, AttributeError):
        return "not_delivered"


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class Inbound:
    """One message from a human: the text and who wrote it where."""

    def __init__(self, event_id, sender, room, text, thread=None, ts=0):
        self.event_id, self.sender, self.room, self.text, self.thread, self.ts = \
            event_id, sender, room, text, thread, ts

    def as_dict(self):
        return {"event_id": self.event_id, "sender": self.sender, "room": self.room,
                "text": self.text, "thread": self.thread, "ts": self.ts}

    @classmethod
    def from_dict(cls, data):
        return cls(data["event_id"], data["sender"], data["room"], data["text"], data.get("thread"),
                   data.get("ts", 0))

    def preamble(self):
        """The line before the text that tells the orchestrator who wrote, where (the event id
        makes every delivered text unique: see Service.already_delivered)."""
        where = "in %s (event %s)" % (self.room, self.event_id)
        if self.thread:
            where += ", thread %s (answer with: connector reply --thread %s)" % (self.thread, self.thread)
        return "[matrix message from %s %s]" % (self.sender, where)

    def source(self):
        """agent-send.sh's -S name for the sender: @alice:example.org -> alice@example.org."""
        name = self.sender.lstrip("@").replace(":", "@", 1)
        name = "".join(c if c.isascii() and (c.isalnum() or c in "_.@-") else "_" for c in name)
        return name if name and name[0] not in ".@-" else "matrix"


@register("tmux")
class TmuxConnector:
    """The default: the operator is in the orchestrator's pane already. Nothing to run."""

    service = False  # `connector run` has nothing to do

    def __init__(self, config, mosaic_home):
        self.config, self.mosaic_home = config, mosaic_home

    def send(self, text, thread=None, deadline=30.0, txn=None):  # pylint: disable=unused-argument
        return {"sent": False, "reason": "connector kind tmux: the operator reads the orchestrator's pane"}

    def subscribe(self):
        return iter(())

    def health(self):
        return {"state": HEALTHY, "reason": "tmux: the operator uses the orchestrator's pane"}

    def launch(self, agent):  # pylint: disable=unused-argument
        return [], []


DISCORD_PLUGIN = "plugin:discord@claude-plugins-official"
DISCORD_TOKEN_KEY = "DISCORD_BOT_TOKEN"
DISCORD_STATE_DIR = "fleet/discord"      # DISCORD_STATE_DIR: the plugin's access.json (and inbox/)
DISCORD_API = "https://discord.com/api/v10"


@register("discord")
class DiscordConnector:
    """Discord as the seed runs it: the orchestrator's Claude Code with Claude Code's Discord
    channel plugin (``claude --channels plugin:discord@claude-plugins-official``) is the
    connector; the fleet runs no service for it. ``launch`` gives the orchestrator that flag, the
    plugin's state directory (fleet/discord) and a static access policy written there from the
    roster (allowlist: ``allowed_senders``, the channel ``channel_id``). The bot token is
    DISCORD_BOT_TOKEN in credentials/fleet.env, which launch-agent exports; the plugin reads it
    from the environment. ``health`` asks Discord who the token is (GET /users/@me)."""

    service = False

    def __init__(self, config, mosaic_home):
        self.config, self.mosaic_home = config, mosaic_home
        self.settings = config.get("discord") or {}
        self.api = self.settings.get("api_url") or DISCORD_API  # another base URL: for tests

    def send(self, text, thread=None, deadline=30.0, txn=None):  # pylint: disable=unused-argument
        return {"sent": False, "reason": "connector kind discord: the orchestrator answers with the Discord "
                                         "plugin's reply tool"}

    def subscribe(self):
        return iter(())

    def health(self):
        try:
            token = read_secret(self.mosaic_home, DISCORD_TOKEN_KEY)
        except ConnectorError as err:
            return {"state": UNAUTHENTICATED, "reason": str(err)}
        req = urllib.request.Request(self.api.rstrip("/") + "/users/@me", headers={"Authorization": "Bot " + token})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # nosec - the configured API
                who = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            state = UNAUTHENTICATED if err.code in (401, 403) else UNREACHABLE
            return {"state": state, "reason": "%s/users/@me: %s %s" % (self.api, err.code, err.reason)}
        except (urllib.error.URLError, OSError, ValueError) as err:
            return {"state": UNREACHABLE, "reason": "%s: %s" % (self.api, getattr(err, "reason", err))}
        return {"state": HEALTHY, "reason": "%s as the bot %s (%s)" % (self.api, who.get("username"), who.get("id"))}

    def access(self):
        """The plugin's access.json: allowlist only (no pairing), the roster's senders, its channel."""
        senders = [str(s) for s in self.settings.get("allowed_senders") or []]
        groups = {}
        if self.settings.get("channel_id"):
            groups[str(self.settings["channel_id"])] = {"requireMention": False, "allowFrom": senders}
        return {"dmPolicy": "allowlist", "allowFrom": senders, "groups": groups}

    def launch(self, agent):
        if agent != self.config.get("orchestrator"):
            return [], []
        state = os.path.join(self.mosaic_home, DISCORD_STATE_DIR)
        write_private(os.path.join(state, "access.json"), self.access())
        return ["--channels", DISCORD_PLUGIN], ["DISCORD_STATE_DIR=" + state, "DISCORD_ACCESS_MODE=static"]


class MatrixError(Exception):
    def __init__(self, status, errcode, message, retry_after_ms=None):
        super().__init__("%s %s: %s" % (status, errcode, message))
        self.status, self.errcode, self.retry_after_ms = status, errcode, retry_after_ms


class Unreachable(Exception):
    pass


class MatrixClient:
    """The few client-server API calls the connector makes, over urllib."""

    def __init__(self, base_url, token):
        self.base, self.token = base_url.rstrip("/"), token

    def call(self, method, path, body=None, query=None, timeout=30):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # nosec - the configured homeserver
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            try:
                answer = json.loads(err.read() or b"{}")
            except ValueError:
                answer = {}
            retry = answer.get("retry_after_ms")
            if retry is None and err.headers.get("Retry-After", "").isdigit():
                retry = int(err.headers["Retry-After"]) * 1000
            raise MatrixError(err.code, answer.get("errcode", "?"), answer.get("error", err.reason), retry) from err
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise Unreachable("%s: %s" % (self.base, getattr(err, "reason", err))) from err

    def versions(self):
        return self.call("GET", "/_matrix/client/versions", timeout=10)

    def whoami(self):
        return self.call("GET", "/_matrix/client/v3/account/whoami", timeout=10)

    def sync(self, since, timeout_ms, filter_json):
        query = {"timeout": str(timeout_ms), "filter": filter_json}
        if since:
            query["since"] = since
        return self.call("GET", "/_matrix/client/v3/sync", query=query, timeout=timeout_ms / 1000.0 + 30)

    def messages(self, room_id, start, stop, filter_json, limit=100):
        """One page of the room's events backwards from ``start`` down to ``stop`` (a sync token)."""
        path = "/_matrix/client/v3/rooms/%s/messages" % urllib.parse.quote(room_id, safe="")
        query = {"from": start, "to": stop, "dir": "b", "limit": str(limit), "filter": filter_json}
        return self.call("GET", path, query=query, timeout=30)

    def send_message(self, room_id, txn_id, content):
        path = "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (
            urllib.parse.quote(room_id, safe=""), urllib.parse.quote(txn_id, safe=""))
        return self.call("PUT", path, body=content)


@register("matrix")
class MatrixConnector:
    """A Matrix room: the operator writes there, the orchestrator answers there."""

    service = True  # `connector run`: Service

    def __init__(self, config, mosaic_home):
        self.mosaic_home = mosaic_home
        settings = config.get("matrix") or {}
        missing = [key for key in ("homeserver_url", "user_id", "room_id") if not settings.get(key)]
        if missing:
            raise ConnectorError("%s: connector.matrix needs %s" % (CONFIG_FILE, ", ".join(missing)))
        self.url, self.user_id, self.room_id = settings["homeserver_url"], settings["user_id"], settings["room_id"]
        self.allowed = set(settings.get("allowed_senders") or [])
        self.spool = os.path.join(mosaic_home, SPOOL_DIR, "matrix")
        self.state_path = os.path.join(mosaic_home, STATE_DIR, "connector.matrix.json")
        self.filter = json.dumps({
            "presence": {"types": []}, "account_data": {"types": []},
            "room": {"rooms": [self.room_id],
                     "timeline": {"types": ["m.room.message"],
                                  "limit": int(os.environ.get("MOSAIC_CONNECTOR_TIMELINE_LIMIT", "100"))},
                     "state": {"types": []}, "ephemeral": {"types": []}, "account_data": {"types": []}},
        }, separators=(",", ":"))
        self.page_filter = json.dumps({"types": ["m.room.message"]}, separators=(",", ":"))
        self.max_wait_ms = 60000

    def client(self):
        # Read on every use: a token replaced in the credentials is picked up without a restart.
        return MatrixClient(self.url, read_secret(self.mosaic_home, TOKEN_KEY))

    # --- health ---------------------------------------------------------------------------
    def launch(self, agent):  # pylint: disable=unused-argument
        return [], []

    def health(self):
        try:
            client = self.client()
        except ConnectorError as err:
            return {"state": UNAUTHENTICATED, "reason": str(err)}
        try:
            client.versions()
            who = client.whoami()
        except Unreachable as err:
            return {"state": UNREACHABLE, "reason": str(err)}
        except MatrixError as err:
            if err.status in (401, 403):
                return {"state": UNAUTHENTICATED, "reason": "whoami: %s" % err}
            return {"state": UNREACHABLE, "reason": "whoami: %s" % err}
        if who.get("user_id") != self.user_id:
            return {"state": UNAUTHENTICATED,
                    "reason": "the token is %s's, the roster says %s" % (who.get("user_id"), self.user_id)}
        return {"state": HEALTHY, "reason": "%s as %s" % (self.url, self.user_id)}

    # --- outbound ---------------------------------------------------------------------------
    def queue(self, text, thread=None, txn=None):
        """Persist a reply with its transaction id (``txn``: the one ``connector reply`` made,
        else a new one) before the first try; return its path."""
        if not isinstance(text, str) or not text.strip():
            raise ConnectorError("refusing an empty message")
        if "\0" in text:
            raise ConnectorError("refusing a message with a NUL byte")
        check_size(len(text.encode("utf-8")))
        txn = txn or "mosaic-%d-%s" % (int(time.time() * 1000), os.urandom(16).hex())
        if not txn.startswith("mosaic-") or not all(c.isalnum() or c == "-" for c in txn):
            raise ConnectorError("not a transaction id of this connector: %r" % txn)
        path = os.path.join(self.spool, "out", txn + ".json")
        write_private(path, {"txn": txn, "text": text, "thread": thread})
        return path

    def content(self, text, thread):
        content = {"msgtype": "m.text", "body": text}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": thread}}
        return content

    def flush(self, path, deadline):
        """Post one queued reply, reusing its txn id on every try, until ``deadline``. Returns
        (event id, ms waited for rate limits) and removes the record, or raises."""
        record = read_json(path)
        delay, limited_ms = 0.5, 0
        while True:
            try:
                answer = self.client().send_message(self.room_id, record["txn"],
                                                    self.content(record["text"], record.get("thread")))
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass  # posted by another process with the same txn (the same event)
                return answer.get("event_id"), limited_ms
            except MatrixError as err:
                if err.status == 429:
                    wait = min((err.retry_after_ms or 1000) / 1000.0, self.max_wait_ms / 1000.0)
                    limited_ms += int(wait * 1000)
                elif err.status >= 500 or err.status == 401:
                    wait = delay  # the server's trouble, or a token being replaced: try again
                else:
                    # Refused for good (not in the room, too large, ...): set aside, not retried,
                    # so it does not hold up the replies queued after it.
                    failed = os.path.join(self.spool, "failed")
                    os.makedirs(failed, mode=0o700, exist_ok=True)
                    os.replace(path, os.path.join(failed, os.path.basename(path)))
                    raise ConnectorError("the homeserver refused the message (%s); set aside in %s"
                                         % (err, failed)) from err
            except Unreachable:
                wait = delay
            if time.time() + wait > deadline:
                raise ConnectorError("not posted yet (kept in %s; `connector run` retries it)" % path)
            time.sleep(wait)
            delay = min(delay * 2, 10)

    def send(self, text, thread=None, deadline=30.0, txn=None):
        event_id, limited_ms = self.flush(self.queue(text, thread, txn), time.time() + deadline)
        return {"sent": True, "event_id": event_id, "rate_limited_ms": limited_ms}

    def pending_out(self):
        out = os.path.join(self.spool, "out")
        return sorted(os.path.join(out, name) for name in os.listdir(out) if name.endswith(".json")) \
            if os.path.isdir(out) else []

    # --- inbound ----------------------------------------------------------------------------
    def position(self):
        try:
            return read_json(self.state_path).get("next_batch")
        except (OSError, ValueError):
            return None

    def save_position(self, next_batch):
        write_private(self.state_path, {"next_batch": next_batch, "room_id": self.room_id})

    def timeline(self, answer, since=None, client=None):
        """The room's events in one /sync answer, oldest first. A ``limited`` timeline (more new
        events than the filter's limit) is completed with /messages, paged back from its
        ``prev_batch`` down to ``since``: nothing between two syncs is skipped."""
        timeline = answer.get("rooms", {}).get("join", {}).get(self.room_id, {}).get("timeline", {})
        events = list(timeline.get("events", []))
        if since and client and timeline.get("limited") and timeline.get("prev_batch"):
            older, token, seen = [], timeline["prev_batch"], set(e.get("event_id") for e in events)
            while token:
                page = client.messages(self.room_id, token, since, self.page_filter)
                chunk = [e for e in page.get("chunk") or [] if e.get("event_id") not in seen]
                older.extend(chunk)
                seen.update(e.get("event_id") for e in chunk)
                if not page.get("chunk") or page.get("end") in (None, token):
                    break
                token = page["end"]
            events = older[::-1] + events
        return events

    def parse(self, answer, since=None, client=None):
        """(accepted Inbound list, ignored event list) from one /sync answer."""
        accepted, ignored = [], []
        for event in self.timeline(answer, since, client):
            content = event.get("content") or {}
            if event.get("type") != "m.room.message" or event.get("sender") == self.user_id:
                continue
            if not isinstance(content.get("body"), str):
                continue
            if event.get("sender") not in self.allowed:
                ignored.append(event)
                continue
            relation = content.get("m.relates_to") or {}
            thread = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
            accepted.append(Inbound(event["event_id"], event["sender"], self.room_id, bounded(content["body"]),
                                    thread, event.get("origin_server_ts", 0)))
        return accepted, ignored

    def subscribe(self, timeout_ms=30000):
        """Inbound messages, one /sync long-poll at a time (from the persisted position; the
        position moves on only after the caller has taken a batch: it is saved when the next one
        is asked for)."""
        since = self.position()
        while True:
            client = self.client()
            answer = client.sync(since, timeout_ms if since else 0, self.filter)
            accepted, _ignored = self.parse(answer, since, client)
            if since:
                yield from accepted
            since = answer["next_batch"]
            self.save_position(since)


class Service:
    """``connector run``: the connector kept running for the orchestrator.

    Each turn: post the queued replies, deliver the spooled messages into the orchestrator's pane
    (agent-send.sh; a message leaves the spool only when the outcome is ``delivered``), then one
    /sync long-poll whose new messages are spooled (one 0600 file per event) before the sync
    position is saved. A restart resumes from the saved position: nothing replayed, nothing
    dropped. The first start skips the room's history. Strangers are ignored and audited."""

    def __init__(self, connector, mosaic_home, orchestrator, poll_ms=30000, max_backoff=30.0, log=None):
        self.c, self.home, self.orchestrator = connector, mosaic_home, orchestrator
        self.poll_ms, self.max_backoff = poll_ms, max_backoff
        self.inbox = os.path.join(connector.spool, "in")
        self.retry_at, self.backoff = 0.0, 1.0
        self.net_backoff = 0.5
        self.log = log or (lambda line: None)
        self.stop = False
        self.out_lock = threading.Lock()  # one poster of the outbox at a time
        self.desk = None

    def audit(self, event, **fields):
        path = os.path.join(self.home, AUDIT_LOG)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fields.update(time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), event=event)
        # 0600 like the fleet's other logs (fleet_host_config's `private` closes them).
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(fields, sort_keys=True) + "\n")
        self.log("%s %s" % (event, json.dumps(fields, sort_keys=True)))

    def spool_file(self, event_id):
        return os.path.join(self.inbox, hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:40] + ".json")

    def delivered_path(self):
        return os.path.join(self.c.spool, "delivered")

    def was_delivered(self, event_id):
        """Whether ``event_id`` is in the ledger of delivered events (whatever the homeserver
        sends again after a restart, an event is delivered once)."""
        try:
            with open(self.delivered_path(), encoding="utf-8") as handle:
                return any(line.rstrip("\n") == event_id for line in handle)
        except OSError:
            return False

    def mark_delivered(self, event_id, path):
        """Record ``event_id`` as delivered (the last DELIVERED_KEEP kept), then drop its spool
        file: a crash in between leaves a spool file that the ledger says not to send again."""
        ledger = self.delivered_path()
        try:
            with open(ledger, encoding="utf-8") as handle:
                ids = [line.rstrip("\n") for line in handle if line.strip()]
        except OSError:
            ids = []
        ids = (ids + [event_id])[-DELIVERED_KEEP:]
        write_private_text(ledger, "".join(i + "\n" for i in ids))
        for stale in (path, path + ".out"):
            try:
                os.unlink(stale)
            except FileNotFoundError:
                pass

    def spool(self, message, seq):
        path = self.spool_file(message.event_id)
        if os.path.exists(path) or self.was_delivered(message.event_id):
            return
        record = message.as_dict()
        record["seq"] = seq
        write_private(path, record)
        self.audit("spooled", event_id=message.event_id, sender=message.sender,
                   bytes=len(message.text.encode("utf-8")))

    def pending_in(self):
        if not os.path.isdir(self.inbox):
            return []
        records = []
        for name in os.listdir(self.inbox):
            if name.endswith(".json"):
                path = os.path.join(self.inbox, name)
                try:
                    records.append((read_json(path), path))
                except (OSError, ValueError):
                    continue
        records.sort(key=lambda item: (item[0].get("ts", 0), item[0].get("seq", 0)))
        return records

    def already_delivered(self, record, argv, text, report):
        """Whether a send that an earlier connector process started for ``record`` (it died
        before removing the spool file) was delivered: wait for that agent-send.sh to finish,
        then read its report (the file ``report``), else look for its ``outcome=delivered`` line
        with this text's sha256 in send.log."""
        pid, deadline = record.get("sender_pid"), time.time() + 120
        while pid and time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        if report_outcome(report) == "delivered":
            return True
        dry = subprocess.run(argv + ["--dry-run"], input=text, capture_output=True, text=True, check=False,
                             timeout=60)
        try:
            preamble = json.loads(dry.stdout)["preamble"]
        except (ValueError, KeyError):
            return False
        sent = (preamble + text.rstrip(" \t\n\r\v\f")).encode("utf-8")
        needle = "sha256=%s " % hashlib.sha256(sent).hexdigest()
        try:
            with open(os.path.join(self.home, SEND_LOG), encoding="utf-8", errors="replace") as handle:
                return any(" outcome=delivered " in line and needle in line for line in handle)
        except OSError:
            return False

    def deliver(self):
        """Deliver the spool in order; stop at the first message not delivered (retry later)."""
        if time.time() < self.retry_at:
            return
        tool = os.path.join(self.home, SEND_TOOL)
        for record, path in self.pending_in():
            message = Inbound.from_dict(record)
            text = message.preamble() + "\n" + message.text
            argv = [tool, "-S", message.source(), "-s", self.orchestrator, "-m", "-", "--json"]
            if self.was_delivered(message.event_id) or (
                    "sender_pid" in record and self.already_delivered(record, argv, text, path + ".out")):
                self.mark_delivered(message.event_id, path)
                self.audit("delivered", event_id=message.event_id, sender=message.sender, to=self.orchestrator,
                           found="send.log (sent before a restart)")
                continue
            # The report goes to a file, not a pipe: a sender that outlives a killed connector
            # still finishes its send and its audit line (a dead pipe would end it with SIGPIPE).
            with open(path + ".out", "w", encoding="utf-8") as out:
                os.chmod(path + ".out", 0o600)
                proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out,  # pylint: disable=consider-using-with
                                        stderr=subprocess.DEVNULL, text=True, start_new_session=True)
            record["sender_pid"] = proc.pid  # in flight: a restart checks send.log before sending again
            write_private(path, record)
            try:
                proc.communicate(text, timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            outcome = report_outcome(path + ".out")
            if outcome == "delivered":
                self.mark_delivered(message.event_id, path)
                self.audit("delivered", event_id=message.event_id, sender=message.sender, to=self.orchestrator)
                self.backoff = 1.0
                continue
            if outcome == "unconfirmed":
                # Pasted and submitted, not proven: a resend could double it. Set aside, audited.
                held = os.path.join(self.c.spool, "unconfirmed")
                os.makedirs(held, mode=0o700, exist_ok=True)
                os.replace(path, os.path.join(held, os.path.basename(path)))
                os.unlink(path + ".out")
                self.audit("unconfirmed", event_id=message.event_id, sender=message.sender, to=self.orchestrator)
                continue
            self.audit("retry", event_id=message.event_id, outcome=outcome, in_seconds=self.backoff)
            self.retry_at = time.time() + self.backoff
            self.backoff = min(self.backoff * 2, self.max_backoff)
            return

    def post_replies(self):
        if not self.out_lock.acquire(blocking=False):  # pylint: disable=consider-using-with
            return  # a handed-over reply is being posted: its turn ends it
        try:
            self._post_replies()
        finally:
            self.out_lock.release()

    def _post_replies(self):
        for path in self.c.pending_out():
            try:
                event_id, _limited = self.c.flush(path, time.time() + 1)
                self.audit("posted", event_id=event_id, txn=os.path.basename(path)[:-5])
            except (ConnectorError, MatrixError, OSError) as err:
                self.log("reply %s not posted: %s" % (path, err))
                if not os.path.exists(path):  # set aside: go on with the next one
                    self.audit("reply_refused", txn=os.path.basename(path)[:-5], reason=str(err))
                    continue
                return

    def turn(self, seq):
        self.post_replies()
        self.deliver()
        since = self.c.position()
        wait = self.poll_ms
        if self.pending_in() or self.c.pending_out():
            wait = int(max(0.0, min(self.poll_ms / 1000.0, self.retry_at - time.time(), 1.0)) * 1000)
        client = self.c.client()
        answer = client.sync(since, wait if since else 0, self.c.filter)
        accepted, ignored = self.c.parse(answer, since, client)
        if since:
            for event in ignored:
                self.audit("ignored", event_id=event.get("event_id"), sender=event.get("sender"),
                           reason="not in allowed_senders")
            for offset, message in enumerate(accepted):
                self.spool(message, seq + offset)
        else:
            self.audit("started", position="now (history before the first start is not delivered)")
        self.c.save_position(answer["next_batch"])
        self.deliver()
        return seq + len(accepted)

    # --- replies handed over by the `connector` wrapper ------------------------------------------
    def open_desk(self):
        """Take replies at the desk (see DESK_FILE) and write this interpreter's path for the
        ``connector`` wrapper. Without a desk (e.g. no IPv4 loopback), ``connector reply`` posts
        by itself: slower, the same result."""
        if sys.executable:
            write_private_text(os.path.join(self.home, INTERPRETER_FILE), sys.executable + "\n")
        desk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            desk.bind(("127.0.0.1", 0))
            desk.listen(DESK_HANDLERS)
        except OSError as err:
            desk.close()
            self.audit("desk_closed", reason="127.0.0.1: %s" % (err.strerror or err))
            return
        key = os.urandom(16).hex()
        write_private_text(os.path.join(self.home, DESK_FILE), "%d %s\n" % (desk.getsockname()[1], key))
        self.desk = desk
        slots = threading.BoundedSemaphore(DESK_HANDLERS)
        threading.Thread(target=self.serve_desk, args=(desk, key.encode("ascii"), slots), daemon=True).start()

    def close_desk(self):
        if self.desk is not None:
            try:
                os.unlink(os.path.join(self.home, DESK_FILE))
            except OSError:
                pass
            self.desk.close()
            self.desk = None

    def serve_desk(self, desk, key, slots):
        while True:
            try:
                conn, _addr = desk.accept()
            except OSError:
                return  # closed
            if not slots.acquire(blocking=False):  # pylint: disable=consider-using-with
                conn.close()  # busy: that wrapper posts by itself
                continue
            threading.Thread(target=self.take_reply, args=(conn, key, slots), daemon=True).start()

    def take_reply(self, conn, key, slots):
        """One handed-over reply: queued under its txn and posted as ``connector reply`` would,
        then the answer line. A request without the desk's key gets no answer."""
        try:
            with conn:
                conn.settimeout(10)
                blob = b""
                while blob.count(b"\0") < 5:  # after the magic, key, txn, thread and size
                    chunk = conn.recv(4096)
                    if not chunk or len(blob) > 1024:
                        return
                    blob += chunk
                magic, given, txn, thread, size, data = blob.split(b"\0", 5)
                if magic != DESK_MAGIC or not hmac.compare_digest(given, key):
                    self.audit("reply_refused", reason="a request without the desk's key")
                    return
                try:
                    if not size.isdigit():
                        raise ConnectorError("not a reply request")
                    if int(size) > MAX_TEXT_BYTES + 4096:  # trailing blanks are cut, then checked
                        check_size(int(size))
                    while len(data) < int(size):
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    text = data.decode("utf-8", "replace").rstrip()
                    with self.out_lock:
                        result = self.c.send(text, thread=thread.decode("utf-8", "replace") or None,
                                             txn=txn.decode("ascii", "replace"))
                    answer = b"0 " + json.dumps(result, sort_keys=True).encode("utf-8") + b"\n"
                    self.audit("posted", event_id=result.get("event_id"), txn=txn.decode("ascii", "replace"),
                               via="desk")
                except ConnectorError as err:
                    answer = ("1 %s\n" % " ".join(str(err).split())).encode("utf-8")
                conn.sendall(answer)
        except OSError:
            pass  # the wrapper went away or gave up: it posts by itself with the same txn
        finally:
            slots.release()

    def run(self):
        # A handed-over reply's thread gets the interpreter within 0.5 ms, not the default 5 ms,
        # when the main thread is busy (e.g. parsing a /sync answer).
        sys.setswitchinterval(0.0005)
        self.open_desk()
        try:
            self.loop()
        finally:
            self.close_desk()

    def loop(self):
        seq = int(time.time() * 1000)
        while not self.stop:
            try:
                seq = self.turn(seq)
                self.net_backoff = 0.5
            except (Unreachable, MatrixError, ConnectorError) as err:
                state = UNAUTHENTICATED if isinstance(err, MatrixError) and err.status in (401, 403) else UNREACHABLE
                wait = self.net_backoff
                if isinstance(err, MatrixError) and err.status == 429:
                    wait = (err.retry_after_ms or 1000) / 1000.0
                self.audit("sync_failed", state=state, reason=str(err), retry_in=wait)
                time.sleep(wait)
                self.net_backoff = min(self.net_backoff * 2, self.max_backoff)


def main(argv):
    """The ``connector`` command (see the wrapper's usage)."""
    parser = argparse.ArgumentParser(prog="connector", description="the orchestrator's chat channel "
                                     "(fleet/connector.json; default kind tmux)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="keep the connector running (inbound into the orchestrator's pane, "
                                     "replies out)")
    run.add_argument("--poll-ms", type=int, default=30000)
    reply = sub.add_parser("reply", help="answer the operator in the room")
    reply.add_argument("--thread", default=None, help="answer in the thread of this event")
    reply.add_argument("-m", dest="message", required=True, help='the text, or "-" to read it from stdin')
    # The wrapper's quick path made this reply's transaction id and found no desk to take it: the
    # same id here, so a reply the connector posted after all is kept once by the homeserver.
    reply.add_argument("--txn", default=None, help=argparse.SUPPRESS)
    sub.add_parser("health", help="one JSON line: kind, state (healthy, unreachable, unauthenticated), reason")
    launch = sub.add_parser("launch", help="for launch-agent: what agent NAME's runtime gets added (argv, "
                                           "env), NUL-separated: the argv count, the argv, the env")
    launch.add_argument("agent")
    args = parser.parse_args(argv)
    home = os.environ.get("MOSAIC_HOME") or os.path.expanduser("~/.config/mosaic")
    try:
        config = load_config(home)
        connector = connector_for(config, home)
        if args.command == "health":
            report = dict(connector.health(), kind=connector.kind)
            print(json.dumps(report, sort_keys=True))
            return 0 if report["state"] == HEALTHY else 1
        if args.command == "launch":
            argv, env = connector.launch(args.agent)
            sys.stdout.buffer.write(b"".join(item.encode("utf-8") + b"\0" for item in [str(len(argv))] + argv + env))
            return 0
        if args.command == "reply":
            text = (sys.stdin.buffer.read().decode("utf-8", "replace") if args.message == "-"
                    else args.message).rstrip()
            print(json.dumps(connector.send(text, thread=args.thread, txn=args.txn), sort_keys=True))
            return 0
        orchestrator = config.get("orchestrator")
        if not connector.service:
            print("connector: kind %s has nothing to run" % connector.kind, file=sys.stderr)
            return 0
        if not orchestrator:
            raise ConnectorError("%s names no orchestrator" % CONFIG_FILE)
        max_backoff = float(os.environ.get("MOSAIC_CONNECTOR_MAX_BACKOFF", "30"))
        service = Service(connector, home, orchestrator, poll_ms=args.poll_ms, max_backoff=max_backoff,
                          log=lambda line: print("connector: " + line, file=sys.stderr, flush=True))

        def stop(_signum, _frame):
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        service.run()
        return 0
    except (ConnectorError, MatrixError, Unreachable) as err:
        print("connector: %s" % err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
