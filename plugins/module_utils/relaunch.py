# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After a re-seed: which agents still run the previous framework, and how to relaunch one.

Pure functions, stdlib only. ``fleet_ps`` returns these facts (its ``framework_installed_at``
option) so that ``playbooks/reseed.yml`` passes values and computes nothing.
"""

from __future__ import annotations

import math

from ansible_collections.mosaic.fleet.plugins.module_utils import contract

SYSTEMD = "systemd"
# What stands for the agent's name in RV(relaunch_command).
NAME_PLACEHOLDER = "NAME"


def previous_framework(records, installed_at):
    """``(names, {name: session_created})`` of the agents whose session started before the
    installed framework was written (``installed_at``, epoch seconds), in the order of ``records``
    (fleet_ps agent records). Session times are whole seconds, so a session created in the second
    the framework was written counts as started after it. None for ``installed_at``: nothing is
    installed, no agent runs a previous framework."""
    if installed_at is None:
        return [], {}
    cutoff = int(math.floor(float(installed_at)))
    previous = [r for r in records
                if r.get("session_exists") and r.get("session_created") is not None
                and int(r["session_created"]) < cutoff]
    return [r["name"] for r in previous], dict((r["name"], int(r["session_created"])) for r in previous)


def relaunch_command(supervisor, mosaic_home, name=NAME_PLACEHOLDER):
    """The command that relaunches agent ``name`` by hand, as the fleet user."""
    if supervisor == SYSTEMD:
        return "systemctl --user restart %s" % contract.agent_unit(name)
    tools = "%s/%s" % (mosaic_home.rstrip("/"), contract.TOOLS_DIR)
    return "%s/stop-agent-session.sh %s && %s/start-agent-session.sh %s" % (tools, name, tools, name)


def facts(records, installed_at, supervisor, mosaic_home):
    """What fleet_ps returns for a re-seed: RV(previous_framework), RV(previous_framework_sessions)
    and RV(relaunch_command)."""
    names, sessions = previous_framework(records, installed_at)
    return dict(previous_framework=names, previous_framework_sessions=sessions,
                relaunch_command=relaunch_command(supervisor, mosaic_home))
