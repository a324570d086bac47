"""stop-agent-session.sh without the agent's env file: it never guesses a socket."""

from framework_util import run_tool, sessions, tmux, write_agent_env


def _start_plain_session(env, socket, name):
    result = tmux(env, socket, "new-session", "-d", "-s", name, "sleep 300")
    assert result.returncode == 0, result.stderr


def test_missing_env_file_leaves_default_socket_alone(fleet_env):
    # An unrelated session with the agent's name on the default socket (of this test's private
    # TMUX_TMPDIR): without the env file the stop script must not touch it.
    _start_plain_session(fleet_env, "", "ghost")
    result = run_tool(fleet_env, "stop-agent-session.sh", "ghost")
    assert result.returncode == 0, result.stderr
    assert "no env file; nothing to stop" in result.stdout
    assert sessions(fleet_env, "") == ["ghost"]


def test_missing_env_file_with_explicit_socket_stops(fleet_env, socket_name):
    _start_plain_session(fleet_env, socket_name, "ghost")
    _start_plain_session(fleet_env, socket_name, "other")
    result = run_tool(fleet_env, "stop-agent-session.sh", "ghost",
                      run_env=dict(fleet_env, MOSAIC_TMUX_SOCKET=socket_name))
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout
    assert sessions(fleet_env, socket_name) == ["other"]


def test_explicit_empty_socket_means_default_socket(fleet_env):
    _start_plain_session(fleet_env, "", "ghost")
    _start_plain_session(fleet_env, "", "keep")
    result = run_tool(fleet_env, "stop-agent-session.sh", "ghost",
                      run_env=dict(fleet_env, MOSAIC_TMUX_SOCKET=""))
    assert result.returncode == 0, result.stderr
    assert sessions(fleet_env, "") == ["keep"]


def test_env_file_socket_wins(fleet_env, socket_name):
    write_agent_env(fleet_env, "ghost", socket=socket_name)
    _start_plain_session(fleet_env, socket_name, "ghost")
    _start_plain_session(fleet_env, "", "ghost")
    result = run_tool(fleet_env, "stop-agent-session.sh", "ghost")
    assert result.returncode == 0, result.stderr
    assert sessions(fleet_env, socket_name) == []
    assert sessions(fleet_env, "") == ["ghost"]
