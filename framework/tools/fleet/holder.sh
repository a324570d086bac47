#!/usr/bin/env bash
# holder.sh start|stop — the session that keeps the fleet's tmux server alive.
#
# Reads $MOSAIC_HOME/fleet/holder.env (MOSAIC_TMUX_SOCKET, MOSAIC_HOLDER_SESSION); variables already
# in the environment are used when the file is absent. Run by mosaic-tmux-holder.service, so the
# tmux server (and every agent pane it spawns) lives in the holder unit's cgroup, not in an agent
# unit's.
#   start  create the holder session (a long sleep) unless it exists. Idempotent.
#   stop   named socket: kill the whole tmux server (every session on it).
#          default socket (MOSAIC_TMUX_SOCKET empty): kill only the holder session, so sessions
#          that are not the fleet's survive; the server exits by itself when none is left.
#
# Exit codes: 0 done (also: already running / already stopped); 2 usage; 4 tmux failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 1 ] || mosaic_die 2 "usage: ${0##*/} start|stop"
if [ -r "$MOSAIC_HOME/$MOSAIC_C_HOLDER_ENV_FILE" ]; then
  mosaic_source_env "$MOSAIC_HOME/$MOSAIC_C_HOLDER_ENV_FILE"
fi
holder=${MOSAIC_HOLDER_SESSION:-$MOSAIC_C_DEFAULT_HOLDER_SESSION}
mosaic_valid_name "$holder" || mosaic_die 2 "invalid holder session name: '${holder}'"
target="=${holder}"

case $1 in
  start)
    if mosaic_tmux has-session -t "$target" 2>/dev/null; then
      echo "${holder}: already running (socket: ${MOSAIC_TMUX_SOCKET:-default})"
      exit 0
    fi
    # Started from $HOME so the server does not keep some other directory busy.
    cd "$HOME"
    mosaic_tmux new-session -d -s "$holder" -x 80 -y 24 -- sleep infinity \
      || mosaic_die 4 "tmux could not start the holder session '${holder}'"
    mosaic_tmux has-session -t "$target" 2>/dev/null \
      || mosaic_die 4 "holder session '${holder}' is not running after start"
    echo "${holder}: started (socket: ${MOSAIC_TMUX_SOCKET:-default})"
    ;;
  stop)
    if [ -n "${MOSAIC_TMUX_SOCKET:-}" ]; then
      mosaic_tmux kill-server 2>/dev/null || true
    else
      mosaic_tmux kill-session -t "$target" 2>/dev/null || true
    fi
    echo "${holder}: stopped (socket: ${MOSAIC_TMUX_SOCKET:-default})"
    ;;
  *)
    mosaic_die 2 "usage: ${0##*/} start|stop"
    ;;
esac
