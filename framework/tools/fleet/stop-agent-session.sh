#!/usr/bin/env bash
# stop-agent-session.sh NAME — kill agent NAME's tmux session, and only that one.
#
# The socket comes from $MOSAIC_HOME/fleet/agents/NAME.env when it exists, else from the
# environment (MOSAIC_TMUX_SOCKET; empty = the default socket, no -L). The session is matched
# exactly (`=NAME`), never by prefix.
#
# Exit codes:
#   0  stopped, or already gone
#   2  usage error or invalid agent name
#   4  the session is still there after kill-session
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 1 ] || mosaic_die 2 "usage: ${0##*/} NAME"
name=$1
mosaic_valid_name "$name" || mosaic_die 2 "invalid agent name: '${name}'"
env_file=$(mosaic_agent_env_file "$name")
if [ -r "$env_file" ]; then
  mosaic_source_env "$env_file"
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
