"""fleet_send in check mode runs agent-send.sh --dry-run: the preamble has one rule, the script's."""

import os

from test_agent_send import fake_ssh_env, write_env
from test_fleet_send import HOST, adhoc


def nothing_sent(agent, fleet_env):
    home = fleet_env["MOSAIC_HOME"]
    return (agent.records() == [] and not os.path.exists(os.path.join(home, "fleet", "log", "send.log"))
            and not os.path.exists(os.path.join(home, "fleet", "run", "locks")))


def test_check_mode_reports_what_the_script_resolves(start_agent, fleet_env, socket_name):
    # The env file names the agent's fleet host: only agent-send.sh reads it, so a preamble that
    # shows web1 came from its dry run (the module alone would have said the local hostname).
    agent = start_agent("coder0")
    write_env(fleet_env, "coder0", MOSAIC_TMUX_SOCKET=socket_name, MOSAIC_AGENT_HOST="web1")
    message = "planned ü\n"
    rc, task, err = adhoc(fleet_env, {"agent": "coder0", "msg": message, "source": "lead",
                                      "mosaic_home": fleet_env["MOSAIC_HOME"]}, "--check")
    assert rc == 0, (task, err)
    assert task["outcome"] == "would_send" and task["changed"] is True, task
    assert task["preamble"] == "[%s:lead -> web1:coder0] " % HOST
    assert task["host"] == "web1" and task["target"] == "coder0"
    assert task["bytes"] == len((task["preamble"] + "planned ü").encode("utf-8"))
    assert task["elapsed_ms"] == 0 and task["reason"] == "check mode: nothing was sent"
    assert nothing_sent(agent, fleet_env)
    # The real send then uses the very preamble check mode announced.
    rc, sent, err = adhoc(fleet_env, {"agent": "coder0", "msg": message, "source": "lead",
                                      "mosaic_home": fleet_env["MOSAIC_HOME"]})
    assert rc == 0 and sent["outcome"] == "delivered", (sent, err)
    assert (sent["preamble"], sent["bytes"]) == (task["preamble"], task["bytes"])


def test_check_mode_for_a_remote_agent_runs_no_ssh(start_agent, fleet_env, socket_name, tmp_path):
    agent = start_agent("coder0")
    env = fake_ssh_env(fleet_env, tmp_path)
    rc, task, err = adhoc(env, {"agent": "coder0", "msg": "over there", "host": "fleet@web2",
                                "mosaic_home": fleet_env["MOSAIC_HOME"]}, "--check")
    assert rc == 0, (task, err)
    assert task["outcome"] == "would_send" and task["preamble"] == "[%s:operator -> web2:coder0] " % HOST
    assert not (tmp_path / "ssh.args").exists(), "check mode ran ssh"
    assert nothing_sent(agent, fleet_env)


def test_check_mode_refuses_what_the_script_refuses(fleet_env):
    # The name rule is agent-send.sh's (lib.sh): check mode reports its usage error as a failure.
    rc, task, err = adhoc(fleet_env, {"agent": "a" * 49, "msg": "hi", "mosaic_home": fleet_env["MOSAIC_HOME"]},
                          "--check")
    assert rc != 0 and task["failed"], task
    assert "invalid session name" in task["msg"], task
