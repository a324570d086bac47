#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_runtimes
short_description: Install the agent runtimes a host's agents use, at the collection's pinned versions
version_added: 0.2.0
description:
  - For each runtime that an agent placed on O(host) uses and that the runtime table gives an npm
    package (C(claude), C(codex), C(pi), C(opencode); not C(stub)), makes sure that package is
    installed for the fleet user at the pinned version (the table's C(package.version)), or at
    the version O(versions) gives.
  - Installs with C(npm install --global --prefix ~/.npm-global) as the fleet user, so the
    runtime's command lands in C(~/.npm-global/bin), which C(start-agent-session.sh) puts at the
    front of every agent pane's PATH.
  - One C(npm install) for every package that is missing or at another version; nothing when all
    are there. A runtime moving from one installed version to another is reported in
    RV(relaunch) (its agents run the old version until relaunched; the stand-up role relaunches
    them one at a time, as a re-seed does).
author:
  - mosaic.fleet developers (@mosaic-fleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mosaic.fleet.fleet_user
options:
  roster:
    description:
      - The normalized roster, as returned by M(mosaic.fleet.fleet_roster) in C(roster).
    type: dict
    required: true
  host:
    description:
      - The inventory host name whose agents' runtimes to install.
    type: str
    required: true
  versions:
    description:
      - "Exact versions by runtime name, replacing the pinned ones, for example C({claude: 2.1.200})."
    type: dict
    default: {}
  restarting:
    description:
      - Agents the caller restarts anyway (fleet_host_config's C(changed_agents)); left out of
        RV(relaunch).
    type: list
    elements: str
    default: []
  npm:
    description:
      - The npm command. Defaults to C(npm) on the PATH.
    type: str
attributes:
  check_mode:
    support: full
    details: Reports what would be installed; runs no npm.
  diff_mode:
    support: full
    details: One line per runtime, C(<runtime> <package> <version>), before and after.
  platform:
    support: full
    platforms: posix
notes:
  - Needs npm and a Node.js the runtimes accept (pi wants 20.6 or later) on the host.
seealso:
  - module: mosaic.fleet.fleet_host_config
  - module: mosaic.fleet.fleet_supervisor
"""

EXAMPLES = r"""
- name: Install the agent runtimes this host's agents use
  mosaic.fleet.fleet_runtimes:
    roster: "{{ hostvars.localhost._mosaic_fleet.roster }}"
    host: "{{ inventory_hostname }}"
    user: fleet
    versions:
      claude: 2.1.200
  register: runtimes
"""

RETURN = r"""
runtimes:
  description: Each runtime the host's agents use that has an npm package, with the version wanted
    and the one installed before.
  returned: always
  type: list
  elements: dict
  sample: [{runtime: pi, package: "@mariozechner/pi-coding-agent", version: 0.73.1, installed: 0.72.0}]
installed:
  description: The runtimes that were (or in check mode would be) installed or changed version.
  returned: always
  type: list
  elements: str
  sample: [pi]
relaunch:
  description: Agents on the host whose runtime moved from one installed version to another (roster
    order), but for O(restarting); they run the old version until relaunched.
  returned: always
  type: list
  elements: str
  sample: [coder0]
prefix:
  description: The npm prefix the runtimes are installed in (its C(bin) is on every agent's PATH).
  returned: always
  type: str
  sample: /home/fleet/.npm-global
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mosaic.fleet.plugins.module_utils import fileops, host, hostconfig, runtime_install
from ansible_collections.mosaic.fleet.plugins.module_utils.runtime_table import TABLE


def main():
    module = AnsibleModule(
        argument_spec=host.user_argument_spec(
            roster=dict(type="dict", required=True),
            host=dict(type="str", required=True),
            versions=dict(type="dict", default={}),
            restarting=dict(type="list", elements="str", default=[]),
            npm=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    entry, home, _mosaic_home, as_self = host.resolve_fleet_user(params, os.environ)
    prefix = os.path.join(home, runtime_install.PREFIX)
    try:
        agents = hostconfig.agents_on_host(params["roster"], params["host"])
        wanted = runtime_install.plan(TABLE, agents, dict((str(k), v) for k, v in params["versions"].items()))
    except (KeyError, TypeError) as exc:
        module.fail_json(msg="cannot read the roster (is it the normalized roster from mosaic.fleet.fleet_roster?): %s"
                             % to_text(exc))
    except runtime_install.InstallError as exc:
        module.fail_json(msg=to_text(exc))
    installed = dict((package, runtime_install.installed_version(
        fileops.read_text(runtime_install.package_json_path(prefix, package)))) for _r, package, _v in wanted)
    todo = runtime_install.changes(wanted, installed)
    result = dict(
        changed=bool(todo),
        runtimes=[dict(runtime=r, package=p, version=v, installed=installed[p]) for r, p, v in wanted],
        installed=[runtime for runtime, _p, _v, _h in todo],
        relaunch=[name for name in runtime_install.agents_to_relaunch(agents, todo)
                  if name not in params["restarting"]],
        prefix=prefix,
    )
    if module._diff:
        result["diff"] = dict(
            before_header=prefix, after_header=prefix,
            before="".join("%s %s %s\n" % (r, p, installed[p] or "(not installed)") for r, p, _v in wanted),
            after="".join("%s %s %s\n" % (r, p, v) for r, p, v in wanted))
    if todo and not module.check_mode:
        if entry is None:
            module.fail_json(msg="fleet user %r does not exist" % params["user"], **result)
        npm = params["npm"] or module.get_bin_path("npm")
        if not npm:
            module.fail_json(msg="npm is not on the PATH; install Node.js and npm on the host (or pass npm), "
                                 "or leave runtime installation to the operator", **result)
        runner = host.Runner.for_module(module, entry.pw_name, as_self)
        argv = runner.as_user(["env", "HOME=%s" % home] + runtime_install.npm_argv(npm, prefix, todo))
        rc, out, err = runner.run(argv, changes=True, timeout=1800)
        if rc != 0:
            module.fail_json(msg="npm install of %s failed (exit %d): %s" % (
                ", ".join("%s@%s" % (p, v) for _r, p, v, _h in todo), rc, (err or out).strip()[-2000:]), **result)
        for runtime, package, version, _have in todo:
            now = runtime_install.installed_version(
                fileops.read_text(runtime_install.package_json_path(prefix, package)))
            if now != version:
                module.fail_json(msg="after npm install, %s is at %s, not %s (runtime %s, prefix %s)"
                                     % (package, now, version, runtime, prefix), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
