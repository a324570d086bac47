#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_roster
short_description: Validate and normalize a mosaic.fleet roster on the controller
version_added: 0.1.0
description:
  - Validates a fleet roster against the collection's single roster schema
    (C(framework/fleet/roster.schema.json)) and the fleet invariants a schema cannot express,
    then returns the normalized roster (every default filled in) and the placement of agents on
    hosts.
  - Runs entirely on the controller (it is an action plugin); no host is touched, so a bad
    roster fails before any change.
  - On failure it reports B(every) violation, each with its path (for example
    C(agents[2].runtime)) and reason; YAML syntax errors (and a key given twice in one mapping)
    carry their line and column.
  - "Rules beyond the schema: agent names are unique and safe as tmux session, unit instance and
    file names (letters, digits, C(_), C(-); not starting with C(-); at most 48 characters; no C(.)
    because tmux rewrites it); no agent is named like the holder session; exactly one
    C(orchestrator) and at least one C(enhancer) unless the roster declares C(profile: minimal) or
    C(profile: canary); connector blocks match their kind; C(ssh) only together with C(host);
    with O(hosts), every agent's host is an inventory host."
  - "Each agent's C(model_hint) must fit its runtime's grammar in THE runtime table
    (C(framework/fleet/runtimes.json)): C([provider/]model[:level]), where a non-empty hint names a
    model, a C(/) has a provider before it and the model does not end with C(:). A malformed hint
    is a violation at its path (C(agents[3].model_hint), or C(defaults.model_hint) naming the agent
    that inherits it). C(stub) and agents with a C(command) take any hint."
  - "RV(commands) gives each agent's command line as C(launch-agent) on its host will build it
    (the same code, C(plugins/module_utils/runtimes.py)), with placeholders for what only the host
    knows: C(<MOSAIC_HOME>), C(<prompt>) (the agent's header and comms sheet, rendered on the host)
    and C(<instruction files>) (opencode). See C(docs/runtimes.md)."
  - "An agent's C(class) is any name that follows the agent name rule (letters, digits, C(_),
    C(-); not starting with C(-); at most 48 characters). The two-agent floor counts the classes
    C(orchestrator) and C(enhancer). A class the framework ships a mandate for reads
    C(fleet/roles/<class>.md) under MOSAIC_HOME, then the operator's overlay
    C(fleet/roles/<class>.local.md) when it exists; C(implementer) (the seed fleet's name for its
    coders) reads the coder's mandate C(fleet/roles/coder.md)."
  - "Any other class's mandate is the operator's file C(fleet/roles/<class>.local.md) on each host
    its agents run on; a re-seed never writes or replaces it. For each such class the result
    carries a warning naming that file and those hosts, and RV(operator_mandates) lists them. The
    warning is not an error, and it is given even when the files exist: this plugin runs on the
    controller and does not look at hosts."
author:
  - mosaic.fleet developers (!UNKNOWN)
options:
  roster:
    description:
      - The roster as a mapping (YAML or JSON text is parsed like a file).
      - Mutually exclusive with O(src) and O(profile).
    type: raw
  src:
    description:
      - Path to a roster file in YAML or JSON on the controller.
      - A relative path is looked up like other controller files (the role's or playbook's
        C(files/) directory, then the playbook directory).
      - Mutually exclusive with O(roster) and O(profile).
    type: path
  profile:
    description:
      - Name of a preset shipped in C(framework/fleet/presets/).
      - One of C(general), C(coding), C(research), C(hybrid), C(minimal), C(local-canary).
      - Mutually exclusive with O(roster) and O(src).
    type: str
  hosts:
    description:
      - The inventory host names agents may be placed on. When given, every agent's host must
        be one of them.
    type: list
    elements: str
  default_host:
    description:
      - Host for agents that set no C(host) when the roster has no C(defaults.host).
      - An agent's host is its own C(host), else the roster's C(defaults.host), else this option,
        else C(localhost).
    type: str
  agent:
    description:
      - The name of one agent to look up; its placed record is returned in RV(agent).
      - The task fails when the roster has no such agent, with a message that names the agent as
        given and lists the roster's agents.
      - The name is data, in a playbook too. The variables that this option's template reads
        are never evaluated as templates (ansible-core 2.19 and later), so
        C(-e agent='{{ lookup("pipe", ...) }}') is an agent name that is not in the roster, not
        a command run on the controller.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Read-only; it never changes anything, so check mode returns the same result.
  diff_mode:
    support: none
  platform:
    platforms: all
    details: Runs on the controller only; no host is contacted.
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
notes:
  - Requires C(jsonschema) and C(PyYAML) on the controller.
  - Secrets never belong in the roster; an unknown key such as C(token) is an error at every
    level.
requirements:
  - jsonschema >= 4.18 (controller)
  - PyYAML (controller)
"""

EXAMPLES = r"""
- name: Validate a shipped preset
  mosaic.fleet.fleet_roster:
    profile: coding

- name: Validate the inventory's roster and place agents on the play's hosts
  mosaic.fleet.fleet_roster:
    roster: "{{ mosaic_fleet_roster }}"
    hosts: "{{ ansible_play_hosts_all }}"
    default_host: "{{ ansible_play_hosts_all | first }}"
  register: fleet
  run_once: true
  delegate_to: localhost

- name: Validate a roster file
  mosaic.fleet.fleet_roster:
    src: rosters/prod.yaml

- name: Find where agent coder0 runs (fails, naming the roster's agents, when it is not there)
  mosaic.fleet.fleet_roster:
    src: rosters/prod.yaml
    agent: coder0
  register: found
  # found.agent.host, found.agent.socket

- name: A class of your own validates with a warning naming the mandate file to write
  mosaic.fleet.fleet_roster:
    roster:
      version: 1
      agents:
        - {name: orchestrator, runtime: claude, class: orchestrator}
        - {name: enhancer, runtime: claude, class: enhancer}
        - {name: coder0, runtime: pi, class: implementer}
        - {name: audit0, runtime: pi, class: auditor}
  register: checked
"""

RETURN = r"""
roster:
  description: The normalized roster; every agent carries C(name), C(runtime), C(class),
    C(persistent_persona), C(model_hint), C(host), C(ssh), C(socket), C(working_directory)
    and C(command).
  returned: success
  type: dict
  sample:
    version: 1
    tenant: default
    profile: canary
    tmux: {socket_name: mosaic-fleet, holder_session: mosaic-holder}
    agents:
      - {name: orchestrator, runtime: stub, class: orchestrator, host: localhost, socket: mosaic-fleet}
agent:
  description:
    - The normalized, placed record of the agent named by O(agent) (the same mapping as its
      entry in RV(roster)), for example its C(host) and C(socket).
  returned: success, when O(agent) is given
  type: dict
  sample: {name: coder0, runtime: stub, class: coder, host: localhost, socket: mosaic-fleet}
ssh_aliases:
  description:
    - Host name to the names its peers reach it under over ssh, the host part of its agents'
      C(ssh) destinations (unique, in roster order).
    - Every host of O(hosts) and every host an agent is placed on is a key; an empty list when
      none of its agents sets C(ssh). C(playbooks/fleet.yml) hands it to the C(ssh_mesh) role so
      that peers record this host's key under those names too.
  returned: success
  type: dict
  sample: {web1: [web1.example.com], web2: []}
commands:
  description:
    - Agent name to the command line C(launch-agent) will run for it, resolved from THE runtime
      table on the controller. C(<MOSAIC_HOME>), C(<prompt>) and C(<instruction files>) stand for
      what only the host knows.
    - With the agent's C(command), C(argv) is C(bash -c <command>).
  returned: success
  type: dict
  contains:
    argv:
      description: The argv, one element an item.
      type: list
      elements: str
    env:
      description: The variables the launcher adds, C(KEY=value) (for example claude's context cap).
      type: list
      elements: str
    command_line:
      description: C(env) and C(argv) shell-quoted on one line, for people to read.
      type: str
  sample:
    coder0:
      argv: [pi, -e, <MOSAIC_HOME>/tools/fleet/pi-heartbeat.ts, --provider, openai-codex, --model, gpt-5.5,
             --thinking, high, --append-system-prompt, <prompt>]
      env: []
      command_line: "pi -e '<MOSAIC_HOME>/tools/fleet/pi-heartbeat.ts' --provider openai-codex --model gpt-5.5
        --thinking high --append-system-prompt '<prompt>'"
placement:
  description: Host name to the names of the agents placed on it, in roster order.
  returned: success
  type: dict
  sample: {localhost: [orchestrator, enhancer, worker]}
agent_count:
  description: Number of agents in the roster.
  returned: success
  type: int
  sample: 3
operator_mandates:
  description:
    - The classes whose mandate the framework does not ship, in roster order; each needs the
      operator's mandate file C(file) (relative to MOSAIC_HOME) on every host in C(hosts).
    - Empty when every class is one of the framework's roles (or C(implementer)).
  returned: success
  type: list
  elements: dict
  contains:
    class:
      description: The class.
      type: str
    file:
      description: The operator's mandate file, C(fleet/roles/<class>.local.md).
      type: str
    agents:
      description: The agents of that class.
      type: list
      elements: str
    hosts:
      description: The hosts those agents are placed on.
      type: list
      elements: str
  sample:
    - {class: auditor, file: fleet/roles/auditor.local.md, agents: [audit0], hosts: [web1]}
source:
  description: What was validated, as named in messages (C(the roster), C(preset 'coding') or the file's path).
  returned: success
  type: str
  sample: preset 'coding'
violations:
  description: Every violation found, each with C(path) and C(message).
  returned: failure
  type: list
  elements: dict
  sample:
    - {path: "agents[2].runtime", message: "must be one of: claude, codex, pi, opencode, stub (got 'gpt')"}
    - {path: "agents[3].model_hint", message: "'openai/' names no model (a model hint is [provider/]model[:level]), for runtime pi"}
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        roster=dict(type="raw"), src=dict(type="path"), profile=dict(type="str"),
        hosts=dict(type="list", elements="str"), default_host=dict(type="str"), agent=dict(type="str"),
    ), supports_check_mode=True)
    module.fail_json(msg="mosaic.fleet.fleet_roster runs on the controller as an action plugin; "
                         "it cannot be executed as a module on a target.")


if __name__ == "__main__":
    main()
