"""custom_home: after a reboot the fleet runs from ~/fleet-home under systemd: the standard fleet
tests (which read MOSAIC_HOME from the scenario's inventory) plus what only a custom MOSAIC_HOME
has: the units' drop-ins, and the agents really running from that home."""
# The standard fleet-is-up tests and their fixtures; pytest collects them from this module.
from fleet_tests import (  # noqa: F401  pylint: disable=unused-import
    agents, inventory_host, roster_agents, user,
    test_comms_sheets, test_env_files_exact_and_private, test_fleet_ps_all_healthy,
    test_heartbeats_fresh, test_linger_and_user_manager,
    test_one_session_per_agent_running_the_runtime, test_units_enabled_and_active,
)

from fleetcheck import HOLDER_UNIT

UNITS = [HOLDER_UNIT, "mosaic-agent@.service", "mosaic-connector.service"]
DROPIN = "mosaic-home.conf"


def test_everything_is_in_the_custom_home_and_nothing_at_the_default(user):
    assert user.mosaic_home == user.home + "/fleet-home", user.mosaic_home
    assert user.host.file(user.mosaic_home + "/tools/fleet/start-agent-session.sh").exists
    assert not user.host.file(user.default_mosaic_home).exists, \
        "%s exists: %s" % (user.default_mosaic_home, user.sh("ls -la ~/.config/mosaic").stdout)


def test_each_unit_is_the_shipped_one_with_its_drop_in(user):
    unit_dir = user.home + "/.config/systemd/user"
    for unit in UNITS:
        found = user.sh("cmp %s/systemd/user/%s %s/%s && stat -c '%%U %%a' %s/%s.d/%s && cat %s/%s.d/%s" % (
            user.mosaic_home, unit, unit_dir, unit, unit_dir, unit, DROPIN, unit_dir, unit, DROPIN))
        assert found.rc == 0, "%s: not the shipped unit, or no drop-in: %s" % (unit, found.stdout + found.stderr)
        owner_mode, _sep, text = found.stdout.partition("\n")
        assert owner_mode == "%s 644" % user.name, owner_mode
        assert "\nExecStart=\nExecStart=%s/tools/fleet/" % user.mosaic_home in text, text


def test_systemd_runs_the_units_from_the_custom_home(user, agents):
    """What the user manager itself resolved: every path the units use is under the custom home,
    none under ~/.config/mosaic."""
    units = [HOLDER_UNIT] + ["mosaic-agent@%s.service" % a["name"] for a in agents]
    shown = user.systemctl("show", "-p", "Id", "-p", "DropInPaths", "-p", "Environment", "-p", "EnvironmentFiles",
                           "-p", "ExecStart", "-p", "ExecStop", *units)
    assert shown.rc == 0, shown.stderr
    blocks = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
              for block in shown.stdout.strip().split("\n\n")]
    assert sorted(b["Id"] for b in blocks) == sorted(units), shown.stdout
    for props in blocks:
        unit = props["Id"]
        assert DROPIN in props["DropInPaths"], "%s: drop-in not loaded: %s" % (unit, props["DropInPaths"])
        assert "MOSAIC_HOME=%s" % user.mosaic_home in props["Environment"].split(), props["Environment"]
        for key in ("EnvironmentFiles", "ExecStart", "ExecStop"):
            assert user.mosaic_home + "/" in props[key], "%s %s: %s" % (unit, key, props[key])
            assert "/.config/mosaic" not in props[key], "%s %s still names ~/.config/mosaic: %s" % (
                unit, key, props[key])


def test_agents_run_with_the_custom_home(user, agents):
    """Each runtime process (the pane's, exec'd) has MOSAIC_HOME set to the custom home."""
    panes = user.panes(agents[0]["socket"])
    pids = " ".join(str(panes[a["name"]]["pid"]) for a in agents)
    found = user.host.run("for p in %s; do echo \"$p $(tr '\\0' '\\n' < /proc/$p/environ | grep '^MOSAIC_HOME=')\"; done"
                          % pids)
    homes = dict(line.split(" ", 1) for line in found.stdout.splitlines())
    for agent in agents:
        pid = str(panes[agent["name"]]["pid"])
        assert homes.get(pid) == "MOSAIC_HOME=%s" % user.mosaic_home, "%s's runtime has %r" % (
            agent["name"], homes.get(pid))
