#!/bin/bash
# Remakes launch-order.txt: berth's functions in the order a launch first
# runs them, which build.rs hands to the linker so that they sit together
# at the start of the code (see build.rs for why and what it saves).
#
#   bench/launch-order.sh
#
# Run it as root, from any directory, after a Rust upgrade or a change of
# dependencies (they rename every function: bench.sh then reports that few
# of the listed names are in the binary), or after a large change to the
# launch path. Needs gcc, nm, readelf and python3. It builds the release
# binary, then single-steps (bench/sstrace.c, ~2 minutes each) the
# launches bench.sh measures (with its environment), as each user of $BENCH_USERS (default
# berth-nosub, without a subordinate id range, then berth-sub, with one;
# created when missing):
#   run --rm --network none busybox true, twice (the second finds the
#   user namespace the first kept), and once on the default network;
#   run -d, exec, kill and rm.
# The functions met first come first. Takes about 30 minutes; the traces
# are kept in target/launch-order/.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "launch-order.sh: run it as root (it traces as the test users, through setuid newuidmap)" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
. "$here/lib.sh"
for tool in gcc nm readelf python3 setpriv; do
    command -v $tool >/dev/null || { echo "launch-order.sh: $tool is missing (apt-get install gcc binutils python3 util-linux)" >&2; exit 1; }
done

berth=""
bench_find_berth launch-order.sh
bench_prepare launch-order "$0"
gcc -O2 -Wall -o "$BENCH_DIR/sstrace" "$here/sstrace.c"
bin=$BENCH_DIR/berth
# The executable segment's bounds: only berth's own code is recorded.
read -r lo hi < <(python3 -c '
import subprocess, sys
for l in subprocess.run(["readelf", "-lW", sys.argv[1]], capture_output=True, text=True).stdout.splitlines():
    f = l.split()
    if len(f) > 7 and f[0] == "LOAD" and "E" in f[6:-1]:
        print(int(f[2], 16), int(f[2], 16) + int(f[5], 16))' "$bin")
[ -n "${hi:-}" ] || { echo "launch-order.sh: no executable segment in $bin" >&2; exit 1; }

# The addresses each trace met, kept (under target/) if a later step fails.
out=$repo/target/launch-order
rm -rf "$out"
mkdir -p "$out"
traces=()
# trace NAME USER ARGS...: single-steps berth ARGS as USER. A command that
# fails is reported, and what it ran is used all the same.
trace() {
    local name=$1 user=$2 home
    shift 2
    home=$(getent passwd "$user" | cut -d: -f6)
    echo "tracing $name as $user: berth $*"
    "$BENCH_DIR/sstrace" "$out/$name.addrs" "$lo" "$hi" "$bin" -- \
        setpriv --reuid="$user" --regid="$user" --init-groups -- \
        env -i HOME="$home" PATH=/usr/bin:/bin BERTH_ROOT="$BENCH_DIR/store-$user" \
        "$bin" "$@" >/dev/null || echo "launch-order.sh: berth $* failed (status $?) as $user" >&2
    traces+=("$out/$name.addrs")
}
# as USER ARGS...: berth ARGS as USER, untraced.
as() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$user" --init-groups -- \
        env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH=/usr/bin:/bin \
        BERTH_ROOT="$BENCH_DIR/store-$user" "$bin" "$@"
}

users=${BENCH_USERS:-berth-nosub berth-sub}
for user in $users; do
    id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
    mkdir -p "$BENCH_DIR/store-$user"
    chown "$user:" "$BENCH_DIR/store-$user"
    # (Its warning about a missing subordinate range is bench.sh's to give.)
    as "$user" load -q -i "$BENCH_DIR/busybox.tar" >/dev/null 2>&1
done
# The first launches find no kept user namespace: the keepers the loads
# left live 10 s after their last use.
sleep 11
for user in $users; do
    trace "$user-cold" "$user" run --rm --network none busybox true
    as "$user" run --rm --network none busybox true
    # A traced command is ~30 times slower: the keeper's record is touched
    # (as each join does) so that it outlives the trace's first steps.
    record=$(find /tmp /run/user -maxdepth 2 -name userns.keeper -user "$user" 2>/dev/null | head -n 1)
    if [ -n "$record" ]; then
        (for _ in $(seq 300); do touch -c "$record"; sleep 1; done) &
        toucher=$!
    fi
    trace "$user-warm" "$user" run --rm --network none busybox true
    [ -z "$record" ] || kill "$toucher"
done
for user in $users; do
    trace "$user-network" "$user" run --rm busybox true
    id=$(as "$user" run -d --network none busybox sleep 600)
    trace "$user-exec" "$user" exec "$id" true
    as "$user" kill "$id" >/dev/null
    as "$user" rm "$id" >/dev/null
    trace "$user-run-d" "$user" run -d busybox sleep 600
    id=$(as "$user" ps -lq)
    trace "$user-kill" "$user" kill "$id"
    trace "$user-rm" "$user" rm "$id"
done

python3 - "$bin" "$repo/launch-order.txt" "$(rustc --version 2>/dev/null || echo rustc)" "${traces[@]}" <<'PY'
import bisect, subprocess, sys
binary, out, rustc, traces = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
symbols = []
for line in subprocess.run(["nm", "-n", "-S", "--defined-only", binary],
                           capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4 and f[2] in "tTwW":
        symbols.append((int(f[0], 16), int(f[1], 16), f[3]))
if not symbols:
    sys.exit("launch-order.sh: %s has no symbol table (is strip on in Cargo.toml?)" % binary)
symbols.sort()
starts = [s[0] for s in symbols]
order, seen, size = [], set(), 0
for trace in traces:
    for line in open(trace):
        address = int(line, 16)
        i = bisect.bisect_right(starts, address) - 1
        if i < 0 or address >= symbols[i][0] + max(symbols[i][1], 1):
            continue
        name = symbols[i][2]
        if name not in seen:
            seen.add(name)
            order.append(name)
            size += symbols[i][1]
with open(out, "w") as f:
    f.write("# Made by bench/launch-order.sh (do not edit): berth's functions in the\n"
            "# order a launch first runs them; build.rs has the linker lay them out so.\n"
            "# %d functions, %d bytes of code; %s.\n" % (len(order), size, rustc))
    f.write("\n".join(order) + "\n")
print("launch-order.sh: wrote %s: %d functions, %d KiB of code" % (out, len(order), size // 1024))
PY
