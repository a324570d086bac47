"""Which runtimes a host installs, at which versions (runtime_install.py), and the pins."""

import json
import os

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import runtime_install as ri
from ansible_collections.mosaic.fleet.plugins.module_utils.runtime_table import TABLE

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def agents(*pairs):
    return [{"name": name, "runtime": runtime} for name, runtime in pairs]


def test_the_pins_are_the_tested_versions():
    with open(os.path.join(REPO, "tests", "runtimes", "package.json")) as handle:
        tested = json.load(handle)["dependencies"]
    pinned = dict((spec["package"]["npm"], spec["package"]["version"])
                  for spec in TABLE["runtimes"].values() if "package" in spec)
    assert sorted(pinned) == ["@anthropic-ai/claude-code", "@mariozechner/pi-coding-agent", "@openai/codex",
                              "opencode-ai"]
    for package, version in pinned.items():
        assert tested[package] == version, package


def test_plan_takes_the_runtimes_in_use_with_overrides():
    fleet = agents(("o", "claude"), ("c0", "pi"), ("c1", "pi"), ("s", "stub"))
    assert ri.plan(TABLE, fleet) == [("claude", "@anthropic-ai/claude-code", "2.1.197"),
                                     ("pi", "@mariozechner/pi-coding-agent", "0.73.1")]
    assert ri.plan(TABLE, fleet, {"claude": "2.1.200"})[0] == ("claude", "@anthropic-ai/claude-code", "2.1.200")
    assert ri.plan(TABLE, agents(("s", "stub"))) == []
    # A version for a runtime not in use is accepted (and unused): one setting for every host.
    assert ri.plan(TABLE, agents(("c0", "pi")), {"codex": "0.172.0"}) == [
        ("pi", "@mariozechner/pi-coding-agent", "0.73.1")]


@pytest.mark.parametrize("versions,message", [
    ({"stub": "1.0.0"}, "no npm package for runtime 'stub'"),
    ({"nope": "1.0.0"}, "no npm package for runtime 'nope'"),
    ({"pi": "latest"}, "not an exact npm version"),
    ({"pi": "--registry=x"}, "not an exact npm version"),
    ({"pi": "^1.2.3"}, "not an exact npm version"),
    ({"pi": 1}, "not an exact npm version"),
])
def test_bad_versions(versions, message):
    with pytest.raises(ri.InstallError, match=message):
        ri.plan(TABLE, agents(("c0", "pi")), versions)


def test_changes_npm_argv_and_relaunch():
    wanted = [("claude", "@anthropic-ai/claude-code", "2.1.197"), ("pi", "@mariozechner/pi-coding-agent", "0.73.1")]
    installed = {"@anthropic-ai/claude-code": "2.1.197", "@mariozechner/pi-coding-agent": None}
    todo = ri.changes(wanted, installed)
    assert todo == [("pi", "@mariozechner/pi-coding-agent", "0.73.1", None)]
    assert ri.npm_argv("npm", "/h/.npm-global", todo) == [
        "npm", "install", "--global", "--prefix", "/h/.npm-global", "--no-audit", "--no-fund", "--loglevel=error",
        "@mariozechner/pi-coding-agent@0.73.1"]
    fleet = agents(("o", "claude"), ("c0", "pi"))
    assert ri.agents_to_relaunch(fleet, todo) == []  # a first install relaunches nothing
    upgrade = ri.changes(wanted, {"@anthropic-ai/claude-code": "2.1.190", "@mariozechner/pi-coding-agent": "0.73.1"})
    assert ri.agents_to_relaunch(fleet, upgrade) == ["o"]


def test_installed_version():
    assert ri.installed_version('{"name": "x", "version": "1.2.3"}') == "1.2.3"
    assert ri.installed_version(None) is None
    assert ri.installed_version("{broken") is None
    assert ri.package_json_path("/h/.npm-global/", "@a/b") == "/h/.npm-global/lib/node_modules/@a/b/package.json"
