# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of mosaic.fleet.fleet_reseed.

Round trips are constant whatever the file count: one module run with the tree's index (no
content); only when that run says files must be written (or a diff needs their content) the tree
is packed into ONE deterministic tar.gz, transferred once, and applied by one more module run.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.mosaic.fleet.plugins.module_utils import shipped as shipped_utils, sync

MODULE = "mosaic.fleet.fleet_reseed"
ARGUMENT_SPEC = dict(
    user=dict(type="str"),
    mosaic_home=dict(type="str"),
    src=dict(type="path"),
    version=dict(type="str"),
    force=dict(type="bool", default=False),
)

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_framework_dir():
    return os.path.join(COLLECTION_ROOT, "framework")


def collection_version(root=COLLECTION_ROOT):
    """The collection's version: MANIFEST.json of an installed collection, else galaxy.yml."""
    manifest = os.path.join(root, "MANIFEST.json")
    if os.path.isfile(manifest):
        with open(manifest) as f:
            return str(json.load(f)["collection_info"]["version"])
    with open(os.path.join(root, "galaxy.yml")) as f:
        for line in f:
            m = re.match(r"""^version:\s*['"]?([^'"\s#]+)""", line)
            if m:
                return m.group(1)
    raise AnsibleError("no version found in %s/galaxy.yml" % root)


class ActionModule(ActionBase):
    # False: no remote tmp dir up front. The no-change case is then ONE remote command (with
    # pipelining); the tmp dir is made only when the archive must be sent.
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        try:
            args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        except AnsibleError as exc:
            return dict(result, failed=True, msg=to_text(exc))

        # Unset options fall back to play variables, so that one inventory setting makes the
        # stand-up role and the reseed playbook install the same custom framework.
        for option, var in (("src", "mosaic_fleet_framework_src"), ("version", "mosaic_fleet_framework_version")):
            if not args[option] and (task_vars or {}).get(var):
                args[option] = to_text(self._templar.template(task_vars[var]))
        src = args["src"] or collection_framework_dir()
        if not os.path.isabs(src):
            src = self._find_needle("files", src)
        if not os.path.isdir(src):
            return dict(result, failed=True, msg="src %s is not a directory on the controller" % src)
        try:
            version = args["version"] or collection_version()
        except (OSError, ValueError, KeyError, AnsibleError) as exc:
            return dict(result, failed=True, msg="cannot read the collection version: %s" % to_text(exc))

        # Read once: the index and the archive always agree. The tree shipped is the framework dir
        # plus the collection's module_utils its host tools run (shipped.py), also for a custom src.
        try:
            files = shipped_utils.add_shipped(sync.read_tree(src))
        except (OSError, ValueError) as exc:
            return dict(result, failed=True,
                        msg="cannot assemble the framework tree from %s: %s" % (src, to_text(exc)))
        shipped = sync.index_of(files)
        digest = sync.tree_digest(shipped)
        module_args = dict(user=args["user"], mosaic_home=args["mosaic_home"], version=version,
                           force=args["force"], tree=digest)

        # Round trip 1: plan from the index alone.
        index = dict((rel, [sha, sync.mode_str(mode)]) for rel, (sha, mode) in shipped.items())
        probe = self._execute_module(module_name=MODULE, module_args=dict(module_args, index=index),
                                     task_vars=task_vars)
        if probe.get("failed") or not probe.pop("needs_archive", False):
            probe["transferred"] = False
            result.update(probe)
            return result

        # Round trips 2..: one archive, one transfer, one module run, whatever the file count.
        local = None
        try:
            fd, local = tempfile.mkstemp(prefix="mosaic-framework-", suffix=".tar.gz")
            with os.fdopen(fd, "wb") as f:
                f.write(sync.build_archive(files))
            if not self._connection._shell.tmpdir:
                self._make_tmp_path()
            remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "framework.tar.gz")
            self._transfer_file(local, remote)
            self._fixup_perms2((self._connection._shell.tmpdir, remote), execute=False)
            applied = self._execute_module(module_name=MODULE,
                                           module_args=dict(module_args, archive=remote),
                                           task_vars=task_vars)
        finally:
            if local:
                os.unlink(local)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        applied.pop("needs_archive", None)
        applied["transferred"] = True
        result.update(applied)
        return result
