#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_tenant_agent
short_description: Find which tenant's fleet an agent belongs to, as NAME or TENANT/NAME
version_added: 0.2.0
description:
  - With several fleets on the same hosts, one per tenant (C(mosaic_fleets)), an agent name alone
    may be in more than one fleet. This finds the fleet of O(agent), given as C(NAME) or
    C(TENANT/NAME), among the planned fleets (C(fleets) of
    P(mosaic.fleet.fleet_tenancy_plan#filter)).
  - Fails, naming the C(TENANT/NAME) forms to use, when the name alone is in several fleets, and
    naming every fleet's agents when no fleet has it.
  - O(agent) is data; it is only compared with the rosters' names, never evaluated as a template.
  - Runs on the controller (it is an action plugin); no host is contacted.
author:
  - mosaic.fleet developers (!UNKNOWN)
options:
  fleets:
    description: The planned fleets.
    type: list
    elements: dict
    required: true
  agent:
    description: C(NAME) or C(TENANT/NAME).
    type: str
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: It only reads its arguments.
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
seealso:
  - plugin: mosaic.fleet.fleet_tenancy_plan
    plugin_type: filter
  - module: mosaic.fleet.fleet_roster
"""

EXAMPLES = r"""
- name: Find the agent's fleet
  mosaic.fleet.fleet_tenant_agent:
    fleets: "{{ (mosaic_fleets | mosaic.fleet.fleet_tenancy_plan(rosters)).fleets }}"
    agent: acme/coder0
  register: found
"""

RETURN = r"""
tenant:
  description: The agent's tenant.
  returned: success
  type: str
  sample: acme
user:
  description: The Linux user the tenant's fleet runs as.
  returned: success
  type: str
  sample: acme
mosaic_home:
  description: The fleet's MOSAIC_HOME as given (empty for the default).
  returned: success
  type: str
  sample: ""
index:
  description: The fleet's index in C(mosaic_fleets).
  returned: success
  type: int
  sample: 0
agent:
  description: The agent's placed record in its fleet's normalized roster (C(name), C(host), C(socket), ...).
  returned: success
  type: dict
  sample: {"name": "coder0", "host": "web1", "socket": "mosaic-fleet"}
"""
