# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remote round trips and wall time of mosaic.fleet.fleet_reseed for frameworks of 50 and 500 files.

Round trips are counted from what the connection plugin itself logs at -vvv: one ``EXEC`` line per
remote command (module runs, tmp dir create/remove, chmod) and one ``PUT``/``FETCH`` line per file
transfer. Over ssh each of those is one round trip; here the localhost connection is used so the
figure measures the plugin, not a network. Exits non-zero when the count grows with the file count.

Usage: python benchmarks/reseed.py [--sizes 50,500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUND_TRIP = re.compile(r"^<[^>]+> (EXEC|PUT|FETCH) ", re.M)


def make_framework(root, count, salt=""):
    """``count`` files spread over a few directories, 1-4 KiB each, some executable."""
    for i in range(count):
        sub = os.path.join(root, "d%02d" % (i % 20), "s%d" % (i % 3))
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, "file%04d.md" % i)
        with open(path, "w") as f:
            f.write(("line %d of file %d %s\n" % (0, i, salt)) + "x" * (1024 * (1 + i % 4)) + "\n")
        if i % 10 == 0:
            os.chmod(path, 0o755)
    with open(os.path.join(root, "SOUL.md"), "w") as f:
        f.write("soul template\n")


def run_reseed(src, version, home, work, pipelining):
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".cache", "collections"),
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_LOCAL_TEMP=os.path.join(work, "local-tmp"),
        ANSIBLE_REMOTE_TEMP=os.path.join(work, "remote-tmp"),
        ANSIBLE_PIPELINING="1" if pipelining else "0",
    )
    argv = ["ansible", "localhost", "-c", "local", "-vvv", "-m", "mosaic.fleet.fleet_reseed",
            "-a", "src=%s version=%s mosaic_home=%s" % (src, version, home)]
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("reseed failed (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    trips = ROUND_TRIP.findall(proc.stdout + proc.stderr)
    changed = '"changed": true' in proc.stdout
    return dict(wall=wall, trips=len(trips), execs=trips.count("EXEC"),
                transfers=len(trips) - trips.count("EXEC"), changed=changed)


def bench(count, repeat, work, pipelining):
    base = os.path.join(work, "n%d-%s" % (count, "p" if pipelining else "np"))
    a, b, home = os.path.join(base, "A"), os.path.join(base, "B"), os.path.join(base, "home")
    make_framework(a, count)
    make_framework(b, count, salt="v2")
    rows = {}
    rows["first install"] = run_reseed(a, "A", home, base, pipelining)
    runs = [run_reseed(a, "A", home, base, pipelining) for _run in range(repeat)]
    assert not any(r["changed"] for r in runs), "a no-change re-seed reported a change"
    rows["no-change re-seed"] = dict(runs[0], wall=statistics.median(r["wall"] for r in runs))
    rows["upgrade A->B (all changed)"] = run_reseed(b, "B", home, base, pipelining)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,500")
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    if not shutil.which("ansible"):
        sys.exit("ansible is not on PATH (run `make bench`, or activate .venv)")
    work = tempfile.mkdtemp(prefix="mosaic-bench-reseed-")
    results = {}
    try:
        for pipelining in (True, False):
            for n in sizes:
                results[(pipelining, n)] = bench(n, opts.repeat, work, pipelining)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("fleet_reseed over the local connection (round trips = remote commands + file transfers;")
    print("no-change wall time = median of %d runs of the whole `ansible` command)" % opts.repeat)
    header = ("pipelining", "case", "files", "round trips", "execs", "transfers", "wall s")
    print("%-11s %-28s %6s %12s %6s %10s %8s" % header)
    grows = []
    for pipelining in (True, False):
        for n in sizes:
            for case, r in results[(pipelining, n)].items():
                row = ("on" if pipelining else "off", case, n, r["trips"], r["execs"], r["transfers"], r["wall"])
                print("%-11s %-28s %6d %12d %6d %10d %8.2f" % row)
        for case in results[(pipelining, sizes[0])]:
            if len(set(results[(pipelining, n)][case]["trips"] for n in sizes)) > 1:
                grows.append("%s (pipelining %s)" % (case, "on" if pipelining else "off"))
    if grows:
        print("FAIL: round trips grow with the file count in: %s" % ", ".join(grows))
        return 1
    print("round trips are the same for %s files: constant" % " and ".join(str(n) for n in sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
