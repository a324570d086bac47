# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Supervisor planning: from observed state to the few commands that make a host match.

Pure functions only; ``fleet_supervisor`` observes (one ``systemctl --user show`` or one
``tmux list-panes -a`` per socket), asks these functions what to do, and runs the result.
"""

from __future__ import annotations

from ansible_collections.mosaic.fleet.plugins.module_utils.connector import CONNECTOR_TOOL
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import CONNECTOR_SESSION, DEFAULT_HOLDER_SESSION
from ansible_collections.mosaic.fleet.plugins.module_utils.systemd import (
    CONNECTOR_UNIT, ENABLED_STATES, HOLDER_UNIT, NO_ENABLE_STATES, agent_unit)
from ansible_collections.mosaic.fleet.plugins.module_utils.tmux import list_panes_argv, parse_panes as parse_pane_lines
from ansible_collections.mosaic.fleet.plugins.module_utils.tmux import tmux_argv

AUTO = "auto"
SYSTEMD = "systemd"
TMUX = "tmux"
MODES = (AUTO, SYSTEMD, TMUX)
SHOW_PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState", "NeedDaemonReload")
TMUX_MODE_WARNING = ("mosaic.fleet runs these agents under plain tmux (no systemd user manager on this host): "
                     "they are not restarted when they die and do not come back after a reboot.")
# The connector in tmux mode: its session runs `connector run` again 5 s after it ends (the
# tmux-mode counterpart of the unit's Restart=on-failure; no start limit). "$0" is the tool's path.
CONNECTOR_LOOP = 'while :; do "$0" run; sleep 5; done'
# What fleet_supervisor asks tmux about each pane (parsed by ``tmux.parse_panes``).
SESSION_FIELDS = ("session_name", "pane_dead")


def choose_mode(requested, systemctl_found, systemd_booted, user_manager_up, units_enabled=True):
    """THE ``auto`` supervisor rule: ``systemd`` when a user manager is reachable or can be
    started (systemd is PID 1), else ``tmux``.

    ``units_enabled``: False when the fleet's units are known not to be enabled for the user.
    fleet_supervisor enables them only in systemd mode (in tmux mode they are installed but left
    disabled), so fleet_ps, reading how the fleet runs, passes what it finds.
    """
    if requested != AUTO:
        return requested
    if systemctl_found and (user_manager_up or systemd_booted) and units_enabled:
        return SYSTEMD
    return TMUX


def mode_warning(requested, mode, absent):
    """The warning for running agents in ``mode``: only when ``auto`` fell back to tmux (no
    systemd user manager); a tmux supervisor chosen explicitly is no surprise."""
    if requested == AUTO and mode == TMUX and not absent:
        return TMUX_MODE_WARNING
    return None


def unit_names(agents):
    return [agent_unit(name) for name in agents]


def unique(names):
    """``names`` without repeats, first occurrence order."""
    seen = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def _is_up(state):
    return state.get("ActiveState") == "active" and state.get("UnitFileState", "") in NO_ENABLE_STATES


def _is_down(state):
    return state.get("ActiveState", "inactive") in ("inactive", "failed") \
        and state.get("UnitFileState", "") not in ENABLED_STATES


def _connector_outcome(start, restart, stop):
    """The ``connector`` entry of a plan: what happens to the connector, or None (nothing)."""
    return "started" if start else "restarted" if restart else "stopped" if stop else None


def plan_systemd(states, agents, restart=(), prune=(), daemon_reload=False, restart_holder=False, absent=False,
                 connector=None, restart_connector=False):
    """What to do on a systemd host.

    ``states``: unit name -> properties (from ``systemctl show``) for the holder, every agent,
    every pruned agent and the connector unit. ``connector``: True when the connector runs here
    (the host has a ``fleet/connector.json``), False when it must not, None to leave it as it is
    (a take-down stops it all the same); ``restart_connector``: its configuration changed. Returns a
    dict of ``daemon_reload`` (bool), ``enable`` (units for ONE ``enable --now``), ``restart``
    (units for one ``restart``), ``stop`` (units for one ``disable --now``), ``reset_failed`` (the
    failed units among ``enable``, for one ``reset-failed`` first: a unit the crash-loop guard
    holds back starts again), the agent names
    ``started``, ``restarted``, ``stopped`` and ``connector`` (``started``, ``restarted``,
    ``stopped`` or None).
    """
    agents = unique(agents)
    if absent:
        prune, agents, restart = unique(list(agents) + list(prune)), [], ()
    prune = [name for name in unique(prune) if name not in agents]
    wanted = ([HOLDER_UNIT] if agents else []) + unit_names(agents)
    if absent:
        wanted_down = unit_names(prune) + [HOLDER_UNIT]
    else:
        wanted_down = unit_names(prune)

    def state(unit):
        return states.get(unit, {})

    keep = connector is None and not absent
    connector = bool(connector) and not absent
    wanted_connector = [CONNECTOR_UNIT] if connector else []
    reload_needed = bool(daemon_reload) or any(
        state(u).get("NeedDaemonReload") == "yes" or state(u).get("LoadState") == "not-found"
        for u in wanted + wanted_connector)
    enable = [u for u in wanted + wanted_connector if not _is_up(state(u))]
    started = [n for n in agents if state(agent_unit(n)).get("ActiveState") != "active"]
    # A unit that `enable --now` starts runs the new config already: restarting it would start it twice.
    restarted = [n for n in unique(restart) if n in agents and n not in started]
    restart_units = unit_names(restarted)
    if restart_holder and agents and state(HOLDER_UNIT).get("ActiveState") == "active":
        # Agents are PartOf the holder: restarting it restarts every active agent with it.
        restart_units = [HOLDER_UNIT]
        restarted = [n for n in agents if n not in started]
    connector_started = connector and state(CONNECTOR_UNIT).get("ActiveState") != "active"
    connector_restarted = connector and bool(restart_connector) and not connector_started
    if connector_restarted:
        restart_units = restart_units + [CONNECTOR_UNIT]
    if not connector and not keep:
        wanted_down = [CONNECTOR_UNIT] + wanted_down
    stop = [u for u in wanted_down if not _is_down(state(u))]
    stopped = [n for n in prune if agent_unit(n) in stop]
    reset_failed = [u for u in enable if state(u).get("ActiveState") == "failed"]
    return dict(daemon_reload=reload_needed and bool(enable or restart_units), enable=enable, reset_failed=reset_failed,
                restart=restart_units, stop=stop, started=started, restarted=restarted, stopped=stopped,
                connector=_connector_outcome(connector_started, connector_restarted, CONNECTOR_UNIT in stop))


def list_sessions_argv(socket):
    """``tmux list-panes -a`` with the :data:`SESSION_FIELDS` of every pane on ``socket``."""
    return list_panes_argv(socket, fields=SESSION_FIELDS)


def parse_panes(text):
    """:func:`list_sessions_argv`'s output -> {session: alive (any live pane)}."""
    sessions = {}
    for pane in parse_pane_lines(text, SESSION_FIELDS):
        name = pane["session_name"]
        if name:
            sessions[name] = sessions.get(name, False) or not pane["pane_dead"]
    return sessions


def connector_session_argv(socket, mosaic_home):
    """``tmux new-session`` for the connector in tmux mode: session :data:`CONNECTOR_SESSION` on
    ``socket`` running :data:`CONNECTOR_LOOP` with the connector tool of ``mosaic_home``."""
    tool = "%s/%s" % (mosaic_home.rstrip("/"), CONNECTOR_TOOL)
    return tmux_argv(socket, "new-session", "-d", "-s", CONNECTOR_SESSION, "-x", "80", "-y", "24", "--",
                     "env", "MOSAIC_HOME=%s" % mosaic_home, "sh", "-c", CONNECTOR_LOOP, tool)


def plan_tmux(sessions, agents, restart=(), prune=(), holder=("", DEFAULT_HOLDER_SESSION), absent=False,
              connector=None, restart_connector=False):
    """What to do on a host without a systemd user manager.

    ``sessions``: socket -> {session: alive} for every socket of interest; ``agents``: list of
    ``(name, socket)`` placed here; ``prune``: names to stop (looked for on every socket of
    interest); ``holder``: ``(socket, session)``; ``connector``/``restart_connector``: as
    :func:`plan_systemd` (its session is :data:`CONNECTOR_SESSION` on the holder's socket).
    Returns ``kill`` (``[(socket, name)]``), ``start_holder``, ``stop_holder`` and
    ``start_connector`` (bools), ``start`` (names, in order), the agent names ``started``,
    ``restarted``, ``stopped`` and ``connector`` (``started``, ``restarted``, ``stopped`` or None).
    """
    holder_socket, holder_session = holder
    placed = dict(agents)
    if absent:
        prune = unique([name for name, _socket in agents] + list(prune))
        placed, restart = {}, ()
    prune = [n for n in unique(prune) if n not in placed]

    def alive(socket, name):
        return sessions.get(socket, {}).get(name)

    kill, stopped = [], []
    for name in prune:
        for socket in sorted(sessions):
            if name in sessions[socket]:
                kill.append((socket, name))
                if name not in stopped:
                    stopped.append(name)
    restarted = [n for n in unique(restart) if n in placed and alive(placed[n], n)]
    kill += [(placed[n], n) for n in restarted]
    start = [n for n in placed if n in restarted or not alive(placed[n], n)]
    keep = connector is None and not absent
    connector = bool(connector) and not absent
    present = CONNECTOR_SESSION in sessions.get(holder_socket, {})
    up = alive(holder_socket, CONNECTOR_SESSION)
    connector_restarted = connector and up and bool(restart_connector)
    connector_stopped = not connector and not keep and present
    if connector_restarted or connector_stopped or (connector and present and not up):
        kill.append((holder_socket, CONNECTOR_SESSION))
    start_connector = connector and (connector_restarted or not up)
    return dict(
        kill=kill,
        start_connector=start_connector,
        connector=_connector_outcome(start_connector and not connector_restarted, connector_restarted,
                                     connector_stopped),
        start_holder=bool(placed) and not alive(holder_socket, holder_session),
        stop_holder=bool(absent) and holder_session in sessions.get(holder_socket, {}),
        start=start,
        started=[n for n in start if n not in restarted],
        restarted=restarted,
        stopped=stopped,
    )
