"""Supervisor planning: observed state in, the few commands to run out."""

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import supervisor
from ansible_collections.mosaic.fleet.plugins.module_utils.systemd import parse_show_output

HOLDER = "mosaic-tmux-holder.service"
UP = {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled", "NeedDaemonReload": "no"}
DOWN = {"LoadState": "loaded", "ActiveState": "inactive", "UnitFileState": "disabled", "NeedDaemonReload": "no"}


def unit(name):
    return "mosaic-agent@%s.service" % name


def states(up=(), down=(), holder=None, **extra):
    found = {HOLDER: dict(UP) if holder is None else holder}
    found.update((unit(n), dict(UP)) for n in up)
    found.update((unit(n), dict(DOWN)) for n in down)
    found.update(extra)
    return found


@pytest.mark.parametrize("requested, systemctl, booted, manager, expected", [
    ("auto", True, True, False, "systemd"),
    ("auto", True, False, True, "systemd"),
    ("auto", True, False, False, "tmux"),
    ("auto", False, True, True, "tmux"),
    ("tmux", True, True, True, "tmux"),
    ("systemd", False, False, False, "systemd"),
])
def test_choose_mode(requested, systemctl, booted, manager, expected):
    assert supervisor.choose_mode(requested, systemctl, booted, manager) == expected


def test_systemd_everything_up_means_no_command():
    plan = supervisor.plan_systemd(states(up=["a", "b"]), ["a", "b"])
    assert plan == dict(daemon_reload=False, enable=[], reset_failed=[], restart=[], stop=[], started=[], restarted=[],
                        stopped=[], connector=None)


def test_systemd_a_failed_agent_is_reset_then_started():
    """A unit held back by its crash-loop guard (failed, start limit hit) starts again on the
    next run: reset-failed first, then the one enable --now."""
    st = states(up=["a", "b"])
    st[unit("b")] = {"Id": unit("b"), "LoadState": "loaded", "ActiveState": "failed", "UnitFileState": "enabled",
                     "Result": "exit-code"}
    plan = supervisor.plan_systemd(st, ["a", "b"])
    assert plan["reset_failed"] == [unit("b")]
    assert plan["enable"] == [unit("b")]
    assert plan["started"] == ["b"]
    assert supervisor.plan_systemd(st, ["a"])["reset_failed"] == []


def test_systemd_fresh_host_enables_holder_and_agents_in_one_call():
    plan = supervisor.plan_systemd({}, ["a", "b"], restart=["a", "b"], daemon_reload=True)
    assert plan["enable"] == [HOLDER, unit("a"), unit("b")]
    assert plan["daemon_reload"] is True
    # Just started with the new config: no restart on top.
    assert plan["restart"] == [] and plan["restarted"] == []
    assert plan["started"] == ["a", "b"]


def test_systemd_only_units_not_up_are_enabled():
    plan = supervisor.plan_systemd(states(up=["a"], down=["b"]), ["a", "b"])
    assert plan["enable"] == [unit("b")]
    assert plan["started"] == ["b"]


def test_systemd_active_but_disabled_gets_enabled_without_counting_as_started():
    found = states(up=["a"])
    found[unit("a")]["UnitFileState"] = "disabled"
    plan = supervisor.plan_systemd(found, ["a"])
    assert plan["enable"] == [unit("a")] and plan["started"] == []


def test_systemd_restart_only_changed_running_agents():
    plan = supervisor.plan_systemd(states(up=["a", "b", "c"]), ["a", "b", "c"], restart=["b", "zz"])
    assert plan["restart"] == [unit("b")] and plan["restarted"] == ["b"]
    assert plan["enable"] == []


def test_systemd_prune_stops_and_disables_in_one_call():
    found = states(up=["a", "old1"], down=["old2"])
    plan = supervisor.plan_systemd(found, ["a"], prune=["old1", "old2"])
    assert plan["stop"] == [unit("old1")] and plan["stopped"] == ["old1"]


def test_systemd_prune_of_a_placed_agent_is_ignored():
    plan = supervisor.plan_systemd(states(up=["a"]), ["a"], prune=["a"])
    assert plan["stop"] == []


def test_systemd_enabled_but_inactive_pruned_unit_is_disabled():
    found = states(up=["a"])
    found[unit("gone")] = dict(DOWN, UnitFileState="enabled")
    assert supervisor.plan_systemd(found, ["a"], prune=["gone"])["stop"] == [unit("gone")]


def test_systemd_daemon_reload_when_systemd_asks_for_it():
    found = states(up=["a"], down=["b"])
    found[unit("b")]["NeedDaemonReload"] = "yes"
    assert supervisor.plan_systemd(found, ["a", "b"])["daemon_reload"] is True
    found = states(up=["a"])
    found[HOLDER] = dict(DOWN, LoadState="not-found")
    assert supervisor.plan_systemd(found, ["a"])["daemon_reload"] is True


def test_systemd_no_reload_when_nothing_else_runs():
    # Units changed but everything is up and nothing restarts: a reload alone changes nothing.
    assert supervisor.plan_systemd(states(up=["a"]), ["a"], daemon_reload=True)["daemon_reload"] is False


def test_systemd_restart_holder_restarts_everything_through_partof():
    plan = supervisor.plan_systemd(states(up=["a", "b"]), ["a", "b"], restart=["a"], restart_holder=True)
    assert plan["restart"] == [HOLDER]
    assert plan["restarted"] == ["a", "b"]


def test_systemd_absent_stops_holder_and_every_agent():
    plan = supervisor.plan_systemd(states(up=["a"], down=["b"]), ["a"], prune=["b"], absent=True)
    assert plan["enable"] == [] and plan["restart"] == []
    assert plan["stop"] == [unit("a"), HOLDER]
    assert plan["stopped"] == ["a"]


def test_systemd_no_agents_no_holder():
    plan = supervisor.plan_systemd({}, [])
    assert plan["enable"] == []


def test_show_output_feeds_the_plan():
    text = ("Id=mosaic-tmux-holder.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"
            "NeedDaemonReload=no\n\nId=mosaic-agent@a.service\nLoadState=loaded\nActiveState=inactive\n"
            "UnitFileState=disabled\nNeedDaemonReload=no\n")
    found = dict(zip([HOLDER, unit("a")], parse_show_output(text)))
    assert supervisor.plan_systemd(found, ["a"])["enable"] == [unit("a")]


def test_parse_panes():
    text = "a\t0\nb\t1\nc\t1\nc\t0\nmosaic-holder\t0\n"
    assert supervisor.parse_panes(text) == {"a": True, "b": False, "c": True, "mosaic-holder": True}


SOCK = "mosaic-fleet"


def test_tmux_fresh_host_starts_holder_then_every_agent():
    plan = supervisor.plan_tmux({SOCK: {}}, [("a", SOCK), ("b", SOCK)], holder=(SOCK, "mosaic-holder"))
    assert plan["start_holder"] is True
    assert plan["start"] == ["a", "b"] and plan["started"] == ["a", "b"]
    assert plan["kill"] == [] and plan["stop_holder"] is False


def test_tmux_all_running_means_nothing_to_do():
    sessions = {SOCK: {"mosaic-holder": True, "a": True, "b": True}}
    plan = supervisor.plan_tmux(sessions, [("a", SOCK), ("b", SOCK)], holder=(SOCK, "mosaic-holder"))
    assert (plan["kill"], plan["start_holder"], plan["start"]) == ([], False, [])


def test_tmux_dead_pane_is_started_again():
    sessions = {SOCK: {"mosaic-holder": True, "a": False}}
    plan = supervisor.plan_tmux(sessions, [("a", SOCK)], holder=(SOCK, "mosaic-holder"))
    assert plan["start"] == ["a"] and plan["kill"] == []


def test_tmux_restart_kills_then_starts_only_running_changed_agents():
    sessions = {SOCK: {"mosaic-holder": True, "a": True, "b": True}}
    plan = supervisor.plan_tmux(sessions, [("a", SOCK), ("b", SOCK), ("c", SOCK)], restart=["b", "c"],
                                holder=(SOCK, "mosaic-holder"))
    assert plan["kill"] == [(SOCK, "b")]
    assert plan["start"] == ["b", "c"]
    assert plan["restarted"] == ["b"] and plan["started"] == ["c"]


def test_tmux_prune_kills_on_every_socket_of_interest():
    sessions = {SOCK: {"mosaic-holder": True, "a": True, "old": True}, "other": {"old": True}}
    plan = supervisor.plan_tmux(sessions, [("a", SOCK)], prune=["old", "never-ran"], holder=(SOCK, "mosaic-holder"))
    assert plan["kill"] == [(SOCK, "old"), ("other", "old")]
    assert plan["stopped"] == ["old"]


def test_tmux_default_socket_agents():
    sessions = {"": {"mosaic-holder": True}}
    plan = supervisor.plan_tmux(sessions, [("a", "")], holder=("", "mosaic-holder"))
    assert plan["start"] == ["a"] and plan["start_holder"] is False


def test_tmux_absent_kills_agents_and_stops_holder():
    sessions = {SOCK: {"mosaic-holder": True, "a": True, "b": True}}
    plan = supervisor.plan_tmux(sessions, [("a", SOCK)], prune=["b"], holder=(SOCK, "mosaic-holder"), absent=True)
    assert plan["kill"] == [(SOCK, "a"), (SOCK, "b")]
    assert plan["stop_holder"] is True
    assert plan["start"] == [] and plan["start_holder"] is False


def test_tmux_no_agents_no_holder():
    plan = supervisor.plan_tmux({SOCK: {}}, [], holder=(SOCK, "mosaic-holder"))
    assert plan["start_holder"] is False


def test_tmux_plan_is_the_same_size_for_2_and_20_running_agents():
    for count in (2, 20):
        names = ["a%d" % i for i in range(count)]
        sessions = {SOCK: dict([("mosaic-holder", True)] + [(n, True) for n in names])}
        plan = supervisor.plan_tmux(sessions, [(n, SOCK) for n in names], holder=(SOCK, "mosaic-holder"))
        assert (plan["kill"], plan["start"], plan["start_holder"]) == ([], [], False)


@pytest.mark.parametrize("requested, mode, absent, warned", [
    ("auto", "tmux", False, True),      # auto fell back to tmux: say boot survival is off
    ("tmux", "tmux", False, False),     # asked for tmux: no "no systemd user manager" warning
    ("auto", "tmux", True, False),      # taking the fleet down
    ("auto", "systemd", False, False),
])
def test_tmux_mode_warning_only_when_auto_fell_back(requested, mode, absent, warned):
    assert (supervisor.mode_warning(requested, mode, absent) == supervisor.TMUX_MODE_WARNING) is warned
    assert (supervisor.mode_warning(requested, mode, absent) is None) is not warned


def test_one_auto_rule_for_running_and_reading():
    """fleet_ps reads the fleet as systemd-run only where fleet_supervisor would run it so AND
    enabled its units (it leaves them disabled in tmux mode)."""
    assert supervisor.choose_mode("auto", True, False, True, units_enabled=False) == "tmux"
    assert supervisor.choose_mode("auto", True, False, True, units_enabled=True) == "systemd"
    assert supervisor.choose_mode("systemd", False, False, False, units_enabled=False) == "systemd"


def test_session_query_uses_the_one_pane_format():
    argv = supervisor.list_sessions_argv("mosaic-fleet")
    assert argv == ["tmux", "-L", "mosaic-fleet", "list-panes", "-a", "-F", "#{session_name}\t#{pane_dead}"]
