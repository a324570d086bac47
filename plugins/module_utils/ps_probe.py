# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_ps's reading of the host: the rendered roster, the commands, the heartbeat files.

:func:`probe` issues a CONSTANT number of commands whatever the number of agents (one
``systemctl --user show`` for every unit, one ``tmux list-panes -a`` per distinct socket) plus
plain file reads, through a ``run(argv, env) -> (rc, stdout, stderr)`` callable that the module
supplies (``host.spawn``) and the benchmark and tests wrap. What the observations mean is pure
and lives in ``ps.py``; who the fleet user is and how commands run, in ``host.py``.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from ansible_collections.mosaic.fleet.plugins.module_utils import host as fleet_host
from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig
from ansible_collections.mosaic.fleet.plugins.module_utils import supervision as fleet_supervision
from ansible_collections.mosaic.fleet.plugins.module_utils import connector as fleet_connector
from ansible_collections.mosaic.fleet.plugins.module_utils import contract
from ansible_collections.mosaic.fleet.plugins.module_utils import metering
from ansible_collections.mosaic.fleet.plugins.module_utils import systemd as fleet_systemd
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import DEFAULT_HOLDER_SESSION
from ansible_collections.mosaic.fleet.plugins.module_utils.ps import (
    DEFAULT_STALE_AFTER, RUNTIME_HEALTH, SUPERVISORS, SYSTEMD, TMUX, WAITING_SCREEN_LINES, build_report, choose_supervisor, group_sessions,
    local_host_names, parse_heartbeat, parse_units, select_agents, show_units_argv)
from ansible_collections.mosaic.fleet.plugins.module_utils.tmux import (
    capture_screens_argv, is_no_server, list_panes_argv, parse_panes, parse_screens)

# The most screen lines fleet_ps returns per agent (``lines``).
MAX_SCREEN_LINES = 2000

# Where `systemctl --user enable` links the fleet's units (their [Install] WantedBy=default.target).
USER_UNIT_DIR = fleet_systemd.USER_UNIT_DIR
WANTS_DIR = "default.target.wants"


class ProbeError(fleet_host.HostError):
    """A problem that makes the report impossible (no roster, unknown user)."""


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


def probe_connector(run, mosaic_home, commands):
    """The connector's health on this host (``connector health``: kind, state, reason), or None
    where there is none to run (no ``fleet/connector.json``: kind tmux, or not the orchestrator's
    host). A health command that does not answer is ``unreachable`` with its error as the reason."""
    if not os.path.exists(os.path.join(mosaic_home, fleet_connector.CONNECTOR_FILE)):
        return None
    argv = [os.path.join(mosaic_home, fleet_connector.CONNECTOR_TOOL), "health"]
    commands.append(argv)
    rc, out, err = run(argv, {"MOSAIC_HOME": mosaic_home})
    try:
        answer = json.loads((out or "").strip().splitlines()[-1])
        return {"kind": str(answer["kind"]), "state": str(answer["state"]), "reason": str(answer["reason"])}
    except (ValueError, IndexError, KeyError, TypeError):
        return {"kind": None, "state": "unreachable",
                "reason": "connector health failed (rc=%s): %s" % (rc, ((err or out) or "").strip()[-300:])}


def _has_screen_patterns(agent):
    return bool((RUNTIME_HEALTH.get(agent.get("runtime", ""), {}).get("waiting") or {}).get("screen"))


def probe(roster, run, identity, mosaic_home, host=None, rendered_host_name=None, socket=None,
          stale_after=DEFAULT_STALE_AFTER, only=None, holder_session=None, supervisor="auto",
          tmux_tmpdir=None, hostname=None, tmux_binary=None, systemctl_binary=None,
          runuser_binary="runuser", now=None, manager_reachable=None, screen_lines=0):
    """Observe this host and return the report (see :func:`build_report`) plus ``commands``.

    ``identity``: a ``host.FleetUser`` (name, uid, home, as_self); ``manager_reachable`` overrides the check for the
    user manager's bus socket (tests). ``run(argv, env)`` runs one command and returns
    ``(rc, stdout, stderr)``; ``env`` holds variables to add to the environment (or None).
    Commands: at most one ``systemctl --user show`` and one ``tmux list-panes -a`` per distinct
    socket, whatever the number of agents; the rest are file reads. ``screen_lines`` > 0 adds
    one ``tmux`` call per socket that has agent sessions (:func:`tmux.capture_screens_argv`) and
    a ``screen`` (the pane's last lines, or None without a session) to every agent record. The
    same call (``WAITING_SCREEN_LINES`` lines when ``screen_lines`` is 0) is made for the agents
    whose runtime has screen patterns for ``waiting`` (the runtime table), whatever ``lines``.
    """
    if not 0 <= screen_lines <= MAX_SCREEN_LINES:
        raise ProbeError("lines must be between 0 and %d" % MAX_SCREEN_LINES)
    name, uid, home, as_self = identity
    warnings = []
    commands = []

    host_agents_all, rule = select_agents(
        roster, host=host, rendered_host=rendered_host_name,
        local_names=local_host_names(hostname or ""),
        rendered=() if (host or rendered_host_name) else fleet_host.rendered_agents(mosaic_home))
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
    screens = {}
    for sock in sockets:
        argv = list_panes_argv(sock, binary=tmux_binary)
        env = None
        if not as_self:
            argv = fleet_host.as_user_argv(name, home, tmux_tmpdir, argv, runuser=runuser_binary)
        elif tmux_tmpdir:
            env = {"TMUX_TMPDIR": tmux_tmpdir}
        commands.append(argv)
        rc, out, err = run(argv, env)
        if rc == 0:
            sessions_by_socket[sock] = group_sessions(parse_panes(out))
            present = [a["name"] for a in agents
                       if a.get("socket", "") == sock and a["name"] in sessions_by_socket[sock]
                       and (screen_lines or (_has_screen_patterns(a)
                                             and not sessions_by_socket[sock][a["name"]]["pane"]["pane_dead"]))]
            if present:
                marker = "mosaic-screen-" + uuid.uuid4().hex
                argv = capture_screens_argv(sock, present, max(screen_lines, WAITING_SCREEN_LINES), marker,
                                            binary=tmux_binary)
                if not as_self:
                    argv = fleet_host.as_user_argv(name, home, tmux_tmpdir, argv, runuser=runuser_binary)
                commands.append(argv)
                rc, out, err = run(argv, env)
                screens.update(parse_screens(out, marker, max(screen_lines, WAITING_SCREEN_LINES)))
                if rc != 0:
                    warnings.append("tmux capture-pane on socket %r failed (rc=%d: %s); some screens are missing"
                                    % (sock or "default", rc, (err or out).strip()))
        elif is_no_server(rc, err):
            sessions_by_socket[sock] = {}
        else:
            raise ProbeError("tmux list-panes on socket %r failed (rc=%d): %s"
                             % (sock or "default", rc, (err or out).strip()))

    # What the framework's scripts left about each agent's supervision (fleet/run/<name>.exit, ...).
    states = dict((a["name"], fleet_supervision.read_state(fleet_host.read_head, mosaic_home, a["name"]))
                  for a in agents)
    heartbeats = {}
    meters = {}
    notices = {}
    for agent in agents:
        path = os.path.join(mosaic_home, contract.heartbeat_file(agent["name"]))
        heartbeats[agent["name"]] = parse_heartbeat(fleet_host.read_head(path))
        meters[agent["name"]] = metering.parse_meter(
            fleet_host.read_head(os.path.join(mosaic_home, contract.meter_file(agent["name"])), 8192))
        notices[agent["name"]] = metering.parse_notice(
            fleet_host.read_head(os.path.join(mosaic_home, contract.notice_file(agent["name"])), 4096))

    now = time.time() if now is None else now
    report = build_report(roster, agents, chosen, units, sessions_by_socket, heartbeats, now, stale_after,
                          holder_session, holder_socket,
                          host_agents=dict((a["name"], a.get("socket", "")) for a in host_agents_all),
                          meters=meters, notices=notices, screens=screens)
    if screen_lines:
        for record in report["agents"]:
            screen = screens.get(record["name"])
            record["screen"] = "\n".join(screen.split("\n")[-screen_lines:]) if screen is not None else None
    fleet_supervision.annotate(report, units, states)
    report["connector"] = probe_connector(run, mosaic_home, commands)
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
