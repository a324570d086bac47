"""agent-send.sh --dry-run: the resolved send as JSON, with nothing locked, sent or logged."""

import json
import os
import subprocess

import pytest

from test_agent_send import HOST, fake_ssh_env, send, tool, write_env

FIELDS = {"outcome", "preamble", "bytes", "target", "host", "socket", "src_host", "source", "remote",
          "env_file", "relay"}


def dry_run(env, *args, message="hello", stdin=True):
    """agent-send.sh --dry-run ARGS; returns (rc, report or None, stderr)."""
    argv = [tool(env), "--dry-run"] + list(args) + (["-m", "-"] if stdin else ["-m", message])
    result = subprocess.run(argv, env=env, input=message.encode("utf-8") if stdin else None,
                            capture_output=True, timeout=30, check=False)
    out = result.stdout.decode("utf-8")
    return result.returncode, (json.loads(out) if out.startswith("{") else None), result.stderr.decode("utf-8")


def untouched(env):
    """Nothing under MOSAIC_HOME that a send writes: no audit log, no lock directory."""
    home = env["MOSAIC_HOME"]
    return (not os.path.exists(os.path.join(home, "fleet", "log", "send.log"))
            and not os.path.exists(os.path.join(home, "fleet", "run", "locks")))


def test_dry_run_reports_the_resolved_local_send_and_touches_nothing(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    # Values as envfile.quote_env_value writes them; the file's other variables stay out.
    write_env(fleet_env, "coder0", MOSAIC_TMUX_SOCKET='"%s"' % socket_name, MOSAIC_AGENT_HOST='"web1"',
              MOSAIC_AGENT_COMMAND=r'"echo \"\$HOME\" \`id\`"')
    env = dict(fleet_env, MOSAIC_AGENT_NAME="planner", MOSAIC_AGENT_HOST="lead-box")
    before = agent.capture()
    message = "dry ü\nsecond line\n\n"
    rc, report, err = dry_run(env, "-s", "coder0", message=message)
    assert rc == 0, err
    assert set(report) == FIELDS
    assert report["outcome"] == "would_send"
    assert report["preamble"] == "[lead-box:planner -> web1:coder0] "
    # Trailing whitespace is dropped as for a send; the byte count covers preamble and text.
    assert report["bytes"] == len((report["preamble"] + "dry ü\nsecond line").encode("utf-8"))
    assert (report["target"], report["host"], report["socket"]) == ("coder0", "web1", socket_name)
    assert (report["src_host"], report["source"], report["remote"]) == ("lead-box", "planner", "")
    assert report["env_file"] == os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "agents", "coder0.env")
    assert report["relay"] is None
    assert agent.records() == [] and agent.capture() == before and "dry" not in agent.capture()
    assert untouched(fleet_env)
    assert agent.tmux("list-buffers").stdout == ""


def test_dry_run_preamble_is_the_one_a_send_uses(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    for args in ([], ["-S", "reviewer1"]):
        rc, planned, err = dry_run(fleet_env, "-L", socket_name, "-s", "coder0", *args, message="same rule")
        assert rc == 0, err
        rc, report, err, _took = send(fleet_env, "coder0", "same rule", *args, socket=socket_name)
        assert rc == 0, (report, err)
        assert (planned["preamble"], planned["bytes"], planned["host"], planned["socket"]) == (
            report["preamble"], report["bytes"], report["host"], report["socket"])
    assert [r["text"] for r in agent.records()] == [
        "[%s:operator -> %s:coder0] same rule" % (HOST, HOST), "[%s:reviewer1 -> %s:coder0] same rule" % (HOST, HOST)]


def test_dry_run_without_a_session_or_server_still_exits_0(fleet_env):
    # No tmux runs in a dry run, so a missing session is not detected (a send would say no_session).
    rc, report, err = dry_run(fleet_env, "-s", "nobody", message="x", stdin=False)
    assert rc == 0, err
    assert report["outcome"] == "would_send" and report["env_file"] == "" and report["socket"] == ""
    assert report["preamble"] == "[%s:operator -> %s:nobody] " % (HOST, HOST)
    assert untouched(fleet_env)


def test_dry_run_socket_follows_the_send_rules(fleet_env):
    env = dict(fleet_env, MOSAIC_TMUX_SOCKET="from-environment")
    assert dry_run(env, "-s", "coder0")[1]["socket"] == "from-environment"
    write_env(fleet_env, "coder0", MOSAIC_TMUX_SOCKET="from-file")
    assert dry_run(env, "-s", "coder0")[1]["socket"] == "from-file"
    assert dry_run(env, "-s", "coder0", "-L", "given")[1]["socket"] == "given"
    write_env(fleet_env, "coder0", MOSAIC_TMUX_SOCKET="")  # empty in the file: the default socket
    assert dry_run(env, "-s", "coder0")[1]["socket"] == ""
    # A value that is not a plain socket name is not taken; nor is a host name with a space.
    write_env(fleet_env, "coder0", MOSAIC_TMUX_SOCKET='"a b"', MOSAIC_AGENT_HOST='"web 1"')
    report = dry_run(env, "-s", "coder0")[1]
    assert report["socket"] == "from-environment" and report["host"] == HOST


def test_dry_run_for_a_remote_target_shows_the_relay_and_runs_no_ssh(fleet_env, tmp_path):
    env = fake_ssh_env(fleet_env, tmp_path, MOSAIC_AGENT_NAME="planner", MOSAIC_AGENT_HOST="lead-box",
                       MOSAIC_SEND_SSH_OPTIONS="-p 2222")
    rc, report, err = dry_run(env, "-H", "fleet@web2", "-s", "coder0", "--timeout", "3", message="$(id) ;")
    assert rc == 0, err
    assert not (tmp_path / "ssh.args").exists(), "a dry run ran ssh"
    assert report["remote"] == "fleet@web2" and report["host"] == "web2"
    assert report["socket"] is None  # the destination host picks it
    assert report["preamble"] == "[lead-box:planner -> web2:coder0] "
    assert report["env_file"] == ""
    remote_cmd = ("~/.config/mosaic/tools/tmux/agent-send.sh --src-host lead-box -S planner -s coder0"
                  " --timeout 3 --json -m - --dst-host web2")
    assert report["relay"] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-p", "2222", "--",
                               "fleet@web2", remote_cmd]
    rc, report, err = dry_run(env, "-H", "fleet@web2", "-s", "coder0", "-L", "", "--no-verify")
    assert rc == 0 and report["socket"] == "", err
    assert report["relay"][-1].endswith(" -L '' --no-verify")
    assert untouched(fleet_env)


def test_dry_run_relay_is_what_a_send_runs(start_agent, fleet_env, socket_name, tmp_path):
    start_agent("coder0")
    env = fake_ssh_env(fleet_env, tmp_path, MOSAIC_AGENT_NAME="planner")
    rc, planned, err = dry_run(env, "-H", "fleet@web2", "-s", "coder0", "-L", socket_name, message="relayed")
    assert rc == 0, err
    rc, report, err, _took = send(env, "coder0", "relayed", "-H", "fleet@web2", socket=socket_name)
    assert rc == 0, (report, err)
    assert (tmp_path / "ssh.args").read_text().splitlines() == planned["relay"][1:]
    assert planned["preamble"] == report["preamble"]


@pytest.mark.parametrize("args", [
    ["-s", "bad.name"],
    ["-s", "a" * 49],
    ["-s", "coder0", "-H", "-oProxyCommand=x"],
    ["-s", "coder0", "--timeout", "0"],
])
def test_dry_run_usage_errors_exit_2(fleet_env, args):
    rc, report, err = dry_run(fleet_env, *args)
    assert rc == 2 and report is None and "usage:" in err, (args, err)


def test_a_name_of_48_characters_is_the_longest(fleet_env):
    assert dry_run(fleet_env, "-s", "a" * 48)[0] == 0
    rc, _report, err = dry_run(fleet_env, "-s", "a" * 49)
    assert rc == 2 and "invalid session name" in err
