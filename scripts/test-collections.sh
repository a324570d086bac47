#!/usr/bin/env bash
# The collections our roles, playbooks and molecule scenarios use besides mosaic.fleet
# (ansible.posix, community.docker), installed into .cache/test-collections without Galaxy: they
# are taken out of the PyPI `ansible` wheel of the series that goes with our ansible-core.
# Idempotent; a no-op once they are there. Used by `make lint` (ansible-lint must resolve every
# module) and, with the same layout and checks, by scripts/molecule.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
venv="$root/.venv"
dest="$cache/test-collections"
# Pinned to the `ansible` 12.x series (the one that goes with ansible-core 2.19).
ANSIBLE_WHEEL_SPEC='ansible==12.*'
wanted=(community/docker ansible/posix)

missing=0
for c in "${wanted[@]}"; do
  [ -f "$dest/ansible_collections/$c/MANIFEST.json" ] || missing=1
done
[ "$missing" = 1 ] || exit 0

echo "test-collections.sh: extracting ${wanted[*]} from the ansible wheel"
mkdir -p "$cache/wheels"
latest_wheel() { find "$cache/wheels" -maxdepth 1 -name 'ansible-12.*-py3-none-any.whl' | sort -V | tail -n 1; }
wheel=$(latest_wheel)
if [ -z "$wheel" ]; then
  "$venv/bin/pip" download --quiet --no-deps --only-binary=:all: -d "$cache/wheels" "$ANSIBLE_WHEEL_SPEC"
  wheel=$(latest_wheel)
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
"$venv/bin/python" - "$wheel" "$dest.tmp" "${wanted[@]}" <<'PY'
import sys
import zipfile

wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = tuple("ansible_collections/%s/" % name for name in names)
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.startswith(prefixes)]
    archive.extractall(dest, members)
print("  %d files from %s" % (len(members), wheel.rsplit("/", 1)[-1]))
PY
rm -rf "$dest"
mv "$dest.tmp" "$dest"
