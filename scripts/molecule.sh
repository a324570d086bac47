#!/usr/bin/env bash
# Run the molecule scenarios (extensions/molecule/*) on systemd-in-docker hosts, offline.
#
#   scripts/molecule.sh                 every scenario
#   scripts/molecule.sh default lifecycle   only these
#
# Prepares everything a fresh CI machine lacks: docker.io/debootstrap (apt), a running dockerd,
# the locally built base image, and the community.docker + ansible.posix collections (taken
# out of the PyPI `ansible` wheel into .cache/test-collections). Prints each scenario's time and
# the total; exits non-zero when any scenario fails (after running the others).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache="$root/.cache"
venv="$root/.venv"
test_collections="$cache/test-collections"
mkdir -p "$cache"

# --- docker and the image -------------------------------------------------------------------
scripts/dockerd.sh
MOLECULE_FLEET_IMAGE=$(scripts/build-image.sh | tail -n 1)
export MOLECULE_FLEET_IMAGE

# --- the two collections molecule's docker driver and our roles need --------------------------
# community.docker and ansible.posix, out of the PyPI `ansible` wheel (no Galaxy).
scripts/test-collections.sh

# --- molecule -------------------------------------------------------------------------------
# molecule calls ansible-config etc. from PATH: run it with the venv activated.
# shellcheck disable=SC1091
source "$venv/bin/activate"
export ANSIBLE_COLLECTIONS_PATH="$cache/collections:$test_collections"
# molecule writes its own ansible.cfg; ours would only confuse it.
unset ANSIBLE_CONFIG
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_NOCOLOR=1 NO_COLOR=1 MOLECULE_NO_LOG=false
# Make mosaic.fleet.* resolve to this checkout (the Makefile's dev-link does the same).
mkdir -p "$cache/collections/ansible_collections/mosaic"
ln -sfn "$root" "$cache/collections/ansible_collections/mosaic/fleet"

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  scenarios=()
  for f in extensions/molecule/*/molecule.yml; do
    d=$(basename "$(dirname "$f")")
    scenarios+=("$d")
  done
fi

# Wall-clock milliseconds (bash >= 5; no bc on a fresh machine).
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $(( t / 1000 )); }
secs() { printf '%d.%d' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }

declare -A took result
failed=()
total_start=$(now_ms)
for s in "${scenarios[@]}"; do
  [ -f "extensions/molecule/$s/molecule.yml" ] || { echo "molecule.sh: no scenario '$s'" >&2; exit 2; }
  echo "=============== molecule test -s $s ==============="
  start=$(now_ms)
  if molecule test -s "$s"; then result[$s]=passed; else result[$s]=FAILED; failed+=("$s"); fi
  took[$s]=$(secs $(( $(now_ms) - start )))
  echo "=============== $s: ${result[$s]} in ${took[$s]}s ==============="
done
total=$(secs $(( $(now_ms) - total_start )))

echo
echo "molecule summary (image $MOLECULE_FLEET_IMAGE):"
for s in "${scenarios[@]}"; do
  printf '  %-14s %-7s %6ss\n' "$s" "${result[$s]}" "${took[$s]}"
done
printf '  %-14s %-7s %6ss\n' "total" "" "$total"
if [ ${#failed[@]} -gt 0 ]; then
  echo "molecule.sh: failed scenarios: ${failed[*]}" >&2
  exit 1
fi
