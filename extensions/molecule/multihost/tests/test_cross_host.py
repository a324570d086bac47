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


SSH = "ssh -o BatchMode=yes -o ConnectTimeout=5"


def test_mesh_keys_reach_every_peer_but_only_deliver(host):
    """authorized_keys and known_hosts let the fleet user reach every peer without a prompt, and
    its key runs nothing but mesh-receive there: no command, no shell, no pty."""
    user = FleetUser(host)
    me = host.backend.get_hostname()
    for peer in HOSTS:
        for what, ssh in (("a command", "%s fleet@%s id" % (SSH, peer)),
                          ("a shell", "%s fleet@%s </dev/null" % (SSH, peer))):
            result = user.sh(ssh)
            out = result.stdout + result.stderr
            assert result.rc == 2, "%s -> %s, %s: rc=%s %s" % (me, peer, what, result.rc, out)
            assert "this key only delivers messages" in out, (what, out)   # mesh-receive answered
            assert "uid=" not in out, (what, out)
        # ssh -t(t): the pty is refused (restrict), so the client gives up; nothing ran.
        result = user.sh("%s -tt fleet@%s id </dev/null" % (SSH, peer))
        assert result.rc == 255 and "PTY allocation request failed" in result.stderr, (peer, result.rc, result.stderr)
        assert "uid=" not in result.stdout + result.stderr


def test_mesh_keys_cannot_forward_ports(host):
    if host.backend.get_hostname() != HOSTS[0]:
        pytest.skip("from host1 only")
    user = FleetUser(host)
    # A local forward to host2's sshd: ssh itself listens, but host2 refuses every channel it opens.
    script = (
        "%s -N -L 127.0.0.1:17022:127.0.0.1:22 fleet@%s 2>/tmp/mesh-forward.err & pid=$!; "
        "for i in $(seq 50); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 17022), 1)' "
        "2>/dev/null && break; sleep 0.2; done; "
        "python3 -c 'import socket; s = socket.create_connection((\"127.0.0.1\", 17022), 5); s.settimeout(5); "
        "print(\"got\", s.recv(64))' ; sleep 0.5; kill $pid; cat /tmp/mesh-forward.err" % (SSH, HOSTS[1]))
    result = user.sh(script)
    assert "SSH-2.0" not in result.stdout, result.stdout            # host2's sshd banner never came back
    assert "administratively prohibited" in result.stdout + result.stderr, result.stdout + result.stderr


def _mesh_log(user):
    return (user.file_text("fleet/log/mesh.log") or "").splitlines()


def test_a_claimed_source_host_is_replaced_by_the_authenticated_one(host, peer_host):
    if host.backend.get_hostname() != HOSTS[0]:
        pytest.skip("sent from host1 only")
    sender = FleetUser(host)
    receiver = FleetUser(peer_host(HOSTS[1]))
    message = "spoof check %s" % uuid.uuid4().hex
    result = sender.sh("MOSAIC_AGENT_HOST=%s MOSAIC_AGENT_NAME=orchestrator %s -H fleet@%s -s enhancer -m %s --json"
                       % (HOSTS[2], SEND, HOSTS[1], shlex.quote(message)))
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.rc == 0 and report["outcome"] == "delivered", (result.stdout, result.stderr)
    assert report["preamble"] == "[%s:orchestrator -> %s:enhancer] " % (HOSTS[0], HOSTS[1]), report
    entries = wait_until(lambda: [e for e in _stub_log(receiver, "enhancer") if message in e["text"]], timeout=15)
    assert entries[0]["text"] == report["preamble"] + message
    audit = [line for line in _mesh_log(receiver) if "claimed=%s:orchestrator" % HOSTS[2] in line]
    assert audit and " outcome=delivered from=%s " % HOSTS[0] in audit[-1], _mesh_log(receiver)[-3:]
    assert " dst=enhancer bytes=%d" % len(message) in audit[-1], audit[-1]


def test_an_oversized_message_is_refused(host, peer_host):
    if host.backend.get_hostname() != HOSTS[0]:
        pytest.skip("sent from host1 only")
    sender = FleetUser(host)
    receiver = FleetUser(peer_host(HOSTS[1]))
    before = len(_stub_log(receiver, "enhancer"))
    result = sender.sh("head -c 300000 /dev/zero | tr '\\0' x | %s -H fleet@%s -s enhancer -m - --json"
                       % (SEND, HOSTS[1]))
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.rc == 4 and report["outcome"] == "not_delivered", (result.stdout, result.stderr)
    assert "more than 262144 bytes" in report["reason"], report
    assert len(_stub_log(receiver, "enhancer")) == before
    assert " outcome=not_delivered from=%s " % HOSTS[0] in _mesh_log(receiver)[-1]
    assert " bytes=262145" in _mesh_log(receiver)[-1]


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
