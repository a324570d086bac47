#!/usr/bin/env bash
# The Matrix homeserver the connector tests run against: matrix-synapse (AGPL-3.0, so a separate
# test process, never vendored), installed from the committed lock tests/matrix/requirements.lock
# into its own venv .cache/synapse-venv, with pip's cache in .cache/pip. Prints the venv's python
# on stdout. Idempotent and safe to run from several processes at once: a no-op while the venv
# matches the lock (.cache/synapse-venv/.stamp holds the sha256 of requirements.txt and the lock).
# Used by the synapse fixture of tests/integration/matrix_util.py; `scripts/bump-deps.sh matrix`
# rewrites the lock.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tests/matrix"
cache="$root/.cache"
dest="$cache/synapse-venv"
python=${PYTHON:-python3}
fail() { printf 'test-synapse.sh: %s\n' "$*" >&2; exit 1; }

for f in requirements.txt requirements.lock; do
  [ -f "$src/$f" ] || fail "$src/$f is missing; synapse installs only from the committed lock (scripts/bump-deps.sh matrix writes it)"
done
want=$(cat "$src/requirements.txt" "$src/requirements.lock" | sha256sum | cut -d' ' -f1)

mkdir -p "$cache"
exec 9>"$cache/synapse-venv.lock"
flock 9
if [ "$(cat "$dest/.stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "test-synapse.sh: pip install from tests/matrix/requirements.lock into $dest" >&2
  start=$(date +%s)
  # Built in place (a venv is not relocatable); the stamp, written last, marks it complete.
  rm -rf "$dest"
  "$python" -m venv "$dest"
  export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$cache/pip}" PIP_DISABLE_PIP_VERSION_CHECK=1
  log="$dest/pip.log"
  ok=0
  for attempt in 1 2; do
    if "$dest/bin/pip" install --quiet -c "$src/requirements.lock" pip >"$log" 2>&1 &&
       "$dest/bin/pip" install --quiet --only-binary=:all: -r "$src/requirements.txt" -c "$src/requirements.lock" >>"$log" 2>&1; then
      ok=1
      break
    fi
    echo "test-synapse.sh: pip install attempt $attempt failed; trying again" >&2
  done
  if [ "$ok" != 1 ]; then
    tail -n 40 "$log" >&2
    fail "pip install failed (full log: $log)"
  fi
  printf '%s\n' "$want" >"$dest/.stamp"
  echo "test-synapse.sh: installed in $(( $(date +%s) - start ))s" >&2
fi
echo "$dest/bin/python"
