# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module_utils the framework's host tools run, and where they go in the shipped framework tree.

The repository holds ONE copy of this code (``plugins/module_utils/``). Host tools that run without
Ansible (``tools/fleet/launch-agent``, ``tools/fleet/fleet-ps``) import it from the framework tree
on the host, so the tree that ``fleet_reseed`` ships is the framework directory PLUS these files,
byte for byte:

* ``tools/fleet/mosaic_runtimes.py``: ``runtimes.py`` (launch-agent runs it);
* ``tools/fleet/mosaic_fleet_lib/<name>.py``: ``ps_probe``, ``ps_report``, ``host`` and every
  module_util they import, found by following their imports (fleet-ps runs them under their
  collection names).

:func:`shipped_files` says which; :func:`add_shipped` adds them to a tree read by
``sync.read_tree``; :func:`install_framework` writes a whole assembled tree (tests, demos,
benchmarks). Standard library only.
"""

from __future__ import annotations

import os
import re
import shutil

MODULE_UTILS_DIR = os.path.dirname(os.path.abspath(__file__))
# The collection's own framework directory (plugins/module_utils/ -> the collection root).
FRAMEWORK_DIR = os.path.join(os.path.dirname(os.path.dirname(MODULE_UTILS_DIR)), "framework")

RUNTIMES_TARGET = "tools/fleet/mosaic_runtimes.py"
FLEET_LIB = "tools/fleet/mosaic_fleet_lib"
FLEET_LIB_ROOTS = ("host", "mesh", "ps_probe", "ps_report")
SHIPPED_MODE = 0o644

_IMPORT = re.compile(r"^from ansible_collections\.mosaic\.fleet\.plugins\.module_utils(?:\.(\w+))? import "
                     r"(\([^)]*\)|[^\n]+)", re.M)


def _imported(names):
    """The module names of ``a, b as c`` / ``(a,  # comment\\n b)``."""
    names = re.sub(r"#[^\n]*", "", names).strip("()")
    return [part.split()[0] for part in re.split(r"[,\n]", names) if part.strip()]


def imported_module_utils(text):
    """The module_utils names a module's source ``text`` imports from this collection."""
    found = []
    for module, names in _IMPORT.findall(text):
        found.extend([module] if module else _imported(names))
    return found


def closure(read, roots):
    """The module_utils names ``roots`` need, themselves included, sorted.

    ``read(name)`` returns ``<name>.py``'s text, or None when it does not exist (a ValueError).
    """
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        text = read(name)
        if text is None:
            raise ValueError("module_utils/%s.py is missing" % name)
        todo.extend(imported_module_utils(text))
    return sorted(seen)


def shipped_map(read):
    """``{framework relpath: module_utils name}`` of every shipped module_util (pure: ``read`` as
    in :func:`closure`)."""
    mapping = {RUNTIMES_TARGET: "runtimes"}
    for name in closure(read, FLEET_LIB_ROOTS):
        mapping["%s/%s.py" % (FLEET_LIB, name)] = name
    return mapping


def _reader(module_utils_dir):
    def read(name):
        try:
            with open(os.path.join(module_utils_dir, name + ".py"), encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None
    return read


def shipped_files(module_utils_dir=MODULE_UTILS_DIR):
    """``{framework relpath: (bytes, mode)}`` of the module_utils shipped in the framework tree."""
    files = {}
    for rel, name in shipped_map(_reader(module_utils_dir)).items():
        with open(os.path.join(module_utils_dir, name + ".py"), "rb") as handle:
            files[rel] = (handle.read(), SHIPPED_MODE)
    return files


def add_shipped(files, module_utils_dir=MODULE_UTILS_DIR):
    """``files`` (``{relpath: (bytes, mode)}`` of a framework dir) plus the shipped module_utils; a
    framework's own file at one of their paths is replaced (the collection's code wins)."""
    assembled = dict(files)
    assembled.update(shipped_files(module_utils_dir))
    return assembled


def install_framework(dest, framework_dir=FRAMEWORK_DIR, module_utils_dir=MODULE_UTILS_DIR, **copytree_args):
    """Write the assembled framework tree at ``dest`` (a new directory): ``framework_dir`` copied
    (``shutil.copytree`` with ``copytree_args``), then the shipped module_utils. Returns ``dest``."""
    shutil.copytree(framework_dir, dest, **copytree_args)
    for rel, (data, mode) in sorted(shipped_files(module_utils_dir).items()):
        path = os.path.join(str(dest), *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        os.chmod(path, mode)
    return dest
