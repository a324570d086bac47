"""agent-send.sh against real programs in real tmux: the stub agent, a dead pane, clocks."""

import hashlib
import json
import os
import random
import signal
import socket as socketlib
import string
import subprocess
import threading
import time

import pytest

from framework_util import wait_for

HOST = socketlib.gethostname().split(".")[0]


def tool(env):
    return os.path.join(env["MOSAIC_HOME"], "tools", "tmux", "agent-send.sh")


def send(env, session, message, *args, socket=None, stdin=True, timeout=60):
    """Run agent-send.sh --json; the message goes on stdin (-m -) unless stdin=False."""
    argv = [tool(env), "-s", session, "--json"]
    if socket is not None:
        argv += ["-L", socket]
    argv += list(args)
    argv += ["-m", "-"] if stdin else ["-m", message]
    started = time.monotonic()
    result = subprocess.run(argv, env=env, input=message.encode("utf-8") if stdin else None,
                            capture_output=True, timeout=timeout, check=False)
    took = time.monotonic() - started
    out = result.stdout.decode("utf-8")
    report = json.loads(out) if out.strip().startswith("{") else None
    return result.returncode, report, result.stderr.decode("utf-8"), took


def preamble(session, source="operator"):
    return "[%s:%s -> %s:%s] " % (HOST, source, HOST, session)


def printable(size, seed):
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " .,:;!?-_()[]{}<>=+*/'\"|#@%&~^`$\\"
    text = "".join(rng.choice(alphabet) for _i in range(size))
    return text.strip() or "x"


def assert_arrived(agent, message, report, rc, source="operator", count=1):
    assert rc == 0, report
    assert report["outcome"] == "delivered", report
    expected = preamble(agent.name, source) + message
    assert report["preamble"] == preamble(agent.name, source)
    assert report["bytes"] == len(expected.encode("utf-8"))
    texts = [r["text"] for r in agent.records()]
    assert texts.count(expected) == count, (texts[-3:], expected[:200])


@pytest.mark.parametrize("size", [1, 2048, 10240, 65536])
def test_sizes_arrive_exactly(start_agent, fleet_env, socket_name, size):
    agent = start_agent("coder0")
    message = "x" if size == 1 else printable(size, size)
    assert len(message.encode()) == size
    rc, report, _err, _took = send(fleet_env, "coder0", message, socket=socket_name)
    assert_arrived(agent, message, report, rc)
    assert report["evidence"] == "transcript"
    assert len(agent.records()) == 1


def test_a_long_message_sent_twice_is_delivered_twice(start_agent, fleet_env, socket_name):
    # 10 KB fill more than the 40-row screen: after the second send the screen looks exactly as it
    # did after the first, so only the scroll since the paste tells the two apart.
    agent = start_agent("coder0")
    message = printable(10240, 7)
    for count in (1, 2):
        rc, report, _err, took = send(fleet_env, "coder0", message, socket=socket_name)
        assert_arrived(agent, message, report, rc, count=count)
        assert report["evidence"] == "transcript"
        assert took < 3, took  # proven at once, not by waiting out the timeout


PASTE_THEN_EXIT = r"""
import os, sys, tty
# Takes one bracketed paste, then exits: the pane dies between the paste and the Enter.
tty.setraw(0)
os.write(1, b"\x1b[?2004h\r\nready> ")
seen = b""
while b"\x1b[201~" not in seen:
    seen += os.read(0, 65536)
"""


def test_a_pane_that_dies_after_the_paste_is_not_delivered(start_agent, fleet_env, socket_name, tmp_path):
    script = tmp_path / "paste_then_exit.py"
    script.write_text(PASTE_THEN_EXIT)
    agent = start_agent("quitter", command="exec python3 %s" % script, ready="ready>")
    agent.tmux("set-option", "-t", "=quitter:", "remain-on-exit", "on")
    rc, report, _err, took = send(fleet_env, "quitter", "goodbye", socket=socket_name)
    assert rc == 4 and report["outcome"] == "not_delivered", report
    assert "died" in report["reason"], report
    assert took < 2


def test_no_verify_to_a_pane_that_dies_after_the_paste_is_not_delivered(
        start_agent, fleet_env, socket_name, tmp_path):
    # Without verification the one call after the delay still tells that nothing took the Enter.
    script = tmp_path / "paste_then_exit.py"
    script.write_text(PASTE_THEN_EXIT)
    agent = start_agent("quitter", command="exec python3 %s" % script, ready="ready>")
    agent.tmux("set-option", "-t", "=quitter:", "remain-on-exit", "on")
    rc, report, _err, took = send(fleet_env, "quitter", "goodbye", "--no-verify", socket=socket_name)
    assert rc == 4 and report["outcome"] == "not_delivered", report
    assert took < 2


def test_the_enter_comes_even_when_the_sender_is_killed_after_the_paste(start_agent, fleet_env, socket_name):
    # tmux itself presses Enter at the delay (a timer set with the paste), so a sender that dies
    # in between leaves a whole message, submitted, not a half-typed one in the input.
    agent = start_agent("coder0")
    env = dict(fleet_env, MOSAIC_SEND_ENTER_DELAY="1.5")
    sender = subprocess.Popen([tool(env), "-L", socket_name, "-s", "coder0", "-m", "orphaned but whole"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: "orphaned but whole" in agent.capture(), what="the paste")
        assert not agent.records()
        sender.kill()
    finally:
        sender.wait()
    wait_for(agent.records, timeout=5, what="tmux to press Enter")
    assert agent.records()[0]["text"] == preamble("coder0") + "orphaned but whole"


def test_multiline_and_unicode(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    messages = [
        "first line\nsecond line\n\n  indented fourth\nlast",
        "héllo wörld — ünïcödé ✓ 日本語のテキスト 🎉🚀 emoji at the end 🎉",
        "mixed\n日本語\n🎉 line three\ttab",
    ]
    for message in messages:
        rc, report, _err, _took = send(fleet_env, "coder0", message, socket=socket_name)
        assert_arrived(agent, message, report, rc)
    assert [r["text"] for r in agent.records()] == [preamble("coder0") + m for m in messages]


def test_text_tmux_or_a_shell_would_interpret(start_agent, fleet_env, socket_name, tmp_path):
    agent = start_agent("coder0")
    touched = tmp_path / "pwned"
    touched2 = tmp_path / "pwned2"
    messages = [
        "C-c",
        "Enter",
        "C-c Enter C-m Escape",
        "a ; b ;",
        ";",
        "$(touch %s)" % touched,
        "`touch %s`" % touched2,
        "'single' \"double\" `back` $HOME ${HOME} $((1+1)) \\ \\\\",
        "-m -s --json -L x",
        "-",
        "\\e[31mred\\e[0m \\x1b[2J \\033c \\n \\t",
        "#{pane_id} #{session_name} #(touch %s) ##" % touched,
        "q:wq\n:q!\nexit\nkill-server",
        "end with semicolon;",
    ]
    for message in messages:
        rc, report, _err, _took = send(fleet_env, "coder0", message, socket=socket_name)
        assert_arrived(agent, message, report, rc)
    # The same text on the command line (-m TEXT) is just as literal.
    rc, report, _err, _took = send(fleet_env, "coder0", messages[5], socket=socket_name, stdin=False)
    assert_arrived(agent, messages[5], report, rc, count=2)
    assert [r["text"] for r in agent.records()][:len(messages)] == [preamble("coder0") + m for m in messages]
    assert not touched.exists() and not touched2.exists()
    # The stub is still alive and tmux did not run anything either.
    assert agent.pane("#{pane_dead}") == "0"


def test_trailing_whitespace_is_dropped(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    rc, report, _err, _took = send(fleet_env, "coder0", "hello there\n\n  \t\n", socket=socket_name)
    assert_arrived(agent, "hello there", report, rc)


def test_twenty_concurrent_sends_arrive_whole_and_unmixed(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    messages = ["sender %02d says:\n%s\nend of %02d" % (i, printable(300 + 37 * i, i), i) for i in range(20)]
    results = [None] * 20

    def worker(i):
        results[i] = send(fleet_env, "coder0", messages[i], "-S", "peer%02d" % i, "--timeout", "60",
                          socket=socket_name, timeout=150)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, (rc, report, err, _took) in enumerate(results):
        assert rc == 0 and report["outcome"] == "delivered", (i, report, err)
    texts = [r["text"] for r in agent.records()]
    assert len(texts) == 20
    expected = ["[%s:peer%02d -> %s:coder0] %s" % (HOST, i, HOST, m) for i, m in enumerate(messages)]
    assert sorted(texts) == sorted(expected)


def test_missing_session_is_no_session_fast(start_agent, fleet_env, socket_name):
    start_agent("coder0")
    rc, report, err, took = send(fleet_env, "coder", "hi", socket=socket_name)  # prefix of coder0
    assert rc == 5 and report["outcome"] == "no_session", report
    assert took < 2
    rc, report, err, took = send(fleet_env, "coder0", "hi", socket="no-server-here")
    assert rc == 5 and report["outcome"] == "no_session", report
    assert took < 2


def test_dead_pane_is_not_delivered_fast(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    agent.tmux("set-option", "-t", "=coder0:", "remain-on-exit", "on")
    os.kill(int(agent.pane("#{pane_pid}")), signal.SIGTERM)  # the runtime exits, the pane stays
    wait_for(lambda: agent.pane("#{pane_dead}") == "1", what="the pane to die")
    rc, report, _err, took = send(fleet_env, "coder0", "are you there?", socket=socket_name)
    assert rc == 4 and report["outcome"] == "not_delivered", report
    assert "dead" in report["reason"]
    assert took < 2


@pytest.mark.parametrize("command", [
    "watch -n0.1 date",
    "while :; do date +%T.%N; sleep 0.1; done",
    "while :; do date +%T.%N; sleep 0.7; done",
])
def test_a_clock_is_never_delivered(start_agent, fleet_env, socket_name, command):
    clock = start_agent("clock", command=command, ready=None)
    wait_for(lambda: ":" in clock.capture(), what="the clock to tick")
    for _attempt in range(2):
        rc, report, _err, _took = send(fleet_env, "clock", "tick tock", "--timeout", "2", socket=socket_name)
        assert report["outcome"] != "delivered", report
        assert rc == 3, report


SWALLOWING_TUI = r"""
import json, os, sys, time, tty
# A TUI with paste detection: an Enter within 0.5 s of a paste's end counts as part of the paste.
fd = sys.stdin.fileno()
tty.setraw(fd)
out = os.fdopen(os.dup(1), "w")
out.write("\x1b[?2004h\r\ntui> "); out.flush()
buf, pending, paste_end = "", "", 0.0
while True:
    pending += os.read(fd, 65536).decode()
    while pending:
        if pending.startswith("\x1b[200~"):
            end = pending.find("\x1b[201~")
            if end < 0:
                break
            buf += pending[6:end]; pending = pending[end + 6:]; paste_end = time.time()
        elif pending[0] == "\r":
            pending = pending[1:]
            if buf and time.time() - paste_end > 0.5:
                out.write("\r\x1b[K" + buf.replace("\n", "\r\n") + "\r\n")
                with open(sys.argv[1], "a") as log:
                    log.write(json.dumps({"text": buf}) + "\n")
                buf = ""
        else:
            buf += pending[0]; pending = pending[1:]
    out.write("\r\x1b[Ktui> " + buf.split("\n")[-1][-60:]); out.flush()
"""


def test_an_enter_swallowed_by_paste_detection_is_pressed_again(start_agent, fleet_env, socket_name, tmp_path):
    script = tmp_path / "tui.py"
    script.write_text(SWALLOWING_TUI)
    log = tmp_path / "tui.log"
    start_agent("tui", command="exec python3 %s %s" % (script, log), ready="tui>")
    rc, report, _err, took = send(fleet_env, "tui", "first Enter is swallowed", socket=socket_name)
    assert rc == 0 and report["outcome"] == "delivered", report
    assert took >= 1.0  # the second Enter came after the retry wait
    texts = [json.loads(line)["text"] for line in log.read_text().splitlines()]
    assert texts == [preamble("tui") + "first Enter is swallowed"]


def test_copy_mode_is_left_before_pasting(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    agent.tmux("copy-mode", "-t", "=coder0:")
    assert agent.pane("#{pane_in_mode}") == "1"
    rc, report, _err, _took = send(fleet_env, "coder0", "after copy mode", socket=socket_name)
    assert_arrived(agent, "after copy mode", report, rc)
    assert agent.pane("#{pane_in_mode}") == "0"


def test_socket_comes_from_the_agent_env_file(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    env_file = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "agents", "coder0.env")
    with open(env_file, "w") as handle:
        handle.write("MOSAIC_AGENT_NAME=coder0\nMOSAIC_TMUX_SOCKET=%s\n" % socket_name)
    rc, report, _err, _took = send(fleet_env, "coder0", "found by env file")
    assert_arrived(agent, "found by env file", report, rc)
    assert report["socket"] == socket_name


def test_default_socket_means_no_dash_L(start_agent, fleet_env):
    # TMUX_TMPDIR is private to the test, so the default socket is too.
    agent = start_agent("coder0", socket="")
    rc, report, _err, _took = send(fleet_env, "coder0", "on the default socket", socket="")
    assert_arrived(agent, "on the default socket", report, rc)
    env = dict(fleet_env, MOSAIC_TMUX_SOCKET="")
    rc, report, _err, _took = send(env, "coder0", "again, without -L")
    assert_arrived(agent, "again, without -L", report, rc)


def test_source_name_and_audit_log(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    env = dict(fleet_env, MOSAIC_AGENT_NAME="orchestrator")
    rc, report, _err, _took = send(env, "coder0", "from the orchestrator", socket=socket_name)
    assert_arrived(agent, "from the orchestrator", report, rc, source="orchestrator")
    rc, report, _err, _took = send(env, "coder0", "from a named source", "-S", "reviewer1", socket=socket_name)
    assert_arrived(agent, "from a named source", report, rc, source="reviewer1")
    rc, report, _err, _took = send(fleet_env, "nobody", "lost", socket=socket_name)
    with open(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "send.log")) as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 3
    digest = hashlib.sha256((preamble("coder0", "reviewer1") + "from a named source").encode()).hexdigest()
    fields = dict(f.split("=", 1) for f in lines[1].split()[1:])
    assert fields == {"outcome": "delivered", "src": "%s:reviewer1" % HOST, "dst": "%s:coder0" % HOST,
                      "bytes": str(report_bytes("coder0", "reviewer1", "from a named source")),
                      "sha256": digest, "elapsed_ms": fields["elapsed_ms"]}
    assert time.strftime("%Y-%m-%dT") in lines[1].split()[0]
    assert "outcome=no_session" in lines[2] and "dst=%s:nobody" % HOST in lines[2]


def report_bytes(session, source, message):
    return len((preamble(session, source) + message).encode())


def test_no_verify_sends_without_proof(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    rc, report, _err, _took = send(fleet_env, "coder0", "fire and forget", "--no-verify", socket=socket_name)
    assert rc == 3 and report["outcome"] == "unconfirmed", report
    wait_for(agent.records, what="the stub to log the message")
    assert agent.records()[0]["text"] == preamble("coder0") + "fire and forget"


def test_plain_output_and_help(start_agent, fleet_env, socket_name):
    start_agent("coder0")
    result = subprocess.run([tool(fleet_env), "-L", socket_name, "-s", "coder0", "-m", "plain"],
                            env=fleet_env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("delivered %s:coder0 (" % HOST), result.stdout
    helptext = subprocess.run([tool(fleet_env), "--help"], env=fleet_env, capture_output=True, text=True,
                              check=False).stdout
    for needle in ("-H user@host", "0  delivered", "3  unconfirmed", "4  not_delivered",
                   "5  no_session", "2  usage"):
        assert needle in helptext


@pytest.mark.parametrize("args", [
    [],
    ["-s", "coder0"],
    ["-m", "hi"],
    ["-s", "bad.name", "-m", "hi"],
    ["-s", "-coder", "-m", "hi"],
    ["-s", "coder0", "-m", ""],
    ["-s", "coder0", "-m", " \n "],
    ["-s", "coder0", "-m", "hi", "--timeout", "0"],
    ["-s", "coder0", "-m", "hi", "--timeout", "soon"],
    ["-s", "coder0", "-m", "hi", "-H", "-oProxyCommand=x"],
    ["-s", "coder0", "-m", "hi", "-L", "a;b"],
    ["-s", "coder0", "-m", "hi", "--frobnicate"],
])
def test_usage_errors_send_nothing(fleet_env, args):
    result = subprocess.run([tool(fleet_env)] + args, env=fleet_env, capture_output=True, text=True,
                            timeout=10, check=False)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "usage:" in result.stderr
    assert not os.path.exists(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "send.log"))


FAKE_SSH = r"""#!/usr/bin/env bash
# A stand-in for ssh: records its options, then runs the remote command line through a shell the
# way sshd does (sh -c "<the command>"), stdin passed through.
printf '%s\n' "$@" >"$FAKE_SSH_LOG"
while (($#)); do
  case $1 in -o) shift 2 ;; --) shift; break ;; -*) shift ;; *) break ;; esac
done
shift  # the destination
exec sh -c "$*"
"""


def fake_ssh_env(fleet_env, tmp_path, **extra):
    """fleet_env with FAKE_SSH first on PATH as ``ssh`` (its argv logged to tmp_path/ssh.args)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ssh").write_text(FAKE_SSH)
    (bindir / "ssh").chmod(0o755)
    return dict(fleet_env, PATH="%s:%s" % (bindir, fleet_env["PATH"]), FAKE_SSH_LOG=str(tmp_path / "ssh.args"),
                **extra)


def test_remote_send_runs_the_remote_tool_with_the_message_on_stdin(
        start_agent, fleet_env, socket_name, tmp_path):
    agent = start_agent("coder0")
    env = fake_ssh_env(fleet_env, tmp_path, MOSAIC_AGENT_NAME="planner")
    message = "over ssh: $(touch %s) `id` 'q' \"dq\" ; C-c\nsecond line %%s \\n" % (tmp_path / "pwned")
    rc, report, err, _took = send(env, "coder0", message, "-H", "fleet@web2", socket=socket_name)
    assert rc == 0 and report["outcome"] == "delivered", (report, err)
    assert report["evidence"] == "transcript" and report["socket"] == socket_name
    # No env file names coder0's fleet host on the remote side: the -H host part stands in; the
    # source host is the sender's.
    assert report["preamble"] == "[%s:planner -> web2:coder0] " % HOST
    assert agent.records()[-1]["text"] == report["preamble"] + message
    assert not (tmp_path / "pwned").exists()
    ssh_args = (tmp_path / "ssh.args").read_text().splitlines()
    assert ssh_args[:4] == ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    assert "fleet@web2" in ssh_args
    assert "touch" not in ssh_args[-1]  # the message never travels on the command line
    log = open(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "send.log")).read()
    assert "dst=fleet@web2:coder0" in log  # the sender's record
    assert "dst=web2:coder0" in log  # the delivering side's record (the -H host part)


def test_remote_unreachable_host_fails_within_the_timeout(fleet_env):
    # 192.0.2.0/24 is TEST-NET-1: never routed, so only the connect timeout ends the attempt.
    rc, report, _err, took = send(fleet_env, "coder0", "hello?", "-H", "fleet@192.0.2.1", "--timeout", "2")
    assert rc == 4 and report["outcome"] == "not_delivered", report
    assert "ssh fleet@192.0.2.1" in report["reason"]
    assert took < 8
    # Name resolution is outside ssh's connect timeout; the hard bound is connect + 2 x timeout + 5 s.
    rc, report, _err, took = send(fleet_env, "coder0", "hello?", "-H", "fleet@no-such-host.invalid",
                                  "--timeout", "2")
    assert rc == 4 and report["outcome"] == "not_delivered", report
    assert took < 13


def write_env(env, name, **values):
    path = os.path.join(env["MOSAIC_HOME"], "fleet", "agents", name + ".env")
    with open(path, "w") as handle:
        handle.write("".join("%s=%s\n" % item for item in
                             [("MOSAIC_AGENT_NAME", name)] + sorted(values.items())))


def test_preamble_hosts_are_fleet_host_names(start_agent, fleet_env, socket_name):
    # The machine's hostname is not the inventory name: the preamble must carry the names the
    # Fleet Comms sheets use, so that flipping it addresses the sender.
    agent = start_agent("coder0")
    write_env(fleet_env, "coder0", MOSAIC_TMUX_SOCKET=socket_name, MOSAIC_AGENT_HOST="web1",
              MOSAIC_AGENT_CLASS="coder")
    env = dict(fleet_env, MOSAIC_AGENT_NAME="planner", MOSAIC_AGENT_HOST="lead-box")
    rc, report, _err, _took = send(env, "coder0", "hosts by inventory name")
    assert rc == 0 and report["outcome"] == "delivered", report
    assert report["preamble"] == "[lead-box:planner -> web1:coder0] "
    assert report["host"] == "web1" and report["socket"] == socket_name
    assert agent.records()[-1]["text"] == "[lead-box:planner -> web1:coder0] hosts by inventory name"
    log = open(os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "log", "send.log")).read()
    assert "src=lead-box:planner dst=web1:coder0" in log
    # -L does not stop the env file from naming the host; without MOSAIC_AGENT_HOST the sender
    # is the short hostname.
    rc, report, _err, _took = send(fleet_env, "coder0", "from the operator", socket=socket_name)
    assert rc == 0 and report["preamble"] == "[%s:operator -> web1:coder0] " % HOST, report


def test_remote_send_names_the_destination_by_its_env_file(start_agent, fleet_env, socket_name, tmp_path):
    agent = start_agent("coder0")
    env = fake_ssh_env(fleet_env, tmp_path, MOSAIC_AGENT_NAME="planner", MOSAIC_AGENT_HOST="lead-box")
    rc, report, err, _took = send(env, "coder0", "no env file there", "-H", "fleet@10.1.2.3", socket=socket_name)
    assert rc == 0, (report, err)
    assert report["preamble"] == "[lead-box:planner -> 10.1.2.3:coder0] "
    write_env(fleet_env, "coder0", MOSAIC_TMUX_SOCKET=socket_name, MOSAIC_AGENT_HOST="web2")
    rc, report, err, _took = send(env, "coder0", "env file there", "-H", "fleet@10.1.2.3")
    assert rc == 0, (report, err)
    assert report["preamble"] == "[lead-box:planner -> web2:coder0] " and report["host"] == "web2"
    assert agent.records()[-1]["text"] == "[lead-box:planner -> web2:coder0] env file there"


def test_the_text_reaches_tmux_through_a_private_file(start_agent, fleet_env, socket_name):
    agent = start_agent("coder0")
    rc, report, _err, _took = send(fleet_env, "coder0", "private; text", socket=socket_name)
    assert_arrived(agent, "private; text", report, rc)
    path = os.path.join(fleet_env["MOSAIC_HOME"], "fleet", "run", "locks", "send.%s.coder0.text" % socket_name)
    info = os.stat(path)
    assert info.st_mode & 0o077 == 0 and info.st_size == 0  # the user's alone, and emptied after use


SLOW_ECHO = r'''
import os, sys, termios, time, tty
tty.setraw(0)
out = lambda b: (os.write(1, b), None)[1]
out(b"slow> ")
line = b""
while True:
    ch = os.read(0, 1)
    if ch == b"\r":
        half = len(line) // 2
        # Like the stub: the input line is cleared, then the transcript shows the text.
        out(b"\r\x1b[2Kyou said:\r\n" + line[:half])
        time.sleep(float(sys.argv[1]))   # a long echo stalled half-way (tmux starved on a busy host)
        out(line[half:] + b"\r\nslow> ")
        line = b""
    elif ch:
        line += ch
        out(ch)
'''


def test_an_echo_stalled_half_way_is_not_taken_for_an_answer(start_agent, fleet_env, socket_name, tmp_path):
    # The screen changes at the Enter and then holds still for a second in the middle of the
    # message's echo: that is the program still showing the message, not its answer.
    program = tmp_path / "slow_echo.py"
    program.write_text(SLOW_ECHO)
    start_agent("coder0", command="exec python3 %s 1.0" % program, ready="slow> ", width=220)
    message = printable(120, 7)
    rc, report, _err, _took = send(fleet_env, "coder0", message, socket=socket_name)
    assert rc == 0 and report["outcome"] == "delivered", report
    assert report["evidence"] == "transcript", report
