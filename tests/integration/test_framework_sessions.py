"""start-agent-session.sh / stop-agent-session.sh / launch-agent on real tmux."""

import os

from framework_util import (
    capture,
    fake_argv,
    fake_runtime,
    pane,
    read_file,
    run_tool,
    sessions,
    tmux,
    wait_for,
    write_agent_env,
)


def pane_dead(env, socket, session):
    """(dead flag, exit status) once the pane is dead, else None."""
    dead, status = pane(env, socket, session, "#{pane_dead}:#{pane_dead_status}").split(":", 1)
    return (dead, status) if dead == "1" else None


def test_start_is_idempotent(fleet_env, socket_name):
    write_agent_env(fleet_env, "coder0", socket=socket_name)
    first = run_tool(fleet_env, "start-agent-session.sh", "coder0")
    assert first.returncode == 0, first.stderr
    assert "started" in first.stdout
    second = run_tool(fleet_env, "start-agent-session.sh", "coder0")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert sessions(fleet_env, socket_name) == ["coder0"]
    # The session is built as promised: fixed size, large history, remain-on-exit.
    assert pane(fleet_env, socket_name, "coder0", "#{window_width}x#{window_height}") == "220x50"
    assert int(pane(fleet_env, socket_name, "coder0", "#{history_limit}")) >= 50000
    remain = tmux(fleet_env, socket_name, "show-options", "-wv", "-t", "=coder0:", "remain-on-exit")
    assert remain.stdout.strip() == "on"


def test_default_socket_means_no_L(fleet_env):
    write_agent_env(fleet_env, "worker", socket="")
    result = run_tool(fleet_env, "start-agent-session.sh", "worker")
    assert result.returncode == 0, result.stderr
    # On the default socket of this TMUX_TMPDIR, and the server's socket file is named 'default'.
    assert sessions(fleet_env, "") == ["worker"]
    socket_dir = os.path.join(fleet_env["TMUX_TMPDIR"], "tmux-%d" % os.getuid())
    assert os.listdir(socket_dir) == ["default"]


def test_named_socket(fleet_env, socket_name):
    write_agent_env(fleet_env, "worker", socket=socket_name)
    result = run_tool(fleet_env, "start-agent-session.sh", "worker")
    assert result.returncode == 0, result.stderr
    assert sessions(fleet_env, socket_name) == ["worker"]
    assert sessions(fleet_env, "") == []
    socket_dir = os.path.join(fleet_env["TMUX_TMPDIR"], "tmux-%d" % os.getuid())
    assert os.listdir(socket_dir) == [socket_name]


def test_model_flag_reaches_runtime_and_runtime_is_foreground(fleet_env, socket_name, tmp_path):
    bindir = str(tmp_path / "runtime bin")
    fake_runtime(bindir, "pi")
    write_agent_env(fleet_env, "coder0", runtime="pi", model="openai-codex/gpt-5.5:high",
                    socket=socket_name, workdir="~/projects/coder0",
                    extra=[("MOSAIC_RUNTIME_BIN", bindir)])
    result = run_tool(fleet_env, "start-agent-session.sh", "coder0")
    assert result.returncode == 0, result.stderr
    argv = wait_for(lambda: fake_argv(bindir), what="the fake pi to record its argv")
    assert argv[:2] == ["-e", os.path.join(fleet_env["MOSAIC_HOME"], "tools/fleet/pi-heartbeat.ts")]
    assert argv[2:8] == ["--provider", "openai-codex", "--model", "gpt-5.5", "--thinking", "high"]
    assert argv[8] == "--append-system-prompt"
    assert argv[9].startswith("You are coder0, the worker agent of a Mosaic fleet.")
    # exec all the way down: the pane's process IS the runtime, and tmux sees it as 'pi'.
    pid = read_file(os.path.join(bindir, "pi.pid")).decode().strip()
    assert pane(fleet_env, socket_name, "coder0", "#{pane_pid}") == pid
    assert pane(fleet_env, socket_name, "coder0", "#{pane_current_command}") == "pi"
    # In the agent's working directory, created for it ('~' is the fleet user's home).
    workdir = os.path.join(fleet_env["HOME"], "projects", "coder0")
    assert read_file(os.path.join(bindir, "pi.cwd")).decode().strip() == workdir


def test_runtime_found_with_stripped_path(fleet_env, socket_name, tmp_path):
    bindir = str(tmp_path / "rt")
    fake_runtime(bindir, "pi")
    write_agent_env(fleet_env, "coder1", runtime="pi", socket=socket_name)
    run_env = dict(fleet_env, PATH="/usr/bin:/bin", MOSAIC_RUNTIME_BIN=bindir)
    result = run_tool(fleet_env, "start-agent-session.sh", "coder1", run_env=run_env)
    assert result.returncode == 0, result.stderr
    argv = wait_for(lambda: fake_argv(bindir), what="the fake pi to start")
    assert "--append-system-prompt" in argv
    pid = read_file(os.path.join(bindir, "pi.pid")).decode().strip()
    with open("/proc/%s/environ" % pid, "rb") as handle:
        environ = dict(
            item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item
        )
    path = environ[b"PATH"].decode().split(":")
    assert path[0] == bindir
    assert path[-2:] == ["/usr/bin", "/bin"]


def test_agent_command_overrides_mapping(fleet_env, socket_name, tmp_path):
    bindir = str(tmp_path / "rt")
    fake_runtime(bindir, "pi")
    marker = tmp_path / "out dir" / "marker $x.txt"
    marker.parent.mkdir()
    # Quotes, '$' and a trailing ';' (tmux's argv parser would eat it unescaped).
    command = "sh -c 'echo \"$MOSAIC_AGENT_NAME:$0\" > \"$1\"; exec sleep 300' \"it's\" '%s';" % marker
    write_agent_env(fleet_env, "custom", runtime="pi", socket=socket_name, command=command,
                    extra=[("MOSAIC_RUNTIME_BIN", bindir)])
    result = run_tool(fleet_env, "start-agent-session.sh", "custom")
    assert result.returncode == 0, result.stderr
    content = wait_for(lambda: read_file(str(marker)), what="the command override to run")
    assert content.decode() == "custom:it's\n"
    assert fake_argv(bindir) is None  # the mapping's runtime never ran
    assert pane(fleet_env, socket_name, "custom", "#{pane_current_command}") == "sleep"


def test_stub_is_foreground_python3(fleet_env, socket_name):
    write_agent_env(fleet_env, "canary", socket=socket_name)
    assert run_tool(fleet_env, "start-agent-session.sh", "canary").returncode == 0
    wait_for(lambda: "stub>" in capture(fleet_env, socket_name, "canary"), what="the stub prompt")
    assert pane(fleet_env, socket_name, "canary", "#{pane_current_command}") == "python3"


def test_stale_heartbeat_removed_on_start(fleet_env, socket_name, tmp_path):
    bindir = str(tmp_path / "rt")
    fake_runtime(bindir, "pi")  # a runtime that never beats
    heartbeat = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "coder0.heartbeat")
    with open(heartbeat, "w") as handle:
        handle.write("1 999999\n")
    write_agent_env(fleet_env, "coder0", runtime="pi", socket=socket_name,
                    extra=[("MOSAIC_RUNTIME_BIN", bindir)])
    assert run_tool(fleet_env, "start-agent-session.sh", "coder0").returncode == 0
    wait_for(lambda: fake_argv(bindir), what="the fake pi to start")
    assert not os.path.exists(heartbeat)


def test_crashed_runtime_leaves_dead_pane_and_start_replaces_it(fleet_env, socket_name):
    write_agent_env(fleet_env, "crashy", socket=socket_name, command="exit 3")
    assert run_tool(fleet_env, "start-agent-session.sh", "crashy").returncode == 0
    dead = wait_for(lambda: pane_dead(fleet_env, socket_name, "crashy"), what="the pane to die")
    assert dead[1] in ("3", ""), dead  # "": tmux 3.3a under load may never record the status
    write_agent_env(fleet_env, "crashy", socket=socket_name)  # fixed: back to the stub
    again = run_tool(fleet_env, "start-agent-session.sh", "crashy")
    assert again.returncode == 0, again.stderr
    assert "dead pane" in again.stdout
    wait_for(lambda: "stub>" in capture(fleet_env, socket_name, "crashy"), what="the stub")
    assert pane(fleet_env, socket_name, "crashy", "#{pane_dead}") == "0"


def test_missing_runtime_shows_in_dead_pane(fleet_env, socket_name, tmp_path):
    write_agent_env(fleet_env, "nopi", runtime="pi", socket=socket_name)
    run_env = dict(fleet_env, PATH="/usr/bin:/bin", HOME=fleet_env["HOME"])
    assert run_tool(fleet_env, "start-agent-session.sh", "nopi", run_env=run_env).returncode == 0
    dead = wait_for(lambda: pane_dead(fleet_env, socket_name, "nopi"), what="the pane to die")
    # Under load tmux 3.3a sometimes marks a pane dead without ever recording its exit status;
    # when it does record one it must be 127 (command not found).
    assert dead[1] in ("127", ""), dead
    assert "runtime command 'pi' not found" in capture(fleet_env, socket_name, "nopi")


def test_secrets_reach_runtime_but_not_command_lines(fleet_env, socket_name, tmp_path):
    creds = os.path.join(fleet_env["MOSAIC_HOME"], "credentials")
    os.makedirs(creds)
    with open(os.path.join(creds, "fleet.env"), "w") as handle:
        handle.write('FAKE_API_KEY="s3cr3t value"\n')
    out = tmp_path / "seen"
    write_agent_env(fleet_env, "keyed", socket=socket_name,
                    command="sh -c 'printf %%s \"$FAKE_API_KEY\" > %s; exec sleep 300'" % out)
    assert run_tool(fleet_env, "start-agent-session.sh", "keyed").returncode == 0
    assert wait_for(lambda: read_file(str(out)), what="the runtime") == b"s3cr3t value"
    start_command = pane(fleet_env, socket_name, "keyed", "#{pane_start_command}")
    assert "MOSAIC_AGENT_NAME=keyed" in start_command
    assert "s3cr3t" not in start_command


def test_stop_kills_only_its_session(fleet_env, socket_name):
    for name in ("a1", "a10", "b"):
        write_agent_env(fleet_env, name, socket=socket_name)
        assert run_tool(fleet_env, "start-agent-session.sh", name).returncode == 0
    wait_for(lambda: "stub>" in capture(fleet_env, socket_name, "a1"), what="the stub")
    pid = pane(fleet_env, socket_name, "a1", "#{pane_pid}")
    result = run_tool(fleet_env, "stop-agent-session.sh", "a1")
    assert result.returncode == 0, result.stderr
    assert sorted(sessions(fleet_env, socket_name)) == ["a10", "b"]
    # The runtime went with its session (SIGHUP from tmux; the stub exits on it).
    wait_for(lambda: not os.path.exists("/proc/%s" % pid), what="the runtime to exit")
    again = run_tool(fleet_env, "stop-agent-session.sh", "a1")
    assert again.returncode == 0
    assert "not running" in again.stdout
    assert sorted(sessions(fleet_env, socket_name)) == ["a10", "b"]


def test_stop_without_server_or_env_file(fleet_env, socket_name):
    result = run_tool(fleet_env, "stop-agent-session.sh", "ghost",
                      run_env=dict(fleet_env, MOSAIC_TMUX_SOCKET=socket_name))
    assert result.returncode == 0, result.stderr


def test_exit_codes(fleet_env, socket_name):
    assert run_tool(fleet_env, "start-agent-session.sh").returncode == 2
    assert run_tool(fleet_env, "start-agent-session.sh", "-bad").returncode == 2
    assert run_tool(fleet_env, "start-agent-session.sh", "a.b").returncode == 2
    assert run_tool(fleet_env, "start-agent-session.sh", "missing").returncode == 3
    assert run_tool(fleet_env, "stop-agent-session.sh", "a b").returncode == 2
    blocker = os.path.join(fleet_env["HOME"], "file")
    open(blocker, "w").close()
    write_agent_env(fleet_env, "nowhere", socket=socket_name, workdir="~/file/sub")
    assert run_tool(fleet_env, "start-agent-session.sh", "nowhere").returncode == 5
    assert sessions(fleet_env, socket_name) == []


def test_concurrent_starts_make_one_session(fleet_env, socket_name):
    import subprocess

    from framework_util import tool

    write_agent_env(fleet_env, "racer", socket=socket_name)
    procs = [subprocess.Popen([tool(fleet_env, "start-agent-session.sh"), "racer"], env=fleet_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _attempt in range(4)]
    results = [(p.wait(timeout=30), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [rc for rc, _out, _err in results] == [0, 0, 0, 0], results
    assert sum("started" in out for _rc, out, _err in results) >= 1
    assert sessions(fleet_env, socket_name) == ["racer"]


def test_history_limit_is_per_session_not_global(fleet_env, socket_name):
    # A server that already runs with its own global history-limit keeps it.
    assert tmux(fleet_env, socket_name, "new-session", "-d", "-s", "other", "sleep", "300",
                ";", "set-option", "-g", "history-limit", "1234").returncode == 0
    write_agent_env(fleet_env, "worker", socket=socket_name)
    assert run_tool(fleet_env, "start-agent-session.sh", "worker").returncode == 0
    assert int(pane(fleet_env, socket_name, "worker", "#{history_limit}")) >= 50000
    assert tmux(fleet_env, socket_name, "show-options", "-gv", "history-limit").stdout.strip() == "1234"
