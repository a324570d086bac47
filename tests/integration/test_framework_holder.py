"""holder.sh on real tmux, and the systemd user units (static checks; systemd itself runs in the
molecule scenarios)."""

import configparser
import os
import shutil
import subprocess

import pytest

from framework_util import REPO, install_framework, run_tool, sessions, tmux, write_agent_env

from ansible_collections.mosaic.fleet.plugins.module_utils.envfile import render_env_file

UNITS = os.path.join(REPO, "framework", "systemd", "user")


def write_holder_env(env, socket, holder="mosaic-holder"):
    path = os.path.join(env["MOSAIC_HOME"], "fleet", "holder.env")
    with open(path, "w") as handle:
        handle.write(render_env_file([("MOSAIC_TMUX_SOCKET", socket),
                                      ("MOSAIC_HOLDER_SESSION", holder)]))


def test_holder_start_stop_named_socket(fleet_env, socket_name):
    write_holder_env(fleet_env, socket_name)
    first = run_tool(fleet_env, "holder.sh", "start")
    assert first.returncode == 0, first.stderr
    assert sessions(fleet_env, socket_name) == ["mosaic-holder"]
    second = run_tool(fleet_env, "holder.sh", "start")
    assert second.returncode == 0 and "already running" in second.stdout
    assert sessions(fleet_env, socket_name) == ["mosaic-holder"]
    # Agents join the holder's server.
    write_agent_env(fleet_env, "worker", socket=socket_name)
    assert run_tool(fleet_env, "start-agent-session.sh", "worker").returncode == 0
    assert sorted(sessions(fleet_env, socket_name)) == ["mosaic-holder", "worker"]
    # Stopping the agent leaves the holder (and the server) alone.
    assert run_tool(fleet_env, "stop-agent-session.sh", "worker").returncode == 0
    assert sessions(fleet_env, socket_name) == ["mosaic-holder"]
    # Stop takes the whole server down.
    assert run_tool(fleet_env, "start-agent-session.sh", "worker").returncode == 0
    stop = run_tool(fleet_env, "holder.sh", "stop")
    assert stop.returncode == 0, stop.stderr
    assert tmux(fleet_env, socket_name, "list-sessions").returncode != 0
    assert run_tool(fleet_env, "holder.sh", "stop").returncode == 0  # already stopped


def test_holder_default_socket_spares_other_sessions(fleet_env):
    write_holder_env(fleet_env, "", holder="fleet-holder")
    assert run_tool(fleet_env, "holder.sh", "start").returncode == 0
    assert tmux(fleet_env, "", "new-session", "-d", "-s", "mine", "sleep", "300").returncode == 0
    assert sorted(sessions(fleet_env, "")) == ["fleet-holder", "mine"]
    assert run_tool(fleet_env, "holder.sh", "stop").returncode == 0
    assert sessions(fleet_env, "") == ["mine"]


def test_holder_usage(fleet_env):
    assert run_tool(fleet_env, "holder.sh").returncode == 2
    assert run_tool(fleet_env, "holder.sh", "restart").returncode == 2


def _unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(os.path.join(UNITS, name))
    return parser


def test_units_contract():
    holder = _unit("mosaic-tmux-holder.service")
    agent = _unit("mosaic-agent@.service")
    assert holder["Service"]["Type"] == "oneshot"
    assert holder["Service"]["RemainAfterExit"] == "yes"
    # The agent unit follows its runtime (supervision.sh): the runtime, named in the PIDFile, is
    # its main process; systemd restarts it on failure within the start limit.
    assert agent["Service"]["Type"] == "forking"
    assert agent["Service"]["PIDFile"] == "%h/.config/mosaic/fleet/run/%i.pid"
    assert agent["Service"]["Restart"] == "on-failure"
    assert "RemainAfterExit" not in agent["Service"]
    for unit in (holder, agent):
        assert unit["Install"]["WantedBy"] == "default.target"
    assert agent["Unit"]["PartOf"] == "mosaic-tmux-holder.service"
    assert agent["Unit"]["Requires"] == "mosaic-tmux-holder.service"
    assert agent["Unit"]["After"] == "mosaic-tmux-holder.service"
    assert agent["Service"]["EnvironmentFile"] == "-%h/.config/mosaic/fleet/agents/%i.env"
    assert agent["Service"]["ExecStart"] == "%h/.config/mosaic/tools/fleet/start-agent-session.sh %i"
    assert agent["Service"]["ExecStop"] == "%h/.config/mosaic/tools/fleet/stop-agent-session.sh %i"
    assert holder["Service"]["ExecStart"] == "%h/.config/mosaic/tools/fleet/holder.sh start"
    assert holder["Service"]["ExecStop"] == "%h/.config/mosaic/tools/fleet/holder.sh stop"
    # No unit hard-codes a socket: they only ever come from the env files.
    for name in os.listdir(UNITS):
        with open(os.path.join(UNITS, name)) as handle:
            text = handle.read()
        assert "-L" not in text and "mosaic-fleet" not in text, name
    # Every ExecStart/ExecStop target exists in the framework and is executable.
    for unit in (holder, agent):
        for key in ("ExecStart", "ExecStop"):
            rel = unit["Service"][key].split()[0].replace("%h/.config/mosaic/", "")
            assert os.access(os.path.join(REPO, "framework", rel), os.X_OK), rel


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_verify(tmp_path):
    home = tmp_path / "home"
    install_framework(home / ".config" / "mosaic")
    units = tmp_path / "units"
    units.mkdir()
    shutil.copy(os.path.join(UNITS, "mosaic-tmux-holder.service"), units)
    shutil.copy(os.path.join(UNITS, "mosaic-agent@.service"), units / "mosaic-agent@coder0.service")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(units / "mosaic-tmux-holder.service"),
         str(units / "mosaic-agent@coder0.service")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mosaic-" not in result.stderr, result.stderr
