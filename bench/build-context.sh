#!/bin/bash
# Build-context hashing benchmark: how long berth takes to walk a context
# and hash every file a `COPY . /` takes (the work a build does once to key
# its cache), beside reading the same bytes with standard tools, the floor:
#   tar       tar -cf - of the tree, piped to /dev/null (reads every byte)
#   sha256sum sha256sum of every file, as many processes as berth threads
#
#   bench/build-context.sh [-n RUNS] [--files N] [--size MIB] [--dir DIR]
#
# Defaults: 5 runs, 50000 files, 1024 MiB in total, a fresh directory under
# /tmp (removed at the end). The tree is generated once and read once before
# timing, so every run reads from the page cache: the figures compare the
# CPU work (walk + hash), not the disk. Prints medians and berth's ratio to
# each floor.
set -euo pipefail

runs=5 files=50000 size=1024 dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) runs=$2; shift 2 ;;
        --files) files=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-context.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
cargo build --release --quiet --example build_context_hash
bin=target/release/examples/build_context_hash
threads=$(nproc)

cleanup=""
if [ -z "$dir" ]; then
    dir=$(mktemp -d /tmp/berth-bench-context.XXXXXX)
    cleanup=$dir
fi
trap '[ -n "$cleanup" ] && rm -rf "$cleanup"' EXIT

if [ ! -e "$dir/.generated-$files-$size" ]; then
    echo "generating $files files, $size MiB in $dir" >&2
    python3 - "$dir" "$files" "$size" <<'PY'
import os, random, sys
root, n, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
total = mib << 20
random.seed(1)
# Sizes vary around the mean so that both small and large files occur.
weights = [random.expovariate(1.0) for _ in range(n)]
scale = total / sum(weights)
sizes = [max(1, int(w * scale)) for w in weights]
sizes[-1] += total - sum(sizes)
block = os.urandom(1 << 20)
per_dir = 1000
for i, s in enumerate(sizes):
    d = os.path.join(root, f"d{i // per_dir:03d}", f"s{(i // 100) % 10}")
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.dat"), "wb") as f:
        # Distinct content per file: a prefix, then slices of the block.
        f.write(i.to_bytes(8, "little"))
        left = s - 8
        off = (i * 4099) % len(block)
        while left > 0:
            chunk = block[off:off + left]
            f.write(chunk)
            left -= len(chunk)
            off = 0
open(os.path.join(root, f".generated-{n}-{mib}"), "w").close()
PY
fi
# Warm the page cache.
tar -cf - -C "$dir" . | cat >/dev/null

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
time_ms() { local t0 t1; t0=$(now); "$@" >/dev/null; t1=$(now); echo $(( (t1 - t0) / 1000000 )); }

hash_all() { (cd "$dir" && find . -type f -print0 | xargs -0 -P "$threads" -n 500 sha256sum >/dev/null); }
tar_all() { tar -cf - -C "$dir" . | cat >/dev/null; }

declare -a berth_ms tar_ms sum_ms walk_ms
for _ in $(seq "$runs"); do
    out=$("$bin" "$dir")
    berth_ms+=("$(echo "$out" | sed 's/.*total=\([0-9.]*\).*/\1/')")
    walk_ms+=("$(echo "$out" | sed 's/.*walk=\([0-9.]*\).*/\1/')")
    tar_ms+=("$(time_ms tar_all)")
    sum_ms+=("$(time_ms hash_all)")
done
echo "$out" | sed 's/.*\(files=[0-9]*\).*/hashed \1/'

b=$(printf '%s\n' "${berth_ms[@]}" | median)
w=$(printf '%s\n' "${walk_ms[@]}" | median)
t=$(printf '%s\n' "${tar_ms[@]}" | median)
s=$(printf '%s\n' "${sum_ms[@]}" | median)
printf 'context: %s files, %s MiB, %s threads, %s runs, medians\n' "$files" "$size" "$threads" "$runs"
printf '  berth walk+hash      %8.0f ms  (walk %.0f ms)\n' "$b" "$w"
printf '  tar -cf - | cat      %8.0f ms\n' "$t"
printf '  sha256sum -P%s        %8.0f ms\n' "$threads" "$s"
awk -v b="$b" -v t="$t" -v s="$s" 'BEGIN {
    printf "  ratio berth/tar       %.2f\n", b / t
    printf "  ratio berth/sha256sum %.2f\n", b / s
}'
