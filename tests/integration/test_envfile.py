"""Env files read back exactly, by a real POSIX shell and by systemd's EnvironmentFile parser.

``systemd_parse_env`` is a faithful Python port of the state machine in systemd's
``src/basic/env-file.c`` (``parse_env_file_internal``, as used by ``load_env_file`` for
``EnvironmentFile=``), so the systemd side is checked without a running systemd.
"""

import os
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.mosaic.fleet.plugins.module_utils.envfile import quote_env_value, render_env_file

# systemd's string-util.h / escape.h constants.
WHITESPACE = " \t\n\r"
NEWLINE = "\n\r"
COMMENTS = "#;"
SHELL_NEED_ESCAPE = "\"\\`$"


def systemd_parse_env(text):
    """Port of systemd's parse_env_file_internal + load_env_file_push: [(key, value)] in order,
    later assignments replacing earlier ones like strv_env_replace_consume."""
    pairs = []

    def push(key, value):
        value = "" if value is None else value
        for index, (k, _v) in enumerate(pairs):
            if k == key:
                pairs[index] = (key, value)
                return
        pairs.append((key, value))

    state = "PRE_KEY"
    key, value = [], None
    last_key_ws = last_value_ws = None

    def finish(chomp_value):
        k = "".join(key[:last_key_ws] if last_key_ws is not None else key)
        v = None if value is None else "".join(value[:last_value_ws] if (chomp_value and last_value_ws is not None) else value)
        push(k, v)

    for c in text:
        if state == "PRE_KEY":
            if c in COMMENTS:
                state = "COMMENT"
            elif c not in WHITESPACE:
                state = "KEY"
                last_key_ws = None
                key = [c]
        elif state == "KEY":
            if c in NEWLINE:
                state, key = "PRE_KEY", []
            elif c == "=":
                state = "PRE_VALUE"
                last_value_ws = None
            else:
                if c not in WHITESPACE:
                    last_key_ws = None
                elif last_key_ws is None:
                    last_key_ws = len(key)
                key.append(c)
        elif state == "PRE_VALUE":
            if c in NEWLINE:
                state = "PRE_KEY"
                finish(False)
                key, value = [], None
            elif c == "'":
                state = "SINGLE_QUOTE_VALUE"
            elif c == '"':
                state = "DOUBLE_QUOTE_VALUE"
            elif c == "\\":
                state = "VALUE_ESCAPE"
            elif c not in WHITESPACE:
                state = "VALUE"
                value = (value or []) + [c]
        elif state == "VALUE":
            if c in NEWLINE:
                state = "PRE_KEY"
                finish(True)
                key, value = [], None
            elif c == "\\":
                state = "VALUE_ESCAPE"
                last_value_ws = None
            else:
                value = value or []
                if c not in WHITESPACE:
                    last_value_ws = None
                elif last_value_ws is None:
                    last_value_ws = len(value)
                value.append(c)
        elif state == "VALUE_ESCAPE":
            state = "VALUE"
            if c not in NEWLINE:
                value = (value or []) + [c]
        elif state == "SINGLE_QUOTE_VALUE":
            if c == "'":
                state = "PRE_VALUE"
            else:
                value = (value or []) + [c]
        elif state == "DOUBLE_QUOTE_VALUE":
            if c == '"':
                state = "PRE_VALUE"
            elif c == "\\":
                state = "DOUBLE_QUOTE_VALUE_ESCAPE"
            else:
                value = (value or []) + [c]
        elif state == "DOUBLE_QUOTE_VALUE_ESCAPE":
            state = "DOUBLE_QUOTE_VALUE"
            if c in SHELL_NEED_ESCAPE:
                value = (value or []) + [c]
            elif c != "\n":
                value = (value or []) + ["\\", c]
        elif state == "COMMENT":
            if c == "\\":
                state = "COMMENT_ESCAPE"
            elif c in NEWLINE:
                state = "PRE_KEY"
        elif state == "COMMENT_ESCAPE":
            state = "PRE_KEY" if c in NEWLINE else "COMMENT"
    if state in ("PRE_VALUE", "VALUE", "VALUE_ESCAPE", "SINGLE_QUOTE_VALUE", "DOUBLE_QUOTE_VALUE",
                 "DOUBLE_QUOTE_VALUE_ESCAPE"):
        finish(state == "VALUE")
    return pairs


# The parser port itself, against behaviour documented in systemd's test-env-file.c.
@pytest.mark.parametrize("text, expected", [
    ("a=a\nb=b\\\nc\n", [("a", "a"), ("b", "bc")]),            # escaped newline is eaten
    ("a  =   x y   \n", [("a", "x y")]),                       # key and value whitespace trimmed
    ("a='x \\ y'\n", [("a", "x \\ y")]),                        # single quotes are literal
    ('a="\\$x \\n"\n', [("a", "$x \\n")]),                      # only \" \\ \` \$ unescape
    ("# c\n; c\nk=\n", [("k", "")]),                            # comments, empty value
    ("k=1\nk=2", [("k", "2")]),                                 # last wins, no final newline
    ('k="multi\nline"\n', [("k", "multi\nline")]),
])
def test_parser_port_matches_systemd_semantics(text, expected):
    assert systemd_parse_env(text) == expected


VALUES = {
    "SPACES": "two  spaces and a trailing one ",
    "LEADING": "  leading",
    "DQUOTE": 'say "hi"',
    "SQUOTE": "it's",
    "DOLLAR": "$HOME and ${USER} and $(id) and `id`",
    "BACKSLASH": "C:\\path\\n\\\\ end\\",
    "EQUALS": "a=b=c",
    "NEWLINES": "line one\nline two\n\nend",
    "UNICODE": "héllo wörld ✓ 日本",
    "EMPTY": "",
    "HASH": "# not a comment",
    "SEMICOLON": "; not a comment either",
    "TAB": "tab\there",
    "TILDE": "~/work",
    "SAFE": "openai-codex/gpt-5.5:high",
    "GLOB": "* ? [a]",
    "TRAILING_NEWLINE": "safe-chars\n",
}


def shell_read_back(path, shell):
    out = subprocess.run([shell, "-c", 'set -a; . "$1"; env -0', "sh", path], env={"PATH": os.environ["PATH"]},
                         capture_output=True, check=True).stdout.decode("utf-8")
    return dict(item.split("=", 1) for item in out.split("\0") if item)


def written(tmp_path, pairs):
    path = tmp_path / "agent.env"
    path.write_bytes(render_env_file(pairs).encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_shell_reads_back_every_value_exactly(tmp_path, shell):
    path = written(tmp_path, sorted(VALUES.items()))
    env = shell_read_back(path, shell)
    for key, value in VALUES.items():
        assert env[key] == value, key


def test_systemd_parser_reads_back_every_value_exactly(tmp_path):
    path = written(tmp_path, sorted(VALUES.items()))
    with open(path, encoding="utf-8") as handle:
        assert systemd_parse_env(handle.read()) == sorted(VALUES.items())


def test_empty_and_safe_values_are_bare():
    assert render_env_file([("A", ""), ("B", "x/y:z=1@h+v-w.q_")]) == "A=\nB=x/y:z=1@h+v-w.q_\n"


def test_a_key_with_a_trailing_newline_is_refused():
    with pytest.raises(ValueError):
        render_env_file([("KEY\n", "x")])


def test_carriage_return_is_refused():
    with pytest.raises(ValueError):
        quote_env_value("a\rb")


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_value_round_trips_through_the_systemd_parser(value):
    assert systemd_parse_env(render_env_file([("K", value)])) == [("K", value)]


@settings(max_examples=40, deadline=None)
@given(_TEXT)
def test_any_value_round_trips_through_the_shell(tmp_path_factory, value):
    path = written(tmp_path_factory.mktemp("env"), [("K", value)])
    assert shell_read_back(path, "sh")["K"] == value
