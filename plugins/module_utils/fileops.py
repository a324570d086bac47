# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side file helpers shared by the modules (stdlib only, Python >= 3.8).

Who the fleet user is (the ``user``/``mosaic_home`` options) is the host layer's:
``module_utils/host.py``.

- :func:`atomic_write`, :func:`make_dirs`: writes as the fleet user's files (temporary file in
  the same directory, then a rename; chowned when root writes for another user).
- :func:`needs_write`: whether a rendered file must be (re)written.
- :func:`read_text`, :func:`read_bytes`, :func:`group_name`.
"""

from __future__ import annotations

import grp
import os
import tempfile


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
