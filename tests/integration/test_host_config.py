"""fleet_host_config run for real with `ansible localhost -m mosaic.fleet.fleet_host_config`."""

import json
import os
import re
import stat
import subprocess

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig

from ansible_util import ansible_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "s3cr3t value $HOME"


def agent(name, host="localhost", cls="worker", socket="fleet-sock"):
    return {"name": name, "runtime": "stub", "class": cls, "persistent_persona": False, "resume": False,
            "model_hint": "",
            "host": host, "ssh": "", "socket": socket, "working_directory": "~", "command": ""}


def roster(*agents):
    return {"version": 1, "tenant": "t1", "profile": "canary", "transport": "tmux",
            "tmux": {"socket_name": "fleet-sock", "holder_session": "mosaic-holder"},
            "defaults": {"working_directory": "~"}, "connector": {"kind": "tmux"}, "agents": list(agents)}


def run_module(tmp_path, args, *flags):
    env = ansible_env(os.environ, tmp_path / "ansible-tmp", HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [os.path.join(REPO, ".venv", "bin", "ansible"), "localhost", "-m", "mosaic.fleet.fleet_host_config",
         "-a", json.dumps(args)] + list(flags),
        capture_output=True, text=True, env=env, check=False)
    match = re.search(r"^localhost \| (\w+)[^{]*=> (\{.*\})\s*$", proc.stdout, re.S | re.M)
    assert match, proc.stdout + proc.stderr
    result = json.loads(match.group(2))
    result["_status"] = match.group(1)
    return result, proc.stdout


@pytest.fixture
def home(tmp_path):
    (tmp_path / "home").mkdir()
    return tmp_path / "mosaic"


def args_for(mosaic_home, fleet, **extra):
    args = {"roster": fleet, "host": "localhost", "mosaic_home": str(mosaic_home)}
    args.update(extra)
    return args


def tree(mosaic_home):
    found = {}
    for root, _dirs, files in os.walk(mosaic_home):
        for name in files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, mosaic_home)] = stat.S_IMODE(os.stat(path).st_mode)
    return found


FLEET = roster(agent("orchestrator", cls="orchestrator"), agent("worker"), agent("far", host="web2"))


def test_writes_the_plan_with_modes_and_is_idempotent(tmp_path, home):
    result, dummy = run_module(tmp_path, args_for(home, FLEET, secrets={"API_KEY": SECRET}))
    assert result["changed"] is True
    assert result["agents"] == ["orchestrator", "worker"]
    assert result["changed_agents"] == ["orchestrator", "worker"]
    assert result["removed_agents"] == []
    assert tree(home) == {
        "fleet/roster.yaml": 0o644, "fleet/holder.env": 0o644,
        "fleet/agents/orchestrator.env": 0o600, "fleet/agents/orchestrator.comms.md": 0o644,
        "fleet/agents/worker.env": 0o600, "fleet/agents/worker.comms.md": 0o644,
        "credentials/fleet.env": 0o600,
    }
    assert stat.S_IMODE(os.stat(home / "fleet" / "agents").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(home / "credentials").st_mode) == 0o700
    plan = hostconfig.plan_files(FLEET, "localhost", str(home))
    for rel, content in plan.items():
        assert (home / rel).read_text(encoding="utf-8") == content
    assert hostconfig.load_rendered_roster((home / "fleet/roster.yaml").read_text()) == FLEET
    assert (home / "credentials/fleet.env").read_text() == 'API_KEY="s3cr3t value \\$HOME"\n'

    again, dummy = run_module(tmp_path, args_for(home, FLEET, secrets={"API_KEY": SECRET}))
    assert again["changed"] is False
    assert again["changed_agents"] == [] and again["files_changed"] == []


def test_changed_agent_and_prune(tmp_path, home):
    run_module(tmp_path, args_for(home, FLEET))
    (home / "fleet" / "agents" / "notes.txt").write_text("mine\n")
    changed = roster(agent("orchestrator", cls="orchestrator"), dict(agent("newbie"), model_hint="m1"))
    result, dummy = run_module(tmp_path, args_for(home, changed))
    assert result["changed_agents"] == ["newbie"]
    assert result["removed_agents"] == ["worker"]
    # A peer joining/leaving updates the sheet without counting as a config change.
    assert "orchestrator" in result["comms_updated"]
    assert not (home / "fleet/agents/worker.env").exists()
    assert not (home / "fleet/agents/worker.comms.md").exists()
    assert (home / "fleet/agents/notes.txt").read_text() == "mine\n"   # not ours: left alone
    assert "fleet/agents/worker.env" in result["files_changed"]


def test_prune_false_keeps_files(tmp_path, home):
    run_module(tmp_path, args_for(home, FLEET))
    result, dummy = run_module(tmp_path, args_for(home, roster(agent("orchestrator", cls="orchestrator")), prune=False))
    assert result["removed_agents"] == []
    assert (home / "fleet/agents/worker.env").exists()


def test_check_mode_writes_nothing(tmp_path, home):
    result, dummy = run_module(tmp_path, args_for(home, FLEET, secrets={"K": "a-long-secret-value"}), "--check")
    assert result["changed"] is True
    assert "fleet/agents/worker.env" in result["files_changed"]
    assert not home.exists()
    run_module(tmp_path, args_for(home, FLEET))
    before = {rel: (home / rel).read_bytes() for rel in tree(home)}
    result, dummy = run_module(tmp_path, args_for(home, roster(agent("orchestrator", cls="orchestrator"))), "--check")
    assert result["removed_agents"] == ["worker"]
    assert {rel: (home / rel).read_bytes() for rel in tree(home)} == before


def test_diff_mode_never_shows_secrets(tmp_path, home):
    result, stdout = run_module(tmp_path, args_for(home, FLEET, secrets={"API_KEY": SECRET}), "--diff")
    assert SECRET not in stdout and "s3cr3t" not in stdout
    assert "<redacted" in stdout
    assert "MOSAIC_AGENT_NAME=worker" in stdout            # ordinary files are shown
    result, stdout = run_module(tmp_path, args_for(home, FLEET, secrets={"API_KEY": "other s3cr3t"}), "--diff")
    assert result["files_changed"] == ["credentials/fleet.env"]
    assert "s3cr3t" not in stdout


def test_mode_drift_is_repaired(tmp_path, home):
    run_module(tmp_path, args_for(home, FLEET))
    os.chmod(home / "fleet/agents/worker.env", 0o644)
    result, dummy = run_module(tmp_path, args_for(home, FLEET))
    assert result["files_changed"] == ["fleet/agents/worker.env"]
    assert stat.S_IMODE(os.stat(home / "fleet/agents/worker.env").st_mode) == 0o600


def test_absent_removes_rendered_files_but_not_credentials(tmp_path, home):
    run_module(tmp_path, args_for(home, FLEET, secrets={"K": "a-long-secret-value"}))
    result, dummy = run_module(tmp_path, {"mosaic_home": str(home), "state": "absent"})
    assert result["removed_agents"] == ["orchestrator", "worker"]
    assert tree(home) == {"credentials/fleet.env": 0o600}


def test_bad_roster_fails_clearly_and_writes_nothing(tmp_path, home):
    result, dummy = run_module(tmp_path, args_for(home, {"agents": [{"name": "x"}]}))
    assert result["_status"] == "FAILED"
    assert "normalized roster" in result["msg"]
    assert not home.exists()


def test_holder_changed_says_when_the_holder_must_restart(tmp_path, home):
    """The role restarts the holder on this flag (never by looking for a path in files_changed)."""
    first, dummy = run_module(tmp_path, args_for(home, FLEET))
    assert first["holder_changed"] is True
    agent_only = roster(agent("orchestrator", cls="orchestrator"), dict(agent("worker"), model_hint="m1"))
    result, dummy = run_module(tmp_path, args_for(home, agent_only))
    assert result["changed"] is True and result["holder_changed"] is False
    moved = dict(agent_only, tmux={"socket_name": "other-sock", "holder_session": "mosaic-holder"})
    result, dummy = run_module(tmp_path, args_for(home, moved), "--check")
    assert result["holder_changed"] is True
    result, dummy = run_module(tmp_path, {"mosaic_home": str(home), "state": "absent"})
    assert result["holder_changed"] is True and not (home / "fleet" / "holder.env").exists()


def test_the_connector_file_on_the_orchestrators_host_and_its_removal_for_tmux(tmp_path, home):
    matrix = {"homeserver_url": "https://matrix.example.org", "user_id": "@fleet:example.org",
              "room_id": "!ops", "allowed_senders": ["@alice:example.org"]}
    fleet = dict(FLEET, connector={"kind": "matrix", "matrix": matrix})
    result, dummy = run_module(tmp_path, args_for(home, fleet, secrets={"MOSAIC_MATRIX_TOKEN": "syt_secret"}))
    assert "fleet/connector.json" in result["files_changed"]
    config = json.loads((home / "fleet/connector.json").read_text())
    assert config == {"kind": "matrix", "orchestrator": "orchestrator", "matrix": matrix}
    assert "syt_secret" not in (home / "fleet/connector.json").read_text()
    assert "connector reply" in (home / "fleet/agents/orchestrator.comms.md").read_text()
    result, dummy = run_module(tmp_path, args_for(home, FLEET))  # back to kind tmux
    assert "fleet/connector.json" in result["files_changed"]
    assert not (home / "fleet/connector.json").exists()
    assert "connector reply" not in (home / "fleet/agents/orchestrator.comms.md").read_text()
    run_module(tmp_path, args_for(home, fleet))
    run_module(tmp_path, {"state": "absent", "mosaic_home": str(home)})
    assert not (home / "fleet/connector.json").exists()


def test_private_closes_the_home_but_never_a_shared_one(tmp_path, home):
    result, dummy = run_module(tmp_path, args_for(home, FLEET))
    assert stat.S_IMODE(os.stat(tmp_path / "home").st_mode) == 0o700   # the fleet user's home, closed
    assert str(tmp_path / "home") in result["closed"]
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)                                           # like /tmp: root's HOME=/tmp
    env = ansible_env(os.environ, tmp_path / "ansible-tmp", HOME=str(shared))
    proc = subprocess.run(
        [os.path.join(REPO, ".venv", "bin", "ansible"), "localhost", "-m", "mosaic.fleet.fleet_host_config",
         "-a", json.dumps(args_for(shared / "mosaic", FLEET))],
        capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777, "a shared home was closed"
    assert stat.S_IMODE(os.stat(shared / "mosaic").st_mode) == 0o700
