"""The fleet's systemd units and the drop-ins that point them at a custom MOSAIC_HOME
(module_utils/systemd.py), and the controller-side MOSAIC_HOME check (filter fleet_home_problems)."""

import os

import pytest

from ansible_collections.mosaic.fleet.plugins.filter.fleet_home import fleet_home_problems
from ansible_collections.mosaic.fleet.plugins.module_utils import systemd as sd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = dict((unit, open(os.path.join(REPO, "framework", "systemd", "user", unit)).read())
               for unit in sd.FLEET_UNITS)


def directives(text):
    """[(section, line)] of a unit or drop-in, comments dropped."""
    out, section = [], None
    for line in text.splitlines():
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#"):
            out.append((section, line))
    return out


def test_the_shipped_units_name_the_default_home():
    for unit, text in SHIPPED.items():
        assert "ExecStart=%s/tools/fleet/" % sd.UNIT_MOSAIC_HOME in text, unit
        assert "Environment=MOSAIC_HOME=%s\n" % sd.UNIT_MOSAIC_HOME in text, unit


def test_agent_drop_in_replaces_every_directive_naming_the_home():
    text = sd.render_home_dropin("mosaic-agent@.service", SHIPPED["mosaic-agent@.service"], "/srv/mosaic-fleet/home")
    assert directives(text) == [
        ("[Unit]", "Documentation="),
        ("[Unit]", "Documentation=file:///srv/mosaic-fleet/home/AGENTS.md"),
        ("[Service]", "PIDFile="),
        ("[Service]", "PIDFile=/srv/mosaic-fleet/home/fleet/run/%i.pid"),
        ("[Service]", "Environment="),
        ("[Service]", "Environment=MOSAIC_HOME=/srv/mosaic-fleet/home"),
        ("[Service]", "Environment=MOSAIC_AGENT_UNIT=%n"),
        ("[Service]", "EnvironmentFile="),
        ("[Service]", "EnvironmentFile=-/srv/mosaic-fleet/home/fleet/agents/%i.env"),
        ("[Service]", "ExecStart="),
        ("[Service]", "ExecStart=/srv/mosaic-fleet/home/tools/fleet/start-agent-session.sh %i"),
        ("[Service]", "ExecStop="),
        ("[Service]", "ExecStop=/srv/mosaic-fleet/home/tools/fleet/stop-agent-session.sh %i"),
    ]
    assert text.startswith("# mosaic.fleet: mosaic-agent@.service runs from this fleet's MOSAIC_HOME")


def test_holder_drop_in_and_every_path_is_the_custom_home():
    text = sd.render_home_dropin(sd.HOLDER_UNIT, SHIPPED[sd.HOLDER_UNIT], "/home/fleet/fleet-home/")
    lines = [line for _s, line in directives(text)]
    assert "ExecStart=/home/fleet/fleet-home/tools/fleet/holder.sh start" in lines
    assert "EnvironmentFile=-/home/fleet/fleet-home/fleet/holder.env" in lines
    assert not [line for line in lines if "%h" in line or ".config/mosaic" in line]
    # Directives that do not name the home (WorkingDirectory=%h, Type, ...) are left to the unit.
    assert not [line for line in lines if line.startswith(("WorkingDirectory", "Type", "Description"))]


def test_drop_in_keeps_other_values_of_a_rewritten_list_directive():
    unit = ("[Service]\nEnvironment=A=1\nEnvironment=MOSAIC_HOME=%h/.config/mosaic\n"
            "ExecStartPre=/bin/true\nExecStart=%h/.config/mosaic/x \\\n  --flag\n"
            "ExecStart=/bin/echo %h/.config/mosaicX\n# ExecStop=%h/.config/mosaic/y\n")
    lines = [line for _s, line in directives(sd.render_home_dropin("u.service", unit, "/m"))]
    assert lines == ["Environment=", "Environment=A=1", "Environment=MOSAIC_HOME=/m",
                     "ExecStart=", "ExecStart=/m/x  --flag", "ExecStart=/bin/echo %h/.config/mosaicX"]


@pytest.mark.parametrize("home", ["/srv/a b", "/srv/50%", "/srv/$HOME", "/srv/q\"", "srv/rel", "/srv/../etc",
                                  "/srv//x", "/", "/srv/t\tab", "/srv/back\\slash"])
def test_homes_a_unit_cannot_name_are_refused(home):
    assert sd.unit_path_error(home)
    with pytest.raises(ValueError, match="MOSAIC_HOME"):
        sd.render_home_dropin("mosaic-agent@.service", SHIPPED["mosaic-agent@.service"], home)


@pytest.mark.parametrize("home", ["/srv/mosaic-fleet/home", "/home/fleet/fleet-home/", "/opt/m_f-1.2@x+y,z:w=v"])
def test_homes_a_unit_can_name(home):
    assert sd.unit_path_error(home) is None


def test_a_unit_that_names_no_home_is_an_error():
    with pytest.raises(ValueError, match="does not name"):
        sd.render_home_dropin("x.service", "[Service]\nExecStart=/bin/true\n", "/srv/m")


def test_plan_units_default_home_means_shipped_units_and_no_drop_in():
    for home in ("/home/fleet/.config/mosaic", "/home/fleet/.config/mosaic/", "/home/fleet/./.config/mosaic"):
        files, unwanted = sd.plan_units(SHIPPED, home, "/home/fleet")
        assert files == SHIPPED
        assert unwanted == [sd.dropin_path(u) for u in SHIPPED]


def test_plan_units_custom_home_adds_one_drop_in_per_unit():
    files, unwanted = sd.plan_units(SHIPPED, "/home/fleet/fleet-home", "/home/fleet")
    assert unwanted == []
    assert sorted(files) == sorted(list(SHIPPED) + ["mosaic-tmux-holder.service.d/mosaic-home.conf",
                                                    "mosaic-agent@.service.d/mosaic-home.conf",
                                                    "mosaic-connector.service.d/mosaic-home.conf"])
    assert all(files[u] == SHIPPED[u] for u in SHIPPED)


@pytest.mark.parametrize("value", ["", None, "~/.config/mosaic", "~/.config/mosaic/", "/srv/mosaic-fleet/home",
                                   "~/fleet-home"])
def test_fleet_home_problems_none(value):
    assert fleet_home_problems(value, ["web1", "web1"]) == []


@pytest.mark.parametrize("value", ["~/a b", "/srv/50%", "~/../x", "/"])
def test_fleet_home_problems_a_unit_cannot_name(value):
    problems = fleet_home_problems(value, ["web1"])
    assert len(problems) == 1 and problems[0].startswith("mosaic_fleet_mosaic_home=%s: " % value), problems


def test_fleet_home_problems_relative_and_multi_host():
    assert "absolute path" in fleet_home_problems("fleet-home", [])[0]
    problems = fleet_home_problems("/srv/m", ["web2", "web1", "web2"])
    assert len(problems) == 1 and "2 hosts (web1, web2)" in problems[0] and "leave mosaic_fleet_mosaic_home empty" \
        in problems[0], problems
    # The default MOSAIC_HOME is fine on any number of hosts.
    assert fleet_home_problems("", ["web1", "web2"]) == []


def test_fleet_home_problems_reads_the_hosts_of_a_normalized_roster():
    roster = {"agents": [{"name": "a", "host": "web2"}, {"name": "b", "host": "web1"}]}
    problems = fleet_home_problems("/srv/m", roster=roster)
    assert len(problems) == 1 and "2 hosts (web1, web2)" in problems[0], problems
    assert fleet_home_problems("/srv/m", roster={"agents": [{"name": "a", "host": "web1"}]}) == []
    assert fleet_home_problems("/srv/m", roster={}) == []
    with pytest.raises(Exception, match="normalized roster"):
        fleet_home_problems("/srv/m", roster={"agents": "web1"})
