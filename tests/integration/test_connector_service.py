"""The orchestrator's chat connector as a service, through the real stand-up playbook in tmux
mode and a real Synapse: the role starts the `mosaic-connector` session where the orchestrator
runs, a Matrix message reaches the stub orchestrator's pane, a re-run changes nothing, switching
the roster back to `connector: {kind: tmux}` stops it and the take-down removes it."""

import json
import os
import shutil
import signal
import subprocess

from framework_util import wait_for
from test_standup import Fleet, collections_path, stub  # noqa: F401 pylint: disable=unused-import

from ansible_collections.mosaic.fleet.plugins.module_utils import contract

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SESSION = contract.CONNECTOR_SESSION


def stub_texts(fleet):
    path = fleet.mosaic_home / "fleet" / "run" / "orchestrator.stub.log"
    if not path.exists():
        return []
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


def pane_pid(fleet):
    return int(dict(fleet.list_panes("#{session_name}\t#{pane_pid}"))[SESSION])


def children(pid):
    proc = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in proc.stdout.split()]


def sessions(fleet):
    return dict((name, dead) for name, dead in fleet.list_panes("#{session_name}\t#{pane_dead}"))


def test_stand_up_runs_the_connector_where_the_orchestrator_is_and_removes_it(
        tmp_path, socket_name, collections_path, synapse):  # noqa: F811 pylint: disable=redefined-outer-name
    human, bot = synapse.user("human"), synapse.user("bot")
    room = human.create_room(invite=[bot.user_id])
    bot.join(room)
    fleet = Fleet(tmp_path, socket_name, collections_path)
    try:
        roster = fleet.roster(stub("orchestrator", "orchestrator"), stub("worker"))
        roster["connector"] = {"kind": "matrix", "matrix": {
            "homeserver_url": synapse.url, "user_id": bot.user_id, "room_id": room,
            "allowed_senders": [human.user_id]}}
        variables = fleet.variables(roster, mosaic_fleet_secrets={"MOSAIC_MATRIX_TOKEN": bot.token})

        check = fleet.run_playbook("fleet", variables, ["--check"])
        assert check.returncode == 0, check.stdout + check.stderr
        assert fleet.list_panes("#{session_name}") == []      # check mode starts nothing

        first = fleet.run_playbook("fleet", variables)
        assert first.returncode == 0, first.stdout + first.stderr
        assert sessions(fleet).get(SESSION) == "0", sessions(fleet)
        human.send(room, "hello from matrix")
        wait_for(lambda: any("hello from matrix" in t for t in stub_texts(fleet)), timeout=60,
                 what="the Matrix message in the orchestrator's pane")
        text = [t for t in stub_texts(fleet) if "hello from matrix" in t][0]
        assert "[matrix message from %s in %s" % (human.user_id, room) in text

        second = fleet.run_playbook("fleet", variables)
        assert fleet.recap(second)["changed"] == 0, second.stdout
        # fleet_ps counts the connector's session neither as an agent nor as ad hoc.
        ps = subprocess.run(
            [os.path.join(REPO, ".venv", "bin", "ansible"),
             "localhost", "-i", str(fleet.inventory), "-m", "mosaic.fleet.fleet_ps",
             "-a", "supervisor=tmux mosaic_home=%s" % fleet.mosaic_home], capture_output=True, text=True, env=fleet.env, timeout=120, check=False)
        assert "SUCCESS" in ps.stdout, ps.stdout + ps.stderr
        result = json.loads(ps.stdout[ps.stdout.index("=> {") + 3:])
        assert [s["session"] for s in result["adhoc_sessions"]] == [], result["adhoc_sessions"]
        assert result["connector"]["state"] == "healthy", result["connector"]

        # Supervised in tmux mode: the session's loop runs `connector run` again after it dies.
        loop = pane_pid(fleet)
        # fleet_supervisor without `connector` (as fleet_relaunch calls it) leaves the connector be.
        relaunch = subprocess.run(
            [os.path.join(REPO, ".venv", "bin", "ansible"), "localhost", "-i", str(fleet.inventory),
             "-m", "mosaic.fleet.fleet_supervisor", "-a", "mode=tmux mosaic_home=%s agents=orchestrator "
             "restart=orchestrator" % fleet.mosaic_home], capture_output=True, text=True, env=fleet.env,
            timeout=120, check=False)
        assert "CHANGED" in relaunch.stdout, relaunch.stdout + relaunch.stderr
        assert '"connector": null' in relaunch.stdout and pane_pid(fleet) == loop, relaunch.stdout
        first_run = children(loop)
        assert len(first_run) == 1, first_run
        os.kill(first_run[0], signal.SIGKILL)
        wait_for(lambda: children(loop) not in ([], first_run), timeout=20, what="the connector run again")
        # A new connector.json restarts it (a new session); the roster's other agents stay.
        roster["connector"]["matrix"]["allowed_senders"] = [human.user_id, bot.user_id]
        changed = fleet.run_playbook("fleet", variables)
        assert changed.returncode == 0, changed.stdout + changed.stderr
        assert pane_pid(fleet) != loop and sessions(fleet).get(SESSION) == "0"

        back = dict(roster, connector={"kind": "tmux"})
        tmux = fleet.run_playbook("fleet", fleet.variables(back, mosaic_fleet_secrets={"MOSAIC_MATRIX_TOKEN": bot.token}))
        assert tmux.returncode == 0, tmux.stdout + tmux.stderr
        assert SESSION not in sessions(fleet) and "orchestrator" in sessions(fleet)
        assert not (fleet.mosaic_home / "fleet" / "connector.json").exists()

        again = fleet.run_playbook("fleet", variables)
        assert again.returncode == 0, again.stdout + again.stderr
        assert sessions(fleet).get(SESSION) == "0"
        down = fleet.run_playbook("fleet", dict(variables, mosaic_fleet_state="absent"))
        assert down.returncode == 0, down.stdout + down.stderr
        assert SESSION not in sessions(fleet)
    finally:
        fleet.kill_server()


def test_reseed_restarts_the_connector_when_the_framework_changes(
        tmp_path, socket_name, collections_path, synapse):  # noqa: F811 pylint: disable=redefined-outer-name
    """reseed.yml: the same framework leaves the connector's session alone; a new one (the
    connector's code) starts it anew, and a Matrix message still reaches the orchestrator."""
    human, bot = synapse.user("human"), synapse.user("bot")
    room = human.create_room(invite=[bot.user_id])
    bot.join(room)
    fleet = Fleet(tmp_path, socket_name, collections_path)
    try:
        roster = fleet.roster(stub("orchestrator", "orchestrator"))
        roster["connector"] = {"kind": "matrix", "matrix": {
            "homeserver_url": synapse.url, "user_id": bot.user_id, "room_id": room,
            "allowed_senders": [human.user_id]}}
        variables = fleet.variables(roster, mosaic_fleet_secrets={"MOSAIC_MATRIX_TOKEN": bot.token})
        up = fleet.run_playbook("fleet", variables)
        assert up.returncode == 0, up.stdout + up.stderr
        loop = pane_pid(fleet)

        same = fleet.run_playbook("reseed", variables)
        assert same.returncode == 0, same.stdout + same.stderr
        assert pane_pid(fleet) == loop and fleet.recap(same)["changed"] == 0, same.stdout

        framework = tmp_path / "framework-b"
        shutil.copytree(os.path.join(REPO, "framework"), str(framework), ignore=shutil.ignore_patterns("__pycache__"))
        (framework / "AGENTS.md").write_text((framework / "AGENTS.md").read_text() + "\nversion B\n")
        check = fleet.run_playbook("reseed", dict(variables, mosaic_fleet_framework_src=str(framework)), ["--check"])
        assert check.returncode == 0, check.stdout + check.stderr
        assert pane_pid(fleet) == loop  # check mode restarts nothing
        new = fleet.run_playbook("reseed", dict(variables, mosaic_fleet_framework_src=str(framework)))
        assert new.returncode == 0, new.stdout + new.stderr
        assert "Restart the orchestrator's chat connector on the new framework" in new.stdout
        assert pane_pid(fleet) != loop and sessions(fleet).get(SESSION) == "0"
        human.send(room, "after the re-seed")
        wait_for(lambda: any("after the re-seed" in t for t in stub_texts(fleet)), timeout=60,
                 what="a Matrix message after the re-seed")
    finally:
        fleet.kill_server()
