#!/bin/bash
# Registry benchmark: a cold pull of the debian image from a loopback
# registry (docker-registry started here), berth beside `skopeo copy` to a
# directory (download and verify only, no unpacking) and `podman pull`
# when installed. Every run uses a fresh store; nothing is measured right
# after a store was deleted (ext4 without a journal is slow then): all
# stores are deleted at the end.
#
#   bench/pull.sh [-n RUNS] [--berth PATH]
#
# RUNS defaults to 5. Needs docker-registry, skopeo and the fixture
# /var/cache/berth-test/debian.tar (or $BERTH_TEST_FIXTURES/debian.tar).
# The goal (not a test): berth's median at or under 0.5 s.
set -euo pipefail

runs=5
berth=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) runs=$2; shift 2 ;;
        --berth) berth=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "pull.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "$berth" ]; then
    (cd "$repo" && cargo build --release -q)
    berth=$repo/target/release/berth
fi
berth=$(realpath "$berth")
fixture=${BERTH_TEST_FIXTURES:-/var/cache/berth-test}/debian.tar
[ -f "$fixture" ] || { echo "pull.sh: $fixture is missing (scripts/fixtures.sh)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-pull-bench.XXXXXX")
reg_pid=""
cleanup() {
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
    rm -rf "$dir" 2>/dev/null || unshare --map-root-user --map-auto rm -rf "$dir" 2>/dev/null || true
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$dir/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$dir/registry.yml" >/dev/null 2>&1 &
reg_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
image=127.0.0.1:$port/debian:12
skopeo copy -q --dest-tls-verify=false "docker-archive:$fixture" "docker://$image"

# Milliseconds of one run of "$@".
time_ms() {
    local t0 t1
    t0=$(date +%s%N)
    if ! "$@" >/dev/null 2>"$dir/err"; then
        echo "pull.sh: $* failed: $(tail -3 "$dir/err")" >&2
        echo fail
        return
    fi
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A results
n=0
run_berth() { BERTH_ROOT=$dir/berth-$n HOME=$dir/home "$berth" pull -q "$image"; }
run_skopeo() { skopeo copy -q --src-tls-verify=false "docker://$image" "dir:$dir/skopeo-$n"; }
run_podman() {
    podman --root "$dir/podman-$n" --runroot "$dir/podman-run-$n" pull -q --tls-verify=false "$image"
}
tools=(berth skopeo)
command -v podman >/dev/null && tools+=(podman)
for tool in "${tools[@]}"; do
    times=()
    for _ in $(seq "$runs"); do
        t=$(time_ms "run_$tool")
        [ "$t" = fail ] && exit 1
        times+=("$t")
        n=$((n + 1))
    done
    results[$tool]=$(printf '%s\n' "${times[@]}" | median)
done

printf '%-34s %12s %10s\n' "cold pull of debian:12" "median (ms)" "vs berth"
for tool in "${tools[@]}"; do
    printf '%-34s %12s %10s\n' "$tool" "${results[$tool]}" \
        "$(awk -v a="${results[$tool]}" -v b="${results[berth]}" 'BEGIN { printf "%.2fx", a / b }')"
done
verdict=$(awk -v m="${results[berth]}" 'BEGIN { print (m <= 500 ? "met" : "not met") }')
echo "goal: berth cold pull median <= 500 ms: $verdict (${results[berth]} ms)"
