# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tmux argv building. The one place that decides whether a socket means ``-L``.

The shell side has exactly one twin of this rule: ``mosaic_tmux`` in
``framework/tools/fleet/lib.sh``.
"""

from __future__ import annotations

# THE socket rule (``['-L', name]`` for a named socket, ``[]`` for the default one) is contract.py's.
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import socket_args


def tmux_argv(socket, *args, **kwargs):
    """Full argv for one tmux command on ``socket``. ``binary`` overrides the tmux executable."""
    return [kwargs.get("binary") or "tmux"] + socket_args(socket) + [str(a) for a in args]


def exact_session_target(session):
    """Target a session by exact name (``=name``): plain names match by prefix in tmux."""
    return "=" + session


def pane_target(session):
    """The active pane of ``session``'s active window, matched exactly."""
    return "=%s:" % session
