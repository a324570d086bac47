"""launch-agent's pi mapping against the real pi CLI (the pinned one, or MOSAIC_TEST_PI: see the
pi_command fixture of conftest.py): pi accepts the argv, shows the requested model and thinking
level, is the pane's foreground process, and its heartbeat extension beats with the pane's pid."""

import os

from framework_util import pane, read_file, run_tool, screen_with, wait_for, write_agent_env


def test_real_pi_takes_our_argv_and_beats(fleet_env, socket_name, pi_command):
    write_agent_env(fleet_env, "coder0", runtime="pi", model="openai-codex/gpt-5.5:high",
                    socket=socket_name, agent_class="coder")
    # PI_OFFLINE: pi fetches nothing (fd, ripgrep) off the internet at start.
    run_env = dict(fleet_env, MOSAIC_RUNTIME_BIN=os.path.dirname(pi_command),
                   MOSAIC_HEARTBEAT_INTERVAL="1", PI_OFFLINE="1")
    result = run_tool(fleet_env, "start-agent-session.sh", "coder0", run_env=run_env)
    assert result.returncode == 0, result.stderr
    heartbeat = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "coder0.heartbeat")
    first = wait_for(lambda: read_file(heartbeat), timeout=60, what="pi's first heartbeat")
    stamp, pid = first.decode().split()
    assert pid == pane(fleet_env, socket_name, "coder0", "#{pane_pid}")
    assert pane(fleet_env, socket_name, "coder0", "#{pane_current_command}") in ("pi", "node")
    screen = wait_for(lambda: screen_with(fleet_env, socket_name, "coder0", "gpt-5.5"), timeout=30,
                      what="pi's status line")
    assert "high" in screen.split("gpt-5.5", 1)[1]
    assert "pi-heartbeat.ts" in screen  # listed among the loaded extensions
    # It keeps beating while pi idles at its prompt.
    wait_for(lambda: int(read_file(heartbeat).split()[0]) > int(stamp), timeout=10,
             what="a fresher heartbeat")
