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

from ansible_collections.mosaic.fleet.plugins.module_utils.comms import SEND_TOOL, render_comms_sheet
from ansible_collections.mosaic.fleet.plugins.module_utils.envfile import render_env_file

ROSTER_FILE = "fleet/roster.yaml"
HOLDER_ENV_FILE = "fleet/holder.env"
AGENTS_DIR = "fleet/agents"
SECRETS_FILE = "credentials/fleet.env"
DEFAULT_MOSAIC_HOME = "~/.config/mosaic"

ENV_SUFFIX = ".env"
COMMS_SUFFIX = ".comms.md"
# The agent name rule (roster.NAME_PATTERN, without importing the controller-side module).
_AGENT_FILE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_-]{0,47})(\.env|\.comms\.md)$")

# Directory modes: agent env files and credentials are private to the fleet user.
DIR_MODES = {"fleet": 0o755, AGENTS_DIR: 0o700, "credentials": 0o700}

_RENDERED_ON = "Rendered on host: "
_HEADER = (
    "# mosaic.fleet rendered roster: written by mosaic.fleet.fleet_host_config, do not edit.\n"
    "# The normalized fleet-wide roster as JSON (also valid YAML); read it with\n"
    "# hostconfig.load_rendered_roster(). " + _RENDERED_ON + "%s\n"
)
_RENDERED_HOST = re.compile(r"^#.*\b" + re.escape(_RENDERED_ON.rstrip()) + r" *(\S+)\s*$")


def env_file(name):
    return "%s/%s%s" % (AGENTS_DIR, name, ENV_SUFFIX)


def comms_file(name):
    return "%s/%s%s" % (AGENTS_DIR, name, COMMS_SUFFIX)


def agent_of_file(filename):
    """The agent name an ``fleet/agents/`` file name belongs to, or None for foreign files."""
    match = _AGENT_FILE.match(filename)
    return match.group(1) if match else None


def file_mode(relpath):
    """0600 for env files that may be sensitive, 0644 for the rest."""
    return 0o600 if relpath.endswith(ENV_SUFFIX) and relpath != HOLDER_ENV_FILE else 0o644


def agents_on_host(normalized, host):
    return [a for a in normalized["agents"] if a["host"] == host]


def agent_env_pairs(normalized, agent):
    """The env file keys in contract order (docs/DEVELOPING.md)."""
    return [
        ("MOSAIC_AGENT_NAME", agent["name"]),
        ("MOSAIC_AGENT_RUNTIME", agent["runtime"]),
        ("MOSAIC_AGENT_MODEL", agent["model_hint"]),
        ("MOSAIC_AGENT_WORKDIR", agent["working_directory"]),
        ("MOSAIC_TMUX_SOCKET", agent["socket"]),
        ("MOSAIC_AGENT_CLASS", agent["class"]),
        ("MOSAIC_AGENT_HOST", agent["host"]),
        ("MOSAIC_TENANT", normalized["tenant"]),
        ("MOSAIC_HOLDER_SESSION", normalized["tmux"]["holder_session"]),
        ("MOSAIC_AGENT_PERSONA", "true" if agent["persistent_persona"] else "false"),
        ("MOSAIC_AGENT_COMMAND", agent["command"]),
    ]


def render_holder_env(normalized):
    return render_env_file([
        ("MOSAIC_TMUX_SOCKET", normalized["tmux"]["socket_name"]),
        ("MOSAIC_HOLDER_SESSION", normalized["tmux"]["holder_session"]),
    ])


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
    return home_shown(mosaic_home) + SEND_TOOL[len(DEFAULT_MOSAIC_HOME):]


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
    return files
