# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tmux argv building and THE ``list-panes`` parser (fleet_ps and fleet_supervisor read panes
through it). The one place that decides whether a socket means ``-L``.

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


# One tmux line per pane; tmux escapes control characters (a tab becomes "\t") in values, so a
# tab separates fields safely.
PANE_FIELDS = (
    "session_name", "session_id", "session_group", "session_group_list", "session_grouped",
    "session_created", "session_attached", "window_index", "window_active", "pane_index",
    "pane_active", "pane_id", "pane_pid", "pane_current_command", "pane_dead", "pane_dead_status",
    "window_activity", "pane_dead_signal",
)


def pane_format(fields):
    """The ``list-panes -F`` format of ``fields``, one tab-separated line per pane."""
    return "\t".join("#{%s}" % field for field in fields)


PANE_FORMAT = pane_format(PANE_FIELDS)
_INT_FIELDS = ("session_created", "session_attached", "window_index", "pane_index", "pane_pid",
               "window_activity")
_FLAG_FIELDS = ("session_grouped", "window_active", "pane_active", "pane_dead")

# What tmux prints when there is no server on a socket: not an error for fleet_ps, just no sessions.
_NO_SERVER_MARKERS = ("no server running on ", "error connecting to ")


def to_int(text):
    """``int(text)``, or None when it is no number."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def list_panes_argv(socket, binary=None, fields=PANE_FIELDS):
    """``tmux [-L socket] list-panes -a -F <format of fields>``: every pane of every session."""
    fmt = PANE_FORMAT if fields is PANE_FIELDS else pane_format(fields)
    return tmux_argv(socket, "list-panes", "-a", "-F", fmt, binary=binary)


def parse_panes(text, fields=PANE_FIELDS):
    """Parse ``list-panes -a -F <format of fields>`` output (:func:`list_panes_argv`) into one
    dict per pane, typed values (numbers, flags as bools, lists)."""
    panes = []
    width = len(fields)
    ints = [f for f in _INT_FIELDS if f in fields]
    flags = [f for f in _FLAG_FIELDS if f in fields]
    optional = [f for f in ("pane_dead_status", "pane_dead_signal") if f in fields]
    group_lists = "session_group_list" in fields
    for line in text.splitlines():
        if not line:
            continue
        values = line.split("\t")
        if len(values) < width:
            values += [""] * (width - len(values))
        pane = dict(zip(fields, values))
        for field in ints:
            value = pane[field]
            pane[field] = int(value) if value.isdigit() else None
        for field in flags:
            pane[field] = pane[field] == "1"
        for field in optional:  # empty unless dead (and tmux >= 3.3)
            value = pane[field]
            pane[field] = to_int(value) if value else None
        if group_lists:
            group_list = pane["session_group_list"]
            pane["session_group_list"] = [s for s in group_list.split(",") if s] if group_list else []
        panes.append(pane)
    return panes


def capture_screens_argv(socket, sessions, lines, marker, binary=None):
    """ONE tmux call that prints, for each of ``sessions`` in turn, a line ``<marker> <session>``
    then the last ``lines`` lines of its active pane (history included, wrapped lines joined).

    ``marker`` must be unguessable by what runs in the panes (the probe draws a fresh random one
    per call), so that no pane's output can pass for a section header. Sessions must exist: tmux
    stops a command list at the first failing command."""
    args = []
    for session in sessions:
        if args:
            args.append(";")
        args += ["display-message", "-p", "%s %s" % (marker, session), ";",
                 "capture-pane", "-p", "-J", "-S", "-%d" % int(lines), "-t", pane_target(session)]
    return tmux_argv(socket, *args, binary=binary)


def parse_screens(text, marker, lines):
    """``{session: its last lines}`` from :func:`capture_screens_argv` output (trailing blank
    lines dropped, at most ``lines`` lines, joined with newlines)."""
    sections = {}
    current = None
    for line in (text or "").split("\n"):
        if line.startswith(marker + " "):
            current = sections.setdefault(line[len(marker) + 1:], [])
            continue
        if current is not None:
            current.append(line.rstrip())
    screens = {}
    for session, body in sections.items():
        while body and not body[-1]:
            body.pop()
        screens[session] = "\n".join(body[-int(lines):]) if lines else ""
    return screens


def is_no_server(rc, stderr):
    """True when tmux failed only because no server listens on the socket."""
    return rc != 0 and any(marker in (stderr or "") for marker in _NO_SERVER_MARKERS)
