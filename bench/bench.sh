#!/bin/bash
# Start-up benchmark: how long `berth run --rm busybox true` takes beside
# bubblewrap on the same root filesystem (the floor: namespaces and mounts,
# nothing else), and berth's `exec` and `run -d` + `kill` + `rm` beside
# Podman's, all measured in one run.
#
#   bench/bench.sh [-n RUNS] [--berth PATH]
#
# RUNS defaults to 50. PATH defaults to target/release/berth (built here).
# Uses hyperfine when installed, else a shell loop timed with date +%s%N.
# The commands take turns in rounds of about 10 runs (at least 4 rounds;
# RUNS/10 from 50 runs up), and each median is over all the runs of a
# command, so that the machine's drift within the minute falls on both
# sides of a ratio.
# Invoked as root, it measures as each unprivileged user of $BENCH_USERS
# (default: berth-nosub, without a subordinate id range, then berth-sub,
# with one; created when missing), one after the other in the same run:
# those are the cases berth is for. Invoked as another user, as that user.
#
# Then the median time of each launch step, from BERTH_TRACE=1.
#
# Goals (issue 8), each a ratio in this run:
#   berth run --rm --network none  <= 1.5x bwrap without a subuid range,
#                                  <= 2x bwrap with one;
#   berth exec        about 36x faster than podman exec (not slower than 30x);
#   run -d+kill+rm    about 7x faster than Podman's (not slower than 6x).
set -euo pipefail

runs=50
berth=""
inner=false
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) runs=$2; shift 2 ;;
        --berth) berth=$2; shift 2 ;;
        --inner) inner=true; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# The measuring half: runs as the user, in a directory prepared for it
# ($BENCH_DIR: berth, busybox.tar, rootfs/).
measure() {
    local dir=$BENCH_DIR
    export BERTH_ROOT=$dir/store-$(id -un)
    # A runtime directory of the bench's own: its user namespace keeper is
    # the measured binary's, not one left by a berth the user ran before.
    export XDG_RUNTIME_DIR=$dir/run-$(id -un)
    mkdir -p -m 700 "$XDG_RUNTIME_DIR"
    local b=$dir/berth
    "$b" load -q -i "$dir/busybox.tar" 2>/dev/null
    local subids=no
    grep -q "^$(id -un):" /etc/subuid 2>/dev/null && subids=yes
    echo "== as $(id -un) (subordinate id range: $subids)"

    local names=() cmds=()
    add() { # name, command: kept only if it works once
        local err
        if err=$(eval "$2" 2>&1 >/dev/null); then
            names+=("$1"); cmds+=("$2")
        else
            echo "skipped $1: \`$2\` fails: $(echo "$err" | tail -2)" >&2
        fi
    }
    # The container exec runs in, and Podman's.
    local target podman_target=""
    target=$("$b" run -d --network none busybox sleep 3600 2>/dev/null)
    # The floor first, then what is compared with it: nothing measured
    # before (the network helpers and monitors of the runs with -d, which
    # finish their work after the command returned) disturbs either.
    if command -v bwrap >/dev/null; then
        add "bwrap" "bwrap --unshare-all --ro-bind $dir/rootfs / --proc /proc --dev /dev true"
    else
        echo "skipped bwrap: not installed (apt-get install bubblewrap)" >&2
    fi
    add "berth run --rm --network none" "$b run --rm --network none busybox true"
    add "berth run --rm" "$b run --rm busybox true"
    add "berth exec" "$b exec $target true"
    # A compound command: run through bash, whose own start (about 1 ms)
    # is included in this figure and Podman's.
    add "berth run -d + kill + rm" "bash -c 'c=\$($b run -d busybox sleep 60) && $b kill \$c >/dev/null && $b rm \$c >/dev/null'"
    # Podman on a store of its own: its database remembers the runtime
    # directory it was first used with, and the user's default store may
    # name the runtime directory of an earlier bench run (then every
    # command fails: "creating events dirs: ... permission denied").
    local pstore="--root $dir/podman-$(id -un)/root --runroot $dir/podman-$(id -un)/run --storage-driver overlay"
    local perr=""
    if command -v podman >/dev/null && ! perr=$(podman $pstore load -q -i "$dir/busybox.tar" 2>&1); then
        echo "skipped podman: \`podman load\` fails: $(echo "$perr" | tail -2)" >&2
    elif command -v podman >/dev/null; then
        # Debian's crun refuses a host whose cgroup2 hierarchy holds a
        # controller beside cgroup v1 ("cgroups in hybrid mode not
        # supported"); runc runs Podman's containers there.
        local podman="podman $pstore"
        if ! $podman run --rm busybox true >/dev/null 2>&1 && command -v runc >/dev/null &&
            $podman --runtime runc run --rm busybox true >/dev/null 2>&1; then
            podman="$podman --runtime runc"
            echo "podman: its default OCI runtime fails here; measured with --runtime runc" >&2
        fi
        add "podman run --rm" "$podman run --rm busybox true"
        if podman_target=$($podman run -d busybox sleep 3600 2>/dev/null); then
            add "podman exec" "$podman exec $podman_target true"
        fi
        add "podman run -d + kill + rm" "bash -c 'c=\$($podman run -d busybox sleep 60) && $podman kill \$c >/dev/null && $podman rm \$c >/dev/null'"
    fi
    [ ${#cmds[@]} -gt 0 ] || { echo "bench.sh: nothing to measure" >&2; exit 1; }

    # Network helpers of a run before (they linger 2 s) end first.
    sleep 1
    local medians=()
    # The commands take turns, in rounds of about 10 runs (at least 4
    # rounds), and each median is over all of a command's runs: this
    # machine's speed drifts within a minute (bwrap's own median moved from
    # 5.0 to 5.8 ms between two passes), and a drift must not land on one
    # side of a ratio only; the shorter the rounds, the more of them a slow
    # stretch of a few seconds spreads over.
    local rounds=$(( runs / 10 > 4 ? runs / 10 : 4 ))
    [ "$runs" -lt 8 ] && rounds=1
    local per=$(( (runs + rounds - 1) / rounds ))
    if command -v hyperfine >/dev/null; then
        echo "measuring with hyperfine, $((per * rounds)) runs each, in $rounds alternating rounds"
        local i r json log ignore
        for ((r = 0; r < rounds; r++)); do
            for i in "${!cmds[@]}"; do
                # The kernel tears network namespaces down after their last
                # process left, in a worker, for a while: what one command
                # left must not slow the next one measured.
                sleep 2
                json="$dir/results-$(id -un)-$i-$r.json" log="$dir/hyperfine-$(id -un).log"
                # Podman's commands fail now and then on a busy machine (a
                # kill racing its cleanup): a failed run is kept, not fatal.
                # berth's must all succeed.
                ignore=()
                [[ ${names[$i]} == podman* ]] && ignore=(--ignore-failure)
                hyperfine -N --style basic --warmup 3 --runs "$per" "${ignore[@]}" --export-json "$json" \
                    -n "${names[$i]}" "${cmds[$i]}" >>"$log" 2>&1 || { tail -5 "$log" >&2; exit 1; }
            done
        done
        for i in "${!cmds[@]}"; do
            medians+=("$(bench_hyperfine_median "%.3f" "$dir/results-$(id -un)-$i-"*.json)")
        done
    else
        echo "measuring with a shell loop (install hyperfine for better numbers), $((per * rounds)) runs each, in $rounds alternating rounds"
        local all=() r
        for i in "${!cmds[@]}"; do
            all+=("")
            for _ in 1 2 3; do eval "${cmds[$i]}" >/dev/null 2>&1 || true; done
        done
        for ((r = 0; r < rounds; r++)); do
            for i in "${!cmds[@]}"; do
                local t0 t1 k
                for ((k = 0; k < per; k++)); do
                    t0=$(date +%s%N)
                    eval "${cmds[$i]}" >/dev/null 2>&1
                    t1=$(date +%s%N)
                    all[$i]+=" $(( (t1 - t0) / 1000 ))"
                done
            done
        done
        for i in "${!cmds[@]}"; do
            medians+=("$(printf '%s\n' ${all[$i]} | sort -n | awk '
                { v[NR] = $1 }
                END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1000 }')")
        done
    fi
    "$b" rm -f "$target" >/dev/null 2>&1 || true
    if [ -n "${podman:-}" ]; then
        [ -n "$podman_target" ] && $podman rm -f -t 0 "$podman_target" >/dev/null 2>&1 || true
        # Its layers belong to the user's subordinate ids.
        $podman unshare rm -rf "$dir/podman-$(id -un)" >/dev/null 2>&1 || true
    fi
    # Podman's pause process (the keeper of its user namespace, started
    # even by a load that failed) would outlive this runtime directory.
    [ -f "$XDG_RUNTIME_DIR/libpod/tmp/pause.pid" ] && kill "$(cat "$XDG_RUNTIME_DIR/libpod/tmp/pause.pid")" 2>/dev/null || true

    median_of() { # name → median, empty when not measured
        local i
        for i in "${!names[@]}"; do [ "${names[$i]}" = "$1" ] && echo "${medians[$i]}"; done
        return 0
    }
    local floor
    floor=$(median_of bwrap)
    echo
    printf '%-32s %12s %10s\n' "command" "median (ms)" "vs bwrap"
    for i in "${!names[@]}"; do
        local ratio="-"
        [ -n "$floor" ] && ratio=$(awk -v a="${medians[$i]}" -v b="$floor" 'BEGIN { printf "%.2fx", a / b }')
        printf '%-32s %12s %10s\n' "${names[$i]}" "${medians[$i]}" "$ratio"
    done
    verdict() { # label, value, op, limit
        awk -v l="$1" -v v="$2" -v op="$3" -v lim="$4" 'BEGIN {
            ok = (op == "<=") ? (v <= lim) : (v >= lim)
            printf "goal: %-44s %6.2fx (%s %s): %s\n", l, v, op, lim, ok ? "met" : "NOT MET" }'
    }
    local run_none exec_b exec_p life_b life_p
    run_none=$(median_of "berth run --rm --network none")
    if [ -n "$floor" ] && [ -n "$run_none" ]; then
        local limit=1.5
        [ "$subids" = yes ] && limit=2
        verdict "run --rm --network none / bwrap" "$(awk -v a="$run_none" -v b="$floor" 'BEGIN { print a / b }')" "<=" "$limit"
    fi
    exec_b=$(median_of "berth exec"); exec_p=$(median_of "podman exec")
    if [ -n "$exec_b" ] && [ -n "$exec_p" ]; then
        verdict "podman exec / berth exec" "$(awk -v a="$exec_p" -v b="$exec_b" 'BEGIN { print a / b }')" ">=" 30
    fi
    life_b=$(median_of "berth run -d + kill + rm"); life_p=$(median_of "podman run -d + kill + rm")
    if [ -n "$life_b" ] && [ -n "$life_p" ]; then
        verdict "podman / berth run -d + kill + rm" "$(awk -v a="$life_p" -v b="$life_b" 'BEGIN { print a / b }')" ">=" 6
    fi
    echo
    trace_launch
}

# Where the time of `run --rm --network none` goes: BERTH_TRACE=1 over
# a few launches, the median time of each step (ms since the CLI started)
# and the median time it took since the step before.
trace_launch() {
    local b=$BENCH_DIR/berth traces=$BENCH_DIR/traces-$(id -un) n=15
    : >"$traces"
    for ((r = 0; r < n; r++)); do
        BERTH_TRACE=1 "$b" run --rm --network none busybox true 2>&1 >/dev/null |
            grep '^berth-trace' >>"$traces" || true
        echo "--" >>"$traces"
    done
    echo "where the time goes: BERTH_TRACE=1 $b run --rm --network none busybox true ($n launches)"
    python3 - "$traces" <<'PY'
import re, statistics, sys
runs, cur = [], []
for line in open(sys.argv[1]):
    if line.startswith("--"):
        runs.append(cur); cur = []
        continue
    m = re.match(r"berth-trace\s+([\d.]+) ms\s+(\S+)\s+(.*)", line.rstrip("\n"))
    if m:
        cur.append((m.group(2), m.group(3), float(m.group(1))))
order, at, step = [], {}, {}
for run in runs:
    prev = 0.0
    for role, what, ms in run:
        key = (role, what)
        if key not in at:
            order.append(key); at[key] = []; step[key] = []
        at[key].append(ms); step[key].append(ms - prev); prev = ms
if not order:
    print("  (no trace lines: is this berth built with BERTH_TRACE?)")
print("  %9s %9s  %-8s %s" % ("at (ms)", "step", "process", "step finished"))
for key in order:
    print("  %9.2f %9.2f  %-8s %s" % (statistics.median(at[key]), statistics.median(step[key]), key[0], key[1]))
PY
    echo
}

# bench/lib.sh, or its copy beside this script's in $BENCH_DIR (--inner).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if $inner; then
    measure
    exit
fi

bench_find_berth bench.sh

# Some machines keep /tmp to root: then the user's cache will do.
BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX" 2>/dev/null) ||
    BENCH_DIR=$(mkdir -p "$HOME/.cache" && mktemp -d "$HOME/.cache/berth-bench.XXXXXX")
export BENCH_DIR
cleanup() {
    # Layers unpacked under a subordinate id map are not all ours to delete.
    for store in "$BENCH_DIR"/store-*; do
        [ -d "$store" ] || continue
        local owner
        owner=$(stat -c %U "$store")
        if [ "$(id -u)" = 0 ] && [ "$owner" != root ]; then
            setpriv --reuid="$owner" --regid="$owner" --init-groups -- \
                env BERTH_ROOT="$store" HOME="$(getent passwd "$owner" | cut -d: -f6)" \
                "$BENCH_DIR/berth" unshare rm -rf "$store" 2>/dev/null || true
        else
            BERTH_ROOT="$store" "$BENCH_DIR/berth" unshare rm -rf "$store" 2>/dev/null || true
        fi
    done
    rm -rf "$BENCH_DIR" 2>/dev/null || true
}
trap cleanup EXIT
cp "$berth" "$BENCH_DIR/berth"
cp "$0" "$BENCH_DIR/bench.sh"
cp "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$BENCH_DIR/lib.sh"
python3 "$repo/scripts/fixtures/mkimage.py" --busybox "$(command -v busybox || echo /bin/busybox)" \
    -o "$BENCH_DIR/busybox.tar" -t busybox:latest >/dev/null
mkdir "$BENCH_DIR/rootfs"
layer=$(tar -xOf "$BENCH_DIR/busybox.tar" manifest.json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Layers"][0])')
tar -xOf "$BENCH_DIR/busybox.tar" "$layer" | tar -x -C "$BENCH_DIR/rootfs" --no-same-owner
chmod -R a+rX "$BENCH_DIR"
chmod 1777 "$BENCH_DIR"

# build.rs has the linker put the functions of launch-order.txt first:
# how many of them this binary has (a new Rust or changed dependencies
# rename them all; then bench/launch-order.sh makes the list again).
if command -v nm >/dev/null && [ -f "$repo/launch-order.txt" ]; then
    listed=$(grep -v '^#' "$repo/launch-order.txt" | sort -u)
    found=$(nm --defined-only "$berth" 2>/dev/null | awk '{ print $3 }' | sort -u |
        comm -12 - <(echo "$listed") | wc -l)
    total=$(echo "$listed" | wc -l)
    echo "launch order: $found of the $total functions of launch-order.txt are in $berth"
    if [ $((found * 10)) -lt $((total * 9)) ]; then
        echo "  (launches fault in more code than they need: run bench/launch-order.sh as root)"
    fi
fi

if [ "$(id -u)" = 0 ]; then
    for user in ${BENCH_USERS:-berth-nosub berth-sub}; do
        id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
        setpriv --reuid="$user" --regid="$user" --init-groups -- \
            env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH="/usr/local/bin:/usr/bin:/bin" \
            BENCH_DIR="$BENCH_DIR" bash "$BENCH_DIR/bench.sh" --inner -n "$runs"
    done
else
    bash "$BENCH_DIR/bench.sh" --inner -n "$runs"
fi
