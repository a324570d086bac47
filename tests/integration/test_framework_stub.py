"""The stub runtime and the heartbeat, in real tmux panes."""

import json
import os
import subprocess
import time
import uuid

from framework_util import (
    capture,
    pane,
    read_file,
    run_tool,
    screen_with,
    tmux,
    wait_for,
    write_agent_env,
)


def start_stub(env, socket, name="canary", interval=None):
    write_agent_env(env, name, socket=socket)
    run_env = dict(env)
    if interval is not None:
        run_env["MOSAIC_HEARTBEAT_INTERVAL"] = str(interval)
    result = run_tool(env, "start-agent-session.sh", name, run_env=run_env)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: "stub>" in capture(env, socket, name), what="the stub prompt")


def paste(env, socket, session, text):
    """Deliver text the way agent-send.sh does: bracketed paste, then Enter as a separate key."""
    buffer_name = "t-" + uuid.uuid4().hex[:8]
    argv = ["tmux"] + (["-L", socket] if socket else [])
    subprocess.run(argv + ["load-buffer", "-b", buffer_name, "-"], input=text.encode("utf-8"),
                   env=env, check=True, timeout=10)
    subprocess.run(argv + ["paste-buffer", "-p", "-r", "-d", "-b", buffer_name,
                           "-t", "=%s:" % session], env=env, check=True, timeout=10)
    time.sleep(0.2)
    subprocess.run(argv + ["send-keys", "-t", "=%s:" % session, "Enter"], env=env, check=True,
                   timeout=10)


def log_records(env, name):
    data = read_file(os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + ".stub.log"))
    if not data:
        return []
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_pasted_multiline_message_is_logged_exactly(fleet_env, socket_name):
    start_stub(fleet_env, socket_name)
    message = (
        "[web1:orchestrator -> web1:canary] first line\n"
        "  second line with 'quotes' \"double\" $HOME `tick` \\ back; semi;\n"
        "UTF-8: é 日本語 🚀 and a literal ^C: \x03 end"
    )
    paste(fleet_env, socket_name, "canary", message)
    records = wait_for(lambda: log_records(fleet_env, "canary"), what="the stub log")
    assert [r["text"] for r in records] == [message]
    assert isinstance(records[0]["ts"], float)
    size = len(message.encode("utf-8"))
    screen = wait_for(lambda: screen_with(fleet_env, socket_name, "canary", "[stub] received"),
                      what="the transcript")
    assert "[stub] received %d bytes" % size in screen
    assert "  second line with 'quotes'" in screen
    # The input line is fresh again.
    assert screen.rstrip("\n").splitlines()[-1].rstrip() == "stub>"


def test_two_messages_in_order_and_typed_input(fleet_env, socket_name):
    start_stub(fleet_env, socket_name)
    paste(fleet_env, socket_name, "canary", "one")
    wait_for(lambda: len(log_records(fleet_env, "canary")) == 1, what="first message")
    # Typed keys (no paste): backspace edits, Enter submits.
    tmux(fleet_env, socket_name, "send-keys", "-t", "=canary:", "-l", "twoo")
    tmux(fleet_env, socket_name, "send-keys", "-t", "=canary:", "BSpace")
    wait_for(lambda: "stub> two" in capture(fleet_env, socket_name, "canary"), what="typed input")
    tmux(fleet_env, socket_name, "send-keys", "-t", "=canary:", "Enter")
    wait_for(lambda: len(log_records(fleet_env, "canary")) == 2, what="second message")
    assert [r["text"] for r in log_records(fleet_env, "canary")] == ["one", "two"]


def test_64k_paste(fleet_env, socket_name):
    start_stub(fleet_env, socket_name)
    lines = ["%05d %s" % (i, "ünïcödé-" * 8) for i in range(900)]
    message = "\n".join(lines)
    assert len(message.encode("utf-8")) > 64 * 1024
    paste(fleet_env, socket_name, "canary", message)
    records = wait_for(lambda: log_records(fleet_env, "canary"), timeout=20, what="the stub log")
    assert len(records) == 1
    assert records[0]["text"] == message


def test_heartbeat_appears_and_refreshes(fleet_env, socket_name):
    start_stub(fleet_env, socket_name, interval=0.2)
    path = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "canary.heartbeat")
    first = wait_for(lambda: read_file(path), what="the heartbeat file").decode()
    stamp, pid = first.split()
    assert first.endswith("\n") and len(first.splitlines()) == 1
    assert abs(int(stamp) - time.time()) < 5
    # The pid is the runtime's, i.e. the pane's process (exec all the way).
    assert pid == pane(fleet_env, socket_name, "canary", "#{pane_pid}")
    # Refreshed: the timestamp moves on (whole seconds, so wait past the next second).
    wait_for(lambda: int(read_file(path).split()[0]) > int(stamp), timeout=5,
             what="a fresher heartbeat")


def test_stub_exits_cleanly_on_sigterm(fleet_env, socket_name):
    start_stub(fleet_env, socket_name)
    pid = int(pane(fleet_env, socket_name, "canary", "#{pane_pid}"))
    os.kill(pid, 15)
    state = wait_for(lambda: pane(fleet_env, socket_name, "canary", "#{pane_dead}:#{pane_dead_status}")
                     .startswith("1:"), what="the stub to exit")
    del state
    # tmux 3.3a under load sometimes never records a dead pane's status; when it does, it is 0.
    assert pane(fleet_env, socket_name, "canary", "#{pane_dead_status}") in ("0", "")
    assert "[stub] canary exiting" in capture(fleet_env, socket_name, "canary")


def test_heartbeat_tool(fleet_env):
    run = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run")
    result = run_tool(fleet_env, "heartbeat", "coder0", "4242")
    assert result.returncode == 0, result.stderr
    stamp, pid = read_file(os.path.join(run, "coder0.heartbeat")).decode().split()
    assert pid == "4242" and abs(int(stamp) - time.time()) < 5
    # NAME and PID from the environment (what launch-agent gives a runtime's hooks).
    hook_env = dict(fleet_env, MOSAIC_AGENT_NAME="orchestrator", MOSAIC_RUNTIME_PID="777")
    result = run_tool(fleet_env, "heartbeat", "--hook", '{"event": "Stop"}', run_env=hook_env)
    assert result.returncode == 0, result.stderr
    assert read_file(os.path.join(run, "orchestrator.heartbeat")).decode().split()[1] == "777"
    # No temporary files left behind.
    assert sorted(os.listdir(run)) == ["coder0.heartbeat", "orchestrator.heartbeat"]
    # Errors fail loudly by hand, never from a hook.
    assert run_tool(fleet_env, "heartbeat", "bad name").returncode == 2
    assert run_tool(fleet_env, "heartbeat", "--hook").returncode == 0
