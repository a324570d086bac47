# -*- coding: utf-8 -*-
"""`ansible-playbook mosaic.fleet.reseed` end to end on real tmux: a fleet stood up with
`mosaic.fleet.fleet` (tmux supervisor, current user, temporary HOME and TMUX_TMPDIR), re-seeded
with a version B, then relaunched one agent at a time; a version whose agents never come back
stops the relaunch at the first one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMEWORK = os.path.join(REPO, "framework")
AGENTS = ("enhancer", "orchestrator", "worker")  # fleet_ps reports them sorted by name


def _whoami():
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


class Fleet(object):
    def __init__(self, tmp_path, socket):
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.tmux_tmpdir = tmp_path / "tmux"
        self.tmux_tmpdir.mkdir()
        self.socket = socket
        self.mosaic_home = self.home / ".config" / "mosaic"
        self.inventory = tmp_path / "inventory.yml"
        self.inventory.write_text(
            "fleet:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
            "      ansible_python_interpreter: %s\n" % os.path.join(REPO, ".venv", "bin", "python"))
        self.env = dict(os.environ, HOME=str(self.home), TMUX_TMPDIR=str(self.tmux_tmpdir),
                        ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".cache", "collections"),
                        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                        ANSIBLE_DEPRECATION_WARNINGS="False", MOSAIC_HEARTBEAT_INTERVAL="1")
        self.env.pop("TMUX", None)
        self.vars = {
            "mosaic_fleet_roster": {
                "version": 1, "profile": "canary", "tmux": {"socket_name": socket},
                "agents": [{"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
                           {"name": "enhancer", "class": "enhancer", "runtime": "stub"},
                           {"name": "worker", "class": "worker", "runtime": "stub"}]},
            "mosaic_fleet_user": os.environ.get("USER") or _whoami(),
            "mosaic_fleet_install_packages": False,
            "mosaic_fleet_supervisor": "tmux",
        }

    def playbook(self, name, *extra, **variables):
        varfile = self.tmp / "vars.json"
        varfile.write_text(json.dumps(dict(self.vars, **variables)))
        return subprocess.run(
            [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(self.inventory),
             "mosaic.fleet.%s" % name, "-e", "@%s" % varfile] + list(extra),
            capture_output=True, text=True, env=self.env, cwd=str(self.tmp), timeout=600, check=False)

    def sessions(self):
        """{agent: (session_created, pane_pid)}."""
        proc = subprocess.run(["tmux", "-L", self.socket, "list-panes", "-a", "-F",
                               "#{session_name}\t#{session_created}\t#{pane_pid}"],
                              capture_output=True, text=True, env=self.env, check=False)
        found = {}
        for line in proc.stdout.splitlines():
            name, created, pid = line.split("\t")
            if name in AGENTS:
                found[name] = (int(created), int(pid))
        return found

    def snapshot(self):
        snap = {}
        for dirpath, _dirs, files in os.walk(str(self.mosaic_home)):
            if "/fleet/run" in dirpath or "/fleet/log" in dirpath:
                continue  # the running agents write there
            for name in files:
                full = os.path.join(dirpath, name)
                with open(full, "rb") as f:
                    snap[full] = f.read()
        return snap

    def kill_server(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, env=self.env, check=False)


@pytest.fixture
def fleet(tmp_path, socket_name):
    f = Fleet(tmp_path, socket_name)
    yield f
    f.kill_server()


def _version(tmp_path, name, edit):
    root = tmp_path / name
    shutil.copytree(FRAMEWORK, str(root), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    edit(root)
    return str(root)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


def test_reseed_then_rolling_relaunch(fleet, tmp_path):
    _ok(fleet.playbook("fleet"))
    before = fleet.sessions()
    assert sorted(before) == list(AGENTS)

    def edit_b(root):
        (root / "AGENTS.md").write_text((root / "AGENTS.md").read_text() + "\nversion B\n")
        (root / "MARKER-B.md").write_text("B\n")
    b = _version(tmp_path, "B", edit_b)
    src_b = {"mosaic_fleet_framework_src": b, "mosaic_fleet_framework_version": "B"}

    # --check --diff: the plan and the diff, nothing written, nobody restarted.
    files = fleet.snapshot()
    out = _ok(fleet.playbook("reseed", "--check", "--diff", **src_b))
    assert "+version B" in out and "(check mode: nothing written)" in out
    assert fleet.snapshot() == files and fleet.sessions() == before

    # Without relaunch: re-seeded, agents untouched, and told how to relaunch them.
    out = _ok(fleet.playbook("reseed", **src_b))
    assert "-> B" in out and "MARKER-B.md" in out
    assert (fleet.mosaic_home / "MARKER-B.md").read_text() == "B\n"
    assert "3 agent(s) still run the previous framework: enhancer, orchestrator, worker" in out
    assert "mosaic_fleet_relaunch=true" in out and "stop-agent-session.sh NAME" in out
    assert fleet.sessions() == before

    # With relaunch: nothing left to re-seed, every agent restarted, one at a time, in order.
    out = _ok(fleet.playbook("reseed", mosaic_fleet_relaunch=True, **src_b))
    assert "B already installed, nothing to do" in out
    after = fleet.sessions()
    assert sorted(after) == list(AGENTS)
    for name in AGENTS:
        assert after[name][1] != before[name][1], name  # a new process
        assert after[name][0] >= before[name][0], name
    steps = re.findall(r"TASK \[mosaic\.fleet\.fleet_relaunch : (Restart agent|Wait for a fresh heartbeat "
                       r"in the new session of agent) (\w+)\]", out)
    assert steps == [(step, name) for name in AGENTS
                     for step in ("Restart agent", "Wait for a fresh heartbeat in the new session of agent")]
    for i in (1, 2, 3):
        assert "relaunched and healthy (%d/3)" % i in out
    created = [after[name][0] for name in AGENTS]
    assert created == sorted(created)

    # Again: nothing to re-seed, nothing on the previous framework, nobody restarted.
    out = _ok(fleet.playbook("reseed", mosaic_fleet_relaunch=True, **src_b))
    assert "TASK [mosaic.fleet.fleet_relaunch" not in out and "agent(s) still run" not in out
    assert fleet.sessions() == after

    # A version whose agents never heartbeat: the relaunch stops at the first one, clearly.
    def edit_c(root):
        (root / "tools" / "fleet" / "stub-agent").write_text("import time\ntime.sleep(3600)\n")
    c = _version(tmp_path, "C", edit_c)
    proc = fleet.playbook("reseed", mosaic_fleet_relaunch=True, mosaic_fleet_relaunch_timeout=4,
                          mosaic_fleet_framework_src=c, mosaic_fleet_framework_version="C")
    assert proc.returncode != 0
    assert "agent enhancer on localhost did not come back healthy within 4s" in proc.stdout, proc.stdout[-4000:]
    assert "Not relaunched: orchestrator, worker" in proc.stdout
    stopped = fleet.sessions()
    assert stopped["orchestrator"] == after["orchestrator"] and stopped["worker"] == after["worker"]


def test_reseed_on_a_host_without_a_fleet(fleet, tmp_path):
    """The framework alone (no roster rendered, no agents): re-seeded, nothing to relaunch."""
    def edit(root):
        (root / "MARKER.md").write_text("marker\n")
    src = _version(tmp_path, "A", edit)
    out = _ok(fleet.playbook("reseed", mosaic_fleet_relaunch=True, mosaic_fleet_framework_src=src,
                             mosaic_fleet_framework_version="A"))
    assert "none -> A" in out
    assert (fleet.mosaic_home / "MARKER.md").read_text() == "marker\n"
    assert "TASK [mosaic.fleet.fleet_relaunch" not in out and "agent(s) still run" not in out
    out = _ok(fleet.playbook("reseed", mosaic_fleet_framework_src=src, mosaic_fleet_framework_version="A"))
    assert "A already installed, nothing to do" in out
