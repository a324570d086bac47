#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_units
short_description: Install a fleet user's mosaic.fleet systemd user units, pointed at the fleet's MOSAIC_HOME
version_added: 0.1.0
description:
  - Copies the units the framework ships in C(MOSAIC_HOME/systemd/user/)
    (C(mosaic-tmux-holder.service), C(mosaic-agent@.service) and C(mosaic-connector.service), the
    orchestrator's chat connector, enabled by M(mosaic.fleet.fleet_supervisor) only where it runs) into the fleet user's
    C(~/.config/systemd/user/), unchanged.
  - The shipped units run the fleet from C(%h/.config/mosaic). When the fleet's MOSAIC_HOME is
    anywhere else, each unit also gets a drop-in, C(<unit>.d/mosaic-home.conf), that re-states
    every directive of the unit naming C(%h/.config/mosaic) (C(Environment=MOSAIC_HOME), the
    C(EnvironmentFile=), C(ExecStart=), C(ExecStop=), ...) with the fleet's MOSAIC_HOME instead.
    The drop-in is derived from the installed unit, so a re-seeded unit gets a matching one.
    On the default MOSAIC_HOME no drop-in exists (one left from an earlier MOSAIC_HOME is
    removed).
  - "Each agent placed on the host (the rendered C(fleet/roster.yaml) that
    M(mosaic.fleet.fleet_host_config) writes, and its host header) gets the drop-in
    C(mosaic-agent@<name>.service.d/mosaic-supervision.conf) stating its supervision policy from
    the roster: C(Restart=), C(RestartSec=), C(StartLimitIntervalSec=), C(StartLimitBurst=),
    C(WatchdogSec=) (hang restarts) and the fleet-wide restart spacing. Drop-ins of agents no
    longer placed here are removed; without a rendered roster they are left as they are."
  - Files are only written when their content, mode (0644) or owner differ; writes are atomic.
    Running as root for another O(user), files and the directories it creates belong to that
    user.
  - It does not run C(systemctl daemon-reload); M(mosaic.fleet.fleet_supervisor) does that when
    this module reports a change (O(mosaic.fleet.fleet_supervisor#module:daemon_reload)).
  - A MOSAIC_HOME that a unit file cannot name as it is (whitespace, quotes, C(%), C($) or a
    relative path) is refused before anything is written.
author:
  - mosaic.fleet developers (@mosaic-fleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mosaic.fleet.fleet_user
options:
  units:
    description:
      - The units to install or remove.
    type: list
    elements: str
    choices: [mosaic-tmux-holder.service, mosaic-agent@.service, mosaic-connector.service]
    default: [mosaic-tmux-holder.service, mosaic-agent@.service, mosaic-connector.service]
  installed_only:
    description:
      - Only refresh the units of O(units) that are already installed (what a re-seed does, so
        a host where the fleet was never stood up gets no units).
    type: bool
    default: false
  state:
    description:
      - V(absent) removes the units of O(units) and their drop-ins, every agent's supervision
        drop-in included when O(units) holds C(mosaic-agent@.service) (and the drop-in directories
        when they are left empty).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Reports what would change; writes nothing.
  diff_mode:
    support: full
    details: One before/after diff per unit file or drop-in.
  platform:
    support: full
    platforms: posix
notes:
  - A MOSAIC_HOME is the default when it is C(<home>/.config/mosaic) for the home this module
    resolves (C($HOME) when it runs as O(user), else the passwd entry's).
seealso:
  - module: mosaic.fleet.fleet_reseed
  - module: mosaic.fleet.fleet_supervisor
"""

EXAMPLES = r"""
- name: Install the units for a fleet living in /srv/mosaic-fleet/home
  mosaic.fleet.fleet_units:
    user: fleet
    mosaic_home: /srv/mosaic-fleet/home
  register: units

- name: Start the agents (daemon-reload when the units changed)
  mosaic.fleet.fleet_supervisor:
    user: fleet
    mosaic_home: /srv/mosaic-fleet/home
    agents: [orchestrator, worker]
    daemon_reload: "{{ units is changed }}"

- name: Remove the units and their drop-ins
  mosaic.fleet.fleet_units:
    user: fleet
    state: absent
"""

RETURN = r"""
files_changed:
  description: Paths relative to RV(unit_dir) that were (or in check mode would be) written or deleted.
  returned: always
  type: list
  elements: str
  sample: [mosaic-agent@.service.d/mosaic-home.conf]
dropins:
  description: The drop-ins the units have after this run (empty on the default MOSAIC_HOME).
  returned: always
  type: list
  elements: str
  sample: [mosaic-tmux-holder.service.d/mosaic-home.conf, mosaic-agent@.service.d/mosaic-home.conf]
unit_dir:
  description: The fleet user's systemd user unit directory.
  returned: always
  type: str
  sample: /home/fleet/.config/systemd/user
mosaic_home:
  description: The MOSAIC_HOME the units run the fleet from.
  returned: always
  type: str
  sample: /srv/mosaic-fleet/home
home:
  description: The fleet user's home directory (C($HOME) when the module runs as that user).
  returned: always
  type: str
  sample: /home/fleet
user_exists:
  description: Whether the fleet user exists (only false in check mode, before the user is created).
  returned: always
  type: bool
  sample: true
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.mosaic.fleet.plugins.module_utils import contract, fileops, host, hostconfig, supervision
from ansible_collections.mosaic.fleet.plugins.module_utils import systemd as sd

UNIT_MODE = 0o644


def wanted_files(module, unit_dir, mosaic_home, home, owner):
    """``(writes, deletes, dropins)`` for state=present; fails before any write."""
    units = module.params["units"]
    if module.params["installed_only"]:
        units = [u for u in units if os.path.lexists(os.path.join(unit_dir, u))]
    sources = {}
    for unit in units:
        path = os.path.join(mosaic_home, sd.UNIT_SOURCE_DIR, unit)
        text = fileops.read_text(path)
        if text is None:
            module.fail_json(msg="cannot read %s: install the framework into %s first (mosaic.fleet.fleet_reseed)"
                                 % (path, mosaic_home))
        sources[unit] = text
    try:
        files, unwanted = sd.plan_units(sources, mosaic_home, home)
    except ValueError as exc:
        module.fail_json(msg="cannot run the fleet's systemd units from %s: %s" % (mosaic_home, to_text(exc)))
    writes = [(rel, text) for rel, text in files.items()
              if fileops.needs_write(os.path.join(unit_dir, rel), text, UNIT_MODE, owner)]
    deletes = [rel for rel in unwanted if os.path.lexists(os.path.join(unit_dir, rel))]
    dropins = [rel for rel in files if rel.endswith("/" + sd.HOME_DROPIN)]
    if sd.AGENT_UNIT_TEMPLATE in units:
        policies = placed_policies(mosaic_home)
        if policies is not None:
            wanted, unwanted_policies = supervision.plan_dropins(policies, supervision_dropins(unit_dir))
            writes += [(rel, text) for rel, text in wanted.items()
                       if fileops.needs_write(os.path.join(unit_dir, rel), text, UNIT_MODE, owner)]
            deletes += unwanted_policies
    return writes, deletes, dropins


def placed_policies(mosaic_home):
    """{agent name: supervision policy} of the agents the rendered roster places on this host, or
    None when there is no rendered roster (nothing to go by)."""
    text = fileops.read_text(os.path.join(mosaic_home, contract.ROSTER_FILE))
    if text is None:
        return None
    try:
        normalized = hostconfig.load_rendered_roster(text)
    except ValueError:
        return None
    here = hostconfig.rendered_host(text)
    return dict((a["name"], a.get("supervision") or {}) for a in normalized.get("agents") or []
                if here is None or a.get("host") == here)


def supervision_dropins(unit_dir):
    """The agents' supervision drop-ins installed in ``unit_dir`` (relative paths)."""
    try:
        entries = sorted(os.listdir(unit_dir))
    except OSError:
        return []
    return [rel for rel in ("%s/%s" % (entry, supervision.DROPIN) for entry in entries)
            if supervision.is_dropin(rel) and os.path.lexists(os.path.join(unit_dir, rel))]


def main():
    module = AnsibleModule(
        argument_spec=host.user_argument_spec(
            units=dict(type="list", elements="str", choices=list(sd.FLEET_UNITS), default=list(sd.FLEET_UNITS)),
            installed_only=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    entry, home, mosaic_home, dummy = host.resolve_fleet_user(params, os.environ)
    unit_dir = os.path.join(home, sd.USER_UNIT_DIR)
    base = dict(unit_dir=unit_dir, mosaic_home=mosaic_home, home=home, user_exists=entry is not None)
    absent = params["state"] == "absent"
    if entry is None:
        if absent:
            module.exit_json(changed=False, files_changed=[], dropins=[], **base)
        if not module.check_mode:
            module.fail_json(msg="fleet user %r does not exist" % params["user"])
        # Check mode before the user is created: every unit would be installed.
        module.exit_json(changed=True, files_changed=list(params["units"]), dropins=[], **base)
    owner = fileops.file_owner(entry)

    if absent:
        writes, dropins = [], []
        deletes = [rel for unit in params["units"] for rel in (unit, sd.dropin_path(unit))
                   if os.path.lexists(os.path.join(unit_dir, rel))]
        if sd.AGENT_UNIT_TEMPLATE in params["units"]:
            deletes += supervision_dropins(unit_dir)
    else:
        writes, deletes, dropins = wanted_files(module, unit_dir, mosaic_home, home, owner)

    result = dict(changed=bool(writes or deletes), files_changed=[rel for rel, _t in writes] + deletes,
                  dropins=dropins, **base)
    if module._diff:
        result["diff"] = [dict(before_header=rel, after_header=rel,
                               before=fileops.read_text(os.path.join(unit_dir, rel)) or "", after=after or "")
                          for rel, after in writes + [(rel, None) for rel in deletes]]
    if not module.check_mode:
        try:
            for rel, text in writes:
                path = os.path.join(unit_dir, rel)
                fileops.make_dirs(os.path.dirname(path), owner)
                fileops.atomic_write(path, to_bytes(text, errors="surrogate_or_strict"), UNIT_MODE, owner)
            for rel in deletes:
                os.unlink(os.path.join(unit_dir, rel))
                if "/" in rel:
                    remove_empty_dir(os.path.join(unit_dir, os.path.dirname(rel)))
        except OSError as exc:
            module.fail_json(msg="cannot install the systemd units in %s: %s" % (unit_dir, to_text(exc)))
    module.exit_json(**result)


def remove_empty_dir(path):
    """Remove a drop-in directory this module emptied; keep it when anything else is in it."""
    try:
        os.rmdir(path)
    except OSError:
        pass


if __name__ == "__main__":
    main()
