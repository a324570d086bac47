# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Matrix connector's latency, each next to its floor measured in the same run.

A real Synapse on loopback (installed from tests/matrix/requirements.lock by
scripts/test-synapse.sh), the stub agent as the orchestrator in a private tmux server and
``connector run`` between them. Median and p95 of:

* inbound: the human's message posted (the PUT returns) -> the stub has it (its log's ``ts``);
  floor: the homeserver's own send -> /sync latency (a parked long-poll of another user returns
  the event) plus agent-send.sh's own call -> the stub has it;
* outbound: ``connector reply -m TEXT`` called -> the human's parked /sync returns the event;
  floor: the homeserver's own send -> /sync latency. The reply takes the quick path (the
  ``connector`` wrapper, bash, hands the text to the running connector at its desk: no Python
  starts); next to it the same reply posted by Python (``connector reply`` with no desk: the
  interpreter ``connector run`` runs on, -I -S), and as it was before the desk: ``python3`` on
  PATH (a version manager's shim if PATH has one) running the connector, no desk.

Target: within 1.5x the floor (reported, not enforced: the figures depend on the machine).
Exits non-zero when a message does not arrive.

Usage: python benchmarks/matrix.py [--count 20]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from matrix_util import Synapse  # noqa: E402  pylint: disable=wrong-import-position
from framework_util import install_framework  # noqa: E402  pylint: disable=wrong-import-position

SOCKET = "bench-matrix"
ORCH = "orch"


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))]


class Listener(threading.Thread):
    """A user's /sync long-poll loop: the monotonic time each message body arrived."""

    def __init__(self, user, room):
        super().__init__(daemon=True)
        self.user, self.room, self.seen, self.stop = user, room, {}, False
        self.since = user.call("GET", "/_matrix/client/v3/sync?timeout=0")["next_batch"]

    def run(self):
        while not self.stop:
            try:
                data = self.user.call("GET", "/_matrix/client/v3/sync?timeout=5000&since="
                                      + urllib.parse.quote(self.since))
            except OSError:
                if self.stop:  # the homeserver went away at the end of the run
                    return
                raise
            now = time.perf_counter()
            self.since = data["next_batch"]
            for event in data.get("rooms", {}).get("join", {}).get(self.room, {}).get("timeline", {}).get("events", []):
                self.seen.setdefault(event.get("content", {}).get("body"), now)

    def wait(self, body, timeout=15):
        deadline = time.perf_counter() + timeout
        while body not in self.seen:
            if time.perf_counter() > deadline:
                sys.exit("%r never reached %s's /sync" % (body, self.user.user_id))
            time.sleep(0.001)
        return self.seen[body]


def stub_ts(log, text, timeout=15):
    """The wall-clock time the stub logged a message ending with ``text``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(log):
            with open(log, encoding="utf-8") as handle:
                for line in handle:
                    record = json.loads(line)
                    if record["text"].endswith(text):
                        return record["ts"]
        time.sleep(0.002)
    sys.exit("the stub never received %r" % text)


def row(label, values):
    print("%-32s %10.1f %10.1f" % (label, statistics.median(values) * 1000, percentile(values, 95) * 1000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    opts = parser.parse_args()
    python = subprocess.run([os.path.join(REPO, "scripts", "test-synapse.sh")], capture_output=True, text=True,
                            check=True).stdout.strip().splitlines()[-1]
    work = tempfile.mkdtemp(prefix="mosaic-bench-matrix-")
    home = os.path.join(work, "home")
    mosaic_home = os.path.join(home, ".config", "mosaic")
    install_framework(mosaic_home, symlinks=True)
    for sub in ("fleet/run", "fleet/log", "credentials"):
        os.makedirs(os.path.join(mosaic_home, sub), exist_ok=True)
    os.makedirs(os.path.join(work, "tmux"))
    os.makedirs(os.path.join(work, "synapse"))
    env = dict(os.environ, HOME=home, MOSAIC_HOME=mosaic_home, TMUX_TMPDIR=os.path.join(work, "tmux"),
               LANG="C.UTF-8", MOSAIC_TMUX_SOCKET=SOCKET)
    env.pop("TMUX", None)
    server = Synapse(python, os.path.join(work, "synapse"))
    connector = None
    tool = os.path.join(mosaic_home, "tools", "fleet", "connector")
    send_tool = os.path.join(mosaic_home, "tools", "tmux", "agent-send.sh")
    log = os.path.join(mosaic_home, "fleet", "run", ORCH + ".stub.log")
    try:
        server.configure()
        server.start()
        human, bot, peer = server.user("human"), server.user("bot"), server.user("peer")
        room = human.create_room(invite=[bot.user_id, peer.user_id])
        bot.join(room)
        peer.join(room)  # the floor's sender: its messages are not from an allowed sender
        with open(os.path.join(mosaic_home, "fleet", "connector.json"), "w", encoding="utf-8") as handle:
            json.dump({"kind": "matrix", "orchestrator": ORCH,
                       "matrix": {"homeserver_url": server.url, "user_id": bot.user_id, "room_id": room,
                                  "allowed_senders": [human.user_id]}}, handle)
        fd = os.open(os.path.join(mosaic_home, "credentials", "fleet.env"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("MOSAIC_MATRIX_TOKEN=%s\n" % bot.token)
        subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", ORCH, "-x", "160", "-y", "50",
                        "-e", "MOSAIC_HOME=" + mosaic_home, "-e", "MOSAIC_AGENT_NAME=" + ORCH,
                        "exec python3 %s/tools/fleet/stub-agent" % mosaic_home], env=env, check=True)
        connector = subprocess.Popen([tool, "run"], env=env, stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                     stderr=subprocess.DEVNULL)
        while not os.path.exists(os.path.join(mosaic_home, "fleet", "run", "connector.matrix.json")):
            time.sleep(0.05)
        human_ear = Listener(human, room)
        human_ear.start()
        time.sleep(0.3)
        desk = os.path.join(mosaic_home, "fleet", "run", "connector.desk")
        sync_floor, fleet_floor, inbound, outbound, python_reply, before = [], [], [], [], [], []
        for serial in range(opts.count):  # interleaved, so all see the same machine load
            body = "floor %d" % serial
            start = time.perf_counter()
            peer.send(room, body)
            sync_floor.append(human_ear.wait(body) - start)
            text = "fleet floor %d" % serial
            start = time.time()
            subprocess.run([send_tool, "-s", ORCH, "-m", text], env=env, capture_output=True, check=True)
            fleet_floor.append(stub_ts(log, text) - start)
            text = "inbound %d" % serial
            start = time.time()
            human.send(room, text)
            inbound.append(stub_ts(log, text) - start)
            text = "outbound %d" % serial
            start = time.perf_counter()
            subprocess.run([tool, "reply", "-m", text], env=env, capture_output=True, check=True)
            outbound.append(human_ear.wait(text) - start)
            text = "by python %d" % serial
            os.rename(desk, desk + ".away")  # no desk: the wrapper runs Python
            start = time.perf_counter()
            subprocess.run([tool, "reply", "-m", text], env=env, capture_output=True, check=True)
            python_reply.append(human_ear.wait(text) - start)
            text = "as before %d" % serial
            start = time.perf_counter()
            subprocess.run(["python3", os.path.join(os.path.dirname(tool), "mosaic_connector.py"), "reply", "-m", text],
                           env=env, capture_output=True, check=True)
            before.append(human_ear.wait(text) - start)
            os.rename(desk + ".away", desk)
        human_ear.stop = True
        print("Matrix connector, Synapse on loopback, stub orchestrator: %d messages each way" % opts.count)
        print("%-32s %10s %10s" % ("what", "median ms", "p95 ms"))
        row("homeserver send -> /sync", sync_floor)
        row("agent-send.sh -> stub", fleet_floor)
        row("inbound: posted -> stub", inbound)
        row("outbound: reply -> human /sync", outbound)
        row("(outbound by Python, no desk)", python_reply)
        row("(outbound as before the desk)", before)
        in_floor = statistics.median(sync_floor) + statistics.median(fleet_floor)
        out_floor = statistics.median(sync_floor)
        print()
        print("inbound  %.1f ms vs floor %.1f ms: %.2fx (target 1.5x)" % (
            statistics.median(inbound) * 1000, in_floor * 1000, statistics.median(inbound) / in_floor))
        print("outbound %.1f ms vs floor %.1f ms: %.2fx (target 1.5x)" % (
            statistics.median(outbound) * 1000, out_floor * 1000, statistics.median(outbound) / out_floor))
        for label, values in (("by Python, no desk", python_reply), ("as before the desk", before)):
            median = statistics.median(values)
            print("(outbound %s %.1f ms: %.2fx)" % (label, median * 1000, median / out_floor))
    finally:
        if connector:
            connector.terminate()
            connector.wait()
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], env=env, capture_output=True, check=False)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
