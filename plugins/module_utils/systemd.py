# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd --user for a fleet user: argv building, ``systemctl show`` parsing, and the unit files
a fleet installs.

Running as the fleet user: plain ``systemctl --user`` with XDG_RUNTIME_DIR pointing at the
user's runtime directory. Running as root for another user: ``systemctl --user -M user@`` (needs
systemd >= 248), which reaches that user's manager without a login session.

Units: the framework ships them under ``MOSAIC_HOME/systemd/user/``, naming MOSAIC_HOME as
``%h/.config/mosaic``; they are installed unchanged into ``~/.config/systemd/user/``. A fleet
whose MOSAIC_HOME is anywhere else gets one drop-in per unit, ``<unit>.d/mosaic-home.conf``
(:func:`render_home_dropin`), that re-states every directive naming ``%h/.config/mosaic`` with
the fleet's MOSAIC_HOME instead (:func:`plan_units`). This is the one place a fleet's own
settings reach its units.
"""

from __future__ import annotations

import posixpath
import re

from ansible_collections.mosaic.fleet.plugins.module_utils.host import default_mosaic_home

# The unit names, where they are shipped (UNIT_SOURCE_DIR, under MOSAIC_HOME) and installed
# (USER_UNIT_DIR, under the home), and how they name the default MOSAIC_HOME: contract.py's.
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import (  # noqa: F401 (re-exported) pylint: disable=unused-import
    AGENT_UNIT_TEMPLATE, CONNECTOR_UNIT, FLEET_UNITS, HOLDER_UNIT, UNIT_MOSAIC_HOME, UNIT_SOURCE_DIR, USER_UNIT_DIR,
    agent_unit)

HOME_DROPIN = "mosaic-home.conf"
# A MOSAIC_HOME a unit file can name as it is: no whitespace, quotes, backslashes, '%'
# (specifiers) or '$' (variables), which systemd would interpret.
_UNIT_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./@+,:=-]*\Z")
UNIT_SAFE_CHARACTERS = "letters, digits and _ . / @ + , : = -"
_HOME_WORD = re.compile(re.escape(UNIT_MOSAIC_HOME) + r"(?=/|\s|$)")
_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")


# UnitFileState values of an enabled unit (fleet_ps's "unit_enabled"; fleet_supervisor disables
# a unit in one of them when it stops it).
ENABLED_STATES = frozenset(("enabled", "enabled-runtime", "linked", "linked-runtime", "alias"))
# UnitFileState values that need no ``enable``: the enabled ones, and units without an
# [Install] section or enabled by something else.
NO_ENABLE_STATES = ENABLED_STATES | frozenset(("static", "indirect", "generated"))


def runtime_dir(uid):
    return "/run/user/%d" % uid


def bus_path(uid):
    """The user manager's private socket; it exists once the manager is up."""
    return "/run/user/%d/systemd/private" % uid


def systemctl_user_argv(user, as_self, *args, **kwargs):
    """argv for ``systemctl --user ...`` against ``user``'s manager.

    ``as_self``: the caller already runs as ``user`` (then the env must carry XDG_RUNTIME_DIR,
    see :func:`user_env`); otherwise the machine manager relays to ``user@``.
    """
    argv = [kwargs.get("binary") or "systemctl", "--user"]
    if not as_self:
        argv += ["-M", "%s@" % user]
    return argv + [str(a) for a in args]


def user_env(uid):
    """Environment additions that let ``systemctl --user`` find the manager of ``uid``."""
    rdir = runtime_dir(uid)
    return {"XDG_RUNTIME_DIR": rdir, "DBUS_SESSION_BUS_ADDRESS": "unix:path=%s/bus" % rdir}


def parse_show_output(text):
    """Parse ``systemctl show -p A -p B unit1 unit2 ...`` output: blocks separated by blank lines.

    Returns a list of dicts, one per unit, in the order systemctl printed them.
    """
    units = []
    current = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if current:
        units.append(current)
    return units


def dropin_path(unit):
    """The fleet's drop-in of ``unit``, relative to the unit directory."""
    return "%s.d/%s" % (unit, HOME_DROPIN)


def unit_path_error(path):
    """Why a unit file cannot name ``path`` as MOSAIC_HOME, or None when it can."""
    if not _UNIT_SAFE_PATH.match(path or ""):
        return "a systemd unit cannot name it: use an absolute path of %s only" % UNIT_SAFE_CHARACTERS
    if posixpath.normpath(path) != path.rstrip("/") or path == "/":
        return "it is not a normalized absolute path below / (no '.' or '..' parts, no '//')"
    return None


def _directives(unit_text):
    """``[(section, key, value)]`` of a unit file, in order (comments and blank lines dropped,
    continued lines joined)."""
    out, section, pending = [], None, ""
    for raw in unit_text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        line, pending = pending + line, ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        match = _SECTION.match(line)
        if match:
            section = match.group(1)
            continue
        key, sep, value = line.partition("=")
        if sep and section:
            out.append((section, key.strip(), value.strip()))
    return out


def render_home_dropin(unit, unit_text, mosaic_home):
    """The drop-in that runs ``unit`` (its text ``unit_text``) from ``mosaic_home``.

    For each directive that names ``%h/.config/mosaic`` the drop-in resets it (an empty
    assignment) and then repeats every value the unit gives it in that section, with the fleet's
    MOSAIC_HOME instead, so list directives (ExecStart, Environment, ...) are replaced, not added
    to. ValueError when ``mosaic_home`` cannot be named in a unit or the unit names no MOSAIC_HOME.
    """
    error = unit_path_error(mosaic_home)
    if error:
        raise ValueError("MOSAIC_HOME %r: %s" % (mosaic_home, error))
    home = mosaic_home.rstrip("/")
    directives = _directives(unit_text)
    rewritten = []
    for section, key in dict.fromkeys((s, k) for s, k, v in directives if _HOME_WORD.search(v)):
        values = [_HOME_WORD.sub(lambda m: home, v) for s, k, v in directives if (s, k) == (section, key)]
        rewritten.append((section, key, values))
    if not rewritten:
        raise ValueError("%s does not name %s: nothing to point at MOSAIC_HOME %s" % (unit, UNIT_MOSAIC_HOME, home))
    out = ["# mosaic.fleet: %s runs from this fleet's MOSAIC_HOME instead of %s:" % (unit, UNIT_MOSAIC_HOME),
           "# %s" % home,
           "# Derived from the unit by mosaic.fleet.fleet_units; do not edit (the next stand-up rewrites it)."]
    for section in dict.fromkeys(s for s, _k, _v in rewritten):
        out += ["", "[%s]" % section]
        for _s, key, values in (r for r in rewritten if r[0] == section):
            out.append("%s=" % key)
            out += ["%s=%s" % (key, value) for value in values]
    return "\n".join(out) + "\n"


def needs_home_dropin(mosaic_home, home):
    """Whether units installed under ``home`` need the drop-in to run from ``mosaic_home``."""
    return posixpath.normpath(mosaic_home) != posixpath.normpath(default_mosaic_home(home))


def plan_units(sources, mosaic_home, home):
    """``{path relative to the unit directory: text}`` to install for ``sources`` (unit name ->
    the shipped unit's text) and, per unit, whether its drop-in is wanted.

    Returns ``(files, unwanted)``: ``files`` holds each unit as shipped plus, when MOSAIC_HOME is
    not ``home/.config/mosaic``, its drop-in; ``unwanted`` lists the drop-ins that must not exist
    (a fleet on the default MOSAIC_HOME). ValueError as :func:`render_home_dropin`.
    """
    custom = needs_home_dropin(mosaic_home, home)
    files, unwanted = {}, []
    for unit, text in sources.items():
        files[unit] = text
        if custom:
            files[dropin_path(unit)] = render_home_dropin(unit, text, mosaic_home)
        else:
            unwanted.append(dropin_path(unit))
    return files, unwanted
