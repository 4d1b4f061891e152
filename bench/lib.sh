# Shared by the benchmark scripts (sourced, not run): finding or building
# berth, a scratch directory the measuring user can read, running the
# script's measuring half as that user, and medians.
#
# A script sources it from its own directory, which is bench/ in the
# repository and $BENCH_DIR when the script runs again as the user
# (bench_prepare copies it there).

# The median of the numbers on stdin, one a line, printed with the printf
# format $1 (default: as awk prints numbers).
bench_median() {
    sort -n | awk -v fmt="${1:-%s}" '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (fmt == "%s") print m; else printf fmt "\n", m }'
}

# The median, in ms, of every run in the hyperfine JSON files named after
# $1, the printf format (a command's rounds, measured in turns with other
# commands, each in a file of its own).
bench_hyperfine_median() {
    local fmt=$1
    shift
    python3 -c '
import json, statistics, sys
times = [t for f in sys.argv[2:] for t in json.load(open(f))["results"][0]["times"]]
print(sys.argv[1] % (statistics.median(times) * 1000))' "$fmt" "$@"
}

# Sets $berth to the binary to measure: $berth when given (it must be
# executable), else target/release/berth built now. $1 names the script
# in errors.
bench_find_berth() {
    local script=$1
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [ -z "${berth:-}" ]; then
        if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        fi
        (cd "$repo" && cargo build --release -q)
        berth=$repo/target/release/berth
    fi
    [ -x "$berth" ] || { echo "$script: $berth is not an executable" >&2; exit 1; }
}

# Makes $BENCH_DIR (removed on exit) holding berth, the calling script
# ($2) and this file, and busybox.tar made from the host's busybox.
# $1 names the directory.
bench_prepare() {
    local name=$1 script=$2
    BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/berth-$name.XXXXXX" 2>/dev/null) ||
        BENCH_DIR=$(mkdir -p "$HOME/.cache" && mktemp -d "$HOME/.cache/berth-$name.XXXXXX")
    export BENCH_DIR
    trap bench_cleanup EXIT
    cp "$berth" "$BENCH_DIR/berth"
    cp "$script" "$BENCH_DIR/$(basename "$script")"
    cp "${BASH_SOURCE[0]}" "$BENCH_DIR/lib.sh"
    python3 "$repo/scripts/fixtures/mkimage.py" --busybox "$(command -v busybox || echo /bin/busybox)" \
        -o "$BENCH_DIR/busybox.tar" -t busybox:latest >/dev/null
    chmod -R a+rX "$BENCH_DIR"
}

bench_cleanup() {
    # Layers unpacked under a subordinate id map are not all ours to delete.
    rm -rf "$BENCH_DIR" 2>/dev/null ||
        unshare --map-root-user --map-auto rm -rf "$BENCH_DIR" 2>/dev/null || true
}

# Runs the copied script ($1, a file name in $BENCH_DIR) with --inner and
# the remaining arguments: as root, as the unprivileged user $BENCH_USER
# (default berth-sub, created when missing) with a clean environment and
# a runtime directory of its own (Podman needs one); otherwise as is.
bench_run_inner() {
    local script=$1
    shift
    if [ "$(id -u)" = 0 ]; then
        local user=${BENCH_USER:-berth-sub} home rundir
        id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
        chown -R "$user:" "$BENCH_DIR"
        home=$(getent passwd "$user" | cut -d: -f6)
        rundir=/tmp/berth-bench-run-$(id -u "$user")
        mkdir -p "$rundir" && chown "$user:" "$rundir" && chmod 700 "$rundir"
        bench_podman_store "$user"
        echo "measuring as $user"
        (cd "$BENCH_DIR" && setpriv --reuid="$user" --regid="$user" --init-groups -- \
            env -i HOME="$home" PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
            XDG_RUNTIME_DIR="$rundir" BENCH_DIR="$BENCH_DIR" CONTAINERS_STORAGE_CONF="$CONTAINERS_STORAGE_CONF" \
            bash "$BENCH_DIR/$script" --inner "$@")
    else
        bench_podman_store "$(id -un)"
        bash "$BENCH_DIR/$script" --inner "$@"
    fi
}

# Points Podman ($CONTAINERS_STORAGE_CONF) at a store in $BENCH_DIR owned
# by user $1, with native overlay: its database remembers the runtime
# directory it was first used with, so the user's own store can hold one
# that no longer exists (then every podman command fails), and measuring
# must not fill or change it.
bench_podman_store() {
    local dir=$BENCH_DIR/podman
    mkdir -p "$dir"
    # rootless_storage_path is the graphroot of a user without root.
    printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/run"\nrootless_storage_path = "%s/root"\n' \
        "$dir" "$dir" "$dir" >"$dir/storage.conf"
    [ "$(id -u)" = 0 ] && chown -R "$1:" "$dir"
    export CONTAINERS_STORAGE_CONF=$dir/storage.conf
}
