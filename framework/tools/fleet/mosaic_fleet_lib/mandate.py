# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which files hold an agent class's mandate: THE rule. Pure, stdlib only (controller and target).

A class names a *role*: the class itself, or the role it is an alias of (:data:`ALIASES`:
``implementer``, the seed fleet's name for the coder, reads the coder's mandate). A role's mandate
lives in MOSAIC_HOME in up to two files, read in this order:

``fleet/roles/<role>.md``
    the framework's mandate, for the roles it ships (:data:`FRAMEWORK_ROLES`, the files of
    ``framework/fleet/roles/``); replaced by every re-seed.
``fleet/roles/<role>.local.md``
    the operator's file: for a shipped role an overlay that may only tighten it (AGENTS.md), for
    any other class the mandate itself. ``*.local.md`` is user-owned (``sync.USER_OWNED_PATTERNS``):
    a re-seed never writes, replaces or removes it.

``framework/tools/fleet/lib.sh`` (``mosaic_mandate_role``, ``mosaic_mandate_files``) repeats this
rule for the launcher; ``tests/unit/test_mandate.py`` runs both on the same cases.
"""

from __future__ import annotations

import re

from ansible_collections.mosaic.fleet.plugins.module_utils.contract import DEFAULT_MOSAIC_HOME, NAME_BOUNDED, ROLES_DIR

LOCAL_SUFFIX = ".local.md"

# The mandates framework/fleet/roles/ ships (a test keeps this equal to the directory).
FRAMEWORK_ROLES = (
    "analyst", "board", "coder", "enhancer", "generalist", "operations", "orchestrator",
    "researcher", "reviewer", "security-reviewer", "worker",
)

# A class is a file name part: the agent name rule (contract.NAME_BOUNDED; no '.', so no class
# reads as another's overlay). The roster schema's class pattern is this one, anchored (a test keeps
# them equal).
CLASS_PATTERN = re.compile(NAME_BOUNDED)

# Class -> the shipped role whose mandate it reads.
ALIASES = {
    "implementer": "coder",  # the seed fleet's name for its coders
}


def valid_class(klass):
    return isinstance(klass, str) and CLASS_PATTERN.fullmatch(klass) is not None


def mandate_role(klass):
    """The role whose mandate ``klass`` reads: its alias target, else the class itself."""
    return ALIASES.get(klass, klass)


def framework_mandate(klass):
    """``fleet/roles/<role>.md`` when the framework ships that role's mandate, else None."""
    role = mandate_role(klass)
    return "%s/%s.md" % (ROLES_DIR, role) if role in FRAMEWORK_ROLES else None


def local_mandate(klass):
    """``fleet/roles/<role>.local.md``: the operator's file (overlay, or the whole mandate)."""
    return "%s/%s%s" % (ROLES_DIR, mandate_role(klass), LOCAL_SUFFIX)


def is_framework_class(klass):
    return framework_mandate(klass) is not None


def mandate_files(klass, exists):
    """The mandate files of ``klass`` that exist, in reading order (framework file, then the
    operator's). ``exists`` is a callable taking a path relative to MOSAIC_HOME.

    This is what the launcher hands an agent; an empty list means the class has no mandate yet
    (or is not a valid class).
    """
    if not valid_class(klass):
        return []
    role = mandate_role(klass)
    candidates = ("%s/%s.md" % (ROLES_DIR, role), local_mandate(klass))
    return [rel for rel in candidates if exists(rel)]


def operator_mandates(normalized):
    """Classes of a normalized roster whose mandate the framework does not ship, in roster order:
    ``[{"class", "file", "agents", "hosts"}]``; ``file`` is the operator's file to write on
    each of ``hosts`` (relative to MOSAIC_HOME)."""
    found = {}
    for agent in normalized["agents"]:
        klass = agent["class"]
        if is_framework_class(klass):
            continue
        entry = found.setdefault(klass, {"class": klass, "file": local_mandate(klass), "agents": [], "hosts": []})
        entry["agents"].append(agent["name"])
        if agent["host"] not in entry["hosts"]:
            entry["hosts"].append(agent["host"])
    return list(found.values())


def operator_mandate_warning(entry):
    """The warning ``fleet_roster`` gives for one :func:`operator_mandates` entry."""
    hosts = ", ".join(entry["hosts"])
    return ("class %r (agent%s %s) has no mandate in the framework: write one as %s under the "
            "fleet user's MOSAIC_HOME (default %s) on %s. That file is the operator's "
            "and a re-seed never overwrites it; until it exists the agent is told to ask the "
            "orchestrator for its mandate. (fleet_roster runs on the controller and cannot see "
            "whether the file is already there.)"
            % (entry["class"], "" if len(entry["agents"]) == 1 else "s", ", ".join(entry["agents"]),
               entry["file"], DEFAULT_MOSAIC_HOME, hosts))
