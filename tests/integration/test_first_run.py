"""fleet_host_config writes each runtime's first-run state into the fleet user's home, merged into
the user's own files: check mode writes nothing, --diff shows only the fleet's keys (never a
secret), a second run changes nothing. (That a runtime then reaches its prompt from such a home:
test_real_runtimes.py, which uses the same firstrun code.)"""

import json
import os
import sys

from test_host_config import agent, roster, run_module

KEY = "sk-ant-api03-SECRETSECRETSECRET-abcdefghijklmnopqrst"
USER_SECRET = "user-own-primary-key-0123456789"


def fleet(home_dir):
    agents = []
    for name, runtime, workdir in (("orch", "claude", "~"), ("cx", "codex", "~/src"), ("pi0", "pi", "~"),
                                   ("oc", "opencode", "/srv/x")):
        spec = agent(name)
        spec.update(runtime=runtime, working_directory=workdir, model_hint="mock-model")
        agents.append(spec)
    return roster(*agents)


def test_first_run_state_merged_check_diff_idempotent(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text(json.dumps({"numStartups": 4, "primaryApiKey": USER_SECRET,
                                                   "projects": {"/elsewhere": {"allowedTools": ["Bash"]}}}))
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text('model = "o3"\n\n[tui]\nnotifications = true\n')
    os.chmod(home / ".codex" / "config.toml", 0o640)
    before = {p: p.read_text() for p in (home / ".claude.json", home / ".codex" / "config.toml")}
    args = {"roster": fleet(home), "host": "localhost", "mosaic_home": str(tmp_path / "mosaic"),
            "secrets": {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
                        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}}

    result, out = run_module(tmp_path, args, "--check", "--diff")
    assert result["changed"] is True
    assert result["first_run_changed"] == [".claude.json", ".claude/settings.json", ".codex/config.toml",
                                           ".config/opencode/opencode.json", ".pi/agent/models.json",
                                           ".pi/agent/settings.json"]
    assert {p: p.read_text() for p in before} == before and not (home / ".claude").exists()
    # The diff shows the fleet's keys, never the user's file or a key.
    assert "~/.claude.json" in out and "hasCompletedOnboarding = true" in out
    assert "customApiKeyResponses.approved holds <the API key's last 20 characters>" in out
    for secret in (KEY, KEY[-20:], USER_SECRET):
        assert secret not in out

    result, out = run_module(tmp_path, args, "--diff")
    assert result["changed"] is True and len(result["first_run_changed"]) == 6
    for secret in (KEY, KEY[-20:], USER_SECRET):
        assert secret not in out
    state = json.loads((home / ".claude.json").read_text())
    assert state["numStartups"] == 4 and state["primaryApiKey"] == USER_SECRET
    assert state["projects"]["/elsewhere"] == {"allowedTools": ["Bash"]}
    assert state["projects"][str(home)] == {"hasTrustDialogAccepted": True}
    assert state["hasCompletedOnboarding"] is True
    assert state["customApiKeyResponses"]["approved"] == [KEY[-20:]]
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings == {"skipDangerousModePermissionPrompt": True, "autoCompactWindow": 200000,
                        "autoCompactEnabled": True}
    codex = (home / ".codex" / "config.toml").read_text()
    assert codex.startswith('model = "o3"\n') and "[tui]\nnotifications = true\n" in codex
    assert os.stat(home / ".codex" / "config.toml").st_mode & 0o777 == 0o640  # the user's mode kept
    if sys.version_info >= (3, 11):
        import tomllib
        config = tomllib.loads(codex)
        assert config["projects"] == {str(home / "src"): {"trust_level": "trusted"}}
        assert config["model_providers"]["mosaic"]["base_url"] == "http://127.0.0.1:9/v1"
    opencode = json.loads((home / ".config" / "opencode" / "opencode.json").read_text())
    assert opencode["permission"]["external_directory"] == "allow"
    assert opencode["provider"]["mosaic"]["options"]["apiKey"] == "{env:ANTHROPIC_API_KEY}"
    assert os.stat(home / ".config" / "opencode" / "opencode.json").st_mode & 0o777 == 0o600
    pi_models = json.loads((home / ".pi" / "agent" / "models.json").read_text())
    assert pi_models["providers"]["mosaic"]["apiKey"] == "ANTHROPIC_API_KEY"
    for path in home.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(), path

    # Idempotent; without secrets the host's credentials/fleet.env is read (same key: no change).
    result = run_module(tmp_path, args)[0]
    assert result["changed"] is False and result["first_run_changed"] == []
    del args["secrets"]
    result = run_module(tmp_path, args)[0]
    assert result["changed"] is False and result["first_run_changed"] == []

    # first_run: false leaves the home alone.
    (home / ".claude.json").write_text("{}")
    result = run_module(tmp_path, dict(args, first_run=False))[0]
    assert result["first_run_changed"] == [] and (home / ".claude.json").read_text() == "{}"


def test_a_file_it_cannot_merge_into_fails_clearly(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text("{broken")
    args = {"roster": fleet(home), "host": "localhost", "mosaic_home": str(tmp_path / "mosaic")}
    result, out = run_module(tmp_path, args)
    assert result["_status"] == "FAILED"
    assert ".claude.json is not valid JSON" in result["msg"] and "Traceback" not in out
