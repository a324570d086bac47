"""tools/fleet/fleet-ps: this host's fleet table from inside the host, by fleet_ps's own code.

The command runs the copies in tools/fleet/mosaic_fleet_lib of the installed framework (the
module_utils themselves, added by plugins/module_utils/shipped.py as fleet_reseed ships them), here with ``python3 -I -S`` and a bare
environment, so nothing of the collection or of Ansible is importable: what it reports comes
from the shipped copies alone. Its report is compared with the module code run in-process.
"""

import json
import os
import subprocess

from framework_util import wait_for
from ansible_collections.mosaic.fleet.plugins.module_utils import ps_report
from test_fleet_ps import STUBS, Fleet


def fleet_ps(fleet, *args):
    """Run the installed tools/fleet/fleet-ps as an agent would, from a bare environment."""
    env = {key: fleet.env[key] for key in ("HOME", "MOSAIC_HOME", "TMUX_TMPDIR", "PATH", "LANG")}
    tool = os.path.join(fleet.mosaic_home, "tools", "fleet", "fleet-ps")
    return subprocess.run(["python3", "-I", "-S", tool] + list(args), env=env, capture_output=True,
                          text=True, timeout=60, check=False, cwd="/")


def test_fleet_ps_reports_what_the_module_reports(fleet_env, socket_name):
    fleet = Fleet(fleet_env, socket_name, [dict(a) for a in STUBS])
    fleet.start("orchestrator", "enhancer", "worker")
    assert fleet.tmux("new-session", "-d", "-t", "=worker", "-s", "worker-view-1").returncode == 0
    assert fleet.tmux("new-session", "-d", "-s", "scratch").returncode == 0
    wait_for(lambda: fleet.ps(supervisor="tmux")["summary"]["healthy"] == 3, what="every stub healthy")

    result = fleet_ps(fleet, "--json", "--supervisor", "tmux")
    assert result.returncode == 0, result.stderr           # every agent healthy (ad hoc or not)
    data = json.loads(result.stdout)
    expected = fleet.ps(supervisor="tmux")
    local = data["report"]
    assert [(a["name"], a["health"], a["pane_pid"]) for a in local["agents"]] == [
        (a["name"], a["health"], a["pane_pid"]) for a in expected["agents"]]
    assert local["viewer_sessions"] == expected["viewer_sessions"] == [
        {"session": "worker-view-1", "socket": fleet.socket, "agent": "worker"}]
    assert [s["session"] for s in local["adhoc_sessions"]] == ["scratch"]
    assert local["commands"] == expected["commands"]       # one list-panes, the module's argv
    # Records and summary as ps.yml's JSON (mosaic_fleet_ps_json) has them.
    records = ps_report.fleet_ps_records({"localhost": expected})
    assert [(r["kind"], r["name"], r["health"]) for r in data["records"]] == [
        (r["kind"], r["name"], r["health"]) for r in records]
    assert data["summary"] == ps_report.fleet_ps_summary(records)
    assert data["summary"]["counts"]["healthy"] == 3 and data["summary"]["adhoc_sessions"] == 1

    table = fleet_ps(fleet, "--supervisor", "tmux")
    assert table.stdout.splitlines()[0].split() == list(ps_report.COLUMNS)
    rows = [line.split() for line in table.stdout.splitlines()[1:5]]
    assert [(row[2], row[8]) for row in rows] == [("enhancer", "healthy"), ("orchestrator", "healthy"),
                                                  ("worker", "healthy"), ("scratch", "adhoc")]
    assert "3 agents on 1 host: 3 healthy" in table.stdout

    # --lines: each agent's screen after the table (the module's ``lines``).
    screens = fleet_ps(fleet, "--supervisor", "tmux", "--lines", "3")
    assert screens.returncode == 0
    assert "\n== worker ==\n" in screens.stdout and screens.stdout.rstrip().endswith("stub>")
    assert json.loads(fleet_ps(fleet, "--json", "--lines", "2")
                      .stdout)["report"]["agents"][0]["screen"].splitlines()[-1] == "stub>"

    # A killed agent: exit 1 and "missing".
    assert fleet.tmux("kill-session", "-t", "=worker").returncode == 0
    result = fleet_ps(fleet, "--json", "--supervisor", "tmux")
    assert result.returncode == 1
    assert {a["name"]: a["health"] for a in json.loads(result.stdout)["report"]["agents"]}["worker"] == "missing"


def test_fleet_ps_errors(fleet_env, socket_name):
    fleet = Fleet(fleet_env, socket_name, [dict(a) for a in STUBS])
    result = fleet_ps(fleet, "--lines", "-1")
    assert result.returncode == 3 and "lines must be between 0 and" in result.stderr
    os.remove(os.path.join(fleet.mosaic_home, "fleet", "roster.yaml"))
    result = fleet_ps(fleet)
    assert result.returncode == 3 and "cannot read the rendered roster" in result.stderr
    assert "Traceback" not in result.stderr
    for argv in (["--stale-after", "-1"], ["--supervisor", "docker"], ["extra"]):
        assert fleet_ps(fleet, *argv).returncode == 2
