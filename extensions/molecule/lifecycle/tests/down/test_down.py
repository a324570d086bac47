"""lifecycle: the fleet was taken down (mosaic_fleet_state=absent), then the host rebooted: nothing
came back (a deliberate stop is never healed, not even by boot), and the agents' supervision
drop-ins are gone with the units."""
from fleetcheck import HOLDER_UNIT, FleetUser


def test_nothing_runs_after_the_reboot(host):
    user = FleetUser(host)
    assert user.sessions("mosaic-fleet") == set()
    loaded = user.systemctl("list-units", "--all", "--plain", "--no-legend", "mosaic-*").stdout
    assert not [line for line in loaded.splitlines() if " active " in line or " activating " in line], loaded
    running = host.run("pgrep -u %s -f stub-agent" % user.name)
    assert running.rc == 1, "stub runtimes still run: %s" % running.stdout


def test_units_and_supervision_drop_ins_are_gone(host):
    user = FleetUser(host)
    unit_dir = user.home + "/.config/systemd/user"
    listing = host.run("ls -A %s" % unit_dir).stdout.split()
    assert not [entry for entry in listing if entry.startswith(("mosaic-agent@", HOLDER_UNIT))], listing
