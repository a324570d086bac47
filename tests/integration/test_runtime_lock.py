"""scripts/test-runtimes.sh, the installer of the pinned test runtimes, with the real npm: it
installs only from a committed lock, once, and refuses a lock that is missing or out of sync with
package.json with a message that says what to do. Runs on a copy of the script in a scratch tree
whose only dependency is a local directory (no registry)."""

import json
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOOL = "file:../../tool"

pytestmark = pytest.mark.skipif(not shutil.which("npm"), reason="npm is not installed")


@pytest.fixture
def tree(tmp_path):
    """A scratch checkout: scripts/test-runtimes.sh, tests/runtimes, and a local package ``tool``
    at its top. The lock names it ../../tool, which is the same directory seen from
    tests/runtimes and from .cache/test-runtimes, where npm ci runs."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(os.path.join(REPO, "scripts", "test-runtimes.sh"), tmp_path / "scripts")
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "package.json").write_text(json.dumps(
        {"name": "tool", "version": "1.0.0", "bin": {"tool": "tool.js"}}))
    (tmp_path / "tool" / "tool.js").write_text("#!/usr/bin/env node\nconsole.log('tool 1.0.0')\n")
    runtimes = tmp_path / "tests" / "runtimes"
    runtimes.mkdir(parents=True)
    write_manifest(runtimes, {"tool": TOOL})
    return tmp_path


def write_manifest(runtimes, dependencies):
    (runtimes / "package.json").write_text(json.dumps(
        {"name": "scratch-runtimes", "version": "0.0.0", "private": True, "dependencies": dependencies}))


def lock(runtimes):
    subprocess.run(["npm", "install", "--package-lock-only", "--no-audit", "--no-fund", "--loglevel=error",
                    "--cache", str(runtimes.parent.parent / ".cache" / "npm-cache")],
                   cwd=runtimes, check=True, capture_output=True, timeout=120)


def run(tree):
    return subprocess.run([str(tree / "scripts" / "test-runtimes.sh")], capture_output=True, text=True,
                          timeout=300, check=False)


def test_installs_from_the_lock_once(tree):
    lock(tree / "tests" / "runtimes")
    first = run(tree)
    assert first.returncode == 0, first.stderr
    bin_dir = first.stdout.strip()
    assert bin_dir == str(tree / ".cache" / "test-runtimes" / "node_modules" / ".bin")
    assert "npm ci" in first.stderr
    tool = subprocess.run([os.path.join(bin_dir, "tool")], capture_output=True, text=True, check=True)
    assert tool.stdout == "tool 1.0.0\n"
    assert os.path.isdir(tree / ".cache" / "npm-cache")  # npm's cache is in the clone too
    # Nothing to do while the lock is the same: no npm ci, same answer.
    again = run(tree)
    assert again.returncode == 0 and again.stdout == first.stdout and again.stderr == "", again.stderr


def test_a_missing_lock_is_refused(tree):
    result = run(tree)
    assert result.returncode == 1
    assert "package-lock.json is missing" in result.stderr and "bump-deps.sh" in result.stderr
    assert not (tree / ".cache" / "test-runtimes").exists()


def test_a_lock_out_of_sync_is_refused_and_the_old_tree_is_not_used(tree):
    runtimes = tree / "tests" / "runtimes"
    lock(runtimes)
    assert run(tree).returncode == 0
    write_manifest(runtimes, {"tool": TOOL, "other": TOOL})  # package.json moved on
    result = run(tree)
    assert result.returncode == 1, result.stderr
    assert "out of sync" in result.stderr and "bump-deps.sh" in result.stderr
    assert "Missing: other" in result.stderr  # npm's own words about what is missing
    assert result.stdout == ""  # no bin directory handed out
    # The tree installed from the earlier lock is not taken for the new one.
    assert run(tree).returncode == 1
