"""lifecycle: a roster without an orchestrator fails on the controller before any host task,
and the host is unchanged."""
import os
import re
import subprocess
from pathlib import Path

from fleetcheck import FleetUser

ROSTER = Path(__file__).resolve().parents[2] / "rosters" / "without-orchestrator.yml"
# Checksums of the fleet user's config tree (content, mode, owner), minus what running agents
# write on their own (heartbeats, stub logs, send logs).
CONFIG_SUMS = (
    "cd ~/.config && find . \\( -path ./mosaic/fleet/run -o -path ./mosaic/fleet/log \\) -prune -o "
    "-printf '%p %m %u %y\\n' | sort && "
    "find . \\( -path ./mosaic/fleet/run -o -path ./mosaic/fleet/log \\) -prune -o -type f -print0 "
    "| sort -z | xargs -0 sha256sum"
)


def _state(user):
    sums = user.sh(CONFIG_SUMS)
    assert sums.rc == 0, sums.stderr
    units = user.systemctl("list-units", "--all", "--plain", "--no-legend", "mosaic-*").stdout
    units = sorted(" ".join(line.split()[:4]) for line in units.splitlines())
    return sums.stdout, units, sorted(user.sessions("mosaic-fleet"))


def test_roster_without_orchestrator_changes_nothing(host):
    user = FleetUser(host)
    before = _state(user)
    assert "./mosaic/fleet/agents/worker0.env" in before[0], "nothing to compare: the fleet is not there"
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(scenario / "converge.yml"),
         "-e", "mosaic_fleet_roster_file=%s" % ROSTER],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    print(proc.stdout)
    assert proc.returncode != 0, "the play accepted a full roster without an orchestrator"
    assert "orchestrator" in proc.stdout.lower(), "the failure does not say why:\n%s" % proc.stdout[-3000:]
    me = host.backend.get_hostname()
    recap = re.search(r"^%s\s+: ok=(\d+)\s+changed=(\d+)" % re.escape(me), proc.stdout, re.M)
    assert recap is None or recap.groups() == ("0", "0"), "tasks ran on %s:\n%s" % (me, proc.stdout[-3000:])
    after = _state(user)
    assert after == before, "the host changed"
