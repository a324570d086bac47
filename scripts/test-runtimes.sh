#!/usr/bin/env bash
# The agent runtimes that the tests run for real (pi today; claude, codex, opencode and the aimock
# model server are in the same lock), installed with `npm ci` from the committed lock
# tests/runtimes/package-lock.json into .cache/test-runtimes, with npm's cache in
# .cache/npm-cache. Prints the directory of their executables (node_modules/.bin) on stdout.
# Idempotent and safe to run from several processes at once: a no-op while the installed tree
# matches the lock (.cache/test-runtimes/.stamp holds the sha256 of package.json and the lock).
# Used by the pi_command fixture of tests/integration/conftest.py; scripts/bump-deps.sh rewrites
# the lock.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tests/runtimes"
cache="$root/.cache"
dest="$cache/test-runtimes"
fail() { printf 'test-runtimes.sh: %s\n' "$*" >&2; exit 1; }

for f in package.json package-lock.json; do
  [ -f "$src/$f" ] || fail "$src/$f is missing; the test runtimes install only from the committed lock (scripts/bump-deps.sh writes it)"
done
command -v npm >/dev/null || fail "npm is needed to install the test runtimes (apt-get install npm)"
want=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)

mkdir -p "$cache"
exec 9>"$cache/test-runtimes.lock"
flock 9
if [ "$(cat "$dest/.stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "test-runtimes.sh: npm ci from tests/runtimes/package-lock.json into $dest" >&2
  start=$(date +%s)
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  cp "$src/package.json" "$src/package-lock.json" "$dest.tmp/"
  log="$dest.tmp/npm-ci.log"
  ok=0
  for attempt in 1 2; do
    if (cd "$dest.tmp" && npm ci --no-audit --no-fund --loglevel=error --cache "$cache/npm-cache") >"$log" 2>&1; then
      ok=1
      break
    fi
    # A lock that does not match package.json will not get better by trying again.
    grep -q 'EUSAGE' "$log" && break
    echo "test-runtimes.sh: npm ci attempt $attempt failed; trying again" >&2
  done
  if [ "$ok" != 1 ]; then
    if grep -q 'EUSAGE' "$log"; then
      grep -E '^npm error (Missing|Invalid|.npm ci. can only)' "$log" | head -n 20 >&2 || true
      fail "tests/runtimes/package.json and package-lock.json are out of sync; regenerate the lock with scripts/bump-deps.sh"
    fi
    tail -n 40 "$log" >&2
    fail "npm ci failed (full log: $log)"
  fi
  printf '%s\n' "$want" >"$dest.tmp/.stamp"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  echo "test-runtimes.sh: installed in $(( $(date +%s) - start ))s" >&2
fi
echo "$dest/node_modules/.bin"
