# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side file and user helpers shared by the modules (stdlib only, Python >= 3.8).

- :func:`resolve_fleet_user`: THE ``user``/``mosaic_home`` option rule of every module.
- :func:`atomic_write`, :func:`make_dirs`: writes as the fleet user's files (temporary file in
  the same directory, then a rename; chowned when root writes for another user).
- :func:`needs_write`: whether a rendered file must be (re)written.
- :func:`read_text`, :func:`read_bytes`, :func:`group_name`.
"""

from __future__ import annotations

import grp
import os
import pwd
import tempfile

MOSAIC_HOME_RELPATH = (".config", "mosaic")


def user_argument_spec(**more):
    """The two options every module shares (docs/DEVELOPING.md, "Modules"), plus ``more``.

    ``mosaic_home`` is a plain string: :func:`resolve_fleet_user` expands ``~`` against the fleet
    user's home (``type: path`` would take the home of whoever runs the module, root's for a
    module that acts for the fleet user)."""
    spec = dict(user=dict(type="str"), mosaic_home=dict(type="str"))
    spec.update(more)
    return spec


def resolve_user(name=None):
    """The passwd entry of ``name``, or of the user the module runs as. KeyError when missing."""
    if name:
        return pwd.getpwnam(name)
    return pwd.getpwuid(os.geteuid())


def user_home(entry, as_self, environ):
    """The fleet user's home: ``$HOME`` when running as that user (as ``~`` would), else its passwd entry."""
    return (environ.get("HOME") or entry.pw_dir) if as_self else entry.pw_dir


def default_mosaic_home(home):
    """``<home>/.config/mosaic``, the default MOSAIC_HOME of every module."""
    return os.path.join(home, *MOSAIC_HOME_RELPATH)


def expand_mosaic_home(value, home):
    """An explicit ``mosaic_home`` as a path: ``~`` and ``~/...`` are the fleet user's ``home``;
    ``~other/...`` and ``$VARS`` expand as for any path option; the result is normalized."""
    if value == "~" or value.startswith("~/"):
        value = home + value[1:]
    else:
        value = os.path.expanduser(os.path.expandvars(value))
    return os.path.normpath(value) if value.startswith("/") else value


def resolve_fleet_user(params, environ=None):
    """``(passwd entry, home, mosaic_home, as_self)`` for a module's ``user``/``mosaic_home`` params.

    ``environ``: pass ``os.environ`` to make the home ``$HOME`` when the module runs as the fleet
    user (fleet_host_config, fleet_supervisor, fleet_reseed: what lets tests and benchmarks use a
    temporary HOME); None takes the passwd home always (fleet_ps and fleet_send, which look where
    the systemd user manager and the user's login shells look).

    An explicit ``mosaic_home`` goes through :func:`expand_mosaic_home` (``~`` is the fleet
    user's home). A fleet user that does not exist gives ``(None, "~user", <mosaic_home or
    ~user/.config/mosaic>, False)``; each module decides whether that is an error.
    """
    name = params.get("user")
    try:
        entry = resolve_user(name)
    except KeyError:
        entry, home, as_self = None, "~%s" % name, False
    else:
        as_self = entry.pw_uid == os.geteuid()
        home = user_home(entry, as_self, environ) if environ is not None else entry.pw_dir
    given = params.get("mosaic_home")
    return entry, home, expand_mosaic_home(given, home) if given else default_mosaic_home(home), as_self


def file_owner(entry):
    """(uid, gid) to chown to when root writes for another user, else None (own files already belong)."""
    if entry is not None and os.geteuid() == 0 and entry.pw_uid != 0:
        return entry.pw_uid, entry.pw_gid
    return None


def group_name(gid):
    """The group's name, or the number as text when it has no entry."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def read_bytes(path):
    """The file's content, or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def read_text(path):
    """The file's content as text (undecodable bytes kept as surrogates), or None."""
    data = read_bytes(path)
    return None if data is None else data.decode("utf-8", "surrogateescape")


def make_dirs(directory, owner=None, mode_for=None):
    """Create ``directory`` and its missing parents, each with mode ``mode_for(path)`` (0755 by default)."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        mode = mode_for(path) if mode_for else 0o755
        os.mkdir(path, mode)
        os.chmod(path, mode)
        if owner:
            os.chown(path, *owner)


def needs_write(path, content, mode, owner=None):
    """True when the file at ``path`` is missing or its content (text), mode or owner
    (``(uid, gid)``, None = any) differ."""
    try:
        info = os.lstat(path)
    except OSError:
        return True
    if (info.st_mode & 0o7777) != mode or (owner and (info.st_uid, info.st_gid) != owner):
        return True
    return read_text(path) != content


def atomic_write(path, data, mode, owner=None):
    """Write ``data`` (bytes) to ``path`` with ``mode``/``owner``: a temporary file in the same
    directory, fsynced, then renamed over ``path``. The directory must exist."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if owner:
                os.fchown(handle.fileno(), *owner)
            os.fchmod(handle.fileno(), mode)  # after the chown, which may clear set-id bits
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
