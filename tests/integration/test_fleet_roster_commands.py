"""fleet_roster through the real ``ansible`` CLI: each agent's command line, and malformed model
hints refused at their path (THE runtime table, framework/fleet/runtimes.json)."""

import json
import os
import subprocess

from framework_util import install_framework
from test_fleet_roster import ROSTERS, run  # noqa: F401 (the fixture)  pylint: disable=unused-import

from ansible_collections.mosaic.fleet.plugins.module_utils import roster

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_agent_gets_its_command_line(run):  # noqa: F811
    rc, status, result, _output = run("src=%s" % os.path.join(ROSTERS, "good", "multi-host-ssh.yaml"),
                                      inventory="web1,web2,web3,")
    assert (rc, status) == (0, "SUCCESS")
    commands = result["commands"]
    assert sorted(commands) == sorted(a["name"] for a in result["roster"]["agents"])
    assert commands["orchestrator"]["argv"][:4] == ["claude", "--dangerously-skip-permissions", "--model", "opus"]
    assert commands["orchestrator"]["argv"][-2:] == ["--append-system-prompt", "<prompt>"]
    # The 200k cap, then what keeps an unattended Claude from phoning home (update checks, traffic).
    assert commands["orchestrator"]["env"] == ["CLAUDE_CODE_DISABLE_1M_CONTEXT=1",
                                               "CLAUDE_CODE_AUTO_COMPACT_WINDOW=200000",
                                               "DISABLE_AUTOUPDATER=1",
                                               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
                                               "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1",
                                               "DISABLE_INSTALLATION_CHECKS=1"]
    assert commands["coder0"]["argv"] == ["pi", "-e", "<MOSAIC_HOME>/tools/fleet/pi-heartbeat.ts", "--provider",
                                          "openai-codex", "--model", "gpt-5.5", "--thinking", "high",
                                          "--append-system-prompt", "<prompt>"]
    assert commands["reviewer"]["argv"] == ["bash", "-c", "pi --model openai-codex/gpt-5.5:high --no-session"]


def test_the_command_lines_are_the_launchers(run, tmp_path):  # noqa: F811
    """fleet_roster's argv is launch-agent --print's, once the host's MOSAIC_HOME and prompt are in."""
    agents = [{"name": "a%d" % i, "runtime": rt, "model_hint": hint}
              for i, (rt, hint) in enumerate([("stub", ""), ("pi", "ollama/llama3:8b"), ("pi", "sonnet:low"),
                                              ("codex", "gpt-5.5:high"), ("claude", "opus"),
                                              ("opencode", "anthropic/claude-sonnet-4-5"), ("codex", "")])]
    document = {"version": 1, "profile": "minimal", "agents": agents}
    rc, status, result, _output = run(json.dumps({"roster": document}))
    assert (rc, status) == (0, "SUCCESS")
    home = str(tmp_path / "home" / ".config" / "mosaic")
    os.makedirs(os.path.join(home, "fleet", "agents"))
    launcher = os.path.join(install_framework(tmp_path / "framework"), "tools", "fleet", "launch-agent")
    for agent in result["roster"]["agents"]:
        env = {"PATH": os.environ["PATH"], "HOME": os.path.dirname(home), "MOSAIC_HOME": home,
               "MOSAIC_AGENT_NAME": agent["name"], "MOSAIC_AGENT_RUNTIME": agent["runtime"],
               "MOSAIC_AGENT_MODEL": agent["model_hint"], "MOSAIC_AGENT_CLASS": agent["class"]}
        printed = subprocess.run([launcher, "--print"], env=env, capture_output=True, text=True, timeout=30,
                                 check=True).stdout.splitlines()
        expected = [word.replace("<MOSAIC_HOME>", home) for word in result["commands"][agent["name"]]["argv"]]
        assert len(printed) == len(expected), agent
        for word, want in zip(printed, expected):
            if "<prompt>" in want:  # as is, or a TOML string (codex): the host's prompt is there
                head = want.split("<prompt>")[0].rstrip('"')
                assert word.startswith(head + ('"' if head != want.split("<prompt>")[0] else "") + "You are "), word
            else:
                assert word == want, agent


def test_a_malformed_model_hint_is_refused_with_its_path(run):  # noqa: F811
    document = {"version": 1, "profile": "minimal", "defaults": {"model_hint": "/gpt"},
                "agents": [{"name": "a", "runtime": "stub"}, {"name": "b", "runtime": "codex"},
                           {"name": "c", "runtime": "pi", "model_hint": "openai/"},
                           {"name": "d", "runtime": "pi", "model_hint": "ok/m:high"}]}
    rc, status, result, _output = run(json.dumps({"roster": document}))
    assert rc != 0 and status == "FAILED!"
    assert [v["path"] for v in result["violations"]] == ["agents[2].model_hint", "defaults.model_hint"]
    assert "agents[2].model_hint: 'openai/' names no model" in result["msg"]
    assert "for runtime codex of agents[1]" in result["msg"]
    assert roster.validate(document)[1] == []  # only the runtime table refuses these
