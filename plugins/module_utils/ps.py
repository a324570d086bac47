# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_ps: what the host's supervisor, tmux and heartbeats say means (pure).

This file is pure: argv builders, THE parser of ``tmux list-panes`` output (fleet_supervisor's
too), the parser of ``systemctl show`` output, and the health/drift classification, all driven
by data in the unit tests. Reading the host (the commands, the roster and heartbeat files) is
``ps_probe.py``'s; who the fleet user is and how a command runs, ``host.py``'s.

Health (ARCHITECTURE.md "Health"), checked in this order:

``crashloop``     the unit failed and its crash-loop guard (start limit) holds it back
``dead``          the agent pane's process exited (remain-on-exit), or the unit failed
``stopped``       no session; the unit is inactive, not failed, and was started or is enabled
``missing``       no session otherwise (tmux supervisor; unit not installed, never started, or
                  still active although its session is gone)
``waiting``       the agent waits on a human: its screen shows a dialog or banner the runtime
                  table lists (permission prompt, trust or login dialog, usage limit), or its last
                  notification since its last activity is of a type the table lists; the reason says which
``starting``      the pane is alive, no heartbeat yet, and the session is younger than the agent's
                  supervision ``grace`` (default 120 s): not yet unresponsive
``unresponsive``  the pane is alive but the agent never wrote a heartbeat (in this session)
``stale``         the last heartbeat is older than ``stale_after`` seconds: it stopped answering
                  mid-work (a runtime that beats only at turn ends, ``health.idle`` ``turn_end`` in
                  the table, is idle, so healthy, while its pane has not changed since its last beat
                  or its start, ``settle_seconds`` allowed for the last redraw)
``healthy``       the pane is alive and the heartbeat is at most ``stale_after`` seconds old (or idle
                  after a turn, above)

The runtime's metering sidecar (``metering.py``) adds model, context and spend to each record.
"""

from __future__ import annotations

import os
import shlex

from ansible_collections.mosaic.fleet.plugins.module_utils import contract
from ansible_collections.mosaic.fleet.plugins.module_utils import metering
from ansible_collections.mosaic.fleet.plugins.module_utils import runtime_table
from ansible_collections.mosaic.fleet.plugins.module_utils import runtimes as fleet_runtimes
from ansible_collections.mosaic.fleet.plugins.module_utils import supervision as fleet_supervision
from ansible_collections.mosaic.fleet.plugins.module_utils import supervisor as fleet_supervisor
from ansible_collections.mosaic.fleet.plugins.module_utils import systemd as fleet_systemd
# The pane parser is tmux.py's (fleet_supervisor reads panes through it too); re-exported here.
from ansible_collections.mosaic.fleet.plugins.module_utils.tmux import (  # noqa: F401 pylint: disable=unused-import
    PANE_FIELDS, PANE_FORMAT, is_no_server, list_panes_argv, parse_panes, to_int)

HEALTHY = "healthy"
STALE = "stale"
UNRESPONSIVE = "unresponsive"
DEAD = "dead"
STOPPED = "stopped"
MISSING = "missing"
WAITING = "waiting"
HEALTH_STATES = (HEALTHY, STALE, UNRESPONSIVE, DEAD, STOPPED, MISSING, WAITING)
# The agent's unit failed and its crash-loop guard (the start limit) holds it back.
CRASHLOOP = fleet_supervision.CRASHLOOP
# A new session without a heartbeat yet, within its grace period.
STARTING = "starting"
HEALTH_STATES = HEALTH_STATES + (CRASHLOOP, STARTING)

SYSTEMD = fleet_supervisor.SYSTEMD
TMUX = fleet_supervisor.TMUX
SUPERVISORS = (SYSTEMD, TMUX)

DEFAULT_STALE_AFTER = 120

# The process names a healthy pane may show as its foreground command, per runtime: the
# process_names of THE runtime table (framework/fleet/runtimes.json). pi and codex are node
# programs, so a pane running them usually shows `node`; an agent that exited back to a shell
# shows `bash`, which is drift.
RUNTIME_PROCESS_NAMES = dict((name, fleet_runtimes.process_names(runtime_table.TABLE, name))
                             for name in fleet_runtimes.runtime_names(runtime_table.TABLE))
# What each runtime's health signals are (THE runtime table's ``health``): ``idle`` ``beats`` (it
# beats while idle) or ``turn_end`` (only at turn ends), ``settle_seconds``, ``waiting`` patterns.
RUNTIME_HEALTH = dict((name, runtime_table.TABLE["runtimes"][name].get("health") or {})
                      for name in fleet_runtimes.runtime_names(runtime_table.TABLE))
TURN_END = "turn_end"
DEFAULT_SETTLE_SECONDS = 30
# How many of a pane's last lines fleet_ps reads for the waiting patterns (the visible screen).
WAITING_SCREEN_LINES = 50
SHELLS = frozenset(("bash", "sh", "dash", "zsh", "fish", "ksh", "mksh", "tcsh", "csh", "busybox"))

# Unit states in which the agent's session is supposed to exist.
UNIT_UP_STATES = frozenset(("active", "activating", "reloading", "refreshing"))
UNIT_ENABLED_STATES = fleet_systemd.ENABLED_STATES

UNIT_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "Result",
                   "ActiveEnterTimestampMonotonic") + fleet_supervision.UNIT_PROPERTIES

VIEWER_SUFFIX = contract.VIEWER_SUFFIX   # THE viewer naming rule is contract.py's


# --------------------------------------------------------------------------------------------
# argv


def show_units_argv(user, as_self, units, binary=None):
    """One ``systemctl --user show`` for all ``units``."""
    args = ["show"]
    for prop in UNIT_PROPERTIES:
        args += ["-p", prop]
    return fleet_systemd.systemctl_user_argv(user, as_self, *(args + list(units)), binary=binary)


# --------------------------------------------------------------------------------------------
# parsing


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
    pid = to_int(fields[1]) if len(fields) > 1 else None
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
    return bool(unit) and (to_int(unit.get("ActiveEnterTimestampMonotonic")) or 0) > 0


def age_of(epoch, now):
    """Seconds from ``epoch`` to ``now``, to a tenth: the figure reported AND the one judged."""
    return round(now - epoch, 1)


def classify_health(supervisor, unit, session, heartbeat_at, now, stale_after, waiting=None, idle_since=None,
                    grace=0):
    """(health, reason) of one agent.

    ``unit``: its ``systemctl show`` properties (None in tmux mode or when unknown);
    ``session``: its tmux session from :func:`group_sessions` (None when absent);
    ``heartbeat_at``: epoch of the last heartbeat that belongs to this session, or None;
    ``waiting``: why it waits on a human (:func:`waiting_reason`), or None;
    ``idle_since``: for a runtime that beats only at turn ends, the beat (or start) since which
    its pane has not changed (:func:`turn_end_idle_since`), or None;
    ``grace``: seconds after its session's start during which no heartbeat is not yet unresponsive.
    """
    systemd = supervisor == SYSTEMD and unit is not None
    active = unit.get("ActiveState", "") if systemd else None
    pane = session["pane"] if session else None
    held = fleet_supervision.crashloop_reason(unit) if systemd else None
    if held:
        return CRASHLOOP, held
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
    if waiting:
        return WAITING, waiting
    if heartbeat_at is None and idle_since is None:
        started = session.get("created")
        if grace and started is not None and now - started < grace:
            return STARTING, "started %ds ago, no heartbeat yet (grace %ds)" % (max(0, int(now - started)), grace)
        return UNRESPONSIVE, "the pane is alive but the agent has written no heartbeat"
    age = age_of(heartbeat_at, now) if heartbeat_at is not None else None
    if idle_since is not None and (age is None or age > stale_after):
        what = "its last turn ended" if heartbeat_at is not None and idle_since == heartbeat_at else "it started"
        return HEALTHY, "idle since %s %ds ago (the pane has not changed since)" % (
            what, max(0, int(age_of(idle_since, now))))
    if age > stale_after:
        return STALE, "last heartbeat %ds ago (stale after %ds)" % (int(age), stale_after)
    return HEALTHY, "heartbeat %ds ago" % max(0, int(age))


def waiting_reason(runtime, screen, notice, session):
    """Why the agent waits on a human, from THE runtime table's ``health.waiting`` patterns: its
    screen (the pane's last lines, None when not read) first, then its last notification (a
    ``metering.parse_notice`` record written since the session started). None when it does not."""
    spec = RUNTIME_HEALTH.get(runtime, {}).get("waiting") or {}
    reason = metering.screen_waiting(spec.get("screen"), screen, spec.get("tail_lines"))
    if reason:
        return reason
    return metering.notice_waiting(spec.get("notifications"), notice, session.get("created") if session else None)


def turn_end_idle_since(runtime, session, heartbeat_at):
    """For a runtime that beats only at turn ends (table ``health.idle`` ``turn_end``): the
    time since which it is idle, i.e. its last beat (else its session's start) when the pane has
    not changed later than ``settle_seconds`` after it; None otherwise (or for other runtimes).
    Codex tells us only that a turn ended: a live process whose screen stays as the turn left
    it is idle at its prompt, so answering; a screen that changed since is a turn in progress,
    judged by the beat's age like any other."""
    health = RUNTIME_HEALTH.get(runtime, {})
    if health.get("idle") != TURN_END or not session:
        return None
    pane = session["pane"]
    if pane["pane_dead"]:
        return None
    reference = heartbeat_at if heartbeat_at is not None else session.get("created")
    activity = pane.get("window_activity")
    if reference is None or activity is None:
        return None
    settle = health.get("settle_seconds", DEFAULT_SETTLE_SECONDS)
    return reference if activity <= reference + settle else None


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
        if session is not None and active not in UNIT_UP_STATES and not (pane and pane["pane_dead"]):
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

    A viewer is a session grouped with an agent's session (``tmux new-session -t AGENT``, what
    ``tools/fleet/watch`` does), or a session named by the viewer rule, ``AGENT-view<anything>``
    (``contract.viewed_agent``; for example ``coder0-view-4711``, ``coder0-view2``).
    """
    name = session["name"]
    if session.get("group_list") and name not in agent_names:
        for member in session["group_list"]:
            if member in agent_names:
                return member
        if session.get("group") in agent_names:
            return session["group"]
    return contract.viewed_agent(name, agent_names)


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
            if name in (holder_session, contract.CONNECTOR_SESSION) and socket == holder_socket:
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


def agent_record(agent, tenant_id, supervisor, unit, session, heartbeat, now, stale_after, meter=None,
                 notice=None, screen=None):
    """The report for one agent: identity, raw observations, health, drift and metering.

    ``meter``/``notice``: the parsed metering and notice sidecars (``metering.py``) or None;
    ``screen``: the pane's last lines (for the waiting patterns) or None."""
    pane = session["pane"] if session else None
    heartbeat_at = session_heartbeat(heartbeat, session)
    runtime = agent.get("runtime", "")
    waiting = waiting_reason(runtime, screen, notice, session) if session and not pane["pane_dead"] else None
    idle_since = turn_end_idle_since(runtime, session, heartbeat_at)
    grace = fleet_supervision.grace_of(agent)
    health, why = classify_health(supervisor, unit, session, heartbeat_at, now, stale_after,
                                  waiting=waiting, idle_since=idle_since, grace=grace)
    reasons = detect_drift(supervisor, agent.get("runtime", ""), agent.get("command", ""), unit, session)
    systemd = supervisor == SYSTEMD and unit is not None
    record = {
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
        "waiting_reason": waiting if health == WAITING else None,
    }
    record.update(metering.record_fields(meter if meter and session_heartbeat((meter["at"], None), session) else None))
    return record


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
    """The supervisor that runs the fleet, as fleet_ps reads it: ``systemd`` when asked, or
    (``auto``) when the fleet user's systemd manager answers and the fleet's units are enabled
    there; ``tmux`` otherwise. The one ``auto`` rule is ``supervisor.choose_mode``'s."""
    if requested not in SUPERVISORS:
        requested = fleet_supervisor.AUTO
    return fleet_supervisor.choose_mode(requested, True, False, manager_reachable, units_enabled)


def build_report(roster, agents, supervisor, units, sessions_by_socket, heartbeats, now, stale_after,
                 holder_session, holder_socket, host_agents=None, meters=None, notices=None, screens=None):
    """Assemble the module's result from observations (pure).

    ``units``: unit Id -> properties (empty in tmux mode); ``sessions_by_socket``: socket ->
    {name: session}; ``heartbeats``: agent name -> (epoch, pid) or None; ``host_agents``: the
    {name: socket} of every agent of this host (before any ``agents`` filter), for telling
    ad-hoc sessions apart; ``meters``/``notices``: agent name -> parsed sidecar or None;
    ``screens``: agent name -> the pane's last lines (waiting patterns).
    """
    meters, notices, screens = meters or {}, notices or {}, screens or {}
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
                                    heartbeats.get(agent["name"]), now, stale_after,
                                    meter=meters.get(agent["name"]), notice=notices.get(agent["name"]),
                                    screen=screens.get(agent["name"])))
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


def local_host_names(hostname):
    """The names this machine may carry in a roster: its hostname and short hostname."""
    names = [hostname]
    if hostname and "." in hostname:
        names.append(hostname.split(".", 1)[0])
    return names
