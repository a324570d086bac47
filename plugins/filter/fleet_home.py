# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a fleet can run from the MOSAIC_HOME it is given, decided on the controller before any
host is touched (the stand-up role asserts on it). Documentation: ``fleet_home_problems.yml``."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mosaic.fleet.plugins.module_utils.contract import DEFAULT_MOSAIC_HOME
from ansible_collections.mosaic.fleet.plugins.module_utils.systemd import unit_path_error

DEFAULT_FORMS = ("", DEFAULT_MOSAIC_HOME, DEFAULT_MOSAIC_HOME + "/")


def fleet_home_problems(mosaic_home, hosts=(), roster=None):
    """Why a fleet cannot run from ``mosaic_home`` (``mosaic_fleet_mosaic_home`` as given, ``~``
    not expanded): a list of messages, empty when it can.

    ``hosts``: the hosts the roster places agents on; ``roster``: the normalized roster, whose
    agents' hosts count too. The units are installed whatever the supervisor mode (a host can move
    to systemd later), so their rule applies in every mode.
    """
    if roster:
        if not isinstance(roster, dict) or not isinstance(roster.get("agents", []), list):
            raise AnsibleFilterError("fleet_home_problems expects roster to be the normalized roster "
                                     "(the roster result of mosaic.fleet.fleet_roster)")
        hosts = list(hosts or ()) + [agent.get("host") for agent in roster.get("agents", [])
                                     if isinstance(agent, dict) and agent.get("host")]
    if mosaic_home is None:
        mosaic_home = ""
    if not isinstance(mosaic_home, str):
        raise AnsibleFilterError("fleet_home_problems expects the MOSAIC_HOME as a string, got %s"
                                 % type(mosaic_home).__name__)
    if mosaic_home in DEFAULT_FORMS:
        return []
    shown = "mosaic_fleet_mosaic_home=%s" % mosaic_home
    problems = []
    if not mosaic_home.startswith(("/", "~/")):
        problems.append("%s: MOSAIC_HOME must be an absolute path or start with ~/ (the fleet user's home)" % shown)
    else:
        # "~/x" becomes <home>/x on the host: check the part the operator chose.
        error = unit_path_error(mosaic_home[1:] if mosaic_home.startswith("~/") else mosaic_home)
        if error:
            problems.append("%s: %s" % (shown, error))
    placed = sorted(set(hosts or ()))
    if len(placed) > 1:
        problems.append(
            "%s: the roster places agents on %d hosts (%s) and agents reach their peers on other hosts "
            "at %s (agent-send.sh -H), so a fleet spread over several hosts keeps the default "
            "MOSAIC_HOME: leave mosaic_fleet_mosaic_home empty"
            % (shown, len(placed), ", ".join(placed), DEFAULT_MOSAIC_HOME))
    return problems


class FilterModule(object):
    """mosaic.fleet MOSAIC_HOME checks."""

    def filters(self):
        return {"fleet_home_problems": fleet_home_problems}
