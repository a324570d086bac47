#!/usr/bin/env bash
# `ansible-test sanity` for the whole collection, offline-capable (only the package index needed).
#
#   scripts/sanity.sh                      every sanity test
#   scripts/sanity.sh --test validate-modules   any extra ansible-test sanity arguments
#
# ansible-test wants the collection at .../ansible_collections/mosaic/fleet, so the files git
# knows about (tracked, plus untracked ones that are not ignored) are copied to
# .cache/sanity/ansible_collections/mosaic/fleet and tested there.
#
# ansible-test bootstraps pip into each sanity venv with a get-pip script that it downloads from
# a host that only the internet reaches. We pre-seed its cache (~/.ansible/test/cache/
# get_pip_<pip version with _>.py) with a small script that installs the pinned pip from a wheel
# fetched off the package index. The same step lets any air-gapped user run ansible-test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
python="$venv/bin/python"
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export PATH="$venv/bin:$PATH"

# --- the pip bootstrap, offline ----------------------------------------------------------------
# The pip version ansible-test pins for its venvs (ansible_test/_internal/python_requirements.py).
pip_version=$("$python" - "$python_version" <<'PY'
import sys
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
PY
)
cache="$HOME/.ansible/test/cache"
bootstrap="$cache/get_pip_${pip_version//./_}.py"
wheel="$cache/pip-$pip_version-py3-none-any.whl"
mkdir -p "$cache"
if [ ! -f "$wheel" ]; then
  echo "sanity.sh: fetching pip $pip_version from the package index for ansible-test's bootstrap"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache" "pip==$pip_version"
fi
# Rewritten on every run (cheap) so a stale or downloaded script never lingers.
cat > "$bootstrap.tmp" <<PY
# Written by mosaic.fleet scripts/sanity.sh: an offline stand-in for get-pip.py $pip_version.
# ansible-test runs it as "python get_pip.py [pip options] pip==$pip_version --no-setuptools
# --no-wheel" in a venv without pip; it installs pip from the wheel beside this file.
import os
import sys

WHEEL = "$wheel"
sys.path.insert(0, WHEEL)
from pip._internal.cli.main import main  # noqa: E402  (pip runs from its own wheel)

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--no-index", "--find-links", os.path.dirname(WHEEL)] + args))
PY
mv "$bootstrap.tmp" "$bootstrap"

# --- the collection copy ------------------------------------------------------------------------
# One run at a time per checkout: a second run would delete the copy under the first.
mkdir -p "$root/.cache"
exec 9>"$root/.cache/sanity.lock"
if ! flock -n 9; then
  echo "sanity.sh: another sanity run in this checkout holds .cache/sanity.lock; waiting for it"
  flock 9
fi
dest="$root/.cache/sanity/ansible_collections/mosaic/fleet"
rm -rf "$dest"
mkdir -p "$dest"
cd "$root"
# Files deleted from the work tree but still tracked are skipped.
git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
  if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
done | xargs -0 -r cp -P --parents -t "$dest"

# Without a repository of its own, ansible-test would find the checkout's .git above the copy
# and see nothing (.cache/ is ignored there). An empty repository lists the copy as untracked.
git -C "$dest" init --quiet

# --- run ----------------------------------------------------------------------------------------
cd "$dest"
# Each sanity test gets its own venv (requirements come from the package index).
exec ansible-test sanity --venv --python "$python_version" --color no "$@"
