"""A real Matrix homeserver for the connector tests: Synapse on loopback, a separate process.

``synapse`` (session-scoped; pulled into conftest.py) installs Synapse once from the committed
lock (scripts/test-synapse.sh: .cache/synapse-venv, pip's cache in .cache/pip), generates a config
in a temporary directory and starts the homeserver with a second config whose keys replace the
generated ones: one listener on 127.0.0.1 with only the ``client`` resource (no federation),
``trusted_key_servers: []``, a ``registration_shared_secret``, ``bcrypt_rounds: 4`` and rate
limits raised so that bursts in tests are not refused (a test that wants a 429 lowers one user's
limit with the admin API: ``Synapse.limit_messages``). Users come from the shared-secret admin
API. Synapse is AGPL-3.0: it is installed and run, never vendored.
"""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_NAME = "localhost"
HIGH = {"per_second": 1000, "burst_count": 1000}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(base, method, path, token=None, body=None, timeout=30):
    """One client-server API call: (status, decoded JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


class User:
    """A registered Matrix user and the calls the tests make as that user."""

    def __init__(self, server, user_id, token):
        self.server, self.user_id, self.token = server, user_id, token
        self.since = None

    def call(self, method, path, body=None, timeout=30):
        status, data = request(self.server.url, method, path, self.token, body, timeout)
        assert status == 200, "%s %s as %s: %s %s" % (method, path, self.user_id, status, data)
        return data

    def create_room(self, invite=()):
        body = {"preset": "private_chat", "invite": list(invite)}
        return self.call("POST", "/_matrix/client/v3/createRoom", body)["room_id"]

    def join(self, room_id):
        self.call("POST", "/_matrix/client/v3/join/" + urllib.parse.quote(room_id, safe=""), {})

    def send(self, room_id, text, thread=None):
        content = {"msgtype": "m.text", "body": text}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread}
        path = "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (
            urllib.parse.quote(room_id, safe=""), uuid.uuid4().hex)
        return self.call("PUT", path, content)["event_id"]

    def messages(self, room_id, timeout=15, want=1):
        """Wait (long-poll /sync) until ``want`` new m.room.message events from others are in
        ``room_id``; return them all (each the event dict). The first call starts from now."""
        if self.since is None:
            self.since = self.call("GET", "/_matrix/client/v3/sync?timeout=0")["next_batch"]
        found, deadline = [], time.time() + timeout
        while len(found) < want and time.time() < deadline:
            data = self.call("GET", "/_matrix/client/v3/sync?timeout=2000&since=" + urllib.parse.quote(self.since))
            self.since = data["next_batch"]
            room = data.get("rooms", {}).get("join", {}).get(room_id, {})
            for event in room.get("timeline", {}).get("events", []):
                if event.get("type") == "m.room.message" and event.get("sender") != self.user_id:
                    found.append(event)
        return found

    def start_listening(self):
        self.since = self.call("GET", "/_matrix/client/v3/sync?timeout=0")["next_batch"]


class Synapse:
    """A Synapse homeserver in ``directory``; ``url`` is its client API on 127.0.0.1."""

    def __init__(self, python, directory):
        self.python, self.dir = python, directory
        self.port = _free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.secret = uuid.uuid4().hex
        self.proc = None
        self.admin = None

    def configure(self):
        config = os.path.join(self.dir, "homeserver.yaml")
        subprocess.run([self.python, "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
                        "--report-stats=no", "--config-path", config, "--data-directory", self.dir,
                        "--generate-config"], cwd=self.dir, check=True, capture_output=True, timeout=120)
        overrides = {
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                           "tls": False, "x_forwarded": False,
                           "resources": [{"names": ["client"], "compress": False}]}],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "registration_shared_secret": self.secret,
            "enable_registration": False,
            "bcrypt_rounds": 4,
            "rc_message": HIGH,
            "rc_registration": HIGH,
            "rc_login": {"address": HIGH, "account": HIGH, "failed_attempts": HIGH},
            "rc_joins": {"local": HIGH, "remote": HIGH},
            "rc_invites": {"per_room": HIGH, "per_user": HIGH, "per_issuer": HIGH},
            "rc_admin_redaction": HIGH,
            "rc_room_creation": HIGH,
        }
        # JSON is YAML: the overrides need no YAML library in the test venv.
        with open(os.path.join(self.dir, "overrides.yaml"), "w", encoding="utf-8") as handle:
            json.dump(overrides, handle)

    def start(self, timeout=60):
        log = open(os.path.join(self.dir, "stdout.log"), "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [self.python, "-m", "synapse.app.homeserver", "-c", os.path.join(self.dir, "homeserver.yaml"),
             "-c", os.path.join(self.dir, "overrides.yaml")],
            cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("synapse exited with %s; see %s/homeserver.log" % (self.proc.returncode, self.dir))
            try:
                if request(self.url, "GET", "/_matrix/client/versions", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("synapse did not answer /_matrix/client/versions within %ss" % timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def register(self, localpart, admin=False):
        """A new user through the shared-secret admin API (nonce, then an HMAC-SHA1 mac)."""
        path = "/_synapse/admin/v1/register"
        status, data = request(self.url, "GET", path)
        assert status == 200, data
        nonce, password = data["nonce"], uuid.uuid4().hex
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin,
                "mac": mac.hexdigest()}
        status, data = request(self.url, "POST", path, body=body)
        assert status == 200, data
        return User(self, data["user_id"], data["access_token"])

    def user(self, prefix):
        return self.register("%s%s" % (prefix, uuid.uuid4().hex[:8]))

    def limit_messages(self, user_id, per_second, burst_count):
        """Lower (or, with 0/0, lift) one user's message rate limit: admin API override_ratelimit."""
        if self.admin is None:
            self.admin = self.register("admin" + uuid.uuid4().hex[:8], admin=True)
        path = "/_synapse/admin/v1/users/%s/override_ratelimit" % urllib.parse.quote(user_id, safe="")
        self.admin.call("POST", path, {"messages_per_second": per_second, "burst_count": burst_count})


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    """A running Synapse (see the module docstring), stopped after the session."""
    result = subprocess.run([os.path.join(REPO, "scripts", "test-synapse.sh")], capture_output=True,
                            text=True, timeout=1800, check=False)
    if result.returncode != 0:
        pytest.fail("installing synapse failed (scripts/test-synapse.sh, exit %d):\n%s"
                    % (result.returncode, result.stderr[-4000:]), pytrace=False)
    server = Synapse(result.stdout.strip().splitlines()[-1], str(tmp_path_factory.mktemp("synapse")))
    server.configure()
    server.start()
    yield server
    server.stop()
