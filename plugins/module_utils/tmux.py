# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tmux argv building. The one place that decides whether a socket means ``-L``.

The shell side has exactly one twin of this rule: ``mosaic_tmux`` in
``framework/tools/fleet/lib.sh``.
"""

from __future__ import annotations


def socket_args(socket):
    """``['-L', name]`` for a named socket; ``[]`` (the default tmux socket) when empty or None."""
    return ["-L", socket] if socket else []


def tmux_argv(socket, *args, **kwargs):
    """Full argv for one tmux command on ``socket``. ``binary`` overrides the tmux executable."""
    return [kwargs.get("binary") or "tmux"] + socket_args(socket) + [str(a) for a in args]


def exact_session_target(session):
    """Target a session by exact name (``=name``): plain names match by prefix in tmux."""
    return "=" + session


def pane_target(session):
    """The active pane of ``session``'s active window, matched exactly."""
    return "=%s:" % session
