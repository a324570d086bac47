"""Unit tests for plugins/module_utils/send.py: argv, preamble and report reading as data."""

import json

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import send

TOOL = "/home/fleet/.config/mosaic/tools/tmux/agent-send.sh"


@pytest.mark.parametrize("kwargs, expected", [
    ({}, [TOOL, "-s", "coder0", "--verify", "--timeout", "10", "--json", "-m", "-"]),
    ({"socket": "mosaic-fleet"},
     [TOOL, "-L", "mosaic-fleet", "-s", "coder0", "--verify", "--timeout", "10", "--json", "-m", "-"]),
    # "" is the default socket, stated explicitly; None leaves it to the tool.
    ({"socket": ""}, [TOOL, "-L", "", "-s", "coder0", "--verify", "--timeout", "10", "--json", "-m", "-"]),
    ({"source": "lead", "verify": False, "timeout": 2.5},
     [TOOL, "-S", "lead", "-s", "coder0", "--no-verify", "--timeout", "2.5", "--json", "-m", "-"]),
    ({"host": "fleet@web2", "timeout": 30.0},
     [TOOL, "-H", "fleet@web2", "-s", "coder0", "--verify", "--timeout", "30", "--json", "-m", "-"]),
])
def test_agent_send_argv(kwargs, expected):
    assert send.agent_send_argv(TOOL, "coder0", **kwargs) == expected


def test_argv_never_carries_the_message():
    argv = send.agent_send_argv(TOOL, "coder0", socket="s", source="x", host="u@h")
    assert argv[-2:] == ["-m", "-"]


@pytest.mark.parametrize("args, expected", [
    (("web1", "operator", "web2", "coder0"), "[web1:operator -> web2:coder0] "),
    (("h", "a", "h", "b"), "[h:a -> h:b] "),
])
def test_preamble(args, expected):
    assert send.preamble(*args) == expected


@pytest.mark.parametrize("name, expected", [("web1.example.com", "web1"), ("web1", "web1"), ("", "")])
def test_short_host(name, expected):
    assert send.short_host(name) == expected


@pytest.mark.parametrize("text, expected", [
    ("hello\n", "hello"),
    ("a\nb\n\n \t\n", "a\nb"),
    ("  leading kept", "  leading kept"),
    ("", ""),
    (None, ""),
])
def test_normalize_message(text, expected):
    assert send.normalize_message(text) == expected


REPORT = {"outcome": "delivered", "preamble": "[a:b -> c:d] ", "bytes": 20, "elapsed_ms": 350,
          "target": "d", "host": "c", "socket": "", "evidence": "transcript", "reason": ""}


@pytest.mark.parametrize("stdout, expected", [
    (json.dumps(REPORT) + "\n", REPORT),
    ("noise\n" + json.dumps(REPORT) + "\n", REPORT),
    ("", None),
    ("{not json\n", None),
    (json.dumps({"outcome": "exploded"}), None),
    ("delivered h:d (20 bytes, 350 ms)\n", None),
])
def test_parse_report(stdout, expected):
    assert send.parse_report(stdout) == expected


@pytest.mark.parametrize("outcome, changed, failed, warns", [
    ("delivered", True, False, False),
    ("unconfirmed", True, False, True),
    ("not_delivered", False, True, False),
    ("no_session", False, True, False),
])
def test_classify(outcome, changed, failed, warns):
    got = send.classify(dict(REPORT, outcome=outcome, reason="because"))
    assert got[:2] == (changed, failed)
    assert bool(got[2]) is warns
    if warns:
        assert "because" in got[2]


def test_classify_without_a_report_fails():
    assert send.classify(None) == (False, True, None)


def test_exit_codes_match_the_tool_header():
    """The exit codes the module knows are the ones agent-send.sh documents."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    header = open(os.path.join(here, "..", "..", "framework", "tools", "tmux", "agent-send.sh")).read()
    for outcome, code in send.EXIT_CODES.items():
        assert "#   %d  %s" % (code, outcome) in header
