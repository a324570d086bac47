"""The host-side file helpers every module shares: atomic writes, reads, owners."""

import os
import pwd
import stat

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import fileops


def test_needs_write(tmp_path):
    path = str(tmp_path / "f")
    assert fileops.needs_write(path, "a\n", 0o644)
    fileops.atomic_write(path, b"a\n", 0o644)
    assert not fileops.needs_write(path, "a\n", 0o644)
    assert fileops.needs_write(path, "b\n", 0o644)
    assert fileops.needs_write(path, "a\n", 0o600)
    assert fileops.needs_write(path, "a\n", 0o644, (os.geteuid() + 1, os.getegid()))


def test_atomic_write_and_make_dirs(tmp_path):
    target = tmp_path / "a" / "b" / "f.env"
    modes = {str(tmp_path / "a"): 0o700}
    fileops.make_dirs(str(target.parent), mode_for=lambda d: modes.get(d, 0o755))
    assert stat.S_IMODE(os.stat(str(tmp_path / "a")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(target.parent)).st_mode) == 0o755
    fileops.atomic_write(str(target), b"K=v\n", 0o600)
    fileops.atomic_write(str(target), b"K=w\n\xff", 0o600)
    assert target.read_bytes() == b"K=w\n\xff"
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
    assert os.listdir(str(target.parent)) == ["f.env"]  # no temporary file left
    assert fileops.read_text(str(target)) == "K=w\n\udcff"
    assert fileops.read_text(str(tmp_path / "missing")) is None
    assert fileops.read_bytes(str(tmp_path / "missing")) is None


def test_atomic_write_failure_leaves_no_temporary_file(tmp_path):
    with pytest.raises(TypeError):
        fileops.atomic_write(str(tmp_path / "f"), "not bytes", 0o644)
    assert os.listdir(str(tmp_path)) == []


def test_group_name_and_owner():
    assert fileops.group_name(os.getegid()) != ""
    assert fileops.group_name(2 ** 31 - 7) == str(2 ** 31 - 7)
    assert fileops.file_owner(None) is None
    assert fileops.file_owner(pwd.getpwuid(os.geteuid())) is None  # own files need no chown
