# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mosaic.fleet.fleet_ps_table: print the fleet-wide fleet_ps table as plain text lines.

A ``debug`` task shows text through the stdout callback, which quotes it as JSON. This action
hands the table to the display instead (from a worker, ansible proxies it to the controller's
main process, so it appears in order, under the task's banner), whatever the callback.
"""

from __future__ import annotations

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display

from ansible_collections.mosaic.fleet.plugins.module_utils import ps_report
from ansible_collections.mosaic.fleet.plugins.plugin_utils.controller_action import ControllerAction

ARGUMENT_SPEC = dict(
    records=dict(type="list", elements="dict", required=True),
    summary=dict(type="bool", default=True),
)

# Stdout callbacks whose output is a document for programs: the table goes to stderr beside them.
MACHINE_CALLBACKS = ("json", "jsonl")

display = Display()


def stdout_is_for_programs(callback):
    """True when the stdout callback named ``callback`` (short or FQCN) prints JSON."""
    return str(callback or "").rsplit(".", 1)[-1] in MACHINE_CALLBACKS


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def failure(self, exc):
        # A malformed record must never end in a traceback.
        return dict(msg="mosaic.fleet.fleet_ps_table cannot render the records (use the output of the "
                        "mosaic.fleet.fleet_ps_records filter): %s: %s" % (type(exc).__name__, to_text(exc)))

    def run_controller(self, result, args):
        text = ps_report.fleet_ps_table(args["records"], summary=args["summary"])
        callback = C.config.get_config_value("DEFAULT_STDOUT_CALLBACK")
        display.display(text, stderr=stdout_is_for_programs(callback))
        return result
