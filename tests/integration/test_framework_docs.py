"""The framework tree as shipped: role library, core docs, executables, shell hygiene."""

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import mandate
from framework_util import REPO

FRAMEWORK = os.path.join(REPO, "framework")
SCRIPTS = ["lib.sh", "start-agent-session.sh", "stop-agent-session.sh", "holder.sh",
           "launch-agent", "heartbeat", "watch"]


def test_role_library_ships_every_framework_role():
    roles_dir = os.path.join(FRAMEWORK, "fleet", "roles")
    shipped = sorted(name[:-3] for name in os.listdir(roles_dir) if name.endswith(".md"))
    assert shipped == sorted(mandate.FRAMEWORK_ROLES)
    # The schema takes any class that follows the name rule; the library is not a closed list.
    with open(os.path.join(FRAMEWORK, "fleet", "roster.schema.json")) as handle:
        schema = json.load(handle)
    assert "enum" not in schema["$defs"]["agent"]["properties"]["class"]
    for name in shipped:
        with open(os.path.join(roles_dir, name + ".md")) as handle:
            text = handle.read()
        assert "## Mandate" in text and "## You do not" in text, name
    with open(os.path.join(roles_dir, "enhancer.md")) as handle:
        enhancer = handle.read()
    assert "never" in enhancer and "review product code" in enhancer


def test_core_documents_exist():
    for rel in ("CONSTITUTION.md", "AGENTS.md", "SOUL.md", "USER.md", "fleet/HEARTBEAT.md"):
        assert os.path.getsize(os.path.join(FRAMEWORK, rel)) > 200, rel
    with open(os.path.join(FRAMEWORK, "CONSTITUTION.md")) as handle:
        assert "no local override" in " ".join(handle.read().replace("*", "").split())


def test_runtime_table_documents_every_runtime():
    with open(os.path.join(REPO, "docs", "runtimes.md")) as handle:
        text = handle.read()
    for runtime in ("claude", "codex", "pi", "opencode", "stub"):
        assert "| `%s` |" % runtime in text, runtime
    for flag in ("--dangerously-skip-permissions", "--dangerously-bypass-approvals-and-sandbox",
                 "--append-system-prompt", "CLAUDE_CODE_AUTO_COMPACT_WINDOW=200000"):
        assert flag in text


def test_tools_are_executable_in_git():
    listing = subprocess.run(["git", "ls-files", "-s", "framework/tools/fleet"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    if not listing:
        pytest.skip("not a git checkout")
    modes = {line.split("\t")[1].rsplit("/", 1)[1]: line.split()[0] for line in listing.splitlines()}
    for name in ("start-agent-session.sh", "stop-agent-session.sh", "holder.sh", "launch-agent",
                 "heartbeat", "stub-agent", "watch", "transcript-writer", "fleet-ps"):
        assert modes.get(name) == "100755", name


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean():
    tools = os.path.join(FRAMEWORK, "tools", "fleet")
    result = subprocess.run(["shellcheck", "-x"] + SCRIPTS, cwd=tools, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout


def test_bash_syntax():
    tools = os.path.join(FRAMEWORK, "tools", "fleet")
    for name in SCRIPTS:
        result = subprocess.run(["bash", "-n", os.path.join(tools, name)], capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, (name, result.stderr)
