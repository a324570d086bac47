#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_ps_table
short_description: Print the fleet-wide fleet_ps table as plain text
version_added: 0.1.0
description:
  - Prints fleet_ps records as an aligned table, one line per agent, ad-hoc session or failed
    host, the way C(ps) or C(kubectl get) do, followed by the summary. This is what
    C(ansible-playbook mosaic.fleet.ps) shows.
  - The lines go straight to the operator's screen (and to the log file when C(log_path) is set),
    under the task's banner, as plain text; no JSON quoting, whatever the stdout callback.
    Only with a stdout callback that prints JSON (C(json), C(jsonl), under any collection) do they
    go to standard error, so the standard output stays one document for programs.
  - The columns are HOST, TENANT, AGENT, CLASS, RUNTIME, UNIT, SESSION, HEARTBEAT, HEALTH and
    DRIFT; P(mosaic.fleet.fleet_ps_table#filter) describes each cell. The filter returns the same
    text as a string.
  - Runs on the controller (it is an action plugin); no host is contacted.
author:
  - mosaic.fleet developers (!UNKNOWN)
options:
  records:
    description:
      - The records to show, from P(mosaic.fleet.fleet_ps_records#filter), in the order to show
        them.
    type: list
    elements: dict
    required: true
  summary:
    description:
      - Print the summary after the table (counts, drift, ad-hoc sessions, failed hosts, and
        C(OK) or C(NOT OK)).
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: It only prints; check mode prints the same table.
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
  - The result carries nothing but C(changed=false), so C(-v) does not repeat the table as JSON.
    For programs, write the records as JSON (C(playbooks/ps.yml) does with
    C(mosaic_fleet_ps_json)) rather than parsing the table.
seealso:
  - module: mosaic.fleet.fleet_ps
  - plugin: mosaic.fleet.fleet_ps_records
    plugin_type: filter
  - plugin: mosaic.fleet.fleet_ps_table
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Observe this host's agents
  mosaic.fleet.fleet_ps:
    host: "{{ inventory_hostname }}"
  register: ps

- name: Show the fleet
  mosaic.fleet.fleet_ps_table:
    records: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)
                 | map(attribute='ps', default={}))) | mosaic.fleet.fleet_ps_records }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
changed:
  description: Always false; the module only prints.
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        records=dict(type="list", elements="dict", required=True), summary=dict(type="bool", default=True),
    ), supports_check_mode=True)
    module.fail_json(msg="mosaic.fleet.fleet_ps_table runs on the controller as an action plugin; "
                         "it cannot be executed as a module on a target.")


if __name__ == "__main__":
    main()
