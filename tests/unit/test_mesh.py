"""The mesh rule (plugins/module_utils/mesh.py): what a peer's key may ask for, and its line."""

import shlex

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import mesh

SEND = "~/.config/mosaic/tools/tmux/agent-send.sh"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHt fleet@web1"


def test_a_relay_request_parses_and_is_delivered_as_the_authenticated_host():
    request = mesh.parse_request(SEND + " --src-host evil -S planner -s coder0 --timeout 10 --json "
                                        "--dst-host web2 -L mosaic-fleet --no-verify -m -")
    assert request == dict(session="coder0", source="planner", socket="mosaic-fleet", timeout="10",
                           claimed_host="evil", dst_host="web2", json=True, verify=False)
    argv = mesh.delivery_argv("/m/tools/tmux/agent-send.sh", request, "web1")
    assert argv[:3] == ["/m/tools/tmux/agent-send.sh", "--src-host", "web1"]
    assert "evil" not in argv and argv[-2:] == ["-m", "-"]
    assert "--no-verify" in argv and argv[argv.index("-L") + 1] == "mosaic-fleet"


def test_without_l_the_receiver_picks_the_socket():
    request = mesh.parse_request(SEND + " -s coder0 -m -")
    assert request["socket"] is None and "-L" not in mesh.delivery_argv("t", request, "web1")
    assert mesh.parse_request(SEND + " -s coder0 -L '' -m -")["socket"] == ""


@pytest.mark.parametrize("command", [
    "", "   ", "id", "sh -c id", "scp -t /tmp", "internal-sftp",
    SEND + " -s coder0 -m hi", SEND + " -s coder0", SEND + " -s coder0 -m - -H x@y",
    SEND + " -s coder0 -m - --dry-run", SEND + " -s a.b -m -", SEND + " -m -",
    SEND + " -s coder0 -m - --timeout 1e9", SEND + " -s coder0 -m - --timeout 100", SEND + " -s coder0 -m - -S 'x y'",
    SEND + " -s coder0 -m - --src-host 'a;b'", SEND + " -s coder0 -m - 'unterminated",
    SEND + " -s coder0 -m - -s",
])
def test_everything_else_is_refused(command):
    with pytest.raises(mesh.Refused):
        mesh.parse_request(command)


def test_authorized_line_is_restricted_with_a_forced_command():
    line = mesh.authorized_line(KEY + "\n", "web1", "/home/fleet/.config/mosaic")
    assert line == ('restrict,command="/home/fleet/.config/mosaic/tools/fleet/mesh-receive --from web1 '
                    '--max-bytes %d" %s' % (mesh.MAX_BYTES, KEY))
    spaced = mesh.authorized_line(KEY, "web1", "/srv/my fleet", max_bytes=10)
    command = spaced.split('"')[1]
    assert shlex.split(command) == ["/srv/my fleet/tools/fleet/mesh-receive", "--from", "web1", "--max-bytes", "10"]


@pytest.mark.parametrize("args", [
    ("not a key", "web1", "/m"), (KEY, "web 1", "/m"), (KEY, "", "/m"), (KEY, "web1", "~/m"),
    (KEY, "web1", '/m"x'),
])
def test_authorized_line_refuses_what_it_cannot_write(args):
    with pytest.raises(ValueError):
        mesh.authorized_line(*args)


def test_audit_line_names_the_authenticated_and_the_claimed_hosts():
    request = mesh.parse_request(SEND + " --src-host evil -S planner -s coder0 -m -")
    line = mesh.audit_line("T", "web1", request, 12, "delivered")
    assert line == "T outcome=delivered from=web1 claimed=evil:planner dst=coder0 bytes=12\n"
    refused = mesh.audit_line("T", "web1", None, 0, mesh.REFUSED, "no shell\nhere")
    assert refused == "T outcome=refused from=web1 claimed=-:- dst=- bytes=0 reason='no shell here'\n"


def test_the_filter_writes_one_line_per_peer_with_a_key():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.mosaic.fleet.plugins.filter.fleet_mesh import fleet_mesh_authorized_keys

    peers = [{"host": "web1", "user_key": KEY}, {"host": "web2", "user_key": ""},
             {"host": "web3", "user_key": KEY.replace("web1", "web3")}]
    lines = fleet_mesh_authorized_keys(peers, "/home/fleet").splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('restrict,command="/home/fleet/.config/mosaic/tools/fleet/mesh-receive --from web1 ')
    assert "--from web3 " in lines[1]
    custom = fleet_mesh_authorized_keys(peers[:1], "/home/fleet", "~/fleets/a", 100)
    assert custom.startswith('restrict,command="/home/fleet/fleets/a/tools/fleet/mesh-receive --from web1 --max-bytes 100"')
    with pytest.raises(AnsibleFilterError, match="peer web 1"):
        fleet_mesh_authorized_keys([{"host": "web 1", "user_key": KEY}], "/home/fleet")
    with pytest.raises(AnsibleFilterError):
        fleet_mesh_authorized_keys(peers, "relative")
