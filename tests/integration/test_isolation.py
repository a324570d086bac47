"""Two tenants on one host, for real: `ansible-playbook mosaic.fleet.fleet` run by root stands a
fleet up for each of two throwaway users (tmux mode), then tenant B's user tries to read tenant
A's files, connect to A's tmux server and deliver to A's agent; each fails with a clear error,
while A itself still can. Also: a home left open (0755, as useradd makes it on many systems) and
an open log are closed by the stand-up, and a re-run changes nothing.

Needs root (the test creates throwaway users, as test_demo.py does, and deletes them again).
"""

import json
import os
import shutil
import stat
import subprocess
import uuid

import pytest

from ansible_util import ansible_env
from framework_util import wait_for
from test_demo import User

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")
SOCKET = "mosaic-fleet"  # the same socket name for both tenants: each uid has its own server
SEND = ".config/mosaic/tools/tmux/agent-send.sh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("useradd", "userdel", "runuser")),
    reason="needs root, useradd, userdel and runuser (the test creates throwaway users)")


def stand_up(tmp_path, user, agent):
    """``ansible-playbook mosaic.fleet.fleet`` as root for ``user``: one stub agent, tmux mode."""
    work = tmp_path / user.name
    work.mkdir()
    inventory = work / "inventory.yml"
    inventory.write_text("fleet:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: %s\n" % os.path.join(BIN, "python"))
    variables = {"mosaic_fleet_user": user.name, "mosaic_fleet_install_packages": False,
                 "mosaic_fleet_supervisor": "tmux",
                 "mosaic_fleet_roster": {"version": 1, "profile": "canary", "tenant": user.name,
                                         "tmux": {"socket_name": SOCKET},
                                         "agents": [{"name": agent, "class": "worker", "runtime": "stub"}]}}
    (work / "vars.json").write_text(json.dumps(variables))
    (work / "home").mkdir()
    env = ansible_env({"HOME": str(work / "home"), "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "/usr/bin:/bin")),
                       "LANG": "C.UTF-8", "USER": "root"}, work / "ansible-tmp")

    def play(*extra):
        return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "mosaic.fleet.fleet",
                               "-e", "@%s" % (work / "vars.json")] + list(extra),
                              capture_output=True, text=True, env=env, timeout=600, check=False)
    return play


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(scope="module")
def tenants(tmp_path_factory):
    """Tenants A and B, each a user with a one-agent fleet (alpha, beta) on socket SOCKET."""
    tmp_path = tmp_path_factory.mktemp("isolation")
    users = []
    try:
        for agent in ("alpha", "beta"):
            user = User("mfi" + uuid.uuid4().hex[:8])
            users.append(user)
            # A uid is reused after userdel: a socket directory a deleted user left behind is not
            # this user's (tmux would refuse to start).
            if os.path.isdir(user.tmux_dir) and os.stat(user.tmux_dir).st_uid != user.uid:
                shutil.rmtree(user.tmux_dir, ignore_errors=True)
            user.agent = agent
            user.mosaic_home = os.path.join(user.home, ".config", "mosaic")
            # What a 0.1.0 fleet (and useradd on many systems) leaves: an open home and an open
            # send log in an open log directory.
            os.chmod(user.home, 0o755)
            log_dir = os.path.join(user.mosaic_home, "fleet", "log")
            os.makedirs(log_dir, mode=0o755)
            with open(os.path.join(log_dir, "send.log"), "w") as handle:
                handle.write("2026-01-01T00:00:00+0000 outcome=delivered src=x:y dst=x:z bytes=1\n")
            for root, dirs, files in os.walk(os.path.join(user.home, ".config")):
                for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                    os.chmod(name, 0o755 if os.path.isdir(name) else 0o644)
                    os.lchown(name, user.uid, user.gid)
            user.play = stand_up(tmp_path, user, agent)
            user.first = user.play("--diff")
            assert user.first.returncode == 0, user.first.stdout + user.first.stderr
            transcript = os.path.join(user.mosaic_home, "fleet", "log", "transcripts", agent + ".log")
            wait_for(lambda t=transcript: os.path.exists(t) and "stub> " in open(t, errors="replace").read(),
                     timeout=60, what="%s's stub prompt in its transcript" % agent)
        yield users
    finally:
        for user in users:
            user.run(["tmux", "-L", SOCKET, "kill-server"], timeout=30)
            user.remove()


def a_files(a):
    fleet = os.path.join(a.mosaic_home, "fleet")
    return {
        "env file": os.path.join(fleet, "agents", "alpha.env"),
        "comms sheet": os.path.join(fleet, "agents", "alpha.comms.md"),
        "roster": os.path.join(fleet, "roster.yaml"),
        "transcript": os.path.join(fleet, "log", "transcripts", "alpha.log"),
        "send log": os.path.join(fleet, "log", "send.log"),
    }


def test_the_stand_up_closes_home_mosaic_home_state_and_logs(tenants):
    a = tenants[0]
    assert mode(a.home) == 0o700
    for rel in ("", "fleet", "fleet/run", "fleet/log", "fleet/agents", "fleet/log/transcripts"):
        assert mode(os.path.join(a.mosaic_home, rel)) == 0o700, rel
    assert mode(a_files(a)["send log"]) == 0o600
    assert mode(a_files(a)["env file"]) == 0o600
    # --diff showed the permission changes.
    assert "%s (mode)" % a.home in a.first.stdout and "-0755\n+0700" in a.first.stdout, a.first.stdout
    again = a.play("--diff")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout + again.stderr


def test_another_tenant_cannot_read_the_files(tenants):
    a, b = tenants
    for what, path in a_files(a).items():
        own = a.run(["cat", "--", path])
        assert own.returncode == 0, (what, own.stderr)          # the owner can: the test can fail
        other = b.run(["cat", "--", path])
        assert other.returncode != 0 and other.stdout == "", (what, other.stdout)
        assert "Permission denied" in other.stderr, (what, other.stderr)
    listing = b.run(["ls", a.home])
    assert listing.returncode != 0 and "Permission denied" in listing.stderr, listing


def test_another_tenant_cannot_connect_to_the_tmux_server(tenants):
    a, b = tenants
    socket = os.path.join(a.tmux_dir, SOCKET)
    own = a.run(["tmux", "-S", socket, "list-sessions", "-F", "#{session_name}"])
    assert own.returncode == 0 and "alpha" in own.stdout.split(), own
    assert mode(a.tmux_dir) == 0o700                         # tmux's own per-uid directory
    for argv in (["list-sessions"], ["send-keys", "-t", "=alpha:", "echo hi", "Enter"]):
        other = b.run(["tmux", "-S", socket] + argv)
        assert other.returncode != 0, other
        assert "error connecting to %s (Permission denied)" % socket in other.stderr, other.stderr


def stub_texts(user):
    path = os.path.join(user.mosaic_home, "fleet", "run", "%s.stub.log" % user.agent)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def test_another_tenant_cannot_deliver_to_its_agents(tenants):
    a, b = tenants
    marker = "from-b-%s" % uuid.uuid4().hex
    attempts = [
        [os.path.join(b.home, SEND), "-s", "alpha", "-m", marker, "--json", "--timeout", "5"],
        [os.path.join(b.home, SEND), "-L", SOCKET, "-s", "alpha", "-m", marker, "--json", "--timeout", "5"],
        # A's MOSAIC_HOME cannot be read: the lock falls back to TMPDIR (B's own here, so no lock
        # file is left in the shared /tmp).
        ["env", "MOSAIC_HOME=%s" % a.mosaic_home, "TMPDIR=%s" % b.home, os.path.join(b.home, SEND), "-s", "alpha",
         "-m", marker, "--json", "--timeout", "5"],
    ]
    for argv in attempts:
        sent = b.run(argv)
        assert sent.returncode == 5, (argv, sent.returncode, sent.stdout, sent.stderr)
        report = json.loads(sent.stdout.strip().splitlines()[-1])
        assert report["outcome"] == "no_session", report
        # Clear: it names the session and the server that does not have it (B's own).
        assert "no session alpha" in report["reason"] and "of uid %d" % b.uid in report["reason"], report
    # A's own tool cannot even be run by B.
    theirs = b.run([os.path.join(a.home, SEND), "-s", "alpha", "-m", marker])
    assert theirs.returncode == 126 and "Permission denied" in theirs.stderr, theirs
    # A itself delivers (the positive control), and nothing of B's arrived.
    own = a.run([os.path.join(a.home, SEND), "-s", "alpha", "-m", "from-a", "--json"])
    assert own.returncode == 0, own.stdout + own.stderr
    wait_for(lambda: any(t.endswith("from-a") for t in stub_texts(a)), timeout=30, what="A's own message")
    assert not any(marker in t for t in stub_texts(a)), stub_texts(a)
