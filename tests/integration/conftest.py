"""Fixtures for integration tests on real tmux.

Every test gets its own HOME, MOSAIC_HOME (a copy of framework/), TMUX_TMPDIR (so even the
"default" tmux socket is private to the test) and a unique named socket. Servers started under
that TMUX_TMPDIR are killed afterwards, so tests run in parallel and never touch a real fleet.
"""

import os
import shutil
import subprocess
import uuid

import pytest

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
    shutil.copytree(FRAMEWORK, mosaic_home, symlinks=True)
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
