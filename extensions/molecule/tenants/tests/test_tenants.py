"""tenants: three fleets (acme on both hosts, globex on host1, initech on host2) in one inventory.

Each tenant is its own Linux user: its own files, systemd user manager, tmux server and ssh keys.
Run as one tenant's user, reading another's files, connecting to its tmux server and delivering to
its agents each fail with a clear error; its mesh keys reach only its own user on its own hosts and
only deliver; the operator's playbooks handle every fleet (one ps.yml table, send.yml's
tenant/agent) and refuse fleets that claim one user before any host is touched.
"""
import json
import re
import shlex
import uuid
from pathlib import Path

import pytest

from fleetcheck import (FleetUser, assert_heartbeats, assert_sessions, assert_units,
                        expected_agents, load_roster, wait_until)
from fleetcheck import run_playbook as playbook

HOST1, HOST2 = "mf-tenants-host1", "mf-tenants-host2"
ROSTERS = Path(__file__).resolve().parents[1] / "rosters"
TENANTS = {name: load_roster(ROSTERS / ("%s.yml" % name)) for name in ("acme", "globex", "initech")}
SEND = "~/.config/mosaic/tools/tmux/agent-send.sh"
SSH = "ssh -o BatchMode=yes -o ConnectTimeout=5"


def here(host):
    return host.backend.get_hostname()


def tenants_on(inventory_host):
    return [t for t, roster in TENANTS.items() if expected_agents(roster, inventory_host, None)]


def only_on(host, name):
    if here(host) != name:
        pytest.skip("runs on %s only" % name)


def test_each_tenant_runs_as_its_own_user(host):
    assert tenants_on(here(host)) == (["acme", "globex"] if here(host) == HOST1 else ["acme", "initech"])
    uids = set()
    for tenant in tenants_on(here(host)):
        user = FleetUser(host, tenant)
        uids.add(user.uid)
        agents = [dict(a, tenant=tenant) for a in expected_agents(TENANTS[tenant], here(host), None)]
        assert_units(user, agents)
        assert_sessions(user, agents)
        for agent in agents:
            env = host.file("%s/fleet/agents/%s.env" % (user.mosaic_home, agent["name"]))
            assert env.mode == 0o600 and env.user == tenant, (env.path, env.mode, env.user)
            assert "MOSAIC_TENANT=%s\n" % tenant in env.content_string, env.content_string
        assert_heartbeats(user, agents)
        for path in (user.home, user.mosaic_home, user.mosaic_home + "/fleet", user.mosaic_home + "/fleet/log"):
            assert host.file(path).mode == 0o700, "%s has mode %o" % (path, host.file(path).mode)
    assert len(uids) == 2


def test_one_ps_table_across_hosts_and_tenants(host, tmp_path):
    only_on(host, HOST1)
    records_file = tmp_path / "ps.json"
    last = []

    def healthy():
        proc = playbook("ps", "-e", "mosaic_fleet_ps_json=%s" % records_file)
        last[:] = [proc]
        return proc.returncode == 0
    wait_until(healthy, timeout=90, interval=5)
    assert last[0].returncode == 0, last[0].stdout[-3000:]
    report = json.loads(records_file.read_text())
    seen = sorted((r["host"], r["tenant_id"], r["name"]) for r in report["records"] if r["kind"] == "agent")
    expected = sorted((a["host"], tenant, a["name"]) for tenant, roster in TENANTS.items()
                      for h in (HOST1, HOST2) for a in expected_agents(roster, h, None))
    assert seen == expected and len(seen) == 8, seen
    assert all(r["health"] == "healthy" for r in report["records"]), report["records"]
    table = last[0].stdout
    assert re.search(r"^%s\s+globex\s+analyst\s" % HOST1, table, re.M), table
    assert re.search(r"^%s\s+initech\s+orchestrator\s" % HOST2, table, re.M), table


def test_a_tenant_cannot_read_connect_to_or_deliver_into_another(host):
    only_on(host, HOST1)
    acme, globex = FleetUser(host, "acme"), FleetUser(host, "globex")
    theirs = globex.mosaic_home + "/fleet"
    for what, path in (("env file", theirs + "/agents/analyst.env"), ("comms sheet", theirs + "/agents/analyst.comms.md"),
                       ("roster", theirs + "/roster.yaml"), ("transcript", theirs + "/log/transcripts/analyst.log")):
        assert globex.sh("cat %s" % shlex.quote(path)).rc == 0, what           # its owner can
        result = acme.sh("cat %s" % shlex.quote(path))
        assert result.rc != 0 and result.stdout == "" and "Permission denied" in result.stderr, (what, result.stderr)
    socket = "/tmp/tmux-%d/mosaic-fleet" % globex.uid
    result = acme.sh("tmux -S %s list-sessions" % socket)
    assert result.rc != 0 and "error connecting to %s (Permission denied)" % socket in result.stderr, result.stderr
    marker = "from acme %s" % uuid.uuid4().hex
    for args in ("-s analyst", "-L mosaic-fleet -s analyst"):
        result = acme.sh("%s %s -m %s --json" % (SEND, args, shlex.quote(marker)))
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert result.rc == 5 and report["outcome"] == "no_session", (result.stdout, result.stderr)
        assert "no session analyst" in report["reason"] and "of uid %d" % acme.uid in report["reason"], report
    assert marker not in (globex.file_text("fleet/run/analyst.stub.log") or "")


def test_cross_host_send_within_a_tenant_is_delivered(host, peer_host):
    only_on(host, HOST1)
    sender, receiver = FleetUser(host, "acme"), FleetUser(peer_host(HOST2), "acme")
    message = "acme across hosts %s" % uuid.uuid4().hex
    result = sender.sh("MOSAIC_AGENT_NAME=orchestrator %s -H acme@%s -s coder0 -m %s --json"
                       % (SEND, HOST2, shlex.quote(message)))
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.rc == 0 and report["outcome"] == "delivered", (result.stdout, result.stderr)
    assert report["preamble"] == "[%s:orchestrator -> %s:coder0] " % (HOST1, HOST2), report
    texts = wait_until(lambda: [line for line in (receiver.file_text("fleet/run/coder0.stub.log") or "").splitlines()
                                if message in line], timeout=15)
    assert len(texts) == 1
    assert " outcome=delivered from=%s claimed=%s:orchestrator dst=coder0 " % (HOST1, HOST1) in \
        receiver.file_text("fleet/log/mesh.log").splitlines()[-1]


def test_mesh_keys_are_per_tenant_and_only_deliver(host, peer_host):
    only_on(host, HOST1)
    acme, globex = FleetUser(host, "acme"), FleetUser(host, "globex")
    refused = acme.sh("%s acme@%s id" % (SSH, HOST2))
    assert refused.rc == 2 and "this key only delivers messages" in refused.stderr, refused.stderr
    # globex has no fleet on host2: its key is trusted nowhere there, not even by acme. (Its
    # known_hosts does not know host2 either; skip that check so the key itself is what is refused.)
    unknown_host = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    for dest in ("acme@%s" % HOST2, "initech@%s" % HOST2):
        result = globex.sh("%s %s %s %s -s coder0 -m hi --json" % (SSH, unknown_host, dest, SEND))
        assert result.rc == 255 and "Permission denied (publickey" in result.stderr, (dest, result.stderr)
    initech = FleetUser(peer_host(HOST2), "initech")
    result = initech.sh("%s %s acme@%s id" % (SSH, unknown_host, HOST1))
    assert result.rc == 255 and "Permission denied (publickey" in result.stderr, result.stderr


def test_send_playbook_addresses_tenant_slash_agent(host):
    only_on(host, HOST1)
    ambiguous = playbook("send", "-e", "agent=orchestrator", "-e", "message=hello")
    assert ambiguous.returncode != 0
    assert "say which, as acme/orchestrator or globex/orchestrator" in ambiguous.stdout, ambiguous.stdout[-3000:]
    globex = FleetUser(host, "globex")
    message = "globex only %s" % uuid.uuid4().hex
    sent = playbook("send", "-e", "agent=globex/analyst", "-e", json.dumps({"message": message}))
    assert sent.returncode == 0, sent.stdout[-3000:]
    wait_until(lambda: message in (globex.file_text("fleet/run/analyst.stub.log") or ""), timeout=15)
    assert message not in (FleetUser(host, "acme").file_text("fleet/log/send.log") or "")


def test_fleets_claiming_one_user_are_refused_before_any_host(host):
    only_on(host, HOST1)
    fleets = [{"tenant": "acme", "user": "acme", "roster_file": str(ROSTERS / "acme.yml")},
              {"tenant": "globex", "user": "acme", "roster_file": str(ROSTERS / "globex.yml")},
              {"tenant": "globex", "user": "globex", "roster_file": str(ROSTERS / "globex.yml")}]
    proc = playbook("fleet", "-e", json.dumps({"mosaic_fleets": fleets}))
    assert proc.returncode != 0
    assert "user acme on %s is claimed by tenants acme and globex" % HOST1 in proc.stdout, proc.stdout[-3000:]
    assert "tenant globex is given twice: mosaic_fleets[1] and mosaic_fleets[2]" in proc.stdout
    assert "Stand each tenant" not in proc.stdout          # no host was touched


def test_reseed_playbook_reseeds_every_fleet(host):
    only_on(host, HOST1)
    proc = playbook("reseed", "-e", "force=true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    for name, tenant in ((HOST1, "acme"), (HOST1, "globex"), (HOST2, "acme"), (HOST2, "initech")):
        assert re.search(r"reseed-fleet\.yml for [^=]*%s[^=]* => \(item=%s\)" % (name, tenant), proc.stdout), (name, tenant)
    assert proc.stdout.count("checked, nothing changed") >= 4, proc.stdout[-3000:]
    assert re.search(r"^%s\s+: ok=\d+\s+changed=0 " % HOST1, proc.stdout, re.M), proc.stdout[-1500:]
