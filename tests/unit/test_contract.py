"""THE contract (plugins/module_utils/contract.py) and its generated shell side.

Drift checks: the committed framework/tools/fleet/contract.sh is what the generator writes today;
the real bash, sourcing lib.sh, holds the same values and applies the same name and socket rules;
the roster schema and the shipped units agree with the contract. Nothing on the machine is
touched but temporary directories.
"""

import json
import os
import subprocess

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import contract
from shipped_util import assembled_framework

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(REPO, "framework", "tools", "fleet", "lib.sh")
GENERATED = os.path.join(REPO, contract.SHELL_CONTRACT)

NAMES = ["coder0", "a", "_x", "9", "x_1-y", "A" * 48, "a" * 49, "", "-x", "a.b", "a:b", "a b",
         "coder\n", "co/der", "é", "a;b", "$x"]


def bash(script, *args, env=None):
    run_env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent-home"}
    run_env.update(env or {})
    result = subprocess.run(["bash", "-c", script, "contract-test", LIB] + list(args), env=run_env,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_committed_shell_contract_is_generated_from_contract_py():
    with open(GENERATED) as handle:
        committed = handle.read()
    assert committed == contract.shell_contract(), (
        "%s differs from contract.py: run scripts/gen-contract.py (make contract)" % contract.SHELL_CONTRACT)


def test_the_generator_script_agrees_and_checks():
    result = subprocess.run([os.path.join(REPO, "scripts", "gen-contract.py"), "--check"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_fleet_ps_ships_byte_identical_copies_of_fleet_ps_code():
    # tools/fleet/fleet-ps runs fleet_ps's own classification: the shipped copies are the module_utils.
    lib = os.path.join(assembled_framework(), "tools", "fleet", "mosaic_fleet_lib")
    shipped = sorted(name for name in os.listdir(lib) if not name.startswith("__"))
    assert {"ps.py", "ps_probe.py", "ps_report.py", "host.py", "contract.py"} <= set(shipped)
    for name in shipped:
        with open(os.path.join(lib, name), "rb") as copy, \
                open(os.path.join(REPO, "plugins", "module_utils", name), "rb") as owner:
            assert copy.read() == owner.read(), "%s drifted: run scripts/gen-contract.py (make contract)" % name


def test_bash_sourcing_lib_sh_holds_the_contract_values():
    # Each variable as bash sees it after `source lib.sh`, NUL-separated; arrays element by element.
    script = 'source "$1"; shift\nfor v in "$@"; do declare -n ref=$v; printf "%s\\0" "$v" "${#ref[@]}" "${ref[@]}"; unset -n ref; done'
    names = [name for name, _value in contract.shell_values()]
    fields = bash(script, *names).split("\0")[:-1]
    seen = {}
    while fields:
        name, count = fields[0], int(fields[1])
        seen[name] = tuple(fields[2:2 + count])
        fields = fields[2 + count:]
    expected = dict((name, value if isinstance(value, tuple) else (value,))
                    for name, value in contract.shell_values())
    assert seen == expected


def test_the_shell_default_mosaic_home_is_the_contract_one():
    out = bash('unset MOSAIC_HOME; source "$1"; printf "%s" "$MOSAIC_HOME"', env={"HOME": "/home/fleet"})
    assert out == "/home/fleet/" + contract.DEFAULT_MOSAIC_HOME_RELPATH
    assert contract.DEFAULT_MOSAIC_HOME == "~/" + contract.DEFAULT_MOSAIC_HOME_RELPATH


@pytest.mark.parametrize("name", NAMES)
def test_the_shell_name_rule_is_the_contract_one(name):
    out = bash('source "$1"; if mosaic_valid_name "$2"; then printf yes; else printf no; fi', name)
    assert out == ("yes" if contract.valid_name(name) else "no")


def test_the_name_rule():
    assert contract.valid_name("a" * contract.NAME_MAX_LENGTH)
    assert not contract.valid_name("a" * (contract.NAME_MAX_LENGTH + 1))
    for name in NAMES:
        bounded = contract.re.fullmatch(contract.NAME_BOUNDED, name) is not None
        assert bounded == contract.valid_name(name), name
    assert not contract.valid_name(None)


def test_the_shell_agent_paths_are_the_contract_ones(tmp_path):
    home = str(tmp_path)
    out = bash('source "$1"; mosaic_agent_env_file coder0', env={"MOSAIC_HOME": home})
    assert out == os.path.join(home, contract.env_file("coder0")) + "\n"


def test_the_viewer_rule():
    agents = {"coder0": "h", "coder0-x": "h"}
    assert contract.viewer_session("coder0", 4711) == "coder0-view-4711"
    assert contract.viewed_agent(contract.viewer_session("coder0", 4711), agents) == "coder0"
    assert contract.viewed_agent(contract.viewer_session("coder0-x", 1), agents) == "coder0-x"
    assert contract.viewed_agent("coder0-view2", agents) == "coder0"
    assert contract.viewed_agent("coder0", agents) is None
    assert contract.viewed_agent("coder0view", agents) is None
    # A session that is itself a roster agent is that agent, never a viewer.
    assert contract.viewed_agent("coder0-view", dict(agents, **{"coder0-view": "h2"})) is None


def test_the_transcript_paths():
    assert contract.transcript_file("coder0") == "fleet/log/transcripts/coder0.log"
    assert contract.transcript_file("coder0").startswith(contract.LOG_DIR + "/")
    assert contract.TRANSCRIPT_ROTATED_SUFFIX == ".1" and contract.TRANSCRIPT_MAX_BYTES == 1 << 20


def test_the_shell_viewer_and_transcript_names_are_the_contract_ones():
    out = bash('source "$1"; printf "%s\\n" "${MOSAIC_C_VIEWER_SUFFIX}" '
               '"$MOSAIC_C_TRANSCRIPT_DIR/x$MOSAIC_C_TRANSCRIPT_SUFFIX" "$MOSAIC_C_TRANSCRIPT_MAX_BYTES"')
    assert out.splitlines() == [contract.VIEWER_SUFFIX, contract.transcript_file("x"),
                                str(contract.TRANSCRIPT_MAX_BYTES)]


def test_the_transcript_writer_rotates_as_the_contract_says():
    with open(os.path.join(REPO, "framework", "tools", "fleet", "transcript-writer")) as handle:
        assert 'ROTATED_SUFFIX = "%s"' % contract.TRANSCRIPT_ROTATED_SUFFIX in handle.read()


@pytest.mark.parametrize("socket", ["", "mosaic-fleet"])
def test_the_shell_socket_rule_is_the_contract_one(tmp_path, socket):
    # A tmux on PATH that prints its argv: mosaic_tmux must pass what contract.socket_args says.
    fake = tmp_path / "tmux"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    out = bash('source "$1"; mosaic_tmux has-session -t =x',
               env={"PATH": "%s:%s" % (tmp_path, os.environ["PATH"]), "MOSAIC_TMUX_SOCKET": socket})
    assert out.splitlines() == contract.socket_args(socket) + ["has-session", "-t", "=x"]


def test_the_roster_schema_states_the_name_rule_as_the_contract_does():
    with open(os.path.join(REPO, "framework", "fleet", "roster.schema.json")) as handle:
        schema = json.load(handle)
    # The schema's class pattern is the name rule, anchored; agent names are checked by roster.py
    # with contract.valid_name.
    assert schema["$defs"]["agent"]["properties"]["class"]["pattern"] == "^%s$" % contract.NAME_BOUNDED


def test_the_roster_schema_holder_session_follows_the_name_rule():
    # holder.sh checks the holder session with the name rule: the schema must refuse what it refuses.
    with open(os.path.join(REPO, "framework", "fleet", "roster.schema.json")) as handle:
        schema = json.load(handle)
    assert schema["properties"]["tmux"]["properties"]["holder_session"]["pattern"] == "^%s$" % contract.NAME_BOUNDED


def test_the_roster_schema_default_holder_session_is_the_contract_one():
    with open(os.path.join(REPO, "framework", "fleet", "roster.schema.json")) as handle:
        schema = json.load(handle)
    assert schema["properties"]["tmux"]["properties"]["holder_session"]["default"] == contract.DEFAULT_HOLDER_SESSION


def test_the_agent_env_table_covers_roster_fields_in_the_schema():
    with open(os.path.join(REPO, "framework", "fleet", "roster.schema.json")) as handle:
        schema = json.load(handle)
    agent_fields = schema["$defs"]["agent"]["properties"]
    for key, (scope, path) in contract.AGENT_ENV + contract.HOLDER_ENV:
        assert key.startswith("MOSAIC_")
        node = agent_fields if scope == "agent" else schema["properties"]
        for part in path.split("."):
            assert part in node, (key, path)
            node = node[part].get("properties", {})
    assert len(set(contract.PANE_ENV_KEYS)) == len(contract.PANE_ENV_KEYS)


def test_agent_and_holder_env_pairs():
    normalized = {"tenant": "t", "tmux": {"socket_name": "s", "holder_session": "h"}}
    agent = {"name": "n", "runtime": "stub", "model_hint": "", "working_directory": "~", "socket": "s",
             "class": "worker", "host": "localhost", "persistent_persona": True, "resume": False, "command": ""}
    pairs = contract.agent_env_pairs(normalized, agent)
    assert [k for k, _v in pairs] == list(contract.AGENT_ENV_KEYS)
    assert dict(pairs)["MOSAIC_AGENT_PERSONA"] == "true"
    assert dict(pairs)["MOSAIC_AGENT_RESUME"] == "false"
    assert dict(pairs)["MOSAIC_HOLDER_SESSION"] == "h"
    assert contract.holder_env_pairs(normalized) == [("MOSAIC_TMUX_SOCKET", "s"), ("MOSAIC_HOLDER_SESSION", "h")]


def test_the_shipped_units_carry_the_contract_names():
    # The unit files keep literal names (systemd reads them as they are); they must be the contract's.
    unit_dir = os.path.join(REPO, "framework", contract.UNIT_SOURCE_DIR)
    assert sorted(os.listdir(unit_dir)) == sorted(contract.FLEET_UNITS)
    with open(os.path.join(unit_dir, contract.AGENT_UNIT_TEMPLATE)) as handle:
        agent = handle.read()
    with open(os.path.join(unit_dir, contract.HOLDER_UNIT)) as handle:
        holder = handle.read()
    home = contract.UNIT_MOSAIC_HOME
    assert "Requires=%s\n" % contract.HOLDER_UNIT in agent
    assert "EnvironmentFile=-%s/%s/%%i%s\n" % (home, contract.AGENTS_DIR, contract.ENV_SUFFIX) in agent
    assert "ExecStart=%s/%s/start-agent-session.sh %%i\n" % (home, contract.TOOLS_DIR) in agent
    assert "EnvironmentFile=-%s/%s\n" % (home, contract.HOLDER_ENV_FILE) in holder
    assert "ExecStart=%s/%s/holder.sh start\n" % (home, contract.TOOLS_DIR) in holder
    assert contract.agent_unit("coder0") == "mosaic-agent@coder0.service"


@pytest.mark.parametrize("name", ["coder0", "a" * 48, "a" * 49, "-x", "a.b"])
def test_agent_send_checks_session_names_with_the_contract_rule(tmp_path, name):
    # --dry-run resolves the target and prints it; it touches no tmux server.
    tool = os.path.join(REPO, "framework", contract.SEND_TOOL)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MOSAIC_HOME": str(tmp_path)}
    result = subprocess.run([tool, "--dry-run", "-s", name, "-m", "x"], env=env, capture_output=True,
                            text=True, timeout=30, check=False)
    if contract.valid_name(name):
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["target"] == name
    else:
        assert result.returncode == 2
        assert "invalid session name" in result.stderr
