"""custom_home: after mosaic_fleet_state=absent nothing of the fleet runs and its units, their
drop-ins and its rendered files are gone; the framework in the custom home stays."""
from fleetcheck import HOLDER_UNIT, FleetUser

UNITS = [HOLDER_UNIT, "mosaic-agent@.service", "mosaic-connector.service"]


def test_units_and_drop_ins_are_gone(host):
    user = FleetUser(host)
    unit_dir = user.home + "/.config/systemd/user"
    for unit in UNITS:
        for path in ("%s/%s" % (unit_dir, unit), "%s/%s.d" % (unit_dir, unit)):
            assert not host.file(path).exists, "%s is still there" % path
    loaded = user.systemctl("list-units", "--all", "--plain", "--no-legend", "mosaic-*").stdout
    assert not [line for line in loaded.splitlines() if " active " in line], loaded


def test_no_session_is_left(host):
    user = FleetUser(host)
    assert user.sessions("mosaic-fleet") == set()


def test_rendered_files_are_gone_and_the_framework_stays(host):
    user = FleetUser(host)
    for rel in ("fleet/roster.yaml", "fleet/holder.env", "fleet/agents/worker.env"):
        assert not host.file("%s/%s" % (user.mosaic_home, rel)).exists, "%s is still there" % rel
    assert host.file(user.mosaic_home + "/tools/fleet/start-agent-session.sh").exists
    assert not host.file(user.default_mosaic_home).exists
