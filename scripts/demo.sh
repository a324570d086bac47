#!/usr/bin/env bash
# demo.sh up|down — stand the `local-canary` fleet up on this machine and show it working, or
# take it down and remove everything the demo created.
#
# `up` runs `ansible-playbook mosaic.fleet.fleet` against localhost (connection local) with the
# local-canary preset (three stub agents), then shows: the tmux sessions, each pane's foreground
# command, a message sent with agent-send.sh landing in a stub's log, and a second run reporting
# changed=0. `down` runs the playbook with mosaic_fleet_state=absent, checks that no session is
# left, and removes what the demo created. No apt, no dockerd, no sudo.
#
# As root: `up` creates the Linux user $MOSAIC_DEMO_USER (default mosaic-demo) and runs the fleet
# for it on the preset's socket; where there is no systemd user manager (containers, WSL, this
# kind of machine) the fleet runs under plain tmux. `down` also deletes the user with its home.
#
# As anyone else: the fleet runs as you, under plain tmux, on a socket of its own (mosaic-demo),
# with ~/.mosaic-demo as its HOME: MOSAIC_HOME, the agents' working directory, ansible's temp
# files, the inventory and the logs all live there. Your own ~/.config/mosaic, systemd units,
# ~/.ansible and tmux servers are not touched. `down` removes ~/.mosaic-demo, the socket file and
# the tmux socket directory /tmp/tmux-UID when the demo created it.
# `make demo` / `make demo-down` call this.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
preset=$repo/framework/fleet/presets/local-canary.yaml
export PATH=$repo/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$repo/.cache/collections}
export ANSIBLE_CONFIG=${ANSIBLE_CONFIG:-$repo/ansible.cfg}
export ANSIBLE_DEPRECATION_WARNINGS=False
# No __pycache__ left in the checkout by ansible loading the collection's plugins.
export PYTHONDONTWRITEBYTECODE=1
unset TMUX TMUX_TMPDIR

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then
  mode=root
  user=${MOSAIC_DEMO_USER:-mosaic-demo}
  socket=mosaic-fleet
  state_dir=$repo/.cache/demo
  home=  # the demo user's home, known once the user exists
else
  mode=self
  user=$(id -un)
  [ -z "${MOSAIC_DEMO_USER-}" ] || [ "$MOSAIC_DEMO_USER" = "$user" ] \
    || die "MOSAIC_DEMO_USER=$MOSAIC_DEMO_USER needs root (creating a user); as $user the demo runs as you"
  if [ -z "${HOME-}" ] || [ ! -d "$HOME" ]; then die "HOME is not set to your home directory"; fi
  socket=mosaic-demo
  home=$HOME/.mosaic-demo
  state_dir=$home
  tmux_dir=/tmp/tmux-$(id -u)
  # Present when `up` created the tmux socket directory: `down` then removes it (if empty).
  tmux_dir_mark=$home/.tmux-dir-created
fi
inventory=$state_dir/inventory.yml

# Commands as the fleet user, in the fleet's HOME.
as_user() {
  if [ "$mode" = root ]; then
    runuser -u "$user" -- env HOME="$home" USER="$user" LOGNAME="$user" "$@"
  else
    env HOME="$home" USER="$user" LOGNAME="$user" "$@"
  fi
}

command -v ansible-playbook >/dev/null || die "ansible-playbook not found: run 'make demo' (it builds .venv)"
if [ "$mode" = self ]; then
  command -v tmux >/dev/null || die "tmux is not installed; the demo needs it (as root: apt-get install tmux)"
fi

write_inventory() {
  mkdir -p "$state_dir"
  local vars
  if [ "$mode" = root ]; then
    vars="mosaic_fleet_profile: local-canary
    mosaic_fleet_create_user: true"
  else
    # The preset on the demo's own socket (JSON is YAML), so a fleet of yours on the preset's
    # socket is never touched; no package installs, no systemd.
    python3 - "$preset" "$socket" "$state_dir/roster.yaml" <<'PY'
import json
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as handle:
    roster = yaml.safe_load(handle)
roster["tmux"]["socket_name"] = sys.argv[2]
with open(sys.argv[3], "w", encoding="utf-8") as handle:
    handle.write("# the local-canary preset on the demo's own tmux socket (written by scripts/demo.sh)\n")
    handle.write(json.dumps(roster, indent=2) + "\n")
PY
    vars="mosaic_fleet_roster_file: $state_dir/roster.yaml
    mosaic_fleet_create_user: false
    mosaic_fleet_install_packages: false
    mosaic_fleet_supervisor: tmux"
  fi
  cat >"$inventory" <<YAML
---
fleet:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: $(command -v python3)
  vars:
    mosaic_fleet_user: $user
    $vars
YAML
}

playbook() {  # playbook LOG [extra args...]: run fleet.yml, keep its output in LOG, print the recap
  local log=$1
  shift
  local run=(ansible-playbook -i "$inventory" mosaic.fleet.fleet "$@")
  # As yourself, ansible (its ~/.ansible) and the modules (the fleet's home) see the demo's HOME;
  # the modules' temp files too (ansible would put them under your passwd home).
  [ "$mode" = root ] || run=(env HOME="$home" USER="$user" LOGNAME="$user"
                             ANSIBLE_REMOTE_TMP="$home/.ansible/tmp" "${run[@]}")
  if ! "${run[@]}" >"$log" 2>&1; then
    cat "$log"
    die "ansible-playbook failed (output above)"
  fi
  grep -E '^\[WARNING\]: mosaic.fleet' "$log" | sort -u || true
  sed -n '/^PLAY RECAP/,$p' "$log"
}

up() {
  if [ "$mode" = self ]; then
    # Before any tmux command: even a client that finds no server creates the socket directory.
    local tmux_dir_new=0
    [ -d "$tmux_dir" ] || tmux_dir_new=1
    if [ ! -d "$home" ] && as_user tmux -L "$socket" list-sessions >/dev/null 2>&1; then
      die "a tmux server already runs on socket $socket but $home does not exist: not the demo's? (tmux -L $socket ls)"
    fi
    mkdir -m 0700 "$home" 2>/dev/null || [ -d "$home" ] || die "cannot create $home"
    [ "$tmux_dir_new" = 0 ] || : >"$tmux_dir_mark"
  fi
  write_inventory
  if [ "$mode" = root ]; then
    say "ansible-playbook mosaic.fleet.fleet (local-canary preset, fleet user '$user')"
  else
    say "ansible-playbook mosaic.fleet.fleet (local-canary preset on socket $socket, as you, in $home)"
  fi
  playbook "$state_dir/first-run.log"
  [ "$mode" = self ] || home=$(getent passwd "$user" | cut -d: -f6)
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
  if [ "$mode" = self ]; then
    say "done; look in with 'tmux -L $socket attach -t worker' (detach: C-b d); 'make demo-down' removes the demo"
  else
    say "done; 'make demo-down' removes the demo"
  fi
}

down_self() {
  if [ ! -d "$home" ]; then
    if as_user tmux -L "$socket" list-sessions >/dev/null 2>&1; then
      die "$home does not exist but a tmux server runs on socket $socket; not touching it (tmux -L $socket ls)"
    fi
    echo "demo: $home does not exist; nothing to take down"
    return 0
  fi
  write_inventory
  say "ansible-playbook mosaic.fleet.fleet -e mosaic_fleet_state=absent (as you, in $home)"
  playbook "$state_dir/down.log" -e mosaic_fleet_state=absent

  say "what is left"
  if as_user tmux -L "$socket" list-sessions 2>/dev/null; then
    die "sessions are still running on socket $socket"
  fi
  echo "no tmux server on socket $socket"
  local left="" rc
  for _ in $(seq 50); do
    rc=0
    left=$(pgrep -u "$(id -u)" -d ' ' -f -- "$home/") || rc=$?
    [ "$rc" -le 1 ] || die "pgrep failed (exit $rc)"
    [ -n "$left" ] || break
    sleep 0.1
  done
  [ -z "$left" ] || die "processes of the demo are still running: $left"
  echo "no process runs from $home"

  say "remove $home and the socket $tmux_dir/$socket"
  # tmux leaves its socket file behind when the server exits.
  rm -f "$tmux_dir/$socket"
  local removed="$home, $tmux_dir/$socket"
  if [ -e "$tmux_dir_mark" ] && rmdir "$tmux_dir" 2>/dev/null; then
    removed="$removed, $tmux_dir"
  fi
  rm -rf "$home"
  echo "removed $removed"
}

down_root() {
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
  down) if [ "$mode" = root ]; then down_root; else down_self; fi ;;
  *) echo "usage: ${0##*/} up|down" >&2; exit 2 ;;
esac
