#!/usr/bin/env python3
"""Compares berth builds launch by launch: `trace-ab.py ROUNDS BERTH...`.

Runs `BERTH run --rm --network none busybox true` for each binary in turn,
ROUNDS times (after 3 warm-up rounds), with BERTH_TRACE=1, and prints the
median time of every launch step each binary reports, then the median wall
time of the whole command. Interleaving the binaries round by round keeps
the machine's drift (2x from day to day here, and within minutes) out of
the comparison. Run it as the user to measure (busybox loaded in the store
BERTH_ROOT names), with nothing else running.
"""
import os
import re
import statistics
import subprocess
import sys
import time

if len(sys.argv) < 3:
    sys.exit(__doc__)
rounds = int(sys.argv[1])
bins = sys.argv[2:]
env = dict(os.environ, BERTH_TRACE="1")
wall = {b: [] for b in bins}
steps = {b: {} for b in bins}
line_re = re.compile(r"berth-trace\s+([\d.]+) ms\s+(\S+)\s+(.*)")
for r in range(rounds + 3):
    for b in bins:
        start = time.perf_counter()
        p = subprocess.run([b, "run", "--rm", "--network", "none", "busybox", "true"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        end = time.perf_counter()
        if p.returncode != 0:
            sys.exit(f"{b} failed:\n{p.stderr}")
        if r < 3:
            continue
        wall[b].append((end - start) * 1000)
        for line in p.stderr.splitlines():
            m = line_re.match(line)
            if m:
                steps[b].setdefault(f"{m.group(2)} {m.group(3)}", []).append(float(m.group(1)))
        time.sleep(0.01)
keys = [k for k in steps[bins[0]] if all(k in steps[b] for b in bins)]
keys.sort(key=lambda k: statistics.median(steps[bins[0]][k]))
names = [os.path.basename(b)[:11] for b in bins]
print(f"{'step (median ms since the command started)':<58}" + "".join(f"{n:>12}" for n in names))
for k in keys:
    print(f"{k[:58]:<58}" + "".join(f"{statistics.median(steps[b][k]):>12.2f}" for b in bins))
print(f"{'wall time of the command':<58}" + "".join(f"{statistics.median(wall[b]):>12.2f}" for b in bins))
