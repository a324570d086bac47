# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several fleets on the same hosts, one per tenant, decided on the controller before any host is
touched (module_utils/tenancy.py, THE rule). Documentation: ``fleet_tenancy_plan.yml``,
``fleet_tenancy_find.yml``."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mosaic.fleet.plugins.module_utils import tenancy


def _rosters(validated):
    results = validated.get("results") if isinstance(validated, dict) else validated
    if not isinstance(results, list):
        raise AnsibleFilterError("fleet_tenancy expects the registered loop of mosaic.fleet.fleet_roster")
    rosters = []
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("roster"), dict):
            raise AnsibleFilterError("fleet_tenancy: a fleet_roster result without a roster (did it fail?)")
        rosters.append(result["roster"])
    return rosters


def fleet_tenancy_plan(fleets, validated=None):
    """``{"fleets": [...], "problems": [...]}``: ``mosaic_fleets`` checked against each other with
    their validated rosters (the registered loop of ``fleet_roster`` over them). Without
    ``validated`` only the entries themselves are checked."""
    if validated is None:
        return {"fleets": [], "problems": tenancy.check_entries(fleets)}
    return tenancy.plan(fleets, _rosters(validated))


def fleet_tenancy_find(fleets, address):
    """``{"fleet": <planned fleet>, "agent": name, "problem": ""}`` for ``agent`` or
    ``tenant/agent``; ``problem`` says why there is none (unknown, or in several fleets)."""
    try:
        fleet, name = tenancy.find_agent(fleets, str(address))
    except ValueError as exc:
        return {"fleet": {}, "agent": "", "problem": str(exc)}
    return {"fleet": fleet, "agent": name, "problem": ""}


class FilterModule(object):
    """mosaic.fleet tenancy."""

    def filters(self):
        return {"fleet_tenancy_plan": fleet_tenancy_plan, "fleet_tenancy_find": fleet_tenancy_find}
