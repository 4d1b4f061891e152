#!/bin/bash
# Seccomp benchmark: what compiling Docker's default profile costs on the
# launch path, against the goal of 0.3 ms (issue 9), and what installing
# the largest filter (fakeroot's) costs in the kernel.
#
#   bench/seccomp.sh [-n RUNS]
#
# Builds benches/seccomp.rs (release) and runs it RUNS times (default 21),
# each a fresh process: the first compile of each process ("cold", what a
# `berth run` pays) and the median of 2000 compiles within it ("warm"),
# and, for comparison, parsing the same profile from Docker's JSON and
# compiling it. Prints the medians over the runs and the ratio of the cold
# median to the 300 us budget.
set -euo pipefail

runs=21
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "seccomp.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=$(cargo bench --bench seccomp --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "seccomp" and m.get("executable"):
        print(m["executable"])')
[ -x "$bin" ] || { echo "seccomp.sh: building the benchmark failed" >&2; exit 1; }

out=$(for _ in $(seq "$runs"); do "$bin" 2000; done)
python3 - "$out" <<'PY'
import sys, statistics
rows = [dict(zip(l.split()[::2], map(float, l.split()[1::2]))) for l in sys.argv[1].splitlines()]
med = lambda k: statistics.median(r[k] for r in rows)
print(f"default profile: {int(rows[0]['instructions'])} BPF instructions, {len(rows)} runs")
print(f"compile, cold (first in a process): median {med('cold_us'):7.1f} us")
print(f"compile, warm:                      median {med('warm_us'):7.1f} us")
print(f"parse Docker JSON + compile:        median {med('json_us'):7.1f} us  "
      f"({med('json_us') / med('warm_us'):.1f}x the static table)")
print(f"budget 300 us: cold median is {med('cold_us') / 300:.2f} of it")
print(f"install (kernel check + JIT), fakeroot's {int(rows[0]['fakeroot_instructions'])} "
      f"instructions: median {med('install_us'):7.1f} us")
PY
