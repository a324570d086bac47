"""Facts the modules return so that playbooks/reseed.yml and roles/fleet compute nothing: the units
a re-seed changed and its summary (sync.py), the agents still on the previous framework and how to
relaunch one (relaunch.py)."""

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import relaunch, sync


def report(**kwargs):
    base = dict(up_to_date=False, changed=True, version_from="A", version_to="B",
                created=[], updated=[], backed_up=[], preserved=[], removed=[], orphaned=[])
    base.update(kwargs)
    return base


@pytest.mark.parametrize("created, updated, units", [
    ([], [], []),
    (["systemd/user/mosaic-agent@.service"], [], ["mosaic-agent@.service"]),
    ([], ["systemd/user/mosaic-agent@.service", "systemd/user/mosaic-tmux-holder.service", "AGENTS.md"],
     ["mosaic-tmux-holder.service", "mosaic-agent@.service"]),
    (["systemd/user/other.service", "mosaic-agent@.service", "x/systemd/user/mosaic-agent@.service"], [], []),
])
def test_changed_units_are_the_shipped_units_created_or_updated_holder_first(created, updated, units):
    assert sync.changed_units(report(created=created, updated=updated)) == units


def test_changed_units_of_an_up_to_date_report_without_lists():
    assert sync.changed_units({"up_to_date": True}) == []


@pytest.mark.parametrize("kwargs, check_mode, expected", [
    (dict(up_to_date=True, changed=False), False, {"framework": "B already installed, nothing to do"}),
    (dict(changed=False, preserved=["SOUL.md"]), False,
     {"framework": "B checked, nothing changed", "preserved": ["SOUL.md"]}),
    (dict(updated=["AGENTS.md"], created=["MARKER.md"]), False,
     {"framework": "A -> B", "created": ["MARKER.md"], "updated": ["AGENTS.md"]}),
    (dict(version_from=None, created=["AGENTS.md"]), True,
     {"framework": "none -> B (check mode: nothing written)", "created": ["AGENTS.md"]}),
])
def test_summary_is_a_headline_and_the_non_empty_lists_in_order(kwargs, check_mode, expected):
    summary = sync.summary(report(**kwargs), check_mode)
    assert summary == expected
    assert list(summary) == ["framework"] + [k for k in sync.REPORT_KEYS if k in expected]


def record(name, created, exists=True):
    return {"name": name, "session_exists": exists, "session_created": created}


def test_previous_framework_is_every_session_started_before_the_install_in_whole_seconds():
    records = [record("enhancer", 99), record("orchestrator", 100), record("worker", 98),
               record("gone", None, exists=False), record("late", 101)]
    assert relaunch.previous_framework(records, 100.9) == (["enhancer", "worker"], {"enhancer": 99, "worker": 98})


def test_nothing_installed_means_no_previous_framework():
    assert relaunch.previous_framework([record("a", 1)], None) == ([], {})


def test_relaunch_command_per_supervisor():
    assert relaunch.relaunch_command("systemd", "/h/.config/mosaic") == \
        "systemctl --user restart mosaic-agent@NAME.service"
    assert relaunch.relaunch_command("tmux", "/h/.config/mosaic/") == (
        "/h/.config/mosaic/tools/fleet/stop-agent-session.sh NAME && "
        "/h/.config/mosaic/tools/fleet/start-agent-session.sh NAME")


def test_facts_bundle_what_fleet_ps_returns():
    assert relaunch.facts([record("a", 5)], 10, "tmux", "/m") == {
        "previous_framework": ["a"], "previous_framework_sessions": {"a": 5},
        "relaunch_command": "/m/tools/fleet/stop-agent-session.sh NAME && /m/tools/fleet/start-agent-session.sh NAME"}
