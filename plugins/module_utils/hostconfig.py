# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host file plan: which files under MOSAIC_HOME a host gets, and their exact content.

Pure and stdlib-only (``fleet_ps`` reads ``fleet/roster.yaml`` with :func:`load_rendered_roster`
on hosts without PyYAML). Paths are relative to MOSAIC_HOME; the module does the I/O.
"""

from __future__ import annotations

import json
import re

from ansible_collections.mosaic.fleet.plugins.module_utils.comms import render_comms_sheet
from ansible_collections.mosaic.fleet.plugins.module_utils.connector import CONNECTOR_FILE, render_connector_config
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import (  # noqa: F401 (re-exported) pylint: disable=unused-import
    AGENTS_DIR, COMMS_SUFFIX, CREDENTIALS_DIR, DEFAULT_MOSAIC_HOME, ENV_SUFFIX, HOLDER_ENV_FILE, LOG_DIR, ROSTER_FILE,
    RUN_DIR, SECRETS_FILE, SEND_TOOL, agent_env_pairs, comms_file, env_file, holder_env_pairs, valid_name)
from ansible_collections.mosaic.fleet.plugins.module_utils.envfile import render_env_file

# Directory modes: agent env files and credentials are private to the fleet user.
DIR_MODES = {"fleet": 0o755, AGENTS_DIR: 0o700, CREDENTIALS_DIR: 0o700}

# Isolation: the tenant's files are its user's alone. With ``private`` (the default),
# fleet_host_config creates these directories (relative to MOSAIC_HOME; "." is MOSAIC_HOME) and
# closes them, the fleet user's home and the logs directly in LOG_DIR to every other user
# (:func:`closed_mode`: 0755 -> 0700, 0644 -> 0600). Closed, not 0750: nothing of the fleet
# needs a group, and members of the user's group would read every roster, sheet and transcript.
PRIVATE_DIRS = (".", "fleet", RUN_DIR, LOG_DIR)
PRIVATE_LOG_SUFFIX = ".log"


def closed_mode(mode):
    """``mode`` (permission bits) with every group and other bit cleared."""
    return mode & 0o7777 & ~0o077


def private_dir_mode(relpath, private=True):
    """The mode a directory ``relpath`` (relative to MOSAIC_HOME) is created with."""
    mode = DIR_MODES.get(relpath, 0o755)
    return closed_mode(mode) if private and relpath in PRIVATE_DIRS else mode


def shared_mode(mode):
    """True for the mode of a directory every user may write to (sticky or world-writable, such
    as /tmp): never the fleet's to close, even when the fleet user owns it (root's HOME=/tmp)."""
    return bool(mode & 0o1002)


def plan_closing(entries, uid):
    """The paths to close: ``entries`` is ``[(path, mode, owner uid)]`` of what exists (directories
    and log files, never symlinks); only what ``uid`` owns and is not shared is changed (a parent
    such as /srv, or /tmp, is not the fleet's to close). Returns ``[(path, mode, closed mode)]``."""
    return [(path, mode & 0o7777, closed_mode(mode)) for path, mode, owner in entries
            if owner == uid and not shared_mode(mode) and closed_mode(mode) != mode & 0o7777]


_RENDERED_ON = "Rendered on host: "
_HEADER = (
    "# mosaic.fleet rendered roster: written by mosaic.fleet.fleet_host_config, do not edit.\n"
    "# The normalized fleet-wide roster as JSON (also valid YAML); read it with\n"
    "# hostconfig.load_rendered_roster(). " + _RENDERED_ON + "%s\n"
)
_RENDERED_HOST = re.compile(r"^#.*\b" + re.escape(_RENDERED_ON.rstrip()) + r" *(\S+)\s*$")


def agent_of_file(filename):
    """The agent name an ``fleet/agents/`` file name belongs to, or None for foreign files."""
    for suffix in (ENV_SUFFIX, COMMS_SUFFIX):
        if filename.endswith(suffix):
            name = filename[:-len(suffix)]
            return name if valid_name(name) else None
    return None


def file_mode(relpath):
    """0600 for env files that may be sensitive, 0644 for the rest."""
    return 0o600 if relpath.endswith(ENV_SUFFIX) and relpath != HOLDER_ENV_FILE else 0o644


def agents_on_host(normalized, host):
    return [a for a in normalized["agents"] if a["host"] == host]


def render_holder_env(normalized):
    return render_env_file(holder_env_pairs(normalized))


def render_roster(normalized, host):
    return _HEADER % host + json.dumps(normalized, indent=2, sort_keys=True) + "\n"


def load_rendered_roster(text):
    """The normalized roster from ``fleet/roster.yaml`` text (header comments, then JSON)."""
    body = "".join(line for line in text.splitlines(True) if not line.lstrip().startswith("#"))
    return json.loads(body)


def rendered_host(text):
    """The inventory host name in the rendered roster's header (:func:`render_roster`), or None."""
    for line in text.splitlines():
        if not line.lstrip().startswith("#"):
            break
        match = _RENDERED_HOST.match(line.strip())
        if match:
            return match.group(1)
    return None


def render_secrets(secrets):
    """``credentials/fleet.env`` content: the secrets in sorted key order, same quoting."""
    return render_env_file(sorted((str(k), v) for k, v in secrets.items()))


def home_shown(mosaic_home):
    """MOSAIC_HOME as the sheets show it: ``~/.config/mosaic`` for the default one."""
    return (mosaic_home or DEFAULT_MOSAIC_HOME).rstrip("/")


def send_tool_path(mosaic_home):
    """agent-send.sh as the sheet shows it: ``~/...`` for the default MOSAIC_HOME."""
    return home_shown(mosaic_home) + "/" + SEND_TOOL


def plan_files(normalized, host, mosaic_home=None):
    """``{relpath: content}`` of every rendered file ``host`` gets (secrets excluded).

    ``mosaic_home`` only changes the paths (agent-send.sh, mandates) shown in comms sheets; pass
    None (or the ``~/.config/mosaic`` form) for the default location.
    """
    tool = send_tool_path(mosaic_home)
    home = home_shown(mosaic_home)
    files = {ROSTER_FILE: render_roster(normalized, host), HOLDER_ENV_FILE: render_holder_env(normalized)}
    for agent in agents_on_host(normalized, host):
        files[env_file(agent["name"])] = render_env_file(agent_env_pairs(normalized, agent))
        files[comms_file(agent["name"])] = render_comms_sheet(normalized, agent["name"], tool, home)
    connector = render_connector_config(normalized, host)
    if connector is not None:
        files[CONNECTOR_FILE] = connector
    return files
