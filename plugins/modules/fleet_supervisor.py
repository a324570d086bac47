#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_supervisor
short_description: Start, restart and stop a host's mosaic.fleet agents (systemd --user or plain tmux)
version_added: 0.1.0
description:
  - Makes the agents placed on a host run, with a constant number of commands whatever the
    number of agents.
  - "V(systemd) mode: enables linger for O(user) when it is off (so the user manager runs without
    a login and starts the agents at boot), waits for the user manager, runs C(daemon-reload) only
    when unit files changed, then with ONE C(systemctl --user show) for every unit decides and runs
    at most one C(enable --now) (the holder unit and every agent unit not yet enabled and active),
    one C(restart) (agents in O(restart) that were already running) and one C(disable --now)
    (agents in O(prune), so they cannot come back at boot). A unit to start that has failed (for
    example held back by its crash-loop guard, the start limit) gets one C(reset-failed) first, so
    the next run starts it again."
  - "V(tmux) mode, for hosts without a systemd user manager (containers, WSL): reads every
    session with one C(tmux list-panes -a) per socket, kills the sessions of pruned and restarted
    agents, starts the holder session and then runs C(start-agent-session.sh) for each agent whose
    session is missing or dead. Boot survival is off in this mode; when O(mode=auto) fell back to
    it, the module says so in a warning (not when V(tmux) was asked for)."
  - "The orchestrator's chat connector (O(connector)): in V(systemd) mode the user unit
    C(mosaic-connector.service) (C(Restart=on-failure)), in V(tmux) mode the session
    C(mosaic-connector) on the holder's socket, whose shell loop runs C(connector run) again 5 s
    after it ends. It joins the same C(enable --now), C(restart) and C(disable --now) commands."
  - V(auto) picks V(systemd) when C(systemctl) exists and the user manager is up or systemd is
    the init system (then enabling linger starts it), else V(tmux).
  - Sockets and the holder session come from the rendered C(fleet/roster.yaml)
    (M(mosaic.fleet.fleet_host_config) writes it); run that module first.
  - Running as root for another O(user), systemd is reached with C(systemctl --user -M user@) and
    tmux commands run as the user through C(runuser) (or C(setpriv) where runuser is missing) with
    the user's C(HOME).
author:
  - mosaic.fleet developers (@mosaic-fleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mosaic.fleet.fleet_user
options:
  mode:
    description:
      - How agents are supervised; see the description.
    type: str
    choices: [auto, systemd, tmux]
    default: auto
  agents:
    description:
      - The agents placed on this host (started when not running).
    type: list
    elements: str
    default: []
  restart:
    description:
      - Agents whose configuration changed. Running ones are restarted; ones that were not
        running are simply started.
    type: list
    elements: str
    default: []
  prune:
    description:
      - Agents to stop and disable (no longer placed here).
    type: list
    elements: str
    default: []
  restart_holder:
    description:
      - Restart the holder unit (and with it every agent) because C(fleet/holder.env) changed.
        Only in V(systemd) mode; in V(tmux) mode a warning says the holder keeps its old settings.
    type: bool
    default: false
  daemon_reload:
    description:
      - Unit files were changed, so run C(systemctl --user daemon-reload) before starting. It also
        runs when systemd reports a unit as needing a reload or not found.
    type: bool
    default: false
  connector:
    description:
      - V(true) runs the orchestrator's chat connector on this host (C(tools/fleet/connector run));
        V(false) stops a connector running here (and disables its unit); unset leaves it as it is
        (O(state=absent) stops it all the same).
      - Pass RV(mosaic.fleet.fleet_host_config#module:connector).
    type: bool
  restart_connector:
    description:
      - "The connector's configuration, credentials or code changed: restart it when it runs
        (with O(connector=true))."
      - Pass RV(mosaic.fleet.fleet_host_config#module:connector_changed).
    type: bool
    default: false
  linger:
    description:
      - In V(systemd) mode, enable linger for O(user) when it is off.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the user manager after enabling linger.
    type: int
    default: 30
  state:
    description:
      - V(absent) stops (and in V(systemd) mode disables) the holder, the connector and every agent
        in O(agents), O(prune) or with an env file under C(fleet/agents/).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Observes and reports what it would do; changes nothing. On a fresh host (no user, no
      units yet) it reports every agent as to be started.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
seealso:
  - module: mosaic.fleet.fleet_host_config
"""

EXAMPLES = r"""
- name: Run this host's agents, restart changed ones, stop removed ones
  mosaic.fleet.fleet_supervisor:
    user: fleet
    agents: "{{ host_config.agents }}"
    restart: "{{ host_config.changed_agents }}"
    prune: "{{ host_config.removed_agents }}"
"""

RETURN = r"""
mode:
  description: The supervisor mode used (V(systemd) or V(tmux)).
  returned: always
  type: str
  sample: systemd
started:
  description: Agents that were (or would be) started.
  returned: always
  type: list
  elements: str
  sample: [coder0]
restarted:
  description: Agents that were (or would be) restarted.
  returned: always
  type: list
  elements: str
  sample: [enhancer]
stopped:
  description: Agents that were (or would be) stopped.
  returned: always
  type: list
  elements: str
  sample: [coder3]
connector:
  description: What happened (or would happen) to the connector; null when nothing.
  returned: always
  type: str
  choices: [started, restarted, stopped]
  sample: started
linger_enabled:
  description: Whether linger was (or would be) enabled by this run.
  returned: always
  type: bool
  sample: false
commands:
  description: The state-changing commands run (or, in check mode, that would run), as argv lists.
  returned: always
  type: list
  elements: list
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mosaic.fleet.plugins.module_utils import host, hostconfig, supervisor
from ansible_collections.mosaic.fleet.plugins.module_utils import systemd as sd
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import DEFAULT_HOLDER_SESSION
from ansible_collections.mosaic.fleet.plugins.module_utils.tmux import tmux_argv


class Supervisor(object):

    def __init__(self, module):
        self.module = module
        params = module.params
        # A missing user (entry None) ends main() before home or mosaic_home is used.
        self.entry, self.home, self.mosaic_home, self.as_self = host.resolve_fleet_user(params, os.environ)
        self.user = params["user"] or (self.entry.pw_name if self.entry else None)
        self.runner = host.Runner.for_module(module, self.user, self.as_self)
        self.commands = self.runner.commands

    # -- running things ---------------------------------------------------------------------
    def run(self, argv, env=None, check=True, changes=True):
        """Run argv (recorded when it changes state; skipped in check mode when it does)."""
        rc, out, err = self.runner.run(argv, env=env, changes=changes)
        if check and rc != 0:
            self.module.fail_json(msg="command failed (rc=%d): %s: %s" % (rc, " ".join(argv), (err or out).strip()),
                                  rc=rc, stdout=out, stderr=err, commands=self.commands)
        return rc, out, err

    def as_user(self, argv):
        """argv that runs as the fleet user (runuser or setpriv when root acts for someone else)."""
        return self.runner.as_user(argv)

    def user_env(self):
        return dict(HOME=self.home, USER=self.user, LOGNAME=self.user, MOSAIC_HOME=self.mosaic_home)

    # -- systemd ------------------------------------------------------------------------------
    def systemctl(self, *args):
        return sd.systemctl_user_argv(self.user, self.as_self, *args)

    def systemd_env(self):
        return sd.user_env(self.entry.pw_uid) if self.as_self else {}

    def ensure_linger(self):
        rc, out, _err = self.run(["loginctl", "show-user", self.user, "-p", "Linger"], check=False, changes=False)
        if rc == 0 and out.strip() == "Linger=yes":
            return False
        self.run(["loginctl", "enable-linger", self.user])
        return True

    def wait_for_manager(self):
        path = sd.bus_path(self.entry.pw_uid)
        deadline = time.time() + self.module.params["wait_timeout"]
        while not os.path.exists(path):
            if time.time() > deadline:
                self.module.fail_json(msg="the systemd user manager of %s did not come up within %ds (%s is "
                                          "missing); is linger enabled?" % (self.user, self.module.params["wait_timeout"], path),
                                      commands=self.commands)
            time.sleep(0.2)

    def show(self, units):
        argv = self.systemctl("show", *[a for p in supervisor.SHOW_PROPERTIES for a in ("-p", p)]) + ["--"] + units
        _rc, out, _err = self.run(argv, env=self.systemd_env(), changes=False)
        return dict(zip(units, sd.parse_show_output(out)))

    def run_systemd(self, agents, absent):
        params = self.module.params
        result = dict(linger_enabled=False)
        if not absent and params["linger"]:
            result["linger_enabled"] = self.ensure_linger()
        manager_up = os.path.exists(sd.bus_path(self.entry.pw_uid))
        if (self.module.check_mode or absent) and not manager_up:
            # Fresh host in check mode: nothing to query yet, everything would start. Taking down
            # a host whose user manager is not running: no unit is running either.
            plan = supervisor.plan_systemd({}, agents, params["restart"], params["prune"], True,
                                           params["restart_holder"], absent, params["connector"],
                                           params["restart_connector"])
        else:
            self.wait_for_manager()
            prune = list(params["prune"]) + (self.configured_agents() if absent else [])
            units = supervisor.unique([sd.HOLDER_UNIT, sd.CONNECTOR_UNIT] + supervisor.unit_names(agents + prune))
            plan = supervisor.plan_systemd(self.show(units), agents, params["restart"], prune,
                                           params["daemon_reload"], params["restart_holder"], absent,
                                           params["connector"], params["restart_connector"])
        env = self.systemd_env()
        if plan["daemon_reload"]:
            self.run(self.systemctl("daemon-reload"), env=env)
        if plan["reset_failed"]:
            # A unit held back by its start limit (crash loop) or failed otherwise starts afresh.
            self.run(self.systemctl("reset-failed", "--", *plan["reset_failed"]), env=env)
        if plan["enable"]:
            self.run(self.systemctl("enable", "--now", "--", *plan["enable"]), env=env)
        if plan["restart"]:
            self.run(self.systemctl("restart", "--", *plan["restart"]), env=env)
        if plan["stop"]:
            self.run(self.systemctl("disable", "--now", "--", *plan["stop"]), env=env)
        # A pruned agent's env file is gone before its unit stops, so the unit's ExecStop no longer
        # knows the socket: end whatever session is left on the fleet's sockets directly.
        leftovers = self.kill_sessions(params["prune"]) if params["prune"] and not absent else []
        stopped = plan["stopped"] + [n for n in leftovers if n not in plan["stopped"]]
        result.update(started=plan["started"], restarted=plan["restarted"], stopped=stopped, connector=plan["connector"])
        result["changed"] = bool(result["linger_enabled"] or plan["enable"] or plan["restart"] or plan["stop"]
                                 or leftovers)
        return result

    def kill_sessions(self, names):
        """Kill the sessions called ``names`` on the fleet's sockets; returns the names killed."""
        roster = self.rendered_roster() or {"agents": [], "tmux": {"socket_name": ""}}
        sockets = supervisor.unique([roster["tmux"]["socket_name"]] + [a["socket"] for a in roster["agents"]])
        killed = []
        for socket in sockets:
            present = self.list_sessions(socket)
            for name in names:
                if name in present:
                    self.run(self.as_user(tmux_argv(socket, "kill-session", "-t", "=" + name)),
                             env=self.user_env(), check=False)
                    killed.append(name)
        return supervisor.unique(killed)

    # -- tmux ----------------------------------------------------------------------------------
    def rendered_roster(self):
        try:
            with open(os.path.join(self.mosaic_home, hostconfig.ROSTER_FILE), "r") as handle:
                return hostconfig.load_rendered_roster(handle.read())
        except (OSError, ValueError):
            return None

    def configured_agents(self):
        """Agents with an env file under fleet/agents/ (what state=absent must also stop)."""
        return sorted(host.rendered_agents(self.mosaic_home))

    def list_sessions(self, socket):
        argv = self.as_user(supervisor.list_sessions_argv(socket))
        rc, out, _err = self.run(argv, env=self.user_env(), check=False, changes=False)
        return supervisor.parse_panes(out) if rc == 0 else {}

    def script(self, name, *args):
        return self.as_user([os.path.join(self.mosaic_home, "tools", "fleet", name)] + list(args))

    def run_tmux(self, agents, absent):
        params = self.module.params
        roster = self.rendered_roster()
        if roster is None and not self.module.check_mode and (agents and not absent):
            self.module.fail_json(msg="%s is missing or unreadable: run mosaic.fleet.fleet_host_config first"
                                      % os.path.join(self.mosaic_home, hostconfig.ROSTER_FILE))
        roster = roster or {"agents": [], "tmux": {"socket_name": "", "holder_session": DEFAULT_HOLDER_SESSION}}
        sockets_of = dict((a["name"], a["socket"]) for a in roster["agents"])
        holder = (roster["tmux"]["socket_name"], roster["tmux"]["holder_session"])
        placed = [(name, sockets_of.get(name, holder[0])) for name in agents]
        prune = list(params["prune"]) + (self.configured_agents() if absent else [])
        sockets = supervisor.unique([holder[0]] + [socket for _n, socket in placed])
        sessions = dict((socket, self.list_sessions(socket)) for socket in sockets) if self.entry else {}
        plan = supervisor.plan_tmux(sessions, placed, params["restart"], prune, holder, absent,
                                    params["connector"], params["restart_connector"])

        env = dict(self.user_env(), MOSAIC_TMUX_SOCKET=holder[0], MOSAIC_HOLDER_SESSION=holder[1])
        for socket, name in plan["kill"]:
            self.run(self.as_user(tmux_argv(socket, "kill-session", "-t", "=" + name)), env=env, check=False)
        if plan["start_holder"]:
            self.run(self.script("holder.sh", "start"), env=env)
        for name in plan["start"]:
            self.run(self.script("start-agent-session.sh", name), env=env)
        if plan["start_connector"]:
            self.run(self.as_user(supervisor.connector_session_argv(holder[0], self.mosaic_home)), env=env)
        if plan["stop_holder"]:
            self.run(self.script("holder.sh", "stop"), env=env)
        if params["restart_holder"] and not absent and sessions.get(holder[0], {}).get(holder[1]):
            self.module.warn("fleet/holder.env changed; in tmux mode the running holder keeps its old socket "
                             "and session name until the fleet is taken down (state=absent) and up again.")
        warning = supervisor.mode_warning(params["mode"], "tmux", absent)
        if warning:
            self.module.warn(warning)
        changed = bool(plan["kill"] or plan["start_holder"] or plan["start"] or plan["stop_holder"]
                       or plan["start_connector"])
        return dict(changed=changed, linger_enabled=False, started=plan["started"],
                    restarted=plan["restarted"], stopped=plan["stopped"], connector=plan["connector"])


def main():
    module = AnsibleModule(
        argument_spec=host.user_argument_spec(
            mode=dict(type="str", choices=list(supervisor.MODES), default="auto"),
            agents=dict(type="list", elements="str", default=[]),
            restart=dict(type="list", elements="str", default=[]),
            prune=dict(type="list", elements="str", default=[]),
            restart_holder=dict(type="bool", default=False),
            connector=dict(type="bool"),
            restart_connector=dict(type="bool", default=False),
            daemon_reload=dict(type="bool", default=False),
            linger=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=30),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    sup = Supervisor(module)
    absent = params["state"] == "absent"
    agents = [] if absent else supervisor.unique(params["agents"])
    bus_up = sup.entry is not None and os.path.exists(sd.bus_path(sup.entry.pw_uid))
    mode = supervisor.choose_mode(params["mode"], bool(module.get_bin_path("systemctl")),
                                  os.path.isdir("/run/systemd/system"), bus_up)
    if sup.entry is None:
        if absent:
            module.exit_json(changed=False, mode=mode, started=[], restarted=[], stopped=[], connector=None,
                             linger_enabled=False, commands=[])
        if not module.check_mode:
            module.fail_json(msg="fleet user %r does not exist" % params["user"])
        # Check mode before the user is created: everything would be started.
        connector = "started" if params["connector"] and not absent else None
        module.exit_json(changed=bool(agents or connector), mode=mode, started=agents, restarted=[], stopped=[],
                         connector=connector, linger_enabled=mode == "systemd" and params["linger"], commands=[])
    try:
        result = sup.run_systemd(agents, absent) if mode == "systemd" else sup.run_tmux(agents, absent)
    except OSError as exc:
        module.fail_json(msg=to_text(exc), commands=sup.commands)
    module.exit_json(mode=mode, commands=sup.commands, **result)


if __name__ == "__main__":
    main()
