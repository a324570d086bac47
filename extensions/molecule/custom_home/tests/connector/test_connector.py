"""custom_home: the orchestrator's chat connector under the real systemd user manager. The roster
gets `connector: {kind: matrix}` pointing at a homeserver on loopback that nothing serves (no
Synapse in the container): the stand-up enables and starts mosaic-connector.service from the
custom home (its drop-in), fleet_ps reports it `unreachable` with the reason and ps.yml fails on
it; a SIGKILL of the connector is restarted by systemd (Restart=on-failure); switching the
roster back to `kind: tmux` stops and disables the unit. The last test stands it up once more,
so that the scenario's take-down (tests/down) shows that removing the fleet removes it."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from fleetcheck import FleetUser, stub_preset, wait_until

UNIT = "mosaic-connector.service"
HOMESERVER = "http://127.0.0.1:9"  # loopback, nothing listens: unreachable at once
TOKEN = "molecule-not-a-token-%s" % os.getpid()


def playbook(tmp_path, name, variables=None, *extra):
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    argv = ["ansible-playbook", "-i", str(inventory), "mosaic.fleet.%s" % name]
    if variables is not None:
        varfile = tmp_path / ("%s-vars.json" % name)
        varfile.write_text(json.dumps(variables))
        argv += ["-e", "@%s" % varfile]
    proc = subprocess.run(argv + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600, check=False)
    print(proc.stdout)
    return proc


def matrix_fleet(tmp_path, kind="matrix"):
    """The scenario's roster (the local-canary preset) with the connector of ``kind``, as the
    variables of a stand-up: its file in place of the scenario's, the token as a secret."""
    roster = stub_preset("local-canary")
    roster["connector"] = {"kind": kind}
    if kind == "matrix":
        roster["connector"]["matrix"] = {"homeserver_url": HOMESERVER, "user_id": "@fleet:localhost",
                                         "room_id": "!molecule", "allowed_senders": ["@operator:localhost"]}
    path = tmp_path / ("roster-%s.yaml" % kind)
    path.write_text(json.dumps(roster))  # JSON is YAML
    return {"mosaic_fleet_roster_file": str(path), "mosaic_fleet_secrets": {"MOSAIC_MATRIX_TOKEN": TOKEN}}


def shown(user, *props):
    out = user.systemctl("show", *["-p%s" % p for p in props], UNIT).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def running(user):
    props = shown(user, "ActiveState", "SubState", "MainPID", "UnitFileState", "NRestarts")
    return props if props.get("SubState") == "running" and props.get("MainPID", "0") != "0" else None


@pytest.fixture(scope="module")
def stood_up(host, tmp_path_factory):
    user = FleetUser(host)
    tmp_path = tmp_path_factory.mktemp("connector")
    proc = playbook(tmp_path, "fleet", matrix_fleet(tmp_path))
    assert proc.returncode == 0, "fleet.yml with a matrix connector failed:\n%s" % proc.stdout[-4000:]
    return user, proc


def test_the_stand_up_runs_the_connector_unit_from_the_custom_home(stood_up):
    user, proc = stood_up
    props = wait_until(lambda: running(user), timeout=60)
    assert props and props["UnitFileState"] == "enabled", user.unit_diagnostics(UNIT)
    exe = user.host.run("tr '\\0' ' ' < /proc/%s/cmdline" % props["MainPID"]).stdout
    assert "%s/tools/fleet/mosaic_connector.py run" % user.mosaic_home in exe, exe
    assert user.host.file(user.mosaic_home + "/fleet/connector.json").exists
    credentials = user.host.file(user.mosaic_home + "/credentials/fleet.env")
    assert credentials.mode == 0o600 and TOKEN in user.sh("cat %s" % credentials.path).stdout
    assert TOKEN not in proc.stdout, "the token shows in the play's output"
    for rel in ("fleet/connector.json", "fleet/roster.yaml"):
        assert TOKEN not in (user.sh("cat %s/%s" % (user.mosaic_home, rel)).stdout), rel


def test_ps_reports_the_connector_unreachable_with_its_reason_and_fails(stood_up, tmp_path):
    user, _proc = stood_up
    records = tmp_path / "ps.json"
    proc = playbook(tmp_path, "ps", None, "-e", "mosaic_fleet_ps_json=%s" % records)
    assert proc.returncode != 0, "ps.yml passed with an unreachable connector:\n%s" % proc.stdout[-3000:]
    assert "connector not healthy" in proc.stdout, proc.stdout[-3000:]
    report = json.loads(records.read_text())
    connector = [r for r in report["records"] if r["kind"] == "connector"]
    assert len(connector) == 1 and connector[0]["health"] == "unreachable", report["records"]
    assert "127.0.0.1:9" in connector[0]["health_reason"], connector[0]
    assert [r["health"] for r in report["records"] if r["kind"] == "agent"] == ["healthy"] * 3, report["records"]
    assert not report["summary"]["ok"]
    # The connector keeps running and keeps trying: unreachable is its state, not a crash.
    assert running(user), user.unit_diagnostics(UNIT)


def test_a_killed_connector_is_restarted_by_systemd(stood_up):
    user, _proc = stood_up
    before = wait_until(lambda: running(user), timeout=60)
    assert before, user.unit_diagnostics(UNIT)
    killed = user.sh("kill -9 %s" % before["MainPID"])
    assert killed.rc == 0, killed.stderr

    def restarted():
        props = running(user)
        return props if props and props["MainPID"] != before["MainPID"] else None
    after = wait_until(restarted, timeout=60)
    assert after, user.unit_diagnostics(UNIT)
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1, (before, after)


def test_kind_tmux_stops_and_disables_the_unit(stood_up, tmp_path):
    user, _proc = stood_up
    proc = playbook(tmp_path, "fleet", matrix_fleet(tmp_path, "tmux"))
    assert proc.returncode == 0, proc.stdout[-4000:]
    props = shown(user, "ActiveState", "UnitFileState")
    assert props["ActiveState"] == "inactive" and props["UnitFileState"] == "disabled", props
    assert not user.host.file(user.mosaic_home + "/fleet/connector.json").exists
    assert re.search(r"^\s*\S+\s+: ok=\d+\s+changed=[1-9]", proc.stdout, re.M), proc.stdout[-2000:]


def test_stood_up_again_for_the_take_down(stood_up, tmp_path):
    user, _proc = stood_up
    proc = playbook(tmp_path, "fleet", matrix_fleet(tmp_path))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert wait_until(lambda: running(user), timeout=60), user.unit_diagnostics(UNIT)
