"""plugins/module_utils/shipped.py: the repository holds ONE copy of the module_utils the host tools
run; the framework tree that fleet_reseed ships (and tests install) adds them byte for byte."""

import os
import shutil
import subprocess

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import shipped, sync
from shipped_util import assembled_framework

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(REPO, "plugins", "module_utils")


def test_the_closure_follows_every_import_form():
    sources = {
        "a": "from ansible_collections.mosaic.fleet.plugins.module_utils import b, c as see\n",
        "b": "from ansible_collections.mosaic.fleet.plugins.module_utils.d import thing\n",
        "c": "from ansible_collections.mosaic.fleet.plugins.module_utils import (  # why\n    b,\n    e,\n)\n",
        "d": "import os\n",
        "e": "",
        "unused": "",
    }
    assert shipped.closure(sources.get, ["a"]) == ["a", "b", "c", "d", "e"]
    with pytest.raises(ValueError, match="module_utils/gone.py is missing"):
        shipped.closure(sources.get, ["gone"])


def test_the_map_is_runtimes_and_fleet_ps_code_with_what_it_imports():
    mapping = shipped.shipped_map(lambda name: open(os.path.join(MODULE_UTILS, name + ".py")).read())
    assert mapping["tools/fleet/mosaic_runtimes.py"] == "runtimes"
    lib = dict((rel.rsplit("/", 1)[1][:-3], name) for rel, name in mapping.items()
               if rel.startswith("tools/fleet/mosaic_fleet_lib/"))
    assert {"host", "ps", "ps_probe", "ps_report", "contract", "runtime_table"} <= set(lib)
    assert all(key == name for key, name in lib.items())
    assert "sync" not in lib and "shipped" not in lib       # controller-only code is not shipped


def test_the_assembled_tree_holds_exactly_the_module_utils_bytes():
    tree = assembled_framework()
    files = shipped.shipped_files()
    for rel, (data, mode) in files.items():
        with open(os.path.join(tree, rel), "rb") as handle:
            assert handle.read() == data, rel
        assert mode == 0o644
    lib = os.path.join(tree, "tools", "fleet", "mosaic_fleet_lib")
    assert sorted("tools/fleet/mosaic_fleet_lib/" + name for name in os.listdir(lib)) == sorted(
        rel for rel in files if rel.startswith("tools/fleet/mosaic_fleet_lib/"))
    for rel, name in shipped.shipped_map(lambda n: open(os.path.join(MODULE_UTILS, n + ".py")).read()).items():
        with open(os.path.join(MODULE_UTILS, name + ".py"), "rb") as owner:
            assert files[rel][0] == owner.read(), rel


def test_the_repository_holds_no_copy():
    if not os.path.isdir(os.path.join(REPO, ".git")) or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "framework/tools/fleet"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()
    assert not set(listed) & set("framework/" + rel for rel in shipped.shipped_files()), listed


def test_fleet_ps_runs_from_the_assembled_tree_alone(tmp_path):
    tool = os.path.join(assembled_framework(), "tools", "fleet", "fleet-ps")
    result = subprocess.run(["python3", "-I", "-S", tool, "--help"], capture_output=True, text=True,
                            timeout=30, check=False, cwd=str(tmp_path), env={"PATH": os.environ["PATH"]})
    assert result.returncode == 0 and "--stale-after" in result.stdout, result.stderr


def test_a_module_utils_change_changes_the_shipped_digest(tmp_path):
    # fleet_reseed digests the assembled tree: editing shipped module_utils code triggers a re-seed.
    framework = sync.read_tree(os.path.join(REPO, "framework"))
    before = sync.tree_digest(sync.index_of(shipped.add_shipped(framework)))
    edited = tmp_path / "module_utils"
    shutil.copytree(MODULE_UTILS, str(edited), ignore=shutil.ignore_patterns("__pycache__"))
    with open(str(edited / "ps_probe.py"), "a") as handle:
        handle.write("# a fix\n")
    after = shipped.add_shipped(framework, str(edited))
    assert after["tools/fleet/mosaic_fleet_lib/ps_probe.py"][0].endswith(b"# a fix\n")
    assert sync.tree_digest(sync.index_of(after)) != before
    assert set(after) - set(framework) == set(shipped.shipped_files())
