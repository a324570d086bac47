#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_host_config
short_description: Render one host's mosaic.fleet configuration files in one call
version_added: 0.1.0
description:
  - Writes, under the fleet user's MOSAIC_HOME, everything a host needs from the roster,
    C(fleet/roster.yaml) (the normalized fleet-wide roster), C(fleet/holder.env) (socket and
    holder session for the holder unit), and for each agent placed on O(host) its env file
    C(fleet/agents/<name>.env) (mode 0600) and its Fleet Comms sheet
    C(fleet/agents/<name>.comms.md).
  - On the orchestrator's host, for a roster C(connector) other than C(tmux), C(fleet/connector.json)
    (the kind, the orchestrator's name and the kind's block, no secret), which the framework's
    C(tools/fleet/connector) reads; its token comes from O(secrets) (C(MOSAIC_MATRIX_TOKEN), or C(DISCORD_BOT_TOKEN) for C(discord)), never from the roster.
  - Deletes the env and comms files of agents no longer placed on O(host), and
    C(fleet/connector.json) when the host gets none (O(prune)).
  - One call per host whatever the number of agents. Writes are atomic (a temporary file in the
    same directory, then a rename) and only happen when content, mode or owner differ.
  - Running as root for another O(user), files and the directories it creates belong to that user.
author:
  - mosaic.fleet developers (@mosaic-fleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - mosaic.fleet.fleet_user
options:
  roster:
    description:
      - The normalized roster, as returned by M(mosaic.fleet.fleet_roster) in C(roster).
      - Required with O(state=present).
    type: dict
  host:
    description:
      - The inventory host name whose agents to render (agents whose C(host) is this name).
      - Required with O(state=present).
    type: str
  secrets:
    description:
      - Secrets written to C(credentials/fleet.env) (mode 0600), one C(KEY=value) a line in key
        order. Never shown in output or diffs.
      - When omitted or empty, C(credentials/fleet.env) is left alone.
    type: dict
  prune:
    description:
      - Delete the env and comms files of agents that are not placed on O(host), and
        C(fleet/connector.json) when this host gets none.
    type: bool
    default: true
  first_run:
    description:
      - Write the first-run state of the runtimes of the agents placed on O(host) into the fleet
        user's home, so that each reaches its prompt with no human at a dialog (onboarding, the
        workspace trust of each agent's working directory, the bypass-permissions
        acknowledgement, the approved API key, update checks off, a gateway's base URL).
      - Merged into the user's own files, C(~/.claude.json), C(~/.claude/settings.json) (also the
        fleet's 200k context cap, C(autoCompactWindow) and C(autoCompactEnabled)),
        C(~/.codex/config.toml), C(~/.pi/agent/models.json) and C(settings.json),
        C(~/.config/opencode/opencode.json); only the fleet's keys are set, every other key stays.
        Written only when one of them differs. docs/runtimes.md lists them.
      - The credentials (O(secrets), else the C(credentials/fleet.env) already on the host) give
        C(ANTHROPIC_API_KEY) (Claude stores the last 20 characters of the key it accepts, and so
        does this), C(ANTHROPIC_BASE_URL) and C(OPENAI_BASE_URL) (a gateway or proxy; codex, pi
        and opencode get a provider C(mosaic) at that URL whose key is read from the environment).
        No key is ever written outside C(credentials/).
      - V(false) leaves the home alone.
    type: bool
    default: true
  private:
    description:
      - Close the fleet's files to every other user, which is what keeps tenants apart on a host.
        Creates C(fleet/run) and C(fleet/log) and, where they are open to the group or others,
        clears every group and other bit (0755 becomes 0700, 0644 becomes 0600) of the fleet
        user's home, MOSAIC_HOME, C(fleet), C(fleet/run), C(fleet/log) and the C(*.log) files in
        C(fleet/log). Only what the fleet user owns is changed (a MOSAIC_HOME's shared parent such
        as C(/srv) never is, nor a directory every user may write to, such as C(/tmp)). Reported in
        RV(closed) and, with C(--diff), as mode diffs.
      - V(false) leaves modes as they are (files it writes keep their own modes).
    type: bool
    default: true
  state:
    description:
      - V(absent) removes C(fleet/roster.yaml), C(fleet/holder.env), C(fleet/connector.json) and
        every agent's env and comms file; C(credentials/) is left alone.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Reports what would change; writes nothing.
  diff_mode:
    support: full
    details: One before/after diff per file; secrets are shown as C(<redacted>).
  platform:
    support: full
    platforms: posix
notes:
  - An agent counts as changed (and so should be restarted) when its env file changed; a changed
    Fleet Comms sheet alone is reported in RV(comms_updated) (a peer joining or leaving does not
    restart every agent).
seealso:
  - module: mosaic.fleet.fleet_roster
  - module: mosaic.fleet.fleet_supervisor
"""

EXAMPLES = r"""
- name: Render this host's fleet configuration
  mosaic.fleet.fleet_host_config:
    roster: "{{ hostvars.localhost._mosaic_fleet.roster }}"
    host: "{{ inventory_hostname }}"
    user: fleet
    secrets:
      ANTHROPIC_API_KEY: "{{ vault_anthropic_key }}"
  register: host_config
"""

RETURN = r"""
agents:
  description: Agents placed on this host, in roster order.
  returned: always
  type: list
  elements: str
  sample: [orchestrator, enhancer]
changed_agents:
  description: Agents whose env file was created or changed (restart these).
  returned: always
  type: list
  elements: str
  sample: [enhancer]
comms_updated:
  description: Agents whose Fleet Comms sheet was created or changed.
  returned: always
  type: list
  elements: str
  sample: [orchestrator, enhancer]
removed_agents:
  description: Agents whose files were deleted because they are no longer placed here.
  returned: always
  type: list
  elements: str
  sample: [coder3]
first_run_changed:
  description: Files in the fleet user's home (relative to it) whose first-run settings were (or in
    check mode would be) merged in (O(first_run)). With C(--diff), each shows only the fleet's keys.
  returned: always
  type: list
  elements: str
  sample: [.claude.json, .claude/settings.json]
closed:
  description: Paths (absolute) whose group and other permission bits were (or in check mode would
    be) cleared, or which were created closed, by O(private).
  returned: always
  type: list
  elements: str
  sample: [/home/fleet, /home/fleet/.config/mosaic]
files_changed:
  description: Paths relative to RV(mosaic_home) that were (or in check mode would be) written or deleted.
  returned: always
  type: list
  elements: str
  sample: [fleet/agents/enhancer.env]
connector:
  description: >-
    Whether this host runs the orchestrator's chat connector as a service (it has a
    C(fleet/connector.json), because the orchestrator runs here and the roster's connector is not
    C(tmux), and the kind is one the fleet runs C(connector run) for: C(matrix); for C(discord) the
    orchestrator's Claude Code is the connector). Pass it to
    O(mosaic.fleet.fleet_supervisor#module:connector).
  returned: always
  type: bool
  sample: false
connector_changed:
  description: Whether C(fleet/connector.json) or the credentials were (or in check mode would be)
    written or deleted, so a running connector must restart
    (O(mosaic.fleet.fleet_supervisor#module:restart_connector)).
  returned: always
  type: bool
  sample: false
holder_changed:
  description: Whether C(fleet/holder.env) (the holder's socket and session) was (or in check mode
    would be) written or deleted, so the holder must restart
    (O(mosaic.fleet.fleet_supervisor#module:restart_holder)).
  returned: always
  type: bool
  sample: false
mosaic_home:
  description: The MOSAIC_HOME used.
  returned: always
  type: str
  sample: /home/fleet/.config/mosaic
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
group:
  description: The name of the fleet user's primary group (for files the role installs).
  returned: when the user exists
  type: str
  sample: fleet
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.mosaic.fleet.plugins.module_utils import envfile, fileops, firstrun, host, hostconfig
from ansible_collections.mosaic.fleet.plugins.module_utils.connector import runs_service

REDACTED = "<redacted>\n"


class Target(object):
    """Where files go and who owns them."""

    def __init__(self, module):
        params = module.params
        self.entry, self.home, self.mosaic_home, dummy = host.resolve_fleet_user(params, os.environ)
        if self.entry is None and not module.check_mode and params["state"] == "present":
            module.fail_json(msg="fleet user %r does not exist" % params["user"])
        # Chown only when root writes for someone else; the user's own writes already belong to it.
        self.owner = fileops.file_owner(self.entry)
        self.private = params["private"]

    def path(self, relpath):
        return os.path.join(self.mosaic_home, relpath)

    def display_home(self):
        """MOSAIC_HOME as comms sheets show it (``~/...`` when it is under the home directory)."""
        prefix = self.home.rstrip("/") + "/"
        return "~/" + self.mosaic_home[len(prefix):] if self.mosaic_home.startswith(prefix) else self.mosaic_home


def atomic_write(target, relpath, content, mode):
    """Write one rendered file, creating its directories below MOSAIC_HOME (and MOSAIC_HOME's parents)."""
    path = target.path(relpath)
    fileops.make_dirs(os.path.dirname(path), target.owner,
                      lambda d: hostconfig.private_dir_mode(os.path.relpath(d, target.mosaic_home), target.private))
    fileops.atomic_write(path, to_bytes(content, errors="surrogate_or_strict"), mode, target.owner)


def plan_closing(target):
    """``[(path, mode, closed mode)]``: the home, MOSAIC_HOME's private directories and its logs
    that are open to other users (``private``), and the private directories still missing
    (mode None)."""
    candidates = [target.home] if target.home != "/" else []
    candidates += [os.path.normpath(target.path(rel)) for rel in hostconfig.PRIVATE_DIRS]
    log_dir = target.path(hostconfig.LOG_DIR)
    try:
        candidates += sorted(os.path.join(log_dir, name) for name in os.listdir(log_dir)
                             if name.endswith(hostconfig.PRIVATE_LOG_SUFFIX))
    except OSError:
        pass
    entries, missing = [], []
    for path in candidates:
        try:
            info = os.lstat(path)
        except OSError:
            if path != target.home:
                missing.append((path, None, hostconfig.private_dir_mode(
                    os.path.relpath(path, target.mosaic_home))))
            continue
        if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            entries.append((path, info.st_mode, info.st_uid))
    return hostconfig.plan_closing(entries, target.entry.pw_uid) + missing


def close(target, plan):
    for path, mode, closed in plan:
        if mode is None:
            fileops.make_dirs(path, target.owner, lambda d: hostconfig.private_dir_mode(
                os.path.relpath(d, target.mosaic_home), target.private))
        else:
            os.chmod(path, closed)


def mode_diff(path, mode, closed):
    header = "%s (mode)" % path
    return dict(before_header=header, after_header=header,
                before="%04o\n" % mode if mode is not None else "", after="%04o\n" % closed)


def plan_first_run(target, agents, secrets):
    """``[(relpath under the home, current text, new text, edits)]`` of the runtimes' first-run
    files that change. The credentials are ``secrets``, else the host's credentials/fleet.env."""
    if secrets:
        credentials = dict((str(k), "" if v is None else str(v)) for k, v in secrets.items())
    else:
        credentials = envfile.parse_env_file(fileops.read_text(target.path(hostconfig.SECRETS_FILE)))
    changes = []
    for relpath, edits in sorted(firstrun.plan(agents, target.home, credentials).items()):
        current = fileops.read_text(os.path.join(target.home, relpath))
        new = firstrun.merge(relpath, current, edits)
        if new != current:
            changes.append((relpath, current, new, edits))
    return changes


def write_first_run(target, changes):
    for relpath, current, new, _edits in changes:
        path = os.path.join(target.home, relpath)
        fileops.make_dirs(os.path.dirname(path), target.owner, lambda d: 0o700)
        # The user's file keeps its mode; a new one gets the fleet's.
        mode = os.stat(path).st_mode & 0o7777 if current is not None else firstrun.file_mode(relpath)
        fileops.atomic_write(path, to_bytes(new, errors="surrogate_or_strict"), mode, target.owner)


def diff_entry(relpath, before, after, secret=False):
    if secret:
        before = REDACTED if before is not None else ""
        after = "<redacted: changed>\n" if after is not None else ""
    return dict(before_header=relpath, after_header=relpath, before=before or "", after=after or "")


def main():
    module = AnsibleModule(
        argument_spec=host.user_argument_spec(
            roster=dict(type="dict"),
            host=dict(type="str"),
            secrets=dict(type="dict", no_log=True),
            prune=dict(type="bool", default=True),
            first_run=dict(type="bool", default=True),
            private=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("roster", "host"))],
        supports_check_mode=True,
    )
    params = module.params
    target = Target(module)
    if target.entry is None and params["state"] == "absent":
        # No fleet user, so nothing of the fleet's on this host.
        module.exit_json(changed=False, agents=[], changed_agents=[], comms_updated=[], removed_agents=[], closed=[],
                         files_changed=[], first_run_changed=[], holder_changed=False, connector=False, connector_changed=False,
                         mosaic_home=target.mosaic_home, home=target.home, user_exists=False)
    roster = params["roster"]
    try:
        if params["state"] == "present":
            placed = [a["name"] for a in hostconfig.agents_on_host(roster, params["host"])]
            wanted = hostconfig.plan_files(roster, params["host"], target.display_home())
        else:
            placed, wanted = [], {}
        if params["secrets"]:
            wanted[hostconfig.SECRETS_FILE] = hostconfig.render_secrets(params["secrets"])
    except (KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg="cannot render the host configuration (is roster the normalized roster "
                             "from mosaic.fleet.fleet_roster?): %s" % to_text(exc))

    first_run = []
    if params["first_run"] and params["state"] == "present":
        try:
            first_run = plan_first_run(target, hostconfig.agents_on_host(roster, params["host"]), params["secrets"])
        except firstrun.FirstRunError as exc:
            module.fail_json(msg="cannot merge the runtimes' first-run settings into %s: %s" % (target.home, to_text(exc)))

    writes = [(rel, content, hostconfig.file_mode(rel)) for rel, content in wanted.items()
              if fileops.needs_write(target.path(rel), content, hostconfig.file_mode(rel), target.owner)]
    deletes = []
    if params["state"] == "absent":
        deletes = [rel for rel in (hostconfig.ROSTER_FILE, hostconfig.HOLDER_ENV_FILE)
                   if os.path.lexists(target.path(rel))]
    if (params["prune"] or params["state"] == "absent") and hostconfig.CONNECTOR_FILE not in wanted \
            and os.path.lexists(target.path(hostconfig.CONNECTOR_FILE)):
        deletes.append(hostconfig.CONNECTOR_FILE)  # kind tmux again, or the orchestrator moved
    if params["prune"] or params["state"] == "absent":
        deletes += sorted("%s/%s" % (hostconfig.AGENTS_DIR, name)
                          for name, agent in host.agent_files(target.mosaic_home).items() if agent not in placed)

    closing = []
    if target.private and params["state"] == "present" and target.entry is not None:
        closing = plan_closing(target)

    diffs = []
    if module._diff:
        for rel, content, _mode in writes:
            diffs.append(diff_entry(rel, fileops.read_text(target.path(rel)), content, rel == hostconfig.SECRETS_FILE))
        for rel in deletes:
            diffs.append(diff_entry(rel, fileops.read_text(target.path(rel)), None))
        for rel, current, new, edits in first_run:
            diffs.append(diff_entry("~/" + rel, firstrun.summary(rel, current, edits), firstrun.summary(rel, new, edits)))
        diffs += [mode_diff(*entry) for entry in closing]

    if not module.check_mode:
        try:
            for rel, content, mode in writes:
                atomic_write(target, rel, content, mode)
            for rel in deletes:
                os.unlink(target.path(rel))
            write_first_run(target, first_run)
            close(target, closing)
        except OSError as exc:
            module.fail_json(msg="cannot write the host configuration under %s: %s"
                                 % (target.mosaic_home, to_text(exc)))

    written = set(rel for rel, _c, _m in writes)
    result = dict(
        changed=bool(writes or deletes or closing or first_run),
        closed=[path for path, _mode, _closed in closing],
        agents=placed,
        changed_agents=[n for n in placed if hostconfig.env_file(n) in written],
        comms_updated=[n for n in placed if hostconfig.comms_file(n) in written],
        removed_agents=sorted(set(hostconfig.agent_of_file(os.path.basename(rel)) for rel in deletes
                                  if rel.startswith(hostconfig.AGENTS_DIR + "/"))),
        files_changed=sorted(written) + deletes,
        first_run_changed=[rel for rel, _c, _n, _e in first_run],
        holder_changed=hostconfig.HOLDER_ENV_FILE in written or hostconfig.HOLDER_ENV_FILE in deletes,
        connector=hostconfig.CONNECTOR_FILE in wanted and runs_service(roster, params["host"]),
        connector_changed=any(rel in written or rel in deletes
                              for rel in (hostconfig.CONNECTOR_FILE, hostconfig.SECRETS_FILE)),
        mosaic_home=target.mosaic_home,
        home=target.home,
        user_exists=target.entry is not None,
    )
    if target.entry:
        result["group"] = fileops.group_name(target.entry.pw_gid)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
