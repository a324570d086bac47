# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Framework ownership classes and the re-seed plan. Pure functions, stdlib only.

Used on the controller (the ``fleet_reseed`` action plugin builds the archive and its index) and
on the target (the ``fleet_reseed`` module plans and applies). Nothing here touches the disk
except :func:`read_tree`, :func:`scan_tree` and :func:`file_sha256`, which only read.

Ownership classes of a path relative to MOSAIC_HOME:

``framework``
    everything the framework ships that is neither user-owned nor seed-once: created when absent,
    replaced when the shipped content changed (a user-edited copy is backed up once first),
    removed when no longer shipped and unmodified.
``seed``
    templates the user is meant to edit (:data:`SEED_ONCE`): created when absent, never replaced,
    never removed.
``user``
    :data:`USER_OWNED_PATTERNS`, everything the collection renders at run time
    (:data:`RENDERED_PATTERNS`), the manifest itself, and anything the framework does not ship:
    never written, never deleted.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import json
import os
import posixpath
import tarfile

from ansible_collections.mosaic.fleet.plugins.module_utils import contract

MANIFEST_NAME = ".mosaic-manifest.json"
MANIFEST_FORMAT = 1

# Seed-once templates, by path relative to the framework root. THE list: the plan, the docs and
# the tests all read it from here.
SEED_ONCE = ("SOUL.md", "USER.md")

# User-owned by pattern. ``*`` in a pattern does not cross ``/``; a trailing ``/**`` means the
# directory and everything under it; a pattern without ``/`` matches the base name anywhere.
USER_OWNED_PATTERNS = (
    "SOUL.md",
    "USER.md",
    "*.local.md",
    "policy/**",
    contract.CREDENTIALS_DIR + "/**",
)

# What the collection renders or the running fleet writes: never shipped, never touched here.
RENDERED_PATTERNS = (
    contract.ROSTER_FILE,
    contract.HOLDER_ENV_FILE,
    contract.AGENTS_DIR + "/**",
    contract.RUN_DIR + "/**",
    contract.LOG_DIR + "/**",
    MANIFEST_NAME,
)

# Never packed from the source tree.
PACK_EXCLUDE = ("__pycache__", "*.pyc", ".DS_Store", MANIFEST_NAME, "*.bak")

CLASS_FRAMEWORK = "framework"
CLASS_SEED = "seed"
CLASS_USER = "user"

# Plan operations, in the order the module applies them.
OP_BACKUP = "backup"      # copy the installed file to the backup path (before its update)
OP_CREATE = "create"      # write the shipped content (absent before)
OP_UPDATE = "update"      # replace with the shipped content
OP_CHMOD = "chmod"        # content equal, mode differs: set the shipped mode
OP_REMOVE = "remove"      # removed upstream, unmodified: delete
OP_PRESERVE = "preserve"  # user-edited, shipped unchanged: leave the edit (report only)
OP_ORPHAN = "orphan"      # removed upstream, user-edited: keep (report only)

WRITE_OPS = (OP_BACKUP, OP_CREATE, OP_UPDATE, OP_CHMOD, OP_REMOVE)
CONTENT_OPS = (OP_CREATE, OP_UPDATE)


def _match(relpath, pattern):
    if pattern.endswith("/**"):
        base = pattern[:-3]
        return relpath == base or relpath.startswith(base + "/")
    if "/" not in pattern:
        return fnmatch.fnmatchcase(posixpath.basename(relpath), pattern)
    # Segment-wise so that ``*`` never crosses ``/``.
    parts, pats = relpath.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))


def is_rendered(relpath):
    """True for what the collection renders at run time (and the manifest)."""
    return any(_match(relpath, p) for p in RENDERED_PATTERNS)


def is_user_owned(relpath):
    """True for paths the user owns whether or not the framework ships them."""
    return is_rendered(relpath) or any(_match(relpath, p) for p in USER_OWNED_PATTERNS)


def is_seed_once(relpath):
    return relpath in SEED_ONCE


def classify(relpath):
    """Ownership class of a path the framework *ships* (``framework``, ``seed`` or ``user``).

    A path the framework does not ship is always ``user``; callers know that case themselves.
    Seed-once wins over the user-owned patterns: ``SOUL.md`` is both a user file and a template
    the framework may create once.
    """
    if is_seed_once(relpath) and not is_rendered(relpath):
        return CLASS_SEED
    if is_user_owned(relpath):
        return CLASS_USER
    return CLASS_FRAMEWORK


def backup_path(relpath, version_from):
    """Where the user's edit of ``relpath`` is kept before it is replaced: ``<path>.<old>.bak``."""
    return "%s.%s.bak" % (relpath, version_from or "unversioned")


def mode_str(mode):
    return "%04o" % (mode & 0o7777)


def mode_int(mode):
    if isinstance(mode, int):
        return mode & 0o7777
    return int(str(mode), 8) & 0o7777


def tree_digest(shipped):
    """One digest for a shipped tree ``{relpath: (sha256, mode)}``: equal trees, equal digests."""
    h = hashlib.sha256()
    for rel in sorted(shipped):
        sha, mode = shipped[rel]
        h.update(("%s\0%s\0%s\n" % (rel, sha, mode_str(mode_int(mode)))).encode("utf-8"))
    return h.hexdigest()


def empty_manifest():
    return {"format": MANIFEST_FORMAT, "version": None, "tree": None, "files": {}}


def parse_manifest(text):
    """The manifest from its JSON text; an unreadable or absent manifest is an empty one."""
    if not text:
        return empty_manifest()
    try:
        data = json.loads(text)
    except ValueError:
        return empty_manifest()
    if not isinstance(data, dict) or not isinstance(data.get("files", {}), dict):
        return empty_manifest()
    manifest = empty_manifest()
    manifest.update(version=data.get("version"), tree=data.get("tree"))
    for rel, entry in data.get("files", {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
            manifest["files"][rel] = {
                "sha256": entry["sha256"],
                "mode": entry.get("mode", "0644"),
                "class": entry.get("class", CLASS_FRAMEWORK),
            }
    return manifest


def render_manifest(manifest):
    """Stable JSON text (sorted keys, trailing newline) so equal manifests are equal bytes."""
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def paths_to_inspect(shipped, manifest):
    """Every path whose installed state the plan needs: shipped, recorded, and their backups."""
    version_from = manifest.get("version")
    paths = set(shipped) | set(manifest.get("files", {}))
    paths |= {backup_path(p, version_from) for p in list(paths)}
    return sorted(paths)


def plan(shipped, installed, manifest, version_to, installed_modes=None):
    """The re-seed plan. Pure.

    ``shipped``: ``{relpath: (sha256, mode)}`` of the new framework tree.
    ``installed``: ``{relpath: sha256 or None}`` for at least :func:`paths_to_inspect`.
    ``manifest``: the parsed manifest of what was installed before (see :func:`parse_manifest`).
    ``installed_modes``: optional ``{relpath: mode}`` of installed files; a framework file whose
    content is current but whose mode differs gets ``chmod``.

    Returns a dict: ``version_from``, ``version_to``, ``actions`` (``[(op, relpath, detail)]`` in
    apply order), the report lists ``created``, ``updated``, ``backed_up`` (backup paths),
    ``preserved``, ``removed``, ``orphaned``, ``changed`` and the new ``manifest``.
    """
    installed_modes = installed_modes or {}
    recorded = manifest.get("files", {})
    version_from = manifest.get("version")
    actions = []
    report = {k: [] for k in ("created", "updated", "backed_up", "preserved", "removed", "orphaned")}
    new_files = {}

    for rel in sorted(shipped):
        sha, mode = shipped[rel]
        mode = mode_int(mode)
        cls = classify(rel)
        if cls == CLASS_USER:
            continue
        have = installed.get(rel)
        new_files[rel] = {"sha256": sha, "mode": mode_str(mode), "class": cls}
        if cls == CLASS_SEED:
            if have is None:
                actions.append((OP_CREATE, rel, None))
                report["created"].append(rel)
            continue
        if have is None:
            actions.append((OP_CREATE, rel, None))
            report["created"].append(rel)
            continue
        if have == sha:
            current_mode = installed_modes.get(rel)
            if current_mode is not None and mode_int(current_mode) != mode:
                actions.append((OP_CHMOD, rel, None))
                report["updated"].append(rel)
            continue
        entry = recorded.get(rel)
        if entry is not None and entry["sha256"] == have:
            # Unmodified since we installed it; the shipped content changed.
            actions.append((OP_UPDATE, rel, None))
            report["updated"].append(rel)
            continue
        # The installed copy is not what we installed (user-edited, or never recorded).
        if entry is not None and entry["sha256"] == sha:
            # Shipped unchanged: the user's edit stays; the manifest keeps the shipped checksum
            # so the file keeps counting as edited.
            actions.append((OP_PRESERVE, rel, None))
            report["preserved"].append(rel)
            continue
        bak = backup_path(rel, version_from)
        if installed.get(bak) is None:
            actions.append((OP_BACKUP, rel, bak))
            report["backed_up"].append(bak)
        actions.append((OP_UPDATE, rel, None))
        report["updated"].append(rel)

    for rel in sorted(recorded):
        if rel in new_files or rel in shipped:
            continue
        entry = recorded[rel]
        have = installed.get(rel)
        if entry.get("class") != CLASS_FRAMEWORK or is_user_owned(rel) or have is None:
            continue  # seed-once and user files are the user's; a vanished file needs nothing
        if have == entry["sha256"]:
            actions.append((OP_REMOVE, rel, None))
            report["removed"].append(rel)
        else:
            actions.append((OP_ORPHAN, rel, None))
            report["orphaned"].append(rel)

    new_manifest = {
        "format": MANIFEST_FORMAT,
        "version": version_to,
        "tree": tree_digest(shipped),
        "files": new_files,
    }
    manifest_changed = new_manifest != {
        "format": MANIFEST_FORMAT, "version": manifest.get("version"),
        "tree": manifest.get("tree"), "files": recorded,
    }
    changed = manifest_changed or any(op in WRITE_OPS for op, _rel, _d in actions)
    result = dict(report)
    result.update(version_from=version_from, version_to=version_to, actions=actions,
                  manifest=new_manifest, manifest_changed=manifest_changed, changed=changed,
                  needs_content=any(op in CONTENT_OPS for op, _rel, _d in actions))
    return result


# --- reading a source tree (controller side) ---------------------------------------------------

def _excluded(relpath):
    return any(fnmatch.fnmatchcase(part, pat) for part in relpath.split("/") for pat in PACK_EXCLUDE)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path, chunk=1 << 16):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def read_tree(root):
    """``{relpath: (bytes, mode)}`` of the regular files under ``root`` (symlinks followed).

    Each file is read once, so the index and the archive built from this agree even while the
    tree is being edited.
    """
    files = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not _excluded(d))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if _excluded(rel) or not os.path.isfile(full):
                continue
            with open(full, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode & 0o7777
                files[rel] = (f.read(), mode)
    return files


def index_of(files):
    """``{relpath: (sha256, mode)}`` of ``{relpath: (bytes, mode)}``."""
    return dict((rel, (sha256_bytes(data), mode)) for rel, (data, mode) in files.items())


def scan_tree(root):
    """``{relpath: (sha256, mode)}`` of the regular files under ``root``."""
    return index_of(read_tree(root))


def build_archive(files):
    """A deterministic tar.gz (bytes) of ``{relpath: (bytes, mode)}``: sorted members, fixed
    mtimes and owners, modes kept. Equal trees give equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel in sorted(files):
                data, mode = files[rel]
                info = tarfile.TarInfo(rel)
                info.size = len(data)
                info.mode = mode_int(mode)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.type = tarfile.REGTYPE
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def safe_relpath(name):
    """The archive member name as a clean relative path, or None when it escapes the root."""
    if not name or name.startswith("/") or "\\" in name:
        return None
    norm = posixpath.normpath(name)
    if norm in (".", "..") or norm.startswith("../") or norm != name.rstrip("/"):
        return None
    return norm


def read_archive(fileobj):
    """``{relpath: (bytes, mode)}`` of the regular files in a tar.gz; refuses unsafe members."""
    files = {}
    with tarfile.open(fileobj=fileobj, mode="r:gz") as tar:
        for member in tar:
            if member.isdir():
                continue
            rel = safe_relpath(member.name)
            if rel is None or not member.isfile():
                raise ValueError("unsafe or unsupported archive member: %r" % member.name)
            files[rel] = (tar.extractfile(member).read(), member.mode & 0o7777)
    return files


# What a re-seed reports, in this order (each a list of paths relative to MOSAIC_HOME).
REPORT_KEYS = ("created", "updated", "backed_up", "preserved", "removed", "orphaned")


def changed_units(report):
    """The units (contract.FLEET_UNITS, in that order) whose shipped file under
    ``contract.UNIT_SOURCE_DIR`` the re-seed ``report`` created or updated: the installed copies
    to refresh (fleet_units)."""
    written = set((report.get("created") or []) + (report.get("updated") or []))
    return [unit for unit in contract.FLEET_UNITS if "%s/%s" % (contract.UNIT_SOURCE_DIR, unit) in written]


def summary(report, check_mode=False):
    """``{"framework": headline, <report key>: paths...}`` for a person: the headline says what the
    re-seed did, and only the non-empty lists of ``report`` follow, in REPORT_KEYS order."""
    if report.get("up_to_date"):
        headline = "%s already installed, nothing to do" % report["version_to"]
    elif not report.get("changed"):
        headline = "%s checked, nothing changed" % report["version_to"]
    else:
        headline = "%s -> %s%s" % (report.get("version_from") or "none", report["version_to"],
                                   " (check mode: nothing written)" if check_mode else "")
    result = {"framework": headline}
    result.update((key, report[key]) for key in REPORT_KEYS if report.get(key))
    return result
