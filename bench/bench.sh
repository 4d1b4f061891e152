#!/bin/bash
# Start-up benchmark: how long `berth run --rm busybox true` takes, beside
# bubblewrap on the same root filesystem (the floor: namespaces and mounts,
# nothing else) and podman when it is installed.
#
#   bench/bench.sh [-n RUNS] [--berth PATH]
#
# RUNS defaults to 50. PATH defaults to target/release/berth (built here).
# Uses hyperfine when installed, else a shell loop timed with date +%s%N.
# Invoked as root, it measures as an unprivileged user ($BENCH_USER, default
# berth-sub, created when missing): that is the case berth is for.
# The goal (not a test): berth's median at or under 10 ms.
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
    export BERTH_ROOT=$dir/store
    local b=$dir/berth
    "$b" load -q -i "$dir/busybox.tar"

    local names=() cmds=()
    add() { # name, command: kept only if it works once
        local err
        if err=$(eval "$2" 2>&1 >/dev/null); then
            names+=("$1"); cmds+=("$2")
        else
            echo "skipped $1: \`$2\` fails: $(echo "$err" | tail -2)" >&2
        fi
    }
    add "berth run --rm" "$b run --rm busybox true"
    add "berth run --rm --network none" "$b run --rm --network none busybox true"
    # A compound command: run through bash, whose own start (about 1 ms)
    # is included in this figure.
    add "berth run -d + kill + rm" "bash -c 'c=\$($b run -d busybox sleep 60) && $b kill \$c >/dev/null && $b rm \$c >/dev/null'"
    if command -v bwrap >/dev/null; then
        add "bwrap" "bwrap --unshare-all --ro-bind $dir/rootfs / --proc /proc --dev /dev true"
    else
        echo "skipped bwrap: not installed (apt-get install bubblewrap)" >&2
    fi
    if command -v podman >/dev/null && podman load -q -i "$dir/busybox.tar" >/dev/null 2>&1; then
        add "podman run --rm" "podman run --rm busybox true"
    fi
    [ ${#cmds[@]} -gt 0 ] || { echo "bench.sh: nothing to measure" >&2; exit 1; }

    local medians=()
    if command -v hyperfine >/dev/null; then
        echo "measuring with hyperfine, $runs runs each"
        local args=()
        for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
        hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$dir/results.json" \
            "${args[@]}" >&2
        mapfile -t medians < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.3f" % (r["median"] * 1000))' "$dir/results.json")
    else
        echo "measuring with a shell loop (install hyperfine for better numbers), $runs runs each"
        for i in "${!cmds[@]}"; do
            local times=() t0 t1
            for _ in 1 2 3; do eval "${cmds[$i]}" >/dev/null 2>&1 || true; done
            for ((r = 0; r < runs; r++)); do
                t0=$(date +%s%N)
                eval "${cmds[$i]}" >/dev/null 2>&1
                t1=$(date +%s%N)
                times+=($(( (t1 - t0) / 1000 )))
            done
            medians+=("$(printf '%s\n' "${times[@]}" | sort -n | awk '
                { v[NR] = $1 }
                END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1000 }')")
        done
    fi

    local floor=""
    for i in "${!names[@]}"; do [ "${names[$i]}" = bwrap ] && floor=${medians[$i]}; done
    echo
    printf '%-32s %12s %10s\n' "command" "median (ms)" "vs bwrap"
    for i in "${!names[@]}"; do
        local ratio="-"
        [ -n "$floor" ] && ratio=$(awk -v a="${medians[$i]}" -v b="$floor" 'BEGIN { printf "%.2fx", a / b }')
        printf '%-32s %12s %10s\n' "${names[$i]}" "${medians[$i]}" "$ratio"
    done
    if [ "${names[0]}" = "berth run --rm" ]; then
        local verdict
        verdict=$(awk -v m="${medians[0]}" 'BEGIN { print (m <= 10 ? "met" : "not met") }')
        echo "goal: berth run --rm median <= 10 ms: $verdict (${medians[0]} ms)"
    fi
}

if $inner; then
    measure
    exit
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "$berth" ]; then
    if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    (cd "$repo" && cargo build --release -q)
    berth=$repo/target/release/berth
fi
[ -x "$berth" ] || { echo "bench.sh: $berth is not an executable" >&2; exit 1; }

# Some machines keep /tmp to root: then the user's cache will do.
BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX" 2>/dev/null) ||
    BENCH_DIR=$(mkdir -p "$HOME/.cache" && mktemp -d "$HOME/.cache/berth-bench.XXXXXX")
export BENCH_DIR
cleanup() {
    # Layers unpacked under a subordinate id map are not all ours to delete.
    rm -rf "$BENCH_DIR" 2>/dev/null ||
        unshare --map-root-user --map-auto rm -rf "$BENCH_DIR" 2>/dev/null || true
}
trap cleanup EXIT
cp "$berth" "$BENCH_DIR/berth"
cp "$0" "$BENCH_DIR/bench.sh"
python3 "$repo/scripts/fixtures/mkimage.py" --busybox "$(command -v busybox || echo /bin/busybox)" \
    -o "$BENCH_DIR/busybox.tar" -t busybox:latest >/dev/null
mkdir "$BENCH_DIR/rootfs"
layer=$(tar -xOf "$BENCH_DIR/busybox.tar" manifest.json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Layers"][0])')
tar -xOf "$BENCH_DIR/busybox.tar" "$layer" | tar -x -C "$BENCH_DIR/rootfs" --no-same-owner
chmod -R a+rX "$BENCH_DIR"

if [ "$(id -u)" = 0 ]; then
    user=${BENCH_USER:-berth-sub}
    id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
    chown -R "$user:" "$BENCH_DIR"
    echo "measuring as $user"
    setpriv --reuid="$user" --regid="$user" --init-groups -- \
        env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH="/usr/local/bin:/usr/bin:/bin" \
        BENCH_DIR="$BENCH_DIR" bash "$BENCH_DIR/bench.sh" --inner -n "$runs"
else
    bash "$BENCH_DIR/bench.sh" --inner -n "$runs"
fi
