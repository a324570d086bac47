#!/usr/bin/env bash
# stop-agent-session.sh NAME — kill agent NAME's tmux session, and only that one.
#
# The socket comes from $MOSAIC_HOME/fleet/agents/NAME.env when it exists, else from
# MOSAIC_TMUX_SOCKET when it is set in the environment (set but empty = the default socket, no
# -L). With neither, nothing is stopped ("no env file; nothing to stop", exit 0): guessing the
# default socket could kill an unrelated session of the same name there. (A pruned agent's env
# file is gone before its unit stops; fleet_supervisor kills such sessions on the fleet's
# sockets itself.) The session is matched exactly (`=NAME`), never by prefix.
#
# Exit codes:
#   0  stopped, already gone, or no env file and no MOSAIC_TMUX_SOCKET (nothing to stop)
#   2  usage error or invalid agent name
#   4  the session is still there after kill-session
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

mosaic_agent_args "$@"
name=$MOSAIC_AGENT_ARG_NAME
env_file=$MOSAIC_AGENT_ARG_ENV
if [ -r "$env_file" ]; then
  mosaic_source_env "$env_file"
elif [ -z "${MOSAIC_TMUX_SOCKET+set}" ]; then
  echo "${name}: no env file; nothing to stop"
  exit 0
fi

target="=${name}"
if ! mosaic_tmux has-session -t "$target" 2>/dev/null; then
  echo "${name}: not running"
  exit 0
fi
mosaic_tmux kill-session -t "$target" 2>/dev/null || true
if mosaic_tmux has-session -t "$target" 2>/dev/null; then
  mosaic_die 4 "session '${name}' is still running"
fi
echo "${name}: stopped"
