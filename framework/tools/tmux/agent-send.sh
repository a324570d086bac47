#!/bin/bash
# shellcheck disable=SC2154  # the evidence helpers assign their results through printf -v
# agent-send.sh - deliver one message into a fleet agent's tmux pane: literally, serialized, verified.
#
# Usage:
#   agent-send.sh [-L socket] [-H user@host] [-S source] -s session (-m message | -m -)
#                 [--verify | --no-verify] [--timeout seconds] [--json] [--dry-run]
#
#   -s session    the destination agent: its tmux session name, a valid agent name (matched
#                 exactly, never by prefix)
#   -m message    the message text; "-m -" reads it from stdin. Trailing whitespace (and
#                 newlines) is dropped, everything else (newlines, quotes, $(...), `tmux #{formats}`, key names such as
#                 C-c or Enter, escapes) is delivered literally, never interpreted.
#   -L socket     tmux socket name (tmux -L). Without -L: the destination agent's own socket from
#                 $MOSAIC_HOME/fleet/agents/<session>.env when that file exists, else
#                 $MOSAIC_TMUX_SOCKET; empty means the default tmux socket (no -L).
#   -H user@host  the agent runs on another host: run agent-send.sh there over ssh (BatchMode, a
#                 connect timeout) as ~/.config/mosaic/tools/tmux/agent-send.sh, with the message
#                 on stdin (never on the remote command line).
#   -S source     the sender's name in the preamble. Default: $MOSAIC_AGENT_NAME, else the
#                 caller's tmux session, else "operator".
#   --verify      (default) wait for evidence that THIS message was submitted: after the paste the
#                 message's tail (or a TUI paste placeholder such as "[Pasted text #1 +9 lines]")
#                 stands at the input cursor, and after Enter it has left the cursor line and
#                 appears once more in the transcript above it.
#                 An Enter the program swallowed (the message still in its input box after
#                 max(1 s, 3 x the Enter delay)) is pressed once more.
#   --no-verify   paste and press Enter only; the outcome is then "unconfirmed".
#   --timeout s   seconds to wait for the pane's send lock, then again for a blank pane to draw
#                 (see below), and then again for the evidence of delivery (with -H: ssh connect
#                 at most 10 s, plus the remote's timeouts); default 10.
#   --json        print one JSON object: outcome, preamble, bytes, elapsed_ms, target, host,
#                 socket, evidence, reason.
#   --dry-run     send nothing: resolve the send and print it as one JSON object (always JSON),
#                 then exit 0 (2 for bad arguments, as above). outcome "would_send", preamble,
#                 bytes, target, host (dst_host), socket, src_host, source, remote (the -H
#                 destination, or ""), env_file (the destination's env file it read, or ""),
#                 relay (with -H: the ssh command line that would run, as a list; else null).
#                 With -H the destination resolves its socket and host itself: socket is the -L
#                 value or null, and host is the -H host part its env file may replace. Nothing
#                 is locked, written or logged; neither tmux nor ssh runs, so a missing session
#                 is not detected.
#
# The message arrives as "[<src_host>:<src_session> -> <dst_host>:<dst_session>] <text>", pasted
# from a uniquely named tmux buffer with bracketed paste (line feeds kept), then Enter as a
# separate key MOSAIC_SEND_ENTER_DELAY seconds after the paste (default 0.3: TUIs that detect
# pastes swallow an Enter that arrives with the paste), pressed by the tmux server on a timer
# set with the paste (so it comes even if this sender dies). Nothing is pasted into a pane whose
# screen is still blank: its program (a runtime still starting) has not drawn its input yet and
# would drop or merely echo the paste; the send waits for the screen to show something and hold
# still for 0.5 s (within --timeout, else not_delivered). Sends to one pane are serialized
# by a lock under $MOSAIC_HOME/fleet/run/locks. Every send appends an audit line (time, outcome,
# source, destination, bytes, sha256 of the delivered text, elapsed) to
# $MOSAIC_HOME/fleet/log/send.log.
#
# The preamble's hosts are the fleet's (inventory) host names, as the Fleet Comms sheets name
# agents: src_host is $MOSAIC_AGENT_HOST when set (an agent's pane has it), else the short
# hostname; dst_host is MOSAIC_AGENT_HOST from the destination's env file
# $MOSAIC_HOME/fleet/agents/<session>.env on the host that delivers, else the -H destination's
# host part, else the short hostname. With -H the sending side passes both on (--src-host and the
# fallback --dst-host) and the remote side builds the preamble.
#
# Outcomes and exit codes:
#   0  delivered      evidence that this message was submitted
#   2  usage          bad arguments; nothing was sent
#   3  unconfirmed    sent, but the evidence is incomplete (or --no-verify; or the pane's terminal
#                     echoes input itself, so no program is proven to have read it)
#   4  not_delivered  nothing was submitted: dead pane, paste failed, lock timeout, a pane still
#                     blank at the timeout, ssh failure
#   5  no_session     no such session (or no tmux server) on the destination
#
# Environment: MOSAIC_HOME (default ~/.config/mosaic), MOSAIC_TMUX_SOCKET, MOSAIC_AGENT_NAME,
# MOSAIC_SEND_ENTER_DELAY (seconds, default 0.3), MOSAIC_SEND_REMOTE_TOOL (path of agent-send.sh
# on the remote host, default ~/.config/mosaic/tools/tmux/agent-send.sh), MOSAIC_SEND_SSH_OPTIONS
# (extra ssh options, split on spaces).
set -u -o pipefail
# This file is the command: arguments, the preamble, the lock, the paste, the verdict and its
# audit line. Beside it, sourced when needed: send-relay.sh (-H: the send made by the
# destination host's agent-send.sh over ssh) and send-evidence.sh (what the screen shows after
# the paste and after Enter). ../fleet/lib.sh brings the name rule, the env file reader, the
# socket rule (mosaic_tmux) and the contract's paths (contract.sh).

PROG=agent-send.sh
SELF=${BASH_SOURCE[0]}
[[ -L $SELF ]] && SELF=$(readlink -f "$SELF")
[[ $SELF == */* ]] || SELF=./$SELF
HERE=${SELF%/*}
# shellcheck source=../fleet/lib.sh
. "$HERE/../fleet/lib.sh" || exit 4  # not_delivered; the exit codes are the contract's, from lib.sh
# What this creates (the audit log and its directory, locks, the text handed to tmux) is the
# fleet user's alone, whichever way the send ends.
umask 077
ENTER_DELAY=${MOSAIC_SEND_ENTER_DELAY:-0.3}
POLL_US=10000
FAST_POLL_US=2000  # between looks in the first FAST_SPAN_US after Enter (a program's answer to
FAST_SPAN_US=60000  # Enter usually lands within milliseconds); later looks wait POLL_US
LOOK_LEAD_US=1000  # the first look after Enter starts this early (see there)
SOCKET_RE='^([A-Za-z0-9_][A-Za-z0-9_.-]*)?$'  # empty: the default socket
SOURCE_RE='^[A-Za-z0-9_][A-Za-z0-9_.@-]*$'
HOST_RE='^[A-Za-z0-9_][A-Za-z0-9_.-]*$'

usage() { sed -n '3,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$SELF"; }
usage_error() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  printf 'usage: %s [-L socket] [-H user@host] [-S source] -s session (-m message | -m -) [--verify|--no-verify] [--timeout s] [--json] [--dry-run]\n' "$PROG" >&2
  exit "$MOSAIC_C_SEND_EXIT_USAGE"
}

now_us() { local _us=${EPOCHREALTIME/./}; printf -v "$1" "%s" "$((10#$_us))"; }
to_us() {  # to_us SECONDS VAR: "2.5" -> 2500000 (the caller has checked the format)
  local _int=${1%%.*} _frac=
  [[ $1 == *.* ]] && _frac=${1#*.}
  _frac=${_frac}000000
  printf -v "$2" '%s' "$((10#$_int * 1000000 + 10#${_frac:0:6}))"
}
# A sleep without a process per call: read with a timeout from a pipe nobody writes to (opened
# on first use, which falls inside the Enter delay).
nap_fd=""
nap() {  # nap MICROSECONDS
  local frac
  [[ -n $nap_fd ]] || exec {nap_fd}<> <(:)
  printf -v frac '%06d' $(($1 % 1000000))
  read -r -t "$(($1 / 1000000)).$frac" -u "$nap_fd" _ || :
}

byte_length() { local LC_ALL=C; printf -v "$2" '%s' "${#1}"; }

json_str() {  # JSON string literal of $1 into the variable named $2
  local s=$1 out="" c i
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}
  if [[ $s == *[$'\x01'-$'\x1f']* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c == [$'\x01'-$'\x1f'] ]]; then printf -v c '\\u%04x' "'$c"; fi
      out+=$c
    done
    s=$out
  fi
  printf -v "$2" '"%s"' "$s"
}

# ---------------------------------------------------------------- arguments
socket="" socket_given=0 remote="" source="" session="" message="" have_message=0
verify=1 timeout=10 json=0 dry_run=0 src_host="" dst_hint=""
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --verify) verify=1; shift; continue ;;
    --no-verify) verify=0; shift; continue ;;
    --json) json=1; shift; continue ;;
    --dry-run) dry_run=1; shift; continue ;;
    -L | -H | -S | -s | -m | --timeout | --src-host | --dst-host)
      (($# >= 2)) || usage_error "$1 needs a value" ;;
    --timeout=*) set -- --timeout "${1#*=}" "${@:2}"; continue ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  case $1 in
    -L) socket=$2; socket_given=1 ;;
    -H) remote=$2 ;;
    -S) source=$2 ;;
    -s) session=$2 ;;
    -m) message=$2; have_message=1 ;;
    --timeout) timeout=$2 ;;
    --src-host) src_host=$2 ;;  # set by the sending host when it relays a send with -H
    --dst-host) dst_hint=$2 ;;  # likewise: the -H destination's host part (fallback dst_host)
  esac
  shift 2
done

[[ -n $session ]] || usage_error "-s session is required"
mosaic_valid_name "$session" || usage_error "invalid session name: $session"  # lib.sh: THE name rule
((have_message)) || usage_error "-m message (or -m - for stdin) is required"
[[ $socket =~ $SOCKET_RE ]] || usage_error "invalid socket name: $socket"
[[ -z $remote || $remote =~ ^([A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9_][A-Za-z0-9_.:-]*$ ]] ||
  usage_error "invalid -H destination: $remote (expected user@host)"
[[ -z $source || $source =~ $SOURCE_RE ]] || usage_error "invalid source name: $source"
[[ -z $src_host || $src_host =~ $HOST_RE ]] || usage_error "invalid source host: $src_host"
[[ -z $dst_hint || $dst_hint =~ $HOST_RE ]] || usage_error "invalid destination host: $dst_hint"
if [[ ! $timeout =~ ^[0-9]+(\.[0-9]+)?$ || $timeout =~ ^0+(\.0+)?$ ]]; then
  usage_error "--timeout must be a positive number of seconds"
fi
[[ $ENTER_DELAY =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "MOSAIC_SEND_ENTER_DELAY must be a number of seconds"

if [[ $message == - ]]; then
  # $(<) reopens /dev/stdin: a user switched to with runuser may not reopen its caller's pipe
  # (root's), and a socket cannot be reopened at all. Then the open stdin itself is read.
  { message=$(</dev/stdin); } 2>/dev/null || message=$(cat)
fi
# Trailing whitespace carries nothing and would hide the message's tail from the evidence check.
while [[ -n $message && ${message: -1} == [[:space:]] ]]; do message=${message%?}; done
[[ -n $message ]] || usage_error "the message is empty"

now_us t_start
to_us "$timeout" timeout_us

if [[ -z $source ]]; then
  source=${MOSAIC_AGENT_NAME:-}
  if [[ -z $source && -n ${TMUX:-} ]]; then source=$(tmux display-message -p '#S' 2>/dev/null) || source=""; fi
  [[ $source =~ $SOURCE_RE ]] || source=operator
fi
# From here on "no socket" means the default socket, not the server of the pane we run in.
unset TMUX
local_host=${HOSTNAME%%.*}  # what `hostname -s` prints, without a process
if [[ -z $src_host ]]; then
  src_host=${MOSAIC_AGENT_HOST:-}
  [[ $src_host =~ $HOST_RE ]] || src_host=$local_host
fi

# ---------------------------------------------------------------- result, audit, exit
outcome="" reason="" evidence="" preamble="" dst_host="" bytes=0 err_file="" buffer="" env_file=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  [[ -n $buffer ]] && mosaic_tmux delete-buffer -b "$buffer" >/dev/null 2>&1
  [[ -n $err_file ]] && rm -f -- "$err_file"
}
trap cleanup EXIT

digest=""
audit() {  # one line per send in the sender-side fleet user's log
  local log=$MOSAIC_HOME/$MOSAIC_C_SEND_LOG
  [[ -n $digest ]] || digest=$(printf '%s%s' "$preamble" "$message" | sha256sum)
  [[ -d ${log%/*} ]] || mkdir -p -- "${log%/*}" 2>/dev/null
  printf '%(%Y-%m-%dT%H:%M:%S%z)T outcome=%s src=%s:%s dst=%s:%s bytes=%s sha256=%s elapsed_ms=%s\n' \
      -1 "$outcome" "$src_host" "$source" "$1" "$session" "$bytes" "${digest%% *}" "$elapsed_ms" \
      >>"$log" 2>/dev/null
}

finish() {  # finish OUTCOME [REASON]: audit, report, exit with the outcome's code
  outcome=$1 reason=${2:-}
  local t_end rc j_out j_pre j_host j_reason j_socket
  now_us t_end
  elapsed_ms=$(((t_end - t_start) / 1000))
  case $outcome in  # the outcome's exit code (contract.sh); an unknown one is not_delivered
    delivered) rc=$MOSAIC_C_SEND_EXIT_DELIVERED ;; unconfirmed) rc=$MOSAIC_C_SEND_EXIT_UNCONFIRMED ;;
    no_session) rc=$MOSAIC_C_SEND_EXIT_NO_SESSION ;; *) rc=$MOSAIC_C_SEND_EXIT_NOT_DELIVERED ;;
  esac
  audit "${remote:-$dst_host}"
  if ((json)); then
    json_str "$outcome" j_out; json_str "$preamble" j_pre; json_str "$dst_host" j_host
    json_str "$reason" j_reason; json_str "$socket" j_socket
    printf '{"outcome": %s, "preamble": %s, "bytes": %s, "elapsed_ms": %s, "target": "%s", "host": %s, "socket": %s, "evidence": "%s", "reason": %s}\n' \
      "$j_out" "$j_pre" "$bytes" "$elapsed_ms" "$session" "$j_host" "$j_socket" "$evidence" "$j_reason"
  else
    printf '%s %s:%s (%s bytes, %s ms)%s\n' "$outcome" "$dst_host" "$session" "$bytes" "$elapsed_ms" \
      "${reason:+: $reason}"
  fi
  exit "$rc"
}

dry_run_report() {  # dry_run_report RELAY: --dry-run's JSON (RELAY: a JSON list, or null), exit 0
  local j_pre j_host j_socket=null j_src j_source j_remote j_env
  json_str "$preamble" j_pre; json_str "$dst_host" j_host; json_str "$src_host" j_src
  json_str "$source" j_source; json_str "$remote" j_remote; json_str "$env_file" j_env
  # With -H and no -L the destination host picks the socket: null.
  if [[ -z $remote ]] || ((socket_given)); then json_str "$socket" j_socket; fi
  printf '{"outcome": "%s", "preamble": %s, "bytes": %s, "target": "%s", "host": %s, "socket": %s, "src_host": %s, "source": %s, "remote": %s, "env_file": %s, "relay": %s}\n' \
    "$MOSAIC_C_SEND_DRY_RUN_OUTCOME" "$j_pre" "$bytes" "$session" "$j_host" "$j_socket" "$j_src" "$j_source" \
    "$j_remote" "$j_env" "$1"
  exit 0
}

# ---------------------------------------------------------------- remote: run there over ssh
if [[ -n $remote ]]; then
  # shellcheck source=send-relay.sh
  . "$HERE/send-relay.sh" || finish not_delivered "cannot read $HERE/send-relay.sh"
  relay_prepare
  if ((dry_run)); then
    relay_json=""
    for a in "${relay_argv[@]}"; do json_str "$a" a; relay_json+=${relay_json:+, }$a; done
    dry_run_report "[$relay_json]"
  fi
  relay_send
fi

# ---------------------------------------------------------------- local delivery
# The destination's env file names its socket (unless -L) and its fleet host name. It is read
# by lib.sh in a subshell, so its other variables stay out of this send; only plain-character
# values are taken.
((socket_given)) || socket=${MOSAIC_TMUX_SOCKET:-}
mosaic_agent_env_file "$session" env_file
if [[ -r $env_file ]]; then
  env_values=$(
    unset MOSAIC_TMUX_SOCKET MOSAIC_AGENT_HOST
    mosaic_source_env "$env_file" </dev/null >/dev/null 2>&1
    s=${MOSAIC_TMUX_SOCKET-} h=${MOSAIC_AGENT_HOST-}
    # S[=socket] when the file sets the socket, then H<host>; a line feed would end a value
    printf 'S%s%s\nH%s' "${MOSAIC_TMUX_SOCKET+=}" "${s//$'\n'/ }" "${h//$'\n'/ }"
  )
  env_socket=${env_values%%$'\n'*} env_host=${env_values#*$'\n'H}
  if ((!socket_given)) && [[ $env_socket == S=* ]]; then
    [[ ${env_socket#S=} =~ $SOCKET_RE ]] && socket=${env_socket#S=}
  fi
  [[ $env_host =~ $HOST_RE ]] && dst_host=$env_host
else
  env_file=""
fi
export MOSAIC_TMUX_SOCKET=$socket
[[ -n $dst_host ]] || dst_host=${dst_hint:-$local_host}
preamble="[$src_host:$source -> $dst_host:$session] "
text="$preamble$message"
byte_length "$text" bytes
((dry_run)) && dry_run_report null

lock_dir=$MOSAIC_HOME/$MOSAIC_C_LOCK_DIR
[[ -d $lock_dir ]] || mkdir -p -- "$lock_dir" 2>/dev/null || lock_dir=${TMPDIR:-/tmp}
exec {lock_fd}>>"$lock_dir/send.${socket:-default}.$session.lock" ||
  finish not_delivered "cannot open the send lock in $lock_dir"
# flock takes the lock on our descriptor in the background while the helpers below are set up;
# nothing touches the pane before we have waited for it.
flock -w "$timeout" "$lock_fd" &
lock_pid=$!

# shellcheck source=send-evidence.sh
. "$HERE/send-evidence.sh" || finish not_delivered "cannot read $HERE/send-evidence.sh"
evidence_probe "$text"

# One tmux call loads the message into a uniquely named buffer, reads the pane's state and the
# baseline screen (captured down to the cursor row: run-shell -C expands #{cursor_y} when it
# runs, just before the paste, so the baseline is the screen the paste lands on) and pastes, but
# only when tmux finds the pane alive and in no mode. A pane in a mode is taken out of it and
# the call made again (the buffer is loaded only the first time).
# With the paste the same call hands the tmux server the Enter, to press after the Enter delay
# (run-shell -b -d: a timer in the server, so the delay is measured from the paste itself and the
# Enter costs no process of its own). We hold the pane's lock until the Enter has been pressed.
out_file=$lock_dir/send.${socket:-default}.$session.out  # tmux's output; we hold the lock
buffer="mosaic-send-$$-$RANDOM$RANDOM"
marker="$buffer pasted"
target="=$session:"
# The Enter's command is expanded (#{pane_id}) when run-shell starts the timer, at the paste.
enter_later="run-shell -b -d $ENTER_DELAY -t $target -C 'send-keys -t #{pane_id} Enter'"
paste_cmd="paste-buffer -p -r -d -b $buffer -t $target ; $enter_later ; display-message -p '$marker'"
ready='#{&&:#{==:#{pane_dead},0},#{==:#{pane_in_mode},0}}'
state=(display-message -p -t "$target" '#{pane_id} #{pane_dead} #{pane_tty}' \;
  run-shell -C -t "$target" "capture-pane -p -J -t $target -S 0 -E #{cursor_y}" \;
  if-shell -F -t "$target" "$ready" "$paste_cmd")
# The text goes to tmux through a file only the fleet user can read (umask 077 above; written by
# a builtin, no process): never on a command line, which other users could read in /proc.
text_file=$lock_dir/send.${socket:-default}.$session.text
# A pane whose screen is still blank has no program reading it yet: a runtime that is still
# starting (opencode loads its plugins, and beats, seconds before its TUI draws; more on a busy
# host or a first run) or whose terminal is not yet in raw mode drops or merely echoes a paste.
# Nothing is pasted before the screen shows something; a screen that had to be waited for must
# then hold still for DRAWN_SETTLE_US (a TUI draws its first frames in pieces). A drawn screen
# costs one look and no wait.
DRAWN_SETTLE_US=500000
pane_drawn() {
  local screen="" last="" since=0 t waited=0
  while :; do
    # a missing session or a dead pane: the paste call reports it
    mosaic_tmux display-message -p -t "$target" '#{pane_dead}' \; capture-pane -p -t "$target" \
      >"$out_file" 2>/dev/null || return 0
    IFS= read -r -d '' screen <"$out_file"
    [[ $screen == 0$'\n'* ]] || return 0
    screen=${screen#0}
    now_us t
    if [[ $screen == *[![:space:]]* ]]; then
      ((waited)) || return 0
      if [[ $screen != "$last" ]]; then last=$screen since=$t; fi
      ((t - since >= DRAWN_SETTLE_US || t >= gate_deadline)) && return 0
    elif ((t >= gate_deadline)); then
      return 1
    fi
    waited=1
    nap "$POLL_US"
  done
}
wait "$lock_pid" || finish not_delivered "other sends to $session held its lock for ${timeout}s"
# Waiting for the lock does not eat into the time the delivery itself may take.
now_us t
deadline=$((t + timeout_us))
# Like the lock, waiting for the screen does not eat into the time the delivery may take.
gate_deadline=$deadline
pane_drawn || finish not_delivered "$session shows nothing yet (its program has not drawn its screen within ${timeout}s); nothing was sent"
now_us t
deadline=$((t + timeout_us))
printf '%s' "$text" >"$text_file" || finish not_delivered "cannot write $text_file"
load=(load-buffer -b "$buffer" "$text_file" \;)
pasted_now=0
for _ in 1 2 3 4; do
  mosaic_tmux "${load[@]}" "${state[@]}" >"$out_file" 2>&1
  rc=$?
  now_us t_paste
  ((${#load[@]})) && : >"$text_file"
  load=()
  if ((rc != 0)); then
    IFS= read -r -d '' out <"$out_file"
    # Each uid has its own tmux server: say whose, so a send to another tenant's agent is plain.
    finish no_session "no session $session on ${socket:-the default socket} of uid $UID: ${out//$'\n'/ }"
  fi
  mapfile -t snap <"$out_file"
  info=${snap[0]:-}
  last=$((${#snap[@]} - 1))
  # shellcheck disable=SC2034  # pane_tty: read by check_tty_echo (send-evidence.sh)
  read -r pane_id pane_dead pane_tty <<<"$info"
  [[ $pane_id == %* ]] || finish no_session "no session $session: $info"
  if ((last >= 2)) && [[ ${snap[last]} == "$marker" ]]; then
    pasted_now=1 buffer=""
    ((last--))
    break
  fi
  ((pane_dead == 0)) || finish not_delivered "the pane of $session is dead (its program exited)"
  # In a mode (copy mode, a chooser): leave it, and the call is made again.
  mosaic_tmux send-keys -X -t "$pane_id" cancel >/dev/null 2>&1
done
((pasted_now)) || finish not_delivered "could not leave the mode the pane of $session is in"
if ((verify)); then
  parse_snapshot base 1 "$last"
  count_recent base
fi

sleep_until() {  # sleep_until EPOCH_US. The kernel may end a sleep late by 0.1% of its length
  # (timer slack): a long sleep stops 2 ms short and the rest is slept separately.
  local t; now_us t
  if (($1 - t > 10000)); then nap $(($1 - t - 2000)); now_us t; fi
  (($1 > t)) && nap $(($1 - t))
  return 0
}
to_us "$ENTER_DELAY" delay_us

# Work that only the verdict needs is done while the Enter delay runs anyway.
digest=$(printf '%s' "$text" | sha256sum)
check_tty_echo
pasted=0
if ((verify)); then
  # Wait for the paste to show; at most half of the time left, never less than the Enter delay.
  now_us t
  paste_deadline=$((t + (deadline - t) / 2))
  ((paste_deadline > t_paste + delay_us)) || paste_deadline=$((t_paste + delay_us))
  while :; do
    pasted_evidence && { pasted=1; break; }
    [[ -n $pane_lost ]] && finish not_delivered "$pane_lost"
    now_us t
    ((t < paste_deadline)) || break
    nap "$POLL_US"
  done
fi
# The server presses Enter at the delay, timed from the paste (before the paste call returned).
# The first look for evidence starts LOOK_LEAD_US early: a tmux call takes longer than that to
# reach the server. (A look that still comes too early sees the message at the cursor and is
# simply followed by another.)
if ((verify && pasted)); then
  sleep_until $((t_paste + delay_us - LOOK_LEAD_US))
else
  # This call, answered after the Enter, tells whether the pane was still there to take it.
  sleep_until $((t_paste + delay_us))
  mosaic_tmux display-message -p -t "$pane_id" '#{pane_dead}' >"$out_file" 2>&1
  IFS= read -r -d '' out <"$out_file"
  [[ $out == 0$'\n' ]] || finish not_delivered "the paste reached $session but its pane was gone at Enter: ${out//$'\n'/ }"
  ((verify)) || finish unconfirmed "sent without verification (--no-verify)"
  finish unconfirmed "the message never showed at the input cursor of $session"
fi
# An Enter that a TUI still counted as part of the paste leaves the message in its input box:
# when it is still there after max(1 s, 3 x delay), Enter is pressed once more (an empty input
# ignores it).
now_us t
fast_until=$((t + FAST_SPAN_US))
retry_at=$((t + (3 * delay_us > 1000000 ? 3 * delay_us : 1000000)))
# shellcheck disable=SC2034  # read by submitted_evidence (send-evidence.sh)
e_cur_probe=0 e_cur_ph=0 e_recent_probe=0 e_recent_ph=0
while :; do
  if submitted_evidence; then
    ((tty_echoes)) && finish unconfirmed "the terminal of $session echoes input itself; no program proved it read the message"
    finish delivered
  fi
  [[ -n $pane_lost ]] && finish not_delivered "the paste reached $session, but then: $pane_lost"
  now_us t
  ((t < deadline)) || break
  if ((retry_at && t >= retry_at)) && ((e_cur_probe > base_cur_probe || e_cur_ph > base_cur_ph)); then
    mosaic_tmux send-keys -t "$pane_id" Enter >/dev/null 2>&1
    retry_at=0
  fi
  if ((t < fast_until)); then nap "$FAST_POLL_US"; else nap "$POLL_US"; fi
done
finish unconfirmed "the message was pasted but did not leave the input area of $session within ${timeout}s"
