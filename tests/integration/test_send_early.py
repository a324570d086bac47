"""A message sent while its agent is still starting (issue 13, "receives fleet_send as delivered").

agent-send.sh pastes nothing into a pane whose screen is still blank: the runtime there has not
drawn its input yet and drops the paste (opencode: its plugin beats 1-2 s before its TUI draws,
far longer on a busy host or a first run), or the terminal merely echoes it (before the runtime
sets raw mode). The send waits for the screen (within --timeout, then not_delivered: nothing
was pasted), so the message is delivered once, never lost and never twice.

- the real opencode (pinned, against the mock model) from a fresh HOME, sent to the moment its
  heartbeat first appears: delivered, and the model gets the message exactly once (before the
  gate: unconfirmed and lost in 3 of 3 runs);
- on plain tmux, a pane that stays blank for 2 s before the stub agent starts: delivered once
  (before the gate: unconfirmed, the terminal echoed it); a pane that stays blank: not_delivered
  at the timeout, and nothing reaches the program that starts there afterwards.
"""

import json
import os
import subprocess
import time

import mock_model as mm
from framework_util import capture, run_tool, wait_for, write_agent_env


def agent_send(env, socket, name, message, timeout="30"):
    result = subprocess.run(
        [os.path.join(env["MOSAIC_HOME"], "tools", "tmux", "agent-send.sh"), "-L", socket, "-s", name,
         "--json", "--timeout", timeout, "-m", message],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_opencode_takes_a_message_sent_at_its_first_heartbeat(mock_model, runtime_bin, fleet_env, socket_name,
                                                              tmp_path):
    name, runtime = "oc0", "opencode"
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(fleet_env, MOSAIC_RUNTIME_BIN=runtime_bin)
    mm.prepare_home(env["HOME"], runtime, str(workdir), mock_model.url, runtime_bin)
    mm.write_credentials(env["MOSAIC_HOME"], runtime, mock_model.url)
    write_agent_env(env, name, runtime=runtime, model="mosaic/mock-model", workdir=str(workdir), socket=socket_name)
    mock_model.reset()
    mock_model.script([mm.text("EARLY-ACK got it", runtime=runtime), mm.text("ok")])
    heartbeat = os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + ".heartbeat")

    result = run_tool(env, "start-agent-session.sh", name, timeout=60)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: os.path.exists(heartbeat), timeout=90, interval=0.02, what="opencode's first heartbeat")
    rc, report = agent_send(env, socket_name, name, "EARLY-MESSAGE sent at the first heartbeat", timeout="60")
    assert rc == 0 and report["outcome"] == "delivered", "%s\n%s" % (json.dumps(report), capture(env, socket_name, name))
    wait_for(lambda: mock_model.saw("EARLY-MESSAGE"), timeout=60, what="opencode's turn with the early message")
    wait_for(lambda: "EARLY-ACK" in capture(env, socket_name, name), timeout=60, what="opencode's answer")
    # Delivered once: every turn request carries the message once (a second paste would add a turn).
    turns = [r for r in mock_model.saw("EARLY-MESSAGE") if mm.TOOL[runtime] in r.text]
    assert turns and all(r.text.count("EARLY-MESSAGE") == 1 for r in turns), turns


def start_late(env, socket, name, delay):
    """A pane that shows nothing for ``delay`` seconds, then runs the stub agent."""
    stub = os.path.join(env["MOSAIC_HOME"], "tools", "fleet", "stub-agent")
    setenv = []
    for key, value in (("MOSAIC_HOME", env["MOSAIC_HOME"]), ("MOSAIC_AGENT_NAME", name),
                       ("MOSAIC_TMUX_SOCKET", socket), ("HOME", env["HOME"])):
        setenv += ["-e", "%s=%s" % (key, value)]
    result = subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", name, "-x", "120", "-y", "40"]
                            + setenv + ["sleep %s; exec python3 %s" % (delay, stub)],
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + ".stub.log")


def records(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def test_a_blank_pane_is_waited_for(fleet_env, socket_name):
    log = start_late(fleet_env, socket_name, "late0", 2)
    began = time.monotonic()
    rc, report = agent_send(fleet_env, socket_name, "late0", "sent before the agent drew anything", timeout="20")
    assert rc == 0 and report["outcome"] == "delivered", report
    assert time.monotonic() - began >= 1.5   # it waited for the program
    texts = records(log)
    assert [t for t in texts if t.endswith("sent before the agent drew anything")] == [
        report["preamble"] + "sent before the agent drew anything"], texts


def test_a_pane_still_blank_at_the_timeout_gets_nothing(fleet_env, socket_name):
    log = start_late(fleet_env, socket_name, "late1", 4)
    rc, report = agent_send(fleet_env, socket_name, "late1", "never pasted", timeout="1")
    assert rc == 4 and report["outcome"] == "not_delivered", report
    assert "shows nothing yet" in report["reason"]
    wait_for(lambda: "stub> " in capture(fleet_env, socket_name, "late1"), timeout=20, what="the stub's prompt")
    time.sleep(1)   # the proof is an absence: give a stray paste the time to arrive
    assert records(log) == []
    assert "never pasted" not in capture(fleet_env, socket_name, "late1")
