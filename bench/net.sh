#!/bin/bash
# Networking benchmark: berth's networks measured through `berth run`,
# beside the host's own loopback, pasta's port forwarding and rootless
# Podman (when installed) in one run; medians and ratios printed.
#
#   bench/net.sh [-t SECONDS] [-n RUNS] [--berth PATH] [--no-podman] [--only-p]
#
# Each throughput is the median of RUNS (default 3) iperf3 runs of SECONDS
# (default 3), one TCP stream; iperf3 runs in busybox containers from the
# host's /usr (bind mounts), so no image beyond busybox is needed:
#   - host -> container and container -> host through `-p` (the monitor's
#     splice forwarder), vs the host's loopback (goal >= 0.9x) and vs
#     `pasta -t` and Podman's rootlessport doing the same;
#   - container -> a server on the host through host.docker.internal (the
#     helper's userspace NAT), vs Podman's slirp4netns (goal >= 2x);
#   - container -> container on one user network, vs a Podman bridge;
#   - the forwarder's CPU per GB moved (the monitor's own time), and how
#     many cores the machine kept busy during loopback and `-p`;
#   - resident memory: the monitor of a container with one -p (goal <=
#     3 MiB), a network helper with ten members (goal <= 8 MiB);
#   - `run --rm busybox true` on the default network, on a user network
#     whose helper runs, and with --network none (goal <= 1.2x none;
#     Podman 4.3: 132 vs 117 ms), with hyperfine when installed, the
#     commands taking turns in 4 rounds; back to back (the default
#     network's helper lingers 2 s after its last member, so it is
#     running) and cold (3 s apart: each run starts the helper).
# As root it measures as the unprivileged user berth-sub ($BENCH_USER) and
# installs iperf3 when missing. PATH defaults to target/release/berth.
# --only-p measures the loopback and `-p` rows only. Loopback and each
# direction of `-p` alternate within each of the RUNS rounds.
set -euo pipefail

secs=3
runs=3
berth=""
podman=true
inner=false
only_p=false
while [ $# -gt 0 ]; do
    case "$1" in
        -t) secs=$2; shift 2 ;;
        -n) runs=$2; shift 2 ;;
        --berth) berth=$2; shift 2 ;;
        --no-podman) podman=false; shift ;;
        --inner) inner=true; shift ;;
        --only-p) only_p=true; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "net.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# bench/lib.sh, or its copy beside this script's in $BENCH_DIR (--inner).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2fx", a/b; else print "-" }'; }
gbps() { python3 -c 'import json,sys; t=sys.stdin.read(); print("%.2f" % (json.loads(t[t.index("{"):])["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# The machine's busy and total ticks (all cores) from /proc/stat.
machine_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
# The cores kept busy between two machine_ticks readings: "B0 T0" "B1 T1".
cores_busy() {
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$1"
    read -r b1 t1 <<<"$2"
    awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v n="$(nproc)" 'BEGIN { if (t > 0) printf "%.2f", n * b / t }'
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
row() { printf '%-56s %9s %s\n' "$1" "$2" "${3:-}"; }
# How many cores the machine kept busy while loopback and `-p` (host ->
# container) ran, medians (busy_loop, busy_up: the caller's lists). On a
# machine with few cores this says why `-p` stays below loopback: the
# forwarder is a third busy thread beside iperf3's two ends.
busy_row() {
    row "  cores busy, loopback / host -> container (of $(nproc))" \
        "$(echo "$busy_loop" | median)/$(echo "$busy_up" | median)"
}

# Prints the median, in ms, of each command's runs: LABEL names the
# result files (in $dir), TOTAL is the runs per command, PREPARE a
# command hyperfine runs before each run ("" for none), then NAME COMMAND
# pairs. The commands take turns in 4 rounds of TOTAL/4 runs, as in
# bench.sh: this machine's speed drifts within a minute, and commands
# measured one after the other put that drift on one side of a ratio
# (default/none 1.29x so measured, 1.05x alternated by hand minutes later).
alternate() {
    local label=$1 total=$2 prepare=$3
    shift 3
    local names=() cmds=() args=() r i
    while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
    [ -n "$prepare" ] && args=(--prepare "$prepare")
    local rounds=4
    local per=$(( (total + rounds - 1) / rounds ))
    for ((r = 0; r < rounds; r++)); do
        for i in "${!cmds[@]}"; do
            hyperfine -N --style none --warmup 1 --runs "$per" "${args[@]}" \
                --export-json "$dir/$label-$i-$r.json" -n "${names[$i]}" "${cmds[$i]}" >/dev/null 2>&1
        done
    done
    for i in "${!cmds[@]}"; do
        bench_hyperfine_median "%.1f" "$dir/$label-$i-"*.json
    done
}

# The measuring half, as the user, in $BENCH_DIR (berth, busybox.tar).
measure() {
    local dir=$BENCH_DIR b=$BENCH_DIR/berth
    export BERTH_ROOT=$dir/store
    "$b" load -q -i "$dir/busybox.tar" >/dev/null
    local tools=(-v /usr:/usr:ro -v /usr/lib:/lib:ro)
    [ -d /usr/lib64 ] && tools+=(-v /usr/lib64:/lib64:ro)
    local host_ip
    host_ip=$(ip -4 route get 203.0.113.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
    local p_host=15401 p_fwd=15402 p_out=15403 p_pasta=15404

    # The host's loopback: the floor of everything below.
    iperf3 -s -p $p_host -D --pidfile "$dir/host.pid"
    iperf3 -s -B "$host_ip" -p $p_out -D --pidfile "$dir/out.pid"
    sleep 0.5
    local loop="" up="" down="" out="" c2c="" pasta_up="" pasta_down="" cpu_up="" cpu_down=""

    # -p: the monitor's forwarder; its CPU per GB from /proc.
    local id mon t0 t1 g m0 busy_loop="" busy_up=""
    id=$("$b" run -d --name bench-fwd -p 127.0.0.1:$p_fwd:5201 "${tools[@]}" busybox /usr/bin/iperf3 -s)
    mon=$(pgrep -f "__berth-monitor $id")
    sleep 0.5
    for _ in $(seq "$runs"); do
        # Loopback takes turns with the two directions, so that the
        # machine's drift falls on both sides of the ratio.
        m0=$(machine_ticks); loop+=" $(iperf3 -c 127.0.0.1 -p $p_host -t "$secs" -J | gbps)"
        busy_loop+=" $(cores_busy "$m0" "$(machine_ticks)")"
        m0=$(machine_ticks)
        t0=$(cpu_ticks "$mon"); g=$(iperf3 -c 127.0.0.1 -p $p_fwd -t "$secs" -J | gbps); t1=$(cpu_ticks "$mon")
        busy_up+=" $(cores_busy "$m0" "$(machine_ticks)")"
        up+=" $g"; cpu_up+=" $(awk -v t=$((t1 - t0)) -v g="$g" -v s="$secs" 'BEGIN { if (g > 0) printf "%.0f", t * 10 / (g * s / 8) }')"
        t0=$(cpu_ticks "$mon"); g=$(iperf3 -c 127.0.0.1 -p $p_fwd -t "$secs" -R -J | gbps); t1=$(cpu_ticks "$mon")
        down+=" $g"; cpu_down+=" $(awk -v t=$((t1 - t0)) -v g="$g" -v s="$secs" 'BEGIN { if (g > 0) printf "%.0f", t * 10 / (g * s / 8) }')"
    done
    local mon_rss
    # The monitor drops its data path's pages once its ports sat idle 1 s.
    sleep 1.5
    mon_rss=$(rss_kib "$mon")
    "$b" rm -f bench-fwd >/dev/null
    if $only_p; then
        kill "$(cat "$dir/host.pid")" "$(cat "$dir/out.pid")" 2>/dev/null || true
        loop=$(echo "$loop" | median) up=$(echo "$up" | median) down=$(echo "$down" | median)
        cpu_up=$(echo "$cpu_up" | median) cpu_down=$(echo "$cpu_down" | median)
        echo "medians of $runs runs of ${secs}s, Gbit/s (one TCP stream)"
        row "host loopback (the floor)" "$loop"
        row "host -> container through -p (splice forwarder)" "$up" "$(ratio "$up" "$loop") of loopback, goal >= 0.9x"
        row "container -> host through -p" "$down" "$(ratio "$down" "$loop") of loopback"
        row "  forwarder CPU (the monitor), ms per GB up/down" "$cpu_up/$cpu_down"
        busy_row
        return 0
    fi

    # pasta's splice forwarding of a port into a namespace, as a peer.
    if command -v pasta >/dev/null; then
        for _ in $(seq "$runs"); do
            pasta --config-net -t $p_pasta:5201 -- iperf3 -s -1 >/dev/null 2>&1 &
            sleep 0.7
            pasta_up+=" $(iperf3 -c 127.0.0.1 -p $p_pasta -t "$secs" -J | gbps)"
            wait
            pasta --config-net -t $p_pasta:5201 -- iperf3 -s -1 >/dev/null 2>&1 &
            sleep 0.7
            pasta_down+=" $(iperf3 -c 127.0.0.1 -p $p_pasta -t "$secs" -R -J | gbps)"
            wait
        done
    fi

    # Outbound through the helper's NAT to a server on the host's address.
    for _ in $(seq "$runs"); do
        out+=" $("$b" run --rm "${tools[@]}" busybox /usr/bin/iperf3 -c host.docker.internal -p $p_out -t "$secs" -J | gbps)"
    done

    # Container to container on one user network (the helper's switch),
    # and the helper's memory with ten members.
    "$b" network create bench-net >/dev/null
    "$b" run -d --name bench-srv --network bench-net "${tools[@]}" busybox /usr/bin/iperf3 -s >/dev/null
    sleep 0.5
    for _ in $(seq "$runs"); do
        c2c+=" $("$b" run --rm --network bench-net "${tools[@]}" busybox /usr/bin/iperf3 -c bench-srv -t "$secs" -J | gbps)"
    done
    local i
    for i in 1 2 3 4 5 6 7 8 9; do
        "$b" run -d --name "bench-m$i" --network bench-net busybox sleep 600 >/dev/null
    done
    sleep 1
    local helper helper_rss
    helper=$(pgrep -f "__berth-netd .*\"name\":\"bench-net\"" | head -1)
    helper_rss=$(rss_kib "$helper")
    kill "$(cat "$dir/host.pid")" "$(cat "$dir/out.pid")" 2>/dev/null || true

    # Start-up: the default network, a user network whose helper runs (the
    # members above keep it), and no network.
    local launch=()
    if command -v hyperfine >/dev/null; then
        mapfile -t launch < <(alternate launch $((runs * 10)) "" \
            default "$b run --rm busybox true" \
            user-network "$b run --rm --network bench-net busybox true" \
            none "$b run --rm --network none busybox true")
    fi
    "$b" rm -f bench-srv bench-m{1,2,3,4,5,6,7,8,9} >/dev/null
    "$b" network rm bench-net >/dev/null
    # Cold: the default network's helper has exited before each run.
    local cold=()
    if command -v hyperfine >/dev/null; then
        mapfile -t cold < <(alternate cold $((runs * 3)) "sleep 3" \
            default "$b run --rm busybox true" \
            none "$b run --rm --network none busybox true")
    fi

    loop=$(echo "$loop" | median) up=$(echo "$up" | median) down=$(echo "$down" | median)
    out=$(echo "$out" | median) c2c=$(echo "$c2c" | median)
    pasta_up=$(echo "$pasta_up" | median) pasta_down=$(echo "$pasta_down" | median)
    cpu_up=$(echo "$cpu_up" | median) cpu_down=$(echo "$cpu_down" | median)
    echo "medians of $runs runs of ${secs}s, Gbit/s (one TCP stream)"
    row "host loopback (the floor)" "$loop"
    row "host -> container through -p (splice forwarder)" "$up" "$(ratio "$up" "$loop") of loopback, goal >= 0.9x"
    row "container -> host through -p" "$down" "$(ratio "$down" "$loop") of loopback"
    if [ "$pasta_up" != "-" ]; then
        row "  pasta -t, host -> namespace (peer)" "$pasta_up" "berth/pasta $(ratio "$up" "$pasta_up")"
        row "  pasta -t, namespace -> host (peer)" "$pasta_down" "berth/pasta $(ratio "$down" "$pasta_down")"
    fi
    row "  forwarder CPU (the monitor), ms per GB up/down" "$cpu_up/$cpu_down"
    busy_row
    row "container -> host.docker.internal (helper NAT)" "$out"
    row "container -> container, one user network" "$c2c"
    echo
    row "monitor of a container with one -p, RSS (goal <= 3 MiB)" "$(awk -v k="$mon_rss" 'BEGIN { printf "%.1f MiB", k/1024 }')"
    row "network helper with ten members, RSS (goal <= 8 MiB)" "$(awk -v k="$helper_rss" 'BEGIN { printf "%.1f MiB", k/1024 }')"
    if [ ${#launch[@]} -eq 3 ]; then
        echo
        row "run --rm busybox true, default network (ms)" "${launch[0]}" "$(ratio "${launch[0]}" "${launch[2]}") of none, goal <= 1.2x"
        row "run --rm busybox true, user network, helper up (ms)" "${launch[1]}" "$(ratio "${launch[1]}" "${launch[2]}") of none"
        row "run --rm busybox true, --network none (ms)" "${launch[2]}"
        if [ ${#cold[@]} -eq 2 ]; then
            row "  cold (no helper running), default / none (ms)" "${cold[0]}/${cold[1]}" "$(ratio "${cold[0]}" "${cold[1]}"), goal <= 1.2x"
        fi
    else
        echo "(install hyperfine for the start-up figures)"
    fi
    {
        echo "loop=$loop up=$up down=$down out=$out c2c=$c2c"
    } > "$dir/berth.txt"
}

# Rootless Podman, same user, same kinds of measurement.
measure_podman() {
    local dir=$BENCH_DIR
    command -v podman >/dev/null || return 0
    podman load -q -i "$dir/busybox.tar" >/dev/null 2>&1 || { echo "podman: cannot load busybox" >&2; return 0; }
    local tools=(-v /usr:/usr:ro -v /usr/lib:/lib:ro)
    [ -d /usr/lib64 ] && tools+=(-v /usr/lib64:/lib64:ro)
    local host_ip
    host_ip=$(ip -4 route get 203.0.113.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
    # shellcheck disable=SC1090
    . "$dir/berth.txt" 2>/dev/null || true
    podman rm -f -i pbench-fwd pbench-srv >/dev/null 2>&1
    podman network exists pbench-net || podman network create pbench-net >/dev/null
    podman run -d --name pbench-fwd -p 127.0.0.1:15411:5201 "${tools[@]}" busybox /usr/bin/iperf3 -s >/dev/null
    podman run -d --name pbench-srv --network pbench-net "${tools[@]}" busybox /usr/bin/iperf3 -s >/dev/null
    iperf3 -s -B "$host_ip" -p 15412 -D --pidfile "$dir/pout.pid"
    sleep 1
    local srv fwd="" c2c_p="" slirp=""
    srv=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' pbench-srv)
    for _ in $(seq "$runs"); do
        fwd+=" $(iperf3 -c 127.0.0.1 -p 15411 -t "$secs" -J | gbps)"
        c2c_p+=" $(podman run --rm --network pbench-net "${tools[@]}" busybox /usr/bin/iperf3 -c "$srv" -t "$secs" -J | gbps)"
        slirp+=" $(podman run --rm --network slirp4netns:mtu=65520 "${tools[@]}" busybox /usr/bin/iperf3 -c "$host_ip" -p 15412 -t "$secs" -J | gbps)"
    done
    kill "$(cat "$dir/pout.pid")" 2>/dev/null || true
    podman rm -f pbench-fwd pbench-srv >/dev/null 2>&1
    podman network rm pbench-net >/dev/null 2>&1 || true
    fwd=$(echo "$fwd" | median) c2c_p=$(echo "$c2c_p" | median) slirp=$(echo "$slirp" | median)
    echo
    echo "rootless Podman $(podman --version | awk '{print $3}') in the same run (medians, Gbit/s):"
    row "host -> container through -p (rootlessport)" "$fwd" "berth/podman $(ratio "${up:-0}" "$fwd")"
    row "container -> host address, slirp4netns" "$slirp" "berth/podman $(ratio "${out:-0}" "$slirp"), goal >= 2x"
    row "container -> container, bridge network" "$c2c_p" "berth/podman $(ratio "${c2c:-0}" "$c2c_p")"
    if command -v hyperfine >/dev/null; then
        local pl=()
        mapfile -t pl < <(alternate plaunch $((runs * 5)) "" \
            default "podman run --rm busybox true" \
            none "podman run --rm --network none busybox true" 2>/dev/null)
        [ ${#pl[@]} -eq 2 ] || return 0
        row "podman run --rm busybox true, default / none (ms)" "${pl[0]}/${pl[1]}" "$(ratio "${pl[0]}" "${pl[1]}")"
    fi
}

if $inner; then
    measure
    if $podman && ! $only_p; then measure_podman; fi
    exit 0
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$(id -u)" = 0 ]; then
    missing=()
    for p in iperf3 passt hyperfine; do command -v "${p/passt/pasta}" >/dev/null || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
            echo "net.sh: could not install ${missing[*]}; measuring without" >&2
    fi
    [ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
fi
command -v iperf3 >/dev/null || { echo "net.sh: iperf3 is needed (apt-get install iperf3)" >&2; exit 1; }
bench_find_berth net.sh
bench_prepare netbench "$0"
args=(-t "$secs" -n "$runs")
$podman || args+=(--no-podman)
$only_p && args+=(--only-p)
bench_run_inner net.sh "${args[@]}"
