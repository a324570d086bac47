"""tools/fleet/mesh-receive, the forced command of every mesh key, for real: it is run the way
sshd runs it for a `restrict,command="... --from HOST"` key (SSH_ORIGINAL_COMMAND set to what the
client asked for, the client's stdin), with real tmux and the stub agent.

The sending side is the real agent-send.sh -H: its relay command line (from --dry-run, and through
a stand-in ssh that hands it to mesh-receive as sshd would) is what mesh-receive must accept.
The real sshd (restrict: no pty, no forwarding) is exercised by the molecule multihost scenario.
"""

import json
import os
import re
import subprocess

import pytest

from framework_util import wait_for

AUTH_HOST = "web1"   # the host whose key authenticated (baked into the key's forced command)


def receiver(env):
    return os.path.join(env["MOSAIC_HOME"], "tools", "fleet", "mesh-receive")


def sender(env):
    return os.path.join(env["MOSAIC_HOME"], "tools", "tmux", "agent-send.sh")


def receive(env, command, message, *extra):
    """mesh-receive --from AUTH_HOST as sshd runs it: SSH_ORIGINAL_COMMAND and stdin from the peer."""
    run_env = dict(env)
    if command is not None:
        run_env["SSH_ORIGINAL_COMMAND"] = command
    return subprocess.run([receiver(env), "--from", AUTH_HOST] + list(extra), input=message.encode("utf-8"),
                          env=run_env, capture_output=True, timeout=60, check=False)


def relay_command(env, session, socket, claimed_host="laptop", source="planner"):
    """The remote command line agent-send.sh -H sends (its --dry-run's relay argv, last word)."""
    dry = subprocess.run([sender(env), "-H", "fleet@web2", "-s", session, "-L", socket, "-S", source, "-m", "x",
                          "--dry-run"], env=dict(env, MOSAIC_AGENT_HOST=claimed_host),
                         capture_output=True, text=True, timeout=30, check=True)
    return json.loads(dry.stdout)["relay"][-1]


def audit(env):
    path = os.path.join(env["MOSAIC_HOME"], "fleet", "log", "mesh.log")
    return open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []


def test_a_relayed_send_is_delivered_with_the_authenticated_host(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    command = relay_command(fleet_env, "coder0", socket_name, claimed_host="evil-host")
    assert "--src-host evil-host" in command        # the request claims another source host
    result = receive(fleet_env, command, "hello over the mesh\n$(id) `id`")
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["outcome"] == "delivered", report
    assert report["preamble"].startswith("[%s:planner -> " % AUTH_HOST), report
    text = agent.records()[-1]["text"]
    assert text == report["preamble"] + "hello over the mesh\n$(id) `id`"
    assert "evil-host" not in text
    line = audit(fleet_env)[-1]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} outcome=delivered from=web1 "
                    r"claimed=evil-host:planner dst=coder0 bytes=30$", line), line
    assert os.stat(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "mesh.log")).st_mode & 0o077 == 0


@pytest.mark.parametrize("command, why", [
    (None, "no command given"),                       # ssh -t peer / a login: no command
    ("", "no command given"),
    ("id", "is not agent-send.sh"),
    ("bash -c 'id'", "is not agent-send.sh"),
    ("/bin/sh -i", "is not agent-send.sh"),
    ("~/.config/mosaic/tools/tmux/agent-send.sh -H fleet@web3 -s coder0 -m -", "option -H is not accepted"),
    ("~/.config/mosaic/tools/tmux/agent-send.sh -s coder0 -m hello", "must come on stdin"),
    ("~/.config/mosaic/tools/tmux/agent-send.sh -s coder0 -m - ; id", "option ';' is not accepted"),
    ("~/.config/mosaic/tools/tmux/agent-send.sh -s coder0 -L 'a;b' -m -", "invalid -L value"),
    ("~/.config/mosaic/tools/tmux/agent-send.sh -s ../x -m -", "invalid or missing session"),
    ("~/.config/mosaic/tools/tmux/agent-send.sh -s coder0 -m '-' 'unbalanced", "unreadable command line"),
])
def test_anything_but_a_send_is_refused_and_audited(start_agent, fleet_env, command, why):
    agent = start_agent("coder0")
    result = receive(fleet_env, command, "should not arrive")
    assert result.returncode == 2, (command, result.stdout, result.stderr)
    stderr = result.stderr.decode()
    assert why in stderr and "mesh-receive: " in stderr, stderr
    assert json.loads(result.stdout)["outcome"] == "not_delivered"
    assert b"uid=" not in result.stdout + result.stderr       # nothing ran
    assert agent.records() == []
    assert " outcome=refused from=web1 " in audit(fleet_env)[-1]


def test_an_oversized_message_is_refused(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    command = relay_command(fleet_env, "coder0", socket_name)
    result = receive(fleet_env, command, "x" * 1001, "--max-bytes", "1000")
    assert result.returncode == 4, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["outcome"] == "not_delivered" and "more than 1000 bytes" in report["reason"], report
    assert agent.records() == []
    assert " outcome=not_delivered from=web1 claimed=laptop:planner dst=coder0 bytes=1001 " in audit(fleet_env)[-1]
    # At the limit it is delivered.
    ok = receive(fleet_env, command, "y" * 1000, "--max-bytes", "1000")
    assert ok.returncode == 0, (ok.stdout, ok.stderr)
    wait_for(lambda: agent.records() and agent.records()[-1]["text"].endswith("y" * 1000), timeout=15,
             what="the message at the limit")


SSHD_STAND_IN = r"""#!/usr/bin/env bash
# A stand-in for ssh + sshd with a mesh key: whatever the client asks to run, the forced command
# runs, with the asked-for command line in SSH_ORIGINAL_COMMAND (as sshd does for command="...").
while (($#)); do
  case $1 in -o) shift 2 ;; --) shift; break ;; -*) shift ;; *) break ;; esac
done
shift  # the destination
SSH_ORIGINAL_COMMAND="$*" exec "$MESH_RECEIVE" --from web1
"""


def test_agent_send_between_hosts_keeps_its_interface(start_agent, fleet_env, socket_name, tmp_path):
    """agent-send.sh -H, unchanged, delivers through a restricted key; the sender's report has the
    receiver's verdict and the preamble with the authenticated host."""
    agent = start_agent("coder0")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ssh").write_text(SSHD_STAND_IN)
    (bindir / "ssh").chmod(0o755)
    env = dict(fleet_env, PATH="%s:%s" % (bindir, fleet_env["PATH"]), MESH_RECEIVE=receiver(fleet_env),
               MOSAIC_AGENT_NAME="planner", MOSAIC_AGENT_HOST="claims-to-be-web9")
    result = subprocess.run([sender(env), "-H", "fleet@web2", "-s", "coder0", "-L", socket_name, "--json", "-m", "-"],
                            input=b"line one\nline two", env=env, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["outcome"] == "delivered", report
    assert report["preamble"] == "[web1:planner -> web2:coder0] ", report
    assert agent.records()[-1]["text"] == "[web1:planner -> web2:coder0] line one\nline two"
    assert "claimed=claims-to-be-web9:planner" in audit(fleet_env)[-1]
