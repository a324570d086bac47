"""The real runtimes (claude, codex, pi, opencode; pinned in tests/runtimes) run by the fleet's own
scripts against the mock model (mock_model.py), one after another:

- each starts unattended from a fresh HOME to its prompt: the home holds only what
  fleet_host_config writes (firstrun.py, through mock_model.prepare_home) and the gateway's URL
  and key are in credentials/fleet.env; start-agent-session.sh and launch-agent (the runtime
  table's argv and env) do the rest;
- it receives a message from agent-send.sh (what fleet_send runs) as ``delivered``, and the model's
  scripted shell tool call really runs;
- restarted (stop-agent-session.sh, start-agent-session.sh) with ``resume``, it continues its
  conversation: the mock's next request carries the earlier turn.

Each test prints its runtime's time to prompt (cold and resumed).
"""

import json
import os
import re
import subprocess
import time

import pytest

import mock_model as mm
from framework_util import run_tool, wait_for, write_agent_env

# What each runtime's screen shows once it is at its prompt, and the model hint it is given.
READY = {
    "claude": re.compile(r"bypass permissions on"),
    "codex": re.compile(r"›"),
    "pi": re.compile(r"\(mosaic\) mock-model"),
    "opencode": re.compile(r"mock-model"),
}
HINT = {"claude": "mock-model", "codex": "mock-model", "pi": "mosaic/mock-model", "opencode": "mosaic/mock-model"}
RUNTIMES = ["pi", "claude", "codex", "opencode"]


def capture(env, socket, name):
    result = subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-J", "-t", "=%s:" % name],
                            env=env, capture_output=True, text=True, check=False)
    return result.stdout


def pane_dead(env, socket, name):
    result = subprocess.run(["tmux", "-L", socket, "display-message", "-p", "-t", "=%s:" % name,
                             "#{pane_dead} #{pane_dead_status}"], env=env, capture_output=True, text=True,
                            check=False)
    return result.stdout.strip()


def start(env, socket, name, runtime, timeout=120):
    """start-agent-session.sh, then wait for the runtime's prompt; returns the seconds it took."""
    began = time.monotonic()
    result = run_tool(env, "start-agent-session.sh", name, timeout=60)
    assert result.returncode == 0, result.stderr

    def ready():
        assert not pane_dead(env, socket, name).startswith("1"), (
            "%s exited: %s\n%s" % (runtime, pane_dead(env, socket, name), capture(env, socket, name)))
        return READY[runtime].search(capture(env, socket, name))

    wait_for(ready, timeout=timeout, interval=0.2, what="%s's prompt" % runtime)
    took = time.monotonic() - began
    # A runtime may still be setting up behind its first screen (opencode installs its provider
    # package): wait until the screen holds still for 2 s before anything is sent to it.
    last = {"screen": None, "since": time.monotonic()}

    def settled():
        screen = capture(env, socket, name)
        if screen != last["screen"]:
            last.update(screen=screen, since=time.monotonic())
        return time.monotonic() - last["since"] >= 2.0

    wait_for(settled, timeout=timeout, interval=0.2, what="%s's screen to settle" % runtime)
    return took


def send(env, socket, name, message):
    result = subprocess.run(
        [os.path.join(env["MOSAIC_HOME"], "tools", "tmux", "agent-send.sh"), "-L", socket, "-s", name,
         "--json", "--timeout", "120", "-m", message],
        env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unattended_delivered_and_resumed(runtime, mock_model, runtime_bin, fleet_env, socket_name, tmp_path):
    name = runtime + "0"
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(fleet_env, MOSAIC_RUNTIME_BIN=runtime_bin)
    # The host as the fleet leaves it: first-run state in HOME, the gateway in credentials/.
    mm.prepare_home(env["HOME"], runtime, str(workdir), mock_model.url, runtime_bin, model="mock-model")
    secrets = os.path.join(env["MOSAIC_HOME"], "credentials", "fleet.env")
    os.makedirs(os.path.dirname(secrets), mode=0o700, exist_ok=True)
    with open(secrets, "w") as handle:
        handle.write("".join("%s=%s\n" % item for item in mm.credentials_for(runtime, mock_model.url).items()))
    os.chmod(secrets, 0o600)
    write_agent_env(env, name, runtime=runtime, model=HINT[runtime], workdir=str(workdir), socket=socket_name,
                    resume="true")

    first, second = "FIRST-%s please write the file" % runtime, "SECOND-%s what did I ask" % runtime
    done = workdir / "one.txt"
    mock_model.reset()
    mock_model.script([
        mm.tool_call(runtime, "echo turn-one > %s" % done, user="FIRST-" + runtime),
        mm.text("DONE-ONE the file is written", runtime=runtime, user="FIRST-" + runtime, after_tool=True),
        mm.text("DONE-TWO you asked for a file", runtime=runtime, user="SECOND-" + runtime),
        mm.text("ok"),  # side requests (titles) carry no tools
    ])

    cold = start(env, socket_name, name, runtime)
    rc, report = send(env, socket_name, name, first)
    assert rc == 0 and report["outcome"] == "delivered", "%s\n%s" % (json.dumps(report), capture(env, socket_name, name))
    wait_for(done.exists, timeout=90, what="%s running the model's tool call" % runtime)
    wait_for(lambda: "DONE-ONE" in capture(env, socket_name, name), timeout=90,
             what="%s showing the model's answer" % runtime)
    # Let the runtime save its conversation before it is stopped.
    time.sleep(1)

    result = run_tool(env, "stop-agent-session.sh", name)
    assert result.returncode == 0, result.stderr
    seen = len(mock_model.requests())
    resumed = start(env, socket_name, name, runtime)
    rc, report = send(env, socket_name, name, second)
    assert rc == 0 and report["outcome"] == "delivered", "%s\n%s" % (json.dumps(report), capture(env, socket_name, name))
    request = mock_model.wait_request(lambda r: "SECOND-" + runtime in r.text and mm.TOOL[runtime] in r.text,
                                      after=seen, timeout=90, what="%s's second turn" % runtime)
    assert "FIRST-" + runtime in request.text, "%s did not resume: its request lacks the first turn" % runtime
    assert "DONE-ONE" in request.text
    print("\n%s: cold start to prompt %.1fs, resumed %.1fs" % (runtime, cold, resumed))


def test_fresh_start_begins_a_new_conversation(mock_model, runtime_bin, fleet_env, socket_name, tmp_path):
    """tools/fleet/fresh-start NAME: the next start does not resume (pi, the lightest runtime)."""
    name, runtime = "pi1", "pi"
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(fleet_env, MOSAIC_RUNTIME_BIN=runtime_bin, MOSAIC_TMUX_SOCKET=socket_name)
    mm.prepare_home(env["HOME"], runtime, str(workdir), mock_model.url, runtime_bin)
    secrets = os.path.join(env["MOSAIC_HOME"], "credentials", "fleet.env")
    os.makedirs(os.path.dirname(secrets), mode=0o700, exist_ok=True)
    with open(secrets, "w") as handle:
        handle.write("".join("%s=%s\n" % item for item in mm.credentials_for(runtime, mock_model.url).items()))
    os.chmod(secrets, 0o600)
    write_agent_env(env, name, runtime=runtime, model=HINT[runtime], workdir=str(workdir), socket=socket_name,
                    persona="true")  # resume by default
    mock_model.reset()
    mock_model.script([mm.text("noted", runtime=runtime)])
    start(env, socket_name, name, runtime)
    rc, report = send(env, socket_name, name, "REMEMBER-ME alpha")
    assert rc == 0 and report["outcome"] == "delivered", report
    wait_for(lambda: "noted" in capture(env, socket_name, name), timeout=60, what="pi's answer")
    time.sleep(1)

    result = run_tool(env, "fresh-start", name, timeout=60)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: READY[runtime].search(capture(env, socket_name, name)), timeout=60, what="pi's prompt")
    assert not os.path.exists(os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + ".fresh"))
    seen = len(mock_model.requests())
    rc, report = send(env, socket_name, name, "AFTER-FRESH beta")
    assert rc == 0 and report["outcome"] == "delivered", report
    request = mock_model.wait_request(lambda r: "AFTER-FRESH" in r.text, after=seen, timeout=60,
                                      what="pi's first turn after fresh-start")
    assert "REMEMBER-ME" not in request.text


def test_claude_keeps_the_200k_cap_on_a_1m_model(mock_model, runtime_bin, fleet_env, socket_name, tmp_path):
    """The fleet's cap (the table's env and autoCompactWindow/autoCompactEnabled in Claude's
    settings, firstrun.py): on a 1M-context model, Claude's status line (the agent's metering,
    fleet/run/NAME.meter.json) reports a 200000-token window. (Without the fleet's env Claude
    Code 2.1.197 reports 1000000; its settings alone do not change that figure.)"""
    name, runtime = "claude1", "claude"
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(fleet_env, MOSAIC_RUNTIME_BIN=runtime_bin)
    mm.prepare_home(env["HOME"], runtime, str(workdir), mock_model.url, runtime_bin)
    with open(os.path.join(env["HOME"], ".claude", "settings.json")) as handle:
        settings = json.load(handle)
    assert settings["autoCompactWindow"] == 200000 and settings["autoCompactEnabled"] is True
    secrets = os.path.join(env["MOSAIC_HOME"], "credentials", "fleet.env")
    os.makedirs(os.path.dirname(secrets), mode=0o700, exist_ok=True)
    with open(secrets, "w") as handle:
        handle.write("".join("%s=%s\n" % item for item in mm.credentials_for(runtime, mock_model.url).items()))
    os.chmod(secrets, 0o600)
    write_agent_env(env, name, runtime=runtime, model="claude-sonnet-4-5[1m]", workdir=str(workdir),
                    socket=socket_name)
    mock_model.reset()
    mock_model.script([mm.text("ok")])
    start(env, socket_name, name, runtime)
    meter = os.path.join(env["MOSAIC_HOME"], "fleet", "run", name + ".meter.json")

    def window():
        try:
            with open(meter) as handle:
                return json.load(handle).get("context_window")
        except (OSError, ValueError):
            return None

    assert wait_for(window, timeout=60, what="claude's metering") == 200000
