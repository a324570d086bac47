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
# The exact `ansible` release, of the 12.x series that goes with ansible-core 2.19; bumped by
# scripts/bump-deps.sh (the newest of the same major).
ANSIBLE_WHEEL_VERSION=12.3.0
wanted=(community/docker ansible/posix)

missing=0
for c in "${wanted[@]}"; do
  [ -f "$dest/ansible_collections/$c/MANIFEST.json" ] || missing=1
done
# Taken from another ansible release (before a bump): extracted again.
[ "$(cat "$dest/.ansible-version" 2>/dev/null || true)" = "$ANSIBLE_WHEEL_VERSION" ] || missing=1
[ "$missing" = 1 ] || exit 0

# One extraction at a time (make lint and scripts/molecule.sh may run together).
mkdir -p "$cache"
exec 9>"$cache/test-collections.lock"
flock 9
if [ "$(cat "$dest/.ansible-version" 2>/dev/null || true)" = "$ANSIBLE_WHEEL_VERSION" ]; then
  exit 0  # another run extracted them while we waited
fi
echo "test-collections.sh: extracting ${wanted[*]} from the ansible $ANSIBLE_WHEEL_VERSION wheel"
mkdir -p "$cache/wheels"
wheel="$cache/wheels/ansible-$ANSIBLE_WHEEL_VERSION-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  "$venv/bin/pip" download --quiet --no-deps --only-binary=:all: -d "$cache/wheels" "ansible==$ANSIBLE_WHEEL_VERSION"
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
echo "$ANSIBLE_WHEEL_VERSION" >"$dest.tmp/.ansible-version"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
