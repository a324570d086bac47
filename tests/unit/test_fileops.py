"""The host-side helpers every module shares: user/mosaic_home resolution, atomic writes."""

import os
import pwd
import stat

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import fileops


class Entry(object):
    pw_dir = "/home/fleet"


def test_user_home_prefers_HOME_only_for_the_user_itself():
    assert fileops.user_home(Entry, True, {"HOME": "/tmp/h"}) == "/tmp/h"
    assert fileops.user_home(Entry, True, {}) == "/home/fleet"
    assert fileops.user_home(Entry, False, {"HOME": "/root"}) == "/home/fleet"


def test_resolve_fleet_user_runs_as_self(monkeypatch):
    me = pwd.getpwuid(os.geteuid())
    monkeypatch.setenv("HOME", "/tmp/elsewhere")
    entry, home, mosaic_home, as_self = fileops.resolve_fleet_user({"user": None, "mosaic_home": None}, os.environ)
    assert (entry.pw_uid, home, mosaic_home, as_self) == (
        me.pw_uid, "/tmp/elsewhere", "/tmp/elsewhere/.config/mosaic", True)
    # Without environ the passwd home wins (fleet_ps, fleet_send).
    entry, home, mosaic_home, as_self = fileops.resolve_fleet_user({"user": me.pw_name})
    assert (home, mosaic_home) == (me.pw_dir, os.path.join(me.pw_dir, ".config", "mosaic"))
    # An explicit mosaic_home is kept as given.
    assert fileops.resolve_fleet_user({"user": None, "mosaic_home": "/srv/m"}, os.environ)[2] == "/srv/m"


def test_mosaic_home_tilde_is_the_fleet_users_home(monkeypatch):
    """``~`` in mosaic_home is the fleet user's home, never the home of whoever runs the module."""
    me = pwd.getpwuid(os.geteuid())
    monkeypatch.setenv("HOME", "/tmp/runner-home")
    params = {"user": me.pw_name, "mosaic_home": "~/fleet-home"}
    # As the fleet user: its $HOME, as "~" would be.
    assert fileops.resolve_fleet_user(params, os.environ)[2] == "/tmp/runner-home/fleet-home"
    # Looked up by passwd (fleet_ps, fleet_send): the passwd home, whatever $HOME says.
    assert fileops.resolve_fleet_user(params)[2] == os.path.join(me.pw_dir, "fleet-home")
    assert fileops.expand_mosaic_home("~", "/home/fleet") == "/home/fleet"
    assert fileops.expand_mosaic_home("~/a/../b/", "/home/fleet") == "/home/fleet/b"
    assert fileops.expand_mosaic_home("/srv/m/", "/home/fleet") == "/srv/m"
    assert fileops.expand_mosaic_home("~root/m", "/home/fleet") == os.path.join(pwd.getpwnam("root").pw_dir, "m")


def test_mosaic_home_tilde_for_a_missing_user():
    params = {"user": "no-such-user-mosaic-fleet", "mosaic_home": "~/fleet-home"}
    assert fileops.resolve_fleet_user(params, os.environ)[2] == "~no-such-user-mosaic-fleet/fleet-home"


def test_needs_write(tmp_path):
    path = str(tmp_path / "f")
    assert fileops.needs_write(path, "a\n", 0o644)
    fileops.atomic_write(path, b"a\n", 0o644)
    assert not fileops.needs_write(path, "a\n", 0o644)
    assert fileops.needs_write(path, "b\n", 0o644)
    assert fileops.needs_write(path, "a\n", 0o600)
    assert fileops.needs_write(path, "a\n", 0o644, (os.geteuid() + 1, os.getegid()))


def test_resolve_fleet_user_missing_user():
    params = {"user": "no-such-user-mosaic-fleet", "mosaic_home": None}
    assert fileops.resolve_fleet_user(params, os.environ) == (
        None, "~no-such-user-mosaic-fleet", "~no-such-user-mosaic-fleet/.config/mosaic", False)
    with pytest.raises(KeyError):
        fileops.resolve_user("no-such-user-mosaic-fleet")


def test_user_argument_spec_is_fresh_each_time():
    one = fileops.user_argument_spec(extra=dict(type="bool"))
    assert one == {"user": {"type": "str"}, "mosaic_home": {"type": "str"}, "extra": {"type": "bool"}}
    one["user"]["default"] = "x"
    assert fileops.user_argument_spec()["user"] == {"type": "str"}


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
