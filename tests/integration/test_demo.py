"""`make demo` / `make demo-down` (scripts/demo.sh) for real: as a normal user and as root.

As a normal user the demo must run the canary fleet as that user on its own tmux socket, create
nothing outside the user's home and tmux socket directory, and `make demo-down` must remove
exactly what `make demo` created. As root it creates a demo user and deletes it again. Each test
compares what exists before `make demo` with what is left after `make demo-down`: the files of
the home, the tmux socket directory, the user's files in the shared temporary directories and
the user's processes.

Needs root (the tests create throwaway users). The normal user gets a copy of this working tree
and a venv of its own with what the demo runs (ansible-core, jsonschema, PyYAML at this venv's
versions, installed from a local wheel directory); building the full development venv from
scratch is `make venv`'s job and too slow to repeat here.
"""

import fcntl
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import uuid
from importlib import metadata

import pytest

from framework_util import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
DEMO_SOCKET = "mosaic-demo"
AGENTS = {"mosaic-holder", "orchestrator", "enhancer", "worker"}
# Where a user's stray files would land outside its home.
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/var/lib/systemd/linger")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("useradd", "userdel", "runuser", "make")),
    reason="needs root, useradd, userdel, runuser and make (the demo tests create throwaway users)")


def run(argv, timeout=300, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


class User(object):
    """A throwaway Linux user with a login-like, minimal environment."""

    def __init__(self, name):
        self.name = name
        proc = run(["useradd", "-m", "-s", "/bin/bash", name])
        assert proc.returncode == 0, proc.stderr
        entry = pwd.getpwnam(name)
        self.uid, self.gid, self.home = entry.pw_uid, entry.pw_gid, entry.pw_dir
        self.tmux_dir = "/tmp/tmux-%d" % self.uid

    def run(self, argv, cwd=None, timeout=300):
        env = ["HOME=" + self.home, "USER=" + self.name, "LOGNAME=" + self.name, "PATH=" + SYSTEM_PATH,
               "LANG=C.UTF-8", "TERM=xterm", "SHELL=/bin/bash"]
        return run(["runuser", "-u", self.name, "--", "env", "-i"] + env + list(argv), cwd=cwd or self.home,
                   timeout=timeout)

    def processes(self):
        return processes(self.uid)

    def remove(self):
        """Stop what the user still runs (by pid: every process of this throwaway uid is ours)."""
        for socket in (DEMO_SOCKET, None):
            self.run(["tmux"] + (["-L", socket] if socket else []) + ["kill-server"], timeout=30)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        run(["userdel", "-r", self.name])
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.tmux_dir, ignore_errors=True)


def processes(uid):
    """pid -> command line of the live (not zombie) processes of ``uid``."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/status" % pid) as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if int(status["Uid"].split()[0]) == uid and not status["State"].strip().startswith("Z"):
            found[int(pid)] = cmdline
    return found


def owned_outside_home(uid):
    """Paths owned by ``uid`` in the shared directories where a program leaves files."""
    found = []
    for top in SHARED_DIRS:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(root, name)
                try:
                    if os.lstat(path).st_uid == uid:
                        found.append(path)
                except OSError:
                    pass
    return sorted(found)


def tree(path):
    """relative path -> kind, and for files and links what they hold; None when ``path`` is missing."""
    if not os.path.lexists(path):
        return None
    entries = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, path)
            info = os.lstat(full)
            if os.path.islink(full):
                entries[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                entries[rel] = ("dir", oct(info.st_mode))
            elif os.path.isfile(full):
                with open(full, "rb") as handle:
                    entries[rel] = ("file", oct(info.st_mode), hashlib.sha256(handle.read()).hexdigest())
            else:
                entries[rel] = ("other", oct(info.st_mode))
    return entries


def snapshot(user):
    return {"home": tree(user.home), "tmux_dir": tree(user.tmux_dir), "outside": owned_outside_home(user.uid),
            "processes": sorted(user.processes().values())}


def settled(user, before):
    """After demo-down: wait for the killed tmux server's children to be gone, then snapshot."""
    wait_for(lambda: sorted(user.processes().values()) == before["processes"], timeout=15,
             what="the demo's processes to exit")
    return snapshot(user)


def diff(before, after):
    """What changed between two snapshots, readable in an assertion message."""
    lines = []
    for key in before:
        old, new = before[key], after[key]
        if isinstance(old, dict) and isinstance(new, dict):
            for rel in sorted(set(old) | set(new)):
                if old.get(rel) != new.get(rel):
                    lines.append("%s: %s: %s -> %s" % (key, rel, old.get(rel), new.get(rel)))
        elif old != new:
            lines.append("%s: %s -> %s" % (key, old, new))
    return "\n".join(lines)


# --- a normal user ------------------------------------------------------------------------------

def demo_wheels(python):
    """A wheel directory with what the demo runs, at this venv's versions, for ``python``."""
    version = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
    wheels = os.path.join(REPO, ".cache", "demo-test", "wheels-py" + version)
    os.makedirs(wheels, exist_ok=True)
    pins = ["%s==%s" % (name, metadata.version(name)) for name in ("ansible-core", "jsonschema", "PyYAML")]
    with open(os.path.join(os.path.dirname(wheels), ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = os.path.join(wheels, ".complete")
        done = ""
        if os.path.exists(stamp):
            with open(stamp) as handle:
                done = handle.read()
        if done != " ".join(pins):
            proc = run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                        "--python-version", version, "--dest", wheels] + pins, timeout=900)
            assert proc.returncode == 0, proc.stderr
            with open(stamp, "w") as handle:
                handle.write(" ".join(pins))
    for path in (os.path.dirname(wheels), wheels):
        os.chmod(path, 0o755)
    return wheels, pins


def copy_worktree(dest, uid, gid):
    """This working tree as git sees it (tracked and untracked, not ignored), owned by the user."""
    listing = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    assert listing.returncode == 0, listing.stderr
    for rel in sorted(set(filter(None, listing.stdout.split("\0")))):
        source = os.path.join(REPO, rel)
        if not os.path.lexists(source):  # deleted in the working tree
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    for root, dirs, files in os.walk(dest):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, uid, gid)


@pytest.fixture(scope="module")
def demo_user():
    """A user with a copy of the repo (in ~/mosaic.fleet) and a venv of its own in it."""
    user = User("mdt" + uuid.uuid4().hex[:8])
    try:
        python = shutil.which("python3", path=SYSTEM_PATH)
        wheels, pins = demo_wheels(python)
        user.repo = os.path.join(user.home, "mosaic.fleet")
        copy_worktree(user.repo, user.uid, user.gid)
        venv = os.path.join(user.repo, ".venv")
        for argv in ([python, "-m", "venv", venv],
                     [os.path.join(venv, "bin", "pip"), "install", "--quiet", "--no-index", "--find-links",
                      wheels] + pins,
                     # what `make venv` leaves when it is done: the demo target finds the venv built
                     ["touch", os.path.join(venv, "bin", ".installed")],
                     ["make", "-C", user.repo, "dev-link"]):
            proc = user.run(argv, timeout=600)
            assert proc.returncode == 0, "%s: %s%s" % (argv, proc.stdout, proc.stderr)
        yield user
    finally:
        user.remove()


def demo_cycle(user):
    """make demo, check it ran as the user on its own socket, make demo-down; return (before, after)."""
    before = snapshot(user)
    proc = user.run(["make", "-C", user.repo, "demo"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "changed=0: the host already matches the roster" in proc.stdout
    assert "hello from make demo" in proc.stdout and '"outcome": "delivered"' in proc.stdout
    # Nothing went to apt (the role's package step is off) and everything is the user's.
    assert "Install the missing ones" not in open(os.path.join(user.home, ".mosaic-demo", "first-run.log")).read()

    sessions = user.run(["tmux", "-L", DEMO_SOCKET, "list-sessions", "-F", "#{session_name}"])
    assert set(sessions.stdout.split()) == AGENTS, sessions.stdout + sessions.stderr
    commands = user.run(["tmux", "-L", DEMO_SOCKET, "list-panes", "-a", "-F", "#{pane_current_command}"])
    assert sorted(commands.stdout.split()) == ["python3", "python3", "python3", "sleep"]
    mosaic_home = os.path.join(user.home, ".mosaic-demo", ".config", "mosaic")
    with open(os.path.join(mosaic_home, "fleet", "run", "worker.stub.log")) as handle:
        assert "hello from make demo" in handle.read()
    # Outside the home: the socket only (and its directory).
    outside = owned_outside_home(user.uid)
    assert set(outside) - set(before["outside"]) <= {user.tmux_dir, os.path.join(user.tmux_dir, DEMO_SOCKET)}
    assert os.path.join(user.tmux_dir, DEMO_SOCKET) in outside

    proc = user.run(["make", "-C", user.repo, "demo-down"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no tmux server on socket %s" % DEMO_SOCKET in proc.stdout
    return before, settled(user, before)


def test_demo_as_a_normal_user_leaves_nothing_behind(demo_user):
    assert not os.path.exists(demo_user.tmux_dir)
    before, after = demo_cycle(demo_user)
    assert after == before, diff(before, after)
    assert after["tmux_dir"] is None  # the demo created the tmux socket directory, so it went too


def test_demo_as_a_normal_user_leaves_the_users_own_fleet_and_tmux_alone(demo_user):
    """A user with a fleet and a tmux server of their own: the demo touches neither."""
    own = {".config/mosaic/fleet/roster.yaml": "# my real fleet\n",
           ".config/systemd/user/mosaic-agent@.service": "# my real unit\n",
           ".ansible/tmp/keep": "mine\n"}
    for rel, text in own.items():
        path = os.path.join(demo_user.home, rel)
        proc = demo_user.run(["mkdir", "-p", os.path.dirname(path)])
        assert proc.returncode == 0, proc.stderr
        proc = demo_user.run(["sh", "-c", 'printf "%s" "$1" > "$2"', "sh", text, path])
        assert proc.returncode == 0, proc.stderr
    # The user's own tmux server, on the default socket and on the preset's socket.
    for socket in ([], ["-L", "mosaic-fleet"]):
        proc = demo_user.run(["tmux"] + socket + ["new-session", "-d", "-s", "mine", "sleep", "600"])
        assert proc.returncode == 0, proc.stderr

    before, after = demo_cycle(demo_user)
    assert after == before, diff(before, after)
    for socket in ([], ["-L", "mosaic-fleet"]):
        sessions = demo_user.run(["tmux"] + socket + ["list-sessions", "-F", "#{session_name}"])
        assert sessions.stdout.split() == ["mine"], sessions.stderr
    for rel, text in own.items():
        with open(os.path.join(demo_user.home, rel)) as handle:
            assert handle.read() == text


def test_demo_down_without_a_demo_is_a_no_op(demo_user):
    before = snapshot(demo_user)
    proc = demo_user.run(["make", "-C", demo_user.repo, "demo-down"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing to take down" in proc.stdout
    assert snapshot(demo_user) == before


def test_demo_as_a_normal_user_refuses_another_demo_user(demo_user):
    proc = demo_user.run(["env", "MOSAIC_DEMO_USER=someone-else", os.path.join(demo_user.repo, "scripts",
                                                                               "demo.sh"), "up"])
    assert proc.returncode == 1
    assert "needs root" in proc.stderr
    assert not os.path.exists(os.path.join(demo_user.home, ".mosaic-demo"))


# --- root ---------------------------------------------------------------------------------------

def test_demo_as_root_creates_and_deletes_its_user():
    name = "mdr" + uuid.uuid4().hex[:8]
    state_dir = os.path.join(REPO, ".cache", "demo")
    homes = sorted(os.listdir("/home"))
    tmux_dirs = sorted(n for n in os.listdir("/tmp") if n.startswith("tmux-"))
    env = dict(os.environ, MOSAIC_DEMO_USER=name)
    env.pop("TMUX", None)
    demo = os.path.join(REPO, "scripts", "demo.sh")
    uid = None
    try:
        proc = run([demo, "up"], env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "changed=0: the host already matches the roster" in proc.stdout
        entry = pwd.getpwnam(name)
        uid = entry.pw_uid
        sessions = run(["runuser", "-u", name, "--", "env", "HOME=" + entry.pw_dir, "tmux", "-L", "mosaic-fleet",
                        "list-sessions", "-F", "#{session_name}"])
        assert set(sessions.stdout.split()) == AGENTS, sessions.stderr
    finally:
        proc = run([demo, "down"], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "removed %s" % name in proc.stdout
    with pytest.raises(KeyError):
        pwd.getpwnam(name)
    assert run(["getent", "group", name]).returncode == 2
    assert sorted(os.listdir("/home")) == homes
    assert sorted(n for n in os.listdir("/tmp") if n.startswith("tmux-")) == tmux_dirs
    assert uid is not None
    wait_for(lambda: not processes(uid), timeout=15, what="the demo user's processes to exit")
    assert owned_outside_home(uid) == []
    assert not os.path.exists(state_dir)
