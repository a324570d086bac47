#!/usr/bin/env bash
# demo.sh up|down — stand the `local-canary` fleet up on this machine and show it working, or
# take it down and remove everything the demo created.
#
# `up` creates the Linux user $MOSAIC_DEMO_USER (default mosaic-demo), runs
# `ansible-playbook mosaic.fleet.fleet` against localhost (connection local) with the local-canary
# preset (three stub agents), then shows: the tmux sessions, each pane's foreground command, a
# message sent with agent-send.sh landing in a stub's log, and a second run reporting changed=0.
# Where there is no systemd user manager (containers, WSL, this kind of machine) the fleet runs
# under plain tmux. `down` runs the playbook with mosaic_fleet_state=absent, checks that no
# session or unit is left, and deletes the user with its home.
# Needs root (it creates and deletes a user). `make demo` / `make demo-down` call this.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
user=${MOSAIC_DEMO_USER:-mosaic-demo}
socket=mosaic-fleet
state_dir=$repo/.cache/demo
inventory=$state_dir/inventory.yml
export PATH=$repo/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$repo/.cache/collections}
export ANSIBLE_CONFIG=${ANSIBLE_CONFIG:-$repo/ansible.cfg}
export ANSIBLE_DEPRECATION_WARNINGS=False
unset TMUX TMUX_TMPDIR

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
as_user() { runuser -u "$user" -- env HOME="$home" USER="$user" LOGNAME="$user" "$@"; }

[ "$(id -u)" = 0 ] || die "run as root: the demo creates (and 'down' deletes) the user '$user'"
command -v ansible-playbook >/dev/null || die "ansible-playbook not found: run 'make demo' (it builds .venv)"

write_inventory() {
  mkdir -p "$state_dir"
  cat >"$inventory" <<YAML
---
fleet:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: $(command -v python3)
  vars:
    mosaic_fleet_profile: local-canary
    mosaic_fleet_user: $user
    mosaic_fleet_create_user: true
YAML
}

playbook() {  # playbook LOG [extra args...]: run fleet.yml, keep its output in LOG, print the recap
  local log=$1
  shift
  if ! ansible-playbook -i "$inventory" mosaic.fleet.fleet "$@" >"$log" 2>&1; then
    cat "$log"
    die "ansible-playbook failed (output above)"
  fi
  grep -E '^\[WARNING\]: mosaic.fleet' "$log" | sort -u || true
  sed -n '/^PLAY RECAP/,$p' "$log"
}

up() {
  write_inventory
  say "ansible-playbook mosaic.fleet.fleet (local-canary preset, fleet user '$user')"
  playbook "$state_dir/first-run.log"
  home=$(getent passwd "$user" | cut -d: -f6)
  mosaic_home=$home/.config/mosaic

  say "tmux sessions (socket $socket, as $user)"
  as_user tmux -L "$socket" list-sessions -F '#{session_name}  created #{t:session_created}'

  say "each pane's foreground command (the stub runtime is python3)"
  as_user tmux -L "$socket" list-panes -a -F '#{session_name}: #{pane_current_command} (pid #{pane_pid})'

  say "send a message to 'worker' with agent-send.sh"
  local message now
  now=$(date -u +%H:%M:%S)
  message="hello from make demo at $now: quotes \"ok\", \$HOME stays literal"
  local send_rc=0
  as_user "$mosaic_home/tools/tmux/agent-send.sh" -L "$socket" -S operator -s worker -m "$message" --json \
    || send_rc=$?
  [ "$send_rc" -eq 0 ] || [ "$send_rc" -eq 3 ] || die "agent-send.sh failed (exit $send_rc)"

  say "the message in worker's stub log ($mosaic_home/fleet/run/worker.stub.log)"
  local log=$mosaic_home/fleet/run/worker.stub.log
  for _ in $(seq 50); do
    grep -qF "hello from make demo" "$log" 2>/dev/null && break
    sleep 0.1
  done
  grep -F "hello from make demo" "$log" | tail -n 1 || die "the message did not reach the stub's log"

  say "worker's pane"
  as_user tmux -L "$socket" capture-pane -p -t '=worker:' | grep -v '^$' | tail -n 4

  say "second run: nothing to change"
  playbook "$state_dir/second-run.log"
  grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' "$state_dir/second-run.log" \
    || die "the second run changed something (see $state_dir/second-run.log)"
  echo "changed=0: the host already matches the roster"
  say "done; 'make demo-down' removes the demo"
}

down() {
  if ! getent passwd "$user" >/dev/null; then
    echo "demo: user '$user' does not exist; nothing to take down"
    rm -rf "$state_dir"
    return 0
  fi
  home=$(getent passwd "$user" | cut -d: -f6)
  local uid
  uid=$(id -u "$user")
  write_inventory
  say "ansible-playbook mosaic.fleet.fleet -e mosaic_fleet_state=absent"
  playbook "$state_dir/down.log" -e mosaic_fleet_state=absent -e mosaic_fleet_create_user=false

  say "what is left"
  if as_user tmux -L "$socket" list-sessions 2>/dev/null; then
    die "sessions are still running on socket $socket"
  fi
  echo "no tmux server on socket $socket"
  local units
  units=$(find "$home/.config/systemd/user" -name 'mosaic-*' 2>/dev/null || true)
  [ -z "$units" ] || die "units left behind: $units"
  echo "no mosaic units in $home/.config/systemd/user"

  say "delete the user '$user' and its home"
  userdel -r "$user" 2>/dev/null || userdel "$user" || die "cannot delete '$user' (processes still running: $(pgrep -u "$user" -d ' ' || true))"
  # tmux keeps its socket directory in /tmp; userdel leaves it behind.
  rm -rf "$home" "$state_dir" "/tmp/tmux-$uid"
  echo "removed $user, $home and /tmp/tmux-$uid"
}

case ${1-} in
  up) up ;;
  down) down ;;
  *) echo "usage: ${0##*/} up|down" >&2; exit 2 ;;
esac
