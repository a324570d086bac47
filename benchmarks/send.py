# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time from calling agent-send.sh to its ``delivered`` verdict, next to the bare-tmux floor.

For a 100-byte and a 10 KB message to the stub agent (in a private tmux server), this prints the
median and p95 of:

* ``agent-send.sh`` (lock, pane checks, paste, Enter after the delay, verification by evidence,
  audit line): from the call to its exit with outcome ``delivered``;
* the floor: the bare tmux commands issued directly: load-buffer + paste-buffer, the same Enter
  delay, send-keys Enter and one capture-pane. No checks, no proof;
* for reference, "seen": the same bare commands, then capture-pane repeated until the stub shows
  this message's ``[stub] received <N> bytes`` line: the least any sender that looks for proof
  must wait (it includes the stub's own reaction time, which the floor does not).

The target is ``send <= 2 x (floor - delay) + delay``: the Enter delay is a deliberate wait both
pay; everything else may cost at most twice the floor. Exits non-zero when a send is not
delivered (the target itself is reported, not enforced: the figures depend on the machine).

Usage: python benchmarks/send.py [--count 30] [--delay 0.3]
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
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from framework_util import install_framework  # noqa: E402  pylint: disable=wrong-import-position
SOCKET = "bench-send"
AGENT = "bench0"


def percentile(values, pct):
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def message_of(size, serial):
    head = "benchmark message %04d: " % serial
    body = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[: size - len(head) - 4]
    return head + body + " end"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--delay", type=float, default=0.3, help="Enter delay in seconds")
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="mosaic-bench-send-")
    home = os.path.join(work, "home")
    mosaic_home = os.path.join(home, ".config", "mosaic")
    install_framework(mosaic_home, symlinks=True)
    os.makedirs(os.path.join(work, "tmux"))
    env = dict(os.environ, HOME=home, MOSAIC_HOME=mosaic_home, TMUX_TMPDIR=os.path.join(work, "tmux"),
               LANG="C.UTF-8", MOSAIC_SEND_ENTER_DELAY=str(opts.delay))
    env.pop("TMUX", None)
    tool = os.path.join(mosaic_home, "tools", "tmux", "agent-send.sh")

    def tmux(*args, **kwargs):
        return subprocess.run(["tmux", "-L", SOCKET] + list(args), env=env, check=False, **kwargs)

    try:
        tmux("new-session", "-d", "-s", AGENT, "-x", "160", "-y", "50", "-e", "MOSAIC_HOME=" + mosaic_home,
             "-e", "MOSAIC_AGENT_NAME=" + AGENT,
             "exec python3 %s/tools/fleet/stub-agent" % mosaic_home)
        deadline = time.monotonic() + 15
        while "stub>" not in tmux("capture-pane", "-p", "-t", AGENT, capture_output=True, text=True).stdout:
            if time.monotonic() > deadline:
                sys.exit("the stub agent did not start")
            time.sleep(0.05)
        pane = tmux("display-message", "-p", "-t", "=%s:" % AGENT, "#{pane_id}",
                    capture_output=True, text=True).stdout.strip()

        def floor_once(text):
            start = time.perf_counter()
            tmux("load-buffer", "-b", "bench", "-", ";", "paste-buffer", "-p", "-r", "-d", "-b", "bench",
                 "-t", pane, input=text.encode())
            time.sleep(opts.delay)
            tmux("send-keys", "-t", pane, "Enter")
            tmux("capture-pane", "-p", "-t", pane, stdout=subprocess.DEVNULL)
            return time.perf_counter() - start

        def seen_once(text):
            marker = "[stub] received %d bytes" % len(text.encode())
            before = tmux("capture-pane", "-p", "-t", pane, capture_output=True, text=True).stdout.count(marker)
            start = time.perf_counter()
            tmux("load-buffer", "-b", "bench", "-", ";", "paste-buffer", "-p", "-r", "-d", "-b", "bench",
                 "-t", pane, input=text.encode())
            time.sleep(opts.delay)
            tmux("send-keys", "-t", pane, "Enter")
            while tmux("capture-pane", "-p", "-t", pane, capture_output=True,
                       text=True).stdout.count(marker) <= before:
                if time.perf_counter() - start > 10:
                    sys.exit("the stub never showed the message")
            return time.perf_counter() - start

        def send_once(text):
            start = time.perf_counter()
            result = subprocess.run([tool, "-L", SOCKET, "-s", AGENT, "--json", "-m", "-"], env=env,
                                    input=text.encode(), capture_output=True, check=False)
            took = time.perf_counter() - start
            report = json.loads(result.stdout)
            if report["outcome"] != "delivered":
                sys.exit("send was %s: %s" % (report["outcome"], report["reason"]))
            return took

        print("agent-send.sh to the stub agent: %d sends per size, Enter delay %.0f ms" % (
            opts.count, opts.delay * 1000))
        print("%-8s %-12s %10s %10s" % ("size", "what", "median ms", "p95 ms"))
        verdicts = []
        for size in (100, 10240):
            floors, seens, sends = [], [], []
            for serial in range(opts.count):  # interleaved, so all see the same machine load
                floors.append(floor_once(message_of(size, serial)))
                time.sleep(0.05)
                seens.append(seen_once(message_of(size, serial) + " seen"))
                time.sleep(0.05)
                sends.append(send_once(message_of(size, serial)))
            floor_med, send_med = statistics.median(floors), statistics.median(sends)
            label = "%d B" % size if size < 1024 else "%d KB" % (size // 1024)
            print("%-8s %-12s %10.1f %10.1f" % (label, "floor", floor_med * 1000, percentile(floors, 95) * 1000))
            seen_med = statistics.median(seens)
            print("%-8s %-12s %10.1f %10.1f" % (label, "seen", seen_med * 1000, percentile(seens, 95) * 1000))
            print("%-8s %-12s %10.1f %10.1f" % (label, "agent-send", send_med * 1000, percentile(sends, 95) * 1000))
            target = 2 * (floor_med - opts.delay) + opts.delay
            ratio = (send_med - opts.delay) / max(floor_med - opts.delay, 1e-6)
            verdicts.append((label, send_med, floor_med, target, ratio))
        print()
        for label, send_med, floor_med, target, ratio in verdicts:
            print("%-8s send/floor %.2fx overall; beyond the Enter delay %.1fx the floor's work; "
                  "target median <= %.1f ms: %s" % (
                      label, send_med / floor_med, ratio, target * 1000,
                      "met" if send_med <= target else "NOT met (%.1f ms)" % (send_med * 1000)))
    finally:
        tmux("kill-server", stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
