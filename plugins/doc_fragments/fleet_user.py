# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """The ``user`` and ``mosaic_home`` options every host-side module shares
    (``module_utils/host.py``: ``user_argument_spec``, ``resolve_fleet_user``)."""

    DOCUMENTATION = r"""
options:
  user:
    description:
      - The fleet user. Defaults to the user the module runs as.
    type: str
  mosaic_home:
    description:
      - The fleet user's MOSAIC_HOME. Defaults to C(~user/.config/mosaic).
      - C(~) and C(~/...) name the fleet user's home whoever runs the module (root acting for
        O(user) included).
    type: str
"""
