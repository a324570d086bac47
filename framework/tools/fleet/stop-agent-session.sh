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
# As the ExecStop of the agent's unit (MOSAIC_AGENT_UNIT set): when the unit's main process,
# the runtime (fleet/run/NAME.pid), has already ended, the unit is stopping because the runtime
# died, not because it was asked to. Then the session is left as it is (its dead pane shows what
# happened), the end is recorded in fleet/run/NAME.exit and the script exits with the runtime's
# status (128+N for signal N; 0 for a clean exit): a failure of the unit that its Restart= and
# StartLimitBurst= act on (supervision.sh).
#
# Exit codes:
#   0  stopped, already gone, or no env file and no MOSAIC_TMUX_SOCKET (nothing to stop)
#   2  usage error or invalid agent name
#   4  the session is still there after kill-session
#   N  (as ExecStop, the runtime already ended) its exit status, or 128+its signal
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=supervision.sh
. "$here/supervision.sh"

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
pid_file=$MOSAIC_HOME/$MOSAIC_C_RUN_DIR/${name}${MOSAIC_C_PID_SUFFIX}
if [ -n "${MOSAIC_AGENT_UNIT:-}" ] && [ -r "$pid_file" ]; then
  pid=$(cat -- "$pid_file" 2>/dev/null || true)
  rm -f -- "$pid_file"
  if [[ $pid =~ ^[0-9]+$ ]] && ! mosaic_pid_running "$pid"; then
    if end=$(mosaic_pane_end "$name"); then
      status=${end%%:*} signal=${end#*:}
      mosaic_record_exit "$name" "$status" "$signal"
      echo "${name}: the runtime (pid ${pid}) $(mosaic_describe_end "$status" "$signal")"
      exit "$(mosaic_exit_code "$status" "$signal")"
    fi
    echo "${name}: the runtime (pid ${pid}) has ended"
  fi
fi
if ! mosaic_tmux has-session -t "$target" 2>/dev/null; then
  echo "${name}: not running"
  exit 0
fi
mosaic_tmux kill-session -t "$target" 2>/dev/null || true
if mosaic_tmux has-session -t "$target" 2>/dev/null; then
  mosaic_die 4 "session '${name}' is still running"
fi
echo "${name}: stopped"
