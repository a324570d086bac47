# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd --user argv building for a fleet user, whoever runs the module.

Running as the fleet user: plain ``systemctl --user`` with XDG_RUNTIME_DIR pointing at the
user's runtime directory. Running as root for another user: ``systemctl --user -M user@`` (needs
systemd >= 248), which reaches that user's manager without a login session.
"""

from __future__ import annotations

AGENT_UNIT_TEMPLATE = "mosaic-agent@.service"
HOLDER_UNIT = "mosaic-tmux-holder.service"


def agent_unit(name):
    return "mosaic-agent@%s.service" % name


def runtime_dir(uid):
    return "/run/user/%d" % uid


def bus_path(uid):
    """The user manager's private socket; it exists once the manager is up."""
    return "/run/user/%d/systemd/private" % uid


def systemctl_user_argv(user, as_self, *args, **kwargs):
    """argv for ``systemctl --user ...`` against ``user``'s manager.

    ``as_self``: the caller already runs as ``user`` (then the env must carry XDG_RUNTIME_DIR,
    see :func:`user_env`); otherwise the machine manager relays to ``user@``.
    """
    argv = [kwargs.get("binary") or "systemctl", "--user"]
    if not as_self:
        argv += ["-M", "%s@" % user]
    return argv + [str(a) for a in args]


def user_env(uid):
    """Environment additions that let ``systemctl --user`` find the manager of ``uid``."""
    rdir = runtime_dir(uid)
    return {"XDG_RUNTIME_DIR": rdir, "DBUS_SESSION_BUS_ADDRESS": "unix:path=%s/bus" % rdir}


def parse_show_output(text):
    """Parse ``systemctl show -p A -p B unit1 unit2 ...`` output: blocks separated by blank lines.

    Returns a list of dicts, one per unit, in the order systemctl printed them.
    """
    units = []
    current = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if current:
        units.append(current)
    return units
