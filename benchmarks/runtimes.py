# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cold start to first heartbeat, and idle memory, per real runtime (claude, codex, pi, opencode).

Each runtime (the pinned ones, tests/runtimes) runs as a fleet agent: start-agent-session.sh ->
launch-agent -> the runtime table, in a private tmux server, with the fleet's first-run state in a
temporary HOME and the mock model server (tests/integration/mock_model.py) as its API. For each
runtime, one unmeasured warm-up start (opencode installs its plugin SDK on its first start),
then ``--count`` measured starts (default 5), each a new session and process; the table shows
the median (and min-max):

* start: from calling start-agent-session.sh to the first heartbeat file (Claude: its
  SessionStart hook or status line; pi and opencode: their plugins). codex writes no heartbeat
  before its first turn ends, so its figure is to its prompt: the screen's last change before it
  stays unchanged for 2 s (polled every 0.05 s);
* idle RSS: ``--idle`` seconds (default 8) after that, the resident memory of the pane's whole
  process tree (the runtime and its children; /proc VmRSS summed), in MiB.

Usage: python benchmarks/runtimes.py [--count 5] [--idle 8] [--runtimes claude,codex,pi,opencode]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, ".cache", "collections"))
from framework_util import install_framework, write_agent_env  # noqa: E402  pylint: disable=wrong-import-position
from mock_model import API_KEY, MockModel, prepare_home, text  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.mosaic.fleet.plugins.module_utils import envfile  # noqa: E402  pylint: disable=wrong-import-position

SOCKET = "bench-runtimes"
HINTS = {"claude": "mock-model", "codex": "mock-model", "pi": "mosaic/mock-model", "opencode": "mosaic/mock-model"}


def runtime_bin():
    result = subprocess.run([os.path.join(REPO, "scripts", "test-runtimes.sh")], capture_output=True, text=True,
                            check=True)
    return result.stdout.strip().splitlines()[-1]


def tree_rss_kib(pid):
    """VmRSS of ``pid`` and all its descendants (KiB)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            with open("/proc/%d/status" % current) as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Bench:
    def __init__(self, root, bin_dir, url):
        self.home = os.path.join(root, "home")
        self.mosaic_home = os.path.join(self.home, ".config", "mosaic")
        install_framework(self.mosaic_home, symlinks=True)
        for sub in ("fleet/agents", "fleet/run", "fleet/log", "credentials"):
            os.makedirs(os.path.join(self.mosaic_home, sub), exist_ok=True)
        agents = [{"name": "b-" + r, "runtime": r, "working_directory": "~", "model_hint": h} for r, h in HINTS.items()]
        for runtime in ("claude", "codex"):
            prepare_home(self.home, runtime, self.home, url, bin_dir, agents=agents)
        secrets = [("ANTHROPIC_BASE_URL", url), ("ANTHROPIC_API_KEY", API_KEY), ("OPENAI_BASE_URL", url + "/v1"),
                   ("OPENAI_API_KEY", API_KEY)]
        if os.geteuid() == 0:
            secrets.append(("IS_SANDBOX", "1"))
        with open(os.path.join(self.mosaic_home, "credentials", "fleet.env"), "w") as handle:
            handle.write(envfile.render_env_file(secrets))
        os.makedirs(os.path.join(root, "tmux"))
        self.env = {"HOME": self.home, "MOSAIC_HOME": self.mosaic_home, "TMUX_TMPDIR": os.path.join(root, "tmux"),
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TERM": "xterm-256color",
                    "USER": os.environ.get("USER", "root"), "MOSAIC_RUNTIME_BIN": bin_dir,
                    "MOSAIC_HEARTBEAT_INTERVAL": "5"}
        for agent in agents:
            write_agent_env(self.env, agent["name"], runtime=agent["runtime"], model=agent["model_hint"], socket=SOCKET)

    def tool(self, name, *args):
        subprocess.run([os.path.join(self.mosaic_home, "tools", "fleet", name)] + list(args), env=self.env,
                       capture_output=True, text=True, check=True, timeout=60)

    def pane(self, name, fmt):
        result = subprocess.run(["tmux", "-L", SOCKET, "display-message", "-p", "-t", "=%s:" % name, fmt],
                                env=self.env, capture_output=True, text=True, check=False)
        return result.stdout.strip()

    def capture(self, name):
        return subprocess.run(["tmux", "-L", SOCKET, "capture-pane", "-p", "-t", "=%s:" % name], env=self.env,
                              capture_output=True, text=True, check=False).stdout

    def start_once(self, runtime, idle, timeout=180):
        name = "b-" + runtime
        heartbeat = os.path.join(self.mosaic_home, "fleet", "run", name + ".heartbeat")
        started = time.time()
        self.tool("start-agent-session.sh", name)
        deadline = started + timeout
        if runtime == "codex":
            # no heartbeat before a turn ends: to its prompt, the screen's last change before 2 s
            # without one (polled every 0.05 s; tmux's window_activity has a 1 s resolution)
            screen, changed = None, started
            while time.time() - changed < 2.0 or screen is None or not screen.strip():
                now_screen = self.capture(name)
                if now_screen != screen:
                    screen, changed = now_screen, time.time()
                if time.time() > deadline:
                    raise RuntimeError("codex never settled")
                time.sleep(0.05)
            elapsed = changed - started
        else:
            while not os.path.exists(heartbeat):
                if time.time() > deadline:
                    raise RuntimeError("%s wrote no heartbeat in %ds" % (runtime, timeout))
                time.sleep(0.01)
            elapsed = time.time() - started
        time.sleep(idle)
        pid = int(self.pane(name, "#{pane_pid}"))
        dead = self.pane(name, "#{pane_dead}")
        if dead == "1":
            raise RuntimeError("%s exited" % runtime)
        rss = tree_rss_kib(pid) / 1024.0
        self.tool("stop-agent-session.sh", name)
        return elapsed, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--idle", type=float, default=8.0)
    parser.add_argument("--runtimes", default="claude,codex,pi,opencode")
    opts = parser.parse_args()
    bin_dir = runtime_bin()
    root = tempfile.mkdtemp(prefix="mosaic-bench-runtimes-")
    mock = MockModel(bin_dir, os.path.join(root, "mock"))
    os.makedirs(mock.work_dir)
    mock.start()
    try:
        mock.script([text("ok")])
        bench = Bench(root, bin_dir, mock.url)
        bench.tool("holder.sh", "start")
        rows = []
        for runtime in opts.runtimes.split(","):
            first = bench.start_once(runtime, 1.0)[0]
            starts, rss = [], []
            for dummy in range(opts.count):
                elapsed, mib = bench.start_once(runtime, opts.idle)
                starts.append(elapsed)
                rss.append(mib)
            rows.append((runtime, first, starts, rss))
            print("%s done" % runtime, file=sys.stderr)
        print("runtime   to first heartbeat, s: median (min-max)   first start ever, s   idle RSS MiB: median (min-max)")
        for runtime, first, starts, rss in rows:
            what = "%.2f (%.2f-%.2f)%s" % (
                statistics.median(starts), min(starts), max(starts), " [to prompt]" if runtime == "codex" else "")
            print("%-9s %-42s %-21s %.0f (%.0f-%.0f)" % (
                runtime, what, "%.2f" % first, statistics.median(rss), min(rss), max(rss)))
        print("(%d starts each after one warm-up; %s idle before the RSS reading; %d cores)"
              % (opts.count, "%gs" % opts.idle, os.cpu_count() or 0))
    finally:
        tmux_env = {"TMUX_TMPDIR": os.path.join(root, "tmux"), "PATH": os.environ.get("PATH", "")}
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], env=tmux_env, capture_output=True, check=False)
        mock.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
