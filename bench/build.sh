#!/bin/bash
# Build benchmark: `berth build` of the README's small Dockerfile (FROM
# busybox, ENV, LABEL, WORKDIR, two RUN, a COPY of a small context, CMD),
# cold (--no-cache: every step runs) and fully cached, beside `podman
# build` and `buildah bud` on the same context in the same run, and the
# time a cached rebuild spends per instruction.
#
#   bench/build.sh [-n RUNS] [--berth PATH]
#
# RUNS defaults to 20. PATH defaults to target/release/berth (built here).
# Uses hyperfine (apt-get install hyperfine). Invoked as root, it measures
# as an unprivileged user ($BENCH_USER, default berth-sub), the case berth
# is for; podman and buildah run as that user too (rootless).
# The goals (not tests): cold <= 0.3x Podman's median, cached <= 0.1x.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=20
berth=""
inner=false
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) runs=$2; shift 2 ;;
        --berth) berth=$2; shift 2 ;;
        --inner) inner=true; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# The context: the README example, and a Dockerfile of only its FROM
# (to tell what the instructions cost from what every build costs).
make_context() {
    local ctx=$1
    mkdir -p "$ctx/lib"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox
ENV APP_HOME=/app GREETING=hello
LABEL org.opencontainers.image.title="hello" org.opencontainers.image.version="1.0"
WORKDIR /app
RUN echo "built on $(uname -m)" > /build-info
COPY . /app/
RUN chmod +x /app/hello.sh && /app/hello.sh
CMD ["/app/hello.sh"]
EOF
    printf 'FROM busybox\n' >"$ctx/Dockerfile.from"
    cat >"$ctx/hello.sh" <<'EOF'
#!/bin/sh
echo "$GREETING from $APP_HOME ($(cat /build-info))"
EOF
    for i in 1 2 3 4 5 6 7 8; do head -c 2048 /dev/urandom | base64 >"$ctx/lib/part$i.txt"; done
    printf 'Dockerfile*\n' >"$ctx/.dockerignore"
}

measure() {
    local dir=$BENCH_DIR b=$BENCH_DIR/berth ctx=$BENCH_DIR/ctx
    export BERTH_ROOT=$dir/store
    "$b" load -q -i "$dir/busybox.tar" >/dev/null
    make_context "$ctx"
    # Warm both builders' caches.
    "$b" build -q -t bench-app "$ctx" >/dev/null
    "$b" build -q -f "$ctx/Dockerfile.from" -t bench-from "$ctx" >/dev/null
    local names=() cmds=()
    names+=("berth build (cold, --no-cache)"); cmds+=("$b build -q --no-cache -t bench-app $ctx")
    names+=("berth build (cached)"); cmds+=("$b build -q -t bench-app $ctx")
    names+=("berth build FROM only (cached)"); cmds+=("$b build -q -f $ctx/Dockerfile.from -t bench-from $ctx")
    local have_podman=false
    # Podman and buildah on a store of their own with native overlay (the
    # user's default may be vfs, which copies every layer: not their best).
    local pstore="--root $dir/podman/root --runroot $dir/podman/run --storage-driver overlay"
    if command -v podman >/dev/null && podman $pstore load -q -i "$dir/busybox.tar" >/dev/null 2>&1 &&
        podman $pstore build -q -t bench-app "$ctx" >/dev/null 2>&1; then
        have_podman=true
        names+=("podman build (cold, --no-cache)"); cmds+=("podman $pstore build -q --no-cache -t bench-app $ctx")
        names+=("podman build (cached)"); cmds+=("podman $pstore build -q -t bench-app $ctx")
        if command -v buildah >/dev/null && buildah $pstore bud -q -t bench-app "$ctx" >/dev/null 2>&1; then
            names+=("buildah bud (cold, --no-cache)"); cmds+=("buildah $pstore bud -q --no-cache -t bench-app $ctx")
            names+=("buildah bud (cached)"); cmds+=("buildah $pstore bud -q -t bench-app $ctx")
        fi
    else
        echo "skipped podman and buildah: not installed or not working for $(id -un)" >&2
    fi
    local args=()
    for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
    hyperfine -N --style basic --warmup 2 --runs "$runs" --export-json "$dir/results.json" \
        "${args[@]}" >&2
    mapfile -t medians < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.1f" % (r["median"] * 1000))' "$dir/results.json")
    local med=()
    for i in "${!names[@]}"; do med+=("${medians[$i]}"); done
    local podman_cold="" podman_cached=""
    for i in "${!names[@]}"; do
        case "${names[$i]}" in
            "podman build (cold, --no-cache)") podman_cold=${med[$i]} ;;
            "podman build (cached)") podman_cached=${med[$i]} ;;
        esac
    done
    echo
    printf '%-34s %12s %12s\n' "command" "median (ms)" "vs podman"
    for i in "${!names[@]}"; do
        local ratio="-" ref=""
        case "${names[$i]}" in
            *cold*) ref=$podman_cold ;;
            *FROM*) ref="" ;;
            *cached*) ref=$podman_cached ;;
        esac
        [ -n "$ref" ] && ratio=$(awk -v a="${med[$i]}" -v b="$ref" 'BEGIN { printf "%.3fx", a / b }')
        printf '%-34s %12s %12s\n' "${names[$i]}" "${med[$i]}" "$ratio"
    done
    # 7 instructions after FROM: ENV, LABEL, WORKDIR, RUN, COPY, RUN, CMD.
    awk -v all="${med[1]}" -v from="${med[2]}" 'BEGIN {
        printf "berth cached rebuild: %.2f ms per instruction ((%.1f - %.1f ms) / 7)\n", (all - from) / 7, all, from }'
    if $have_podman; then
        awk -v c="${med[0]}" -v pc="$podman_cold" -v k="${med[1]}" -v pk="$podman_cached" 'BEGIN {
            printf "goal: cold <= 0.3x podman: %s (%.3fx); cached <= 0.1x podman: %s (%.3fx)\n",
                (c / pc <= 0.3 ? "met" : "not met"), c / pc, (k / pk <= 0.1 ? "met" : "not met"), k / pk }'
        # The store's files belong to subordinate ids: remove them inside.
        podman $pstore unshare rm -rf "$dir/podman" >/dev/null 2>&1 || true
    fi
}

if $inner; then
    measure
    exit
fi

command -v hyperfine >/dev/null || { echo "build.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
bench_find_berth build.sh
bench_prepare bench-build "$0"
bench_run_inner build.sh -n "$runs"
