#!/usr/bin/env bash
# The collection as a user gets it: build the tarball, install it into an empty collections
# path, and check that `ansible-doc` renders every module, every documented plugin and every
# role with an argument spec, and lists them. New modules and roles are covered automatically.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
export PATH="$venv/bin:$PATH"
work=$(mktemp -d "${TMPDIR:-/tmp}/mosaic-fleet-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "check-docs: building the collection"
ansible-galaxy collection build --output-path "$work/dist" "$root" >/dev/null
tarball=$(find "$work/dist" -name 'mosaic-fleet-*.tar.gz' | head -n 1)
[ -n "$tarball" ] || { echo "check-docs: no tarball was built" >&2; exit 1; }

# Only the installed copy: not the dev link, not the user's collections, not our ansible.cfg.
export ANSIBLE_COLLECTIONS_PATH="$work/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOME="$work/ansible-home"
unset ANSIBLE_CONFIG
cd "$work"
ansible-galaxy collection install --offline --no-deps -p "$work/collections" "$tarball" >/dev/null
echo "check-docs: installed $(basename "$tarball") into an empty collections path"

failed=0
checked=0
fail() { echo "check-docs: FAIL: $*" >&2; failed=$((failed + 1)); }

# render TYPE NAME: ansible-doc must exit 0, say nothing on stderr but warnings we expect never,
# and return documentation for exactly that plugin.
render() {
  local type=$1 name=$2 fqcn="mosaic.fleet.$2"
  checked=$((checked + 1))
  if ! ansible-doc -t "$type" "$fqcn" >"$work/doc.txt" 2>"$work/doc.err"; then
    fail "ansible-doc -t $type $fqcn exited non-zero:"; cat "$work/doc.err" "$work/doc.txt" >&2; return
  fi
  if grep -q -i -E '\[(ERROR|WARNING)\]' "$work/doc.err"; then
    fail "ansible-doc -t $type $fqcn complained:"; cat "$work/doc.err" >&2; return
  fi
  if ! grep -q -F "$fqcn" "$work/doc.txt"; then
    fail "ansible-doc -t $type $fqcn rendered no documentation for it"; return
  fi
  if ! ansible-doc -t "$type" --json "$fqcn" >"$work/doc.json" 2>/dev/null ||
     ! python3 - "$work/doc.json" "$fqcn" <<'PY'
import json
import sys

path, fqcn = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as handle:
    data = json.load(handle)
entry = data.get(fqcn) or {}
doc = entry.get("doc") or {}
# A role's entry points live under "entry_points"; plugins have "doc" with a short description.
ok = bool(doc.get("short_description")) or bool(entry.get("entry_points"))
sys.exit(0 if ok else 1)
PY
  then
    fail "ansible-doc -t $type --json $fqcn has no short description"; return
  fi
  echo "  ok  $type $fqcn"
}

# listed TYPE NAME...: `ansible-doc -t TYPE -l mosaic.fleet` lists every one of them.
listed() {
  local type=$1; shift
  ansible-doc -t "$type" -l mosaic.fleet >"$work/list.txt" 2>"$work/list.err" || {
    fail "ansible-doc -t $type -l mosaic.fleet exited non-zero"; cat "$work/list.err" >&2; return; }
  local name
  for name in "$@"; do
    grep -q -E "^mosaic\.fleet\.$name([ :]|$)" "$work/list.txt" ||
      fail "ansible-doc -t $type -l mosaic.fleet does not list mosaic.fleet.$name"
  done
}

modules=()
for f in "$root"/plugins/modules/*.py; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .py)
  [ "$name" = __init__ ] && continue
  modules+=("$name")
  render module "$name"
done
[ ${#modules[@]} -gt 0 ] || fail "no modules found in plugins/modules"
listed module "${modules[@]}"

# Other plugin types: one documented plugin per .py file, except filters and tests, whose docs
# are YAML files beside the code (one per filter or test).
for dir in "$root"/plugins/*/; do
  type=$(basename "$dir")
  case "$type" in
    modules|module_utils|action|doc_fragments|plugin_utils|__pycache__) continue ;;
    filter|test) pattern='*.yml' ;;
    *) pattern='*.py' ;;
  esac
  names=()
  while IFS= read -r f; do
    name=$(basename "${f%.*}")
    [ "$name" = __init__ ] && continue
    names+=("$name")
    render "$type" "$name"
  done < <(find "$dir" -maxdepth 1 -name "$pattern" | sort)
  [ ${#names[@]} -eq 0 ] || listed "$type" "${names[@]}"
done

roles=()
for dir in "$root"/roles/*/; do
  name=$(basename "$dir")
  if [ -f "$dir/meta/argument_specs.yml" ] || [ -f "$dir/meta/argument_specs.yaml" ]; then
    roles+=("$name")
    render role "$name"
  fi
done
[ ${#roles[@]} -eq 0 ] || listed role "${roles[@]}"

if [ "$failed" -gt 0 ]; then
  echo "check-docs: $failed problem(s) in $checked documented plugins and roles" >&2
  exit 1
fi
echo "check-docs: $checked documented plugins and roles render from the installed tarball"
