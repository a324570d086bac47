# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""THE contract: every fact the collection and the framework's shell tools share, stated once.

Stdlib only, importable on targets. Python code imports these names; the shell tools read the
same facts from ``framework/tools/fleet/contract.sh``, which ``scripts/gen-contract.py`` (``make
contract``) generates from :func:`shell_contract` (``tests/unit/test_contract.py`` fails when the
two drift). The runtime table is not here: it is data in ``framework/fleet/runtimes.json``.

Paths are relative to MOSAIC_HOME unless they say otherwise; MOSAIC_HOME defaults to
``~/.config/mosaic`` (``$HOME/.config/mosaic`` of the fleet user).
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------------------------
# MOSAIC_HOME and the paths under it

# The default MOSAIC_HOME, relative to the fleet user's home, and as shown to people and agents.
DEFAULT_MOSAIC_HOME_RELPATH = ".config/mosaic"
DEFAULT_MOSAIC_HOME = "~/" + DEFAULT_MOSAIC_HOME_RELPATH

ROSTER_FILE = "fleet/roster.yaml"        # the normalized fleet-wide roster (fleet_host_config)
HOLDER_ENV_FILE = "fleet/holder.env"     # the holder's socket and session
AGENTS_DIR = "fleet/agents"              # <name>.env and <name>.comms.md of each agent
ENV_SUFFIX = ".env"
COMMS_SUFFIX = ".comms.md"
RUN_DIR = "fleet/run"                    # <name>.heartbeat, locks/
HEARTBEAT_SUFFIX = ".heartbeat"
# Beside the heartbeat (fleet/HEARTBEAT.md; read by fleet_ps, plugins/module_utils/metering.py):
# <name>.meter.json, what the runtime last said it uses (model, context, tokens, cost), and
# <name>.notice.json, the runtime's last notification (Claude's Notification hook) since its
# last activity; both one JSON object, written atomically.
METER_SUFFIX = ".meter.json"
NOTICE_SUFFIX = ".notice.json"
# Supervision (start/stop-agent-session.sh, fleet_ps): <name>.pid, the pane's process that the
# agent's unit adopted as its main process; <name>.exit, how the runtime last ended (one JSON
# line: {"time": <epoch>, "status": <int or null>, "signal": <int or null>}).
PID_SUFFIX = ".pid"
EXIT_SUFFIX = ".exit"
# In tmux mode (tools/fleet/agent-died): <name>.restarts, one epoch a line per restart since the
# last deliberate start; <name>.crashloop, the crash-loop guard holding the agent back (JSON).
RESTARTS_SUFFIX = ".restarts"
CRASHLOOP_SUFFIX = ".crashloop"
# Both modes (tools/fleet/restart-backoff): <name>.backoff, the restart backoff's last step (JSON);
# a deliberate start removes it.
BACKOFF_SUFFIX = ".backoff"
LOCK_DIR = RUN_DIR + "/locks"            # agent-send.sh's per-session locks
LOG_DIR = "fleet/log"
SEND_LOG = LOG_DIR + "/send.log"         # agent-send.sh's audit line per send
TRANSCRIPT_DIR = LOG_DIR + "/transcripts"  # <name>.log (+ <name>.log.1): each pane's output, 0700
TRANSCRIPT_SUFFIX = ".log"
TRANSCRIPT_ROTATED_SUFFIX = ".1"         # the one rotated file kept beside the current one
# The bound of one transcript file (bytes); tools/fleet/start-agent-session.sh reads
# MOSAIC_TRANSCRIPT_MAX_BYTES (0: no transcript) and falls back to this.
TRANSCRIPT_MAX_BYTES = 1048576
CREDENTIALS_DIR = "credentials"
SECRETS_FILE = CREDENTIALS_DIR + "/fleet.env"
TOOLS_DIR = "tools/fleet"                # lib.sh, start/stop-agent-session.sh, launch-agent, ...
SEND_TOOL = "tools/tmux/agent-send.sh"
FLEET_PS_TOOL = TOOLS_DIR + "/fleet-ps"  # this host's fleet table, from inside the host
WATCH_TOOL = TOOLS_DIR + "/watch"        # an agent's pane, read-only, for a terminal
UNIT_SOURCE_DIR = "systemd/user"         # where the framework ships the units
ROLES_DIR = "fleet/roles"                # the mandates: <role>.md (framework), <role>.local.md

# --------------------------------------------------------------------------------------------
# systemd --user units

AGENT_UNIT_TEMPLATE = "mosaic-agent@.service"
HOLDER_UNIT = "mosaic-tmux-holder.service"
# The orchestrator's chat connector (tools/fleet/connector run), enabled only on the host with a
# fleet/connector.json (connector kind other than tmux); fleet_supervisor starts and stops it.
CONNECTOR_UNIT = "mosaic-connector.service"
FLEET_UNITS = (HOLDER_UNIT, AGENT_UNIT_TEMPLATE, CONNECTOR_UNIT)   # the units a fleet installs, holder first
USER_UNIT_DIR = ".config/systemd/user"             # relative to the fleet user's home
# How the shipped units name the default MOSAIC_HOME (%h: the user's home).
UNIT_MOSAIC_HOME = "%h/" + DEFAULT_MOSAIC_HOME_RELPATH

# --------------------------------------------------------------------------------------------
# tmux

DEFAULT_HOLDER_SESSION = "mosaic-holder"
# The connector's session in tmux mode (on the holder's socket): refused as an agent name, never
# counted as ad hoc by fleet_ps.
CONNECTOR_SESSION = "mosaic-connector"

# Read-only viewers (tools/fleet/watch). A viewer of agent NAME is a session grouped with NAME's
# session and named NAME + VIEWER_SUFFIX + a tag (watch's tag is "-<its pid>", so two operators
# watching one agent get two viewers). fleet_ps counts viewers apart, never as ad-hoc sessions.
VIEWER_SUFFIX = "-view"


def viewer_session(name, tag):
    """The viewer session ``watch`` creates for agent ``name``: ``<name>-view-<tag>``."""
    return "%s%s-%s" % (name, VIEWER_SUFFIX, tag)


def viewed_agent(session_name, agent_names):
    """The agent whose viewer ``session_name`` is by name (``<agent>-view<anything>``), or None.

    A session that is itself one of ``agent_names`` is no viewer."""
    if session_name in agent_names:
        return None
    for agent in sorted(agent_names, key=len, reverse=True):
        if session_name.startswith(agent + VIEWER_SUFFIX):
            return agent
    return None


# --------------------------------------------------------------------------------------------
# The agent name rule: a name is a tmux session, a systemd instance and a file name. Letters,
# digits, '_' and '-', not starting with '-', at most NAME_MAX_LENGTH characters. '.' and ':' are
# left out on purpose: tmux silently rewrites them to '_' in session names. Match with fullmatch
# (Python's '$' also matches before a final newline).

NAME_MAX_LENGTH = 48
NAME_CHARS = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
NAME_PATTERN = re.compile(NAME_CHARS)
# The same rule as one bounded pattern (the roster schema's class pattern is this one, anchored).
NAME_BOUNDED = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,%d}" % (NAME_MAX_LENGTH - 1)


def valid_name(name):
    """True when ``name`` is a valid agent name (the shell twin: lib.sh ``mosaic_valid_name``)."""
    return (isinstance(name, str) and 0 < len(name) <= NAME_MAX_LENGTH
            and NAME_PATTERN.fullmatch(name) is not None)


def env_file(name):
    """``fleet/agents/<name>.env``."""
    return "%s/%s%s" % (AGENTS_DIR, name, ENV_SUFFIX)


def comms_file(name):
    """``fleet/agents/<name>.comms.md``."""
    return "%s/%s%s" % (AGENTS_DIR, name, COMMS_SUFFIX)


def heartbeat_file(name):
    """``fleet/run/<name>.heartbeat``."""
    return "%s/%s%s" % (RUN_DIR, name, HEARTBEAT_SUFFIX)


def pid_file(name):
    """``fleet/run/<name>.pid``: the runtime's pid, the main process of the agent's unit."""
    return "%s/%s%s" % (RUN_DIR, name, PID_SUFFIX)


def exit_file(name):
    """``fleet/run/<name>.exit``: how the agent's runtime last ended (time, status, signal)."""
    return "%s/%s%s" % (RUN_DIR, name, EXIT_SUFFIX)


def meter_file(name):
    """``fleet/run/<name>.meter.json``: the agent's metering (model, context, tokens, cost)."""
    return "%s/%s%s" % (RUN_DIR, name, METER_SUFFIX)


def notice_file(name):
    """``fleet/run/<name>.notice.json``: the runtime's last notification since its last activity."""
    return "%s/%s%s" % (RUN_DIR, name, NOTICE_SUFFIX)


def restarts_file(name):
    """``fleet/run/<name>.restarts`` (tmux mode): the restarts since the last deliberate start."""
    return "%s/%s%s" % (RUN_DIR, name, RESTARTS_SUFFIX)


def crashloop_file(name):
    """``fleet/run/<name>.crashloop`` (tmux mode): the crash-loop guard holds the agent back."""
    return "%s/%s%s" % (RUN_DIR, name, CRASHLOOP_SUFFIX)


def backoff_file(name):
    """``fleet/run/<name>.backoff``: the restart backoff's last step (supervision.restart_backoff)."""
    return "%s/%s%s" % (RUN_DIR, name, BACKOFF_SUFFIX)


def transcript_file(name):
    """``fleet/log/transcripts/<name>.log`` (rotated: the same path + TRANSCRIPT_ROTATED_SUFFIX)."""
    return "%s/%s%s" % (TRANSCRIPT_DIR, name, TRANSCRIPT_SUFFIX)


def agent_unit(name):
    """``mosaic-agent@<name>.service``."""
    return AGENT_UNIT_TEMPLATE.replace("@.", "@%s." % name)


# --------------------------------------------------------------------------------------------
# Env files. Each agent's fleet/agents/<name>.env holds these keys in this order, taken from the
# normalized roster: ("agent", field) is the agent's field, ("roster", "a.b") the roster's.

AGENT_ENV = (
    ("MOSAIC_AGENT_NAME", ("agent", "name")),
    ("MOSAIC_AGENT_RUNTIME", ("agent", "runtime")),
    ("MOSAIC_AGENT_MODEL", ("agent", "model_hint")),
    ("MOSAIC_AGENT_WORKDIR", ("agent", "working_directory")),
    ("MOSAIC_TMUX_SOCKET", ("agent", "socket")),
    ("MOSAIC_AGENT_CLASS", ("agent", "class")),
    ("MOSAIC_AGENT_HOST", ("agent", "host")),
    ("MOSAIC_TENANT", ("roster", "tenant")),
    ("MOSAIC_HOLDER_SESSION", ("roster", "tmux.holder_session")),
    ("MOSAIC_AGENT_PERSONA", ("agent", "persistent_persona")),
    ("MOSAIC_AGENT_RESUME", ("agent", "resume")),
    ("MOSAIC_AGENT_COMMAND", ("agent", "command")),
)
AGENT_ENV_KEYS = tuple(key for key, _source in AGENT_ENV)

# fleet/holder.env: the roster's tmux settings.
HOLDER_ENV = (
    ("MOSAIC_TMUX_SOCKET", ("roster", "tmux.socket_name")),
    ("MOSAIC_HOLDER_SESSION", ("roster", "tmux.holder_session")),
)

# Set by the operator or the unit, not by the roster, and handed to the pane as well.
PASSTHROUGH_ENV_KEYS = ("MOSAIC_RUNTIME_BIN", "MOSAIC_HEARTBEAT_INTERVAL")
# Every variable start-agent-session.sh hands the pane (besides MOSAIC_HOME and PATH).
PANE_ENV_KEYS = AGENT_ENV_KEYS + PASSTHROUGH_ENV_KEYS


def _env_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _lookup(source, normalized, agent):
    scope, path = source
    value = agent if scope == "agent" else normalized
    for part in path.split("."):
        value = value[part]
    return _env_value(value)


def agent_env_pairs(normalized, agent):
    """``[(key, value), ...]`` of ``agent``'s env file, in :data:`AGENT_ENV` order."""
    return [(key, _lookup(source, normalized, agent)) for key, source in AGENT_ENV]


def holder_env_pairs(normalized):
    """``[(key, value), ...]`` of ``fleet/holder.env``."""
    return [(key, _lookup(source, normalized, None)) for key, source in HOLDER_ENV]


# --------------------------------------------------------------------------------------------
# The socket rule: a named socket is ``tmux -L <name>``; an empty (or absent) one is the default
# tmux socket, no ``-L``. The shell twin is lib.sh ``mosaic_tmux``.

def socket_args(socket):
    """``['-L', name]`` for a named socket; ``[]`` (the default tmux socket) when empty or None."""
    return ["-L", socket] if socket else []


# --------------------------------------------------------------------------------------------
# agent-send.sh's outcomes and exit codes. A send reports one of SEND_OUTCOMES and exits with
# its code; "usage" (bad arguments) is a code without a report; --dry-run reports
# SEND_DRY_RUN_OUTCOME and exits 0. The script's --help lists them (tests/unit/test_send.py).

SEND_EXIT_CODES = (
    ("delivered", 0),
    ("usage", 2),
    ("unconfirmed", 3),
    ("not_delivered", 4),
    ("no_session", 5),
)
SEND_OUTCOMES = ("delivered", "unconfirmed", "not_delivered", "no_session")
SEND_FAILED_OUTCOMES = ("not_delivered", "no_session")
SEND_DRY_RUN_OUTCOME = "would_send"


# --------------------------------------------------------------------------------------------
# The shell contract

SHELL_CONTRACT = "framework/tools/fleet/contract.sh"   # relative to the collection root


def shell_values():
    """``[(variable, value), ...]`` the shell contract defines; a tuple value is a bash array."""
    return [
        ("MOSAIC_C_DEFAULT_HOME", DEFAULT_MOSAIC_HOME_RELPATH),
        ("MOSAIC_C_ROSTER_FILE", ROSTER_FILE),
        ("MOSAIC_C_HOLDER_ENV_FILE", HOLDER_ENV_FILE),
        ("MOSAIC_C_AGENTS_DIR", AGENTS_DIR),
        ("MOSAIC_C_ENV_SUFFIX", ENV_SUFFIX),
        ("MOSAIC_C_COMMS_SUFFIX", COMMS_SUFFIX),
        ("MOSAIC_C_RUN_DIR", RUN_DIR),
        ("MOSAIC_C_HEARTBEAT_SUFFIX", HEARTBEAT_SUFFIX),
        ("MOSAIC_C_METER_SUFFIX", METER_SUFFIX),
        ("MOSAIC_C_NOTICE_SUFFIX", NOTICE_SUFFIX),
        ("MOSAIC_C_PID_SUFFIX", PID_SUFFIX),
        ("MOSAIC_C_EXIT_SUFFIX", EXIT_SUFFIX),
        ("MOSAIC_C_RESTARTS_SUFFIX", RESTARTS_SUFFIX),
        ("MOSAIC_C_CRASHLOOP_SUFFIX", CRASHLOOP_SUFFIX),
        ("MOSAIC_C_BACKOFF_SUFFIX", BACKOFF_SUFFIX),
        ("MOSAIC_C_LOCK_DIR", LOCK_DIR),
        ("MOSAIC_C_LOG_DIR", LOG_DIR),
        ("MOSAIC_C_SEND_LOG", SEND_LOG),
        ("MOSAIC_C_TRANSCRIPT_DIR", TRANSCRIPT_DIR),
        ("MOSAIC_C_TRANSCRIPT_SUFFIX", TRANSCRIPT_SUFFIX),
        ("MOSAIC_C_TRANSCRIPT_ROTATED_SUFFIX", TRANSCRIPT_ROTATED_SUFFIX),
        ("MOSAIC_C_TRANSCRIPT_MAX_BYTES", str(TRANSCRIPT_MAX_BYTES)),
        ("MOSAIC_C_SECRETS_FILE", SECRETS_FILE),
        ("MOSAIC_C_TOOLS_DIR", TOOLS_DIR),
        ("MOSAIC_C_SEND_TOOL", SEND_TOOL),
        ("MOSAIC_C_UNIT_SOURCE_DIR", UNIT_SOURCE_DIR),
        ("MOSAIC_C_ROLES_DIR", ROLES_DIR),
        ("MOSAIC_C_USER_UNIT_DIR", USER_UNIT_DIR),
        ("MOSAIC_C_AGENT_UNIT_TEMPLATE", AGENT_UNIT_TEMPLATE),
        ("MOSAIC_C_HOLDER_UNIT", HOLDER_UNIT),
        ("MOSAIC_C_DEFAULT_HOLDER_SESSION", DEFAULT_HOLDER_SESSION),
        ("MOSAIC_C_VIEWER_SUFFIX", VIEWER_SUFFIX),
        ("MOSAIC_C_NAME_REGEX", "^%s$" % NAME_CHARS),
        ("MOSAIC_C_NAME_MAX_LENGTH", str(NAME_MAX_LENGTH)),
        ("MOSAIC_C_AGENT_ENV_KEYS", AGENT_ENV_KEYS),
        ("MOSAIC_C_HOLDER_ENV_KEYS", tuple(key for key, _source in HOLDER_ENV)),
        ("MOSAIC_C_PANE_ENV_KEYS", PANE_ENV_KEYS),
    ] + [("MOSAIC_C_SEND_EXIT_%s" % outcome.upper(), str(code)) for outcome, code in SEND_EXIT_CODES] + [
        ("MOSAIC_C_SEND_DRY_RUN_OUTCOME", SEND_DRY_RUN_OUTCOME),
    ]


def _sh_word(value):
    if re.fullmatch(r"[A-Za-z0-9_./@%+=:,-]+", value):
        return value
    return "'%s'" % value.replace("'", "'\\''")


def shell_contract():
    """The text of ``framework/tools/fleet/contract.sh``."""
    lines = [
        "# shellcheck shell=bash",
        "# GENERATED from plugins/module_utils/contract.py by scripts/gen-contract.py (`make contract`).",
        "# Do not edit: change contract.py and regenerate (tests/unit/test_contract.py checks both).",
        "# Sourced by lib.sh. Paths are relative to MOSAIC_HOME; MOSAIC_C_DEFAULT_HOME and",
        "# MOSAIC_C_USER_UNIT_DIR to the fleet user's home. Arrays list env keys in file order.",
        "# shellcheck disable=SC2034  # read by the scripts that source lib.sh",
    ]
    for name, value in shell_values():
        if isinstance(value, tuple):
            lines.append("%s=(%s)" % (name, " ".join(_sh_word(v) for v in value)))
        else:
            lines.append("%s=%s" % (name, _sh_word(value)))
    return "\n".join(lines) + "\n"
