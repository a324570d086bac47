"""The first-run state of each runtime, merged into the user's own settings (firstrun.py)."""

import json
import sys

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import firstrun

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

HOME = "/home/fleet"
KEY = "sk-ant-api03-0123456789abcdefghijklmnopqrstuvwxyz"


def agents(*specs):
    return [{"name": "a%d" % i, "runtime": runtime, "working_directory": workdir, "model_hint": hint}
            for i, (runtime, workdir, hint) in enumerate(specs)]


def apply(plan, files=None):
    files = dict(files or {})
    for relpath, edits in plan.items():
        files[relpath] = firstrun.merge(relpath, files.get(relpath), edits)
    return files


def test_claude_fresh_home_gets_every_dialog_answered():
    plan = firstrun.plan(agents(("claude", "~", ""), ("claude", "~/src", "opus")), HOME,
                         {"ANTHROPIC_API_KEY": KEY})
    files = apply(plan)
    state = json.loads(files[".claude.json"])
    assert state == {
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
        "projects": {HOME: {"hasTrustDialogAccepted": True}, HOME + "/src": {"hasTrustDialogAccepted": True}},
    }
    assert KEY not in files[".claude.json"]  # only the last 20 characters, as Claude Code stores them
    assert json.loads(files[".claude/settings.json"]) == {
        "skipDangerousModePermissionPrompt": True, "autoCompactWindow": 200000, "autoCompactEnabled": True}
    assert firstrun.file_mode(".claude.json") == 0o600


def test_claude_merge_keeps_the_users_settings_and_is_idempotent():
    projects = {"/x": {"allowedTools": ["Bash"]}, HOME: {"history": [1], "hasTrustDialogAccepted": False}}
    mine = {"numStartups": 7, "theme": "dark", "projects": projects,
            "customApiKeyResponses": {"approved": ["other"], "rejected": [KEY[-20:]]}}
    plan = firstrun.plan(agents(("claude", "~", "")), HOME, {"ANTHROPIC_API_KEY": KEY})
    files = apply(plan, {".claude.json": json.dumps(mine), ".claude/settings.json": '{"model": "opus"}'})
    state = json.loads(files[".claude.json"])
    assert state["numStartups"] == 7 and state["theme"] == "dark"
    assert state["projects"]["/x"] == {"allowedTools": ["Bash"]}
    assert state["projects"][HOME] == {"history": [1], "hasTrustDialogAccepted": True}
    assert state["customApiKeyResponses"] == {"approved": ["other", KEY[-20:]], "rejected": []}
    assert json.loads(files[".claude/settings.json"])["model"] == "opus"
    # A second run changes nothing, byte for byte (whatever the file's formatting).
    for relpath, edits in plan.items():
        assert firstrun.merge(relpath, files[relpath], edits) is files[relpath]
    compact = json.dumps(json.loads(files[".claude.json"]), separators=(",", ":"))
    assert firstrun.merge(".claude.json", compact, plan[".claude.json"]) is compact


def test_no_key_no_approval_entry():
    plan = firstrun.plan(agents(("claude", "/srv/w", "")), HOME, {})
    state = json.loads(apply(plan)[".claude.json"])
    assert "customApiKeyResponses" not in state
    assert state["projects"] == {"/srv/w": {"hasTrustDialogAccepted": True}}


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_file_the_fleet_cannot_merge_into_is_an_error_naming_it(text):
    with pytest.raises(firstrun.FirstRunError, match=r"\.claude\.json"):
        firstrun.merge(".claude.json", text, [(("hasCompletedOnboarding",), True, "set")])


def test_codex_config_merged_line_by_line():
    mine = ('model = "o3"  # my model\napproval_policy = "on-request"\n\n'
            '[projects."/home/fleet/w"]\ntrust_level = "untrusted"\n\n[tui]\nnotifications = true\n')
    credentials = {"OPENAI_BASE_URL": "http://gw:8080/v1/", "OPENAI_API_KEY": "sk-secret"}
    plan = firstrun.plan(agents(("codex", "~/w", "gpt-5")), HOME, credentials)
    files = apply(plan, {".codex/config.toml": mine})
    text = files[".codex/config.toml"]
    assert "sk-secret" not in text
    assert text.startswith('model = "o3"  # my model\napproval_policy = "never"\n')
    if tomllib:
        config = tomllib.loads(text)
        assert config["model"] == "o3" and config["tui"] == {"notifications": True}
        assert config["approval_policy"] == "never"
        assert config["sandbox_mode"] == "danger-full-access"
        assert config["check_for_update_on_startup"] is False
        assert config["projects"] == {HOME + "/w": {"trust_level": "trusted"}}
        assert config["model_provider"] == "mosaic"
        assert config["model_providers"]["mosaic"] == {"name": "mosaic", "base_url": "http://gw:8080/v1",
                                                       "env_key": "OPENAI_API_KEY", "wire_api": "responses"}
    assert firstrun.merge(".codex/config.toml", text, plan[".codex/config.toml"]) is text


def test_codex_fresh_config_without_gateway_has_no_provider():
    files = apply(firstrun.plan(agents(("codex", "~", "")), HOME, {}))
    text = files[".codex/config.toml"]
    assert "model_provider" not in text
    if tomllib:
        assert tomllib.loads(text)["projects"] == {HOME: {"trust_level": "trusted"}}


def test_codex_multiline_value_of_an_owned_key_is_refused():
    text = 'approval_policy = [\n  "x",\n]\n'
    with pytest.raises(firstrun.FirstRunError, match="spans lines"):
        firstrun.merge(".codex/config.toml", text, [(("approval_policy",), "never", "set")])


def test_pi_gets_a_provider_only_behind_a_gateway():
    assert firstrun.plan(agents(("pi", "~", "")), HOME, {}) == {}
    plan = firstrun.plan(agents(("pi", "~", "mosaic/mock-model"), ("pi", "~", "other:high")), HOME,
                         {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9/", "ANTHROPIC_API_KEY": KEY})
    files = apply(plan, {".pi/agent/settings.json": '{"theme": "light"}'})
    models = json.loads(files[".pi/agent/models.json"])
    assert models == {"providers": {"mosaic": {"baseUrl": "http://127.0.0.1:9", "api": "anthropic-messages",
                                               "apiKey": "ANTHROPIC_API_KEY",
                                               "models": [{"id": "mock-model"}, {"id": "other"}]}}}
    settings = {"theme": "light", "defaultProvider": "mosaic", "defaultModel": "mock-model"}
    assert json.loads(files[".pi/agent/settings.json"]) == settings


def test_opencode_permissions_and_provider():
    credentials = {"OPENAI_BASE_URL": "http://gw/v1", "OPENAI_API_KEY": "sk-secret"}
    plan = firstrun.plan(agents(("opencode", "~", "")), HOME, credentials)
    files = apply(plan, {".config/opencode/opencode.json": '{"theme": "x", "permission": {"webfetch": "deny"}}'})
    config = json.loads(files[".config/opencode/opencode.json"])
    assert config["theme"] == "x"
    assert config["permission"] == {"webfetch": "deny", "bash": "allow", "edit": "allow",
                                    "external_directory": "allow"}
    assert config["provider"]["mosaic"]["options"] == {"baseURL": "http://gw/v1", "apiKey": "{env:OPENAI_API_KEY}"}
    assert config["model"] == "mosaic/default"
    assert "sk-secret" not in files[".config/opencode/opencode.json"]


def test_other_runtimes_get_nothing():
    assert firstrun.plan(agents(("stub", "~", "")), HOME, {"ANTHROPIC_API_KEY": KEY}) == {}


def test_expand_workdir():
    assert firstrun.expand_workdir("~", HOME) == HOME
    assert firstrun.expand_workdir("", HOME) == HOME
    assert firstrun.expand_workdir("~/a b", HOME + "/") == HOME + "/a b"
    assert firstrun.expand_workdir("/srv/x", HOME) == "/srv/x"
