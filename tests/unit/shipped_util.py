"""The framework tree as fleet_reseed ships it (framework/ plus the module_utils its host tools run,
plugins/module_utils/shipped.py), installed once per test process: the host tools run from there."""

import atexit
import os
import shutil
import tempfile

from ansible_collections.mosaic.fleet.plugins.module_utils import shipped

_TREE = []


def assembled_framework():
    """The path of this process's assembled framework tree (made on first use, removed at exit)."""
    if not _TREE:
        root = tempfile.mkdtemp(prefix="mosaic-framework-")
        atexit.register(shutil.rmtree, root, True)
        _TREE.append(shipped.install_framework(os.path.join(root, "framework"), symlinks=True))
    return _TREE[0]
