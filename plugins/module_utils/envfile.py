# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Agent env files: the one env-quoting function and the renderer.

The format must read back to the exact original value both through systemd's EnvironmentFile
parser and through a POSIX shell (``set -a; . file``). Values of only safe characters are written
bare; an empty value is written bare (``KEY=``); anything else is double-quoted with backslash
escapes for the four characters both parsers treat specially inside double quotes: ``\\ " $ ```.
"""

from __future__ import annotations

import re

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./:=@+-]*\Z")  # \Z, not $: "$" also matches before a final newline
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")

# Which keys an env file holds, and in which order, is the contract's (contract.AGENT_ENV).


def quote_env_value(value):
    """Quote one value for an env file read by both systemd and a POSIX shell."""
    text = "" if value is None else str(value)
    if _SAFE_VALUE.match(text):
        return text
    if "\r" in text or "\x00" in text:
        # systemd drops carriage returns and cannot carry NUL; refuse rather than corrupt.
        raise ValueError("env values cannot contain carriage returns or NUL bytes")
    escaped = re.sub(r'([\\"$`])', r"\\\1", text)
    return '"%s"' % escaped


def render_env_file(pairs):
    """Render ``[(key, value), ...]`` as env file text: one ``KEY=value`` a line, newline-terminated."""
    lines = []
    for key, value in pairs:
        if not _KEY.match(key):
            raise ValueError("invalid environment variable name %r" % key)
        lines.append("%s=%s\n" % (key, quote_env_value(value)))
    return "".join(lines)


def parse_env_file(text):
    """``{key: value}`` of env file text written by :func:`render_env_file` (bare values, or
    double-quoted with backslash escapes); comments, blank and malformed lines are skipped."""
    values = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            out, chars = [], iter(value[1:-1])
            for char in chars:
                out.append(next(chars, "") if char == "\\" else char)
            value = "".join(out)
        values[key] = value
    return values
