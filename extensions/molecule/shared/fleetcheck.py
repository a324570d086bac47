# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mosaic.fleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared verifier helpers for the molecule scenarios (pytest-testinfra).

Scenarios put this directory on ``sys.path`` in their ``tests/conftest.py`` and either call the
helpers or import the ready-made tests from ``fleet_tests``. Everything here states what must be
true on a host from the roster the scenario converged with, never from what the role wrote.

When an assertion about a unit fails, its message carries ``systemctl --user status`` and
``journalctl --user -u`` of that unit (plus the system journal's view of it).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
PRESETS = REPO / "framework" / "fleet" / "presets"
FLEET_USER = os.environ.get("MOSAIC_FLEET_TEST_USER", "fleet")
HOLDER_UNIT = "mosaic-tmux-holder.service"
# How fresh a heartbeat must be (the stub refreshes it every 5 s).
HEARTBEAT_MAX_AGE = 30
# How long to wait for a fleet to settle (after converge or a reboot) before asserting.
SETTLE_TIMEOUT = 60
# Process names a healthy pane shows, per runtime (docs/DEVELOPING.md).
RUNTIME_PROCESSES = {
    "stub": {"python3", "python", "stub-agent"},
    "pi": {"node", "pi"},
    "codex": {"node", "codex"},
    "claude": {"claude", "node"},
    "opencode": {"opencode", "node", "bun"},
}
_SAFE_ENV_VALUE = re.compile(r"^[A-Za-z0-9_./:=@+-]*\Z")


# --- the expected fleet ---------------------------------------------------------------------

def stub_preset(name):
    """A shipped preset with every runtime overridden to the stub (no credentials needed)."""
    roster = yaml.safe_load((PRESETS / ("%s.yaml" % name)).read_text())
    for agent in roster["agents"]:
        agent["runtime"] = "stub"
        agent["model_hint"] = ""
    return roster


def load_roster(path):
    return yaml.safe_load(Path(path).read_text())


def expected_agents(roster, inventory_host, default_host):
    """The roster's agents placed on ``inventory_host``, with the defaults a normalized roster has."""
    tmux = roster.get("tmux") or {}
    defaults = roster.get("defaults") or {}
    out = []
    for agent in roster["agents"]:
        host = agent.get("host") or default_host
        if host != inventory_host:
            continue
        socket = agent.get("socket", tmux.get("socket_name", "")) or ""
        out.append({
            "name": agent["name"],
            "runtime": agent["runtime"],
            "class": agent["class"],
            "model_hint": agent.get("model_hint", "") or "",
            "working_directory": agent.get("working_directory", defaults.get("working_directory", "~")),
            "socket": socket,
            "host": host,
            "persistent_persona": bool(agent.get("persistent_persona", False)),
            "resume": bool(agent.get("resume", agent.get("persistent_persona", False))),
            "command": agent.get("command", "") or "",
            "tenant": roster.get("tenant", "default"),
            "holder_session": tmux.get("holder_session", "mosaic-holder"),
        })
    return out


def _env_value(value):
    text = str(value)
    if _SAFE_ENV_VALUE.match(text):
        return text
    return '"%s"' % re.sub(r'([\\"$`])', r"\\\1", text)


def expected_env_file(agent):
    """The exact text of ``fleet/agents/<name>.env`` (key order and quoting per docs/DEVELOPING.md)."""
    pairs = [
        ("MOSAIC_AGENT_NAME", agent["name"]),
        ("MOSAIC_AGENT_RUNTIME", agent["runtime"]),
        ("MOSAIC_AGENT_MODEL", agent["model_hint"]),
        ("MOSAIC_AGENT_WORKDIR", agent["working_directory"]),
        ("MOSAIC_TMUX_SOCKET", agent["socket"]),
        ("MOSAIC_AGENT_CLASS", agent["class"]),
        ("MOSAIC_AGENT_HOST", agent["host"]),
        ("MOSAIC_TENANT", agent["tenant"]),
        ("MOSAIC_HOLDER_SESSION", agent["holder_session"]),
        ("MOSAIC_AGENT_PERSONA", "true" if agent["persistent_persona"] else "false"),
        ("MOSAIC_AGENT_RESUME", "true" if agent["resume"] else "false"),
        ("MOSAIC_AGENT_COMMAND", agent["command"]),
    ]
    return "".join("%s=%s\n" % (k, _env_value(v)) for k, v in pairs)


# --- running things on a host as the fleet user ----------------------------------------------

class FleetUser:
    """The fleet user on one testinfra host. ``mosaic_home`` is the scenario's
    ``mosaic_fleet_mosaic_home`` for the host (``~`` is the user's home), else the default."""

    def __init__(self, host, name=FLEET_USER):
        self.host = host
        self.name = name
        entry = host.user(name)
        assert entry.exists, "fleet user %s does not exist on %s" % (name, self.hostname)
        self.uid = entry.uid
        self.home = entry.home
        self.default_mosaic_home = "%s/.config/mosaic" % self.home
        configured = host.ansible.get_variables().get("mosaic_fleet_mosaic_home") or ""
        if configured == "~" or configured.startswith("~/"):
            configured = self.home + configured[1:]
        self.mosaic_home = configured.rstrip("/") or self.default_mosaic_home

    @property
    def custom_mosaic_home(self):
        return self.mosaic_home != self.default_mosaic_home

    @property
    def hostname(self):
        return self.host.backend.get_hostname()

    def sh(self, script):
        """Run a shell snippet as the fleet user with its manager's runtime dir; returns the result."""
        return self.host.run(
            "sudo -u %s env XDG_RUNTIME_DIR=/run/user/%d HOME=%s bash -c %s"
            % (self.name, self.uid, self.home, shlex.quote(script)))

    def tmux(self, socket, *args):
        words = ["tmux"] + (["-L", socket] if socket else []) + list(args)
        return self.sh(" ".join(shlex.quote(w) for w in words))

    def systemctl(self, *args):
        return self.sh("systemctl --user " + " ".join(shlex.quote(a) for a in args))

    def unit_diagnostics(self, unit):
        """What an operator would look at when a unit is not as expected."""
        out = ["--- diagnostics for %s on %s ---" % (unit, self.hostname)]
        for title, result in (
            ("systemctl --user status %s" % unit,
             self.systemctl("status", "--no-pager", "--full", "--lines=20", unit)),
            ("journalctl --user -u %s" % unit,
             self.sh("journalctl --user -u %s --no-pager -n 40" % shlex.quote(unit))),
        ):
            out.append("$ %s (rc=%s)\n%s%s" % (title, result.rc, result.stdout, result.stderr))
        return "\n".join(out)

    def unit_states(self, units):
        """{unit: (enabled, active)} from one is-enabled and one is-active call."""
        enabled = self.systemctl("is-enabled", *units).stdout.split()
        active = self.systemctl("is-active", *units).stdout.split()
        return {u: (e, a) for u, e, a in zip(units, enabled + [""] * len(units), active + [""] * len(units))}

    def panes(self, socket):
        """{session: {"command", "pid", "dead"}} for every pane on a socket (first pane of a session)."""
        result = self.tmux(socket, "list-panes", "-a", "-F",
                           "#{session_name}|#{pane_current_command}|#{pane_pid}|#{pane_dead}")
        panes = {}
        if result.rc != 0:
            return panes
        for line in result.stdout.splitlines():
            session, command, pid, dead = line.split("|")
            panes.setdefault(session, {"command": command, "pid": int(pid), "dead": dead == "1"})
        return panes

    def sessions(self, socket):
        result = self.tmux(socket, "list-sessions", "-F", "#{session_name}")
        return set(result.stdout.split()) if result.rc == 0 else set()

    def file_text(self, relpath):
        f = self.host.file("%s/%s" % (self.mosaic_home, relpath))
        return f.content_string if f.exists else None

    def now(self):
        return int(self.host.check_output("date +%s"))


_timed_out = []


def wait_until(probe, timeout=SETTLE_TIMEOUT, interval=1.0):
    """Call ``probe`` until it returns a truthy value or ``timeout`` passes; return its last value.

    Once one wait has timed out in this test run the fleet is not going to settle: later waits
    probe once, so a broken host fails in seconds per test, not a minute each."""
    deadline = time.monotonic() + (0 if _timed_out else timeout)
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            _timed_out.append(probe)
            return value
        time.sleep(interval)


# --- the assertions ---------------------------------------------------------------------------

def assert_linger_and_manager(user):
    host = user.host
    assert host.file("/var/lib/systemd/linger/%s" % user.name).exists, \
        "linger is not enabled for %s" % user.name
    manager = "user@%d.service" % user.uid
    state = wait_until(lambda: host.run("systemctl is-active %s" % manager).stdout.strip() == "active")
    assert state, "%s is not active:\n%s" % (
        manager, host.run("systemctl status --no-pager %s" % manager).stdout)
    running = user.systemctl("is-system-running").stdout.strip()
    assert running in ("running", "degraded"), "user manager says %r" % running


def assert_units(user, agents, holder=True):
    """The holder (when asked) and every agent unit are enabled and active."""
    units = ([HOLDER_UNIT] if holder else []) + ["mosaic-agent@%s.service" % a["name"] for a in agents]

    def settled():
        states = user.unit_states(units)
        return states if all(s == ("enabled", "active") for s in states.values()) else None

    wait_until(settled)
    states = user.unit_states(units)
    for unit in units:
        assert states[unit] == ("enabled", "active"), "%s is %s/%s, not enabled/active\n%s" % (
            unit, states[unit][0], states[unit][1], user.unit_diagnostics(unit))


def assert_sessions(user, agents, holder_session="mosaic-holder"):
    """Exactly one session per agent (plus the holder's) on each socket the agents use; each
    agent pane's process is the runtime itself (exec'd, so not a shell), alive."""
    sockets = {}
    for agent in agents:
        sockets.setdefault(agent["socket"], []).append(agent)
    for socket, on_socket in sockets.items():
        want = {a["name"] for a in on_socket} | {holder_session}
        wait_until(lambda: want <= user.sessions(socket))
        got = user.sessions(socket)
        assert got == want, "sessions on socket %r: %s, expected %s" % (socket, sorted(got), sorted(want))
        # The runtime may still be starting right after a (re)boot: wait for its process.
        wait_until(lambda: all(
            user.panes(socket).get(a["name"], {}).get("command") in RUNTIME_PROCESSES[a["runtime"]]
            for a in on_socket))
        panes = user.panes(socket)
        for agent in on_socket:
            pane = panes[agent["name"]]
            assert not pane["dead"], "%s's pane is dead" % agent["name"]
            allowed = RUNTIME_PROCESSES[agent["runtime"]]
            assert pane["command"] in allowed, "%s's pane runs %r, not the %s runtime %s\n%s" % (
                agent["name"], pane["command"], agent["runtime"], sorted(allowed),
                user.unit_diagnostics("mosaic-agent@%s.service" % agent["name"]))
            comm = user.host.file("/proc/%d/comm" % pane["pid"]).content_string.strip()
            assert comm in allowed, "%s's pane process is %r (a wrapper, not the runtime)" % (
                agent["name"], comm)


def assert_env_files(user, agents):
    for agent in agents:
        path = "%s/fleet/agents/%s.env" % (user.mosaic_home, agent["name"])
        f = user.host.file(path)
        assert f.exists, "%s is missing" % path
        assert f.mode == 0o600, "%s has mode %o, not 0600" % (path, f.mode)
        assert f.user == user.name, "%s belongs to %s" % (path, f.user)
        assert f.content_string == expected_env_file(agent), "%s differs:\n%s" % (path, f.content_string)


def assert_comms_sheets(user, agents, roster_agents=()):
    """Each agent's comms sheet exists, names the agent, and shows how to reach every peer:
    ``-H <ssh destination>`` for peers on other hosts, no ``-H`` for peers on the same host."""
    for agent in agents:
        text = user.file_text("fleet/agents/%s.comms.md" % agent["name"])
        assert text, "comms sheet of %s is missing or empty" % agent["name"]
        assert "[%s:%s]" % (agent["host"], agent["name"]) in text, \
            "comms sheet of %s does not name it" % agent["name"]
        for peer in roster_agents:
            if peer["name"] == agent["name"]:
                continue
            line = next((ln for ln in text.splitlines()
                         if "agent-send.sh" in ln and re.search(r"-s %s\b" % re.escape(peer["name"]), ln)), None)
            assert line, "comms sheet of %s has no send command for %s" % (agent["name"], peer["name"])
            if peer["host"] != agent["host"]:
                dest = peer.get("ssh") or peer["host"]
                assert "-H %s" % dest in line, "%s -> %s (other host) lacks -H %s: %s" % (
                    agent["name"], peer["name"], dest, line)
            else:
                assert " -H " not in line, "%s -> %s (same host) uses -H: %s" % (
                    agent["name"], peer["name"], line)


def assert_heartbeats(user, agents):
    """Each agent's heartbeat is younger than HEARTBEAT_MAX_AGE and was written by the runtime
    running in the agent's pane now."""
    def read(agent):
        text = user.file_text("fleet/run/%s.heartbeat" % agent["name"])
        if not text:
            return None
        at, pid = text.split()[:2]
        return float(at), int(pid)

    def fresh():
        now = user.now()
        beats = [read(a) for a in agents]
        return all(b and now - b[0] < HEARTBEAT_MAX_AGE for b in beats)

    wait_until(fresh)
    now = user.now()
    for agent in agents:
        beat = read(agent)
        assert beat, "%s has no heartbeat" % agent["name"]
        age = now - beat[0]
        assert age < HEARTBEAT_MAX_AGE, "%s's heartbeat is %.0f s old" % (agent["name"], age)
        # Written by the process running in the agent's pane now, not left over from before.
        pane = user.panes(agent["socket"]).get(agent["name"], {})
        assert beat[1] == pane.get("pid"), "%s's heartbeat names pid %d, its pane runs pid %s" % (
            agent["name"], beat[1], pane.get("pid"))


def fleet_ps(host, user, inventory_host):
    """Run mosaic.fleet.fleet_ps on the host (when the module exists); returns its agent records."""
    if not (REPO / "plugins" / "modules" / "fleet_ps.py").exists():
        return None
    args = "user=%s host=%s" % (user.name, inventory_host)
    if user.custom_mosaic_home:
        args += " mosaic_home=%s" % user.mosaic_home
    result = host.ansible("mosaic.fleet.fleet_ps", args, check=False)
    assert not result.get("failed") and "agents" in result, \
        "fleet_ps failed: %s" % json.dumps(result, default=str)[:2000]
    return result["agents"]


def assert_fleet_ps_healthy(host, user, agents, inventory_host):
    if not (REPO / "plugins" / "modules" / "fleet_ps.py").exists():
        return  # no fleet_ps module in this checkout
    last = []

    def all_healthy():
        last[:] = fleet_ps(host, user, inventory_host)
        return all(r["health"] == "healthy" for r in last)

    wait_until(all_healthy, timeout=30, interval=3)
    records = last
    by_name = {r["name"]: r for r in records}
    assert sorted(by_name) == sorted(a["name"] for a in agents), "fleet_ps reports %s" % sorted(by_name)
    for agent in agents:
        rec = by_name[agent["name"]]
        assert rec["health"] == "healthy" and not rec["drift"], "fleet_ps: %s is %s (%s), drift: %s\n%s" % (
            agent["name"], rec["health"], rec.get("health_reason"), rec.get("drift_reason"),
            user.unit_diagnostics("mosaic-agent@%s.service" % agent["name"]))


# --- the operator's playbooks and other hosts, from a verifier --------------------------------

def run_playbook(name, *extra, timeout=600):
    """``ansible-playbook mosaic.fleet.<name>`` against the scenario's inventory (output printed,
    so a failing test shows it)."""
    import subprocess

    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), "mosaic.fleet.%s" % name] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
    print(proc.stdout)
    return proc


def peer_host_getter(request):
    """``get(name)``: a testinfra host for another inventory host of the scenario."""
    import testinfra

    inventory = request.config.option.ansible_inventory

    def get(name):
        return testinfra.get_host("ansible://%s" % name, ansible_inventory=inventory)
    return get
