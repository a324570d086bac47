"""mosaic.fleet.fleet_send and playbooks/send.yml through real ansible, into the stub agent."""

import json
import os
import socket as socketlib
import subprocess

import pytest

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


# --- Messages are data: template-like text arrives byte for byte on every path ----------------

def pipe_lookup(tmp_path):
    """A template that creates ``tmp_path/pwned`` on the controller if anything evaluates it."""
    return '{{ lookup("pipe", "touch %s") }}' % (tmp_path / "pwned")


def template_corpus(tmp_path):
    """Texts that look like Jinja, GitHub Actions, Helm and Go templates; the pipe lookup first."""
    return [
        pipe_lookup(tmp_path),
        "MK {{ 7*6 }}",
        "{% if x %}y{% endif %}",
        "{% if x %}",
        "{# c #}",
        "${{ github.sha }}",
        "{{",
        "}}",
        "{{ .Values.x }}",
        "{% raw %}{{ a }}{% endraw %}",
    ]


def evaluable_messages(tmp_path):
    """A message that Jinja would render (so an evaluator runs the lookup), then the whole corpus
    as one message (a syntax error to Jinja: an evaluator fails the play)."""
    return [pipe_lookup(tmp_path) + " MK {{ 7*6 }}", "\n".join(template_corpus(tmp_path))]


def send_roster_vars(fleet_env, socket_name):
    """The extra vars send.yml needs besides the message: a roster with coder0 on this host."""
    roster = {
        "version": 1, "profile": "canary", "tmux": {"socket_name": socket_name},
        "agents": [{"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
                   {"name": "coder0", "class": "coder", "runtime": "stub"}],
    }
    return {"mosaic_fleet_roster": roster, "mosaic_fleet_mosaic_home": fleet_env["MOSAIC_HOME"], "agent": "coder0"}


def block_yaml(key, text):
    """``key: |-`` and ``text`` as a YAML literal block, the way an operator writes a message file."""
    return "%s: |-\n%s\n" % (key, "\n".join("  " + line for line in text.split("\n")))


@pytest.mark.parametrize("path", ["key_value", "inline_json", "yaml_file", "json_file", "src"])
def test_send_playbook_delivers_template_text_literally(start_agent, fleet_env, socket_name, tmp_path, path):
    """send.yml through each way an operator passes the message, once per message."""
    agent = start_agent("coder0")
    base = tmp_path / "base.json"
    base.write_text(json.dumps(send_roster_vars(fleet_env, socket_name)))
    messages = evaluable_messages(tmp_path)
    for text in messages:
        if path == "key_value":
            assert "'" not in text
            message_args = ["-e", "message='%s'" % text]
        elif path == "inline_json":
            message_args = ["-e", json.dumps({"message": text})]
        elif path == "yaml_file":
            (tmp_path / "message.yml").write_text(block_yaml("message", text))
            message_args = ["-e", "@%s" % (tmp_path / "message.yml")]
        elif path == "json_file":
            (tmp_path / "message.json").write_text(json.dumps({"message": text}))
            message_args = ["-e", "@%s" % (tmp_path / "message.json")]
        else:
            (tmp_path / "brief.md").write_text(text + "\n")
            message_args = ["-e", "src=%s" % (tmp_path / "brief.md")]
        result = subprocess.run(
            [os.path.join(BIN, "ansible-playbook"), "-c", "local", "mosaic.fleet.send", "-e", "@%s" % base]
            + message_args,
            env=ansible_env(fleet_env), capture_output=True, text=True, timeout=180, check=False)
        assert not (tmp_path / "pwned").exists(), "the message was evaluated: " + result.stdout[-3000:]
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert [r["text"] for r in agent.records()] == ["[%s:operator -> %s:coder0] %s" % (HOST, HOST, text)
                                                    for text in messages]


@pytest.mark.parametrize("path", ["key_value", "inline_json", "yaml_file"])
def test_send_playbook_agent_name_is_data(start_agent, fleet_env, socket_name, tmp_path, path):
    """An agent name that is a template is only a name the roster does not have: nothing on the
    controller evaluates it (no file appears), the error names it as given and lists the roster's
    agents, and nothing is sent; a normal agent name still works through the same path."""
    agent = start_agent("coder0")
    base = tmp_path / "base.json"
    roster_vars = send_roster_vars(fleet_env, socket_name)
    del roster_vars["agent"]
    base.write_text(json.dumps(dict(roster_vars, message="hello coder0")))

    def send(name):
        if path == "key_value":
            agent_args = ["-e", "agent='%s'" % name]
        elif path == "inline_json":
            agent_args = ["-e", json.dumps({"agent": name})]
        else:
            (tmp_path / "agent.yml").write_text("agent: |-\n  %s\n" % name)
            agent_args = ["-e", "@%s" % (tmp_path / "agent.yml")]
        return subprocess.run(
            [os.path.join(BIN, "ansible-playbook"), "-c", "local", "mosaic.fleet.send", "-e", "@%s" % base]
            + agent_args,
            env=ansible_env(fleet_env), capture_output=True, text=True, timeout=180, check=False)

    for name in (pipe_lookup(tmp_path), pipe_lookup(tmp_path) + " MK {{ 7*6 }}"):
        result = send(name)
        assert not (tmp_path / "pwned").exists(), "the agent name was evaluated: " + result.stdout[-3000:]
        assert result.returncode != 0, result.stdout[-3000:]
        assert "agent %s is not in the roster (agents: orchestrator, coder0)" % name in result.stdout, \
            result.stdout[-3000:]
    assert agent.records() == []

    result = send("coder0")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert [r["text"] for r in agent.records()] == ["[%s:operator -> %s:coder0] hello coder0" % (HOST, HOST)]


def test_fleet_send_reads_variables_as_data(start_agent, fleet_env, socket_name, tmp_path):
    """fleet_send in a playbook: each corpus text from extra vars, vars files and play vars, referenced
    alone, through filters, composed and looked up by name, arrives byte for byte; a template written
    in the task itself is still Ansible's."""
    agent = start_agent("coder0")
    corpus = template_corpus(tmp_path)
    joined = "\n".join(corpus)
    extra = dict(("cli_%d" % i, text) for i, text in enumerate(corpus))
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    (tmp_path / "texts.yml").write_text(block_yaml("file_joined", joined))
    common = {"agent": "coder0", "socket": socket_name, "mosaic_home": fleet_env["MOSAIC_HOME"]}
    tasks = [dict(name="cli_%d alone" % i, **{"mosaic.fleet.fleet_send": dict(common, msg="{{ cli_%d }}" % i)})
             for i in range(len(corpus))]
    tasks += [
        {"name": "play var through a filter, with the sender from a variable",
         "mosaic.fleet.fleet_send": dict(common, msg="{{ play_joined | trim }}", source="{{ sender }}")},
        {"name": "vars file, default(omit)", "mosaic.fleet.fleet_send": dict(common, msg="{{ file_joined | default(omit) }}")},
        {"name": "composed in the task", "mosaic.fleet.fleet_send": dict(common, msg="Re: {{ cli_1 }}\n{{ cli_0 }}")},
        {"name": "looked up by name in a loop", "mosaic.fleet.fleet_send": dict(common, msg="{{ vars[item] }}"),
         "loop": ["cli_2", "play_joined"]},
        {"name": "a template written in the task", "mosaic.fleet.fleet_send": dict(common, msg="task {{ 7*6 }}")},
    ]
    play = [{"name": "Messages are data", "hosts": "localhost", "gather_facts": False,
             "vars": {"play_joined": joined, "sender": "bot1"}, "vars_files": [str(tmp_path / "texts.yml")],
             "tasks": tasks}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    result = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), "-c", "local", str(tmp_path / "play.yml"),
         "-e", "@%s" % (tmp_path / "extra.json")],
        env=ansible_env(fleet_env), capture_output=True, text=True, timeout=300, check=False)
    assert not (tmp_path / "pwned").exists(), "a message was evaluated: " + result.stdout[-3000:]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    operator = "[%s:operator -> %s:coder0] " % (HOST, HOST)
    expected = [operator + text for text in corpus] + [
        "[%s:bot1 -> %s:coder0] " % (HOST, HOST) + joined,
        operator + joined,
        operator + "Re: %s\n%s" % (corpus[1], corpus[0]),
        operator + corpus[2],
        operator + joined,
        operator + "task 42",
    ]
    assert [r["text"] for r in agent.records()] == expected


def test_adhoc_safe_form_reads_the_message_from_a_variable(start_agent, fleet_env, socket_name, tmp_path):
    """The README's ad-hoc form: ``-a 'msg={{ text }}'`` with the text in extra vars arrives literally."""
    agent = start_agent("coder0")
    messages = evaluable_messages(tmp_path)
    for text in messages:
        (tmp_path / "text.json").write_text(json.dumps({"text": text}))
        rc, task, err = adhoc(fleet_env, {
            "agent": "coder0", "msg": "{{ text }}", "socket": socket_name, "mosaic_home": fleet_env["MOSAIC_HOME"]
        }, "-e", "@%s" % (tmp_path / "text.json"))
        assert not (tmp_path / "pwned").exists(), "the message was evaluated"
        assert rc == 0 and task["outcome"] == "delivered", task
    assert [r["text"] for r in agent.records()] == [task["preamble"] + text for text in messages]
