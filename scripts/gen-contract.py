#!/usr/bin/env python3
"""Write framework/tools/fleet/contract.sh from plugins/module_utils/contract.py.

Usage: scripts/gen-contract.py [--check]
  --check  write nothing; exit 1 (and say so) when the committed file differs.
Run it (or `make contract`) after changing contract.py; tests/unit/test_contract.py fails until
the two agree.
"""

import importlib.util
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


def main(argv):
    contract = load_contract()
    target = os.path.join(ROOT, contract.SHELL_CONTRACT)
    text = contract.shell_contract()
    try:
        with open(target) as handle:
            current = handle.read()
    except FileNotFoundError:
        current = None
    if argv[1:] == ["--check"]:
        if current != text:
            print("%s is out of date: run scripts/gen-contract.py" % contract.SHELL_CONTRACT, file=sys.stderr)
            return 1
        return 0
    if argv[1:]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if current != text:
        with open(target, "w") as handle:
            handle.write(text)
        print("wrote %s" % contract.SHELL_CONTRACT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
