# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_ps: what the host's supervisor, tmux and heartbeats say, and what it means.

Most of this file is pure: argv builders, parsers of ``tmux list-panes`` and ``systemctl show``
output, and the health/drift classification, all driven by data in the unit tests. The one
impure entry point, :func:`probe`, issues a CONSTANT number of commands whatever the number of
agents (one ``systemctl --user show`` for every unit, one ``tmux list-panes -a`` per distinct
socket) plus plain file reads, through a ``run(argv) -> (rc, stdout, stderr)`` callable that the
module supplies (``module.run_command``) and the benchmark and tests wrap.

Health (ARCHITECTURE.md "Health"), checked in this order:

``dead``          the agent pane's process exited (remain-on-exit), or the unit failed
``stopped``       no session; the unit is inactive, not failed, and was started or is enabled
``missing``       no session otherwise (tmux supervisor; unit not installed, never started, or
                  still active although its session is gone)
``unresponsive``  the pane is alive but the agent never wrote a heartbeat (in this session)
``stale``         the last heartbeat is older than ``stale_after`` seconds
``healthy``       the pane is alive and the heartbeat is at most ``stale_after`` seconds old
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time

from ansible_collections.mosaic.fleet.plugins.module_utils import fileops, hostconfig
from ansible_collections.mosaic.fleet.plugins.module_utils import systemd as fleet_systemd
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import DEFAULT_HOLDER_SESSION  # noqa: F401 pylint: disable=unused-import
from ansible_collections.mosaic.fleet.plugins.module_utils import tmux as fleet_tmux

HEALTHY = "healthy"
STALE = "stale"
UNRESPONSIVE = "unresponsive"
DEAD = "dead"
STOPPED = "stopped"
MISSING = "missing"
HEALTH_STATES = (HEALTHY, STALE, UNRESPONSIVE, DEAD, STOPPED, MISSING)

SYSTEMD = "systemd"
TMUX = "tmux"
SUPERVISORS = (SYSTEMD, TMUX)

DEFAULT_STALE_AFTER = 120

# The process names a healthy pane may show as its foreground command, per runtime
# (docs/DEVELOPING.md). pi and codex are node programs, so a pane running them usually shows
# `node`; an agent that exited back to a shell shows `bash`, which is drift.
RUNTIME_PROCESS_NAMES = {
    "stub": ("python3", "python", "stub-agent"),
    "pi": ("node", "pi"),
    "codex": ("node", "codex"),
    "claude": ("claude", "node"),
    "opencode": ("opencode", "node", "bun"),
}
SHELLS = frozenset(("bash", "sh", "dash", "zsh", "fish", "ksh", "mksh", "tcsh", "csh", "busybox"))

# Unit states in which the agent's session is supposed to exist.
UNIT_UP_STATES = frozenset(("active", "activating", "reloading", "refreshing"))
UNIT_ENABLED_STATES = frozenset(("enabled", "enabled-runtime", "linked", "linked-runtime", "alias"))

UNIT_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "Result",
                   "ActiveEnterTimestampMonotonic")

# One tmux line per pane; tmux escapes control characters (a tab becomes "\t") in values, so a
# tab separates fields safely.
PANE_FIELDS = (
    "session_name", "session_id", "session_group", "session_group_list", "session_grouped",
    "session_created", "session_attached", "window_index", "window_active", "pane_index",
    "pane_active", "pane_id", "pane_pid", "pane_current_command", "pane_dead", "pane_dead_status",
    "window_activity", "pane_dead_signal",
)
PANE_FORMAT = "\t".join("#{%s}" % field for field in PANE_FIELDS)
_INT_FIELDS = ("session_created", "session_attached", "window_index", "pane_index", "pane_pid",
               "window_activity")
_FLAG_FIELDS = ("session_grouped", "window_active", "pane_active", "pane_dead")

# What tmux prints when there is no server on a socket: not an error for fleet_ps, just no sessions.
_NO_SERVER_MARKERS = ("no server running on ", "error connecting to ")

VIEWER_SUFFIX = "-view"

# Where `systemctl --user enable` links the fleet's units (their [Install] WantedBy=default.target).
USER_UNIT_DIR = fleet_systemd.USER_UNIT_DIR
WANTS_DIR = "default.target.wants"


class ProbeError(Exception):
    """A problem that makes the report impossible (no roster, unknown user)."""


# --------------------------------------------------------------------------------------------
# argv


def list_panes_argv(socket, binary=None):
    """``tmux [-L socket] list-panes -a -F <PANE_FORMAT>``: every pane of every session."""
    return fleet_tmux.tmux_argv(socket, "list-panes", "-a", "-F", PANE_FORMAT, binary=binary)


def show_units_argv(user, as_self, units, binary=None):
    """One ``systemctl --user show`` for all ``units``."""
    args = ["show"]
    for prop in UNIT_PROPERTIES:
        args += ["-p", prop]
    return fleet_systemd.systemctl_user_argv(user, as_self, *(args + list(units)), binary=binary)


def as_user_argv(user, home, tmux_tmpdir, argv, runuser="runuser"):
    """Run ``argv`` as ``user`` from root, so tmux finds that user's server.

    tmux looks for its socket in ``$TMUX_TMPDIR/tmux-<uid>/`` (``/tmp`` by default) and obeys
    ``$TMUX``; root's values of those must not leak into the user's command.
    """
    # env's options (-u) must come before its assignments.
    env = ["env", "-u", "TMUX"] + ([] if tmux_tmpdir else ["-u", "TMUX_TMPDIR"]) + ["HOME=%s" % home]
    env += ["TMUX_TMPDIR=%s" % tmux_tmpdir] if tmux_tmpdir else []
    if os.path.basename(runuser) == "setpriv":
        prefix = [runuser, "--reuid=%s" % user, "--regid=%s" % user, "--init-groups", "--"]
    else:
        prefix = [runuser, "-u", user, "--"]
    return prefix + env + list(argv)


# --------------------------------------------------------------------------------------------
# parsing


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def parse_panes(text):
    """Parse ``list-panes -a -F PANE_FORMAT`` output into one dict per pane (typed values)."""
    panes = []
    width = len(PANE_FIELDS)
    for line in text.splitlines():
        if not line:
            continue
        values = line.split("\t")
        if len(values) < width:
            values += [""] * (width - len(values))
        pane = dict(zip(PANE_FIELDS, values))
        for field in _INT_FIELDS:
            value = pane[field]
            pane[field] = int(value) if value.isdigit() else None
        for field in _FLAG_FIELDS:
            pane[field] = pane[field] == "1"
        for field in ("pane_dead_status", "pane_dead_signal"):  # empty unless dead (and tmux >= 3.3)
            value = pane[field]
            pane[field] = _int(value) if value else None
        group_list = pane["session_group_list"]
        pane["session_group_list"] = [s for s in group_list.split(",") if s] if group_list else []
        panes.append(pane)
    return panes


def is_no_server(rc, stderr):
    """True when tmux failed only because no server listens on the socket."""
    return rc != 0 and any(marker in (stderr or "") for marker in _NO_SERVER_MARKERS)


def group_sessions(panes):
    """Sessions from pane lines: name -> session dict with its agent pane.

    The agent pane is the active pane of the session's active window: the pane ``=session:``
    targets, so the one ``fleet_send`` talks to. A split that made a shell pane active is
    therefore (rightly) reported as drift.
    """
    sessions = {}
    for pane in panes:
        name = pane["session_name"]
        session = sessions.get(name)
        if session is None:
            session = sessions[name] = {
                "name": name,
                "id": pane["session_id"],
                "group": pane["session_group"] or None,
                "group_list": pane["session_group_list"],
                "created": pane["session_created"],
                "attached": pane["session_attached"],
                "pane_count": 0,
                "pane": pane,
            }
        session["pane_count"] += 1
        chosen = session["pane"]
        if pane["window_active"] and pane["pane_active"] and not (chosen["window_active"] and chosen["pane_active"]):
            session["pane"] = pane
    return sessions


def parse_units(text):
    """``systemctl show`` output -> unit Id -> properties."""
    return dict((unit.get("Id", ""), unit) for unit in fleet_systemd.parse_show_output(text) if unit.get("Id"))


def parse_heartbeat(text):
    """``<unix-epoch-seconds> <pid>`` -> (epoch float, pid int or None); None when unreadable."""
    if text is None:
        return None
    fields = text.split()
    if not fields:
        return None
    try:
        epoch = float(fields[0])
    except ValueError:
        return None
    pid = _int(fields[1]) if len(fields) > 1 else None
    return epoch, pid


# --------------------------------------------------------------------------------------------
# classification (pure)


def expected_process_names(runtime, command=""):
    """Foreground process names that mean "the runtime is running" for an agent.

    With a ``command`` override the runtime's names still count, plus the program the command
    starts (``env``, ``exec`` and ``VAR=value`` words skipped).
    """
    names = list(RUNTIME_PROCESS_NAMES.get(runtime, (runtime,)))
    if command:
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        for word in words:
            if word in ("exec", "env", "nohup") or ("=" in word and not word.startswith("/")):
                continue
            base = os.path.basename(word)
            if base and base not in names:
                names.append(base)
            break
    return tuple(names)


def unit_is_known(unit):
    return bool(unit) and unit.get("LoadState", "loaded") not in ("not-found", "")


def unit_enabled(unit):
    if not unit:
        return None
    return unit.get("UnitFileState", "") in UNIT_ENABLED_STATES


def unit_was_started(unit):
    return bool(unit) and (_int(unit.get("ActiveEnterTimestampMonotonic")) or 0) > 0


def age_of(epoch, now):
    """Seconds from ``epoch`` to ``now``, to a tenth: the figure reported AND the one judged."""
    return round(now - epoch, 1)


def classify_health(supervisor, unit, session, heartbeat_at, now, stale_after):
    """(health, reason) of one agent.

    ``unit``: its ``systemctl show`` properties (None in tmux mode or when unknown);
    ``session``: its tmux session from :func:`group_sessions` (None when absent);
    ``heartbeat_at``: epoch of the last heartbeat that belongs to this session, or None.
    """
    systemd = supervisor == SYSTEMD and unit is not None
    active = unit.get("ActiveState", "") if systemd else None
    pane = session["pane"] if session else None
    if pane is not None and pane["pane_dead"]:
        status, signal = pane.get("pane_dead_status"), pane.get("pane_dead_signal")
        how = " with status %d" % status if status is not None else (
            " (killed by signal %d)" % signal if signal else "")
        return DEAD, "the agent's process exited%s; the pane is kept by remain-on-exit" % how
    if systemd and active == "failed":
        return DEAD, "unit failed (result: %s)" % (unit.get("Result") or "unknown")
    if session is None:
        if systemd and unit_is_known(unit):
            if active in UNIT_UP_STATES:
                return MISSING, "unit is %s but its tmux session is gone" % active
            if unit_was_started(unit) or unit_enabled(unit):
                return STOPPED, "unit is %s and there is no tmux session" % (active or "inactive")
            return MISSING, "unit was never started and there is no tmux session"
        if systemd:
            return MISSING, "unit is not installed and there is no tmux session"
        return MISSING, "no tmux session"
    if heartbeat_at is None:
        return UNRESPONSIVE, "the pane is alive but the agent has written no heartbeat"
    age = age_of(heartbeat_at, now)
    if age > stale_after:
        return STALE, "last heartbeat %ds ago (stale after %ds)" % (int(age), stale_after)
    return HEALTHY, "heartbeat %ds ago" % max(0, int(age))


def detect_drift(supervisor, runtime, command, unit, session):
    """Reasons (a list, empty when none) why what runs differs from what the roster declares."""
    reasons = []
    pane = session["pane"] if session else None
    if pane is not None and not pane["pane_dead"]:
        current = os.path.basename(pane["pane_current_command"] or "")
        expected = expected_process_names(runtime, command)
        if current not in expected:
            reasons.append("pane runs %r, not the %s runtime (expected %s)%s" % (
                current, runtime, " or ".join(expected),
                "; it fell back to a shell" if current in SHELLS else ""))
    if supervisor == SYSTEMD and unit is not None:
        active = unit.get("ActiveState", "")
        if not unit_is_known(unit):
            reasons.append("unit %s is not installed" % unit.get("Id", "?"))
        elif unit_enabled(unit) is False:
            reasons.append("unit is not enabled (%s), so the agent will not start at boot"
                           % (unit.get("UnitFileState") or "no unit file state"))
        if session is None and active in UNIT_UP_STATES:
            reasons.append("unit is %s but there is no tmux session" % active)
        if session is not None and active not in UNIT_UP_STATES:
            reasons.append("tmux session exists but the unit is %s" % (active or "unknown"))
    return reasons


def session_heartbeat(heartbeat, session):
    """The heartbeat epoch that counts for ``session``; None when absent or older than the session.

    A heartbeat written before the session was created belongs to an earlier run of the agent
    (before a restart or reboot), so it says nothing about the process in the pane now.
    """
    if heartbeat is None:
        return None
    epoch = heartbeat[0]
    created = session.get("created") if session else None
    if created is not None and epoch < created:
        return None
    return epoch


def viewer_of(session, agent_names):
    """The agent a read-only viewer session watches, or None when ``session`` is no viewer.

    A viewer is a session grouped with an agent's session (``tmux new-session -t AGENT``), or a
    session named ``AGENT-view`` or ``AGENT-view<anything>`` (for example ``coder0-view2``).
    """
    name = session["name"]
    if session.get("group_list") and name not in agent_names:
        for member in session["group_list"]:
            if member in agent_names:
                return member
        if session.get("group") in agent_names:
            return session["group"]
    for agent in agent_names:
        if name.startswith(agent + VIEWER_SUFFIX) and name != agent:
            return agent
    return None


def classify_sessions(sessions_by_socket, host_agents, roster_agents, holder_session, holder_socket):
    """Split every session seen into agent, holder, viewer and ad-hoc sessions.

    ``sessions_by_socket``: socket -> {name: session}; ``host_agents``: {name: socket} of the
    agents placed on this host; ``roster_agents``: {name: host} of every roster agent.
    Returns (viewers, adhoc), lists of dicts.
    """
    viewers = []
    adhoc = []
    for socket in sorted(sessions_by_socket):
        for name in sorted(sessions_by_socket[socket]):
            session = sessions_by_socket[socket][name]
            if host_agents.get(name) == socket:
                continue
            if name == holder_session and socket == holder_socket:
                continue
            watched = viewer_of(session, roster_agents)
            if watched is not None:
                viewers.append({"session": name, "socket": socket, "agent": watched})
                continue
            pane = session["pane"]
            adhoc.append({
                "session": name,
                "socket": socket,
                "created": session["created"],
                "attached": session["attached"],
                "pane_count": session["pane_count"],
                "pane_pid": pane["pane_pid"],
                "pane_current_command": pane["pane_current_command"],
                "pane_dead": pane["pane_dead"],
                "roster_host": roster_agents.get(name),
            })
    return viewers, adhoc


def agent_record(agent, tenant_id, supervisor, unit, session, heartbeat, now, stale_after):
    """The report for one agent: identity, raw observations, health and drift."""
    pane = session["pane"] if session else None
    heartbeat_at = session_heartbeat(heartbeat, session)
    health, why = classify_health(supervisor, unit, session, heartbeat_at, now, stale_after)
    reasons = detect_drift(supervisor, agent.get("runtime", ""), agent.get("command", ""), unit, session)
    systemd = supervisor == SYSTEMD and unit is not None
    return {
        "name": agent["name"],
        "tenant_id": tenant_id,
        "host": agent.get("host"),
        "class": agent.get("class"),
        "runtime": agent.get("runtime"),
        "supervisor": supervisor,
        "socket": agent.get("socket", ""),
        "session": agent["name"],
        "unit": fleet_systemd.agent_unit(agent["name"]) if supervisor == SYSTEMD else None,
        "unit_load_state": unit.get("LoadState") if systemd else None,
        "unit_active_state": unit.get("ActiveState") if systemd else None,
        "unit_sub_state": unit.get("SubState") if systemd else None,
        "unit_result": unit.get("Result") if systemd else None,
        "unit_enabled": unit_enabled(unit) if systemd else None,
        "session_exists": session is not None,
        "session_created": session["created"] if session else None,
        "session_attached": session["attached"] if session else None,
        "pane_count": session["pane_count"] if session else 0,
        "pane_id": pane["pane_id"] if pane else None,
        "pane_pid": pane["pane_pid"] if pane else None,
        "pane_current_command": pane["pane_current_command"] if pane else None,
        "pane_dead": pane["pane_dead"] if pane else None,
        "pane_dead_status": pane["pane_dead_status"] if pane else None,
        "pane_dead_signal": pane.get("pane_dead_signal") if pane else None,
        "pane_activity": pane["window_activity"] if pane else None,
        "heartbeat_at": heartbeat[0] if heartbeat else None,
        "heartbeat_age": age_of(heartbeat[0], now) if heartbeat else None,
        "heartbeat_pid": heartbeat[1] if heartbeat else None,
        "heartbeat_current": heartbeat_at is not None,
        "health": health,
        "health_reason": why,
        "drift": bool(reasons),
        "drift_reason": "; ".join(reasons) or None,
        "drift_reasons": reasons,
    }


def summarize(records):
    """Counts per health state, every state present (zero when no agent is in it)."""
    summary = dict((state, 0) for state in HEALTH_STATES)
    for record in records:
        summary[record["health"]] = summary.get(record["health"], 0) + 1
    return summary


def select_agents(roster, host=None, rendered_host=None, local_names=(), rendered=()):
    """The roster agents this host runs, and the rule that picked them.

    1. ``host`` given (playbooks pass ``inventory_hostname``): the agents placed on that host.
    2. else ``rendered_host``, the inventory name fleet_host_config wrote into the rendered
       roster's header on this host: the agents placed on it.
    3. else the agents whose env file was rendered on this host (``rendered``: names with a
       ``fleet/agents/<name>.env``) together with those whose ``host`` is one of this machine's
       names (``local_names``).
    """
    agents = [a for a in roster.get("agents") or [] if isinstance(a, dict) and a.get("name")]
    if host or rendered_host:
        wanted = host or rendered_host
        return [a for a in agents if a.get("host") == wanted], ("host" if host else "rendered roster")
    rendered = set(rendered)
    local = set(n for n in local_names if n)
    return [a for a in agents if a["name"] in rendered or a.get("host") in local], "env files and hostname"


def choose_supervisor(requested, manager_reachable, units_enabled):
    """``systemd`` when asked, or (``auto``) when the fleet user's systemd manager answers and the
    fleet's units are enabled there (fleet_supervisor enables them only in systemd mode; in tmux
    mode they are installed but left disabled); ``tmux`` otherwise."""
    if requested in SUPERVISORS:
        return requested
    return SYSTEMD if manager_reachable and units_enabled else TMUX


def build_report(roster, agents, supervisor, units, sessions_by_socket, heartbeats, now, stale_after,
                 holder_session, holder_socket, host_agents=None):
    """Assemble the module's result from observations (pure).

    ``units``: unit Id -> properties (empty in tmux mode); ``sessions_by_socket``: socket ->
    {name: session}; ``heartbeats``: agent name -> (epoch, pid) or None; ``host_agents``: the
    {name: socket} of every agent of this host (before any ``agents`` filter), for telling
    ad-hoc sessions apart.
    """
    tenant_id = roster.get("tenant") or "default"
    records = []
    for agent in sorted(agents, key=lambda a: a["name"]):
        socket = agent.get("socket", "")
        unit = units.get(fleet_systemd.agent_unit(agent["name"])) if supervisor == SYSTEMD else None
        if supervisor == SYSTEMD and unit is None:
            unit = {"Id": fleet_systemd.agent_unit(agent["name"]), "LoadState": "not-found",
                    "ActiveState": "inactive"}
        session = sessions_by_socket.get(socket, {}).get(agent["name"])
        records.append(agent_record(agent, tenant_id, supervisor, unit, session,
                                    heartbeats.get(agent["name"]), now, stale_after))
    if host_agents is None:
        host_agents = dict((a["name"], a.get("socket", "")) for a in agents)
    roster_agents = dict((a["name"], a.get("host")) for a in roster.get("agents") or [] if a.get("name"))
    viewers, adhoc = classify_sessions(sessions_by_socket, host_agents, roster_agents,
                                       holder_session, holder_socket)
    summary = summarize(records)
    placement = {}
    for agent in roster.get("agents") or []:
        placement.setdefault(agent.get("host"), []).append(agent.get("name"))
    return {
        "tenant_id": tenant_id,
        "supervisor": supervisor,
        "stale_after": stale_after,
        "agents": records,
        "adhoc_sessions": adhoc,
        "viewer_sessions": viewers,
        "holder_session": holder_session,
        "holder_running": holder_session in sessions_by_socket.get(holder_socket, {}),
        "summary": summary,
        "total": len(records),
        "all_healthy": summary[HEALTHY] == len(records),
        "drift": any(r["drift"] for r in records) or bool(adhoc),
        "placement": placement,
    }


# --------------------------------------------------------------------------------------------
# I/O: reading the host (files only here; commands go through the injected ``run``)

def roster_path(mosaic_home):
    return os.path.join(mosaic_home, hostconfig.ROSTER_FILE)


def load_roster(mosaic_home):
    """(normalized roster, rendered host name or None) from ``fleet/roster.yaml``.

    Raises ProbeError when the file is missing or unreadable.
    """
    path = roster_path(mosaic_home)
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise ProbeError("cannot read the rendered roster %s (%s); stand the fleet up first "
                         "(ansible-playbook mosaic.fleet.fleet) or pass mosaic_home" % (path, exc.strerror or exc))
    try:
        roster = hostconfig.load_rendered_roster(text)
    except ValueError as exc:
        raise ProbeError("%s is not a rendered roster: %s" % (path, exc))
    if not isinstance(roster, dict) or not isinstance(roster.get("agents"), list):
        raise ProbeError("%s is not a rendered roster: no agents list" % path)
    return roster, hostconfig.rendered_host(text)


COMMAND_TIMEOUT = 30


def spawn(argv, env_update=None, timeout=COMMAND_TIMEOUT):
    """Run one read-only query: ``(rc, stdout, stderr)`` as text; rc 127 when it cannot start.

    The module uses this rather than ``AnsibleModule.run_command``, which always installs a
    ``preexec_fn``: that makes CPython fork() the whole module process instead of vfork(), which
    costs about as much as the tmux query itself (benchmarks/fleet_ps.py measures it). The
    queries here need nothing run_command adds: a fixed argv, no shell, no input, no secrets.
    A wedged tmux server or manager cannot hang the module: past ``timeout`` seconds the command
    is killed and reported with rc -9.
    """
    env = None
    if env_update:
        env = dict(os.environ)
        env.update(env_update)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, close_fds=True)
    except OSError as exc:
        return 127, "", "cannot run %s: %s" % (argv[0], exc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err = (err or b"") + (b"\n%s: timed out after %ds" % (argv[0].encode(), timeout))
        return -9, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _read_text(path, limit=256):
    """The first ``limit`` bytes of a small file as text, or None (raw os calls: one per agent)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, limit).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def resolve_identity(params):
    """``((name, uid, home, as_self), mosaic_home)`` for the ``user``/``mosaic_home`` options.

    The home is the passwd entry's even when running as the fleet user with another ``$HOME``
    (:func:`fileops.resolve_fleet_user` without environ): :func:`units_enabled` must look where
    the systemd user manager looks, and a tmux command run as another user gets that home.
    """
    entry, home, mosaic_home, as_self = fileops.resolve_fleet_user(params)
    if entry is None:
        raise ProbeError("fleet user %r does not exist" % params.get("user"))
    return (entry.pw_name, entry.pw_uid, home, as_self), mosaic_home


def resolve_user(user=None):
    """(name, uid, home, as_self) of the fleet user (default: the user running the module)."""
    return resolve_identity({"user": user})[0]


def local_host_names(hostname):
    """The names this machine may carry in a roster: its hostname and short hostname."""
    names = [hostname]
    if hostname and "." in hostname:
        names.append(hostname.split(".", 1)[0])
    return names


def rendered_agents(mosaic_home):
    """Names of the agents whose env file fleet_host_config rendered on this host."""
    try:
        entries = os.listdir(os.path.join(mosaic_home, hostconfig.AGENTS_DIR))
    except OSError:
        return set()
    names = set()
    for entry in entries:
        agent = hostconfig.agent_of_file(entry)
        if agent and entry.endswith(hostconfig.ENV_SUFFIX):
            names.add(agent)
    return names


def units_enabled(home, agent_names):
    """Whether the holder unit or any agent unit is enabled for the user (its wants link exists)."""
    try:
        links = set(os.listdir(os.path.join(home, USER_UNIT_DIR, WANTS_DIR)))
    except OSError:
        return False
    return fleet_systemd.HOLDER_UNIT in links or any(fleet_systemd.agent_unit(n) in links for n in agent_names)


def _only_host(agents):
    hosts = set(a.get("host") for a in agents)
    return hosts.pop() if len(hosts) == 1 else None


def probe(roster, run, identity, mosaic_home, host=None, rendered_host_name=None, socket=None,
          stale_after=DEFAULT_STALE_AFTER, only=None, holder_session=None, supervisor="auto",
          tmux_tmpdir=None, hostname=None, tmux_binary=None, systemctl_binary=None,
          runuser_binary="runuser", now=None, manager_reachable=None):
    """Observe this host and return the report (see :func:`build_report`) plus ``commands``.

    ``identity``: :func:`resolve_user`'s tuple; ``manager_reachable`` overrides the check for the
    user manager's bus socket (tests). ``run(argv, env)`` runs one command and returns
    ``(rc, stdout, stderr)``; ``env`` holds variables to add to the environment (or None).
    Commands: at most one ``systemctl --user show`` and one ``tmux list-panes -a`` per distinct
    socket, whatever the number of agents; the rest are file reads.
    """
    name, uid, home, as_self = identity
    warnings = []
    commands = []

    host_agents_all, rule = select_agents(
        roster, host=host, rendered_host=rendered_host_name,
        local_names=local_host_names(hostname or ""),
        rendered=() if (host or rendered_host_name) else rendered_agents(mosaic_home))
    if socket is not None:
        host_agents_all = [dict(a, socket=socket) for a in host_agents_all]
    wanted = set(only) if only else None
    agents = [a for a in host_agents_all if wanted is None or a["name"] in wanted]

    tmux_conf = roster.get("tmux") or {}
    holder_socket = socket if socket is not None else (tmux_conf.get("socket_name") or "")
    holder_session = holder_session or tmux_conf.get("holder_session") or DEFAULT_HOLDER_SESSION

    chosen = supervisor
    if supervisor not in SUPERVISORS:
        reachable = os.path.exists(fleet_systemd.bus_path(uid)) if manager_reachable is None else manager_reachable
        enabled = units_enabled(home, [a["name"] for a in host_agents_all])
        chosen = choose_supervisor(supervisor, reachable, enabled)
    if supervisor not in SUPERVISORS and enabled and not reachable:
        warnings.append("the fleet's units are enabled but %s's systemd user manager is not running "
                        "(is linger enabled?); reporting from tmux alone" % name)
    units = {}
    if chosen == SYSTEMD and agents:
        argv = show_units_argv(name, as_self, [fleet_systemd.agent_unit(a["name"]) for a in agents],
                               binary=systemctl_binary)
        commands.append(argv)
        rc, out, err = run(argv, fleet_systemd.user_env(uid) if as_self else None)
        if rc == 0:
            units = parse_units(out)
        elif supervisor == SYSTEMD:
            raise ProbeError("systemctl --user show failed for %s (rc=%d): %s" % (name, rc, (err or out).strip()))
        else:
            warnings.append("systemctl --user show failed (rc=%d: %s); reporting from tmux alone"
                            % (rc, (err or out).strip()))
            chosen = TMUX

    sockets = sorted(set([a.get("socket", "") for a in host_agents_all] + [holder_socket]))
    sessions_by_socket = {}
    for sock in sockets:
        argv = list_panes_argv(sock, binary=tmux_binary)
        env = None
        if not as_self:
            argv = as_user_argv(name, home, tmux_tmpdir, argv, runuser=runuser_binary)
        elif tmux_tmpdir:
            env = {"TMUX_TMPDIR": tmux_tmpdir}
        commands.append(argv)
        rc, out, err = run(argv, env)
        if rc == 0:
            sessions_by_socket[sock] = group_sessions(parse_panes(out))
        elif is_no_server(rc, err):
            sessions_by_socket[sock] = {}
        else:
            raise ProbeError("tmux list-panes on socket %r failed (rc=%d): %s"
                             % (sock or "default", rc, (err or out).strip()))

    run_dir = os.path.join(mosaic_home, "fleet", "run", "")
    heartbeats = {}
    for agent in agents:
        heartbeats[agent["name"]] = parse_heartbeat(_read_text(run_dir + agent["name"] + ".heartbeat"))

    now = time.time() if now is None else now
    report = build_report(roster, agents, chosen, units, sessions_by_socket, heartbeats, now, stale_after,
                          holder_session, holder_socket,
                          host_agents=dict((a["name"], a.get("socket", "")) for a in host_agents_all))
    report.update({
        "user": name,
        "mosaic_home": mosaic_home,
        "host": host or rendered_host_name or _only_host(agents),
        "host_rule": rule,
        "sockets": sockets,
        "commands": commands,
        "warnings": warnings,
    })
    return report
