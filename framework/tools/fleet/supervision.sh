# shellcheck shell=bash
# supervision.sh — sourced by start-agent-session.sh and stop-agent-session.sh (after lib.sh):
# how an agent's unit follows its runtime, and how a runtime's end is recorded.
#
# Under systemd (the unit sets MOSAIC_AGENT_UNIT=%n) the pane's process, the runtime, is moved
# out of the tmux server's cgroup (the holder unit's) into the agent unit's own cgroup and its
# pid written to fleet/run/NAME.pid, the unit's PIDFile= (Type=forking). systemd then takes it as
# the unit's main process: when it ends, the unit stops by itself and ExecStop
# (stop-agent-session.sh) reads the true exit status or signal from the dead pane
# (remain-on-exit) and exits with it, which is what makes the end a unit failure that
# Restart=on-failure and StartLimitBurst= act on. A deliberate stop finds the runtime alive,
# kills its session and exits 0; systemd never restarts a unit it was asked to stop.
# No process is added per agent.

# mosaic_cgroup_adopt PID: move PID into this process's own cgroup (the agent unit's): the
# unified (v2) hierarchy, /sys/fs/cgroup or /sys/fs/cgroup/unified (hybrid), and the v1
# name=systemd one when there is one. The user manager is delegated its subtree, so the fleet
# user may write there. Fails when PID is gone or a move is refused.
mosaic_cgroup_adopt() {
  local pid=$1 id ctl path root moved=0
  while IFS=: read -r id ctl path; do
    case "$id:$ctl" in
      0:)
        if [ -e /sys/fs/cgroup/cgroup.controllers ]; then root=/sys/fs/cgroup; else root=/sys/fs/cgroup/unified; fi ;;
      *:name=systemd) root=/sys/fs/cgroup/systemd ;;
      *) continue ;;
    esac
    [ -e "$root$path/cgroup.procs" ] || continue
    { printf '%s\n' "$pid" >"$root$path/cgroup.procs"; } 2>/dev/null || return 1
    moved=1
  done </proc/self/cgroup
  [ "$moved" = 1 ]
}

# mosaic_pid_running PID: the process exists and is not a zombie.
mosaic_pid_running() {
  local stat state
  [[ ${1-} =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  state=${stat##*) }
  [ "${state%% *}" != Z ]
}

# mosaic_pane_end NAME: wait (up to MOSAIC_EXIT_WAIT seconds, default 5) until tmux has reaped
# the pane of session NAME and print "<status>:<signal>" (one of them set; both empty when tmux
# never told). Returns 1 when the session is gone, 2 when the pane is still alive after the wait.
mosaic_pane_end() {
  local target="=$1" line tries
  tries=$(( ${MOSAIC_EXIT_WAIT:-5} * 20 ))
  while :; do
    line=$(mosaic_tmux list-panes -t "${target}:" -F '#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}:#{pid}' 2>/dev/null) \
      || return 1
    line=${line%%$'\n'*}
    server=${line##*:}
    line=${line%:*}
    # Dead (its pty closed) and reaped (status or signal known): tmux may see the first before
    # the second.
    if [ "${line%%:*}" = 1 ] && [ "${line#*:}" != : ]; then
      printf '%s\n' "${line#*:}"
      return 0
    fi
    # tmux < 3.5 loses a SIGCHLD that arrives while libutempter's handler is in (it is, around
    # the pty's end): the pane stays a zombie with no status and pane-died never fires. Another
    # SIGCHLD makes the server reap it (tmux/tmux#311).
    if [[ $server =~ ^[0-9]+$ ]]; then
      kill -CHLD "$server" 2>/dev/null || true
    fi
    tries=$((tries - 1))
    if [ "$tries" -le 0 ]; then
      [ "${line%%:*}" = 1 ] || return 2
      printf ':\n'
      return 0
    fi
    sleep 0.05
  done
}

# mosaic_record_exit NAME STATUS SIGNAL: write fleet/run/NAME.exit (atomically), one JSON line
# {"time": <epoch>, "status": <int or null>, "signal": <int or null>}.
mosaic_record_exit() {
  local dir=$MOSAIC_HOME/$MOSAIC_C_RUN_DIR status=${2:-null} signal=${3:-null}
  [[ $status =~ ^[0-9]+$ ]] || status=null
  [[ $signal =~ ^[0-9]+$ ]] || signal=null
  mkdir -p -- "$dir" || return 0
  printf '{"time": %s, "status": %s, "signal": %s}\n' "$(date +%s)" "$status" "$signal" \
    >"$dir/.$1$MOSAIC_C_EXIT_SUFFIX.$$" && mv -f -- "$dir/.$1$MOSAIC_C_EXIT_SUFFIX.$$" "$dir/$1$MOSAIC_C_EXIT_SUFFIX"
}

# mosaic_exit_code STATUS SIGNAL: the code a unit's ExecStop exits with for that end: the
# runtime's own status, 128+SIGNAL for a signal (as a shell reports it), 0 for a clean exit.
mosaic_exit_code() {
  if [[ ${2-} =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ]; then
    echo $((128 + $2))
  elif [[ ${1-} =~ ^[0-9]+$ ]]; then
    echo $(($1 > 255 ? 255 : $1))
  else
    echo 0
  fi
}

# mosaic_describe_end STATUS SIGNAL: "exited with status N" / "was killed by signal N".
mosaic_describe_end() {
  if [[ ${2-} =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ]; then
    echo "was killed by signal $2"
  else
    echo "exited with status ${1:-unknown}"
  fi
}

# mosaic_restart_spacing RUNTIME SECONDS: the fleet-wide restart spacing. Restarts of agents of
# one runtime on this host are at least SECONDS apart (concurrent restarts of Claude agents race
# on the OAuth refresh token): wait, holding fleet/run/locks/restart.RUNTIME.lock, until SECONDS
# after the last one (restart.RUNTIME.last), then stamp this one. 0 or no flock: no wait.
mosaic_restart_spacing() {
  local runtime=$1 spacing=${2:-0} dir=$MOSAIC_HOME/$MOSAIC_C_LOCK_DIR last now wait fd
  [[ $spacing =~ ^[0-9]+$ ]] && [ "$spacing" -gt 0 ] || return 0
  mosaic_valid_name "$runtime" || return 0
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p -- "$dir" || return 0
  exec {fd}>"$dir/restart.${runtime}.lock" || return 0
  flock "$fd" || { exec {fd}>&-; return 0; }
  last=$(cat -- "$dir/restart.${runtime}.last" 2>/dev/null || true)
  [[ $last =~ ^[0-9]+$ ]] || last=0
  now=$(date +%s)
  wait=$((last + spacing - now))
  if [ "$wait" -gt 0 ]; then
    echo "restart spacing: another ${runtime} agent restarted ${spacing}s ago or less; waiting ${wait}s"
    sleep "$wait"
  fi
  date +%s >"$dir/restart.${runtime}.last" || true
  exec {fd}>&-
}

# mosaic_restart_backoff NAME: the restart backoff of agent NAME, whose session (with the dead
# pane) is still there: prints "WAIT DELAY STEP" from tools/fleet/restart-backoff (the roster's
# policy; supervision.restart_backoff), given the session's creation as the run's start, and
# records the step. "0 0 0" when it cannot tell.
mosaic_restart_backoff() {
  local started out
  started=$(mosaic_tmux display-message -p -t "=${1}:" '#{session_created}' 2>/dev/null || true)
  [[ $started =~ ^[0-9]+$ ]] || started=0
  out=$(python3 -I -S "$MOSAIC_HOME/$MOSAIC_C_TOOLS_DIR/restart-backoff" "$1" "$started" 2>/dev/null || true)
  [[ $out =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]] || out="0 0 0"
  printf '%s\n' "$out"
}

# mosaic_forget_backoff NAME: a deliberate start: the next restart starts from restart_delay.
mosaic_forget_backoff() {
  rm -f -- "$MOSAIC_HOME/$MOSAIC_C_RUN_DIR/${1}${MOSAIC_C_BACKOFF_SUFFIX}"
}

# mosaic_unit_restarted: whether systemd restarted the agent's unit (MOSAIC_AGENT_UNIT) for this
# start: its NRestarts is above 0 (systemd flushes it to 0 on a start that is not its own
# restart, and reset-failed clears it). Not under a unit, or systemctl unanswered: no.
mosaic_unit_restarted() {
  local n
  [ -n "${MOSAIC_AGENT_UNIT:-}" ] || return 1
  n=$(systemctl --user show -p NRestarts --value -- "$MOSAIC_AGENT_UNIT" 2>/dev/null || true)
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ]
}
