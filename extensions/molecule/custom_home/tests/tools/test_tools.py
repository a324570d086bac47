"""custom_home: the operator's playbooks find the fleet in its custom MOSAIC_HOME with nothing but
the inventory's mosaic_fleet_mosaic_home: ps reports every agent healthy, send delivers into an
agent, and a re-seed finds the framework there up to date."""
import json
import os
import re
import subprocess
import uuid
from pathlib import Path

from fleetcheck import FleetUser, wait_until


def playbook(name, *extra):
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), "mosaic.fleet.%s" % name] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    print(proc.stdout)
    return proc


def recap(proc, host):
    match = re.search(r"^%s\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(host),
                      proc.stdout, re.M)
    assert match, proc.stdout[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def test_ps_playbook_reports_every_agent_healthy(host, tmp_path):
    records = tmp_path / "ps.json"
    proc = playbook("ps", "-e", "mosaic_fleet_ps_json=%s" % records)
    assert proc.returncode == 0, "ps.yml failed:\n%s" % proc.stdout[-3000:]
    report = json.loads(records.read_text())
    agents = sorted(r["name"] for r in report["records"] if r["kind"] == "agent")
    assert agents == ["enhancer", "orchestrator", "worker"], report["records"]
    assert all(r["health"] == "healthy" for r in report["records"]), report["records"]
    assert report["summary"]["ok"], report["summary"]


def _send(message, *extra):
    return playbook("send", "-e", "agent=worker", "-e", json.dumps({"message": message}), *extra)


def received(user, message):
    """The texts the worker's stub logged that carry ``message``."""
    text = user.file_text("fleet/run/worker.stub.log") or ""
    return [json.loads(line)["text"] for line in text.splitlines() if message in line]


def test_send_playbook_delivers_into_the_agent(host):
    """As the fleet user (``ansible_user=fleet``), ``~/fleet-home`` from the inventory."""
    user = FleetUser(host)
    message = "custom home hello %s" % uuid.uuid4().hex
    proc = _send(message, "-e", "ansible_user=%s" % user.name)
    assert proc.returncode == 0, "send.yml failed:\n%s" % proc.stdout[-3000:]
    texts = wait_until(lambda: received(user, message), timeout=15)
    assert len(texts) == 1 and texts[0].endswith(message), texts
    assert user.file_text("fleet/log/send.log") and message not in user.file_text("fleet/log/send.log")
    assert not host.file(user.default_mosaic_home).exists, "send wrote under ~/.config/mosaic"


def test_reseed_playbook_finds_the_framework_up_to_date(host):
    user = FleetUser(host)
    proc = playbook("reseed", "-e", "force=true")
    assert proc.returncode == 0, "reseed.yml failed:\n%s" % proc.stdout[-3000:]
    assert recap(proc, host.backend.get_hostname())["changed"] == 0, proc.stdout[-3000:]
    assert "checked, nothing changed" in proc.stdout, proc.stdout[-3000:]
    assert not host.file(user.default_mosaic_home).exists, "the re-seed wrote under ~/.config/mosaic"


def test_send_playbook_as_root_for_the_fleet_user(host):
    """As root (the inventory's become) for the fleet user: agent-send.sh runs as that user and reads
    the message from the stdin root handed it."""
    user = FleetUser(host)
    message = "custom home as root %s" % uuid.uuid4().hex
    proc = _send(message)
    assert proc.returncode == 0, "send.yml failed:\n%s" % proc.stdout[-3000:]
    texts = wait_until(lambda: received(user, message), timeout=15)
    assert len(texts) == 1 and texts[0].endswith(message), texts
