# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several fleets on the same hosts, one per tenant (``mosaic_fleets``): THE rule. Pure, stdlib.

Each fleet is a roster with its ``tenant`` and the Linux ``user`` it runs as on every host its
roster places agents on. A tenant is one uid per host: its own files (MOSAIC_HOME), systemd user
manager, tmux server and ssh keys. :func:`plan` checks, on the controller before any host is
touched, that no two fleets share a tenant, or a user or a MOSAIC_HOME on a host, and returns the
fleets with what each host runs.
"""

from __future__ import annotations

import re

from ansible_collections.mosaic.fleet.plugins.module_utils.contract import valid_name

USER_RE = re.compile(r"[a-z_][a-z0-9_-]*[$]?\Z")
FLEET_KEYS = ("tenant", "user", "roster", "roster_file", "profile", "mosaic_home", "secrets", "default_host")
SEPARATOR = "/"   # tenant/agent, where an agent name alone is ambiguous (send.yml)


def _where(index):
    return "mosaic_fleets[%d]" % index


def check_entries(fleets):
    """Problems with the ``mosaic_fleets`` entries themselves (before their rosters are read)."""
    if not isinstance(fleets, list) or not fleets:
        return ["mosaic_fleets must be a non-empty list of fleets (tenant, user, and roster, roster_file or profile)"]
    problems = []
    for index, fleet in enumerate(fleets):
        if not isinstance(fleet, dict):
            problems.append("%s must be a mapping, got %s" % (_where(index), type(fleet).__name__))
            continue
        unknown = sorted(set(fleet) - set(FLEET_KEYS))
        if unknown:
            problems.append("%s: unknown key(s) %s (known: %s)"
                            % (_where(index), ", ".join(unknown), ", ".join(FLEET_KEYS)))
        tenant = fleet.get("tenant")
        if not isinstance(tenant, str) or not valid_name(tenant):
            problems.append("%s: tenant %r must be a name (letters, digits, '_', '-'; at most 48)" % (_where(index), tenant))
        user = fleet.get("user")
        if not isinstance(user, str) or not USER_RE.match(user):
            problems.append("%s: user %r must be the Linux user the tenant's fleet runs as (each tenant its own)"
                            % (_where(index), user))
        given = [key for key in ("roster", "roster_file", "profile") if fleet.get(key)]
        if len(given) != 1:
            problems.append("%s: give exactly one of roster, roster_file, profile (got %s)"
                            % (_where(index), ", ".join(given) or "none"))
    return problems


def plan(fleets, rosters):
    """``{"fleets": [...], "problems": [...]}`` for the ``mosaic_fleets`` entries and their
    normalized rosters (same order; the ``roster`` results of ``fleet_roster``).

    Each planned fleet: ``index`` (in ``mosaic_fleets``), ``tenant``, ``user``, ``mosaic_home``
    (as given, "" for the default), ``hosts`` (where its roster places agents, in roster order)
    and ``roster`` (with ``tenant`` set to the fleet's).
    """
    problems = check_entries(fleets)
    if problems:
        return {"fleets": [], "problems": problems}
    planned, tenants, users, homes = [], {}, {}, {}
    for index, (fleet, roster) in enumerate(zip(fleets, rosters)):
        tenant = fleet["tenant"]
        if roster.get("tenant") not in (None, "default", tenant):
            problems.append("%s: tenant %s, but its roster says tenant %s" % (_where(index), tenant, roster["tenant"]))
        if tenant in tenants:
            problems.append("tenant %s is given twice: %s and %s" % (tenant, _where(tenants[tenant]), _where(index)))
        tenants.setdefault(tenant, index)
        hosts = []
        for agent in roster.get("agents", []):
            if agent["host"] not in hosts:
                hosts.append(agent["host"])
        mosaic_home = fleet.get("mosaic_home") or ""
        for host in hosts:
            other = users.setdefault((host, fleet["user"]), tenant)
            if other != tenant:
                problems.append("user %s on %s is claimed by tenants %s and %s: each tenant needs its own user"
                                % (fleet["user"], host, other, tenant))
            if mosaic_home.startswith("/"):
                other = homes.setdefault((host, mosaic_home.rstrip("/")), tenant)
                if other != tenant:
                    problems.append("MOSAIC_HOME %s on %s is claimed by tenants %s and %s"
                                    % (mosaic_home, host, other, tenant))
        normalized = dict(roster, tenant=tenant)
        planned.append({"index": index, "tenant": tenant, "user": fleet["user"], "mosaic_home": mosaic_home,
                        "hosts": hosts, "roster": normalized})
    return {"fleets": [] if problems else planned, "problems": problems}


def find_agent(planned, address):
    """``(fleet, agent name)`` for ``address`` (``agent`` or ``tenant/agent``), or a ValueError
    naming the candidates when the name alone is ambiguous or unknown."""
    tenant, sep, name = address.rpartition(SEPARATOR) if SEPARATOR in address else ("", "", address)
    candidates = []
    for fleet in planned:
        if sep and fleet["tenant"] != tenant:
            continue
        if any(agent["name"] == name for agent in fleet["roster"]["agents"]):
            candidates.append(fleet)
    if len(candidates) == 1:
        return candidates[0], name
    if not candidates:
        known = ["%s/%s" % (f["tenant"], a["name"]) for f in planned for a in f["roster"]["agents"]]
        raise ValueError("no agent %s in any fleet (agents: %s)" % (address, ", ".join(known) or "none"))
    raise ValueError("agent %s is in several fleets: say which, as %s" % (
        name, " or ".join("%s/%s" % (fleet["tenant"], name) for fleet in candidates)))
