"""mosaic.fleet.fleet_send and playbooks/send.yml through real ansible, into the stub agent."""

import json
import os
import socket as socketlib
import subprocess

from ansible_util import ansible_env as shared_ansible_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")
HOST = socketlib.gethostname().split(".")[0]


def ansible_env(env):
    return shared_ansible_env(env, os.path.join(env["HOME"], ".ansible", "tmp"),
                              PATH="%s:%s" % (BIN, env["PATH"]))


def adhoc(env, args, *extra):
    """``ansible localhost -m mosaic.fleet.fleet_send -a JSON``; returns (rc, task result, stderr)."""
    result = subprocess.run(
        [os.path.join(BIN, "ansible"), "localhost", "-c", "local", "-m", "mosaic.fleet.fleet_send",
         "-a", json.dumps(args)] + list(extra),
        env=ansible_env(env), capture_output=True, text=True, timeout=120, check=False)
    # The default ad-hoc output: "localhost | SUCCESS => {...}" (or FAILED!).
    head, sep, body = result.stdout.partition(" => ")
    assert sep, result.stdout + result.stderr
    task = json.loads(body)
    task["failed"] = "FAILED!" in head
    return result.returncode, task, result.stderr


def test_module_delivers_into_the_stub(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    message = "from ansible:\n$(touch /nonexistent) `C-c` #{pane_id} ; 'quoted' \"dq\""
    rc, task, err = adhoc(fleet_env, {
        "agent": "coder0", "msg": message, "socket": socket_name, "mosaic_home": fleet_env["MOSAIC_HOME"]
    })
    assert rc == 0, task
    assert task["changed"] is True and task["outcome"] == "delivered", task
    assert task["preamble"] == "[%s:operator -> %s:coder0] " % (HOST, HOST)
    assert task["bytes"] == len((task["preamble"] + message).encode())
    assert task["elapsed_ms"] > 0
    assert [r["text"] for r in agent.records()] == [task["preamble"] + message]


def test_module_src_file_and_source(start_agent, fleet_env, socket_name, tmp_path):
    agent = start_agent("coder0")
    brief = tmp_path / "brief.md"
    brief.write_text("# Briefing\n\n- item ü\n- item 2\n\n", encoding="utf-8")
    rc, task, err = adhoc(fleet_env, {
        "agent": "coder0", "src": str(brief), "source": "release-bot", "socket": socket_name, "mosaic_home": fleet_env["MOSAIC_HOME"]
    })
    assert rc == 0 and task["outcome"] == "delivered", task
    assert agent.records()[-1]["text"] == "[%s:release-bot -> %s:coder0] # Briefing\n\n- item ü\n- item 2" % (
        HOST, HOST)


def test_check_mode_sends_nothing(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    rc, task, err = adhoc(fleet_env, {
        "agent": "coder0", "msg": "not now", "socket": socket_name, "mosaic_home": fleet_env["MOSAIC_HOME"]
    }, "--check")
    assert rc == 0, task
    assert task["outcome"] == "would_send" and task["changed"] is True
    assert task["preamble"] == "[%s:operator -> %s:coder0] " % (HOST, HOST)
    assert agent.records() == []
    assert "not now" not in agent.capture()
    assert not os.path.exists(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "send.log"))


def test_missing_session_fails(start_agent, fleet_env, socket_name):
    start_agent("coder0")
    rc, task, err = adhoc(fleet_env, {
        "agent": "coder9", "msg": "hello?", "socket": socket_name, "mosaic_home": fleet_env["MOSAIC_HOME"]
    })
    assert rc != 0
    assert task["failed"] is True and task["outcome"] == "no_session", task
    assert "no_session" in task["msg"]


def test_unconfirmed_is_a_warning(start_agent, fleet_env, socket_name):
    start_agent("clock", command="watch -n0.1 date", ready=None)
    rc, task, err = adhoc(fleet_env, {
        "agent": "clock", "msg": "tick", "socket": socket_name, "timeout": 2, "mosaic_home": fleet_env["MOSAIC_HOME"]
    })
    assert rc == 0, task
    assert task["outcome"] == "unconfirmed" and task["changed"] is True
    assert "[WARNING]: sent to clock, but delivery is unconfirmed" in err, err


def test_send_playbook_finds_the_agent_in_the_roster(start_agent, fleet_env, socket_name, tmp_path):
    agent = start_agent("coder0")
    roster = {
        "version": 1, "profile": "canary", "tmux": {"socket_name": socket_name},
        "agents": [{"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
                   {"name": "coder0", "class": "coder", "runtime": "stub"}],
    }
    extra = {"mosaic_fleet_roster": roster, "mosaic_fleet_mosaic_home": fleet_env["MOSAIC_HOME"],
             "agent": "coder0", "message": "via the send playbook\nline two", "source": "lead"}

    def playbook(extra_vars):
        return subprocess.run(
            [os.path.join(BIN, "ansible-playbook"), "-c", "local", "mosaic.fleet.send", "-e", json.dumps(extra_vars)],
            env=ansible_env(fleet_env), capture_output=True, text=True, timeout=180, check=False)

    result = playbook(extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert agent.records()[-1]["text"] == "[%s:lead -> %s:coder0] via the send playbook\nline two" % (HOST, HOST)

    result = playbook(dict(extra, agent="coder7"))
    assert result.returncode != 0
    assert "coder7 is not in the roster" in result.stdout
    assert len(agent.records()) == 1


def test_missing_framework_fails_but_check_mode_only_warns(fleet_env, tmp_path):
    empty_home = str(tmp_path / "no-framework")
    args = {"agent": "coder0", "msg": "hello", "mosaic_home": empty_home}
    rc, task, err = adhoc(fleet_env, args)
    assert rc != 0 and task["failed"] and "framework is not installed" in task["msg"], task
    rc, task, err = adhoc(fleet_env, args, "--check")
    assert rc == 0 and task["outcome"] == "would_send", task
    assert "framework is not installed" in err
