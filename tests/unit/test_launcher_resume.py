"""launch-agent's resume: the table's `resume` part when the agent resumes (MOSAIC_AGENT_RESUME,
default MOSAIC_AGENT_PERSONA), claude's only when it has a conversation for the working directory,
none after `fresh-start` (fleet/run/NAME.fresh); and claude's IS_SANDBOX=1 as root."""

import os
import re

import pytest

from test_launcher import argv_of, env_of, mosaic_home  # noqa: F401  pylint: disable=unused-import


def claude_session(mosaic_home_dir, workdir):
    """A conversation file where Claude Code keeps them for ``workdir``."""
    home = os.path.dirname(mosaic_home_dir)
    directory = os.path.join(home, ".claude", "projects", re.sub(r"[^A-Za-z0-9]", "-", workdir))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "5f232ff5.jsonl"), "w") as handle:
        handle.write("{}\n")


@pytest.mark.parametrize("runtime,first,last", [
    ("codex", ["codex", "resume", "--last", "--dangerously-bypass-approvals-and-sandbox"], None),
    ("pi", None, "-c"),
    ("opencode", None, "-c"),
])
def test_resume_flags_per_runtime(mosaic_home, runtime, first, last):  # noqa: F811
    fresh = argv_of(mosaic_home, MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME=runtime)
    resumed = argv_of(mosaic_home, MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME=runtime, MOSAIC_AGENT_RESUME="true")
    if first:  # codex: the subcommand, then the same options
        assert fresh[1] != "resume"
        assert resumed == fresh[:1] + first[1:3] + fresh[1:]
        assert resumed[:len(first)] == first
    if last:
        assert fresh[-1] != last
        assert resumed == fresh + [last]


def test_persona_resumes_by_default_and_the_roster_flag_wins(mosaic_home):  # noqa: F811
    args = dict(MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME="pi")
    assert argv_of(mosaic_home, MOSAIC_AGENT_PERSONA="true", **args)[-1] == "-c"
    assert argv_of(mosaic_home, MOSAIC_AGENT_PERSONA="true", MOSAIC_AGENT_RESUME="false", **args)[-1] != "-c"
    assert argv_of(mosaic_home, MOSAIC_AGENT_PERSONA="false", MOSAIC_AGENT_RESUME="true", **args)[-1] == "-c"
    assert argv_of(mosaic_home, MOSAIC_AGENT_PERSONA="false", **args)[-1] != "-c"


def test_claude_continues_only_a_conversation_it_has(mosaic_home, tmp_path):  # noqa: F811
    workdir = str(tmp_path / "work dir")
    os.makedirs(workdir)
    args = dict(MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME="claude", MOSAIC_AGENT_RESUME="true",
                MOSAIC_AGENT_WORKDIR=workdir)
    # None yet: `claude --continue` would exit ("No conversation found"), so a plain start.
    assert "--continue" not in argv_of(mosaic_home, **args)
    claude_session(mosaic_home, workdir)
    assert argv_of(mosaic_home, **args)[-1] == "--continue"
    # Another working directory's conversation is not this one's.
    other = dict(args)
    other["MOSAIC_AGENT_WORKDIR"] = str(tmp_path)
    assert "--continue" not in argv_of(mosaic_home, **other)


def test_fresh_marker_starts_without_resume(mosaic_home):  # noqa: F811
    marker = os.path.join(mosaic_home, "fleet", "run", "a.fresh")
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    open(marker, "w").close()
    args = dict(MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME="pi", MOSAIC_AGENT_RESUME="true")
    assert argv_of(mosaic_home, **args)[-1] != "-c"
    assert os.path.exists(marker)  # only an exec'ing launch uses it up (test_real_runtimes)
    os.unlink(marker)
    assert argv_of(mosaic_home, **args)[-1] == "-c"


def test_claude_as_root_gets_is_sandbox(mosaic_home):  # noqa: F811
    env = env_of(mosaic_home, MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME="claude")
    assert ("IS_SANDBOX=1" in env) == (os.geteuid() == 0)
    # Not for other runtimes, and not when the roster's command replaces the table.
    assert "IS_SANDBOX=1" not in env_of(mosaic_home, MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME="pi")
    assert "IS_SANDBOX=1" not in env_of(mosaic_home, MOSAIC_AGENT_NAME="a", MOSAIC_AGENT_RUNTIME="claude",
                                        MOSAIC_AGENT_COMMAND="my-claude")
