"""A mock model server for the real runtimes (claude, codex, pi, opencode), fully offline.

Usage (fixtures in conftest.py):

    def test_x(mock_model, runtime_home):
        mock_model.script([                      # replaces the answers; first match wins
            mm.tool_call("pi", "echo hi > /tmp/x", user="do it"),   # the tool-call step
            mm.text("done", user="do it", after_tool=True),         # the answer after it
            mm.text("hello"),                                       # anything else
        ])
        env = runtime_home("pi", workdir)         # fresh HOME + env pointed at the mock
        ... start the runtime with env, paste a message ...
        mock_model.wait_request(lambda r: "do it" in r.text, what="pi's turn")
        assert mock_model.saw("earlier text")    # any request so far carried it (full bodies)

- ``mock_model`` (module scope: one server per test module; ``script`` and ``reset`` between
  tests) runs ``llmock`` (``@copilotkit/aimock``, pinned in tests/runtimes) on a free loopback
  port with its own fixture directory, behind ``mock_model_recorder.js``, which logs every request
  body WHOLE. llmock's journal (``journal()``, ``GET /__aimock/journal``) cuts bodies over 64 KB
  and Claude's requests are ~85 KB, so ``requests()``/``saw()``/``wait_request()`` read the
  recorder's log instead. ``url`` is the base URL to give a runtime (no ``/v1``).
- Fixtures (aimock's JSON): ``match`` keys ``userMessage`` (substring of the LAST user message),
  ``toolName`` (a tool in the request: ``TOOL[runtime]``, which keeps a runtime's turn apart from
  its side requests such as titles, which carry no tools), ``hasToolResult`` (false: the
  tool-call step; true: the answer after it). ``tool_call``/``text`` build them.
- ``runtime_home(runtime, workdir, key=...)`` (function scope) makes a fresh HOME under the test's
  tmp_path and returns the env to start that runtime with: the fleet's own first-run state
  (plugins/module_utils/firstrun.py, the code fleet_host_config applies) plus the runtime
  table's unattended env, pointed at ``mock_model.url``.
"""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mock_model_recorder.js")

# The shell tool each runtime offers the model, and the name of its command argument.
TOOL = {"claude": "Bash", "codex": "exec_command", "pi": "bash", "opencode": "bash"}
TOOL_ARG = {"claude": "command", "codex": "cmd", "pi": "command", "opencode": "command"}
MODEL = "mock-model"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tool_call(runtime, command, user=None, call_id=None, usage=None):
    """A fixture: when ``runtime``'s turn (its shell tool in the request) has no tool result yet
    and, if given, its last user message contains ``user``, the model runs ``command``."""
    match = {"toolName": TOOL[runtime], "hasToolResult": False}
    if user is not None:
        match["userMessage"] = user
    call = {"name": TOOL[runtime], "arguments": json.dumps({TOOL_ARG[runtime]: command})}
    if call_id:
        call["id"] = call_id
    response = {"toolCalls": [call]}
    if usage:
        response["usage"] = usage
    return {"match": match, "response": response}


def text(content, user=None, runtime=None, after_tool=None, usage=None):
    """A fixture answering ``content``; narrowed by ``user`` (substring of the last user message),
    ``runtime`` (its tool in the request) and ``after_tool`` (True: the answer after a tool
    result; False: none yet)."""
    match = {}
    if user is not None:
        match["userMessage"] = user
    if runtime is not None:
        match["toolName"] = TOOL[runtime]
    if after_tool is not None:
        match["hasToolResult"] = after_tool
    response = {"content": content}
    if usage:
        response["usage"] = usage
    return {"match": match, "response": response}


class Request:
    """One request the mock received: method, path and the whole body (text; ``json`` parsed)."""

    def __init__(self, record):
        self.method, self.path, self.text = record["method"], record["path"], record["body"]

    @property
    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return "<%s %s, %d chars>" % (self.method, self.path, len(self.text))


class MockModel:
    """llmock + the recorder, started by ``start`` and ended by ``stop``."""

    def __init__(self, bin_dir, work_dir):
        self.bin_dir, self.work_dir = bin_dir, work_dir
        self.fixture_dir = os.path.join(work_dir, "fixtures")
        self.log_path = os.path.join(work_dir, "requests.jsonl")
        self.procs = []
        self.port = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=60):
        os.makedirs(self.fixture_dir, exist_ok=True)
        with open(os.path.join(self.fixture_dir, "default.json"), "w", encoding="utf-8") as handle:
            json.dump({"fixtures": []}, handle)
        open(self.log_path, "w").close()
        inner = _free_port()
        node_env = dict(os.environ, PATH=self.bin_dir + os.pathsep + os.environ.get("PATH", ""))
        llmock_log = open(os.path.join(self.work_dir, "llmock.log"), "w")  # pylint: disable=consider-using-with
        self.procs.append(subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(self.bin_dir, "llmock"), "-p", str(inner), "-h", "127.0.0.1",
             "-f", self.fixture_dir, "--log-level", "warn", "--journal-max", "0"],
            stdout=llmock_log, stderr=subprocess.STDOUT, env=node_env, start_new_session=True))
        llmock_log.close()
        self._inner = "http://127.0.0.1:%d" % inner
        deadline = time.monotonic() + timeout
        while not self._healthy(self._inner):
            if self.procs[0].poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("llmock did not start (see %s/llmock.log)" % self.work_dir)
            time.sleep(0.1)
        recorder = subprocess.Popen(  # pylint: disable=consider-using-with
            ["node", RECORDER, str(inner), self.log_path], stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.work_dir, "recorder.log"), "w"),  # pylint: disable=consider-using-with
            env=node_env, text=True, start_new_session=True)
        self.procs.append(recorder)
        line = recorder.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError("the recorder did not start (see %s/recorder.log)" % self.work_dir)
        self.port = int(line)
        return self

    @staticmethod
    def _healthy(base):
        try:
            with urllib.request.urlopen(base + "/__aimock/health", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.procs = []

    def _control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self._inner + "/__aimock" + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raise AssertionError("llmock %s %s: %s %s" % (method, path, err.code, err.read()[:2000]))

    def script(self, fixtures):
        """Replace the model's answers with ``fixtures`` (a list; the first match wins)."""
        self._control("DELETE", "/fixtures")
        if fixtures:
            self._control("POST", "/fixtures", {"fixtures": list(fixtures)})

    def add(self, fixtures):
        """Append fixtures after the current ones."""
        self._control("POST", "/fixtures", {"fixtures": list(fixtures)})

    def reset(self):
        """No answers, an empty journal and an empty request log."""
        self._control("POST", "/reset")
        open(self.log_path, "w").close()

    def journal(self):
        """llmock's own journal (bodies over 64 KB replaced by a truncation marker), with the
        fixture each request matched."""
        return self._control("GET", "/journal")

    def requests(self):
        """Every model request so far (control calls excluded), bodies whole, oldest first."""
        with open(self.log_path, encoding="utf-8") as handle:
            return [Request(json.loads(line)) for line in handle if line.strip()]

    def saw(self, needle, after=0):
        """The requests (from index ``after``) whose body contains ``needle``."""
        return [r for r in self.requests()[after:] if needle in r.text]

    def wait_request(self, predicate, timeout=60, after=0, what="a request"):
        """Wait for a request (from index ``after``) that satisfies ``predicate``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            for req in self.requests()[after:]:
                if predicate(req):
                    return req
            if time.monotonic() > deadline:
                raise AssertionError("the mock model saw no %s in %.0fs; it saw %r"
                                     % (what, timeout, self.requests()[after:]))
            time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# A fresh HOME for a runtime, pointed at the mock: the fleet's own first-run state and env

API_KEY = "sk-mock-0123456789abcdefghijklmnopqrstuvwxyz"


def _collection():
    import sys  # pylint: disable=import-outside-toplevel
    dev = os.path.join(REPO, ".cache", "collections")
    if dev not in sys.path:
        sys.path.insert(0, dev)
    from ansible_collections.mosaic.fleet.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        firstrun, runtime_table, runtimes)
    return firstrun, runtime_table, runtimes


def credentials_for(runtime, url):
    """The credentials/fleet.env a host uses to put ``runtime`` behind the gateway at ``url``."""
    if runtime in ("claude", "pi"):
        return {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": API_KEY}
    return {"OPENAI_BASE_URL": url + "/v1", "OPENAI_API_KEY": API_KEY}


def write_credentials(mosaic_home, runtime, url):
    """credentials/fleet.env (0600) with ``credentials_for(runtime, url)``, as a host keeps them."""
    path = os.path.join(mosaic_home, "credentials", "fleet.env")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join("%s=%s\n" % item for item in credentials_for(runtime, url).items()))
    os.chmod(path, 0o600)
    return path


def prepare_home(home, runtime, workdir, url, bin_dir, model=MODEL, agents=None):
    """Write the first-run state for ``runtime`` into ``home`` exactly as fleet_host_config does
    (firstrun.plan + firstrun.merge over what is there), and return the env to start it with:
    HOME, PATH with the pinned runtimes first, the credentials and the runtime table's env."""
    firstrun, runtime_table, runtimes = _collection()
    os.makedirs(home, exist_ok=True)
    credentials = credentials_for(runtime, url)
    agents = agents or [{"name": "agent", "runtime": runtime, "working_directory": workdir,
                         "model_hint": model}]
    for relpath, edits in firstrun.plan(agents, home, credentials).items():
        path = os.path.join(home, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        current = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
        new = firstrun.merge(relpath, current, edits)
        if new != current:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(new)
            os.chmod(path, firstrun.file_mode(relpath))
    _argv, extra = runtimes.resolve(runtime_table.TABLE, runtime, command="true")
    env = {
        "HOME": home,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "USER": os.environ.get("USER", "root"),
    }
    env.update(credentials)
    env.update(item.split("=", 1) for item in extra)
    if os.geteuid() == 0 and runtime == "claude":
        env["IS_SANDBOX"] = "1"
    return env
