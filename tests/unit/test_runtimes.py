"""THE runtime table (framework/fleet/runtimes.json) and its one implementation
(plugins/module_utils/runtimes.py): the generated copies, everything that reads the table, the
model hint grammar, and the launcher's argv equal to the module's for every runtime.
"""

import importlib.util
import json
import os
import re
import subprocess

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import mandate, roster, runtime_table, runtimes
from shipped_util import assembled_framework

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE_JSON = os.path.join(REPO, "framework", "fleet", "runtimes.json")
MODULE = os.path.join(REPO, "plugins", "module_utils", "runtimes.py")
LAUNCHER = os.path.join(assembled_framework(), "tools", "fleet", "launch-agent")  # as shipped
COPY = os.path.join(assembled_framework(), "tools", "fleet", "mosaic_runtimes.py")
GENERATOR = os.path.join(REPO, "scripts", "gen-contract.py")

with open(TABLE_JSON, encoding="utf-8") as _handle:
    TABLE = json.load(_handle)
NAMES = list(TABLE["runtimes"])


def load_generator():
    spec = importlib.util.spec_from_file_location("mosaic_gen_contract", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- one source: the generated files ------------------------------------------------------------

def test_the_shipped_host_copy_is_byte_identical_to_module_utils():
    with open(MODULE, "rb") as mine, open(COPY, "rb") as copy:
        assert copy.read() == mine.read(), "the assembled framework tree must ship runtimes.py as is"


def test_the_module_utils_table_is_the_json_table():
    assert runtime_table.TABLE == TABLE, "run scripts/gen-contract.py (make contract)"


def test_the_generator_has_nothing_to_write():
    result = subprocess.run(["python3", GENERATOR, "--check"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("target", ["framework/tools/fleet/contract.sh",
                                    "plugins/module_utils/runtime_table.py"])
def test_the_generator_check_fails_when_a_copy_drifts(monkeypatch, capsys, target):
    generator = load_generator()
    real_read = generator.read
    monkeypatch.setattr(generator, "read", lambda rel: real_read(rel) + "# edited by hand\n"
                        if rel == target else real_read(rel))
    assert generator.main(["gen-contract.py", "--check"]) == 1
    assert "%s is out of date" % target in capsys.readouterr().err


# --- the table's shape ----------------------------------------------------------------------------

def test_every_runtime_is_complete_and_uses_only_known_placeholders():
    levels = TABLE["model_hint"]["levels"]
    assert levels == ["off", "none", "minimal", "low", "medium", "high", "xhigh"]
    for name, spec in TABLE["runtimes"].items():
        assert spec["command"] and spec["process_names"], name
        for part in ("unattended", "model", "prompt", "heartbeat"):
            assert part in spec["argv"] and spec[part]["how"], (name, part)
        for part in spec["argv"]:
            for group in spec[part]["args"]:
                assert group, (name, part)
        used = runtimes.placeholders_of([spec[part] for part in spec["argv"]] + [spec["command"], spec["env"]])
        assert set(used) <= set(runtimes.PLACEHOLDERS), name
        for match in re.finditer(r"\{[a-z_]+:([a-z]+)\}", json.dumps(spec)):
            assert match.group(1) in runtimes.FILTERS, name
        # 'uses' says which parts of the hint the model flags take, and only those.
        hint_parts = set(runtimes.placeholders_of(spec["model"]["args"])) & set(runtimes.HINT_PARTS)
        assert hint_parts == set(spec["model"]["uses"]), name


def test_readers_of_the_runtime_list_agree_with_the_table():
    with open(os.path.join(REPO, "framework", "fleet", "roster.schema.json"), encoding="utf-8") as handle:
        schema = json.load(handle)
    assert schema["$defs"]["runtime"]["enum"] == NAMES
    assert list(roster.RUNTIMES) == NAMES


def test_fleet_ps_process_names_are_the_tables():
    from ansible_collections.mosaic.fleet.plugins.module_utils import ps
    assert ps.RUNTIME_PROCESS_NAMES == dict((n, tuple(s["process_names"])) for n, s in TABLE["runtimes"].items())


def test_the_doc_lists_every_runtime_flag_env_and_process_name():
    with open(os.path.join(REPO, "docs", "runtimes.md"), encoding="utf-8") as handle:
        text = handle.read()
    health = text.split("## Health while running", 1)[1]
    for name, spec in TABLE["runtimes"].items():
        row = [line for line in text.splitlines() if line.startswith("| `%s` |" % name)]
        assert len(row) == 1, name
        for part in spec["argv"]:
            for group in spec[part]["args"]:
                for arg in group:
                    if isinstance(arg, str) and arg.startswith("-"):
                        assert arg in row[0], (name, arg)
        for key, value in spec["env"].items():
            assert "%s=%s" % (key, value) in row[0], (name, key)
        for key in (k for part in spec["argv"] for k in spec[part].get("env", {})):
            assert key in row[0], (name, key)
        names = re.search(r"`%s`: ([^;.]*)" % name, health)
        assert names, name
        assert re.findall(r"[\w-]+", names.group(1).replace(" or ", " ")) == spec["process_names"], name
    assert " ".join(TABLE["model_hint"]["levels"]) in text


# --- the model hint ---------------------------------------------------------------------------------

@pytest.mark.parametrize("hint, parts", [
    ("", ("", "", "")),
    ("opus", ("", "opus", "")),
    ("gpt-5.5:high", ("", "gpt-5.5", "high")),
    ("openai-codex/gpt-5.5:high", ("openai-codex", "gpt-5.5", "high")),
    ("ollama/llama3:8b", ("ollama", "llama3:8b", "")),
    ("openrouter/anthropic/claude-x:off", ("openrouter", "anthropic/claude-x", "off")),
])
def test_split_hint(hint, parts):
    assert runtimes.split_hint(TABLE, hint) == parts


@pytest.mark.parametrize("runtime, hint, problem", [
    ("pi", "openai-codex/gpt-5.5:high", None),
    ("codex", "o3", None),
    ("claude", "openai-codex/gpt-5.5:high", None),   # passed as given
    ("opencode", "m", None),
    ("stub", "/:", None),                            # the stub uses no part of the hint
    ("gpt", "/", None),                              # an unknown runtime is the schema's to report
    ("pi", "/gpt-5.5", "empty provider"),
    ("pi", "openai/", "names no model"),
    ("codex", ":high", "names no model"),
    ("claude", "a/:low", "names no model"),
    ("opencode", "anthropic/claude:", "ends with ':'"),
])
def test_hint_problem(runtime, hint, problem):
    found = runtimes.hint_problem(TABLE, runtime, hint)
    if problem is None:
        assert found is None
    else:
        assert problem in found and repr(hint) in found and "[provider/]model[:level]" in found


def fleet(*agents, **extra):
    document = {"version": 1, "profile": "minimal", "agents": list(agents)}
    document.update(extra)
    return document


def test_malformed_hints_are_reported_at_their_path():
    document = fleet({"name": "a", "runtime": "pi", "model_hint": "x/"},
                     {"name": "b", "runtime": "pi"},
                     {"name": "c", "runtime": "codex", "model_hint": "/m", "command": "my-codex"},
                     {"name": "d", "runtime": "stub"},
                     {"name": "e", "runtime": "pi", "model_hint": "ok/fine:low"},
                     defaults={"model_hint": ":high"})
    assert roster.validate(document)[1] == []  # the schema and the fleet invariants are satisfied
    found = roster.model_hint_violations(document)
    assert [v.path for v in found] == ["agents[0].model_hint", "defaults.model_hint"]
    assert found[0].message.startswith("'x/' names no model") and found[0].message.endswith("for runtime pi")
    assert found[1].message.endswith("for runtime pi of agents[1]")
    assert roster.model_hint_violations(["not", "a", "roster"]) == []
    assert roster.model_hint_violations(fleet({"name": "a", "runtime": "pi", "model_hint": 3}, "x")) == []


# --- the command line: the module and the launcher ---------------------------------------------------

def test_controller_command_lines_use_placeholders_for_what_only_the_host_knows():
    normalized, violations = roster.validate(fleet(
        {"name": "s", "runtime": "stub"},
        {"name": "p", "runtime": "pi", "model_hint": "openai-codex/gpt-5.5:high"},
        {"name": "c", "runtime": "claude", "model_hint": "opus", "command": "exec my-claude --x"},
        {"name": "o", "runtime": "opencode", "model_hint": "anthropic/claude-sonnet-4-5"}))
    assert violations == []
    lines = roster.command_lines(normalized)
    assert lines["s"] == {"argv": ["python3", "<MOSAIC_HOME>/tools/fleet/stub-agent"], "env": [],
                          "command_line": "python3 '<MOSAIC_HOME>/tools/fleet/stub-agent'"}
    assert lines["p"]["argv"] == ["pi", "-e", "<MOSAIC_HOME>/tools/fleet/pi-heartbeat.ts", "--provider",
                                  "openai-codex", "--model", "gpt-5.5", "--thinking", "high",
                                  "--append-system-prompt", "<prompt>"]
    assert lines["c"]["argv"] == ["bash", "-c", "exec my-claude --x"]
    assert lines["c"]["env"][:2] == ["CLAUDE_CODE_DISABLE_1M_CONTEXT=1", "CLAUDE_CODE_AUTO_COMPACT_WINDOW=200000"]
    assert "DISABLE_AUTOUPDATER=1" in lines["c"]["env"]
    assert lines["c"]["command_line"].startswith("CLAUDE_CODE_DISABLE_1M_CONTEXT=1 ")
    config = json.loads(lines["o"]["env"][-1].partition("=")[2])
    assert config == {"permission": "allow", "plugin": ["file://<MOSAIC_HOME>/tools/fleet/opencode-heartbeat.js"],
                      "instructions": ["<instruction files>"]}


def test_unknown_runtime_is_an_error():
    with pytest.raises(runtimes.TableError, match="unknown runtime 'gpt' \\(claude, codex, pi, opencode, stub\\)"):
        runtimes.resolve(TABLE, "gpt", "", "", {})


HINTS = ["", "opus", "gpt-5.5:high", "openai-codex/gpt-5.5:high", "ollama/llama3:8b", "a/b/c:xhigh"]


@pytest.fixture
def mosaic_home(tmp_path):
    home = tmp_path / "a home" / ".config" / "mosaic"
    (home / "fleet" / "agents").mkdir(parents=True)
    (home / "fleet" / "roles").mkdir()
    (home / "AGENTS.md").write_text("agents\n")
    (home / "fleet" / "roles" / "coder.md").write_text("coder\n")
    (home / "fleet" / "agents" / "coder0.comms.md").write_text('# Fleet Comms\n"quoted" \\ \t\x7f é\n')
    return str(home)


def launcher(mosaic_home, mode, **env_vars):
    env = {"PATH": os.environ["PATH"], "HOME": os.path.dirname(mosaic_home), "MOSAIC_HOME": mosaic_home}
    env.update(env_vars)
    result = subprocess.run([LAUNCHER, mode], env=env, capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode("utf-8")


@pytest.mark.parametrize("runtime", NAMES)
@pytest.mark.parametrize("hint", HINTS)
def test_the_launcher_prints_what_the_module_resolves(mosaic_home, runtime, hint):
    """launch-agent --print (the reference) equals runtimes.resolve for the same agent."""
    name, klass = "coder0", "implementer"
    mandates = mandate.mandate_files(klass, lambda rel: os.path.isfile(os.path.join(mosaic_home, rel)))
    values = runtimes.host_values(mosaic_home, mosaic_home + "/tools/fleet", name, klass, mandates,
                                  mandate.mandate_role(klass), mosaic_home + "/fleet/agents/coder0.comms.md")
    argv, env = runtimes.resolve(TABLE, runtime, hint, "", values)
    agent = dict(MOSAIC_AGENT_NAME=name, MOSAIC_AGENT_CLASS=klass, MOSAIC_AGENT_RUNTIME=runtime,
                 MOSAIC_AGENT_MODEL=hint)
    assert launcher(mosaic_home, "--print0", **agent).split("\0")[:-1] == argv
    assert launcher(mosaic_home, "--print-env", **agent).splitlines() == env
    if runtime != "stub":
        assert "Fleet Comms" in " ".join(argv + env) or values["instruction_files"]


def test_the_host_entry_point_reports_a_broken_table(tmp_path, capsys):
    bad = tmp_path / "runtimes.json"
    bad.write_text("{not json")
    args = [str(bad), "pi", "", "", "/h", "/h/tools/fleet", "a", "", "", "/h/x.comms.md"]
    assert runtimes.main(args) == 2
    assert "cannot use the runtime table" in capsys.readouterr().err
    assert runtimes.main(args[:3]) == 2
