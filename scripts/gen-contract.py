#!/usr/bin/env python3
"""Write the generated files of THE contract and THE runtime table.

  framework/tools/fleet/contract.sh      from plugins/module_utils/contract.py
  plugins/module_utils/runtime_table.py  framework/fleet/runtimes.json as Python data (for modules,
                                         which cannot read the collection's files on a host)

The module_utils the host tools run (tools/fleet/mosaic_runtimes.py, tools/fleet/mosaic_fleet_lib/)
are no files of the repository: plugins/module_utils/shipped.py adds them to the framework tree that
fleet_reseed ships (and that tests install), so the repository holds one copy.

Usage: scripts/gen-contract.py [--check]
  --check  write nothing; exit 1 (and say so) when a committed file differs.
Run it (or `make contract`) after changing a source; tests/unit/test_contract.py and
tests/unit/test_runtimes.py fail until they agree.
"""

import importlib.util
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_contract():
    # contract.py is stdlib only: load it by path, no collection install needed.
    path = os.path.join(ROOT, "plugins", "module_utils", "contract.py")
    spec = importlib.util.spec_from_file_location("mosaic_fleet_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def targets():
    """(generated file, its text) for every generated file, relative to the repository."""
    contract = load_contract()
    table = json.loads(read(RUNTIME_TABLE_JSON))
    return [
        (contract.SHELL_CONTRACT, contract.shell_contract()),
        (RUNTIME_TABLE_PY, runtime_table_module(table)),
    ]


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
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
