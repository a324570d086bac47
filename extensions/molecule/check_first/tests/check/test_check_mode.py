"""check_first: `ansible-playbook --check` of the converge playbook on a fresh host."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from fleetcheck import FLEET_USER

# Messages a check-mode pass must never print, even on a task that is allowed to fail.
FORBIDDEN = (
    "could not find the requested service",
    "chown failed",
    "failed to look up user",
    "no such user",
    "...ignoring",
    "FAILED!",
    "UNREACHABLE!",
)


@pytest.fixture(scope="module")
def check_run():
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    proc = subprocess.run(
        ["ansible-playbook", "--check", "--diff", "-i", str(inventory), str(scenario / "converge.yml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False,
    )
    print(proc.stdout)
    return proc


def test_check_pass_succeeds(check_run):
    assert check_run.returncode == 0, check_run.stdout[-4000:]


def test_check_pass_prints_no_hidden_errors(check_run):
    for needle in FORBIDDEN:
        assert needle.lower() not in check_run.stdout.lower(), "check pass printed %r:\n%s" % (
            needle, check_run.stdout[-4000:])


def test_check_pass_predicts_changes(check_run):
    recaps = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", check_run.stdout, re.M)
    hosts = {h: int(c) for h, c in recaps if h != "localhost"}
    assert hosts and all(c > 0 for c in hosts.values()), "no changes predicted on a fresh host: %s" % hosts


def test_check_pass_changed_nothing(host, check_run):
    assert not host.user(FLEET_USER).exists, "the check pass created the fleet user"
    assert not host.file("/home/%s" % FLEET_USER).exists
    assert not host.file("/var/lib/systemd/linger/%s" % FLEET_USER).exists, "the check pass enabled linger"
    assert host.run("pgrep -x tmux").rc != 0, "the check pass started tmux"
