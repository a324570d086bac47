"""framework/tools/fleet/launch-agent: runtime + model hint -> argv, stated as data.

Runs the real script with --print0 / --print-env (it prints instead of exec'ing), with a temporary
MOSAIC_HOME; nothing is started.
"""

import json
import os
import subprocess
import tomllib

import pytest

from shipped_util import assembled_framework

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(assembled_framework(), "tools", "fleet", "launch-agent")  # as shipped
HOME = "/nonexistent/home/.config/mosaic"  # placeholder in the table, replaced by the real one
PROMPT = object()  # placeholder for the expected appended prompt
PI_EXT = HOME + "/tools/fleet/pi-heartbeat.ts"
CLAUDE_ENV = ["CLAUDE_CODE_DISABLE_1M_CONTEXT=1", "CLAUDE_CODE_AUTO_COMPACT_WINDOW=200000",
              # unattended: no self-update, installation checks or non-essential traffic
              "DISABLE_AUTOUPDATER=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
              "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1", "DISABLE_INSTALLATION_CHECKS=1"]
# As root, the table's claude argv also sets IS_SANDBOX=1 (its `root` part).
CLAUDE_TABLE_ENV = CLAUDE_ENV + (["IS_SANDBOX=1"] if os.geteuid() == 0 else [])
PI_ENV = ["PI_OFFLINE=1", "PI_SKIP_VERSION_CHECK=1", "PI_TELEMETRY=0"]
OPENCODE_ENV = ["OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_SHARE=1",
                "OPENCODE_DISABLE_LSP_DOWNLOAD=1", "OPENCODE_DISABLE_DEFAULT_PLUGINS=1"]


def launch(mosaic_home, *args, **env_vars):
    env = {"PATH": os.environ["PATH"], "HOME": os.path.dirname(mosaic_home),
           "MOSAIC_HOME": mosaic_home}
    env.update(env_vars)
    return subprocess.run([LAUNCHER] + list(args), env=env, capture_output=True, timeout=30,
                          check=False)


def argv_of(mosaic_home, **env_vars):
    result = launch(mosaic_home, "--print0", **env_vars)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode("utf-8").split("\0")[:-1]


def env_of(mosaic_home, **env_vars):
    result = launch(mosaic_home, "--print-env", **env_vars)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode("utf-8").splitlines()


def expected_prompt(home, name, agent_class, comms=None, mandates=(), role=None):
    """The appended prompt; ``mandates``: the mandate files that exist (relative to the home)."""
    if agent_class and mandates:
        text = ("You are %s, the %s agent of a Mosaic fleet. Your framework is in %s: follow "
                "CONSTITUTION.md and AGENTS.md there, and the mandate of your role in %s."
                % (name, agent_class, home, ", then ".join(mandates)))
    elif agent_class:
        role = role or agent_class
        text = ("You are %s, the %s agent of a Mosaic fleet. Your framework is in %s: follow "
                "CONSTITUTION.md and AGENTS.md there. Your role has no mandate file yet "
                "(fleet/roles/%s.md, or the operator's fleet/roles/%s.local.md): ask the "
                "orchestrator for your mandate." % (name, agent_class, home, role, role))
    else:
        text = ("You are %s, an agent of a Mosaic fleet. Your framework is in %s: follow "
                "CONSTITUTION.md and AGENTS.md there." % (name, home))
    if comms is not None:
        text += "\n\n" + comms.rstrip("\n")
    return text


def write(mosaic_home, rel, text=""):
    path = os.path.join(mosaic_home, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


@pytest.fixture
def mosaic_home(tmp_path):
    home = tmp_path / "home" / ".config" / "mosaic"
    (home / "fleet" / "agents").mkdir(parents=True)
    return str(home)


def toml_value(text):
    return tomllib.loads("v = " + text)["v"]


# (runtime, model hint, expected argv with HOME/PROMPT placeholders, expected extra env)
CASES = [
    ("claude", "", ["claude", "--dangerously-skip-permissions", "--settings", "<settings>",
                    "--append-system-prompt", PROMPT], CLAUDE_TABLE_ENV),
    ("claude", "opus", ["claude", "--dangerously-skip-permissions", "--model", "opus",
                        "--settings", "<settings>", "--append-system-prompt", PROMPT], CLAUDE_TABLE_ENV),
    ("codex", "", ["codex", "--dangerously-bypass-approvals-and-sandbox",
                   "-c", "<developer_instructions>", "-c", "<notify>"], []),
    ("codex", "gpt-5.5:high", ["codex", "--dangerously-bypass-approvals-and-sandbox",
                               "-m", "gpt-5.5", "-c", 'model_reasoning_effort="high"',
                               "-c", "<developer_instructions>", "-c", "<notify>"], []),
    ("codex", "openai/o3", ["codex", "--dangerously-bypass-approvals-and-sandbox", "-m", "o3",
                            "-c", "<developer_instructions>", "-c", "<notify>"], []),
    ("pi", "", ["pi", "-e", PI_EXT, "--append-system-prompt", PROMPT], PI_ENV),
    ("pi", "openai-codex/gpt-5.5:high", ["pi", "-e", PI_EXT, "--provider", "openai-codex", "--model", "gpt-5.5",
                                         "--thinking", "high", "--append-system-prompt", PROMPT],
     PI_ENV),
    ("pi", "sonnet", ["pi", "-e", PI_EXT, "--model", "sonnet", "--append-system-prompt", PROMPT],
     PI_ENV),
    ("pi", "sonnet:xhigh", ["pi", "-e", PI_EXT, "--model", "sonnet", "--thinking", "xhigh",
                            "--append-system-prompt", PROMPT], PI_ENV),
    ("pi", "ollama/llama3:8b", ["pi", "-e", PI_EXT, "--provider", "ollama", "--model", "llama3:8b",
                                "--append-system-prompt", PROMPT], PI_ENV),
    ("pi", "openrouter/anthropic/claude-x", ["pi", "-e", PI_EXT, "--provider", "openrouter", "--model",
                                             "anthropic/claude-x", "--append-system-prompt",
                                             PROMPT], PI_ENV),
    ("opencode", "", ["opencode"], ["<opencode>"]),
    ("opencode", "anthropic/claude-sonnet-4-5", ["opencode", "--model",
                                                 "anthropic/claude-sonnet-4-5"], ["<opencode>"]),
    ("stub", "", ["python3", HOME + "/tools/fleet/stub-agent"], []),
    ("stub", "ignored", ["python3", HOME + "/tools/fleet/stub-agent"], []),
]


@pytest.mark.parametrize("runtime,hint,expected,expected_env", CASES,
                         ids=["%s[%s]" % (c[0], c[1]) for c in CASES])
def test_mapping(mosaic_home, runtime, hint, expected, expected_env):
    comms = "# Fleet Comms\nYou are [web1:coder0].\nSend: agent-send.sh -s orchestrator -m '...'\n"
    with open(os.path.join(mosaic_home, "fleet", "agents", "coder0.comms.md"), "w") as handle:
        handle.write(comms)
    write(mosaic_home, "fleet/roles/coder.md")
    prompt = expected_prompt(mosaic_home, "coder0", "coder", comms, ["fleet/roles/coder.md"])
    argv = argv_of(mosaic_home, MOSAIC_AGENT_NAME="coder0", MOSAIC_AGENT_CLASS="coder",
                   MOSAIC_AGENT_RUNTIME=runtime, MOSAIC_AGENT_MODEL=hint)
    want = []
    for item in expected:
        if item is PROMPT:
            want.append(prompt)
        elif item == "<settings>":
            settings = json.loads(argv[len(want)])
            hooks = settings["hooks"]
            assert sorted(hooks) == ["Notification", "PostToolUse", "SessionStart", "Stop",
                                     "UserPromptSubmit"]
            for event, entries in hooks.items():
                command = entries[0]["hooks"][0]["command"]
                mode = "--notify" if event == "Notification" else "--hook"
                assert command == '"$MOSAIC_HOME/tools/fleet/heartbeat" ' + mode
            # The status line beats while Claude idles (refreshInterval) and carries the metering.
            assert settings["statusLine"] == {"type": "command", "refreshInterval": 5,
                                              "command": '"$MOSAIC_HOME/tools/fleet/heartbeat" --status'}
            want.append(argv[len(want)])
        elif item == "<developer_instructions>":
            key, value = argv[len(want)].split("=", 1)
            assert key == "developer_instructions"
            assert toml_value(value) == prompt
            want.append(argv[len(want)])
        elif item == "<notify>":
            key, value = argv[len(want)].split("=", 1)
            assert key == "notify"
            assert toml_value(value) == [mosaic_home + "/tools/fleet/heartbeat", "--codex"]
            want.append(argv[len(want)])
        else:
            want.append(item.replace(HOME, mosaic_home))
    assert argv == want
    env = env_of(mosaic_home, MOSAIC_AGENT_NAME="coder0", MOSAIC_AGENT_CLASS="coder",
                 MOSAIC_AGENT_RUNTIME=runtime, MOSAIC_AGENT_MODEL=hint)
    if expected_env == ["<opencode>"]:
        assert env[:-1] == OPENCODE_ENV and env[-1].startswith("OPENCODE_CONFIG_CONTENT=")
        config = json.loads(env[-1].partition("=")[2])
        # Only the instruction files that exist (here: the mandate and the comms sheet).
        assert config == {"permission": "allow",
                          "plugin": ["file://" + mosaic_home + "/tools/fleet/opencode-heartbeat.js"],
                          "instructions": [mosaic_home + "/fleet/roles/coder.md",
                                           mosaic_home + "/fleet/agents/coder0.comms.md"]}
    else:
        assert env == expected_env


def test_prompt_without_comms_or_class(mosaic_home):
    argv = argv_of(mosaic_home, MOSAIC_AGENT_NAME="solo", MOSAIC_AGENT_RUNTIME="pi")
    assert argv == ["pi", "-e", mosaic_home + "/tools/fleet/pi-heartbeat.ts",
                    "--append-system-prompt", expected_prompt(mosaic_home, "solo", "")]


def test_codex_prompt_with_awkward_characters_is_valid_toml(mosaic_home):
    comms = 'quote " backslash \\ tab \t del \x7f bell \x07 unicode é 🚀\nsecond line\n'
    with open(os.path.join(mosaic_home, "fleet", "agents", "x.comms.md"), "w") as handle:
        handle.write(comms)
    argv = argv_of(mosaic_home, MOSAIC_AGENT_NAME="x", MOSAIC_AGENT_RUNTIME="codex",
                   MOSAIC_AGENT_CLASS="coder")
    value = [a for a in argv if a.startswith("developer_instructions=")][0].partition("=")[2]
    assert toml_value(value) == expected_prompt(mosaic_home, "x", "coder", comms)


def test_opencode_instructions_list_existing_framework_files(mosaic_home):
    for rel in ("CONSTITUTION.md", "AGENTS.md", "fleet/roles/reviewer.md"):
        path = os.path.join(mosaic_home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()
    env = env_of(mosaic_home, MOSAIC_AGENT_NAME="rev", MOSAIC_AGENT_RUNTIME="opencode",
                 MOSAIC_AGENT_CLASS="reviewer")
    config = json.loads(env[-1].partition("=")[2])
    assert config["instructions"] == [
        mosaic_home + "/CONSTITUTION.md", mosaic_home + "/AGENTS.md",
        mosaic_home + "/fleet/roles/reviewer.md",
    ]


def prompt_of(mosaic_home, name, agent_class):
    argv = argv_of(mosaic_home, MOSAIC_AGENT_NAME=name, MOSAIC_AGENT_RUNTIME="pi",
                   MOSAIC_AGENT_CLASS=agent_class)
    assert argv[-2] == "--append-system-prompt"
    return argv[-1]


def opencode_instructions(mosaic_home, name, agent_class):
    env = env_of(mosaic_home, MOSAIC_AGENT_NAME=name, MOSAIC_AGENT_RUNTIME="opencode",
                 MOSAIC_AGENT_CLASS=agent_class)
    return json.loads(env[-1].partition("=")[2])["instructions"]


def assert_mandates(mosaic_home, agent_class, files):
    """The launcher hands a ``agent_class`` agent exactly ``files``: in its prompt and to opencode."""
    assert prompt_of(mosaic_home, "a0", agent_class) == expected_prompt(mosaic_home, "a0", agent_class, mandates=files)
    assert opencode_instructions(mosaic_home, "a0", agent_class) == [mosaic_home + "/" + f for f in files]


def test_the_framework_mandate_then_the_operators_overlay(mosaic_home):
    write(mosaic_home, "fleet/roles/reviewer.md")
    assert_mandates(mosaic_home, "reviewer", ["fleet/roles/reviewer.md"])
    write(mosaic_home, "fleet/roles/reviewer.local.md")
    assert_mandates(mosaic_home, "reviewer", ["fleet/roles/reviewer.md", "fleet/roles/reviewer.local.md"])


def test_implementer_reads_the_coders_mandate(mosaic_home):
    for rel in ("fleet/roles/coder.md", "fleet/roles/implementer.md", "fleet/roles/coder.local.md"):
        write(mosaic_home, rel)  # implementer.md is not the rule: never read
    assert_mandates(mosaic_home, "implementer", ["fleet/roles/coder.md", "fleet/roles/coder.local.md"])


def test_a_class_of_the_operators_own_reads_its_local_mandate(mosaic_home):
    write(mosaic_home, "fleet/roles/auditor.local.md", "# Role: auditor\n")
    assert_mandates(mosaic_home, "auditor", ["fleet/roles/auditor.local.md"])


@pytest.mark.parametrize("agent_class,role", [("auditor", "auditor"), ("implementer", "coder")])
def test_a_class_without_a_mandate_file_is_told_to_ask(mosaic_home, agent_class, role):
    prompt = prompt_of(mosaic_home, "x", agent_class)
    assert prompt == expected_prompt(mosaic_home, "x", agent_class, role=role)
    assert "fleet/roles/%s.local.md" % role in prompt
    assert opencode_instructions(mosaic_home, "x", agent_class) == []


@pytest.mark.parametrize("agent_class", ["../coder", "coder.local", "-x", "a b"])
def test_an_invalid_class_names_no_file(mosaic_home, agent_class):
    write(mosaic_home, "fleet/roles/coder.md")
    write(mosaic_home, "fleet/roles/coder.local.md")
    write(mosaic_home, "fleet/roles/coder.local.local.md")
    assert opencode_instructions(mosaic_home, "x", agent_class) == []


@pytest.mark.parametrize("runtime", ["claude", "codex", "pi", "opencode", "stub"])
def test_command_override(mosaic_home, runtime):
    command = "my-agent --flag 'two words' \"$HOME\";"
    argv = argv_of(mosaic_home, MOSAIC_AGENT_NAME="c", MOSAIC_AGENT_RUNTIME=runtime,
                   MOSAIC_AGENT_MODEL="opus", MOSAIC_AGENT_COMMAND=command)
    assert argv == ["bash", "-c", command]
    # The runtime's own env (claude's context cap, the unattended switches) applies whatever starts it.
    env = env_of(mosaic_home, MOSAIC_AGENT_NAME="c", MOSAIC_AGENT_RUNTIME=runtime,
                 MOSAIC_AGENT_COMMAND=command)
    assert env == {"claude": CLAUDE_ENV, "pi": PI_ENV, "opencode": OPENCODE_ENV}.get(runtime, [])


def test_print_lists_the_same_argv(mosaic_home):
    env = dict(MOSAIC_AGENT_NAME="c", MOSAIC_AGENT_RUNTIME="pi", MOSAIC_AGENT_MODEL="a/b:low")
    lines = launch(mosaic_home, "--print", **env).stdout.decode().splitlines()
    assert lines == argv_of(mosaic_home, **env)


def test_name_argument_reads_env_file_and_credentials(mosaic_home):
    with open(os.path.join(mosaic_home, "fleet", "agents", "w.env"), "w") as handle:
        handle.write("MOSAIC_AGENT_NAME=w\nMOSAIC_AGENT_RUNTIME=pi\nMOSAIC_AGENT_MODEL=\"x y\"\n")
    os.makedirs(os.path.join(mosaic_home, "credentials"))
    with open(os.path.join(mosaic_home, "credentials", "fleet.env"), "w") as handle:
        handle.write("MOSAIC_AGENT_MODEL=from-credentials\n")
    result = launch(mosaic_home, "--print0", "w")
    assert result.returncode == 0, result.stderr.decode()
    # credentials/fleet.env is read after the agent's env file.
    assert result.stdout.decode().split("\0")[3:5] == ["--model", "from-credentials"]


@pytest.mark.parametrize("env_vars,args,code", [
    ({"MOSAIC_AGENT_NAME": "x"}, [], 2),                                  # no runtime
    ({"MOSAIC_AGENT_NAME": "x", "MOSAIC_AGENT_RUNTIME": "gpt"}, [], 2),   # unknown runtime
    ({}, ["missing"], 3),                                                 # no env file
    ({}, ["bad.name"], 2),                                                # invalid name
    ({}, ["a", "b"], 2),                                                  # usage
])
def test_errors(mosaic_home, env_vars, args, code):
    result = launch(mosaic_home, "--print", *args, **env_vars)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr
