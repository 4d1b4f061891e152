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
#   - the network helper's resident memory with ten members; goal <= 8 MiB.
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
cargo test --release --test slirp bench_net -- --ignored --nocapture --exact 2>&1 |
    sed -n '/^medians of/,/^network helper/p'
