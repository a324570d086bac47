# -*- coding: utf-8 -*-
"""`ansible-playbook mosaic.fleet.reseed` end to end on real tmux: a fleet stood up with
`mosaic.fleet.fleet` (tmux supervisor, current user, temporary HOME and TMUX_TMPDIR), re-seeded
with a version B, then relaunched one agent at a time; a version whose agents never come back
stops the relaunch at the first one."""

from __future__ import annotations

import os
import re
import shutil

import pytest

import fleet_util

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMEWORK = os.path.join(REPO, "framework")
AGENTS = ("enhancer", "orchestrator", "worker")  # fleet_ps reports them sorted by name


class Fleet(fleet_util.Fleet):
    """A three-agent stub fleet, stood up and re-seeded by playbook name."""

    def __init__(self, tmp_path, socket):
        super(Fleet, self).__init__(tmp_path, socket)
        self.vars = self.variables(self.roster(
            {"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
            {"name": "enhancer", "class": "enhancer", "runtime": "stub"},
            {"name": "worker", "class": "worker", "runtime": "stub"}))

    def playbook(self, name, *extra, **variables):
        return self.run_playbook(name, dict(self.vars, **variables), extra, timeout=600)

    def sessions(self):
        """{agent: (session_created, pane_pid)}."""
        return dict((name, (int(created), int(pid)))
                    for name, created, pid in self.list_panes("#{session_name}\t#{session_created}\t#{pane_pid}")
                    if name in AGENTS)

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


def test_reseed_refreshes_a_changed_unit_and_its_drop_in_for_a_custom_home(fleet, tmp_path):
    """A unit changed by the new framework is refreshed with a drop-in derived from it, so the new
    directive runs from the custom MOSAIC_HOME too; nothing appears under ~/.config/mosaic."""
    home = tmp_path / "elsewhere" / "home"
    fleet.vars["mosaic_fleet_mosaic_home"] = str(home)
    _ok(fleet.playbook("fleet"))
    unit_dir = fleet.home / ".config" / "systemd" / "user"
    dropin = unit_dir / "mosaic-agent@.service.d" / "mosaic-home.conf"
    holder_dropin = (unit_dir / "mosaic-tmux-holder.service.d" / "mosaic-home.conf").read_text()
    assert "ExecStartPre" not in dropin.read_text()

    def edit_b(root):
        unit = root / "systemd" / "user" / "mosaic-agent@.service"
        unit.write_text(unit.read_text().replace(
            "ExecStart=", "ExecStartPre=/bin/test -d %h/.config/mosaic/fleet\nExecStart=", 1))
    b = _version(tmp_path, "B", edit_b)
    _ok(fleet.playbook("reseed", mosaic_fleet_framework_src=b, mosaic_fleet_framework_version="B"))
    assert (unit_dir / "mosaic-agent@.service").read_text() == \
        open(os.path.join(b, "systemd", "user", "mosaic-agent@.service")).read()
    assert "\nExecStartPre=\nExecStartPre=/bin/test -d %s/fleet\n" % home in dropin.read_text()
    assert (unit_dir / "mosaic-tmux-holder.service.d" / "mosaic-home.conf").read_text() == holder_dropin
    assert not fleet.mosaic_home.exists()
