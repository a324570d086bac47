"""lifecycle: worker1 was removed from the roster (and, the second time, the host rebooted):
it is gone for good, the other three are up."""
# The standard fleet-is-up tests and their fixtures; pytest collects them from this module.
from fleet_tests import (  # noqa: F401  pylint: disable=unused-import
    agents, inventory_host, roster_agents, user,
    test_comms_sheets, test_env_files_exact_and_private, test_fleet_ps_all_healthy,
    test_heartbeats_fresh, test_linger_and_user_manager,
    test_one_session_per_agent_running_the_runtime, test_units_enabled_and_active,
)
from fleetcheck import FleetUser

GONE = "worker1"


def test_removed_unit_is_stopped_and_disabled(host):
    user = FleetUser(host)
    unit = "mosaic-agent@%s.service" % GONE
    active = user.systemctl("is-active", unit).stdout.strip()
    enabled = user.systemctl("is-enabled", unit).stdout.strip()
    assert active in ("inactive", "unknown"), "%s is %s\n%s" % (unit, active, user.unit_diagnostics(unit))
    assert enabled in ("disabled", "not-found", ""), "%s is %s\n%s" % (unit, enabled, user.unit_diagnostics(unit))
    wants = host.file("%s/.config/systemd/user/default.target.wants/%s" % (user.home, unit))
    assert not wants.exists, "%s is still wanted by default.target" % unit


def test_removed_agent_files_are_gone(host):
    user = FleetUser(host)
    for rel in ("fleet/agents/%s.env" % GONE, "fleet/agents/%s.comms.md" % GONE):
        assert not host.file("%s/%s" % (user.mosaic_home, rel)).exists, "%s is still there" % rel


def test_removed_session_is_gone(host):
    user = FleetUser(host)
    assert GONE not in user.sessions("mosaic-fleet")
    assert host.run("pgrep -u %s -f 'stub-agent' -c" % user.name).stdout.strip() == "3", \
        "expected exactly 3 stub runtimes: %s" % host.run("ps -u %s -o pid,args" % user.name).stdout


def test_other_sheets_no_longer_name_the_removed_agent(host):
    user = FleetUser(host)
    for name in ("orchestrator", "enhancer", "worker0"):
        text = user.file_text("fleet/agents/%s.comms.md" % name)
        assert "-s %s " % GONE not in text, "%s's comms sheet still offers %s" % (name, GONE)
