#!/bin/bash
# Compares two berth builds untraced: `launch-ab.sh OLD NEW [BLOCKS]`.
#
# Runs blocks of 20 `run --rm --network none busybox true` with hyperfine,
# alternating OLD and NEW block by block (BLOCKS each, 10 by default), and
# prints each pair of block medians, then the median of every run of each
# build and NEW/OLD. Alternating blocks keeps the machine's drift out of the
# ratio; run it twice, the second time with the builds swapped, since the
# build that follows the other's deletions can be the slower one. Run it as
# the user to measure, with nothing else running; it uses a scratch store
# under /tmp, loading busybox from the test fixtures (BERTH_TEST_FIXTURES,
# /var/cache/berth-test by default). Needs hyperfine and python3.
set -euo pipefail
old=${1:?usage: launch-ab.sh OLD NEW [BLOCKS]} new=${2:?usage: launch-ab.sh OLD NEW [BLOCKS]}
blocks=${3:-10}
fixtures=${BERTH_TEST_FIXTURES:-/var/cache/berth-test}
export BERTH_ROOT=/tmp/launch-ab-store-$(id -u) XDG_RUNTIME_DIR=/tmp/launch-ab-run-$(id -u)
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
"$new" load -q -i "$fixtures/busybox.tar" >/dev/null
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
for r in $(seq "$blocks"); do
  for v in old new; do
    hyperfine -N --style none --warmup 2 --runs 20 --export-json "$d/$v-$r.json" \
      "${!v} run --rm --network none busybox true" >/dev/null
  done
done
python3 - "$d" "$blocks" <<'PY'
import json, statistics as s, sys
d, n = sys.argv[1], int(sys.argv[2])
t = {v: [] for v in ("old", "new")}
pairs = []
for r in range(1, n + 1):
    m = {}
    for v in ("old", "new"):
        times = json.load(open(f"{d}/{v}-{r}.json"))["results"][0]["times"]
        t[v] += times
        m[v] = s.median(times) * 1000
    pairs.append("%.2f/%.2f" % (m["old"], m["new"]))
print("blocks old/new ms:", " ".join(pairs))
o, w = s.median(t["old"]), s.median(t["new"])
print("median old %.3f ms, new %.3f ms, new/old %.3f" % (o * 1000, w * 1000, w / o))
PY
