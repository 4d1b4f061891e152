#!/bin/bash
# berth's main job, from a fresh Debian 12 machine: build berth (release),
# make a busybox image from Debian's busybox-static (no registry needed),
# load it, and run a container from it.
#
#   scripts/demo.sh
#
# As root it installs busybox-static (and python3) with apt-get when they
# are missing, and runs berth as root; as another user, install them first
# (`sudo apt-get install busybox-static uidmap`) and it runs as you.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if ! command -v cargo >/dev/null; then
    for d in "$HOME/.cargo/bin" /root/.cargo/bin /usr/local/cargo/bin; do
        [ -x "$d/cargo" ] && export PATH="$d:$PATH" && break
    done
fi
command -v cargo >/dev/null || { echo "demo.sh: cargo not found: install Rust 1.91 or newer (rustup)" >&2; exit 1; }

need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v python3 >/dev/null || need+=(python3)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v cc >/dev/null || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "=== apt-get install ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null
    else
        echo "demo.sh: missing packages: sudo apt-get install ${need[*]}" >&2
        exit 1
    fi
fi

echo "=== cargo build --release"
cargo build --release
berth=$repo/target/release/berth

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "=== making busybox.tar from /bin/busybox"
python3 scripts/fixtures/mkimage.py --busybox /bin/busybox -o "$work/busybox.tar" -t busybox:latest

echo "=== berth load -i busybox.tar"
"$berth" load -i "$work/busybox.tar"
echo "=== berth run --rm busybox echo hello"
"$berth" run --rm busybox echo hello
