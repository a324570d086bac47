"""The orchestrator's chat connector in the supervision plan: enabled/started only where it runs,
restarted when its configuration changed, stopped (and disabled) otherwise and on take-down."""

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import contract, supervisor

HOLDER = contract.HOLDER_UNIT
CONNECTOR = contract.CONNECTOR_UNIT
SESSION = contract.CONNECTOR_SESSION
UP = {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled", "NeedDaemonReload": "no"}
DOWN = {"LoadState": "loaded", "ActiveState": "inactive", "UnitFileState": "disabled", "NeedDaemonReload": "no"}
ORCH = "mosaic-agent@orch.service"


def states(connector):
    return {HOLDER: dict(UP), ORCH: dict(UP), CONNECTOR: dict(connector)}


def test_connector_names_are_the_contracts():
    assert CONNECTOR == "mosaic-connector.service" and CONNECTOR in contract.FLEET_UNITS
    assert SESSION != contract.DEFAULT_HOLDER_SESSION


def test_systemd_connector_wanted_and_down_is_enabled_with_the_rest():
    plan = supervisor.plan_systemd(states(DOWN), ["orch"], connector=True)
    assert plan["enable"] == [CONNECTOR] and plan["restart"] == [] and plan["stop"] == []
    assert plan["connector"] == "started"


def test_systemd_connector_up_is_left_alone_then_restarted_on_change():
    assert supervisor.plan_systemd(states(UP), ["orch"], connector=True) == dict(
        daemon_reload=False, enable=[], reset_failed=[], restart=[], stop=[], started=[], restarted=[], stopped=[],
        connector=None)
    plan = supervisor.plan_systemd(states(UP), ["orch"], restart=["orch"], connector=True, restart_connector=True)
    assert plan["restart"] == [ORCH, CONNECTOR] and plan["connector"] == "restarted"


def test_systemd_connector_changed_but_down_is_only_started():
    plan = supervisor.plan_systemd(states(DOWN), ["orch"], connector=True, restart_connector=True)
    assert plan["enable"] == [CONNECTOR] and plan["restart"] == [] and plan["connector"] == "started"


def test_systemd_new_connector_unit_needs_a_daemon_reload():
    plan = supervisor.plan_systemd(states({"LoadState": "not-found", "ActiveState": "inactive"}), ["orch"],
                                   connector=True)
    assert plan["daemon_reload"] and plan["enable"] == [CONNECTOR]


@pytest.mark.parametrize("absent", [False, True])
def test_systemd_connector_not_wanted_or_taken_down_is_disabled(absent):
    plan = supervisor.plan_systemd(states(UP), ["orch"], connector=False, absent=absent)
    assert CONNECTOR in plan["stop"] and plan["connector"] == "stopped"
    assert CONNECTOR not in plan["enable"]


def test_systemd_take_down_wins_over_connector():
    plan = supervisor.plan_systemd(states(UP), ["orch"], absent=True, connector=True, restart_connector=True)
    assert plan["stop"][0] == CONNECTOR and CONNECTOR not in plan["enable"] + plan["restart"]


@pytest.mark.parametrize("state", [UP, DOWN])
def test_unset_connector_is_left_as_it_is(state):
    """fleet_relaunch and the reseed playbook call fleet_supervisor without ``connector``."""
    plan = supervisor.plan_systemd(states(state), ["orch"], restart=["orch"], connector=None, restart_connector=True)
    assert CONNECTOR not in plan["enable"] + plan["restart"] + plan["stop"] and plan["connector"] is None
    for alive in (True, False, None):
        plan = tmux_plan(alive, connector=None, restart_connector=True)
        assert plan["kill"] == [] and not plan["start_connector"] and plan["connector"] is None
    assert supervisor.plan_systemd(states(state), [], absent=True)["stop"][0] == CONNECTOR or state is DOWN
    assert tmux_plan(True, absent=True)["connector"] == "stopped"


def test_systemd_connector_already_down_and_disabled_means_nothing():
    plan = supervisor.plan_systemd(states(DOWN), ["orch"], connector=False)
    assert plan["stop"] == [] and plan["connector"] is None


def test_systemd_enabled_but_dead_connector_is_stopped_when_not_wanted():
    plan = supervisor.plan_systemd(states({"ActiveState": "failed", "UnitFileState": "enabled"}), ["orch"],
                                   connector=False)
    assert plan["stop"] == [CONNECTOR]


def tmux_plan(connector_alive, **kwargs):
    sessions = {"fleet": {"mosaic-holder": True, "orch": True}}
    if connector_alive is not None:
        sessions["fleet"][SESSION] = connector_alive
    return supervisor.plan_tmux(sessions, [("orch", "fleet")], holder=("fleet", "mosaic-holder"), **kwargs)


def test_tmux_connector_started_when_wanted_and_missing():
    plan = tmux_plan(None, connector=True)
    assert plan["start_connector"] and plan["kill"] == [] and plan["connector"] == "started"


def test_tmux_connector_running_is_left_alone():
    plan = tmux_plan(True, connector=True)
    assert not plan["start_connector"] and plan["kill"] == [] and plan["connector"] is None


def test_tmux_connector_restart_kills_then_starts():
    plan = tmux_plan(True, connector=True, restart_connector=True)
    assert plan["kill"] == [("fleet", SESSION)] and plan["start_connector"] and plan["connector"] == "restarted"


def test_tmux_dead_connector_pane_is_replaced():
    plan = tmux_plan(False, connector=True)
    assert plan["kill"] == [("fleet", SESSION)] and plan["start_connector"] and plan["connector"] == "started"


@pytest.mark.parametrize("absent", [False, True])
def test_tmux_connector_not_wanted_or_taken_down_is_killed(absent):
    plan = tmux_plan(True, connector=False, absent=absent)
    assert ("fleet", SESSION) in plan["kill"] and not plan["start_connector"] and plan["connector"] == "stopped"


def test_tmux_no_connector_means_nothing():
    plan = tmux_plan(None, connector=False)
    assert plan["kill"] == [] and not plan["start_connector"] and plan["connector"] is None


def test_connector_session_argv_is_data_on_the_holders_socket():
    argv = supervisor.connector_session_argv("my fleet", "/srv/it's home")
    assert argv[:3] == ["tmux", "-L", "my fleet"]
    assert argv[argv.index("-s") + 1] == SESSION
    tail = argv[argv.index("--") + 1:]
    assert tail == ["env", "MOSAIC_HOME=/srv/it's home", "sh", "-c", supervisor.CONNECTOR_LOOP,
                    "/srv/it's home/tools/fleet/connector"]
