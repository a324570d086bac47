# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_send's pure side: the preamble, agent-send.sh's argv and the reading of its report.

The delivery itself lives in one place only, ``framework/tools/tmux/agent-send.sh``; the module
runs it once and interprets what it printed.
"""

from __future__ import annotations

import json

from ansible_collections.mosaic.fleet.plugins.module_utils.contract import SEND_TOOL as TOOL_RELPATH  # noqa: F401 pylint: disable=unused-import

# agent-send.sh's exit codes (its --help is the reference).
EXIT_CODES = {
    "delivered": 0,
    "usage": 2,
    "unconfirmed": 3,
    "not_delivered": 4,
    "no_session": 5,
}
OUTCOMES = ("delivered", "unconfirmed", "not_delivered", "no_session")
FAILED_OUTCOMES = ("not_delivered", "no_session")


def preamble(src_host, src_session, dst_host, dst_session):
    """The line every message starts with: ``[src_host:src_session -> dst_host:dst_session] ``."""
    return "[%s:%s -> %s:%s] " % (src_host, src_session, dst_host, dst_session)


def short_host(name):
    """``hostname -s`` of a full name."""
    return (name or "").split(".")[0]


def normalize_message(text):
    """The text agent-send.sh delivers after the preamble: trailing whitespace dropped."""
    return (text or "").rstrip()


def agent_send_argv(tool, agent, socket=None, source=None, host=None, verify=True, timeout=10):
    """argv for one agent-send.sh run that reads the message from stdin and reports JSON.

    ``socket=None`` leaves the socket to agent-send.sh (the agent's env file, then
    MOSAIC_TMUX_SOCKET); ``""`` is the default tmux socket; anything else is ``-L socket``.
    """
    argv = [tool]
    if socket is not None:
        argv += ["-L", socket]
    if host:
        argv += ["-H", host]
    if source:
        argv += ["-S", source]
    argv += ["-s", agent, "--verify" if verify else "--no-verify", "--timeout", _seconds(timeout),
             "--json", "-m", "-"]
    return argv


def _seconds(value):
    text = ("%.3f" % float(value)).rstrip("0").rstrip(".")
    return text or "0"


def parse_report(stdout):
    """agent-send.sh's JSON report as a dict, or None when it printed none (usage errors)."""
    for line in reversed((stdout or "").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if isinstance(report, dict) and report.get("outcome") in OUTCOMES:
                return report
    return None


def classify(report):
    """(changed, failed, warning) for a report; a missing report is a failure."""
    if report is None:
        return False, True, None
    outcome = report["outcome"]
    if outcome == "delivered":
        return True, False, None
    if outcome == "unconfirmed":
        return True, False, "sent to %s, but delivery is unconfirmed: %s" % (
            report.get("target"), report.get("reason") or "no evidence")
    return False, True, None
