# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mosaic.fleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pack what the real_runtime scenario's host needs into one tar, on the controller.

    runtime_tree.py RUNTIMES_DIR RECORDER OUT.tar

- ``bin/node``: the controller's node (``node`` on PATH, symlinks followed; pi needs >= 20.6);
- ``node_modules/...``: pi (``@mariozechner/pi-coding-agent``) and the mock model server
  (``@copilotkit/aimock``) with exactly the packages they depend on, taken from RUNTIMES_DIR
  (.cache/test-runtimes, installed by scripts/test-runtimes.sh from the committed lock): the
  dependency closure read from npm's record of the installed tree
  (``node_modules/.package-lock.json``), ~150 MB of the tree's 1.2 GB;
- ``mock/mock_model_recorder.js``: RECORDER (tests/integration's recording pass-through).

Prints one JSON line: the node path and version, the package count and the tar's size.
Exits 1 with a message naming what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile

ROOTS = ("@mariozechner/pi-coding-agent", "@copilotkit/aimock")
NODE_MIN = (20, 6)


def fail(msg):
    sys.stderr.write("runtime_tree.py: %s\n" % msg)
    sys.exit(1)


def find_node():
    node = shutil.which("node")
    if not node:
        fail("no node on the controller's PATH: the scenario copies the controller's node (>= %d.%d) "
             "into the host (install nodejs)" % NODE_MIN)
    node = os.path.realpath(node)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    try:
        parts = tuple(int(p) for p in version.lstrip("v").split(".")[:2])
    except ValueError:
        fail("%s --version printed %r" % (node, version))
    if parts < NODE_MIN:
        fail("%s is node %s; pi needs node >= %d.%d" % ((node, version) + NODE_MIN))
    return node, version


def parent_of(path):
    """The package directory whose node_modules holds ``path`` ('' for the top level)."""
    cut = path.rfind("/node_modules/")
    return path[:cut] if cut >= 0 else ""


def resolve(packages, frm, dep):
    """Where node finds ``dep`` required from package ``frm``: its own node_modules, then each
    enclosing one up to the top."""
    here = frm
    while True:
        candidate = (here + "/" if here else "") + "node_modules/" + dep
        if candidate in packages:
            return candidate
        if not here:
            return None
        here = parent_of(here)


def closure(packages):
    seen, stack = set(), ["node_modules/" + root for root in ROOTS]
    for path in stack:
        if path not in packages:
            fail("%s is not installed (scripts/test-runtimes.sh installs it from tests/runtimes)" % path)
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        info = packages[path]
        for key in ("dependencies", "optionalDependencies", "peerDependencies"):
            for dep in info.get(key) or {}:
                found = resolve(packages, path, dep)
                if found:
                    stack.append(found)
    # A nested package travels with the directory that holds it.
    return sorted(p for p in seen if not any(p.startswith(q + "/") for q in seen if q != p))


def main(argv):
    if len(argv) != 4:
        fail("usage: runtime_tree.py RUNTIMES_DIR RECORDER OUT.tar")
    runtimes, recorder, out = argv[1:]
    record = os.path.join(runtimes, "node_modules", ".package-lock.json")
    if not os.path.isfile(record):
        fail("%s is missing: run scripts/test-runtimes.sh" % record)
    node, version = find_node()
    with open(record, encoding="utf-8") as handle:
        packages = json.load(handle)["packages"]
    dirs = closure(packages)
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as tar:
        tar.add(node, arcname="bin/node")
        tar.add(recorder, arcname="mock/mock_model_recorder.js")
        for path in dirs:
            tar.add(os.path.join(runtimes, path), arcname=path)
    os.replace(tmp, out)
    print(json.dumps({"node": node, "node_version": version, "packages": len(dirs),
                      "bytes": os.path.getsize(out)}))


if __name__ == "__main__":
    main(sys.argv)
