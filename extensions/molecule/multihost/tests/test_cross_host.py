"""multihost: fleet hosts reach each other over ssh as the fleet user, and agent-send.sh -H
delivers into an agent's pane on another host."""
import json
import shlex
import time
import uuid

import pytest

from fleetcheck import FleetUser, wait_until

HOSTS = ["mf-multihost-host1", "mf-multihost-host2", "mf-multihost-host3"]
SEND = "~/.config/mosaic/tools/tmux/agent-send.sh"


def test_ssh_between_every_pair_of_hosts(host):
    """authorized_keys and known_hosts let the fleet user ssh to every peer without a prompt."""
    user = FleetUser(host)
    me = host.backend.get_hostname()
    for peer in HOSTS:
        result = user.sh("ssh -o BatchMode=yes -o ConnectTimeout=5 fleet@%s hostname" % peer)
        assert result.rc == 0 and result.stdout.strip() == peer, "%s -> %s: rc=%s %s" % (
            me, peer, result.rc, result.stderr)


def _send(user, dest, session, message, timeout=10):
    start = time.monotonic()
    result = user.sh("%s -H %s -s %s -m %s --timeout %d --json" % (
        SEND, shlex.quote(dest), shlex.quote(session), shlex.quote(message), timeout))
    return result, time.monotonic() - start


def _stub_log(user, agent):
    text = user.file_text("fleet/run/%s.stub.log" % agent) or ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_send_from_host1_lands_in_an_agent_pane_on_host2(host, peer_host):
    if host.backend.get_hostname() != HOSTS[0]:
        pytest.skip("sent from host1 only")
    sender = FleetUser(host)
    receiver = FleetUser(peer_host(HOSTS[1]))
    message = "cross-host hello %s: $(date) `id` 'quotes' \"too\"" % uuid.uuid4().hex
    result, elapsed = _send(sender, "fleet@%s" % HOSTS[1], "enhancer", message)
    assert result.rc == 0, "agent-send.sh -H exited %s (%.1f s): %s %s" % (
        result.rc, elapsed, result.stdout, result.stderr)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "delivered", report
    entries = wait_until(lambda: [e for e in _stub_log(receiver, "enhancer") if message in e["text"]],
                         timeout=15)
    assert len(entries) == 1, "message not (or not once) in enhancer's stub log on %s: %s" % (
        HOSTS[1], _stub_log(receiver, "enhancer")[-3:])
    text = entries[0]["text"]
    assert text.endswith(message), "delivered text was altered: %r" % text
    assert "-> %s:enhancer]" % HOSTS[1] in text, "no preamble naming the destination: %r" % text


def test_send_to_an_unreachable_host_fails_within_the_timeout(host):
    if host.backend.get_hostname() != HOSTS[0]:
        pytest.skip("sent from host1 only")
    user = FleetUser(host)
    for dest in ("fleet@mf-multihost-nosuchhost", "fleet@10.255.255.1"):
        result, elapsed = _send(user, dest, "enhancer", "nobody home", timeout=5)
        assert result.rc == 4, "send to %s exited %s, not 4 (not_delivered): %s %s" % (
            dest, result.rc, result.stdout, result.stderr)
        assert json.loads(result.stdout.strip().splitlines()[-1])["outcome"] == "not_delivered"
        assert elapsed < 25, "send to unreachable %s took %.1f s" % (dest, elapsed)
