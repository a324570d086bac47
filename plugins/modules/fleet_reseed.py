#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_reseed
short_description: Install or re-seed the Mosaic framework into a fleet user's MOSAIC_HOME
version_added: 0.1.0
description:
  - Syncs the framework tree shipped with this collection (or O(src)) into the fleet user's
    MOSAIC_HOME by ownership class, and records what it installed in
    C(MOSAIC_HOME/.mosaic-manifest.json) (version, tree digest, a checksum and mode per file).
  - The same module does the first install (used by the stand-up role) and every upgrade
    (C(playbooks/reseed.yml)).
  - "I(framework-owned) files (everything shipped that is neither user-owned nor seed-once): created
    when absent; replaced when the shipped content changed; when the user edited the installed
    copy (its checksum differs from the manifest) and the shipped content changed, the edit is
    first kept once as C(<path>.<old version>.bak); when the shipped content did not change, the
    edit is left alone and reported in RV(preserved); when no longer shipped, removed if
    unmodified, else kept and reported in RV(orphaned)."
  - "I(seed-once) files (C(SOUL.md), C(USER.md): templates the user is meant to edit): created when
    absent, never replaced, never removed."
  - "I(user-owned) files (C(SOUL.md), C(USER.md), C(*.local.md), C(policy/**), C(credentials/**),
    everything the collection renders at run time: C(fleet/roster.yaml), C(fleet/holder.env),
    C(fleet/agents/**), C(fleet/run/**), C(fleet/log/**), the manifest, and anything the framework
    does not ship): never written, never deleted, never shown in a diff."
  - Files are written atomically (a temporary file in the same directory, then a rename) with the
    mode they have in the framework tree; running as root for another O(user), they are chowned to
    that user.
  - "The transfer costs a constant number of round trips whatever the file count: the action
    plugin first runs the module once with the tree's index (checksums and modes, no content).
    When the installed manifest already has the same O(version) and tree digest (and O(force) is
    not set), or nothing would change, that single call is all. Otherwise the framework is packed
    into one deterministic tar.gz on the controller, transferred once, and applied by one more
    module run."
author:
  - mosaic.fleet developers (@mosaic-fleet)
options:
  mosaic_home:
    description:
      - The framework directory on the host.
      - Defaults to C(~user/.config/mosaic) for O(user) (C($HOME/.config/mosaic) when the module
        runs as O(user)).
      - C(~) and C(~/...) name the fleet user's home whoever runs the module.
    type: str
  src:
    description:
      - The framework tree on the controller.
      - Defaults to the variable C(mosaic_fleet_framework_src) when it is set (so one inventory
        variable makes the stand-up role and C(playbooks/reseed.yml) install the same custom
        framework), else the C(framework/) directory of this collection.
      - Either way the tree shipped (and digested) is this directory plus the collection's
        module_utils its host tools run (C(tools/fleet/mosaic_runtimes.py) for C(launch-agent),
        C(tools/fleet/mosaic_fleet_lib/) for C(fleet-ps)), so a change in that code re-seeds, and a
        custom tree never needs (nor keeps) its own copies.
    type: path
  version:
    description:
      - The framework version recorded in the manifest and used to name backups.
      - Defaults to the variable C(mosaic_fleet_framework_version) when it is set, else the
        collection's version (from its C(MANIFEST.json), or C(galaxy.yml) in a checkout).
    type: str
  force:
    description:
      - Re-check every file even when the installed manifest already records the same
        O(version) and tree digest (without it such a host is left alone after reading only its
        manifest). Restores deleted framework files and fixes modes.
      - It never overrides the ownership rules.
    type: bool
    default: false
  archive:
    description:
      - Internal, set by the action plugin. Path on the host of the transferred framework
        archive.
    type: path
  index:
    description:
      - "Internal, set by the action plugin. The shipped tree as C({relpath: [sha256, mode]}),
        used to plan without the archive."
    type: dict
  tree:
    description:
      - Internal, set by the action plugin. Digest of the shipped tree.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mosaic.fleet.fleet_user
attributes:
  check_mode:
    support: full
    details: Plans and reports without writing anything; in check mode without diff mode the
      archive is not even transferred.
  diff_mode:
    support: full
    details: One diff per created, updated or removed text file, with headers naming the path and
      the versions. User-owned files never appear.
  action:
    support: full
    details: The action plugin packs and transfers the framework; the module runs on the host.
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - The manifest format is described in C(docs/DEVELOPING.md) of the collection.
  - Systemd unit files are shipped under C(systemd/user/) in MOSAIC_HOME; copying them into
    C(~/.config/systemd/user/) is the stand-up role's job, not this module's.
requirements:
  - python3 (stdlib only) on the host
"""

EXAMPLES = r"""
- name: Install the framework for the fleet user (first install; the stand-up role does this)
  mosaic.fleet.fleet_reseed:
    user: fleet
    mosaic_home: /home/fleet/.config/mosaic
  become: true

- name: Re-seed a custom framework tree as version 2.0.0
  mosaic.fleet.fleet_reseed:
    user: fleet
    src: /srv/mosaic/framework
    version: 2.0.0
  register: reseed

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ reseed.version_from }} -> {{ reseed.version_to }}: updated {{ reseed.updated }}"
"""

RETURN = r"""
version_from:
  description: The version recorded in the manifest before this run (null on a first install).
  returned: always
  type: str
  sample: 0.1.0
version_to:
  description: The version installed by this run.
  returned: always
  type: str
  sample: 0.2.0
created:
  description: Paths (relative to MOSAIC_HOME) created because they were absent.
  returned: always
  type: list
  elements: str
  sample: [tools/fleet/new-tool.sh]
updated:
  description: Framework paths replaced with new content, or whose mode was fixed.
  returned: always
  type: list
  elements: str
  sample: [AGENTS.md]
backed_up:
  description: Backups made of user-edited framework files before they were replaced
    (C(<path>.<old version>.bak)).
  returned: always
  type: list
  elements: str
  sample: [AGENTS.md.0.1.0.bak]
preserved:
  description: User-edited framework files left alone because their shipped content did not
    change.
  returned: always
  type: list
  elements: str
  sample: [CONSTITUTION.md]
removed:
  description: Unmodified framework files deleted because the framework no longer ships them.
  returned: always
  type: list
  elements: str
  sample: [tools/fleet/old-tool.sh]
orphaned:
  description: User-edited framework files the framework no longer ships; kept, and from now on
    the user's.
  returned: always
  type: list
  elements: str
  sample: [docs/old.md]
up_to_date:
  description: True when the manifest already recorded this version and tree digest and O(force)
    was not set, so nothing but the manifest was read.
  returned: always
  type: bool
mosaic_home:
  description: The MOSAIC_HOME that was synced.
  returned: always
  type: str
  sample: /home/fleet/.config/mosaic
installed_at:
  description: When the installed framework was written (the manifest's mtime, epoch seconds);
    agents whose session started before it run the previous framework. In check mode with
    changes, the current time. Null when nothing is installed.
  returned: always
  type: float
  sample: 1763780000.5
user:
  description: The fleet user.
  returned: always
  type: str
  sample: fleet
home:
  description: The fleet user's home directory (C($HOME) when the module runs as that user).
  returned: always
  type: str
  sample: /home/fleet
group:
  description: The fleet user's primary group.
  returned: always
  type: str
  sample: fleet
transferred:
  description: Whether the framework archive was transferred (false when the index was enough).
  returned: always
  type: bool
units_changed:
  description:
    - The systemd user units whose shipped file (under C(MOSAIC_HOME/systemd/user/)) this run
      created or updated, holder first; the installed copies to refresh with
      M(mosaic.fleet.fleet_units) (O(mosaic.fleet.fleet_units#module:units)).
  returned: always
  type: list
  elements: str
  sample: [mosaic-agent@.service]
summary:
  description:
    - "What this run did, for a person. C(framework) is a headline (C(<version> already installed,
      nothing to do), C(<version> checked, nothing changed) or C(<from or none> -> <to>), with
      C(check mode: nothing written) in parentheses after it in check mode); the non-empty lists of
      RV(created), RV(updated), RV(backed_up), RV(preserved), RV(removed) and RV(orphaned) follow."
  returned: always
  type: dict
  sample: {framework: "0.1.0 -> 0.2.0", updated: [AGENTS.md]}
"""

import errno
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.mosaic.fleet.plugins.module_utils import fileops, host, sync

DIFF_MAX_BYTES = 256 * 1024


class Tree(object):
    """Disk access for one MOSAIC_HOME. Owner is (uid, gid) to chown to, or None."""

    def __init__(self, root, owner):
        self.root = root
        self.owner = owner

    def path(self, rel):
        return os.path.join(self.root, *rel.split("/"))

    def inspect(self, rels):
        """``({rel: sha256 or None}, {rel: mode})``; a directory in a file's place is an error."""
        shas, modes = {}, {}
        for rel in rels:
            full = self.path(rel)
            try:
                st = os.stat(full)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    shas[rel] = None
                    continue
                raise
            if os.path.isdir(full):
                raise ValueError("%s is a directory where the framework has a file" % full)
            shas[rel] = sync.file_sha256(full)
            modes[rel] = st.st_mode & 0o7777
        return shas, modes

    def mtime(self, rel):
        try:
            return os.stat(self.path(rel)).st_mtime
        except OSError:
            return None

    def read(self, rel):
        return fileops.read_bytes(self.path(rel))

    def write(self, rel, data, mode):
        full = self.path(rel)
        fileops.make_dirs(os.path.dirname(full), self.owner)
        fileops.atomic_write(full, data, mode, self.owner)

    def copy(self, rel, dest_rel):
        full = self.path(rel)
        with open(full, "rb") as f:
            data = f.read()
        self.write(dest_rel, data, os.stat(full).st_mode & 0o7777)

    def chmod(self, rel, mode):
        os.chmod(self.path(rel), mode)

    def remove(self, rel):
        full = self.path(rel)
        os.unlink(full)
        # Drop directories this removal emptied, never MOSAIC_HOME itself.
        d = os.path.dirname(full)
        while d != self.root and d.startswith(self.root + os.sep):
            try:
                os.rmdir(d)
            except OSError:
                break
            d = os.path.dirname(d)


def _text(data):
    if data is None:
        return ""
    if len(data) > DIFF_MAX_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _diffs(tree, result, contents):
    """before/after per created, updated or removed text file (framework and seed files only)."""
    diffs = []
    vfrom = result["version_from"] or "absent"
    vto = result["version_to"]
    for op, rel, _detail in result["actions"]:
        if op not in (sync.OP_CREATE, sync.OP_UPDATE, sync.OP_REMOVE):
            continue  # the plan never holds user-owned paths, so credentials never show here
        before = tree.read(rel) if op != sync.OP_CREATE else b""
        after = contents[rel][0] if op != sync.OP_REMOVE else b""
        before_text, after_text = _text(before), _text(after)
        if before_text is None or after_text is None:
            diffs.append({"before_header": "%s (%s)" % (rel, vfrom),
                          "after_header": "%s (%s)" % (rel, vto),
                          "before": "(binary or large file)\n" if op != sync.OP_CREATE else "",
                          "after": "(binary or large file)\n" if op != sync.OP_REMOVE else ""})
            continue
        diffs.append({"before_header": "%s (%s)" % (rel, vfrom if op != sync.OP_CREATE else "absent"),
                      "after_header": "%s (%s)" % (rel, vto if op != sync.OP_REMOVE else "removed"),
                      "before": before_text, "after": after_text})
    manifest_before = tree.read(sync.MANIFEST_NAME)
    if result["manifest_changed"] and not diffs:
        diffs.append({"before_header": "%s (%s)" % (sync.MANIFEST_NAME, vfrom),
                      "after_header": "%s (%s)" % (sync.MANIFEST_NAME, vto),
                      "before": _text(manifest_before) or "",
                      "after": sync.render_manifest(result["manifest"])})
    return diffs


def _apply(tree, result, contents):
    for op, rel, detail in result["actions"]:
        if op == sync.OP_BACKUP:
            tree.copy(rel, detail)
        elif op in (sync.OP_CREATE, sync.OP_UPDATE):
            data, mode = contents[rel]
            tree.write(rel, data, mode)
        elif op == sync.OP_CHMOD:
            tree.chmod(rel, sync.mode_int(result["manifest"]["files"][rel]["mode"]))
        elif op == sync.OP_REMOVE:
            tree.remove(rel)
    # Rewritten on every change, so its mtime says when the installed framework last changed.
    if result["changed"]:
        tree.write(sync.MANIFEST_NAME, sync.render_manifest(result["manifest"]).encode("utf-8"), 0o644)


def run(module):
    params = module.params
    # $HOME when running as the fleet user (as ``~`` would), else its passwd entry: the same rule
    # as fleet_host_config.
    pw, home, mosaic_home, dummy = host.resolve_fleet_user(params, os.environ)
    if pw is None:
        module.fail_json(msg="no such user on the host: %s" % params["user"])
    # ("~" is already expanded, against the fleet user's home)
    mosaic_home = os.path.abspath(mosaic_home).rstrip(os.sep) or os.sep
    tree = Tree(mosaic_home, fileops.file_owner(pw))
    version = params["version"]

    manifest = sync.parse_manifest(_text(tree.read(sync.MANIFEST_NAME)))
    contents = None
    if params["archive"]:
        with open(params["archive"], "rb") as f:
            contents = sync.read_archive(f)
        shipped = sync.index_of(contents)
    elif params["index"] is not None:
        shipped = dict((rel, (v[0], sync.mode_int(v[1]))) for rel, v in params["index"].items())
    else:
        module.fail_json(msg="fleet_reseed needs its action plugin (call it as mosaic.fleet.fleet_reseed "
                             "from a task or `ansible -m`); the archive and index were not given")
    digest = sync.tree_digest(shipped)
    if params["tree"] and params["tree"] != digest:
        module.fail_json(msg="the framework archive does not match its index (tree digest %s, expected %s)"
                             % (digest, params["tree"]))

    base = dict(changed=False, version_from=manifest["version"], version_to=version,
                mosaic_home=mosaic_home, user=pw.pw_name, home=home, group=fileops.group_name(pw.pw_gid),
                up_to_date=False,
                installed_at=tree.mtime(sync.MANIFEST_NAME))
    if not params["force"] and manifest["version"] == version and manifest["tree"] == digest:
        base.update((k, []) for k in sync.REPORT_KEYS)
        base["up_to_date"] = True
        _exit(module, base)

    installed, modes = tree.inspect(sync.paths_to_inspect(shipped, manifest))
    result = sync.plan(shipped, installed, manifest, version, installed_modes=modes)
    base.update((k, result[k]) for k in sync.REPORT_KEYS)
    base["changed"] = result["changed"]

    if contents is None:
        # Index only: enough when nothing changes, or in check mode without a diff.
        needs_archive = result["changed"] and not (module.check_mode and not module._diff)
        if result["changed"]:
            base["installed_at"] = time.time()
        _exit(module, base, needs_archive=needs_archive)

    if module._diff and result["changed"]:
        base["diff"] = _diffs(tree, result, contents)
    if result["changed"]:
        if module.check_mode:
            base["installed_at"] = time.time()
        else:
            _apply(tree, result, contents)
            base["installed_at"] = tree.mtime(sync.MANIFEST_NAME)
    _exit(module, base)


def _exit(module, base, **extra):
    """Exit with ``base`` and the facts playbooks use as they are (no Jinja logic over the lists)."""
    base.update(units_changed=sync.changed_units(base), summary=sync.summary(base, module.check_mode))
    module.exit_json(**dict(base, **extra))


def main():
    module = AnsibleModule(
        argument_spec=host.user_argument_spec(
            src=dict(type="path"),
            version=dict(type="str"),
            force=dict(type="bool", default=False),
            archive=dict(type="path"),
            index=dict(type="dict"),
            tree=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if not module.params["version"]:
        module.fail_json(msg="version is required when the module runs without its action plugin")
    try:
        run(module)
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg="re-seed of the framework failed: %s" % to_native(exc))


if __name__ == "__main__":
    main()
