"""The mandate rule (plugins/module_utils/mandate.py) and its shell twin in lib.sh.

The shell twin runs for real (bash sources framework/tools/fleet/lib.sh) against temporary
MOSAIC_HOMEs; nothing else is touched.
"""

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import mandate, sync

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMEWORK = os.path.join(REPO, "framework")
ROLES = os.path.join(FRAMEWORK, "fleet", "roles")
LIB = os.path.join(FRAMEWORK, "tools", "fleet", "lib.sh")

CUSTOM = ["auditor", "Auditor", "x_1-y", "_x", "9", "a" * 48]
INVALID = ["", "a" * 49, "-x", "coder.local", "../coder", "a b", "coder\n", "coder/x", "é"]
CLASSES = list(mandate.FRAMEWORK_ROLES) + sorted(mandate.ALIASES) + CUSTOM + INVALID


def test_framework_roles_are_the_shipped_mandates():
    shipped = sorted(n[:-len(".md")] for n in os.listdir(ROLES) if n.endswith(".md"))
    assert sorted(mandate.FRAMEWORK_ROLES) == shipped


def test_the_framework_ships_no_operator_file():
    # A shipped *.local.md would never be installed (user-owned) and would shadow the operator's.
    for dirpath, _dirs, files in os.walk(FRAMEWORK):
        for name in files:
            assert not name.endswith(mandate.LOCAL_SUFFIX), os.path.join(dirpath, name)


def test_aliases_point_at_shipped_roles_and_shadow_none():
    assert mandate.ALIASES == {"implementer": "coder"}
    for alias, role in mandate.ALIASES.items():
        assert role in mandate.FRAMEWORK_ROLES
        assert alias not in mandate.FRAMEWORK_ROLES


def test_the_schema_pattern_is_the_class_rule():
    with open(os.path.join(FRAMEWORK, "fleet", "roster.schema.json")) as handle:
        prop = json.load(handle)["$defs"]["agent"]["properties"]["class"]
    assert "enum" not in prop
    assert prop["pattern"] == "^%s$" % mandate.CLASS_PATTERN.pattern


@pytest.mark.parametrize("klass,framework,local", [
    ("coder", "fleet/roles/coder.md", "fleet/roles/coder.local.md"),
    ("security-reviewer", "fleet/roles/security-reviewer.md", "fleet/roles/security-reviewer.local.md"),
    ("implementer", "fleet/roles/coder.md", "fleet/roles/coder.local.md"),
    ("auditor", None, "fleet/roles/auditor.local.md"),
])
def test_where_a_mandate_lives(klass, framework, local):
    assert mandate.framework_mandate(klass) == framework
    assert mandate.local_mandate(klass) == local
    assert mandate.is_framework_class(klass) == (framework is not None)


def test_mandate_files_are_those_that_exist_framework_first():
    present = {"fleet/roles/coder.md", "fleet/roles/coder.local.md", "fleet/roles/auditor.local.md",
               "fleet/roles/implementer.md"}
    coder = ["fleet/roles/coder.md", "fleet/roles/coder.local.md"]
    assert mandate.mandate_files("coder", present.__contains__) == coder
    assert mandate.mandate_files("implementer", present.__contains__) == coder
    assert mandate.mandate_files("auditor", present.__contains__) == ["fleet/roles/auditor.local.md"]
    assert mandate.mandate_files("reviewer", present.__contains__) == []
    assert mandate.mandate_files("coder.local", lambda rel: True) == []
    assert mandate.mandate_files("../coder", lambda rel: True) == []


@pytest.mark.parametrize("klass", list(mandate.FRAMEWORK_ROLES) + sorted(mandate.ALIASES) + CUSTOM)
def test_every_operator_mandate_is_user_owned_and_never_reseeded(klass):
    local = mandate.local_mandate(klass)
    assert sync.is_user_owned(local)
    assert sync.classify(local) == sync.CLASS_USER
    # Even a framework that shipped (or once recorded) that path leaves the operator's file alone.
    shipped = {local: ("0" * 64, 0o644), "fleet/roles/coder.md": ("1" * 64, 0o644)}
    manifest = sync.empty_manifest()
    manifest["files"][local] = {"sha256": "2" * 64, "mode": "0644", "class": sync.CLASS_FRAMEWORK}
    installed = {rel: None for rel in sync.paths_to_inspect(shipped, manifest)}
    installed[local] = "3" * 64
    result = sync.plan(shipped, installed, manifest, "2.0.0")
    assert [a for a in result["actions"] if a[1] == local or a[2] == local] == []
    assert local not in result["manifest"]["files"]


# --- the shell twin -----------------------------------------------------------------------------

SHELL = r'''
. "$1"
shift
for class in "$@"; do
  mapfile -t files < <(mosaic_mandate_files "$class")
  printf '%s\0%s\0' "$(mosaic_mandate_role "$class")" "$(IFS=,; printf '%s' "${files[*]}")"
done
'''


def shell_rule(mosaic_home, classes):
    env = {"PATH": os.environ["PATH"], "HOME": os.path.dirname(mosaic_home), "MOSAIC_HOME": mosaic_home}
    result = subprocess.run(["bash", "-c", SHELL, "rule", LIB] + classes, env=env, capture_output=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    fields = result.stdout.decode("utf-8").split("\0")[:-1]
    return {klass: (fields[2 * i], [f for f in fields[2 * i + 1].split(",") if f])
            for i, klass in enumerate(classes)}


def layout_empty(home):
    del home


def layout_framework(home):
    shutil.copytree(ROLES, os.path.join(home, "fleet", "roles"))


def layout_operator(home):
    layout_framework(home)
    for name in ("coder.local.md", "reviewer.local.md", "auditor.local.md", "auditor.md", "implementer.md",
                 "implementer.local.md", "coder.local.local.md", "x_1-y.md", "Auditor.local.md"):
        with open(os.path.join(home, "fleet", "roles", name), "w") as handle:
            handle.write("# %s\n" % name)
    os.makedirs(os.path.join(home, "fleet", "roles", "9.local.md"))  # a directory is not a file


@pytest.mark.parametrize("layout", [layout_empty, layout_framework, layout_operator], ids=lambda f: f.__name__)
def test_the_shell_twin_follows_the_same_rule(tmp_path, layout):
    home = str(tmp_path / "mosaic")
    os.makedirs(home)
    layout(home)
    shell = shell_rule(home, CLASSES)
    for klass in CLASSES:
        want = mandate.mandate_files(klass, lambda rel: os.path.isfile(os.path.join(home, rel)))
        role, files = shell[klass]
        assert files == want, repr(klass)
        if mandate.valid_class(klass):  # ($(...) drops the trailing newline of 'coder\n')
            assert role == mandate.mandate_role(klass), repr(klass)


def test_with_the_framework_installed_every_shipped_role_finds_its_mandate(tmp_path):
    home = str(tmp_path / "mosaic")
    layout_framework(home)
    shell = shell_rule(home, list(mandate.FRAMEWORK_ROLES) + sorted(mandate.ALIASES))
    for klass, (_role, files) in shell.items():
        assert files == [mandate.framework_mandate(klass)], klass


# --- what fleet_roster warns about --------------------------------------------------------------

def roster(*agents):
    return {"agents": [{"name": n, "class": c, "host": h} for n, c, h in agents]}


def test_operator_mandates_lists_each_unshipped_class_once_in_roster_order():
    fleet = roster(("orchestrator", "orchestrator", "web1"), ("coder0", "implementer", "web1"),
                   ("audit0", "auditor", "web1"), ("ops0", "sre", "web2"), ("audit1", "auditor", "web2"),
                   ("audit2", "auditor", "web1"))
    assert mandate.operator_mandates(fleet) == [
        {"class": "auditor", "file": "fleet/roles/auditor.local.md", "agents": ["audit0", "audit1", "audit2"],
         "hosts": ["web1", "web2"]},
        {"class": "sre", "file": "fleet/roles/sre.local.md", "agents": ["ops0"], "hosts": ["web2"]},
    ]


def test_shipped_and_aliased_classes_need_no_operator_mandate():
    fleet = roster(*[("a%d" % i, c, "web1") for i, c in enumerate(list(mandate.FRAMEWORK_ROLES) + ["implementer"])])
    assert mandate.operator_mandates(fleet) == []


def test_the_warning_names_the_file_the_agents_and_the_hosts():
    text = mandate.operator_mandate_warning({"class": "auditor", "file": "fleet/roles/auditor.local.md",
                                             "agents": ["audit0", "audit1"], "hosts": ["web1", "web2"]})
    assert text.startswith("class 'auditor' (agents audit0, audit1) has no mandate in the framework: "
                           "write one as fleet/roles/auditor.local.md under the fleet user's MOSAIC_HOME")
    assert "on web1, web2." in text
    assert "never overwrites" in text
