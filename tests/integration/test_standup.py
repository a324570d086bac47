"""End-to-end stand-up on real tmux: `ansible-playbook mosaic.fleet.fleet` with the role in tmux
mode, for the current user, into a temporary HOME and TMUX_TMPDIR."""

import json
import os
import re
import shutil
import subprocess

import pytest

import fleet_util

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION_PARTS = ("galaxy.yml", "meta", "plugins", "roles", "playbooks", "framework")


@pytest.fixture(scope="module")
def collections_path(tmp_path_factory):
    """A copy of the collection, so a run and its re-run see the same tree even while the
    checkout is being edited."""
    dest = tmp_path_factory.mktemp("collections")
    root = dest / "ansible_collections" / "mosaic" / "fleet"
    root.mkdir(parents=True)
    for part in COLLECTION_PARTS:
        src = os.path.join(REPO, part)
        if os.path.isdir(src):
            shutil.copytree(src, str(root / part), ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, str(root))
    return str(dest)


def stub(name, cls="worker", **extra):
    agent = {"name": name, "class": cls, "runtime": "stub"}
    agent.update(extra)
    return agent


class Fleet(fleet_util.Fleet):

    def play(self, roster, *extra):
        return self.run_playbook("fleet", self.variables(roster), extra)

    def panes(self):
        found = {}
        for name, command, pid, dead in self.list_panes(
                "#{session_name}\t#{pane_current_command}\t#{pane_pid}\t#{pane_dead}"):
            found[name] = (command, int(pid), dead)
        return found


@pytest.fixture
def fleet(tmp_path, socket_name, collections_path):
    f = Fleet(tmp_path, socket_name, collections_path)
    yield f
    f.kill_server()


def test_stand_up_rerun_change_prune_and_take_down(fleet):
    roster = fleet.roster(stub("orchestrator", "orchestrator"), stub("enhancer", "enhancer"), stub("worker"))

    first = fleet.play(roster)
    assert first.returncode == 0, first.stdout + first.stderr
    # tmux asked for explicitly (fleet_util): no "no systemd user manager" fallback warning.
    assert "do not come back after a reboot" not in first.stdout + first.stderr
    panes = fleet.panes()
    assert sorted(panes) == ["enhancer", "mosaic-holder", "orchestrator", "worker"]
    for name in ("orchestrator", "enhancer", "worker"):
        command, _pid, dead = panes[name]
        assert (command, dead) == ("python3", "0"), (name, panes[name])
    env_file = fleet.mosaic_home / "fleet" / "agents" / "worker.env"
    assert "MOSAIC_TMUX_SOCKET=%s\n" % fleet.socket in env_file.read_text()
    assert (fleet.home / ".config" / "systemd" / "user" / "mosaic-agent@.service").exists()

    second = fleet.play(roster)
    assert fleet.recap(second)["changed"] == 0, second.stdout
    assert fleet.panes() == panes                      # same processes: nothing restarted

    # worker changes its config, enhancer leaves the roster.
    changed = fleet.roster(stub("orchestrator", "orchestrator"), stub("worker", model_hint="other"))
    third = fleet.play(changed)
    assert third.returncode == 0, third.stdout + third.stderr
    after = fleet.panes()
    assert sorted(after) == ["mosaic-holder", "orchestrator", "worker"]
    assert after["orchestrator"][1] == panes["orchestrator"][1]       # untouched
    assert after["worker"][1] != panes["worker"][1]                   # restarted
    assert not (fleet.mosaic_home / "fleet" / "agents" / "enhancer.env").exists()

    down = fleet.play(changed, "-e", "mosaic_fleet_state=absent")
    assert down.returncode == 0, down.stdout + down.stderr
    assert fleet.panes() == {}
    assert not (fleet.mosaic_home / "fleet" / "agents" / "worker.env").exists()
    assert not (fleet.home / ".config" / "systemd" / "user" / "mosaic-agent@.service").exists()


def test_dead_agent_is_started_again_on_the_next_run(fleet):
    roster = fleet.roster(stub("solo"))
    assert fleet.play(roster).returncode == 0
    pid = fleet.panes()["solo"][1]
    subprocess.run(["tmux", "-L", fleet.socket, "kill-session", "-t", "=solo"], env=fleet.env, check=True)
    rerun = fleet.play(roster)
    assert fleet.recap(rerun)["changed"] == 1
    assert fleet.panes()["solo"][1] != pid


def test_check_mode_on_a_fresh_home_changes_nothing(fleet):
    proc = fleet.play(fleet.roster(stub("solo")), "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert fleet.panes() == {}
    assert not (fleet.mosaic_home / "fleet").exists()


def test_bad_roster_fails_before_any_host_is_touched(fleet):
    roster = fleet.roster(stub("a"), {"name": "b", "runtime": "gpt"})
    proc = fleet.play(roster)
    assert proc.returncode != 0
    assert "agents[1].runtime" in proc.stdout
    assert "Stand this host" not in proc.stdout
    assert not fleet.mosaic_home.exists()


def test_agent_on_a_host_outside_the_inventory_fails_before_any_host_is_touched(fleet):
    proc = fleet.play(fleet.roster(stub("a", host="web9")))
    assert proc.returncode != 0
    assert "web9" in proc.stdout and "not in the inventory" in proc.stdout
    assert not fleet.mosaic_home.exists()


def test_inventory_example_parses_and_its_roster_places_agents_on_both_hosts(tmp_path):
    from ansible_collections.mosaic.fleet.plugins.module_utils import roster as fleet_roster
    inventory = tmp_path / "inventory.yml"
    shutil.copy(os.path.join(REPO, "inventory.example"), str(inventory))
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-inventory"), "-i", str(inventory), "--list"],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    listed = json.loads(proc.stdout)
    hosts = listed["fleet"]["hosts"]
    assert sorted(hosts) == ["web1", "web2"]
    variables = listed["_meta"]["hostvars"]["web1"]
    normalized, violations = fleet_roster.validate(variables["mosaic_fleet_roster"], fleet_roster.load_schema(),
                                                   hosts, hosts[0])
    assert violations == []
    placed = fleet_roster.placement(normalized)
    assert sorted(placed) == ["web1", "web2"]
    assert variables["mosaic_fleet_user"] == "fleet"


def test_limit_still_validates_against_every_fleet_host(fleet):
    # `other` is in the fleet but not in --limit: its agent is valid and nothing runs there.
    fleet.inventory.write_text(fleet.inventory.read_text() + "    other:\n      ansible_connection: local\n"
                               "      ansible_host: 127.0.0.1\n")
    roster = fleet.roster(stub("here"), stub("there", host="other"))
    proc = fleet.play(roster, "--limit", "localhost")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(fleet.panes()) == ["here", "mosaic-holder"]
    assert "other" not in re.findall(r"^(\S+)\s+: ok=", proc.stdout, re.M)


def _unit_dir(fleet):
    return fleet.home / ".config" / "systemd" / "user"


UNITS = ("mosaic-tmux-holder.service", "mosaic-agent@.service", "mosaic-connector.service")


def test_custom_mosaic_home_units_get_drop_ins_rerun_and_take_down(fleet):
    """A MOSAIC_HOME outside the home: everything goes there, the units get drop-ins that systemd
    itself resolves to that home, a re-run changes nothing, the take-down removes the drop-ins."""
    home = fleet.tmp / "elsewhere" / "fleet-home"
    variables = fleet.variables(fleet.roster(stub("orchestrator", "orchestrator"), stub("worker")),
                                mosaic_fleet_mosaic_home=str(home))
    first = fleet.run_playbook("fleet", variables)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(fleet.panes()) == ["mosaic-holder", "orchestrator", "worker"]
    assert (home / "fleet" / "agents" / "worker.env").exists()
    assert not fleet.mosaic_home.exists(), "something was written to ~/.config/mosaic"
    for unit in UNITS:
        assert (_unit_dir(fleet) / unit).read_text() == (home / "systemd" / "user" / unit).read_text()
        dropin = (_unit_dir(fleet) / ("%s.d" % unit) / "mosaic-home.conf").read_text()
        assert "\nExecStart=\nExecStart=%s/tools/fleet/" % home in dropin, dropin
        assert "\nEnvironment=MOSAIC_HOME=%s\n" % home in dropin, dropin
    if shutil.which("systemd-analyze"):
        # systemd's own reading of unit + drop-in: every command it would run exists (the
        # defaults under ~/.config/mosaic do not).
        for unit in ("mosaic-agent@worker.service", "mosaic-tmux-holder.service"):
            proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(_unit_dir(fleet) / unit)],
                                  capture_output=True, text=True, check=False,
                                  env=dict(fleet.env, SYSTEMD_UNIT_PATH="%s:" % _unit_dir(fleet)))
            assert proc.returncode == 0 and "not executable" not in proc.stderr, (unit, proc.stdout, proc.stderr)

    second = fleet.run_playbook("fleet", variables)
    assert fleet.recap(second)["changed"] == 0, second.stdout

    down = fleet.run_playbook("fleet", dict(variables, mosaic_fleet_state="absent"))
    assert down.returncode == 0, down.stdout + down.stderr
    assert fleet.panes() == {}
    assert sorted(os.listdir(str(_unit_dir(fleet)))) == []
    assert not (home / "fleet" / "agents" / "worker.env").exists()
    assert (home / "tools" / "fleet" / "start-agent-session.sh").exists()   # the framework stays


def test_default_mosaic_home_has_no_drop_ins(fleet):
    """No MOSAIC_HOME drop-in on the default home; only each agent's supervision policy."""
    proc = fleet.play(fleet.roster(stub("solo")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(os.listdir(str(_unit_dir(fleet)))) == sorted(list(UNITS) + ["mosaic-agent@solo.service.d"])
    policy = _unit_dir(fleet) / "mosaic-agent@solo.service.d"
    assert os.listdir(str(policy)) == ["mosaic-supervision.conf"]
    lines = (policy / "mosaic-supervision.conf").read_text().splitlines()
    # The roster's defaults: restart on failure 10 s later, no watchdog (restart_on_hang is off).
    for line in ("Restart=on-failure", "RestartSec=10", "WatchdogSec=0"):
        assert line in lines, lines


@pytest.mark.parametrize("where, second_host, says", [
    ("a b", False, "a systemd unit cannot name it"),
    ("m", True, "the roster places agents on 2 hosts (localhost, other)"),
])
def test_a_mosaic_home_the_fleet_cannot_run_from_is_refused_before_any_host_is_touched(fleet, where, second_host, says):
    home = fleet.tmp / "elsewhere" / where
    agents = [stub("here")]
    if second_host:
        fleet.inventory.write_text(fleet.inventory.read_text() + "    other:\n      ansible_connection: local\n"
                                   "      ansible_python_interpreter: %s\n" % os.path.join(REPO, ".venv", "bin", "python"))
        agents.append(stub("there", host="other"))
    proc = fleet.run_playbook("fleet", fleet.variables(fleet.roster(*agents), mosaic_fleet_mosaic_home=str(home)))
    assert proc.returncode != 0
    assert "mosaic_fleet_mosaic_home=%s: " % home in proc.stdout and says in proc.stdout, proc.stdout[-3000:]
    for host in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M):
        assert host[1] == "0", proc.stdout[-3000:]
    assert not (fleet.tmp / "elsewhere").exists() and not (fleet.home / ".config").exists()
    assert fleet.panes() == {}
