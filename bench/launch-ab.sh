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
# /var/cache/berth-test by default). Needs hyperfine and python3 (lib.sh's
# medians).
set -euo pipefail
old=${1:?usage: launch-ab.sh OLD NEW [BLOCKS]} new=${2:?usage: launch-ab.sh OLD NEW [BLOCKS]}
blocks=${3:-10}
fixtures=${BERTH_TEST_FIXTURES:-/var/cache/berth-test}
export BERTH_ROOT=/tmp/launch-ab-store-$(id -u) XDG_RUNTIME_DIR=/tmp/launch-ab-run-$(id -u)
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
"$new" load -q -i "$fixtures/busybox.tar" >/dev/null
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pairs=
for r in $(seq "$blocks"); do
  for v in old new; do
    hyperfine -N --style none --warmup 2 --runs 20 --export-json "$d/$v-$r.json" \
      "${!v} run --rm --network none busybox true" >/dev/null
  done
  pairs+=" $(bench_hyperfine_median %.2f "$d/old-$r.json")/$(bench_hyperfine_median %.2f "$d/new-$r.json")"
done
echo "blocks old/new ms:$pairs"
o=$(bench_hyperfine_median %.3f "$d"/old-*.json)
w=$(bench_hyperfine_median %.3f "$d"/new-*.json)
awk -v o="$o" -v w="$w" 'BEGIN { printf "median old %s ms, new %s ms, new/old %.3f\n", o, w, w / o }'
