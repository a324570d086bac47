"""fleet_send run by root for another user (``become: true`` with ``user: <fleet user>``), for real.

agent-send.sh then runs as that user (runuser) with the message on a pipe root opened: it must read
the stdin it was given, since the user may not reopen root's pipe through /dev/stdin. Needs root:
the test creates a throwaway user (as test_demo.py does) and deletes it again.
"""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from ansible_util import ansible_env
from framework_util import install_framework, wait_for
from test_demo import User

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")
SOCKET = "mosaic-root-send"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("useradd", "userdel", "runuser")),
    reason="needs root, useradd, userdel and runuser (the test creates a throwaway user)")


@pytest.fixture(scope="module")
def fleet_user():
    """A user with the framework in its ~/.config/mosaic and the stub agent coder0 in its tmux."""
    user = User("mfs" + uuid.uuid4().hex[:8])
    try:
        user.mosaic_home = os.path.join(user.home, ".config", "mosaic")
        install_framework(user.mosaic_home, symlinks=True)
        for sub in ("fleet/agents", "fleet/run", "fleet/log"):
            os.makedirs(os.path.join(user.mosaic_home, sub), exist_ok=True)
        env_file = os.path.join(user.mosaic_home, "fleet", "agents", "coder0.env")
        with open(env_file, "w") as handle:
            handle.write("MOSAIC_AGENT_NAME=coder0\nMOSAIC_TMUX_SOCKET=%s\nMOSAIC_AGENT_HOST=web1\n" % SOCKET)
        os.chmod(env_file, 0o600)
        for root, dirs, files in os.walk(os.path.join(user.home, ".config")):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.lchown(name, user.uid, user.gid)
        proc = user.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", "coder0", "-x", "120", "-y", "40",
                         "-e", "MOSAIC_HOME=" + user.mosaic_home, "-e", "MOSAIC_AGENT_NAME=coder0",
                         "exec python3 %s/tools/fleet/stub-agent" % user.mosaic_home])
        assert proc.returncode == 0, proc.stderr
        wait_for(lambda: "stub> " in user.run(["tmux", "-L", SOCKET, "capture-pane", "-p", "-J", "-t", "=coder0:"]).stdout,
                 timeout=15, what="the stub's prompt")
        yield user
    finally:
        user.run(["tmux", "-L", SOCKET, "kill-server"], timeout=30)
        user.remove()


def records(user):
    path = os.path.join(user.mosaic_home, "fleet", "run", "coder0.stub.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def adhoc_as_root(tmp_path, args, *extra):
    """``ansible localhost -m mosaic.fleet.fleet_send`` as root; returns (rc, task result, stderr)."""
    home = tmp_path / "root-home"
    home.mkdir(exist_ok=True)
    env = ansible_env({"HOME": str(home), "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "/usr/bin:/bin")),
                       "LANG": "C.UTF-8", "USER": "root"}, tmp_path / "ansible-tmp")
    result = subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-c", "local", "-m",
                             "mosaic.fleet.fleet_send", "-a", json.dumps(args)] + list(extra),
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    head, sep, body = result.stdout.partition(" => ")
    assert sep, result.stdout + result.stderr
    return result.returncode, json.loads(body), result.stderr


def test_root_sends_for_the_fleet_user(fleet_user, tmp_path):
    message = "from root for %s\nwith a second line\n\n" % fleet_user.name
    rc, task, err = adhoc_as_root(tmp_path, {"agent": "coder0", "msg": message, "user": fleet_user.name})
    assert rc == 0, (task, err)
    assert task["outcome"] == "delivered" and task["changed"] is True, task
    # The socket and the host come from the user's env file, read by agent-send.sh as that user.
    assert task["preamble"].endswith(" -> web1:coder0] ")
    assert records(fleet_user)[-1] == task["preamble"] + message.rstrip()
    log = os.path.join(fleet_user.mosaic_home, "fleet", "log", "send.log")
    assert os.stat(log).st_uid == fleet_user.uid  # the send ran as the user


def test_root_check_mode_for_the_fleet_user_sends_nothing(fleet_user, tmp_path):
    before = records(fleet_user)
    rc, task, err = adhoc_as_root(tmp_path, {"agent": "coder0", "msg": "not now", "user": fleet_user.name},
                                  "--check")
    assert rc == 0, (task, err)
    assert task["outcome"] == "would_send" and task["changed"] is True, task
    assert task["preamble"].endswith(" -> web1:coder0] ")  # the dry run read the user's env file
    assert records(fleet_user) == before
