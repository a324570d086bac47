# -*- coding: utf-8 -*-
"""mosaic.fleet.fleet_reseed end to end: the real action plugin and module via ``ansible``,
on a temporary MOSAIC_HOME, version A then a version B that changes, adds and drops files."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess

import pytest

from ansible_util import ansible_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMEWORK = os.path.join(REPO, "framework")


def _env(tmp_path):
    return ansible_env(os.environ, tmp_path / "ansible-local",
                       ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"))


def reseed(tmp_path, src, version, home, *flags, **extra):
    """Run the module once through ``ansible localhost``; the host's result dict."""
    args = "src=%s version=%s mosaic_home=%s" % (src, version, home)
    for key, value in extra.items():
        args += " %s=%s" % (key, value)
    tree = tmp_path / "ansible-tree"
    shutil.rmtree(str(tree), ignore_errors=True)
    # ``-t`` (tree) writes the host's full result as JSON: no stdout parsing.
    proc = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-t", str(tree),
         "-m", "mosaic.fleet.fleet_reseed", "-a", args] + list(flags),
        env=_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    try:
        with open(str(tree / "localhost")) as f:
            host = json.load(f)
    except (OSError, ValueError):
        pytest.fail("no result from ansible (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    assert proc.returncode == 0 and not host.get("failed"), (host.get("msg"), proc.stderr)
    host["_stdout"] = proc.stdout  # where --diff prints the diff
    return host


def snapshot(root):
    """{relpath: (bytes, mode)} of every file under root."""
    snap = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                snap[os.path.relpath(full, root)] = (f.read(), stat.S_IMODE(os.stat(full).st_mode))
    return snap


def write(path, text, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if mode is not None:
        os.chmod(path, mode)


@pytest.fixture
def versions(tmp_path):
    """Version A: the real framework/ plus fixture files; version B changes, adds and drops."""
    a = tmp_path / "A"
    shutil.copytree(FRAMEWORK, a, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    write(str(a / "AGENTS.md"), "agents v1\n")
    write(str(a / "CONSTITUTION.md"), "constitution v1\n")
    write(str(a / "SOUL.md"), "soul template\n")
    write(str(a / "tools" / "fleet" / "marker-A.sh"), "#!/bin/sh\necho A\n", 0o755)
    write(str(a / "docs" / "old.md"), "old doc\n")
    write(str(a / "docs" / "old-edited.md"), "old edited doc\n")
    write(str(a / "private.conf"), "secret-ish\n", 0o640)
    b = tmp_path / "B"
    shutil.copytree(a, b)
    write(str(b / "AGENTS.md"), "agents v2\n")                    # changed
    write(str(b / "SOUL.md"), "soul template v2\n")               # seed-once: never replaces
    write(str(b / "tools" / "fleet" / "added.sh"), "#!/bin/sh\necho B\n", 0o750)  # added
    os.remove(str(b / "docs" / "old.md"))                         # dropped, unedited
    os.remove(str(b / "docs" / "old-edited.md"))                  # dropped, edited
    return str(a), str(b)


def test_install_edit_upgrade_and_idempotence(tmp_path, versions):
    a, b = versions
    home = str(tmp_path / "home" / ".config" / "mosaic")

    first = reseed(tmp_path, a, "A", home)
    assert first["changed"] and first["version_from"] is None and first["version_to"] == "A"
    assert "AGENTS.md" in first["created"] and "SOUL.md" in first["created"]
    assert snapshot(home)["tools/fleet/marker-A.sh"][1] == 0o755
    assert snapshot(home)["private.conf"][1] == 0o640
    # a custom src gets the collection's module_utils its host tools run, byte for byte
    with open(os.path.join(REPO, "plugins", "module_utils", "ps_probe.py"), "rb") as handle:
        assert snapshot(home)["tools/fleet/mosaic_fleet_lib/ps_probe.py"] == (handle.read(), 0o644)
    assert "tools/fleet/mosaic_runtimes.py" in first["created"]
    manifest = json.load(open(os.path.join(home, ".mosaic-manifest.json")))
    assert manifest["version"] == "A" and manifest["files"]["SOUL.md"]["class"] == "seed"
    assert reseed(tmp_path, a, "A", home)["changed"] is False

    # The user edits: a framework file that B changes, one B keeps, one B drops, and their own files.
    write(os.path.join(home, "AGENTS.md"), "agents v1\nmy edit\n")
    write(os.path.join(home, "CONSTITUTION.md"), "constitution v1\nmy rule\n")
    write(os.path.join(home, "docs", "old-edited.md"), "old edited doc\nmine\n")
    write(os.path.join(home, "SOUL.md"), "my soul\n")
    write(os.path.join(home, "AGENTS.local.md"), "local notes\n")
    write(os.path.join(home, "credentials", "fleet.env"), "TOKEN=s3cret\n", 0o600)
    write(os.path.join(home, "fleet", "run", "a.heartbeat"), "1 2\n")
    before = snapshot(home)
    user_files = ("SOUL.md", "AGENTS.local.md", "credentials/fleet.env", "fleet/run/a.heartbeat",
                  "CONSTITUTION.md")

    # --check --diff shows the plan and writes nothing; credentials never appear in the diff.
    proc_result = reseed(tmp_path, b, "B", home, "--check", "--diff")
    assert proc_result["changed"]
    assert snapshot(home) == before
    diff_text = proc_result["_stdout"]
    assert "+++ after: AGENTS.md (B)" in diff_text and "+agents v2" in diff_text
    assert "+++ after: tools/fleet/added.sh (B)" in diff_text
    assert "s3cret" not in diff_text and "my soul" not in diff_text and "local notes" not in diff_text

    up = reseed(tmp_path, b, "B", home)
    after = snapshot(home)
    assert up["changed"] and (up["version_from"], up["version_to"]) == ("A", "B")
    for rel in user_files:
        assert after[rel] == before[rel], rel
    assert up["updated"] == ["AGENTS.md"]
    assert up["backed_up"] == ["AGENTS.md.A.bak"]
    assert after["AGENTS.md.A.bak"][0] == b"agents v1\nmy edit\n"
    assert after["AGENTS.md"][0] == b"agents v2\n"
    assert up["created"] == ["tools/fleet/added.sh"]
    assert after["tools/fleet/added.sh"] == (b"#!/bin/sh\necho B\n", 0o750)
    assert up["removed"] == ["docs/old.md"] and "docs/old.md" not in after
    assert up["orphaned"] == ["docs/old-edited.md"]
    assert after["docs/old-edited.md"][0] == b"old edited doc\nmine\n"
    assert up["preserved"] == ["CONSTITUTION.md"]
    assert after["tools/fleet/marker-A.sh"][1] == 0o755 and after["private.conf"][1] == 0o640

    again = reseed(tmp_path, b, "B", home)
    assert again["changed"] is False and again["up_to_date"] is True
    assert snapshot(home) == after
    forced = reseed(tmp_path, b, "B", home, force="true")
    assert forced["changed"] is False and forced["up_to_date"] is False
    assert forced["preserved"] == ["CONSTITUTION.md"]
    assert snapshot(home) == after


def test_check_mode_first_install_writes_nothing(tmp_path, versions):
    a, _b = versions
    home = str(tmp_path / "fresh" / "mosaic")
    result = reseed(tmp_path, a, "A", home, "--check")
    assert result["changed"] and "AGENTS.md" in result["created"]
    assert result["transferred"] is False  # the index alone is enough to report the plan
    assert not os.path.exists(home)


def test_deleted_framework_file_comes_back_with_force(tmp_path, versions):
    a, _b = versions
    home = str(tmp_path / "home")
    reseed(tmp_path, a, "A", home)
    os.remove(os.path.join(home, "AGENTS.md"))
    os.chmod(os.path.join(home, "tools", "fleet", "marker-A.sh"), 0o644)
    assert reseed(tmp_path, a, "A", home)["changed"] is False  # same version and tree: untouched
    fixed = reseed(tmp_path, a, "A", home, force="true")
    assert fixed["created"] == ["AGENTS.md"] and fixed["updated"] == ["tools/fleet/marker-A.sh"]
    assert snapshot(home)["tools/fleet/marker-A.sh"][1] == 0o755


def test_same_version_new_content_is_applied(tmp_path, versions):
    """A development build keeps its version; a different tree digest still re-seeds."""
    a, b = versions
    home = str(tmp_path / "home")
    reseed(tmp_path, a, "A", home)
    result = reseed(tmp_path, b, "A", home)
    assert result["changed"] and result["updated"] == ["AGENTS.md"]


def test_play_variables_choose_the_framework(tmp_path, versions):
    """Unset src/version fall back to mosaic_fleet_framework_src/_version (the role sets neither)."""
    a, _b = versions
    home = str(tmp_path / "home")
    tree = tmp_path / "ansible-tree"
    proc = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-t", str(tree), "-m", "mosaic.fleet.fleet_reseed",
         "-a", "mosaic_home=%s" % home, "-e", "mosaic_fleet_framework_src=%s" % a,
         "-e", "mosaic_fleet_framework_version=from-var"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.load(open(str(tree / "localhost")))
    assert result["version_to"] == "from-var"
    assert open(os.path.join(home, "tools", "fleet", "marker-A.sh")).read() == "#!/bin/sh\necho A\n"


def launcher_prompt(home, name, agent_class):
    """The prompt the installed launcher appends for a pi agent (printed, nothing started)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.path.dirname(home), "MOSAIC_HOME": home,
           "MOSAIC_AGENT_NAME": name, "MOSAIC_AGENT_RUNTIME": "pi", "MOSAIC_AGENT_CLASS": agent_class}
    proc = subprocess.run([os.path.join(home, "tools", "fleet", "launch-agent"), "--print0"], env=env,
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().split("\0")[:-1][-1]


def test_operator_mandates_survive_upgrades_and_reach_the_launcher(tmp_path, versions):
    a, b = versions
    # Version B ships a role of the same name as the operator's own class.
    write(os.path.join(b, "fleet", "roles", "auditor.md"), "# Role: auditor (framework)\n")
    home = str(tmp_path / "home" / ".config" / "mosaic")
    reseed(tmp_path, a, "A", home)
    mine = {"fleet/roles/auditor.local.md": "# Role: auditor\nmine\n",
            "fleet/roles/coder.local.md": "# coder overlay\n"}
    for rel, text in mine.items():
        write(os.path.join(home, rel), text)
    assert "fleet/roles/auditor.local.md" in launcher_prompt(home, "audit0", "auditor")
    prompt = launcher_prompt(home, "coder0", "implementer")
    assert "the mandate of your role in fleet/roles/coder.md, then fleet/roles/coder.local.md." in prompt

    for version, src in (("B", b), ("B", b), ("A", a)):
        result = reseed(tmp_path, src, version, home)
        for rel, text in mine.items():
            with open(os.path.join(home, rel)) as handle:
                assert handle.read() == text, (version, rel)
            assert not any(rel in str(v) for key in ("created", "updated", "backed_up", "removed")
                           for v in result.get(key, []))
        if src == b:  # the framework's new role first, the operator's file after it (an overlay now)
            assert ("the mandate of your role in fleet/roles/auditor.md, then fleet/roles/auditor.local.md."
                    in launcher_prompt(home, "audit0", "auditor"))
    # After B (auditor.md shipped) and back to A (dropped again), the operator's file is all there is.
    assert not os.path.exists(os.path.join(home, "fleet", "roles", "auditor.md"))
    assert "the mandate of your role in fleet/roles/auditor.local.md." in launcher_prompt(home, "audit0", "auditor")
