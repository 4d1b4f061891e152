#!/bin/bash
# Networking benchmark: berth's user-mode networking (src/slirp) measured
# beside the host's own loopback and slirp4netns (what rootless Podman
# uses) in one run, medians and ratios printed.
#
#   bench/net.sh [-t SECONDS] [-n RUNS]
#
# Each figure is the median of RUNS (default 3) iperf3 runs of SECONDS
# (default 3), one TCP stream:
#   - host -> container and container -> host through a published port
#     (the port forwarder: splice, no TCP/IP stack of ours); goal >= 0.9x
#     the host's loopback;
#   - container -> a host server through the gateway (smoltcp NAT), and
#     slirp4netns --mtu=65520 doing the same; goal >= 2x slirp4netns;
#   - container -> container on one network (the helper's switch);
#   - the network helper's resident memory with ten members; goal <= 8 MiB;
#   - when podman is installed, rootless Podman in the same run: a bridge
#     network's container -> container, `-p` (rootlessport) and
#     slirp4netns outbound, in containers whose root is an empty directory
#     with the host's /usr mounted (no image needed).
# Containers here are network namespaces with berth's TAP and helper (the
# engine without `run`): tests/slirp.rs's bench_net, in a release build.
# As root it measures as the unprivileged user berth-sub (scripts/test.sh
# creates it), and installs iperf3 and slirp4netns when missing.
set -euo pipefail

secs=3
runs=3
while [ $# -gt 0 ]; do
    case "$1" in
        -t) secs=$2; shift 2 ;;
        -n) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "net.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "$(id -u)" = 0 ]; then
    missing=()
    command -v iperf3 >/dev/null || missing+=(iperf3)
    command -v slirp4netns >/dev/null || missing+=(slirp4netns)
    if [ ${#missing[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
            echo "net.sh: could not install ${missing[*]}; measuring without" >&2
    fi
    [ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
fi
command -v iperf3 >/dev/null || { echo "net.sh: iperf3 is needed (apt-get install iperf3)" >&2; exit 1; }

export BERTH_BENCH_SECONDS=$secs BERTH_BENCH_RUNS=$runs
out=$(cargo test --release --test slirp bench_net -- --ignored --nocapture --exact 2>&1) || {
    echo "$out" >&2
    exit 1
}
echo "$out" | sed -n '/^medians of/,/^network helper/p'

# Rootless Podman, as the same user, when installed.
command -v podman >/dev/null || exit 0
user=${BENCH_USER:-berth-sub}
as_user() {
    if [ "$(id -u)" = 0 ]; then
        su - "$user" -s /bin/bash -c "export XDG_RUNTIME_DIR=/tmp/xdg-$user; mkdir -p \$XDG_RUNTIME_DIR; cd /tmp; $1"
    else
        bash -c "$1"
    fi
}
host_ip=$(ip -4 route get 203.0.113.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
gbps() { python3 -c 'import json,sys; t=sys.stdin.read(); print("%.2f" % (json.loads(t[t.index("{"):])["end"]["sum_received"]["bits_per_second"]/1e9))'; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ours() { echo "$out" | sed -n "s/^$1 *\([0-9.]*\) Gbit.*/\1/p"; }
ratio() { python3 -c "print('%.2fx' % ($1/$2))" 2>/dev/null || echo "?"; }

as_user 'r=$HOME/bench-rootfs; mkdir -p $r/usr $r/etc $r/tmp; cd $r; ln -sfn usr/bin bin; ln -sfn usr/lib lib; ln -sfn usr/lib64 lib64
podman rm -f -i bench-srv bench-fwd >/dev/null 2>&1; podman network exists bench-net || podman network create bench-net >/dev/null' || exit 0
run='podman run --rm -v /usr:/usr:ro'
root='--rootfs $HOME/bench-rootfs' # last: what follows is the command
as_user "podman run -d --name bench-srv --network bench-net -v /usr:/usr:ro --rootfs \$HOME/bench-rootfs iperf3 -s >/dev/null"
as_user "podman run -d --name bench-fwd -p 127.0.0.1:15301:5201 -v /usr:/usr:ro --rootfs \$HOME/bench-rootfs iperf3 -s >/dev/null"
iperf3 -s -p 15302 -D --pidfile /tmp/bench-net-iperf.pid
sleep 1
# By address: name resolution on CNI networks needs the dnsname plugin.
srv=$(as_user "podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' bench-srv")
c2c="" fwd="" slirp=""
for _ in $(seq "$runs"); do
    c2c+=" $(as_user "$run --network bench-net $root iperf3 -c $srv -t $secs -J" | gbps)"
    fwd+=" $(iperf3 -c 127.0.0.1 -p 15301 -t "$secs" -J | gbps)"
    slirp+=" $(as_user "$run --network slirp4netns:mtu=65520 $root iperf3 -c $host_ip -p 15302 -t $secs -J" | gbps)"
done
kill "$(cat /tmp/bench-net-iperf.pid)" 2>/dev/null || true
as_user 'podman rm -f bench-srv bench-fwd >/dev/null'
c2c=$(echo "$c2c" | median) fwd=$(echo "$fwd" | median) slirp=$(echo "$slirp" | median)
echo
echo "rootless Podman $(podman --version | awk '{print $3}') in the same run (medians):"
printf '%-58s %7s Gbit/s  berth/podman %s\n' "container -> container, bridge network" "$c2c" \
    "$(ratio "$(ours 'container -> container, one network (berth switch)')" "$c2c")"
printf '%-58s %7s Gbit/s  berth/podman %s\n' "host -> container through -p (rootlessport)" "$fwd" \
    "$(ratio "$(ours 'host -> container through -p (splice)')" "$fwd")"
printf '%-58s %7s Gbit/s  berth/podman %s\n' "container -> host address, slirp4netns (podman)" "$slirp" \
    "$(ratio "$(ours 'container -> host address, berth gateway')" "$slirp")"
