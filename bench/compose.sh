#!/bin/bash
# Compose benchmark: `compose up -d` and `compose down` of a three-service
# project (web -> api -> db, a named volume) from cached images, and
# `compose config` of it, with berth beside podman-compose when installed.
#
#   bench/compose.sh [-n RUNS] [--berth PATH]
#
# RUNS (default 5) up/down cycles per tool; prints each step's median in
# milliseconds and berth's time as a ratio to podman-compose's. PATH
# defaults to target/release/berth (built here). Invoked as root, it
# measures as $BENCH_USER (default berth-sub).
# The goals (not tests): up -d and down each <= 0.1x podman-compose's
# time; config <= 10 ms.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=5
berth=""
inner=false
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) runs=$2; shift 2 ;;
        --berth) berth=$2; shift 2 ;;
        --inner) inner=true; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "compose.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# Milliseconds "$@" took (its output to $BENCH_DIR/last.log; a failure ends the bench).
timed() {
    local t0 t1
    # bash's clock: no process is started around the measured command.
    t0=$EPOCHREALTIME
    if ! "$@" >"$BENCH_DIR/last.log" 2>&1; then
        echo "compose.sh: '$*' failed:" >&2
        tail -5 "$BENCH_DIR/last.log" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

# Prints "UP_MEDIAN DOWN_MEDIAN" of $runs cycles of `$1 up -d` / `$1 down`.
cycle() {
    local tool=$1 ups=() downs=()
    # shellcheck disable=SC2086
    $tool up -d >/dev/null 2>&1 && $tool down >/dev/null 2>&1  # warm the caches
    for ((r = 0; r < runs; r++)); do
        # shellcheck disable=SC2086
        ups+=("$(timed $tool up -d)")
        # shellcheck disable=SC2086
        downs+=("$(timed $tool down -t 1)")
    done
    echo "$(printf '%s\n' "${ups[@]}" | bench_median "%.1f") $(printf '%s\n' "${downs[@]}" | bench_median "%.1f")"
}

measure() {
    local dir=$BENCH_DIR
    export BERTH_ROOT=$dir/store
    local b=$dir/berth
    "$b" load -q -i "$dir/busybox.tar" >/dev/null
    mkdir -p "$dir/bench" && cd "$dir/bench"
    cat > compose.yaml <<'YAML'
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    environment:
      API: "http://api:${API_PORT:-3000}"
    depends_on: [api]
  api:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    depends_on:
      db:
        condition: service_started
  db:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    volumes: ["db-data:/data"]
volumes:
  db-data: {}
YAML
    echo "$runs up -d / down cycles of a three-service project (web -> api -> db, a named volume)"
    read -r bu bd < <(cycle "$b compose")
    local cfg=()
    for ((r = 0; r < 20; r++)); do cfg+=("$(timed "$b" compose config)"); done
    local bc
    bc=$(printf '%s\n' "${cfg[@]}" | bench_median "%.1f")
    printf '%-16s %12s %12s %14s\n' "tool" "up -d (ms)" "down (ms)" "config (ms)"
    printf '%-16s %12s %12s %14s\n' "berth" "$bu" "$bd" "$bc"
    if command -v podman-compose >/dev/null && podman load -q -i "$dir/busybox.tar" >/dev/null 2>&1 &&
        podman run --rm busybox:latest true >/dev/null 2>&1; then
        read -r pu pd < <(cycle "podman-compose")
        printf '%-16s %12s %12s %14s\n' "podman-compose" "$pu" "$pd" "-"
        awk -v bu="$bu" -v bd="$bd" -v pu="$pu" -v pd="$pd" \
            'BEGIN { printf "berth / podman-compose: up -d %.3fx, down %.3fx (goal <= 0.1x each)\n", bu / pu, bd / pd }'
        podman rmi -f busybox:latest >/dev/null 2>&1 || true
        podman volume rm -f bench_db-data >/dev/null 2>&1 || true
    else
        echo "skipped podman-compose: not installed or podman cannot run here (apt-get install podman-compose)" >&2
    fi
    echo "config goal: <= 10 ms"
}

if $inner; then
    measure
    exit
fi

bench_find_berth compose.sh
bench_prepare compose "$0"
bench_run_inner compose.sh -n "$runs"
