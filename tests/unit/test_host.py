"""The host layer: the fleet user (user/mosaic_home resolution), running commands as that user."""

import os
import pwd

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import host


class Entry(object):
    pw_dir = "/home/fleet"


def test_user_home_prefers_HOME_only_for_the_user_itself():
    assert host.user_home(Entry, True, {"HOME": "/tmp/h"}) == "/tmp/h"
    assert host.user_home(Entry, True, {}) == "/home/fleet"
    assert host.user_home(Entry, False, {"HOME": "/root"}) == "/home/fleet"


def test_resolve_fleet_user_runs_as_self(monkeypatch):
    me = pwd.getpwuid(os.geteuid())
    monkeypatch.setenv("HOME", "/tmp/elsewhere")
    entry, home, mosaic_home, as_self = host.resolve_fleet_user({"user": None, "mosaic_home": None}, os.environ)
    assert (entry.pw_uid, home, mosaic_home, as_self) == (
        me.pw_uid, "/tmp/elsewhere", "/tmp/elsewhere/.config/mosaic", True)
    # Without environ the passwd home wins (fleet_ps, fleet_send).
    entry, home, mosaic_home, as_self = host.resolve_fleet_user({"user": me.pw_name})
    assert (home, mosaic_home) == (me.pw_dir, os.path.join(me.pw_dir, ".config", "mosaic"))
    # An explicit mosaic_home is kept as given.
    assert host.resolve_fleet_user({"user": None, "mosaic_home": "/srv/m"}, os.environ)[2] == "/srv/m"


def test_mosaic_home_tilde_is_the_fleet_users_home(monkeypatch):
    """``~`` in mosaic_home is the fleet user's home, never the home of whoever runs the module."""
    me = pwd.getpwuid(os.geteuid())
    monkeypatch.setenv("HOME", "/tmp/runner-home")
    params = {"user": me.pw_name, "mosaic_home": "~/fleet-home"}
    # As the fleet user: its $HOME, as "~" would be.
    assert host.resolve_fleet_user(params, os.environ)[2] == "/tmp/runner-home/fleet-home"
    # Looked up by passwd (fleet_ps, fleet_send): the passwd home, whatever $HOME says.
    assert host.resolve_fleet_user(params)[2] == os.path.join(me.pw_dir, "fleet-home")
    assert host.expand_mosaic_home("~", "/home/fleet") == "/home/fleet"
    assert host.expand_mosaic_home("~/a/../b/", "/home/fleet") == "/home/fleet/b"
    assert host.expand_mosaic_home("/srv/m/", "/home/fleet") == "/srv/m"
    assert host.expand_mosaic_home("~root/m", "/home/fleet") == os.path.join(pwd.getpwnam("root").pw_dir, "m")


def test_mosaic_home_tilde_for_a_missing_user():
    params = {"user": "no-such-user-mosaic-fleet", "mosaic_home": "~/fleet-home"}
    assert host.resolve_fleet_user(params, os.environ)[2] == "~no-such-user-mosaic-fleet/fleet-home"


def test_resolve_fleet_user_missing_user():
    params = {"user": "no-such-user-mosaic-fleet", "mosaic_home": None}
    assert host.resolve_fleet_user(params, os.environ) == (
        None, "~no-such-user-mosaic-fleet", "~no-such-user-mosaic-fleet/.config/mosaic", False)
    with pytest.raises(KeyError):
        host.resolve_user("no-such-user-mosaic-fleet")


def test_user_argument_spec_is_fresh_each_time():
    one = host.user_argument_spec(extra=dict(type="bool"))
    assert one == {"user": {"type": "str"}, "mosaic_home": {"type": "str"}, "extra": {"type": "bool"}}
    one["user"]["default"] = "x"
    assert host.user_argument_spec()["user"] == {"type": "str"}


def test_as_user_argv():
    assert host.as_user_argv("fleet", "/home/fleet", None, ["tmux", "ls"]) == [
        "runuser", "-u", "fleet", "--", "env", "-u", "TMUX", "-u", "TMUX_TMPDIR", "HOME=/home/fleet", "tmux", "ls"]
    assert host.as_user_argv("fleet", "/h", "/t", ["tmux"], runuser="/usr/bin/setpriv") == [
        "/usr/bin/setpriv", "--reuid=fleet", "--regid=fleet", "--init-groups", "--",
        "env", "-u", "TMUX", "HOME=/h", "TMUX_TMPDIR=/t", "tmux"]


def test_resolve_user(tmp_path):
    name, uid, home, as_self = host.fleet_user()
    assert uid == os.geteuid() and as_self is True
    assert host.fleet_user(name)[:2] == (name, uid)
    assert home == pwd.getpwuid(uid).pw_dir  # the passwd home, whatever $HOME says
    identity, mosaic_home = host.resolve_identity({"user": name, "mosaic_home": None})
    assert identity == (name, uid, home, True) and mosaic_home == os.path.join(home, ".config", "mosaic")
    assert host.resolve_identity({"user": None, "mosaic_home": "/srv/m"})[1] == "/srv/m"
    with pytest.raises(host.HostError, match="does not exist"):
        host.fleet_user("no-such-user-mosaic-fleet")


def test_switch_user_argv_one_rule():
    assert host.switch_user_argv("fleet", ["tmux", "ls"]) == ["runuser", "-u", "fleet", "--", "tmux", "ls"]
    assert host.switch_user_argv("fleet", ["id"], "/usr/bin/setpriv") == [
        "/usr/bin/setpriv", "--reuid=fleet", "--regid=fleet", "--init-groups", "--", "id"]
    found = {"setpriv": "/usr/bin/setpriv"}
    assert host.switch_user_binary(found.get) == "/usr/bin/setpriv"
    assert host.switch_user_binary({"runuser": "/sbin/runuser", "setpriv": "x"}.get) == "/sbin/runuser"
    assert host.switch_user_binary({}.get) == "runuser"


def test_spawn_runs_an_argv_without_a_shell():
    rc, out, err = host.spawn(["sh", "-c", 'printf "%s|" "$1" "$V"; cat; echo oops >&2; exit 3', "sh", "$HOME ~"],
                              {"V": "v"}, data="stdin\u00e9")
    assert (rc, out, err) == (3, "$HOME ~|v|stdin\u00e9", "oops\n")
    assert host.spawn(["cat"]) == (0, "", "")  # no data: stdin is empty, never the module's
    rc, _out, err = host.spawn(["/nonexistent/program"])
    assert rc == 127 and "cannot run /nonexistent/program" in err
    rc, _out, err = host.spawn(["sleep", "5"], timeout=0.2)
    assert rc == -9 and "timed out" in err


def test_runner_honours_check_mode():
    calls = []

    def fake_spawn(argv, env, timeout=None, data=None):
        calls.append((argv, env, timeout, data))
        return 0, "out", ""

    runner = host.Runner("fleet", as_self=False, check_mode=True, spawn_fn=fake_spawn)
    assert runner.run(["loginctl", "show-user", "fleet"]) == (0, "out", "")  # a query runs
    assert runner.run(["loginctl", "enable-linger", "fleet"], changes=True) == (0, "", "")  # skipped
    assert runner.commands == [["loginctl", "enable-linger", "fleet"]]
    assert [c[0] for c in calls] == [["loginctl", "show-user", "fleet"]]
    assert runner.as_user(["tmux"]) == ["runuser", "-u", "fleet", "--", "tmux"]
    assert runner.as_user_tmux(["tmux"], "/home/fleet")[:5] == ["runuser", "-u", "fleet", "--", "env"]

    live = host.Runner(check_mode=False, spawn_fn=fake_spawn)
    assert live.run(["systemctl", "--user", "daemon-reload"], env={"A": "1"}, changes=True) == (0, "out", "")
    assert live.commands == [["systemctl", "--user", "daemon-reload"]]
    assert calls[-1] == (["systemctl", "--user", "daemon-reload"], {"A": "1"}, None, None)
    assert live.as_user(["tmux"]) == ["tmux"]  # already the fleet user
    live.query(["tmux", "ls"])
    assert calls[-1][2] == host.COMMAND_TIMEOUT


def test_agent_files_is_the_one_listing(tmp_path):
    assert host.agent_files(str(tmp_path)) == {} and host.rendered_agents(str(tmp_path)) == set()
    agents = tmp_path / "fleet" / "agents"
    agents.mkdir(parents=True)
    for name in ("a.env", "a.comms.md", "b.comms.md", "c.env", ".hidden", "notes.txt"):
        (agents / name).write_text("")
    assert host.agent_files(str(tmp_path)) == {"a.env": "a", "a.comms.md": "a", "b.comms.md": "b", "c.env": "c"}
    assert host.rendered_agents(str(tmp_path)) == {"a", "c"}


def test_read_head(tmp_path):
    path = tmp_path / "hb"
    path.write_bytes(b"1700000000 42\n" + b"x" * 1000)
    assert host.read_head(str(path), 14) == "1700000000 42\n"
    assert host.read_head(str(tmp_path / "missing")) is None
