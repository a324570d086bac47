#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_send
short_description: Send a verified message into a mosaic.fleet agent's tmux pane
version_added: 0.1.0
description:
  - Delivers one message to one agent by running the fleet user's
    C(~/.config/mosaic/tools/tmux/agent-send.sh) once, with the message on its standard input
    (never on a command line). That script is the only delivery implementation; agents use it
    directly to talk to each other.
  - "The agent receives C([<src_host>:<src_session> -> <dst_host>:<dst_session>] <message>):
    pasted literally from a uniquely named tmux buffer with bracketed paste (line feeds kept),
    then Enter as a separate key after a short delay. Sends to one pane are serialized. Nothing
    is pasted into a pane whose screen is still blank (a runtime still starting, which would drop
    the paste): the send waits for the screen to show something, within O(timeout)."
  - "With O(verify) the outcome rests on evidence of this message: after the paste its tail (or
    the TUI's paste placeholder) stands at the input cursor, and after Enter it has left the
    input line while the transcript above took it in. Outcomes: C(delivered); C(unconfirmed)
    (sent, evidence incomplete: a warning, the task still succeeds and reports changed);
    C(not_delivered) and C(no_session) (the task fails, for example for a dead pane or a missing
    session)."
  - Every send is appended to C(fleet/log/send.log) under the fleet user's MOSAIC_HOME.
  - "Messages are data. In O(msg) and O(source) the variables a template reads are used as they
    are: a template inside a variable's value (C({{ }}), C({% %}), C({# #}), C(${{ }}), Go
    templates, a C(lookup)) is delivered as written and never evaluated, wherever the variable
    came from (extra vars, C(-e @file), vars files, play vars). See the notes for the forms
    Ansible itself evaluates before this module sees them."
author:
  - mosaic.fleet developers (!UNKNOWN)
options:
  agent:
    description:
      - The destination agent (its tmux session name, matched exactly).
    type: str
    required: true
  msg:
    description:
      - The message text. Trailing whitespace is dropped; everything else arrives literally.
      - "Put the text in a variable and reference it: C(msg: \"{{ my_text }}\"). The template
        written here is evaluated by Ansible; the values of the variables it reads are not
        (C({{ my_text | trim }}), C(Re: {{ subject }}) and C({{ vars[item] }}) work too)."
      - The option is not called C(message) because Ansible reserves that name for itself.
      - Mutually exclusive with O(src).
    type: str
  src:
    description:
      - A file on the target host whose content (UTF-8) is the message. It is read as bytes on
        the target and never templated.
      - Mutually exclusive with O(msg).
    type: path
  verify:
    description:
      - Wait for evidence of delivery. Without it the outcome is at best C(unconfirmed).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the pane's send lock, again for a blank pane to draw its screen, and
        again for the evidence of delivery.
    type: float
    default: 10
  source:
    description:
      - The sender's name in the preamble. Defaults to C(operator).
    type: str
  user:
    description:
      - The fleet user whose tmux server holds the agent. Defaults to the user the module runs as.
      - Running as root for another user, agent-send.sh runs as that user (C(runuser -u), or
        C(setpriv) where runuser is missing) with the user's HOME, so it reaches the user's tmux
        server.
    type: str
  socket:
    description:
      - The tmux socket name (C(tmux -L)); an empty string is the default tmux socket.
      - When omitted, agent-send.sh takes the agent's socket from its env file
        (C(fleet/agents/<agent>.env)), else the default socket.
    type: str
  host:
    description:
      - An ssh destination (C(user@host)) when the agent runs on another host than the one the
        module runs on; agent-send.sh then relays the send over ssh (BatchMode) to that host's
        agent-send.sh. Rarely needed, since playbooks run the module on the agent's own host.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mosaic.fleet.fleet_user
attributes:
  check_mode:
    support: full
    details: In check mode nothing is sent; agent-send.sh C(--dry-run) resolves the send, and the module
      returns the preamble, destination host and size of what would be sent.
  diff_mode:
    support: none
  action:
    support: full
    details: The action plugin reads the variables of O(msg) and O(source) as data on the controller;
      the module runs on the host.
  async:
    support: full
  bypass_host_loop:
    support: none
  platform:
    platforms: posix
notes:
  - Needs bash, tmux and flock on the target, and the mosaic.fleet framework in the fleet user's
    MOSAIC_HOME (the C(mosaic.fleet.fleet) playbook installs it).
  - Exit codes of agent-send.sh, for scripts that call it directly, are listed in its C(--help).
  - "Forms Ansible evaluates before any plugin sees the text, so they are not literal: a template
    written in the task itself (C(msg: \"Use {{ x }}\") and the ad-hoc
    C(-a 'msg=\"Use {{ x }}\"')), items of a C(loop) over a list of texts (loop over indexes or
    names instead: C(msg: \"{{ texts[item] }}\")), a C(set_fact) that copies a text, C(hostvars)
    and the C(vars) lookup. The safe forms: keep the text in a variable and write
    C(msg: \"{{ my_text }}\"); ad hoc, C(-a 'msg={{ my_text }}' -e @text.yml); or a file with O(src)."
  - Literal delivery of variables needs ansible-core 2.19 or later on the controller (it rests
    on 2.19's task argument finalization); older releases evaluate templates inside variables.
seealso:
  - module: mosaic.fleet.fleet_ps
"""

EXAMPLES = r"""
- name: Brief the coder
  mosaic.fleet.fleet_send:
    agent: coder0
    msg: |
      Please pick up issue 42.
      Reply to the orchestrator when the tests pass.

- name: A text from extra vars or a vars file, delivered as written (nothing in it is evaluated)
  mosaic.fleet.fleet_send:
    agent: reviewer0
    msg: "{{ review_note }}"   # e.g. -e @note.yml with review_note: "Check ${{ github.sha }} in ci.yml"

- name: Several texts, looked up by name (a loop over the texts themselves would evaluate them)
  mosaic.fleet.fleet_send:
    agent: coder0
    msg: "{{ vars[item] }}"
  loop: [first_note, second_note]

- name: Send a prepared briefing file as the fleet user, from root
  become: true
  mosaic.fleet.fleet_send:
    agent: reviewer0
    src: /srv/briefings/review.md
    user: fleet
    source: release-bot
    timeout: 30

- name: Fire and forget (outcome is at best unconfirmed)
  mosaic.fleet.fleet_send:
    agent: orchestrator
    msg: nightly build finished
    verify: false
"""

RETURN = r"""
outcome:
  description: C(delivered), C(unconfirmed), C(not_delivered) or C(no_session); C(would_send) in check mode.
  returned: always
  type: str
  sample: delivered
preamble:
  description: >-
    The line the message was prefixed with (in check mode: would be, as agent-send.sh C(--dry-run)
    resolves it); empty when agent-send.sh could not run.
  returned: always
  type: str
  sample: "[web1:operator -> web1:coder0] "
bytes:
  description: Size in bytes of what was pasted (preamble and message); 0 when agent-send.sh could not run.
  returned: always
  type: int
  sample: 120
elapsed_ms:
  description: Milliseconds from the start of agent-send.sh to its verdict (0 in check mode).
  returned: always
  type: int
  sample: 352
target:
  description: The agent.
  returned: always
  type: str
  sample: coder0
host:
  description: The destination's fleet host name as the preamble shows it; empty when agent-send.sh could not run.
  returned: always
  type: str
  sample: web1
evidence:
  description: >-
    What proved delivery: C(transcript) (the message, or its paste placeholder, appeared above
    the input line) or C(response) (the input line was cleared and the program answered); empty
    otherwise.
  returned: when sent
  type: str
  sample: transcript
reason:
  description: Why the outcome is not C(delivered); empty when it is.
  returned: always
  type: str
  sample: ""
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mosaic.fleet.plugins.module_utils import host, send


def read_message(module):
    params = module.params
    if params["src"] is None:
        return params["msg"]
    try:
        with open(params["src"], "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read the message file %s: %s" % (params["src"], to_text(exc)))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        module.fail_json(msg="the message file %s is not UTF-8: %s" % (params["src"], to_text(exc)))


def main():
    module = AnsibleModule(
        argument_spec=host.user_argument_spec(
            agent=dict(type="str", required=True),
            msg=dict(type="str"),
            src=dict(type="path"),
            verify=dict(type="bool", default=True),
            timeout=dict(type="float", default=10),
            source=dict(type="str"),
            socket=dict(type="str"),
            host=dict(type="str"),
        ),
        mutually_exclusive=[("msg", "src")],
        required_one_of=[("msg", "src")],
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds")
    message = send.normalize_message(read_message(module))
    if not message:
        module.fail_json(msg="the message is empty")
    try:
        (name, dummy, home, as_self), mosaic_home = host.resolve_identity(params)
    except host.HostError as exc:
        module.fail_json(msg=to_text(exc))
    tool = os.path.join(mosaic_home, send.TOOL_RELPATH)

    # The preamble, the destination host and the size are agent-send.sh's alone: its report
    # fills them in (in check mode the report of --dry-run, which sends nothing).
    result = dict(changed=False, outcome="", preamble="", bytes=0, elapsed_ms=0, target=params["agent"],
                  host="", reason="")
    checking = "check mode: nothing was sent"
    if not os.path.isfile(tool):
        missing = "%s is missing: the mosaic.fleet framework is not installed for %s" % (tool, name)
        if not module.check_mode:
            module.fail_json(msg=missing, **result)
        # A check-mode pass may run before the framework is installed: say so, do not fail.
        module.warn(missing)
        result.update(changed=True, outcome=send.DRY_RUN_OUTCOME, reason=checking)
        module.exit_json(**result)

    argv = send.agent_send_argv(tool, params["agent"], socket=params["socket"],
                                source=params["source"] or "operator", host=params["host"],
                                verify=params["verify"], timeout=params["timeout"], dry_run=module.check_mode)
    # An operator running this from inside tmux must not make "the default socket" mean theirs.
    os.environ.pop("TMUX", None)
    environ = {"MOSAIC_HOME": mosaic_home}
    runner = host.Runner.for_module(module, name, as_self)
    if not as_self:
        argv = runner.as_user_tmux(["env", "MOSAIC_HOME=%s" % mosaic_home] + argv, home)
    rc, out, err = runner.run(argv, env=environ, data=message)
    report = send.parse_report(out, dry_run=module.check_mode)
    if report is None:
        module.fail_json(msg="agent-send.sh failed (exit %d): %s" % (rc, (err or out).strip()),
                         rc=rc, stderr=err, stdout=out, **result)
    changed, failed, warning = send.classify(report)
    for key in send.RESULT_KEYS:
        if key in report:
            result[key] = report[key]
    result["changed"] = changed
    if module.check_mode:
        result["reason"] = checking
    if failed:
        module.fail_json(msg="%s: %s" % (report["outcome"], report.get("reason") or "not delivered"), **result)
    if warning:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
