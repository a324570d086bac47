"""Transcripts: each agent's pane output in fleet/log/transcripts/<name>.log, private and bounded.

start-agent-session.sh pipes the pane (`tmux pipe-pane -o`) into tools/fleet/transcript-writer;
these tests run both for real: the stub's output lands in the file, the file rotates at
MOSAIC_TRANSCRIPT_MAX_BYTES, modes are 0700/0600, re-runs add no second pipe.
"""

import os
import shutil
import stat
import subprocess

from framework_util import capture, read_file, run_tool, tmux, wait_for, write_agent_env

NAME = "canary"


def transcript(env, name=NAME, rotated=False):
    path = os.path.join(env["MOSAIC_HOME"], "fleet", "log", "transcripts", name + ".log")
    return path + ".1" if rotated else path


def start(env, socket, name=NAME, **extra):
    write_agent_env(env, name, socket=socket)
    run_env = dict(env, **extra)
    result = run_tool(env, "start-agent-session.sh", name, run_env=run_env)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: "stub>" in capture(env, socket, name), what="the stub prompt")
    return result


def writers(path):
    """Pids of the transcript-writer processes writing ``path``."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"transcript-writer") for arg in argv) and path.encode() in argv:
            pids.append(int(pid))
    return pids


def type_line(env, socket, text, name=NAME):
    assert tmux(env, socket, "send-keys", "-t", "=%s:" % name, "-l", text).returncode == 0
    assert tmux(env, socket, "send-keys", "-t", "=%s:" % name, "Enter").returncode == 0


def test_the_transcript_holds_the_pane_output_privately_with_one_writer(fleet_env, socket_name):
    start(fleet_env, socket_name)
    path = transcript(fleet_env)
    type_line(fleet_env, socket_name, "hello transcript")
    data = wait_for(lambda: b"[stub] received" in (read_file(path) or b"") and read_file(path),
                    what="the stub's answer in the transcript")
    assert b"hello transcript" in data and b"[stub] %s ready" % NAME.encode() in data
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert len(writers(path)) == 1
    assert tmux(fleet_env, socket_name, "display-message", "-p", "-t", "=%s:" % NAME, "#{pane_pipe}").stdout.strip() == "1"
    # A re-run finds the agent running and opens no second pipe (pipe-pane -o).
    result = run_tool(fleet_env, "start-agent-session.sh", NAME)
    assert result.returncode == 0 and "already running" in result.stdout
    assert len(writers(path)) == 1
    # The writer ends with the pane.
    assert tmux(fleet_env, socket_name, "kill-session", "-t", "=" + NAME).returncode == 0
    wait_for(lambda: not writers(path), what="the writer to end with its pane")


def test_a_running_agent_without_transcript_gets_one_on_a_rerun(fleet_env, socket_name):
    start(fleet_env, socket_name, MOSAIC_TRANSCRIPT_MAX_BYTES="0")     # 0: no transcript
    path = transcript(fleet_env)
    assert not writers(path) and not os.path.exists(path)
    assert run_tool(fleet_env, "start-agent-session.sh", NAME).returncode == 0
    wait_for(lambda: writers(path), what="a writer after the re-run")
    type_line(fleet_env, socket_name, "after the rerun")
    wait_for(lambda: b"after the rerun" in (read_file(path) or b""), what="new output in the transcript")


def test_the_transcript_rotates_at_its_bound(fleet_env, socket_name):
    bound = 2000
    start(fleet_env, socket_name, MOSAIC_TRANSCRIPT_MAX_BYTES=str(bound))
    path, rotated = transcript(fleet_env), transcript(fleet_env, rotated=True)
    for index in range(8):
        type_line(fleet_env, socket_name, "line %d %s" % (index, "x" * 400))
    wait_for(lambda: b"line 7" in (read_file(path) or b""), what="the last line in the transcript")
    assert os.path.getsize(rotated) == bound                  # rotated exactly at the bound
    assert 0 < os.path.getsize(path) <= bound
    assert stat.S_IMODE(os.stat(rotated).st_mode) == 0o600
    assert not os.path.exists(rotated + ".1")                 # one rotated file, no more


def test_the_writer_keeps_the_last_bytes_across_one_rotation(tmp_path):
    writer = os.path.join(os.path.dirname(__file__), "..", "..", "framework", "tools", "fleet", "transcript-writer")
    path = str(tmp_path / "new" / "t.log")
    data = bytes(range(256)) * 40                                    # 10240 bytes, in one write
    result = subprocess.run([writer, "1000", path], input=data, capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    # The current file holds what came after the last rotation; .1 the 1000 bytes before it.
    assert read_file(path) == data[10000:] and read_file(path + ".1") == data[9000:10000]
    assert stat.S_IMODE(os.stat(str(tmp_path / "new")).st_mode) == 0o700
    # Appending (a new writer on an existing transcript) respects the bound too.
    result = subprocess.run([writer, "1000", path], input=b"y" * 900, capture_output=True, timeout=30, check=False)
    assert result.returncode == 0
    assert read_file(path + ".1") == data[10000:] + b"y" * 760 and read_file(path) == b"y" * 140
    for argv in ([], ["0", path], ["x", path], ["10"]):
        assert subprocess.run([writer] + argv, input=b"", capture_output=True, timeout=30, check=False).returncode == 2


def test_a_mosaic_home_with_quotes_hash_and_spaces(fleet_env, socket_name, tmp_path):
    odd = str(tmp_path / "it's a #1 home; $HOME")
    shutil.copytree(fleet_env["MOSAIC_HOME"], odd, symlinks=True)
    env = dict(fleet_env, MOSAIC_HOME=odd)
    start(env, socket_name)
    path = transcript(env)
    wait_for(lambda: b"stub>" in (read_file(path) or b""), what="the transcript under the odd MOSAIC_HOME")
    assert writers(path)


def test_a_bad_bound_is_refused(fleet_env, socket_name):
    write_agent_env(fleet_env, NAME, socket=socket_name)
    result = run_tool(fleet_env, "start-agent-session.sh", NAME,
                      run_env=dict(fleet_env, MOSAIC_TRANSCRIPT_MAX_BYTES="1M"))
    assert result.returncode == 2 and "MOSAIC_TRANSCRIPT_MAX_BYTES" in result.stderr
    assert tmux(fleet_env, socket_name, "has-session", "-t", "=" + NAME).returncode != 0
