# shellcheck shell=bash
# Mosaic fleet shell helpers, sourced by the scripts in tools/fleet/ (never run directly).
#
#   mosaic_tmux ARGS...            THE shell socket rule: `tmux -L "$MOSAIC_TMUX_SOCKET" ARGS...`
#                                  when the socket is non-empty, plain `tmux ARGS...` otherwise.
#                                  (Twin of plugins/module_utils/tmux.py:socket_args.)
#   mosaic_valid_name NAME         0 when NAME is a valid agent name.
#   mosaic_agent_args ARGS...      a per-agent tool's one NAME argument, validated (exit 2
#                                  otherwise): sets MOSAIC_AGENT_ARG_NAME, MOSAIC_AGENT_ARG_ENV.
#   mosaic_agent_env_file NAME [VAR]  path of the agent's env file (into VAR: no subshell).
#   mosaic_source_env FILE         source FILE with `set -a` (every assignment exported).
#   mosaic_load_agent_env NAME     validate NAME, source fleet/agents/NAME.env, then
#                                  credentials/fleet.env when present.
#   mosaic_load_secrets            source credentials/fleet.env when present.
#   mosaic_expand_workdir DIR      print DIR with '~' / '~/x' expanded (empty = ~; relative =
#                                  under ~).
#   mosaic_tmux_escape ARGS...     ARGS escaped for tmux's argv parser, in MOSAIC_TMUX_ARGV.
#   mosaic_sh_quote WORD VAR       WORD single-quoted for a POSIX sh command line, into VAR.
#   mosaic_mandate_role CLASS      the role whose mandate CLASS reads (implementer: coder).
#   mosaic_mandate_files CLASS     the mandate files of CLASS that exist, relative to MOSAIC_HOME,
#                                  one a line: fleet/roles/ROLE.md, then the operator's
#                                  fleet/roles/ROLE.local.md. Nothing for an invalid CLASS.
#                                  (Twin of plugins/module_utils/mandate.py.)
#   mosaic_die CODE MSG...         print "PROG: MSG" to stderr and exit CODE.
#
# The shared facts (paths under MOSAIC_HOME, unit names, the holder default, the name rule, the
# env keys) are the MOSAIC_C_* variables of contract.sh beside this file, generated from
# plugins/module_utils/contract.py.

case ${BASH_SOURCE[0]} in
  */*) _mosaic_lib_dir=${BASH_SOURCE[0]%/*} ;;
  *) _mosaic_lib_dir=. ;;
esac
# shellcheck source=contract.sh
. "$_mosaic_lib_dir/contract.sh"
unset _mosaic_lib_dir

: "${MOSAIC_HOME:=${HOME}/${MOSAIC_C_DEFAULT_HOME}}"
export MOSAIC_HOME

mosaic_die() {
  local code=$1
  shift
  printf '%s: %s\n' "${0##*/}" "$*" >&2
  exit "$code"
}

mosaic_tmux() {
  if [ -n "${MOSAIC_TMUX_SOCKET:-}" ]; then
    tmux -L "$MOSAIC_TMUX_SOCKET" "$@"
  else
    tmux "$@"
  fi
}

# THE name rule (contract.py valid_name): letters, digits, '_' and '-', not starting with '-', at
# most MOSAIC_C_NAME_MAX_LENGTH characters (a name is a tmux session, a systemd instance and a
# file name).
mosaic_valid_name() {
  local name=${1-}
  [ -n "$name" ] && [ "${#name}" -le "$MOSAIC_C_NAME_MAX_LENGTH" ] && [[ $name =~ $MOSAIC_C_NAME_REGEX ]]
}

# The one argument of a per-agent tool: sets MOSAIC_AGENT_ARG_NAME and MOSAIC_AGENT_ARG_ENV
# (the agent's env file path), or exits 2 on a usage error or an invalid name. No subshell, so
# mosaic_die really ends the calling script.
mosaic_agent_args() {
  [ $# -eq 1 ] || mosaic_die 2 "usage: ${0##*/} NAME"
  mosaic_valid_name "$1" || mosaic_die 2 "invalid agent name: '${1}'"
  # shellcheck disable=SC2034  # read by the sourcing script
  MOSAIC_AGENT_ARG_NAME=$1
  # shellcheck disable=SC2034
  MOSAIC_AGENT_ARG_ENV=$(mosaic_agent_env_file "$1")
}

mosaic_agent_env_file() {
  if [ $# -ge 2 ]; then
    printf -v "$2" '%s/%s/%s%s' "$MOSAIC_HOME" "$MOSAIC_C_AGENTS_DIR" "$1" "$MOSAIC_C_ENV_SUFFIX"
  else
    printf '%s/%s/%s%s\n' "$MOSAIC_HOME" "$MOSAIC_C_AGENTS_DIR" "$1" "$MOSAIC_C_ENV_SUFFIX"
  fi
}

mosaic_source_env() {
  # The env files are written by the collection (envfile.render_env_file), quoted so that a POSIX
  # shell and systemd read back the same values.
  set -a
  # shellcheck disable=SC1090
  . "$1"
  set +a
}

mosaic_load_agent_env() {
  local name=${1-} file
  mosaic_valid_name "$name" || mosaic_die 2 "invalid agent name: '${name}'"
  file=$(mosaic_agent_env_file "$name")
  [ -r "$file" ] || mosaic_die 3 "no env file for agent '${name}': ${file}"
  mosaic_source_env "$file"
  mosaic_load_secrets
}

# credentials/fleet.env, when present.
mosaic_load_secrets() {
  if [ -r "$MOSAIC_HOME/$MOSAIC_C_SECRETS_FILE" ]; then
    mosaic_source_env "$MOSAIC_HOME/$MOSAIC_C_SECRETS_FILE"
  fi
}

mosaic_expand_workdir() {
  local dir=${1:-'~'}
  # shellcheck disable=SC2088  # literal '~' prefixes are what we match
  case $dir in
    '~') dir=$HOME ;;
    '~/'*) dir=$HOME/${dir#'~/'} ;;
    /*) ;;
    *) dir=$HOME/$dir ;;
  esac
  printf '%s\n' "$dir"
}

# tmux's argv parser treats an argument that ends in ';' as a command separator (the ';' is
# stripped), even inside new-session's shell command. A trailing '\;' is how tmux spells a literal
# trailing ';', so every data argument we hand tmux goes through this. Result: the array
# MOSAIC_TMUX_ARGV (no command substitution, so trailing newlines survive).
mosaic_tmux_escape() {
  MOSAIC_TMUX_ARGV=()
  local arg
  for arg in "$@"; do
    if [[ $arg == *';' ]]; then
      MOSAIC_TMUX_ARGV+=("${arg%;}\\;")
    else
      MOSAIC_TMUX_ARGV+=("$arg")
    fi
  done
}

# A word for a POSIX sh command line (tmux runs pipe-pane's command with sh -c): single quotes,
# each ' written '\''. Into the variable named by $2 (no subshell: trailing newlines survive).
mosaic_sh_quote() {
  local q
  printf -v q '\047'
  printf -v "$2" '%s%s%s' "$q" "${1//$q/$q\\$q$q}" "$q"
}

# THE mandate rule, as plugins/module_utils/mandate.py states it (tests/unit/test_mandate.py runs
# both on the same cases): a class reads the mandate of its role (an alias, or itself), the
# framework's fleet/roles/ROLE.md first, then the operator's fleet/roles/ROLE.local.md.
mosaic_mandate_role() {
  case ${1-} in
    implementer) printf 'coder\n' ;;
    *) printf '%s\n' "${1-}" ;;
  esac
}

mosaic_mandate_files() {
  local role rel
  mosaic_valid_name "${1-}" || return 0
  role=$(mosaic_mandate_role "$1")
  for rel in "$MOSAIC_C_ROLES_DIR/${role}.md" "$MOSAIC_C_ROLES_DIR/${role}.local.md"; do
    if [ -f "$MOSAIC_HOME/$rel" ]; then
      printf '%s\n' "$rel"
    fi
  done
}
