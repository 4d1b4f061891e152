#!/bin/bash
# Scale benchmark: the wall-clock time for 64 concurrent `run --rm busybox
# true` by one user from one store (as the ranks of a Slurm job start
# containers), berth beside Podman when Podman is installed.
#
#   bench/scale.sh [-n ROUNDS] [-c CONCURRENT] [--berth PATH]
#
# ROUNDS (default 5) rounds of CONCURRENT (default 64) runs each; prints the
# median round time, the runs per second, the failures, and berth's time
# as a ratio to Podman's. PATH defaults to target/release/berth (built
# here). Invoked as root, it measures as $BENCH_USER (default berth-sub).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=5
concurrent=64
berth=""
inner=false
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--rounds) rounds=$2; shift 2 ;;
        -c|--concurrent) concurrent=$2; shift 2 ;;
        --berth) berth=$2; shift 2 ;;
        --inner) inner=true; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# One round: CONCURRENT runs at once; prints "milliseconds failures".
round() {
    local cmd=$1 dir=$2 pids=() fails=0 t0 t1
    t0=$(date +%s%N)
    for ((i = 0; i < concurrent; i++)); do
        $cmd >"$dir/out.$i" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) $fails"
}

measure() {
    local dir=$BENCH_DIR
    export BERTH_ROOT=$dir/store
    local b=$dir/berth
    "$b" load -q -i "$dir/busybox.tar"
    local names=("berth") cmds=("$b run --rm busybox true")
    if command -v podman >/dev/null && podman load -q -i "$dir/busybox.tar" >/dev/null 2>&1 &&
        podman run --rm busybox true >/dev/null 2>&1; then
        names+=("podman"); cmds+=("podman run --rm busybox true")
    else
        echo "skipped podman: not installed or cannot run here (apt-get install podman)" >&2
    fi
    echo "$rounds rounds of $concurrent concurrent runs each"
    local medians=()
    printf '%-8s %14s %10s %10s\n' "tool" "median (ms)" "runs/s" "failures"
    for i in "${!names[@]}"; do
        ${cmds[$i]} >/dev/null 2>&1 || true  # warm the caches
        local times=() failures=0
        for ((r = 0; r < rounds; r++)); do
            read -r ms f < <(round "${cmds[$i]}" "$dir")
            times+=("$ms")
            failures=$((failures + f))
        done
        local median
        median=$(printf '%s\n' "${times[@]}" | bench_median)
        medians+=("$median")
        printf '%-8s %14s %10s %10s\n' "${names[$i]}" "$median" \
            "$(awk -v c="$concurrent" -v m="$median" 'BEGIN { printf "%.1f", c * 1000 / m }')" \
            "$failures/$((rounds * concurrent))"
        if [ "$failures" -gt 0 ]; then
            echo "  a failed ${names[$i]} run said: $(grep -l . "$dir"/out.* | head -1 | xargs -r tail -2)" >&2
        fi
    done
    if [ ${#medians[@]} -eq 2 ]; then
        echo "berth / podman: $(awk -v a="${medians[0]}" -v b="${medians[1]}" 'BEGIN { printf "%.2fx", a / b }')"
    fi
}

if $inner; then
    measure
    exit
fi

bench_find_berth scale.sh
bench_prepare scale "$0"
bench_run_inner scale.sh -n "$rounds" -c "$concurrent"
