"""Fixtures for integration tests on real tmux.

Every test gets its own HOME, MOSAIC_HOME (a copy of framework/), TMUX_TMPDIR (so even the
"default" tmux socket is private to the test) and a unique named socket. Servers started under
that TMUX_TMPDIR are killed afterwards, so tests run in parallel and never touch a real fleet.
"""

import os
import subprocess
import uuid

import pytest

from framework_util import tmux as tmux_cmd
from framework_util import install_framework
from framework_util import wait_for
from matrix_util import synapse  # noqa: F401  pylint: disable=unused-import
from mock_model import MockModel, prepare_home

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMEWORK = os.path.join(REPO, "framework")


def _kill_servers(tmux_tmpdir):
    for root, _dirs, files in os.walk(tmux_tmpdir):
        for name in files:
            path = os.path.join(root, name)
            subprocess.run(["tmux", "-S", path, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def fleet_env(tmp_path):
    """An environment dict for subprocesses: isolated HOME, MOSAIC_HOME and TMUX_TMPDIR."""
    home = tmp_path / "home"
    mosaic_home = home / ".config" / "mosaic"
    install_framework(mosaic_home, symlinks=True)
    for sub in ("fleet/agents", "fleet/run", "fleet/log"):
        (mosaic_home / sub).mkdir(parents=True, exist_ok=True)
    tmux_tmpdir = tmp_path / "tmux"
    tmux_tmpdir.mkdir()
    env = {
        "HOME": str(home),
        "MOSAIC_HOME": str(mosaic_home),
        "TMUX_TMPDIR": str(tmux_tmpdir),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "USER": os.environ.get("USER", "root"),
    }
    yield env
    _kill_servers(str(tmux_tmpdir))


@pytest.fixture
def socket_name():
    return "t-" + uuid.uuid4().hex[:10]


# --- Agents in tmux for the delivery tests (agent-send.sh, fleet_send, pi) -----------------------

class PaneAgent:
    """A program running in its own tmux session on a test socket."""

    def __init__(self, env, socket, name):
        self.env, self.socket, self.name = env, socket, name

    def tmux(self, *args):
        return tmux_cmd(self.env, self.socket, *args)

    def capture(self):
        return self.tmux("capture-pane", "-p", "-J", "-t", "=%s:" % self.name).stdout

    def pane(self, fmt):
        return self.tmux("display-message", "-p", "-t", "=%s:" % self.name, fmt).stdout.strip()

    @property
    def log_path(self):
        return os.path.join(self.env["MOSAIC_HOME"], "fleet", "run", self.name + ".stub.log")

    def records(self):
        """The stub's log: one dict per submitted input."""
        import json
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture
def start_agent(fleet_env, socket_name):
    """start_agent(name, command=None, socket=socket_name, env=None, width=120, height=40).

    Starts ``command`` (default: the framework's stub agent) in session ``name`` with the agent
    env (MOSAIC_HOME, MOSAIC_AGENT_NAME, MOSAIC_TMUX_SOCKET) and, for the stub, waits for its
    prompt. Returns a PaneAgent.
    """

    def start(name, command=None, socket=socket_name, env=None, width=120, height=40,
              ready="stub> "):
        env = env or fleet_env
        if command is None:
            command = "exec python3 %s/tools/fleet/stub-agent" % env["MOSAIC_HOME"]
        setenv = []
        for key, value in (("MOSAIC_HOME", env["MOSAIC_HOME"]), ("MOSAIC_AGENT_NAME", name),
                           ("MOSAIC_TMUX_SOCKET", socket), ("HOME", env["HOME"])):
            setenv += ["-e", "%s=%s" % (key, value)]
        result = tmux_cmd(env, socket, "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
                          *(setenv + [command]))
        assert result.returncode == 0, result.stderr
        agent = PaneAgent(env, socket, name)
        if ready:
            wait_for(lambda: ready in agent.capture(), timeout=15, what="%r in the pane of %s" % (ready, name))
        return agent

    return start


@pytest.fixture(scope="session")
def runtime_bin():
    """The bin directory of the pinned agent runtimes (tests/runtimes/package-lock.json).

    scripts/test-runtimes.sh installs them with ``npm ci`` into .cache/test-runtimes the first
    time any test asks (once for all pytest-xdist workers: it holds a lock), and again only when
    the lock changes. A missing lock, or one out of sync with package.json, fails here.
    """
    result = subprocess.run([os.path.join(REPO, "scripts", "test-runtimes.sh")], capture_output=True,
                            text=True, timeout=1800, check=False)
    if result.returncode != 0:
        pytest.fail("installing the test runtimes failed (scripts/test-runtimes.sh, exit %d):\n%s"
                    % (result.returncode, result.stderr[-4000:]), pytrace=False)
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def pi_command(request):
    """The path of the ``pi`` CLI: ``MOSAIC_TEST_PI`` when set (to try another release of pi),
    else the pinned one from ``runtime_bin``."""
    override = os.environ.get("MOSAIC_TEST_PI")
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            pytest.fail("MOSAIC_TEST_PI=%s is not an executable file" % override, pytrace=False)
        return override
    return os.path.join(request.getfixturevalue("runtime_bin"), "pi")


@pytest.fixture(scope="module")
def mock_model(runtime_bin, tmp_path_factory):
    """The mock model server (tests/integration/mock_model.py: usage at its top), one per test
    module; ``script()`` its answers in each test."""
    server = MockModel(runtime_bin, str(tmp_path_factory.mktemp("mock-model"))).start()
    yield server
    server.stop()


@pytest.fixture
def runtime_home(mock_model, runtime_bin, tmp_path):
    """runtime_home(runtime, workdir, home=None, model="mock-model") -> env: a fresh HOME (under
    tmp_path, or ``home``) with the fleet's first-run state for ``runtime`` pointed at
    ``mock_model`` (mock_model.prepare_home)."""

    def make(runtime, workdir, home=None, **kwargs):
        home = home or str(tmp_path / ("home-" + runtime))
        return prepare_home(home, runtime, workdir, mock_model.url, runtime_bin, **kwargs)

    return make
