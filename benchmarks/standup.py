"""Stand-up benchmark: 2 and 20 stub agents on local tmux (role in tmux mode, temporary HOME).

Both fleets are stood up first, then their re-runs alternate, so both see the same machine load.
Prints, for each fleet size, the number of tasks run on the host (ok + skipped + failed (ok counts
the changed ones) from the play recap) and the wall time of a no-change re-run (best of --reruns,
each must report changed=0). The task count must not depend on the number of agents, and the
20-agent re-run must take at most 1.3x the 2-agent one; the script exits non-zero otherwise.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
RECAP = re.compile(r"^localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
                   r"skipped=(\d+)", re.M)
MAX_RATIO = 1.3
COLLECTION_PARTS = ("galaxy.yml", "meta", "plugins", "roles", "playbooks", "framework")


def snapshot_collection(dest):
    """Copy the collection into ``dest`` so every run of a benchmark sees the same tree."""
    root = os.path.join(dest, "ansible_collections", "mosaic", "fleet")
    os.makedirs(root)
    for part in COLLECTION_PARTS:
        src = os.path.join(REPO, part)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(root, part), ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root)
    return dest


def whoami():
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


class Bench(object):
    def __init__(self, agents):
        self.agents = agents
        self.tmp = tempfile.mkdtemp(prefix="mosaic-bench-")
        self.socket = "bench-" + uuid.uuid4().hex[:8]
        home = os.path.join(self.tmp, "home")
        tmux_tmpdir = os.path.join(self.tmp, "tmux")
        os.makedirs(home)
        os.makedirs(tmux_tmpdir)
        self.env = dict(os.environ, HOME=home, TMUX_TMPDIR=tmux_tmpdir,
                        ANSIBLE_COLLECTIONS_PATH=snapshot_collection(os.path.join(self.tmp, "collections")),
                        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_DEPRECATION_WARNINGS="False")
        self.env.pop("TMUX", None)
        self.inventory = os.path.join(self.tmp, "inventory.yml")
        with open(self.inventory, "w") as handle:
            handle.write("fleet:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: %s\n" % os.path.join(BIN, "python"))
        roster = {"version": 1, "profile": "canary", "tmux": {"socket_name": self.socket},
                  "agents": [{"name": "agent%02d" % i, "runtime": "stub", "class": "orchestrator" if i == 0 else "worker"}
                             for i in range(agents)]}
        self.varfile = os.path.join(self.tmp, "vars.json")
        with open(self.varfile, "w") as handle:
            json.dump({"mosaic_fleet_roster": roster, "mosaic_fleet_user": whoami(),
                       "mosaic_fleet_install_packages": False, "mosaic_fleet_supervisor": "tmux"}, handle)

    def play(self):
        start = time.monotonic()
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", self.inventory, "mosaic.fleet.fleet",
                               "-e", "@" + self.varfile], capture_output=True, text=True, env=self.env,
                              cwd=self.tmp, check=False)
        elapsed = time.monotonic() - start
        match = RECAP.search(proc.stdout)
        if proc.returncode != 0 or not match:
            sys.exit("ansible-playbook failed for %d agents:\n%s%s" % (self.agents, proc.stdout, proc.stderr))
        ok, changed, _unreachable, failed, skipped = map(int, match.groups())
        # The recap's ok already counts the changed tasks.
        return dict(tasks=ok + skipped + failed, changed=changed, seconds=elapsed)

    def sessions(self):
        proc = subprocess.run(["tmux", "-L", self.socket, "list-sessions", "-F", "#{session_name}"],
                              capture_output=True, text=True, env=self.env, check=False)
        return len(proc.stdout.split())

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, env=self.env, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def measure(sizes, reruns):
    """Stand each size up, then alternate the no-change re-runs between sizes so that both see
    the same machine load (the best re-run of each is kept)."""
    benches = [Bench(agents) for agents in sizes]
    try:
        rows = []
        for bench in benches:
            first = bench.play()
            if bench.sessions() != bench.agents + 1:
                sys.exit("%d agents: expected %d sessions (agents + holder), found %d"
                         % (bench.agents, bench.agents + 1, bench.sessions()))
            rows.append(dict(agents=bench.agents, tasks=first["tasks"], first_seconds=first["seconds"], reruns=[]))
        for dummy in range(reruns):
            for bench, row in zip(benches, rows):
                rerun = bench.play()
                if rerun["changed"]:
                    sys.exit("%d agents: a no-change re-run reported changed=%d" % (bench.agents, rerun["changed"]))
                if rerun["tasks"] != row["tasks"]:
                    sys.exit("%d agents: the re-run ran %d tasks, the first run %d"
                             % (bench.agents, rerun["tasks"], row["tasks"]))
                row["reruns"].append(rerun["seconds"])
        for row in rows:
            row["rerun_seconds"] = min(row["reruns"])
        return rows
    finally:
        for bench in benches:
            bench.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=3, help="no-change re-runs per size (best is kept)")
    args = parser.parse_args()
    small, large = measure((2, 20), args.reruns)
    print("%-8s %-16s %-15s %s" % ("agents", "tasks per host", "first run (s)", "no-change re-run (s), best of %d"
                                   % args.reruns))
    for row in (small, large):
        print("%-8d %-16d %-15.2f %.2f  (%s)" % (row["agents"], row["tasks"], row["first_seconds"], row["rerun_seconds"],
                                                 ", ".join("%.2f" % t for t in row["reruns"])))
    ratio = large["rerun_seconds"] / small["rerun_seconds"]
    print("task count equal for 2 and 20 agents: %s" % ("yes" if small["tasks"] == large["tasks"] else "NO"))
    print("re-run time ratio 20/2 agents: %.2f (limit %.1f)" % (ratio, MAX_RATIO))
    if small["tasks"] != large["tasks"] or ratio > MAX_RATIO:
        sys.exit(1)


if __name__ == "__main__":
    main()
