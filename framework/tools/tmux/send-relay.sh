# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # agent-send.sh's globals: it sources this file
# send-relay.sh - agent-send.sh's -H part, sourced by it (never run directly): the send is made by
# agent-send.sh on the destination host, run over ssh with the message on its stdin.
#
#   relay_prepare   set dst_host (the -H host part: the remote's env file may name another),
#                   preamble and bytes as the sender sees them, and relay_argv: the ssh command
#                   line (what --dry-run shows)
#   relay_send      run relay_argv with the message on stdin, then finish with the remote's
#                   verdict (its JSON report), or not_delivered when ssh or the remote tool failed

relay_prepare() {
  local a cmd args
  # shellcheck disable=SC2088  # the remote shell expands the '~'
  local remote_tool=${MOSAIC_SEND_REMOTE_TOOL:-"~/$MOSAIC_C_DEFAULT_HOME/$MOSAIC_C_SEND_TOOL"}
  dst_host=${remote#*@}
  preamble="[$src_host:$source -> $dst_host:$session] "
  byte_length "$preamble$message" bytes
  args=(--src-host "$src_host" -S "$source" -s "$session" --timeout "$timeout" --json -m -)
  [[ $dst_host =~ $HOST_RE ]] && args+=(--dst-host "$dst_host")
  ((socket_given)) && args+=(-L "$socket")
  ((verify)) || args+=(--no-verify)
  # Every argument is checked against a plain-character pattern and %q-quoted, so the remote
  # shell sees exactly these words; the message itself only travels on stdin.
  cmd=$remote_tool
  for a in "${args[@]}"; do printf -v a '%q' "$a"; cmd+=" $a"; done
  relay_connect=$(((timeout_us + 999999) / 1000000))  # whole seconds, 1 to 10
  ((relay_connect <= 10)) || relay_connect=10
  # shellcheck disable=SC2206  # MOSAIC_SEND_SSH_OPTIONS is a list of words on purpose
  relay_argv=(ssh -o BatchMode=yes -o ConnectTimeout="$relay_connect" ${MOSAIC_SEND_SSH_OPTIONS:-}
    -- "$remote" "$cmd")
}

relay_send() {
  local out rc err remote_outcome
  err_file=$(mktemp "${TMPDIR:-/tmp}/agent-send.XXXXXX") || finish not_delivered "cannot create a temp file"
  # The remote may wait twice the timeout (lock, then evidence); ssh's connect time comes on top.
  out=$(printf '%s' "$message" |
    timeout -k 1 "$((2 * ((timeout_us + 999999) / 1000000) + relay_connect + 5))" "${relay_argv[@]}" \
      2>"$err_file")
  rc=$?
  err=$(tail -n 3 "$err_file"); err=${err//$'\n'/ }
  if [[ $out =~ \"outcome\":\ \"([a-z_]+)\" ]]; then
    remote_outcome=${BASH_REMATCH[1]}
    [[ $out =~ \"preamble\":\ \"([^\"]*)\" ]] && preamble=${BASH_REMATCH[1]}
    [[ $out =~ \"host\":\ \"([^\"]*)\" ]] && dst_host=${BASH_REMATCH[1]}
    [[ $out =~ \"reason\":\ \"([^\"]*)\" ]] && reason=${BASH_REMATCH[1]}
    [[ $out =~ \"evidence\":\ \"([a-z]*)\" ]] && evidence=${BASH_REMATCH[1]}
    [[ $out =~ \"socket\":\ \"([^\"]*)\" ]] && socket=${BASH_REMATCH[1]}
    finish "$remote_outcome" "$reason"
  fi
  case $rc in
    124 | 137) finish not_delivered "ssh $remote: no answer within ${timeout}s" ;;
    255) finish not_delivered "ssh $remote failed: ${err:-connection error}" ;;
    127) finish not_delivered "agent-send.sh not found on $remote: $err" ;;
    *) finish not_delivered "remote agent-send.sh on $remote failed (exit $rc): ${err:-no output}" ;;
  esac
}
