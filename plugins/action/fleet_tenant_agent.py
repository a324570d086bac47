# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of mosaic.fleet.fleet_tenant_agent: which tenant's fleet an agent address
(NAME or TENANT/NAME) names, among the planned fleets (module_utils/tenancy.py, THE rule)."""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mosaic.fleet.plugins.module_utils import roster as fleet_roster
from ansible_collections.mosaic.fleet.plugins.module_utils import tenancy
from ansible_collections.mosaic.fleet.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.mosaic.fleet.plugins.plugin_utils.data_args import DataArgs

ARGUMENT_SPEC = dict(
    fleets=dict(type="list", elements="dict", required=True),
    agent=dict(type="str", required=True),
)


class ActionModule(DataArgs, ControllerAction):
    # The address is data: the variables its template reads are never evaluated.
    DATA_ARGS = frozenset(("agent",))
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_controller(self, result, args):
        try:
            fleet, name = tenancy.find_agent(args["fleets"], args["agent"])
        except (ValueError, KeyError, TypeError) as exc:
            return dict(result, failed=True, msg=to_text(exc))
        result.update(tenant=fleet["tenant"], user=fleet["user"], mosaic_home=fleet["mosaic_home"],
                      index=fleet["index"], agent=fleet_roster.agent_record(fleet["roster"], name))
        return result
