#!/usr/bin/env python3
"""Write the generated files of THE contract and THE runtime table.

  framework/tools/fleet/contract.sh      from plugins/module_utils/contract.py
  framework/tools/fleet/mosaic_runtimes.py  a byte-identical copy of plugins/module_utils/runtimes.py
                                         (launch-agent runs it on hosts)
  plugins/module_utils/runtime_table.py  framework/fleet/runtimes.json as Python data (for modules,
                                         which cannot read the collection's files on a host)
  framework/tools/fleet/mosaic_fleet_lib/<name>.py  byte-identical copies of the module_utils that
                                         tools/fleet/fleet-ps runs (fleet_ps's classification: ps_probe,
                                         ps_report and what they import), and nothing else

Usage: scripts/gen-contract.py [--check]
  --check  write nothing; exit 1 (and say so) when a committed file differs.
Run it (or `make contract`) after changing a source; tests/unit/test_contract.py and
tests/unit/test_runtimes.py fail until they agree.
"""

import importlib.util
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_contract():
    # contract.py is stdlib only: load it by path, no collection install needed.
    path = os.path.join(ROOT, "plugins", "module_utils", "contract.py")
    spec = importlib.util.spec_from_file_location("mosaic_fleet_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNTIMES_PY = "plugins/module_utils/runtimes.py"
RUNTIMES_COPY = "framework/tools/fleet/mosaic_runtimes.py"
RUNTIME_TABLE_JSON = "framework/fleet/runtimes.json"
RUNTIME_TABLE_PY = "plugins/module_utils/runtime_table.py"


def read(rel):
    try:
        with open(os.path.join(ROOT, rel), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def python_literal(value, indent=0):
    """``value`` (JSON data) as a Python literal, one item a line, 4 spaces a level, long strings
    split at spaces into adjacent literals, so no line gets long however deep the table nests."""
    pad = " " * (indent + 4)
    if isinstance(value, dict) and value:
        items = ["%s%r: %s" % (pad, key, python_literal(item, indent + 4)) for key, item in value.items()]
        return "{\n" + ",\n".join(items) + ",\n" + " " * indent + "}"
    if isinstance(value, list) and all(isinstance(item, (str, int)) for item in value) and len(repr(value)) <= 60:
        return repr(value)
    if isinstance(value, list) and value:
        items = [pad + python_literal(item, indent + 4) for item in value]
        return "[\n" + ",\n".join(items) + ",\n" + " " * indent + "]"
    if isinstance(value, str) and len(value) > 60:
        words = value.split(" ")
        pieces, piece = [], ""
        for word in words:
            if piece and len(piece) + len(word) > 60:
                pieces.append(piece)
                piece = ""
            piece += word + " "
        pieces.append(piece[:-1])
        return "(\n" + "\n".join(pad + repr(piece) for piece in pieces) + "\n" + " " * indent + ")"
    return repr(value)


def runtime_table_module(table):
    """plugins/module_utils/runtime_table.py: the runtime table as a Python literal."""
    return (
        "# -*- coding: utf-8 -*-\n"
        "# Copyright: mosaic.fleet contributors\n"
        "# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)\n"
        "# GENERATED from %s by scripts/gen-contract.py (`make contract`).\n"
        "# Do not edit: change the JSON and regenerate (tests/unit/test_runtimes.py checks both).\n"
        '"""THE runtime table (%s) as data that modules carry to hosts."""\n'
        "\n"
        "from __future__ import annotations\n"
        "\n"
        "TABLE = %s\n" % (RUNTIME_TABLE_JSON, RUNTIME_TABLE_JSON, python_literal(table)))


MODULE_UTILS = "plugins/module_utils"
# fleet-ps: the host-local fleet table. It runs THE fleet_ps code (these modules and every module_util
# they import, found by following their imports), shipped as copies under FLEET_LIB.
FLEET_LIB = "framework/tools/fleet/mosaic_fleet_lib"
FLEET_LIB_ROOTS = ("host", "ps_probe", "ps_report")
_IMPORT = re.compile(r"^from ansible_collections\.mosaic\.fleet\.plugins\.module_utils(?:\.(\w+))? import "
                     r"(\([^)]*\)|[^\n]+)", re.M)


def _imported(names):
    """The module names of ``a, b as c`` / ``(a,  # comment\n b)``."""
    names = re.sub(r"#[^\n]*", "", names).strip("()")
    return [part.split()[0] for part in re.split(r"[,\n]", names) if part.strip()]


def module_utils_closure(roots):
    """The module_utils names ``roots`` need, themselves included, sorted."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        text = read("%s/%s.py" % (MODULE_UTILS, name))
        if text is None:
            raise SystemExit("gen-contract: %s/%s.py is missing" % (MODULE_UTILS, name))
        for module, names in _IMPORT.findall(text):
            todo.extend([module] if module else _imported(names))
    return sorted(seen)


def fleet_lib_targets():
    return [("%s/%s.py" % (FLEET_LIB, name), read("%s/%s.py" % (MODULE_UTILS, name)))
            for name in module_utils_closure(FLEET_LIB_ROOTS)]


def targets():
    """(generated file, its text) for every generated file, relative to the repository."""
    contract = load_contract()
    table = json.loads(read(RUNTIME_TABLE_JSON))
    return [
        (contract.SHELL_CONTRACT, contract.shell_contract()),
        (RUNTIMES_COPY, read(RUNTIMES_PY)),
        (RUNTIME_TABLE_PY, runtime_table_module(table)),
    ] + fleet_lib_targets()


def strays():
    """Files in FLEET_LIB that are no copy of a needed module_util (a module no longer needed)."""
    wanted = set(rel for rel, _text in fleet_lib_targets())
    directory = os.path.join(ROOT, FLEET_LIB)
    present = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    return ["%s/%s" % (FLEET_LIB, name) for name in present if "%s/%s" % (FLEET_LIB, name) not in wanted]


def main(argv):
    if argv[1:] not in ([], ["--check"]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    stale = 0
    for rel, text in targets():
        if read(rel) == text:
            continue
        if argv[1:] == ["--check"]:
            print("%s is out of date: run scripts/gen-contract.py" % rel, file=sys.stderr)
            stale += 1
            continue
        os.makedirs(os.path.dirname(os.path.join(ROOT, rel)), exist_ok=True)
        with open(os.path.join(ROOT, rel), "w", encoding="utf-8") as handle:
            handle.write(text)
        print("wrote %s" % rel)
    for rel in strays():
        if argv[1:] == ["--check"]:
            print("%s is not a needed copy: run scripts/gen-contract.py" % rel, file=sys.stderr)
            stale += 1
            continue
        os.remove(os.path.join(ROOT, rel))
        print("removed %s" % rel)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
