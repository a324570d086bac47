#!/usr/bin/env bash
# start-agent-session.sh NAME — start agent NAME's tmux session (idempotent).
#
# Reads $MOSAIC_HOME/fleet/agents/NAME.env (MOSAIC_HOME defaults to ~/.config/mosaic) and starts a
# detached session named NAME on the agent's socket (`-L` only when MOSAIC_TMUX_SOCKET is set).
# The pane runs tools/fleet/launch-agent, which `exec`s the runtime, so the runtime is the pane's
# foreground process. The pane's command carries every MOSAIC_* variable and a PATH whose front
# is the runtime-bin prefix (the pane inherits the tmux server's environment, not ours):
#   $MOSAIC_RUNTIME_BIN (colon-separated), $(npm prefix -g)/bin, ~/.npm-global/bin, ~/.local/bin
# — existing directories only, de-duplicated, kept even when already on PATH.
# remain-on-exit is on for the agent's window: a crashed runtime leaves a dead pane to look at.
# A stale heartbeat file is removed first, so a restarted agent is 'unresponsive' until it beats.
# The agent's window has window-size manual (220x50 whoever attaches: tools/fleet/watch) and its
# output goes to a bounded transcript, fleet/log/transcripts/NAME.log (MOSAIC_TRANSCRIPT_MAX_BYTES,
# default 1 MiB, 0 = none; one transcript-writer process per agent). Both are (re)applied to an
# agent found already running, so a re-run gives older sessions their transcript.
# Without a unit (tmux mode) the session's pane-died hook runs tools/fleet/agent-died, which
# restarts the agent by the same policy (the roster's supervision); a start that is not such a
# restart (MOSAIC_RESTARTING unset) clears the crash-loop guard's and the backoff's records.
# Under its systemd unit (MOSAIC_AGENT_UNIT set by mosaic-agent@.service) the pane's process is
# moved into the unit's cgroup and its pid written to fleet/run/NAME.pid, the unit's PIDFile=, so
# the unit follows the runtime's life (supervision.sh); an agent found running is adopted the
# same way. A runtime that ends before it is adopted is recorded (fleet/run/NAME.exit) and
# exits 6. A start that systemd made as a restart (NRestarts > 0) finding the dead pane waits out
# the rest of the restart backoff (tools/fleet/restart-backoff) first; any other start under the
# unit is deliberate and resets the backoff (fleet/run/NAME.backoff). The unit's NOTIFY_SOCKET
# reaches the pane as MOSAIC_NOTIFY_SOCKET (the heartbeat sends WATCHDOG=1 there: hang restarts,
# WatchdogSec=), and its drop-in's MOSAIC_WATCHDOG_SEC (its WatchdogSec=, 0 = none) as itself (the
# pi and opencode plugins feed the watchdog only then).
#
# Exit codes:
#   0  started, or already running ("already running"); a session whose pane is dead is replaced
#   2  usage error or invalid agent name
#   3  the agent's env file is missing or unreadable
#   4  tmux failed, or the session is not there afterwards
#   5  the working directory cannot be created
#   6  (under the unit) the runtime ended at once, or its process could not be adopted
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=supervision.sh
. "$here/supervision.sh"

mosaic_agent_args "$@"
name=$MOSAIC_AGENT_ARG_NAME
env_file=$MOSAIC_AGENT_ARG_ENV
[ -r "$env_file" ] || mosaic_die 3 "no env file for agent '${name}': ${env_file}"
# Only the agent's own env here: secrets (credentials/fleet.env) are loaded by launch-agent inside
# the pane, so they never appear in a command line.
mosaic_source_env "$env_file"

history_limit=${MOSAIC_HISTORY_LIMIT:-50000}
target="=${name}"

# The transcript: the pane's output, piped (`pipe-pane`, when the pane has no pipe yet) into
# transcript-writer, which keeps at most $transcript_max bytes in fleet/log/transcripts/NAME.log
# plus one rotated NAME.log.1 (0700 directory, 0600 files). 0 turns transcripts off.
transcript_max=${MOSAIC_TRANSCRIPT_MAX_BYTES:-$MOSAIC_C_TRANSCRIPT_MAX_BYTES}
[[ $transcript_max =~ ^[0-9]+$ ]] || mosaic_die 2 "MOSAIC_TRANSCRIPT_MAX_BYTES is not a number of bytes: '${transcript_max}'"
transcript_setup=()
if [ "$transcript_max" -gt 0 ]; then
  transcript_dir=$MOSAIC_HOME/$MOSAIC_C_TRANSCRIPT_DIR
  if ! { mkdir -p -- "$transcript_dir" && chmod 700 -- "$transcript_dir"; }; then
    mosaic_die 4 "cannot create the transcript directory: ${transcript_dir}"
  fi
  # pipe-pane runs a shell command (sh -c) that tmux format-expands: every word is quoted for
  # sh and each '#' doubled.
  # python3 -I -S: the writer needs no site packages (about 9 MB resident, 3 MB of it its own).
  python_bin=$(command -v python3) || mosaic_die 4 "python3 not found: it runs the transcript writer"
  python_q='' writer_q='' transcript_q=''
  mosaic_sh_quote "$python_bin" python_q
  mosaic_sh_quote "$MOSAIC_HOME/$MOSAIC_C_TOOLS_DIR/transcript-writer" writer_q
  mosaic_sh_quote "$transcript_dir/${name}${MOSAIC_C_TRANSCRIPT_SUFFIX}" transcript_q
  pipe_cmd="exec ${python_q} -I -S ${writer_q} ${transcript_max} ${transcript_q}"
  # No -o: `pipe-pane -o` on a piped pane closes the pipe (a toggle). Without it a second pipe
  # replaces the first, so there is never more than one writer.
  # The pane's pid (a format tmux expands): the writer nudges tmux when it ends (see transcript-writer).
  transcript_setup=(pipe-pane -t "${target}:" "${pipe_cmd//#/##} #{pane_pid}")
fi
# What every running agent's window has: no client resizes it (tools/fleet/watch attaches
# viewers that must not), and its transcript.
window_setup=(set-option -w -t "${target}:" window-size manual)

# Without a unit (tmux mode): the pane-died hook (remain-on-exit is on) runs agent-died with the
# runtime's status and signal, in the background (run-shell -b), which restarts it by the policy.
# A tmux command string in double quotes: '\', '"' and '$' escaped, '#' doubled (run-shell expands
# formats) except in the two formats it is given.
hook_setup=()
if [ -z "${MOSAIC_AGENT_UNIT:-}" ]; then
  home_q='' died_q=''
  mosaic_sh_quote "$MOSAIC_HOME" home_q
  mosaic_sh_quote "$MOSAIC_HOME/$MOSAIC_C_TOOLS_DIR/agent-died" died_q
  died_cmd="MOSAIC_HOME=${home_q} exec ${died_q} ${name}"
  died_cmd=${died_cmd//#/##}
  died_cmd="${died_cmd} '#{pane_dead_status}' '#{pane_dead_signal}'"
  died_cmd=${died_cmd//\\/\\\\}
  died_cmd=${died_cmd//\"/\\\"}
  died_cmd=${died_cmd//\$/\\\$}
  hook_setup=(set-hook -t "${target}:" pane-died "run-shell -b \"${died_cmd}\"")
  if [ -z "${MOSAIC_RESTARTING:-}" ]; then
    rm -f -- "$MOSAIC_HOME/$MOSAIC_C_RUN_DIR/${name}${MOSAIC_C_CRASHLOOP_SUFFIX}" \
      "$MOSAIC_HOME/$MOSAIC_C_RUN_DIR/${name}${MOSAIC_C_RESTARTS_SUFFIX}"
    mosaic_forget_backoff "$name"
  fi
fi

# Under the agent's unit: make the pane's process the unit's main process (see supervision.sh).
pid_file=$MOSAIC_HOME/$MOSAIC_C_RUN_DIR/${name}${MOSAIC_C_PID_SUFFIX}
adopt_pane() {
  [ -n "${MOSAIC_AGENT_UNIT:-}" ] || return 0
  local pid end
  pid=$(mosaic_tmux display-message -p -t "${target}:" '#{pane_pid}' 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && mosaic_pid_running "$pid" && mosaic_cgroup_adopt "$pid" \
    && mosaic_pid_running "$pid"; then
    mkdir -p -- "$MOSAIC_HOME/$MOSAIC_C_RUN_DIR"
    printf '%s\n' "$pid" >"$pid_file.$$" && mv -f -- "$pid_file.$$" "$pid_file"
    return 0
  fi
  rm -f -- "$pid_file"
  if end=$(mosaic_pane_end "$name"); then
    mosaic_record_exit "$name" "${end%%:*}" "${end#*:}"
    mosaic_die 6 "the runtime of agent '${name}' $(mosaic_describe_end "${end%%:*}" "${end#*:}") as it started"
  fi
  mosaic_die 6 "cannot move the runtime of agent '${name}' (pid ${pid:-none}) into ${MOSAIC_AGENT_UNIT}'s cgroup"
}

if mosaic_tmux has-session -t "$target" 2>/dev/null; then
  dead=$(mosaic_tmux list-panes -t "$target" -F '#{pane_dead}' 2>/dev/null || true)
  if [[ $dead != *1* ]]; then
    mosaic_tmux "${window_setup[@]}" >/dev/null 2>&1 || true
    piped=$(mosaic_tmux display-message -p -t "${target}:" '#{pane_pipe}' 2>/dev/null || true)
    if [ ${#transcript_setup[@]} -gt 0 ] && [ "$piped" = 0 ]; then
      mosaic_tmux "${transcript_setup[@]}" >/dev/null 2>&1 || true
    fi
    if [ ${#hook_setup[@]} -gt 0 ]; then
      mosaic_tmux "${hook_setup[@]}" >/dev/null 2>&1 || true
    fi
    adopt_pane
    echo "${name}: already running"
    exit 0
  fi
  echo "${name}: session exists with a dead pane; replacing it"
  # Under the unit a dead pane is what the runtime's own end left (a deliberate stop kills the
  # session). When systemd restarted the unit, this start first waits out the rest of the
  # restart backoff (systemd waited RestartSec=, the first delay), the dead pane still there to
  # look at, and is spaced from other restarts of the same runtime here. A deliberate start (the
  # operator's, the playbook's after reset-failed) waits for neither and resets the backoff.
  if mosaic_unit_restarted; then
    read -r wait delay step < <(mosaic_restart_backoff "$name")
    if [ "$wait" -gt 0 ]; then
      echo "${name}: restart backoff (step ${step}): ${delay}s after the end; waiting ${wait}s more"
      sleep "$wait"
    fi
    mosaic_tmux kill-session -t "$target" 2>/dev/null || true
    mosaic_restart_spacing "${MOSAIC_AGENT_RUNTIME:-}" "${MOSAIC_RESTART_SPACING:-0}"
  else
    [ -z "${MOSAIC_AGENT_UNIT:-}" ] || mosaic_forget_backoff "$name"
    mosaic_tmux kill-session -t "$target" 2>/dev/null || true
  fi
elif [ -n "${MOSAIC_AGENT_UNIT:-}" ]; then
  mosaic_forget_backoff "$name"
fi

# Working directory: '~' and '~/x' are the fleet user's home; a relative path is under it.
workdir=$(mosaic_expand_workdir "${MOSAIC_AGENT_WORKDIR:-}")
mkdir -p -- "$workdir" 2>/dev/null || mosaic_die 5 "cannot create working directory: ${workdir}"
[ -d "$workdir" ] || mosaic_die 5 "working directory is not a directory: ${workdir}"

# Runtime-bin PATH prefix.
candidates=()
if [ -n "${MOSAIC_RUNTIME_BIN:-}" ]; then
  IFS=: read -r -a extra <<<"$MOSAIC_RUNTIME_BIN"
  candidates+=("${extra[@]}")
fi
if command -v npm >/dev/null 2>&1; then
  npm_prefix=$(npm prefix -g 2>/dev/null || true)
  [ -n "$npm_prefix" ] && candidates+=("$npm_prefix/bin")
fi
candidates+=("$HOME/.npm-global/bin" "$HOME/.local/bin")
prefix=""
for dir in "${candidates[@]}"; do
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then continue; fi
  case ":$prefix:" in *":$dir:"*) continue ;; esac
  prefix=${prefix:+$prefix:}$dir
done
pane_path=${prefix:+$prefix:}${PATH:-/usr/local/bin:/usr/bin:/bin}

rm -f -- "$MOSAIC_HOME/$MOSAIC_C_RUN_DIR/${name}${MOSAIC_C_HEARTBEAT_SUFFIX}"
mkdir -p -- "$MOSAIC_HOME/$MOSAIC_C_RUN_DIR"

# Every variable the pane needs, explicitly (empty values included, so nothing leaks in from the
# tmux server's own environment): the contract's pane keys. Secrets are not among them.
keys=("${MOSAIC_C_PANE_ENV_KEYS[@]}")
export MOSAIC_AGENT_NAME=$name MOSAIC_AGENT_WORKDIR=$workdir
assign=("MOSAIC_HOME=$MOSAIC_HOME" "PATH=$pane_path" "MOSAIC_NOTIFY_SOCKET=${NOTIFY_SOCKET:-}"
  "MOSAIC_WATCHDOG_SEC=${MOSAIC_WATCHDOG_SEC:-}")
for key in "${keys[@]}"; do
  assign+=("$key=${!key-}")
done

# The pane command is an argv (tmux execs it directly when given several arguments, no shell):
#   env VAR=value... bash launch-agent
# (bash runs the launcher so that a '=' in MOSAIC_HOME cannot make env read its path as a VAR.)
env_bin=$(command -v env)
bash_bin=$(command -v bash)
mosaic_tmux_escape "$env_bin" "${assign[@]}" "$bash_bin" "$MOSAIC_HOME/$MOSAIC_C_TOOLS_DIR/launch-agent"
pane_cmd=("${MOSAIC_TMUX_ARGV[@]}")
mosaic_tmux_escape "${workdir//#/##}"   # -c is format-expanded: '#' is written '##'
start_dir=${MOSAIC_TMUX_ARGV[0]}

# One tmux invocation, so nothing can run between creating the pane and setting remain-on-exit.
# The history limit applies to panes created while it is in force: raise the global value around
# new-session and put the previous one back.
old_limit=$(mosaic_tmux show-options -gv history-limit 2>/dev/null || true)
cmd=(set-option -g history-limit "$history_limit" \;
  new-session -d -s "$name" -x 220 -y 50 -c "$start_dir" -- "${pane_cmd[@]}" \;
  set-option -w -t "${target}:" remain-on-exit on \; "${window_setup[@]}")
if [ ${#transcript_setup[@]} -gt 0 ]; then
  cmd+=(\; "${transcript_setup[@]}")
fi
if [ ${#hook_setup[@]} -gt 0 ]; then
  cmd+=(\; "${hook_setup[@]}")
fi
if [ -n "$old_limit" ]; then
  cmd+=(\; set-option -g history-limit "$old_limit")
fi
if ! mosaic_tmux "${cmd[@]}"; then
  # The list stops at the failing command: put the history limit back ourselves.
  if [ -n "$old_limit" ]; then
    mosaic_tmux set-option -g history-limit "$old_limit" 2>/dev/null || true
  fi
  # Lost a race with another start of the same agent: that one did the job.
  if mosaic_tmux has-session -t "$target" 2>/dev/null; then
    adopt_pane
    echo "${name}: already running"
    exit 0
  fi
  mosaic_die 4 "tmux could not start session '${name}'"
fi
mosaic_tmux has-session -t "$target" 2>/dev/null || mosaic_die 4 "session '${name}' is not running after start"
adopt_pane
echo "${name}: started (socket: ${MOSAIC_TMUX_SOCKET:-default})"
