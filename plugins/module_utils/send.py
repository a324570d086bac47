# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_send's pure side: agent-send.sh's argv and the reading of its report.

The delivery itself lives in one place only, ``framework/tools/tmux/agent-send.sh``; the module
runs it once (with ``--dry-run`` in check mode) and interprets what it printed. So the preamble
of a send, real or planned, is built by the script alone.
"""

from __future__ import annotations

import json

from ansible_collections.mosaic.fleet.plugins.module_utils import contract

TOOL_RELPATH = contract.SEND_TOOL

# agent-send.sh's outcomes and exit codes: stated in the contract (its shell side,
# contract.sh, gives the script its codes; the script's --help lists them).
EXIT_CODES = dict(contract.SEND_EXIT_CODES)
OUTCOMES = contract.SEND_OUTCOMES
FAILED_OUTCOMES = contract.SEND_FAILED_OUTCOMES
DRY_RUN_OUTCOME = contract.SEND_DRY_RUN_OUTCOME
# What the module returns of a report (``socket`` and the dry run's extra fields stay out).
RESULT_KEYS = ("outcome", "preamble", "bytes", "elapsed_ms", "target", "host", "evidence", "reason")


def preamble(src_host, src_session, dst_host, dst_session):
    """The format of the line every message starts with, ``[src_host:src_session -> dst_host:dst_session] ``,
    for texts that describe it. A send's preamble is agent-send.sh's (``--dry-run`` shows it)."""
    return "[%s:%s -> %s:%s] " % (src_host, src_session, dst_host, dst_session)


def short_host(name):
    """``hostname -s`` of a full name."""
    return (name or "").split(".")[0]


def normalize_message(text):
    """The text agent-send.sh delivers after the preamble: trailing whitespace dropped."""
    return (text or "").rstrip()


def agent_send_argv(tool, agent, socket=None, source=None, host=None, verify=True, timeout=10,
                    dry_run=False):
    """argv for one agent-send.sh run that reads the message from stdin and reports JSON.

    ``socket=None`` leaves the socket to agent-send.sh (the agent's env file, then
    MOSAIC_TMUX_SOCKET); ``""`` is the default tmux socket; anything else is ``-L socket``.
    ``dry_run``: resolve the send and report it (outcome ``would_send``), send nothing.
    """
    argv = [tool]
    if socket is not None:
        argv += ["-L", socket]
    if host:
        argv += ["-H", host]
    if source:
        argv += ["-S", source]
    argv += ["-s", agent, "--verify" if verify else "--no-verify", "--timeout", _seconds(timeout),
             "--json"]
    if dry_run:
        argv.append("--dry-run")
    return argv + ["-m", "-"]


def _seconds(value):
    text = ("%.3f" % float(value)).rstrip("0").rstrip(".")
    return text or "0"


def parse_report(stdout, dry_run=False):
    """agent-send.sh's JSON report as a dict, or None when it printed none (usage errors).

    ``dry_run``: the report of ``--dry-run`` (outcome ``would_send``) is the one expected."""
    expected = (DRY_RUN_OUTCOME,) if dry_run else OUTCOMES
    for line in reversed((stdout or "").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if isinstance(report, dict) and report.get("outcome") in expected:
                return report
    return None


def classify(report):
    """(changed, failed, warning) for a report; a missing report is a failure."""
    if report is None:
        return False, True, None
    outcome = report["outcome"]
    if outcome in ("delivered", DRY_RUN_OUTCOME):
        return True, False, None
    if outcome == "unconfirmed":
        return True, False, "sent to %s, but delivery is unconfirmed: %s" % (
            report.get("target"), report.get("reason") or "no evidence")
    return False, True, None
