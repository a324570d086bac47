"""The Matrix connector (framework/tools/fleet/connector) against a real Synapse and a real tmux
pane: the stub orchestrator records what it received (fleet/run/<name>.stub.log)."""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from framework_util import wait_for
from matrix_util import request

ORCH = "orch"


class Rig:
    """A room with a human (allowed), a stranger and the connector's bot user; a fleet home whose
    connector.json and credentials name them; the connector process."""

    def __init__(self, synapse, env, socket, tmp_path):
        self.synapse, self.socket, self.tmp = synapse, socket, tmp_path
        self.human, self.stranger, self.bot = synapse.user("human"), synapse.user("stranger"), synapse.user("bot")
        self.room = self.human.create_room(invite=[self.bot.user_id, self.stranger.user_id])
        self.bot.join(self.room)
        self.stranger.join(self.room)
        self.home = env["MOSAIC_HOME"]
        self.env = dict(env, MOSAIC_TMUX_SOCKET=socket, MOSAIC_CONNECTOR_MAX_BACKOFF="1",
                        MOSAIC_SEND_ENTER_DELAY="0.1")
        self.write_config(synapse.url)
        self.set_token(self.bot.token)
        self.proc = None

    def write_config(self, url):
        config = {"kind": "matrix", "orchestrator": ORCH,
                  "matrix": {"homeserver_url": url, "user_id": self.bot.user_id, "room_id": self.room,
                             "allowed_senders": [self.human.user_id]}}
        with open(os.path.join(self.home, "fleet", "connector.json"), "w", encoding="utf-8") as handle:
            json.dump(config, handle)

    def set_token(self, token):
        os.makedirs(os.path.join(self.home, "credentials"), exist_ok=True)
        path = os.path.join(self.home, "credentials", "fleet.env")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("MOSAIC_MATRIX_TOKEN=%s\n" % token)

    def tool(self, *args, stdin=None):
        return subprocess.run([os.path.join(self.home, "tools", "fleet", "connector"), *args], env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=60, check=False)

    def library(self):
        """The connector's library as the fleet home ships it."""
        spec = importlib.util.spec_from_file_location("mosaic_connector", os.path.join(
            self.home, "tools", "fleet", "mosaic_connector.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def audit(self):
        path = os.path.join(self.home, "fleet", "log", "connector.log")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def start(self):
        before = len([a for a in self.audit() if a["event"] == "started"])
        log = open(self.tmp / "connector.out", "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(self.home, "tools", "fleet", "connector"), "run", "--poll-ms", "5000"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if before == 0 and not os.path.exists(os.path.join(self.home, "fleet", "run", "connector.matrix.json")):
            wait_for(lambda: any(a["event"] == "started" for a in self.audit()), timeout=15, what="the connector")
        else:
            time.sleep(0.5)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def spool(self):
        inbox = os.path.join(self.home, "fleet", "spool", "matrix", "in")
        return sorted(os.listdir(inbox)) if os.path.isdir(inbox) else []


@pytest.fixture
def rig(synapse, fleet_env, socket_name, tmp_path):
    made = Rig(synapse, fleet_env, socket_name, tmp_path)
    yield made
    made.kill()


def received(agent, needle):
    return [r["text"] for r in agent.records() if needle in r["text"]]


def test_round_trip_human_to_orchestrator_and_back(rig, start_agent):
    orch = start_agent(ORCH)
    rig.start()
    text = "hello orch: $(rm -rf /) `id` {{ x }} %s 'q' \"dq\""
    event_id = rig.human.send(rig.room, text)
    got = wait_for(lambda: received(orch, text), timeout=20, what="the message in the orchestrator's pane")
    source = rig.human.user_id.lstrip("@").replace(":", "@")  # agent-send.sh's -S name
    assert len(got) == 1 and got[0].endswith(
        ":%s -> %s:%s] [matrix message from %s in %s (event %s)]\n%s" % (
            source, got[0].split(" -> ")[1].split(":")[0], ORCH, rig.human.user_id, rig.room, event_id, text))
    wait_for(lambda: rig.spool() == [], timeout=10, what="the spool emptied after delivered")
    rig.human.start_listening()
    answer = "answer with $HOME and `backticks`\nsecond line"
    result = rig.tool("reply", "-m", "-", stdin=answer + "\n")
    assert result.returncode == 0, result.stderr
    events = rig.human.messages(rig.room)
    assert [e["content"]["body"] for e in events] == [answer]
    assert events[0]["sender"] == rig.bot.user_id
    assert json.loads(result.stdout)["event_id"] == events[0]["event_id"]
    # The running connector posted it: the wrapper handed it over at the desk (no Python started).
    assert [a["event_id"] for a in rig.audit() if a["event"] == "posted" and a.get("via") == "desk"] == [
        events[0]["event_id"]]


def test_a_thread_message_names_its_thread_and_the_reply_goes_into_it(rig, start_agent):
    orch = start_agent(ORCH)
    rig.start()
    root = rig.human.send(rig.room, "thread root")
    rig.human.send(rig.room, "in the thread", thread=root)
    got = wait_for(lambda: received(orch, "in the thread"), timeout=20, what="the thread message")
    assert " [matrix message from %s in %s (event " % (rig.human.user_id, rig.room) in got[0]
    assert "), thread %s (answer with: connector reply --thread %s)]\nin the thread" % (root, root) in got[0]
    rig.human.start_listening()
    result = rig.tool("reply", "--thread", root, "-m", "threaded answer")
    assert result.returncode == 0, result.stderr
    event = rig.human.messages(rig.room)[0]
    assert event["content"]["body"] == "threaded answer"
    assert event["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert event["content"]["m.relates_to"]["event_id"] == root


def test_a_stranger_is_ignored_and_audited(rig, start_agent):
    orch = start_agent(ORCH)
    rig.start()
    stranger_event = rig.stranger.send(rig.room, "let me in")
    rig.human.send(rig.room, "after the stranger")
    wait_for(lambda: received(orch, "after the stranger"), timeout=20, what="the allowed message")
    assert not received(orch, "let me in")
    ignored = [a for a in rig.audit() if a["event"] == "ignored"]
    assert [(a["sender"], a["event_id"]) for a in ignored] == [(rig.stranger.user_id, stranger_event)]
    assert "let me in" not in json.dumps(rig.audit())  # the audit carries no message text
    assert os.stat(os.path.join(rig.home, "fleet", "log", "connector.log")).st_mode & 0o777 == 0o600


def test_orchestrator_down_two_messages_wait_and_are_delivered_once(rig, start_agent):
    rig.start()
    rig.human.send(rig.room, "first while down")
    rig.human.send(rig.room, "second while down")
    wait_for(lambda: len(rig.spool()) == 2, timeout=20, what="two spooled messages")
    wait_for(lambda: any(a["event"] == "retry" for a in rig.audit()), timeout=10, what="a delivery retry")
    inbox = os.path.join(rig.home, "fleet", "spool", "matrix", "in")
    assert all(os.stat(os.path.join(inbox, name)).st_mode & 0o777 == 0o600 for name in rig.spool())
    orch = start_agent(ORCH)
    wait_for(lambda: received(orch, "second while down"), timeout=20, what="both messages after the restart")
    time.sleep(1.5)
    texts = [r["text"].split("\n", 1)[1] for r in orch.records()]
    assert texts == ["first while down", "second while down"]
    assert rig.spool() == []


def test_a_killed_connector_restarts_without_replay_or_loss(rig, start_agent):
    orch = start_agent(ORCH)
    rig.start()
    rig.human.send(rig.room, "before the kill")
    wait_for(lambda: received(orch, "before the kill"), timeout=20, what="the first message")
    rig.kill()
    rig.human.send(rig.room, "while the connector is dead")
    rig.start()
    wait_for(lambda: received(orch, "while the connector is dead"), timeout=20, what="the message sent meanwhile")
    time.sleep(1.5)
    texts = [r["text"].split("\n", 1)[1] for r in orch.records()]
    assert texts == ["before the kill", "while the connector is dead"]


def test_the_homeserver_restarted_mid_sync(rig, start_agent, synapse):
    orch = start_agent(ORCH)
    rig.start()
    time.sleep(0.5)  # the connector's /sync long-poll is parked
    synapse.restart()
    rig.human.send(rig.room, "after the homeserver restart")
    wait_for(lambda: received(orch, "after the homeserver restart"), timeout=30, what="the message after the restart")
    assert rig.proc.poll() is None


def test_health_healthy_then_unauthenticated_when_the_token_is_revoked_and_unreachable(rig, synapse):
    result = rig.tool("health")
    assert result.returncode == 0 and json.loads(result.stdout)["state"] == "healthy", result.stdout
    assert request(synapse.url, "POST", "/_matrix/client/v3/logout", token=rig.bot.token, body={})[0] == 200
    result = rig.tool("health")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["state"] == "unauthenticated" and "M_UNKNOWN_TOKEN" in report["reason"]
    rig.write_config("http://127.0.0.1:9")  # nothing listens on the discard port
    report = json.loads(rig.tool("health").stdout)
    assert report["state"] == "unreachable", report


def test_a_rate_limited_reply_waits_retry_after_ms_and_posts_once(rig, synapse):
    synapse.limit_messages(rig.bot.user_id, 1, 1)
    rig.human.start_listening()
    first = rig.tool("reply", "-m", "one")
    second = rig.tool("reply", "-m", "two")
    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    assert json.loads(second.stdout)["rate_limited_ms"] > 0
    bodies = [e["content"]["body"] for e in rig.human.messages(rig.room, want=2)]
    assert bodies == ["one", "two"]


def test_a_retried_reply_reuses_its_txn_id_and_is_posted_once(rig):
    mc = rig.library()
    connector = mc.connector_for(mc.load_config(rig.home), rig.home)
    rig.human.start_listening()
    path = connector.queue("said once")
    with open(path, encoding="utf-8") as handle:
        record = handle.read()
    first = connector.flush(path, time.time() + 10)[0]
    with open(path, "w", encoding="utf-8") as handle:  # as if the answer was lost: the retry
        handle.write(record)
    second = connector.flush(path, time.time() + 10)[0]
    assert first == second
    assert [e["content"]["body"] for e in rig.human.messages(rig.room, timeout=4, want=2)] == ["said once"]


def test_reply_refuses_oversized_text_and_tmux_kind_changes_nothing(rig):
    result = rig.tool("reply", "-m", "x" * 16001)
    assert result.returncode == 1 and "limit is 16000" in result.stderr
    os.unlink(os.path.join(rig.home, "fleet", "connector.json"))
    result = rig.tool("health")
    assert result.returncode == 0 and json.loads(result.stdout) == {
        "kind": "tmux", "state": "healthy", "reason": "tmux: the operator uses the orchestrator's pane"}


def test_a_send_in_flight_when_the_connector_died_is_not_repeated_if_send_log_says_delivered(rig, start_agent, monkeypatch):
    """The window between agent-send.sh's `delivered` and the spool file's removal: a record
    marked in flight (sender_pid) whose text send.log has as delivered leaves the spool unsent; one
    that send.log does not have is sent."""
    mc = rig.library()
    orch = start_agent(ORCH)
    connector = mc.connector_for(mc.load_config(rig.home), rig.home)
    service = mc.Service(connector, rig.home, ORCH)
    done = mc.Inbound("$done", rig.human.user_id, rig.room, "sent before the crash")
    lost = mc.Inbound("$lost", rig.human.user_id, rig.room, "never sent before the crash")
    for seq, message in enumerate((done, lost)):
        service.spool(message, seq)
        with open(service.spool_file(message.event_id), encoding="utf-8") as handle:
            record = json.load(handle)
        record["sender_pid"] = 2 ** 22 + 1  # no such process: the dead connector's agent-send.sh
        mc.write_private(service.spool_file(message.event_id), record)
    send = subprocess.run([os.path.join(rig.home, mc.SEND_TOOL), "-S", done.source(), "-s", ORCH, "-m", "-"],
                          input=done.preamble() + "\n" + done.text, env=rig.env, capture_output=True, text=True,
                          check=False)
    assert send.returncode == 0, send.stderr
    for key, value in rig.env.items():
        monkeypatch.setenv(key, value)
    service.deliver()
    texts = [r["text"].split("\n", 1)[1] for r in orch.records()]
    assert texts == ["sent before the crash", "never sent before the crash"]
    assert rig.spool() == []
    found = [a for a in rig.audit() if a["event"] == "delivered" and "found" in a]
    assert [a["event_id"] for a in found] == ["$done"]


def test_more_messages_than_one_sync_carries_are_all_delivered_in_order(rig, start_agent):
    """A /sync timeline capped by the filter's limit is `limited`: the connector pages the rest
    back with /messages instead of skipping it."""
    rig.env["MOSAIC_CONNECTOR_TIMELINE_LIMIT"] = "2"
    orch = start_agent(ORCH)
    rig.start()
    rig.kill()
    for serial in range(7):
        rig.human.send(rig.room, "burst %d" % serial)
    rig.start()
    wait_for(lambda: received(orch, "burst 6"), timeout=30, what="the last of the burst")
    time.sleep(1)
    assert [r["text"].split("\n", 1)[1] for r in orch.records()] == ["burst %d" % i for i in range(7)]


def test_fleet_ps_reports_the_connector_healthy_then_unauthenticated_when_the_token_is_revoked(rig, synapse, tmp_path):
    """fleet_ps (in-process probe, then the real module through the ansible CLI) on the
    orchestrator's host: the connector's health from `connector health`, with the reason."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.mosaic.fleet.plugins.module_utils import host, hostconfig, ps_probe
    from ansible_collections.mosaic.fleet.plugins.module_utils import roster as fleet_roster
    from ansible_util import ansible_env
    document = {"version": 1, "tenant": "t", "tmux": {"socket_name": rig.socket},
                "connector": {"kind": "matrix", "matrix": {
                    "homeserver_url": synapse.url, "user_id": rig.bot.user_id, "room_id": rig.room,
                    "allowed_senders": [rig.human.user_id]}},
                "agents": [{"name": ORCH, "class": "orchestrator", "runtime": "stub"}]}
    normalized = fleet_roster.normalize(document, default_host="localhost")
    for relpath, content in hostconfig.plan_files(normalized, "localhost").items():
        with open(os.path.join(rig.home, relpath), "w", encoding="utf-8") as handle:
            handle.write(content)

    def run(argv, env):
        proc = subprocess.run(argv, env=dict(rig.env, **(env or {})), capture_output=True, text=True,
                              timeout=60, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def probe():
        roster, rendered = ps_probe.load_roster(rig.home)
        return ps_probe.probe(roster, run, host.fleet_user(), rig.home, rendered_host_name=rendered,
                              supervisor="tmux", hostname="x")["connector"]

    assert probe()["state"] == "healthy"
    assert request(synapse.url, "POST", "/_matrix/client/v3/logout", token=rig.bot.token, body={})[0] == 200
    assert probe()["state"] == "unauthenticated"
    env = ansible_env(rig.env, tmp_path / "ansible-tmp")
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-m", "mosaic.fleet.fleet_ps",
            "-a", "user=%s mosaic_home=%s supervisor=tmux" % (host.fleet_user()[0], rig.home)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert result["connector"]["kind"] == "matrix" and result["connector"]["state"] == "unauthenticated"
    assert "M_UNKNOWN_TOKEN" in result["connector"]["reason"]


def test_a_reply_the_homeserver_refuses_is_set_aside_not_retried(rig):
    elsewhere = rig.human.create_room()  # the bot is not in it: 403
    config_path = os.path.join(rig.home, "fleet", "connector.json")
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    config["matrix"]["room_id"] = elsewhere
    with open(config_path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    result = rig.tool("reply", "-m", "nobody hears this")
    assert result.returncode == 1 and "refused" in result.stderr and "M_FORBIDDEN" in result.stderr
    spool = os.path.join(rig.home, "fleet", "spool", "matrix")
    assert os.listdir(os.path.join(spool, "out")) == []
    assert len(os.listdir(os.path.join(spool, "failed"))) == 1


class FakeDesk(threading.Thread):
    """A desk (fleet/run/connector.desk) that takes one request, calls ``then(fields)`` with its
    parts (magic, key, txn, thread, size, text) and hangs up without an answer: a connector
    killed while posting."""

    def __init__(self, rig, then=lambda fields: None):
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.then, self.fields = then, None
        with open(os.path.join(rig.home, "fleet", "run", "connector.desk"), "w", encoding="utf-8") as handle:
            handle.write("%d %s\n" % (self.server.getsockname()[1], "ab" * 16))
        self.start()

    def run(self):
        conn, _addr = self.server.accept()
        with conn:
            blob = b""
            while blob.count(b"\0") < 5 or len(blob.split(b"\0", 5)[5]) < int(blob.split(b"\0", 5)[4]):
                blob += conn.recv(65536)
            self.fields = [part.decode() for part in blob.split(b"\0", 5)]
            self.then(self.fields)
        self.server.close()


def test_a_reply_the_desk_drops_is_posted_by_the_wrapper_with_its_txn_once(rig):
    """The connector took the reply, posted it and died before answering: the wrapper posts it
    itself with the same transaction id, and the room has it once."""
    mc = rig.library()
    connector = mc.connector_for(mc.load_config(rig.home), rig.home)
    posted = []

    def post_then_die(fields):
        posted.append(connector.send(fields[5].rstrip(), txn=fields[2])["event_id"])  # as the desk does

    desk = FakeDesk(rig, post_then_die)
    rig.human.start_listening()
    result = rig.tool("reply", "-m", "-", stdin="said once, posted twice\n\n")
    desk.join(timeout=10)
    assert result.returncode == 0, result.stderr
    magic, key, txn, thread, size, text = desk.fields
    assert (magic, key, thread, int(size), text) == (
        "mosaic-reply-1", "ab" * 16, "", len("said once, posted twice\n\n"), "said once, posted twice\n\n")
    assert txn.startswith("mosaic-") and json.loads(result.stdout)["event_id"] == posted[0]
    assert [e["content"]["body"] for e in rig.human.messages(rig.room, timeout=4, want=2)] == [
        "said once, posted twice"]
    assert os.listdir(os.path.join(rig.home, "fleet", "spool", "matrix", "out")) == []


def test_the_desk_refuses_a_request_without_its_key_and_a_stale_desk_changes_nothing(rig):
    rig.start()
    with open(os.path.join(rig.home, "fleet", "run", "connector.desk"), encoding="utf-8") as handle:
        port, key = handle.read().split()
    with socket.create_connection(("127.0.0.1", int(port))) as conn:
        conn.sendall(b"\0".join([b"mosaic-reply-1", b"0" * len(key), b"mosaic-1-x", b"", b"6", b"forged"]))
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(100) == b""  # no answer
    wait_for(lambda: any(a["event"] == "reply_refused" for a in rig.audit()), timeout=10, what="the audit")
    rig.kill()  # SIGKILL: the desk file stays, nothing listens behind it
    assert os.path.exists(os.path.join(rig.home, "fleet", "run", "connector.desk"))
    rig.human.start_listening()
    result = rig.tool("reply", "-m", "after the kill")
    assert result.returncode == 0, result.stderr
    assert [e["content"]["body"] for e in rig.human.messages(rig.room, timeout=4, want=2)] == ["after the kill"]


def test_a_nul_byte_is_refused_with_or_without_the_desk(rig):
    for running in (False, True):
        if running:
            rig.start()
        result = rig.tool("reply", "-m", "-", stdin="before\0after")
        assert result.returncode == 1 and "NUL byte" in result.stderr, (running, result.stderr)
