# -*- coding: utf-8 -*-
"""The ownership rules and the re-seed plan (plugins/module_utils/sync.py), driven by a table."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import sync

OLD, NEW, EDIT = "a" * 64, "b" * 64, "e" * 64

# One representative path per ownership class (when the framework ships it).
PATHS = {
    "framework": "tools/fleet/launch-agent",
    "seed": "SOUL.md",
    "user-local": "AGENTS.local.md",
    "user-policy": "policy/review.md",
    "user-credentials": "credentials/fleet.env",
    "user-rendered": "fleet/agents/coder0.env",
}

# (class, installed state, shipped in the new version) -> expected actions and report lists.
#   installed state: absent | unchanged (= manifest) | edited (!= manifest)
#   shipped: same (= manifest), changed, gone (removed upstream)
CASES = [
    # framework-owned
    ("framework", "absent", "same", [("create", None)], {"created"}),
    ("framework", "absent", "changed", [("create", None)], {"created"}),
    ("framework", "absent", "gone", [], set()),
    ("framework", "unchanged", "same", [], set()),
    ("framework", "unchanged", "changed", [("update", None)], {"updated"}),
    ("framework", "unchanged", "gone", [("remove", None)], {"removed"}),
    ("framework", "edited", "same", [("preserve", None)], {"preserved"}),
    ("framework", "edited", "changed", [("backup", "bak"), ("update", None)], {"backed_up", "updated"}),
    ("framework", "edited", "gone", [("orphan", None)], {"orphaned"}),
    # seed-once
    ("seed", "absent", "same", [("create", None)], {"created"}),
    ("seed", "absent", "changed", [("create", None)], {"created"}),
    ("seed", "absent", "gone", [], set()),
    ("seed", "unchanged", "same", [], set()),
    ("seed", "unchanged", "changed", [], set()),
    ("seed", "unchanged", "gone", [], set()),
    ("seed", "edited", "same", [], set()),
    ("seed", "edited", "changed", [], set()),
    ("seed", "edited", "gone", [], set()),
]
# user-owned: never written, never deleted, in any state, whatever the framework ships.
for _cls in ("user-local", "user-policy", "user-credentials", "user-rendered"):
    for _state in ("absent", "unchanged", "edited"):
        for _shipped in ("same", "changed", "gone"):
            CASES.append((_cls, _state, _shipped, [], set()))

REPORTS = ("created", "updated", "backed_up", "preserved", "removed", "orphaned")


def _scenario(cls, state, shipped_state):
    path = PATHS[cls]
    record_class = "seed" if cls == "seed" else "framework"
    manifest = {"version": "1.0", "tree": "x", "files": {path: {"sha256": OLD, "mode": "0755", "class": record_class}}}
    shipped = {"other/file.md": ("c" * 64, 0o644)}
    if shipped_state == "same":
        shipped[path] = (OLD, 0o755)
    elif shipped_state == "changed":
        shipped[path] = (NEW, 0o755)
    installed = {p: None for p in sync.paths_to_inspect(shipped, manifest)}
    installed["other/file.md"] = "c" * 64
    installed[path] = {"absent": None, "unchanged": OLD, "edited": EDIT}[state]
    return path, shipped, installed, manifest


@pytest.mark.parametrize("cls,state,shipped_state,expected,reported", CASES,
                         ids=["%s-%s-%s" % c[:3] for c in CASES])
def test_ownership_table(cls, state, shipped_state, expected, reported):
    path, shipped, installed, manifest = _scenario(cls, state, shipped_state)
    result = sync.plan(shipped, installed, manifest, "2.0")
    got = [(op, detail) for op, rel, detail in result["actions"] if rel == path]
    want = [(op, sync.backup_path(path, "1.0") if d == "bak" else d) for op, d in expected]
    assert got == want
    for key in REPORTS:
        listed = [p for p in result[key] if p in (path, sync.backup_path(path, "1.0"))]
        assert bool(listed) == (key in reported), key
    if cls.startswith("user"):
        assert path not in result["manifest"]["files"]
        assert all(rel != path for _op, rel, _d in result["actions"])


def test_backup_is_made_once():
    path, shipped, installed, manifest = _scenario("framework", "edited", "changed")
    installed[sync.backup_path(path, "1.0")] = "f" * 64  # an earlier backup of the same version
    result = sync.plan(shipped, installed, manifest, "2.0")
    assert [op for op, rel, _d in result["actions"] if rel == path] == ["update"]
    assert result["backed_up"] == []


def test_backup_name_uses_old_version():
    assert sync.backup_path("AGENTS.md", "0.1.0") == "AGENTS.md.0.1.0.bak"
    assert sync.backup_path("AGENTS.md", None) == "AGENTS.md.unversioned.bak"


def test_unrecorded_existing_file_is_backed_up_before_first_install():
    shipped = {"AGENTS.md": (NEW, 0o644)}
    installed = {"AGENTS.md": EDIT}
    result = sync.plan(shipped, installed, sync.empty_manifest(), "1.0")
    assert result["actions"] == [("backup", "AGENTS.md", "AGENTS.md.unversioned.bak"),
                                 ("update", "AGENTS.md", None)]


def test_preserved_file_stays_preserved_next_time():
    path, shipped, installed, manifest = _scenario("framework", "edited", "same")
    first = sync.plan(shipped, installed, manifest, "2.0")
    again = sync.plan(shipped, installed, first["manifest"], "2.0")
    assert again["preserved"] == [path]
    assert not again["changed"]


def test_mode_change_alone_is_a_chmod():
    shipped = {"tools/x.sh": (OLD, 0o755)}
    manifest = {"version": "1", "files": {"tools/x.sh": {"sha256": OLD, "mode": "0644", "class": "framework"}}}
    result = sync.plan(shipped, {"tools/x.sh": OLD}, manifest, "1", installed_modes={"tools/x.sh": 0o644})
    assert result["actions"] == [("chmod", "tools/x.sh", None)]
    assert result["updated"] == ["tools/x.sh"]


def test_no_change_second_plan_is_empty():
    shipped = {"a.md": (OLD, 0o644), "SOUL.md": (NEW, 0o644), "policy/p.md": (OLD, 0o644)}
    first = sync.plan(shipped, {}, sync.empty_manifest(), "1")
    assert first["changed"] and first["needs_content"]
    assert first["created"] == ["SOUL.md", "a.md"]
    installed = {"a.md": OLD, "SOUL.md": NEW}
    second = sync.plan(shipped, installed, first["manifest"], "1")
    assert not second["changed"] and second["actions"] == []
    assert second["version_from"] == "1"


def test_version_bump_with_same_tree_rewrites_only_the_manifest():
    shipped = {"a.md": (OLD, 0o644)}
    first = sync.plan(shipped, {}, sync.empty_manifest(), "1")
    bump = sync.plan(shipped, {"a.md": OLD}, first["manifest"], "2")
    assert bump["changed"] and bump["manifest_changed"] and bump["actions"] == []
    assert not bump["needs_content"]


@pytest.mark.parametrize("path,cls", [
    ("SOUL.md", "seed"), ("USER.md", "seed"),
    ("docs/SOUL.md", "user"), ("AGENTS.local.md", "user"), ("fleet/roles/coder.local.md", "user"),
    ("policy/x.md", "user"), ("policy", "user"), ("credentials/fleet.env", "user"),
    ("fleet/roster.yaml", "user"), ("fleet/holder.env", "user"), ("fleet/agents/a.env", "user"),
    ("fleet/run/a.heartbeat", "user"), ("fleet/log/send.log", "user"), (sync.MANIFEST_NAME, "user"),
    ("AGENTS.md", "framework"), ("fleet/roster.schema.json", "framework"),
    ("fleet/presets/coding.yaml", "framework"), ("systemd/user/mosaic-agent@.service", "framework"),
    ("policyx/a.md", "framework"), ("local.md", "framework"), ("fleet/roster.yaml.example", "framework"),
])
def test_classify(path, cls):
    assert sync.classify(path) == cls


def test_seed_once_is_one_list():
    for rel in sync.SEED_ONCE:
        assert sync.classify(rel) == sync.CLASS_SEED


def test_tree_digest_depends_on_content_mode_and_path():
    base = {"a": (OLD, 0o644)}
    assert sync.tree_digest(base) == sync.tree_digest({"a": (OLD, "0644")})
    assert sync.tree_digest(base) != sync.tree_digest({"a": (NEW, 0o644)})
    assert sync.tree_digest(base) != sync.tree_digest({"a": (OLD, 0o755)})
    assert sync.tree_digest(base) != sync.tree_digest({"b": (OLD, 0o644)})


def test_manifest_round_trip_and_garbage():
    m = {"format": 1, "version": "1", "tree": "t", "files": {"a": {"sha256": OLD, "mode": "0644", "class": "framework"}}}
    assert sync.parse_manifest(sync.render_manifest(m)) == m
    assert sync.parse_manifest("not json") == sync.empty_manifest()
    assert sync.parse_manifest("") == sync.empty_manifest()
    assert sync.parse_manifest("[1]") == sync.empty_manifest()


def _tree(tmp_path):
    root = tmp_path / "fw"
    (root / "tools").mkdir(parents=True)
    (root / "tools" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "tools" / "run.sh", 0o755)
    (root / "AGENTS.md").write_text("agents\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return root


def test_archive_is_deterministic_and_keeps_modes(tmp_path):
    root = _tree(tmp_path)
    shipped = sync.scan_tree(str(root))
    assert sorted(shipped) == ["AGENTS.md", "tools/run.sh"]
    one = sync.build_archive(sync.read_tree(str(root)))
    os.utime(root / "AGENTS.md", (1, 1))
    two = sync.build_archive(sync.read_tree(str(root)))
    assert one == two
    files = sync.read_archive(io.BytesIO(one))
    assert files["tools/run.sh"] == (b"#!/bin/sh\n", 0o755)
    assert files["AGENTS.md"][1] == 0o644
    assert {rel: (sync.sha256_bytes(d), m) for rel, (d, m) in files.items()} == shipped


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b"])
def test_archive_refuses_escaping_members(name):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError):
        sync.read_archive(io.BytesIO(buf.getvalue()))


def test_archive_refuses_links():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        tar.addfile(info)
    with pytest.raises(ValueError):
        sync.read_archive(io.BytesIO(buf.getvalue()))
