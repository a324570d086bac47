# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of mosaic.fleet.fleet_roster: load, validate, normalize, place."""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mosaic.fleet.plugins.module_utils import mandate
from ansible_collections.mosaic.fleet.plugins.module_utils import roster as fleet_roster
from ansible_collections.mosaic.fleet.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.mosaic.fleet.plugins.plugin_utils.data_args import DataArgs

ARGUMENT_SPEC = dict(
    roster=dict(type="raw"),
    src=dict(type="path"),
    profile=dict(type="str"),
    hosts=dict(type="list", elements="str"),
    default_host=dict(type="str"),
    agent=dict(type="str"),
)


class ActionModule(DataArgs, ControllerAction):
    # The agent name is data: the variables its template reads are never evaluated.
    DATA_ARGS = frozenset(("agent",))
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ARGUMENT_RULES = dict(mutually_exclusive=[("roster", "src", "profile")],
                          required_one_of=[("roster", "src", "profile")])

    def failure(self, exc):
        # A bad roster must never end in a traceback.
        return dict(violations=[], msg="mosaic.fleet.fleet_roster could not check the roster: %s: %s"
                                       % (type(exc).__name__, to_text(exc)))

    def run_controller(self, result, args):
        for lib, ok, err in (("jsonschema", fleet_roster.HAS_JSONSCHEMA, fleet_roster.JSONSCHEMA_IMPORT_ERROR),
                             ("PyYAML", fleet_roster.HAS_YAML, fleet_roster.YAML_IMPORT_ERROR)):
            if not ok:
                return dict(result, failed=True,
                            msg="mosaic.fleet.fleet_roster needs the Python library %s on the controller "
                                "(pip install %s): %s" % (lib, lib, err))

        document, source, violations, problem = self._load(args)
        if problem:
            return dict(result, failed=True, msg=problem, violations=[])
        if not violations:
            normalized, violations = fleet_roster.validate(
                document, fleet_roster.load_schema(), args["hosts"], args["default_host"] or None)
            # A model hint the agent's runtime cannot take is refused like any roster error.
            violations = fleet_roster.sort_violations(
                violations + fleet_roster.model_hint_violations(document))
        if violations:
            return dict(result, failed=True,
                        msg="%s is not a valid roster (%d problem%s):\n%s"
                            % (source, len(violations), "" if len(violations) == 1 else "s",
                               fleet_roster.format_violations(violations)),
                        violations=[dict(path=v.path, message=v.message) for v in violations])
        if args["agent"] is not None:
            try:
                result["agent"] = fleet_roster.agent_record(normalized, args["agent"])
            except ValueError as exc:
                return dict(result, failed=True, msg=to_text(exc), violations=[])
        operator_mandates = mandate.operator_mandates(normalized)
        result.update(roster=normalized, placement=fleet_roster.placement(normalized),
                      ssh_aliases=fleet_roster.ssh_aliases(normalized, args["hosts"]),
                      commands=fleet_roster.command_lines(normalized),
                      agent_count=len(normalized["agents"]), source=source,
                      operator_mandates=operator_mandates)
        if operator_mandates:
            result["warnings"] = list(result.get("warnings") or []) + [
                mandate.operator_mandate_warning(entry) for entry in operator_mandates]
        return result

    def _load(self, args):
        """(document, source name, parse violations, problem that stops before parsing)."""
        if args["roster"] is not None:
            roster = args["roster"]
            if isinstance(roster, str):
                document, violations = fleet_roster.parse_text(roster, "the roster")
                return document, "the roster", violations, None
            return roster, "the roster", [], None
        if args["profile"] is not None:
            names = fleet_roster.preset_names()
            if args["profile"] not in names:
                return None, None, [], "unknown preset %r (presets: %s)" % (args["profile"], ", ".join(names))
            path = os.path.join(fleet_roster.presets_dir(), args["profile"] + ".yaml")
            source = "preset %r" % args["profile"]
        else:
            try:
                path = self._find_needle("files", args["src"])
            except AnsibleError:
                return None, None, [], "roster file %s was not found" % args["src"]
            source = path
        try:
            with open(path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            return None, None, [], "cannot read roster file %s: %s" % (path, exc)
        document, violations = fleet_roster.parse_text(text, source)
        return document, source, violations, None
