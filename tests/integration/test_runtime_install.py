"""fleet_runtimes installs the runtimes a host's agents use, for real, with npm (the pinned pi from
the lock's npm cache, .cache/npm-cache, so it needs no download when the test runtimes are
installed): into ~/.npm-global, whose bin start-agent-session.sh puts on the pane's PATH; check
mode installs nothing; a second run installs nothing; a runtime found at another version is
installed again and its agents are listed for a relaunch."""

import json
import os
import re
import subprocess

from ansible_collections.mosaic.fleet.plugins.module_utils.runtime_table import TABLE

from ansible_util import ansible_env
from test_host_config import agent, roster

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PI = TABLE["runtimes"]["pi"]["package"]


def run_module(tmp_path, args, *flags):
    env = ansible_env(os.environ, tmp_path / "ansible-tmp", HOME=str(tmp_path / "home"),
                      npm_config_cache=os.path.join(REPO, ".cache", "npm-cache"), npm_config_prefer_offline="true")
    proc = subprocess.run(
        [os.path.join(REPO, ".venv", "bin", "ansible"), "localhost", "-m", "mosaic.fleet.fleet_runtimes",
         "-a", json.dumps(args)] + list(flags), capture_output=True, text=True, env=env, check=False, timeout=900)
    match = re.search(r"^localhost \| (\w+)[^{]*=> (\{.*\})\s*$", proc.stdout, re.S | re.M)
    assert match, proc.stdout + proc.stderr
    result = json.loads(match.group(2))
    result["_status"] = match.group(1)
    return result, proc.stdout


def test_installs_the_pinned_runtime_once_and_relaunches_on_a_version_change(runtime_bin, tmp_path):
    (tmp_path / "home").mkdir()
    pi0, stub0 = agent("pi0"), agent("stub0")
    pi0["runtime"] = "pi"
    args = {"roster": roster(pi0, stub0), "host": "localhost"}
    prefix = tmp_path / "home" / ".npm-global"

    result, out = run_module(tmp_path, args, "--check", "--diff")
    assert result["changed"] is True and result["installed"] == ["pi"] and result["relaunch"] == []
    assert result["runtimes"] == [{"runtime": "pi", "package": PI["npm"], "version": PI["version"], "installed": None}]
    assert "pi %s (not installed)" % PI["npm"] in out and not prefix.exists()

    result = run_module(tmp_path, args)[0]
    assert result["changed"] is True and result["installed"] == ["pi"], result
    version = subprocess.run([str(prefix / "bin" / "pi"), "--version"], capture_output=True, text=True,
                             timeout=60, check=False)
    assert PI["version"] in version.stdout + version.stderr

    assert run_module(tmp_path, args)[0]["changed"] is False

    # Found at another version (an upgrade of the pin): installed again, its agents relaunched.
    package_json = prefix / "lib" / "node_modules" / PI["npm"] / "package.json"
    data = json.loads(package_json.read_text())
    data["version"] = "0.0.1"
    package_json.write_text(json.dumps(data))
    result = run_module(tmp_path, args)[0]
    assert result["installed"] == ["pi"] and result["relaunch"] == ["pi0"]
    assert json.loads(package_json.read_text())["version"] == PI["version"]


def test_a_bad_version_is_refused_clearly(tmp_path):
    (tmp_path / "home").mkdir()
    pi0 = agent("pi0")
    pi0["runtime"] = "pi"
    for versions, message in (({"pi": "latest"}, "not an exact npm version"),
                              ({"stub": "1.0.0"}, "no npm package for runtime 'stub'")):
        result, out = run_module(tmp_path, {"roster": roster(pi0), "host": "localhost", "versions": versions})
        assert result["_status"] == "FAILED" and message in result["msg"] and "Traceback" not in out


def test_the_role_installs_the_runtime_and_relaunches_its_agents(runtime_bin, tmp_path, socket_name):
    """ansible-playbook mosaic.fleet.fleet (tmux mode): a pi agent runs the pi the role installed
    in ~/.npm-global; a version change relaunches it (one at a time, healthy again: fleet_relaunch)."""
    import fleet_util  # pylint: disable=import-outside-toplevel
    fleet = fleet_util.Fleet(tmp_path, socket_name)
    fleet.env.update(npm_config_cache=os.path.join(REPO, ".cache", "npm-cache"), npm_config_prefer_offline="true")
    try:
        roster_doc = fleet.roster({"name": "pi0", "class": "worker", "runtime": "pi"})
        first = fleet.run_playbook("fleet", fleet.variables(roster_doc), timeout=900)
        assert first.returncode == 0, first.stdout + first.stderr
        prefix = fleet.home / ".npm-global"
        assert (prefix / "bin" / "pi").exists()

        def pane():
            return dict((name, (command, pid, dead)) for name, command, pid, dead in fleet.list_panes(
                "#{session_name}\t#{pane_current_command}\t#{pane_pid}\t#{pane_dead}"))["pi0"]

        command, pid, dead = pane()
        assert dead == "0" and command in TABLE["runtimes"]["pi"]["process_names"], pane()

        package_json = prefix / "lib" / "node_modules" / PI["npm"] / "package.json"
        data = json.loads(package_json.read_text())
        data["version"] = "0.0.1"
        package_json.write_text(json.dumps(data))
        second = fleet.run_playbook("fleet", fleet.variables(roster_doc), timeout=900)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "pi0 relaunched and healthy" in second.stdout
        assert json.loads(package_json.read_text())["version"] == PI["version"]
        assert pane()[1] != pid and pane()[2] == "0"  # a new process, alive

        third = fleet.run_playbook("fleet", fleet.variables(roster_doc), timeout=900)
        assert fleet.recap(third)["changed"] == 0, third.stdout
    finally:
        fleet.kill_server()
