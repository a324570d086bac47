# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mosaic.fleet.fleet_ps costs on a host with 1, 10, 50 and 100 agents.

For each fleet size, on a private tmux server (its own TMUX_TMPDIR), with one session per agent
running a long-lived process named like the stub runtime (``exec -a python3 sleep``: to fleet_ps
a pane is a pane, so the cost is the same as with real stubs) and a fresh heartbeat file each:

  module      the module's own code in-process (a real AnsibleModule, ``fleet_ps.observe``: roster
              read, the commands through ``host.spawn``, heartbeat reads, classification), median
              of --repeat runs; and the number of commands it ran (counted by wrapping its runner)
  floor       the same raw queries issued directly from one bash process: the one
              ``tmux list-panes -a -F ...`` plus reading every heartbeat file (builtin ``read``,
              no extra process), timed inside bash, median
  per-agent   the naive approach, also from bash: three queries per agent (``tmux has-session``,
              ``tmux display-message``, ``stat`` of the heartbeat), median

Targets: the command count does not grow with the agents; at 100 agents the module is within
1.5x of the floor and at least 10x faster than the per-agent approach. Exits non-zero when a
target is missed. Agents here run under plain tmux (no systemd user manager in a benchmark
sandbox); under systemd the module adds ONE ``systemctl --user show`` for every unit, and the
per-agent approach one ``systemctl show`` per agent instead of ``stat``.

Also printed: the module's time with ``AnsibleModule.run_command`` as its runner instead, the
reason fleet_ps runs its queries through ``host.spawn``.

Usage: python benchmarks/fleet_ps.py [--sizes 1,10,50,100] [--repeat 60] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".cache", "collections"))

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes  # noqa: E402

from ansible_collections.mosaic.fleet.plugins.module_utils import host as fleet_host  # noqa: E402
from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig, ps  # noqa: E402
from ansible_collections.mosaic.fleet.plugins.modules import fleet_ps  # noqa: E402

SOCKET = "mosaic-bench"
FLOOR_SCRIPT = r"""
fmt=$1 run=$2 repeat=$3
for ((i = 0; i < repeat; i++)); do
  t0=$EPOCHREALTIME
  tmux -L "$SOCKET" list-panes -a -F "$fmt" >/dev/null
  for f in "$run"/*.heartbeat; do read -r line <"$f"; done
  t1=$EPOCHREALTIME
  echo "$t0 $t1"
done
"""
PER_AGENT_SCRIPT = r"""
run=$1 repeat=$2; shift 2
for ((i = 0; i < repeat; i++)); do
  t0=$EPOCHREALTIME
  for a in "$@"; do
    tmux -L "$SOCKET" has-session -t "=$a" 2>/dev/null
    tmux -L "$SOCKET" display-message -p -t "=$a:" \
      '#{pane_pid} #{pane_current_command} #{pane_dead} #{window_activity}' >/dev/null
    stat -c %Y "$run/$a.heartbeat" >/dev/null
  done
  t1=$EPOCHREALTIME
  echo "$t0 $t1"
done
"""


class Host(object):
    """A private tmux server with ``count`` agent sessions, a rendered roster and heartbeats."""

    def __init__(self, count):
        self.root = tempfile.mkdtemp(prefix="fleet-ps-bench-")
        self.mosaic_home = os.path.join(self.root, "mosaic")
        self.tmux_tmpdir = os.path.join(self.root, "tmux")
        os.makedirs(self.tmux_tmpdir)
        self.env = dict(os.environ, TMUX_TMPDIR=self.tmux_tmpdir, SOCKET=SOCKET)
        self.env.pop("TMUX", None)
        self.names = ["agent%03d" % i for i in range(count)]
        roster = {"version": 1, "tenant": "bench", "profile": "canary", "transport": "tmux",
                  "tmux": {"socket_name": SOCKET, "holder_session": "mosaic-holder"},
                  "defaults": {"working_directory": "~"}, "connector": {"kind": "tmux"},
                  "agents": [{"name": n, "runtime": "stub", "class": "worker", "persistent_persona": False,
                              "resume": False, "model_hint": "", "host": "benchhost", "ssh": "", "socket": SOCKET,
                              "working_directory": "~", "command": ""} for n in self.names]}
        for relpath, content in hostconfig.plan_files(roster, "benchhost").items():
            path = os.path.join(self.mosaic_home, relpath)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(content)
        self.run_dir = os.path.join(self.mosaic_home, "fleet", "run")
        os.makedirs(self.run_dir)
        # One tmux call creates the holder and every session (chained with ';').
        argv = ["tmux", "-L", SOCKET, "new-session", "-d", "-s", "mosaic-holder", "sleep 3600"]
        for name in self.names:
            argv += [";", "new-session", "-d", "-s", name, "exec -a python3 sleep 3600"]
        subprocess.run(argv, env=self.env, check=True)
        pids = subprocess.run(["tmux", "-L", SOCKET, "list-panes", "-a", "-F", "#{session_name} #{pane_pid}"],
                              env=self.env, check=True, capture_output=True, text=True).stdout
        now = int(time.time())
        for line in pids.splitlines():
            name, pid = line.split()
            if name != "mosaic-holder":
                with open(os.path.join(self.run_dir, name + ".heartbeat"), "w") as handle:
                    handle.write("%d %s\n" % (now, pid))

    def close(self):
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], env=self.env, capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def make_module(host):
    """A real AnsibleModule for fleet_ps, built as the module builds it, with an ad-hoc run's args."""
    args = {"mosaic_home": host.mosaic_home, "host": "benchhost", "supervisor": "tmux",
            "tmux_tmpdir": host.tmux_tmpdir}
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core >= 2.19
    except ImportError:
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        return basic.AnsibleModule(argument_spec=fleet_ps.ARGUMENT_SPEC, supports_check_mode=True)
    with patch_module_args(args):
        return basic.AnsibleModule(argument_spec=fleet_ps.ARGUMENT_SPEC, supports_check_mode=True)


def counting(run, calls):
    def counted(argv, env):
        calls.append(argv)
        return run(argv, env)
    return counted


def via_run_command(module):
    """The runner the module would have with AnsibleModule.run_command (for comparison only)."""
    def run(argv, env):
        return module.run_command(argv, environ_update=env or {}, expand_user_and_vars=False)
    return run


def module_samples(module, run, count):
    """``count`` timed runs of the module's logic; returns (seconds list, commands per run)."""
    calls = []
    run = counting(run, calls)
    saved = os.environ.pop("TMUX", None)
    try:
        times = []
        for _run in range(count):
            start = time.perf_counter()
            fleet_ps.observe(module, run=run)
            times.append(time.perf_counter() - start)
    finally:
        if saved is not None:
            os.environ["TMUX"] = saved
    return times, len(calls) // count


def bash_samples(host, script, args):
    """Per-iteration seconds of a bash timing loop (timed inside bash with $EPOCHREALTIME)."""
    out = subprocess.run(["bash", "-c", script, "bench"] + [str(a) for a in args], env=host.env, check=True,
                         capture_output=True, text=True).stdout
    return [float(b) - float(a) for a, b in (line.split() for line in out.splitlines())]


def measure(host, repeat, rounds):
    """Module, floor and the run_command variant interleaved in ``rounds`` blocks (so load changes
    hit them alike), then the per-agent approach. Returns medians and the command count."""
    module = make_module(host)
    report = fleet_ps.observe(module)  # warm-up, and a check that the fleet is what we think
    assert report["total"] == len(host.names) == report["summary"]["healthy"], report["summary"]
    per_round = max(1, repeat // rounds)
    samples = {"module": [], "floor": [], "run_command": []}
    counts = set()
    for _round in range(rounds):
        times, commands = module_samples(module, fleet_host.spawn, per_round)
        samples["module"] += times
        counts.add(commands)
        samples["floor"] += bash_samples(host, FLOOR_SCRIPT, [ps.PANE_FORMAT, host.run_dir, per_round])
        times, commands = module_samples(module, via_run_command(module), per_round)
        samples["run_command"] += times
        counts.add(commands)
    assert len(counts) == 1, counts
    per_agent_repeat = max(3, min(repeat, 300 // max(len(host.names), 1)))
    per_agent = bash_samples(host, PER_AGENT_SCRIPT, [host.run_dir, per_agent_repeat] + host.names)
    medians = dict((k, statistics.median(v)) for k, v in samples.items())
    return medians["module"], counts.pop(), medians["floor"], statistics.median(per_agent), medians["run_command"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="1,10,50,100")
    parser.add_argument("--repeat", type=int, default=60, help="timed runs of the module and the floor")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved blocks those runs are split into")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    if not shutil.which("tmux"):
        sys.exit("fleet_ps benchmark: tmux is required")

    print("fleet_ps on local tmux (plain tmux supervisor), medians of %d runs" % opts.repeat)
    print("%7s  %8s  %10s  %9s  %13s  %13s  %14s  %15s" % (
        "agents", "commands", "module ms", "floor ms", "per-agent ms", "module/floor", "per-agent/module",
        "run_command ms"))
    results = []
    for size in sizes:
        host = Host(size)
        try:
            module_s, commands, floor_s, per_agent_s, run_command_s = measure(host, opts.repeat, opts.rounds)
        finally:
            host.close()
        results.append((size, commands, module_s, floor_s, per_agent_s))
        print("%7d  %8d  %10.2f  %9.2f  %13.2f  %12.2fx  %15.1fx  %15.2f" % (
            size, commands, module_s * 1e3, floor_s * 1e3, per_agent_s * 1e3, module_s / floor_s,
            per_agent_s / module_s, run_command_s * 1e3))
    print("(run_command ms: the same module logic with AnsibleModule.run_command as its runner, whose\n"
          " preexec_fn makes CPython fork() instead of vfork(); fleet_ps uses host.spawn instead)")

    problems = []
    if len(set(r[1] for r in results)) != 1:
        problems.append("the module's command count changes with the agent count: %s"
                        % ", ".join("%d agents: %d" % (r[0], r[1]) for r in results))
    largest = max(results)
    if largest[0] >= 100:
        if largest[2] > 1.5 * largest[3]:
            problems.append("at %d agents the module takes %.2fx the floor (target <= 1.5x)"
                            % (largest[0], largest[2] / largest[3]))
        if largest[4] < 10 * largest[2]:
            problems.append("at %d agents the module is only %.1fx faster than per-agent queries (target >= 10x)"
                            % (largest[0], largest[4] / largest[2]))
    for problem in problems:
        print("TARGET MISSED: " + problem)
    if not problems:
        print("targets met: constant command count (%d); at %d agents %.2fx the floor, %.1fx faster than "
              "per-agent" % (largest[1], largest[0], largest[2] / largest[3], largest[4] / largest[2]))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
