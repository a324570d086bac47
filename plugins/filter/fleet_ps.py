# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet-wide fleet_ps report filters: per-host results -> records, a text table and a summary.

The logic lives in ``plugins/module_utils/ps_report.py`` (shared with the ``fleet_ps_table``
action that ``playbooks/ps.yml`` prints the table with). Documentation for each filter is in the
``.yml`` file of the same name next to this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mosaic.fleet.plugins.module_utils import ps_report


def fleet_ps_records(results):
    """Records for every agent, ad-hoc session and failed host (see ps_report.fleet_ps_records)."""
    try:
        return ps_report.fleet_ps_records(results)
    except TypeError as exc:
        raise AnsibleFilterError(str(exc))


def fleet_ps_summary(records):
    """Counts for the fleet (see ps_report.fleet_ps_summary)."""
    return ps_report.fleet_ps_summary(records)


def fleet_ps_table(records, summary=True):
    """The records as an aligned text table, then the summary lines (see ps_report.fleet_ps_table)."""
    return ps_report.fleet_ps_table(records, summary=summary)


class FilterModule(object):
    """mosaic.fleet fleet_ps report filters."""

    def filters(self):
        return {
            "fleet_ps_records": fleet_ps_records,
            "fleet_ps_summary": fleet_ps_summary,
            "fleet_ps_table": fleet_ps_table,
        }
