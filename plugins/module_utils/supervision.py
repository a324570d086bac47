# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Supervision: the roster's restart policy, the per-agent unit drop-in that states it, and what
fleet_ps reads back (restart count, last exit, the crash-loop guard). Pure, stdlib only.

How an agent's unit follows its runtime (the runtime is the unit's main process; an exit or kill
is a unit failure, a deliberate stop never restarts) is framework/tools/fleet/supervision.sh's.
systemd itself restarts (``Restart=``, ``RestartSec=``) and guards against crash loops
(``StartLimitIntervalSec=``/``StartLimitBurst=``); with ``restart_on_hang`` its watchdog
(``WatchdogSec=``, fed ``WATCHDOG=1`` by the heartbeat; the pane learns it as
``MOSAIC_WATCHDOG_SEC``) restarts an agent whose beats stop.

The defaults, against what operators compare us with (issue 14):

* ``restart: on-failure``: a runtime that exits 0 was ended on purpose (``/exit``); a crash, a
  kill or a non-zero exit is restarted.
* ``restart_delay: 10`` s, the first delay: ntm and Gas Town wait 30 s before the first restart;
  10 s brings an agent back three times sooner after a one-off crash, and the start limit below,
  not the delay, is what stops a storm.
* Backoff: each restart after a run shorter than ``stable_after: 300`` s doubles the delay, up to
  ``restart_delay_max: 600`` s (Gas Town's cap: 30 s doubling to 10 min); a run of ``stable_after``
  or longer (agent-deck's window, 5 min) starts again at ``restart_delay``. A runtime that dies at
  once waits 10, 20, 40, 80 s and is held back by the guard at its 5th start, after about 150 s
  (Gas Town: 450 s); one that crashes every few minutes, which the guard lets through, is
  restarted ever more slowly, at most every 10 min, instead of every 10 s. systemd 252 (Debian 12)
  has no ``RestartSteps=``: systemd waits ``RestartSec=`` (``restart_delay``) and the start path
  waits the rest (:func:`restart_backoff`; the record ``fleet/run/<name>.backoff``), only when
  systemd restarted the unit (``NRestarts`` > 0): a deliberate start never waits and clears it.
* ``crashloop_burst: 5`` starts in ``crashloop_interval: 900`` s: Gas Town's crash-loop
  definition (5 restarts in 15 min). A runtime that dies at once is started 5 times in about a
  minute and then held back (health ``crashloop``) until an operator runs ``systemctl --user
  reset-failed`` or the playbook again; agent-deck allows 3 per 300 s, i.e. up to 45 in 15 min.
* ``restart_spacing: 10`` s between two restarts of agents of the same runtime on a host (agent-deck:
  1 restart fleet-wide per 60 s): concurrent restarts of Claude agents race on the OAuth refresh
  token and force re-logins.
* ``grace: 120`` s after a start before an agent without a heartbeat counts as unresponsive
  (Gas Town #2036/#2159: new agents killed as zombies).
* ``restart_on_hang: false``, ``hang_timeout: 600`` s: a hang restart kills work in progress, so it
  is asked for per agent or per class; its first deadline after a start is ``hang_timeout``, which
  is never shorter than ``grace``. An idle agent keeps beating, so it is never restarted.
"""

from __future__ import annotations

import json
import math
import posixpath

from ansible_collections.mosaic.fleet.plugins.module_utils.contract import (
    agent_unit, backoff_file, crashloop_file, exit_file, restarts_file)

RESTART_CHOICES = ("on-failure", "always", "never")
# roster value -> systemd Restart=
SYSTEMD_RESTART = {"on-failure": "on-failure", "always": "always", "never": "no"}
DEFAULTS = {
    "restart": "on-failure",
    "restart_delay": 10,
    "restart_delay_max": 600,
    "stable_after": 300,
    "crashloop_burst": 5,
    "crashloop_interval": 900,
    "restart_spacing": 10,
    "grace": 120,
    "restart_on_hang": False,
    "hang_timeout": 600,
}
# Per agent or class; restart_spacing is fleet-wide only.
AGENT_FIELDS = ("restart", "restart_delay", "restart_delay_max", "stable_after", "crashloop_burst",
                "crashloop_interval", "grace", "restart_on_hang", "hang_timeout")
FLEET_FIELDS = AGENT_FIELDS + ("restart_spacing",)

CRASHLOOP = "crashloop"   # the health state (ps.CRASHLOOP)
# The unit's TimeoutStartSec= for a launch; a restart's start also waits out the backoff beyond
# RestartSec= (at most restart_delay_max) and the restart spacing.
LAUNCH_TIMEOUT = 300
BACKOFF_FACTOR = 2
_MAX_STEP = 32            # 10 s * 2**32 is far beyond any cap; keeps the number small
DROPIN = "mosaic-supervision.conf"
# What fleet_ps asks systemd about each agent unit, beyond ps.py's own properties.
UNIT_PROPERTIES = ("Restart", "NRestarts", "StartLimitBurst", "StartLimitIntervalUSec")
# Restart= values under which a failed unit would have been restarted had the start limit allowed.
_RESTARTING = frozenset(("on-failure", "always", "on-abnormal", "on-abort", "on-watchdog"))


# --------------------------------------------------------------------------------------------
# the policy (roster)


def agent_policy(fleet, classes, agent_class, own):
    """An agent's full policy: built-in defaults < the roster's ``supervision`` < its class's
    (``supervision.classes.<class>``) < its own ``supervision``."""
    policy = dict(DEFAULTS)
    for layer in (fleet or {}, (classes or {}).get(agent_class) or {}, own or {}):
        policy.update((k, v) for k, v in layer.items() if k in FLEET_FIELDS)
    return policy


# The runtimes whose heartbeat also feeds the unit's watchdog while the agent is idle: the stub
# (WATCHDOG=1 with every beat), claude (its status line runs tools/fleet/heartbeat every 5 s,
# which sends WATCHDOG=1), pi and opencode (their heartbeat plugins run tools/fleet/heartbeat from
# a timer in node's event loop when the unit has a watchdog, MOSAIC_WATCHDOG_SEC: every beat
# interval, 5 s, and at least 3 times per hang_timeout, whose minimum is 30 s; a blocked event
# loop stops it, an idle one does not). codex beats only at turn ends, so a hang restart would
# kill it while idle and answering: refused.
WATCHDOG_RUNTIMES = ("claude", "opencode", "pi", "stub")


def policy_problems(policy, runtime=None):
    """Rules the schema cannot state, as ``[(field, message)]``; ``runtime``: the agent's."""
    found = []
    if policy.get("restart_on_hang") and runtime is not None and runtime not in WATCHDOG_RUNTIMES:
        found.append(("restart_on_hang", "is not available for runtime %s: its heartbeat does not reach the unit's "
                                         "watchdog while it is idle, so it would be restarted while answering "
                                         "(available for: %s)" % (runtime, ", ".join(WATCHDOG_RUNTIMES))))
    if policy["restart_delay_max"] < policy["restart_delay"]:
        found.append(("restart_delay_max", "is %ds, shorter than restart_delay (%ds): the backoff's cap is its "
                                           "longest delay" % (policy["restart_delay_max"], policy["restart_delay"])))
    if policy.get("restart_on_hang") and policy["hang_timeout"] < policy["grace"]:
        found.append(("hang_timeout", "is %ds, shorter than grace (%ds): a new agent could be restarted as hung "
                                      "before its first beat is due" % (policy["hang_timeout"], policy["grace"])))
    return found


# --------------------------------------------------------------------------------------------
# the restart backoff (both modes: tools/fleet/restart-backoff runs it)


def restart_backoff(policy, started, ended, now, previous_step=None):
    """When to restart an agent whose run from ``started`` to ``ended`` (epochs; None when unknown)
    just ended, as ``{"step", "delay", "wait"}``.

    ``step`` is 0 for the first restart since a deliberate start (``previous_step`` None) and after
    a run of ``stable_after`` seconds or longer; otherwise ``previous_step + 1`` (a run of unknown
    length counts as short). ``delay`` is ``restart_delay * 2**step``, at most ``restart_delay_max``:
    the time from the end to the restart. ``wait`` is what remains of it at ``now`` (0 or more),
    so a supervisor that has already waited (systemd's ``RestartSec=``) waits only the rest."""
    policy = agent_policy(policy, None, None, None)
    ended = now if ended is None else ended
    stable = started is not None and ended - started >= policy["stable_after"]
    if previous_step is None or stable:
        step = 0
    else:
        step = min(previous_step + 1, _MAX_STEP)
    cap = max(policy["restart_delay_max"], policy["restart_delay"])
    delay = min(policy["restart_delay"] * BACKOFF_FACTOR ** step, cap)
    return {"step": step, "delay": delay, "wait": max(0, int(math.ceil(ended + delay - now)))}


def backoff_record(result, now):
    """The text of ``fleet/run/<name>.backoff`` for a :func:`restart_backoff` result."""
    return json.dumps({"time": int(now), "step": result["step"], "delay": result["delay"]}, sort_keys=True) + "\n"


def parse_backoff(text):
    """The step recorded in ``fleet/run/<name>.backoff``, or None (no record, or unreadable)."""
    try:
        step = json.loads(text.splitlines()[0]).get("step")
    except (ValueError, IndexError, AttributeError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None


def backoff_path(mosaic_home, name):
    """``<mosaic_home>/fleet/run/<name>.backoff``."""
    return posixpath.join(mosaic_home, backoff_file(name))


# --------------------------------------------------------------------------------------------
# the unit drop-in


def dropin_path(name):
    """``mosaic-agent@<name>.service.d/mosaic-supervision.conf``, relative to the unit directory."""
    return "%s.d/%s" % (agent_unit(name), DROPIN)


def render_dropin(name, policy):
    """The drop-in that gives agent ``name``'s unit its policy."""
    policy = agent_policy(policy, None, None, None)
    watchdog = policy["hang_timeout"] if policy["restart_on_hang"] else 0
    return "\n".join([
        "# mosaic.fleet: the supervision policy of agent %s (the roster's supervision)." % name,
        "# Written by mosaic.fleet.fleet_units; do not edit (the next stand-up rewrites it).",
        "[Unit]",
        "StartLimitIntervalSec=%d" % policy["crashloop_interval"],
        "StartLimitBurst=%d" % policy["crashloop_burst"],
        "",
        "[Service]",
        "Restart=%s" % SYSTEMD_RESTART[policy["restart"]],
        "RestartSec=%d" % policy["restart_delay"],
        "TimeoutStartSec=%d" % (LAUNCH_TIMEOUT + policy["restart_delay_max"] + policy["restart_spacing"]),
        "WatchdogSec=%d" % watchdog,
        "Environment=MOSAIC_RESTART_SPACING=%d MOSAIC_WATCHDOG_SEC=%d" % (policy["restart_spacing"], watchdog),
        "",
    ])


def plan_dropins(policies, existing):
    """``(files, unwanted)``: ``files`` maps each drop-in path to its text for ``policies`` (agent
    name -> policy, the agents of this host); ``unwanted`` lists the ``existing`` drop-in paths of
    agents no longer here."""
    files = dict((dropin_path(name), render_dropin(name, policy)) for name, policy in sorted(policies.items()))
    return files, sorted(p for p in existing if p not in files)


def is_dropin(relpath):
    """Whether ``relpath`` (relative to the unit directory) is an agent's supervision drop-in."""
    head, _sep, tail = relpath.partition("/")
    return tail == DROPIN and head.startswith("mosaic-agent@") and head.endswith(".service.d") \
        and head != "mosaic-agent@.service.d"


# --------------------------------------------------------------------------------------------
# what fleet_ps reads back


def parse_exit(text):
    """``fleet/run/<name>.exit`` -> ``{"time", "status", "signal"}`` or None when unreadable."""
    if not text:
        return None
    try:
        data = json.loads(text.splitlines()[0])
    except (ValueError, IndexError):
        return None
    if not isinstance(data, dict):
        return None

    def number(key):
        value = data.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return {"time": number("time"), "status": number("status"), "signal": number("signal")}


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def grace_of(agent):
    """The agent's grace (seconds) from its normalized roster record; 0 for a record without a
    supervision policy (rendered before it existed)."""
    value = (agent.get("supervision") or {}).get("grace", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def crashloop_reason(unit):
    """Why the crash-loop guard holds the agent back, or None: its unit failed although its
    ``Restart=`` would restart it, so systemd's start limit refused the next start."""
    if not unit or unit.get("ActiveState") != "failed" or unit.get("Restart") not in _RESTARTING:
        return None
    restarts = _int(unit.get("NRestarts")) or 0
    burst = _int(unit.get("StartLimitBurst"))
    interval = unit.get("StartLimitIntervalUSec")   # as systemctl show prints it: "15min"
    limit = " (at most %d starts in %s)" % (burst, interval) if burst and interval else ""
    return ("held back by the crash-loop guard after %d restart%s%s, last result %s; fix the cause, then "
            "systemctl --user reset-failed %s && systemctl --user start %s, or run the playbook again"
            % (restarts, "" if restarts == 1 else "s", limit, unit.get("Result") or "unknown",
               unit.get("Id") or "the unit", unit.get("Id") or "the unit"))


def record_fields(unit, last_exit, session_created):
    """The supervision fields of an agent's fleet_ps record: ``restarts`` (systemd's NRestarts;
    None in tmux mode), ``last_exit_at``/``last_exit_status``/``last_exit_signal`` (how the runtime
    last ended, from ``fleet/run/<name>.exit``) and ``last_restart_at`` (when the running session
    was started by a restart)."""
    restarts = _int(unit.get("NRestarts")) if unit else None
    last_exit = last_exit or {}
    return {
        "restarts": restarts,
        "restart_policy": unit.get("Restart") if unit else None,
        "last_exit_at": last_exit.get("time"),
        "last_exit_status": last_exit.get("status"),
        "last_exit_signal": last_exit.get("signal"),
        "last_restart_at": session_created if restarts and session_created is not None else None,
    }


def read_state(read, mosaic_home, name):
    """What the framework's scripts left about agent ``name`` under ``mosaic_home``, read with
    ``read(path)`` (text or None): ``exit`` (:func:`parse_exit`), ``restarts`` (tmux mode: the
    restarts since the last deliberate start) and ``crashloop`` (tmux mode: the guard's record)."""
    def text(rel):
        return read(posixpath.join(mosaic_home, rel))
    history = text(restarts_file(name))
    held = text(crashloop_file(name))
    try:
        crashloop = json.loads(held) if held else None
    except ValueError:
        crashloop = {}
    return {
        "exit": parse_exit(text(exit_file(name))),
        "restarts": len([line for line in (history or "").splitlines() if line.strip().isdigit()]),
        "crashloop": crashloop if crashloop is None or isinstance(crashloop, dict) else {},
    }


def tmux_crashloop_reason(held):
    """The tmux-mode guard's reason from its record (``fleet/run/<name>.crashloop``)."""
    return ("held back by the crash-loop guard after %s restarts (at most %s starts in %ss); fix the cause, then "
            "start it again: tools/fleet/start-agent-session.sh NAME, or run the playbook again"
            % (held.get("restarts", "?"), held.get("burst", "?"), held.get("interval", "?")))


def annotate(report, units, states):
    """Add :func:`record_fields` to each agent record of a fleet_ps ``report`` (``units``: Id ->
    properties; ``states``: name -> :func:`read_state`). In tmux mode the restart count is the
    restarts since the last deliberate start, and a dead agent the guard holds back is
    ``crashloop`` (the summary follows)."""
    for record in report["agents"]:
        state = states.get(record["name"]) or {}
        systemd = record.get("supervisor") == "systemd"
        unit = units.get(agent_unit(record["name"])) if systemd else None
        record.update(record_fields(unit, state.get("exit"), record.get("session_created")))
        if systemd:
            continue
        record["restarts"] = state.get("restarts", 0)
        record["last_restart_at"] = record.get("session_created") if record["restarts"] else None
        held = state.get("crashloop")
        if held is not None and record.get("pane_dead") and record.get("health") != CRASHLOOP:
            summary = report.get("summary")
            if summary is not None:
                summary[record["health"]] = summary.get(record["health"], 1) - 1
                summary[CRASHLOOP] = summary.get(CRASHLOOP, 0) + 1
            record["health"], record["health_reason"] = CRASHLOOP, tmux_crashloop_reason(held)
    return report
