# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What supervision (issue 14) costs and how fast it brings an agent back, on local tmux.

Runs the framework's own scripts against a private tmux server (its own TMUX_TMPDIR, HOME and
MOSAIC_HOME), stub agents, tmux mode: the session's pane-died hook runs tools/fleet/agent-died
(there is no systemd user manager in a benchmark sandbox; under systemd the unit's own Restart=
does the same job, measured by the molecule lifecycle scenario).

  floor         launch + first beat: start-agent-session.sh until the agent's heartbeat file
                names the new runtime, median and p95 of --kills starts
  kill->healthy SIGKILL of the runtime until a heartbeat of the new runtime, minus the configured
                restart_delay (--delay), median and p95 of --kills kills of one agent; next to
                the floor, the difference is what the supervision itself adds
  processes     processes of the fleet's tmux server tree per agent while all is well, with this
                framework and with the framework of --baseline (a revision before issue 14):
                target 0 added
  idle CPU      CPU seconds (utime+stime of the server and every process under it) of an idle
                --agents agent host over --idle seconds, with and without

Usage: python benchmarks/supervision.py [--kills 20] [--agents 20] [--idle 60] [--delay 1]
       [--baseline a892eec~1] [--json]

Under systemd, on a stood-up host (a molecule container), as the fleet user, with the agent's
roster policy at ``restart_delay: 1`` (``restart_delay_max: 1``, ``restart_spacing: 0``), this file alone (stdlib only):

  python3 supervision.py --systemd-agent worker0 [--kills 20] [--delay 1]

measures the same floor (``systemctl --user start`` until the first beat) and kill -> healthy
(SIGKILL of the unit's main process, the runtime, until a beat of the new one) on the real unit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, ".cache", "collections"))

SOCKET = "bench-supervision"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values, pct):
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def systemd_agent(name, kills, delay):
    """The floor and kill -> healthy on the real unit of agent ``name`` (run as the fleet user)."""
    unit = "mosaic-agent@%s.service" % name
    beat_file = os.path.expanduser("~/.config/mosaic/fleet/run/%s.heartbeat" % name)

    def systemctl(*args):
        return subprocess.run(["systemctl", "--user"] + list(args), capture_output=True, text=True,
                              check=False).stdout.strip()

    def beat():
        try:
            with open(beat_file) as handle:
                return int(handle.read().split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def wait_new(old, t0):
        while time.monotonic() - t0 < 120:
            pid = beat()
            if pid and pid != old and os.path.exists("/proc/%d" % pid):
                return time.monotonic() - t0
            time.sleep(0.005)
        raise SystemExit("%s: no beat from a new runtime within 120s" % name)

    floor, back = [], []
    for _round in range(kills):
        systemctl("stop", unit)
        old, t0 = beat(), time.monotonic()
        proc = subprocess.Popen(["systemctl", "--user", "start", unit])
        floor.append(wait_new(old, t0))
        proc.wait()
        time.sleep(0.5)
    systemctl("reset-failed", unit)
    for _round in range(kills):
        pid = int(systemctl("show", "-p", "MainPID", "--value", unit))
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        back.append(wait_new(pid, t0) - delay)
        time.sleep(0.5)
    return {"mode": "systemd (%s)" % unit, "kills": kills, "delay_s": delay,
            "floor_s": {"median": statistics.median(floor), "p95": percentile(floor, 95)},
            "kill_to_healthy_minus_delay_s": {"median": statistics.median(back), "p95": percentile(back, 95)},
            "restarts": int(systemctl("show", "-p", "NRestarts", "--value", unit))}


class Fleet:
    """A private host: HOME, MOSAIC_HOME (``framework``'s tree), TMUX_TMPDIR, a rendered roster."""

    def __init__(self, framework, agents, delay):
        # pylint: disable=import-outside-toplevel
        from framework_util import install_framework, write_agent_env
        from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig, roster
        self.tmp = tempfile.mkdtemp(prefix="mf-bench-sup-")
        home = os.path.join(self.tmp, "home")
        self.mosaic_home = os.path.join(home, ".config", "mosaic")
        install_framework(self.mosaic_home, framework_dir=framework, symlinks=True)
        for sub in ("fleet/agents", "fleet/run", "fleet/log"):
            os.makedirs(os.path.join(self.mosaic_home, sub), exist_ok=True)
        os.makedirs(os.path.join(self.tmp, "tmux"))
        self.env = {"HOME": home, "MOSAIC_HOME": self.mosaic_home, "TMUX_TMPDIR": os.path.join(self.tmp, "tmux"),
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TERM": "xterm-256color",
                    "USER": os.environ.get("USER", "root"), "MOSAIC_HEARTBEAT_INTERVAL": "5"}
        self.names = ["a%02d" % i for i in range(agents)]
        doc = {"version": 1, "profile": "full", "tmux": {"socket_name": SOCKET},
               "supervision": {"restart_delay": delay, "restart_delay_max": delay, "restart_spacing": 0,
                               "crashloop_burst": 100},
               "agents": [{"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
                          {"name": "enhancer", "class": "enhancer", "runtime": "stub"}]
               + [{"name": n, "runtime": "stub"} for n in self.names]}
        normalized, violations = roster.validate(doc, default_host="h")
        assert not violations, violations
        with open(os.path.join(self.mosaic_home, "fleet", "roster.yaml"), "w") as handle:
            handle.write(hostconfig.render_roster(normalized, "h"))
        for name in self.names:
            write_agent_env(self.env, name, socket=SOCKET)
        self.tool = os.path.join(self.mosaic_home, "tools", "fleet")
        subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", "mosaic-holder", "sleep", "infinity"],
                       env=self.env, check=True)

    def start(self, name):
        subprocess.run([os.path.join(self.tool, "start-agent-session.sh"), name], env=self.env, check=True,
                       capture_output=True)

    def beat_pid(self, name):
        try:
            with open(os.path.join(self.mosaic_home, "fleet", "run", name + ".heartbeat")) as handle:
                return int(handle.read().split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def pane_pid(self, name):
        out = subprocess.run(["tmux", "-L", SOCKET, "display-message", "-p", "-t", "=%s:" % name, "#{pane_pid}"],
                             env=self.env, capture_output=True, text=True, check=False).stdout.strip()
        return int(out) if out.isdigit() else None

    def wait_beat(self, name, not_pid, timeout=60):
        """Seconds until the heartbeat names a live runtime other than ``not_pid``."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            pid = self.beat_pid(name)
            if pid and pid != not_pid and os.path.exists("/proc/%d" % pid):
                return time.monotonic() - t0
            time.sleep(0.005)
        raise SystemExit("%s: no heartbeat from a new runtime within %ds" % (name, timeout))

    def server_pid(self):
        out = subprocess.run(["tmux", "-L", SOCKET, "display-message", "-p", "#{pid}"], env=self.env,
                             capture_output=True, text=True, check=False).stdout.strip()
        return int(out)

    def tree(self):
        """The tmux server and every process under it."""
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as handle:
                        ppid = int(handle.read().rsplit(") ", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [self.server_pid()]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_seconds(self, pids):
        total = 0
        for pid in pids:
            try:
                with open("/proc/%d/stat" % pid) as handle:
                    fields = handle.read().rsplit(") ", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / float(CLK_TCK)

    def close(self):
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], env=self.env, capture_output=True, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def baseline_framework(rev, dest):
    """The framework tree of revision ``rev`` (git archive), or None when it cannot be had."""
    archive = subprocess.run(["git", "-C", REPO, "archive", rev, "framework"], capture_output=True, check=False)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)
    return os.path.join(dest, "framework")


def steady(fleet, seconds):
    """Start every agent, wait for their beats; processes per agent and CPU over ``seconds``."""
    for name in fleet.names:
        fleet.start(name)
    for name in fleet.names:
        fleet.wait_beat(name, None)
    time.sleep(2)
    pids = fleet.tree()
    per_agent = (len(pids) - 2) / float(len(fleet.names))   # minus the server and the holder's sleep
    before = fleet.cpu_seconds(pids)
    time.sleep(seconds)
    return per_agent, fleet.cpu_seconds(fleet.tree()) - before


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60)
    parser.add_argument("--delay", type=int, default=1, help="restart_delay (s), subtracted from kill->healthy")
    parser.add_argument("--baseline", default="a892eec~1", help="a revision before issue 14 (no supervision)")
    parser.add_argument("--systemd-agent", help="measure this agent's real unit (run on its host as the fleet user)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.systemd_agent:
        result = systemd_agent(args.systemd_agent, args.kills, args.delay)
        print(json.dumps(result, indent=2) if args.json else
              "supervision, %s\n  floor (start -> first beat), %d starts: median %.3fs  p95 %.3fs\n"
              "  kill -> healthy minus RestartSec=%ds, %d kills: median %.3fs  p95 %.3fs (NRestarts %d)" % (
                  result["mode"], args.kills, result["floor_s"]["median"], result["floor_s"]["p95"], args.delay,
                  args.kills, result["kill_to_healthy_minus_delay_s"]["median"],
                  result["kill_to_healthy_minus_delay_s"]["p95"], result["restarts"]))
        return 0
    framework = os.path.join(REPO, "framework")
    result = {"mode": "tmux (local; no systemd user manager here)", "kills": args.kills, "delay_s": args.delay}

    fleet = Fleet(framework, 1, args.delay)
    try:
        name = fleet.names[0]
        floor = []
        for _round in range(args.kills):
            subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", "=" + name], env=fleet.env,
                           capture_output=True, check=False)
            old = fleet.beat_pid(name)
            t0 = time.monotonic()
            proc = subprocess.Popen([os.path.join(fleet.tool, "start-agent-session.sh"), name], env=fleet.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            floor.append(time.monotonic() - t0 + fleet.wait_beat(name, old))
            proc.wait()
        back = []
        for _round in range(args.kills):
            pid = fleet.pane_pid(name)
            os.kill(pid, signal.SIGKILL)
            back.append(fleet.wait_beat(name, pid) - args.delay)
        result["floor_s"] = {"median": statistics.median(floor), "p95": percentile(floor, 95)}
        result["kill_to_healthy_minus_delay_s"] = {"median": statistics.median(back), "p95": percentile(back, 95)}
    finally:
        fleet.close()

    for label, tree in (("with", framework), ("without", None)):
        scratch = tempfile.mkdtemp(prefix="mf-bench-base-")
        try:
            if tree is None:
                tree = baseline_framework(args.baseline, scratch)
                if tree is None:
                    result[label] = "baseline %s not available" % args.baseline
                    continue
            fleet = Fleet(tree, args.agents, args.delay)
            try:
                per_agent, cpu = steady(fleet, args.idle)
            finally:
                fleet.close()
            result[label] = {"processes_per_agent": per_agent, "idle_cpu_s": round(cpu, 3),
                             "agents": args.agents, "seconds": args.idle}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if isinstance(result.get("with"), dict) and isinstance(result.get("without"), dict):
        result["processes_added_per_agent"] = result["with"]["processes_per_agent"] - \
            result["without"]["processes_per_agent"]

    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("supervision, %s" % result["mode"])
    print("  floor (launch + first beat), %d starts: median %.3fs  p95 %.3fs" % (
        args.kills, result["floor_s"]["median"], result["floor_s"]["p95"]))
    print("  kill -> healthy minus restart_delay %ds, %d kills: median %.3fs  p95 %.3fs" % (
        args.delay, args.kills, result["kill_to_healthy_minus_delay_s"]["median"],
        result["kill_to_healthy_minus_delay_s"]["p95"]))
    for label in ("with", "without"):
        value = result[label]
        if isinstance(value, dict):
            print("  %-7s supervision: %.2f processes per agent; idle %d agents over %ds: %.3f CPU s" % (
                label, value["processes_per_agent"], value["agents"], value["seconds"], value["idle_cpu_s"]))
        else:
            print("  %-7s supervision: %s" % (label, value))
    if "processes_added_per_agent" in result:
        print("  processes added per agent: %.2f (target 0)" % result["processes_added_per_agent"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
