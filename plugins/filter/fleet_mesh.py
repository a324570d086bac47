# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The authorized_keys lines of a fleet user's mesh peers: each key restricted to delivering
messages, as the host it belongs to (module_utils/mesh.py, THE rule). Documentation:
``fleet_mesh_authorized_keys.yml``."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mosaic.fleet.plugins.module_utils import host, mesh


def fleet_mesh_authorized_keys(peers, home, mosaic_home="", max_bytes=mesh.MAX_BYTES):
    """One ``restrict,command="... --from HOST"`` line per peer with a key, joined by newlines.

    ``home``: the receiving fleet user's home; ``mosaic_home``: its MOSAIC_HOME as the operator
    gave it (empty: the default; ``~/`` is ``home``), THE rule of host.py."""
    if not isinstance(peers, list) or not all(isinstance(peer, dict) for peer in peers):
        raise AnsibleFilterError("fleet_mesh_authorized_keys expects a list of {host, user_key} mappings")
    if not isinstance(home, str) or not home.startswith("/"):
        raise AnsibleFilterError("fleet_mesh_authorized_keys expects the fleet user's home as an absolute path")
    mosaic_home = host.expand_mosaic_home(mosaic_home, home) if mosaic_home else host.default_mosaic_home(home)
    lines = []
    for peer in peers:
        if not peer.get("user_key"):
            continue
        try:
            lines.append(mesh.authorized_line(str(peer["user_key"]), str(peer.get("host", "")), str(mosaic_home),
                                              int(max_bytes)))
        except (ValueError, TypeError) as exc:
            raise AnsibleFilterError("fleet_mesh_authorized_keys: peer %s: %s" % (peer.get("host"), exc))
    return "\n".join(lines)


class FilterModule(object):
    """mosaic.fleet mesh keys."""

    def filters(self):
        return {"fleet_mesh_authorized_keys": fleet_mesh_authorized_keys}
