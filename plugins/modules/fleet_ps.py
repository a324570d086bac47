#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_ps
short_description: Report the health of every mosaic.fleet agent on a host
version_added: 0.1.0
description:
  - Reads the rendered roster (C(fleet/roster.yaml) under the fleet user's MOSAIC_HOME), takes
    the agents placed on this host, and reports for each what its systemd C(--user) unit, its
    tmux session and its heartbeat file say, with a C(health) and a C(drift) verdict.
  - Read-only; C(changed) is always false.
  - "A constant number of commands per host, whatever the number of agents: one
    C(systemctl --user show) for every agent unit (only when agents run under systemd), one
    C(tmux list-panes -a) per distinct tmux socket (normally one), one C(tmux) call per socket
    that captures the screens of the live agents whose runtime has C(waiting) screen patterns
    (claude, codex) or of every agent with O(lines), and plain file reads. The commands run
    are returned in RV(commands)."
  - "Health, in this order: C(dead) (the agent's pane is dead, or its unit failed);
    C(crashloop) (the agent's runtime kept ending and the crash-loop guard holds it back: its unit
    failed although its C(Restart=) would restart it, i.e. the start limit refused, or in tmux
    mode the guard's record C(fleet/run/<name>.crashloop); the reason says how to start it again);
    C(stopped) (no session; the unit is inactive, not failed, and was started or is enabled);
    C(missing) (no session otherwise: never started, not installed, plain tmux supervisor, or
    the unit is still active while its session is gone); C(waiting) (the agent waits on a human:
    its screen shows a permission prompt, a trust, login or onboarding dialog or a usage-limit
    banner the runtime table lists, or its last notification since its last activity is of a
    listed type, such as Claude's permission prompt; RV(agents[].waiting_reason) says which);
    C(starting) (the pane is alive and no heartbeat yet, within the agent's supervision C(grace)
    after its session started, default 120 s); C(unresponsive) (the pane is alive but the agent has
    written no heartbeat since its session was created, beyond its grace); C(stale) (the last heartbeat is older than O(stale_after) seconds: it stopped
    answering mid-work); C(healthy) (pane alive, heartbeat at most O(stale_after) seconds old).
    A live pane alone is never healthy, except for a runtime that beats only at turn ends
    (codex): idle after a turn, or since its start, with its pane unchanged since, is healthy
    (docs/runtimes.md)."
  - "Metering, read-only, from what each runtime reports (the sidecar
    C(fleet/run/<name>.meter.json) its heartbeat writes): model, context window and used
    percentage, input and output token totals, cost, session id; null where the runtime does
    not tell (docs/runtimes.md says which runtime gives what)."
  - "Drift, reported with its reasons: the pane's foreground command is not one of the runtime's
    process names (C(stub): python3, python, stub-agent; C(pi): node, pi; C(codex): node, codex;
    C(claude): claude, node; C(opencode): opencode, node, bun; plus the program of a roster
    C(command) override), for example an agent that fell back to C(bash); and, under systemd, a
    unit that is active without a session, a session whose unit is not active, a unit that is
    not installed or not enabled. Sessions on the fleet's sockets that are not in the roster
    are listed in RV(adhoc_sessions)."
  - "Which agents are this host's: with O(host), those placed on that inventory host name
    (playbooks pass C({{ inventory_hostname }})). Without it, those placed on the host named in
    the rendered roster's header (fleet_host_config writes the inventory name it rendered for),
    so C(ansible fleet -m mosaic.fleet.fleet_ps) needs no arguments. Without such a header, the
    agents whose env file C(fleet/agents/<name>.env) exists on the host, together with those
    whose C(host) is this machine's hostname. RV(host_rule) says which rule applied."
author:
  - mosaic.fleet developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mosaic.fleet.fleet_user
options:
  user:
    description:
      - The fleet user. Defaults to the user the module runs as.
      - Running as root for another user, the unit states come from C(systemctl --user -M user@)
        and tmux runs as that user (C(runuser -u), or C(setpriv) where runuser is missing) so it
        reaches that user's tmux server.
    type: str
  host:
    description:
      - The inventory host name whose agents to report (the agents whose roster C(host) is this
        name). Playbooks pass C({{ inventory_hostname }}).
      - When omitted, see the selection rule in the description.
    type: str
  agents:
    description:
      - Report only these agents (names). Sessions of this host's other agents are still not
        counted as ad hoc.
    type: list
    elements: str
  socket:
    description:
      - The tmux socket name (C(-L)) to look on, instead of each agent's socket from the roster.
        An empty string means the default tmux socket.
    type: str
  holder_session:
    description:
      - The holder session's name, never reported as ad hoc. Defaults to the roster's
        C(tmux.holder_session).
    type: str
  stale_after:
    description:
      - Seconds after which a heartbeat is stale.
    type: int
    default: 120
  supervisor:
    description:
      - How the agents are supervised. V(auto) means V(systemd) when the fleet user's systemd
        manager is reachable (C(/run/user/UID/systemd/private) exists) and the fleet's units are
        enabled for that user (C(~/.config/systemd/user/default.target.wants/) links the holder or
        an agent unit, as C(mosaic.fleet.fleet_supervisor) does in systemd mode), V(tmux)
        otherwise.
    type: str
    choices: [auto, systemd, tmux]
    default: auto
  tmux_tmpdir:
    description:
      - The C(TMUX_TMPDIR) of the fleet user's tmux server. By default the module's own
        environment is used when it runs as the fleet user, and tmux's default (C(/tmp)) when it
        runs as root for another user.
    type: path
  lines:
    description:
      - Also return each agent's recent screen, the last O(lines) lines of its pane (history
        included, trailing blank lines dropped), as C(screen) in its record. V(0) (the default)
        returns none.
      - Costs one more C(tmux) call per socket that has agent sessions, whatever the number of
        agents. At most 2000.
    type: int
    default: 0
  framework_installed_at:
    description:
      - When the framework installed in MOSAIC_HOME was written (epoch seconds), the
        C(installed_at) result of M(mosaic.fleet.fleet_reseed). The agents whose session started
        before it still run the previous framework and are listed in RV(previous_framework).
      - Omitted (or null, nothing installed), RV(previous_framework) is empty.
    type: float
attributes:
  check_mode:
    support: full
    details: Read-only; it never changes anything, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Needs tmux on the host. Heartbeats are C(fleet/run/<name>.heartbeat), one line
    C(<unix-epoch-seconds> <pid>), written by the running agent.
  - A read-only viewer session (not ad hoc) is a session grouped with an agent's session
    (C(tmux new-session -t AGENT)) or named C(AGENT-view) or C(AGENT-view...) (for example
    C(coder0-view2)). The holder session is not ad hoc either.
  - For a fleet-wide table with a non-zero exit when any agent is not healthy, run the
    C(mosaic.fleet.ps) playbook.
seealso:
  - module: mosaic.fleet.fleet_host_config
  - module: mosaic.fleet.fleet_supervisor
"""

EXAMPLES = r"""
- name: Report this host's agents
  mosaic.fleet.fleet_ps:
    host: "{{ inventory_hostname }}"
  register: ps

- name: Every agent is healthy
  ansible.builtin.assert:
    that: ps.all_healthy
    fail_msg: "{{ ps.agents | rejectattr('health', 'eq', 'healthy') | map(attribute='name') | list }}"

- name: As root, for the fleet user, with a short staleness bound
  become: true
  mosaic.fleet.fleet_ps:
    user: fleet
    stale_after: 30
    agents: [orchestrator, enhancer]

- name: What every agent's screen shows now (the last 30 lines each, one tmux call per socket)
  mosaic.fleet.fleet_ps:
    lines: 30
  register: screens

- name: Show them
  ansible.builtin.debug:
    msg: "{{ screens.agents | items2dict(key_name='name', value_name='screen') }}"

# Ad hoc:
#   ansible fleet -m mosaic.fleet.fleet_ps
#   ansible fleet -m mosaic.fleet.fleet_ps -a 'lines=20 agents=coder0'   # coder0's recent screen
#   ansible localhost -m mosaic.fleet.fleet_ps -a user=$USER
#   ansible web1 -b -m mosaic.fleet.fleet_ps -a 'user=fleet host=web1'
"""

RETURN = r"""
agents:
  description:
    - One record per roster agent of this host, sorted by name.
    - C(unit_*) fields are null under the tmux supervisor; C(pane_*) fields are null without a
      session; C(heartbeat_*) fields are null without a heartbeat file.
    - C(heartbeat_current) is false when there is no heartbeat or it predates the session (an
      earlier run's), which then does not count for health.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Agent (and session) name., type: str}
    tenant_id: {description: The roster's tenant., type: str}
    host: {description: The roster's host of the agent., type: str}
    class: {description: Agent class., type: str}
    runtime: {description: Agent runtime., type: str}
    supervisor: {description: "C(systemd) or C(tmux).", type: str}
    socket: {description: "tmux socket name; empty for the default socket.", type: str}
    unit: {description: "C(mosaic-agent@NAME.service) under systemd, else null.", type: str}
    unit_active_state: {description: "The unit's ActiveState (active, failed, inactive, ...).", type: str}
    unit_sub_state: {description: "The unit's SubState.", type: str}
    unit_load_state: {description: "The unit's LoadState (C(not-found) when not installed).", type: str}
    unit_result: {description: "The unit's Result (why it failed).", type: str}
    unit_enabled: {description: Whether the unit is enabled (starts at boot)., type: bool}
    session_exists: {description: Whether the agent's tmux session exists., type: bool}
    session_created: {description: Session creation time (epoch seconds)., type: int}
    pane_count: {description: Panes in the session., type: int}
    pane_pid: {description: "PID of the agent pane's process (the active pane of the active window).", type: int}
    pane_current_command: {description: "The pane's foreground command (C(node), C(python3), C(bash)...).", type: str}
    pane_dead: {description: "The pane's process exited (kept by remain-on-exit).", type: bool}
    pane_dead_status: {description: Exit status of a dead pane (null when a signal killed it)., type: int}
    pane_dead_signal: {description: "Signal that killed a dead pane's process (tmux >= 3.3).", type: int}
    pane_activity: {description: "Last activity in the agent's window (epoch seconds).", type: int}
    heartbeat_at: {description: Time of the last heartbeat (epoch seconds)., type: float}
    heartbeat_age: {description: Seconds since the last heartbeat., type: float}
    heartbeat_pid: {description: PID recorded in the heartbeat., type: int}
    heartbeat_current: {description: The heartbeat was written during the current session., type: bool}
    health: {description: "healthy, starting, stale, unresponsive, waiting, dead, crashloop, stopped or missing.", type: str}
    restarts: {description: "How often the supervisor restarted the agent (systemd C(NRestarts); tmux mode: since its last
               deliberate start); null when the unit is not known.", type: int}
    restart_policy: {description: "The unit's C(Restart=) (C(on-failure), C(always), C(no)); null in tmux mode.", type: str}
    last_exit_at: {description: "When the runtime last ended by itself (epoch seconds, C(fleet/run/<name>.exit)), or null.",
                   type: float}
    last_exit_status: {description: "Its exit status then, or null (killed by a signal, or never ended).", type: int}
    last_exit_signal: {description: "The signal that ended it then, or null.", type: int}
    last_restart_at: {description: "When the running session was started by a restart (epoch seconds), or null.",
                      type: float}
    waiting_reason: {description: "With C(waiting): what the agent waits for (C(permission prompt), C(workspace trust dialog),
                     C(usage limit; resets 3pm), ...); else null.", type: str}
    model: {description: "The model the runtime reports (metering), or null.", type: str}
    context_window: {description: "The context window's size in tokens, or null.", type: int}
    context_tokens: {description: "Tokens in the context now (the last request), or null.", type: int}
    context_used_pct: {description: "Context used, percent of the window, or null.", type: float}
    input_tokens: {description: "Input tokens of the runtime's session so far, or null.", type: int}
    output_tokens: {description: "Output tokens of the runtime's session so far, or null.", type: int}
    cost_usd: {description: "Cost of the runtime's session so far in USD as the runtime computes it, or null.",
               type: float}
    session_id: {description: "The runtime's session id, or null.", type: str}
    meter_at: {description: "When the metering was recorded (epoch seconds), or null.", type: float}
    meter_source: {description: "Which signal it came from (C(claude-status), C(codex-session), C(pi), C(opencode)).",
                   type: str}
    health_reason: {description: "Why, in words.", type: str}
    drift: {description: Whether what runs differs from what the roster declares., type: bool}
    drift_reason: {description: "The drift reasons joined with C(; ), or null.", type: str}
    drift_reasons: {description: The drift reasons., type: list, elements: str}
    screen:
      description:
        - "Only with O(lines) > 0: the last O(lines) lines of the agent's pane, joined with newlines
          (null without a session)."
      type: str
  sample:
    - name: coder0
      tenant_id: acme
      host: web1
      class: coder
      runtime: pi
      supervisor: systemd
      socket: mosaic-fleet
      unit: mosaic-agent@coder0.service
      unit_active_state: active
      unit_enabled: true
      session_exists: true
      pane_pid: 4242
      pane_current_command: node
      pane_dead: false
      pane_activity: 1767225600
      heartbeat_age: 3.2
      heartbeat_pid: 4242
      health: healthy
      drift: false
      drift_reason: null
connector:
  description:
    - The orchestrator's chat connector on this host, from C(tools/fleet/connector health); null
      where there is none (kind C(tmux), or another host).
    - C(state) is C(healthy), C(unreachable) or C(unauthenticated); C(reason) says why.
  returned: always
  type: dict
  sample:
    kind: matrix
    state: unauthenticated
    reason: "whoami: 401 M_UNKNOWN_TOKEN: Invalid access token passed."
adhoc_sessions:
  description: Sessions on the fleet's sockets that are neither this host's agents, nor the holder
    session, nor read-only viewers. C(roster_host) is set when the name is a roster agent placed
    on another host.
  returned: always
  type: list
  elements: dict
  sample:
    - {session: scratch, socket: mosaic-fleet, pane_pid: 5150, pane_current_command: bash,
       pane_dead: false, attached: 0, created: 1767225600, pane_count: 1, roster_host: null}
viewer_sessions:
  description: Read-only viewer sessions seen, with the agent each watches.
  returned: always
  type: list
  elements: dict
  sample: [{session: coder0-view, socket: mosaic-fleet, agent: coder0}]
summary:
  description: Number of agents in each health state (every state present).
  returned: always
  type: dict
  sample: {healthy: 3, stale: 0, unresponsive: 0, dead: 1, stopped: 0, missing: 0, waiting: 0, crashloop: 0, starting: 0}
total:
  description: Number of agents reported.
  returned: always
  type: int
  sample: 4
all_healthy:
  description: Every reported agent is healthy (true when none is reported).
  returned: always
  type: bool
drift:
  description: Any agent drifts or any ad-hoc session exists.
  returned: always
  type: bool
supervisor:
  description: "C(systemd) or C(tmux): how the agents on this host are supervised."
  returned: always
  type: str
tenant_id:
  description: The roster's tenant.
  returned: always
  type: str
host:
  description: The host name whose agents were selected (null when the env-file rule picked
    agents of several hosts).
  returned: always
  type: str
host_rule:
  description: "How agents were selected: C(host) (the option), C(rendered roster) (the
    header's host name) or C(env files and hostname)."
  returned: always
  type: str
placement:
  description: Host name to agent names, for the whole roster (lets a fleet-wide report name
    the agents of a host that did not answer).
  returned: always
  type: dict
holder_session:
  description: The holder session's name.
  returned: always
  type: str
holder_running:
  description: Whether the holder session exists on the fleet socket.
  returned: always
  type: bool
sockets:
  description: The tmux sockets looked at (empty string = the default socket).
  returned: always
  type: list
  elements: str
commands:
  description: Every command run (argv lists); their number does not depend on the agent count.
  returned: always
  type: list
  elements: list
stale_after:
  description: The staleness bound used, in seconds.
  returned: always
  type: int
user:
  description: The fleet user.
  returned: always
  type: str
mosaic_home:
  description: The MOSAIC_HOME read.
  returned: always
  type: str
previous_framework:
  description: The reported agents whose session started before O(framework_installed_at)
    (whole seconds), so they still run the previous framework; empty without that option.
  returned: always
  type: list
  elements: str
  sample: [enhancer, orchestrator]
previous_framework_sessions:
  description: The session creation time (epoch seconds) of each agent of RV(previous_framework).
  returned: always
  type: dict
  sample: {enhancer: 1763780000, orchestrator: 1763780002}
relaunch_command:
  description: The command that relaunches one agent (C(NAME)) by hand as the fleet user, for
    RV(supervisor) (a C(systemctl --user restart), or the framework's stop and start scripts).
  returned: always
  type: str
  sample: systemctl --user restart mosaic-agent@NAME.service
"""

import os
import socket as socket_module

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mosaic.fleet.plugins.module_utils import host, ps, ps_probe, relaunch

ARGUMENT_SPEC = host.user_argument_spec(
    host=dict(type="str"),
    agents=dict(type="list", elements="str"),
    socket=dict(type="str"),
    holder_session=dict(type="str"),
    stale_after=dict(type="int", default=ps.DEFAULT_STALE_AFTER),
    supervisor=dict(type="str", choices=["auto", "systemd", "tmux"], default="auto"),
    tmux_tmpdir=dict(type="path"),
    framework_installed_at=dict(type="float"),
    lines=dict(type="int", default=0),
)


def observe(module, run=None):
    """The report for ``module.params`` (host.HostError on a problem).

    ``run``: the command runner (default ``host.spawn``, read-only queries with a time limit)."""
    params = module.params
    if params["stale_after"] < 0:
        raise ps_probe.ProbeError("stale_after must be 0 or more seconds")
    # An operator running this from inside tmux must not make "the default socket" mean theirs.
    os.environ.pop("TMUX", None)
    identity, mosaic_home = host.resolve_identity(params)
    roster, rendered_host = ps_probe.load_roster(mosaic_home)
    runner = host.Runner.for_module(module, identity.name, identity.as_self)
    return ps_probe.probe(
        roster, run or runner.query, identity, mosaic_home,
        host=params["host"], rendered_host_name=rendered_host, socket=params["socket"],
        stale_after=params["stale_after"], only=params["agents"],
        holder_session=params["holder_session"], supervisor=params["supervisor"],
        tmux_tmpdir=params["tmux_tmpdir"], hostname=socket_module.gethostname(),
        tmux_binary=module.get_bin_path("tmux", required=True),
        systemctl_binary=module.get_bin_path("systemctl"),
        runuser_binary=runner.switch_binary, screen_lines=params["lines"])


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        report = observe(module)
    except host.HostError as exc:
        module.fail_json(msg=str(exc), changed=False)
    for warning in report.pop("warnings"):
        module.warn(warning)
    if not report["agents"] and not report["host"]:
        module.warn("no roster agent is placed on this host (pass host=<inventory name> to choose)")
    report.update(relaunch.facts(report["agents"], module.params["framework_installed_at"],
                                 report["supervisor"], report["mosaic_home"]))
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
