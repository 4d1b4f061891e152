#!/bin/bash
# Builds the test fixture images into a directory (default: $BERTH_TEST_FIXTURES,
# else /var/cache/berth-test as root, else ~/.cache/berth-test).
#
#   scripts/fixtures.sh [--debian] [DIR]
#
# Busybox fixtures (seconds; rebuilt when this script, mkimage.py or
# /bin/busybox change):
#   busybox.tar            docker-archive, one layer, busybox:latest
#   busybox-layers.tar     two layers (the second has a whiteout), busybox:layers
#   busybox-gzip.tar       two gzip-compressed layers, busybox:gzip
#   busybox-zstd.tar       two zstd-compressed layers, busybox:zstd
#   busybox-multitag.tar   busybox.tar's image under busybox:latest, busybox:1.0
#                          and example.com/tools/busybox:v1
#   busybox-oci.tar        oci-archive made by skopeo from busybox.tar, busybox:oci
#   busybox-rootfs.tar.gz  the plain root filesystem, for `import`
#   busybox-rootfs/        the same, unpacked (for bench/bench.sh's bwrap run)
# With --debian (needs root and debootstrap; cached, minutes the first time):
#   debian.tar             debootstrap --variant=minbase bookworm, debian:bookworm
#
# The images are made without berth (scripts/fixtures/mkimage.py), so that
# `berth load` is tested against the formats other tools write.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
debian=false
dir=""
for arg in "$@"; do
    case "$arg" in
        --debian) debian=true ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fixtures.sh: unknown option $arg" >&2; exit 2 ;;
        *) dir=$arg ;;
    esac
done
if [ -z "$dir" ]; then
    if [ -n "${BERTH_TEST_FIXTURES:-}" ]; then dir=$BERTH_TEST_FIXTURES
    elif [ "$(id -u)" = 0 ]; then dir=/var/cache/berth-test
    else dir=${XDG_CACHE_HOME:-$HOME/.cache}/berth-test
    fi
fi

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "fixtures.sh: busybox not found: apt-get install busybox-static" >&2; exit 1; }
# A dynamically linked busybox would not run inside an image that has no libc.
if command -v ldd >/dev/null && ldd "$busybox" >/dev/null 2>&1; then
    if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then busybox=/bin/busybox
    else echo "fixtures.sh: $busybox is dynamically linked: apt-get install busybox-static" >&2; exit 1
    fi
fi
for tool in python3 skopeo zstd; do
    command -v "$tool" >/dev/null || { echo "fixtures.sh: $tool not found: apt-get install $tool" >&2; exit 1; }
done

mkdir -p "$dir"
chmod 755 "$dir"
# Two test runs at once must not build into each other's files.
exec 9>"$dir/.lock"
flock 9

mk() { python3 "$here/fixtures/mkimage.py" "$@" >/dev/null; }

stamp=$(cat "$0" "$here/fixtures/mkimage.py" "$busybox" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$dir/busybox.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "fixtures: building busybox images in $dir"
    rm -f "$dir/busybox.stamp"
    mk --busybox "$busybox" -o "$dir/busybox.tar" -t busybox:latest
    mk --busybox "$busybox" -o "$dir/busybox-layers.tar" -t busybox:layers --two-layers
    mk --busybox "$busybox" -o "$dir/busybox-gzip.tar" -t busybox:gzip --two-layers --compress gzip
    mk --busybox "$busybox" -o "$dir/busybox-zstd.tar" -t busybox:zstd --two-layers --compress zstd
    mk --busybox "$busybox" -o "$dir/busybox-multitag.tar" \
        -t busybox:latest -t busybox:1.0 -t example.com/tools/busybox:v1
    rm -f "$dir/busybox-oci.tar"
    # skopeo needs a signature policy even for local copies; ours is explicit.
    skopeo --insecure-policy copy -q "docker-archive:$dir/busybox.tar" \
        "oci-archive:$dir/busybox-oci.tar:busybox:oci"
    chmod 644 "$dir/busybox-oci.tar"
    # The plain root filesystem: the single layer of busybox.tar.
    rm -rf "$dir/busybox-rootfs" "$dir/busybox-rootfs.tar.gz"
    mkdir -p "$dir/busybox-rootfs"
    layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][0])' \
        <(tar -xOf "$dir/busybox.tar" manifest.json))
    tar -xOf "$dir/busybox.tar" "$layer" | gzip -n > "$dir/busybox-rootfs.tar.gz"
    tar -xzf "$dir/busybox-rootfs.tar.gz" -C "$dir/busybox-rootfs"
    chmod 755 "$dir/busybox-rootfs"
    chmod 644 "$dir"/busybox*.tar "$dir/busybox-rootfs.tar.gz"
    echo "$stamp" > "$dir/busybox.stamp"
fi

# The apt mirror this machine uses (deb822 .sources or one-line lists):
# the test machine may only reach its own Debian mirror.
debian_mirror() {
    local uri
    uri=$(awk '
        /^[Tt]ypes:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
        /^URIs:/ && deb && !found { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; found = 1; exit } }
        /^$/ { deb = 0 }
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    if [ -z "$uri" ]; then
        uri=$(grep -hsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            | sed -E 's/\[[^]]*\]//' | awk '$2 ~ /\/debian\/?$/ { print $2; exit }')
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

if $debian && [ ! -s "$dir/debian.tar" ]; then
    [ "$(id -u)" = 0 ] || { echo "fixtures.sh: --debian needs root (debootstrap)" >&2; exit 1; }
    command -v debootstrap >/dev/null || { echo "fixtures.sh: apt-get install debootstrap" >&2; exit 1; }
    mirror=$(debian_mirror)
    echo "fixtures: debootstrap minbase bookworm from $mirror (cached in $dir/debian.tar)"
    work=$(mktemp -d "$dir/debootstrap.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/log" 2>&1 || {
        tail -30 "$work/log" >&2
        echo "fixtures.sh: debootstrap from $mirror failed (log above)" >&2
        exit 1
    }
    # As the official image: no device nodes, no package caches.
    tar --numeric-owner --sort=name --mtime=@1704067200 -C "$work/rootfs" \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
        --exclude='./var/log/*' \
        -cf "$work/rootfs.tar" .
    mk --rootfs-tar "$work/rootfs.tar" -o "$work/debian.tar" -t debian:bookworm -t debian:latest \
        --cmd '["bash"]' --created-by "debootstrap --variant=minbase bookworm $mirror"
    chmod 644 "$work/debian.tar"
    mv "$work/debian.tar" "$dir/debian.tar"
fi
echo "fixtures: ready in $dir"
