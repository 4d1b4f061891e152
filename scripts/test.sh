#!/bin/bash
# The test command: sets up what the tests need and runs them all.
#
#   scripts/test.sh [ARGS FOR cargo test...]
#
# As root (CI, or a fresh Debian 12 machine) it
#   1. installs the Debian packages the tests use (apt-get update first):
#      busybox-static uidmap skopeo debootstrap zstd, plus python3 and a C
#      linker when missing (and, optional, bubblewrap, hyperfine and iperf3
#      for the benchmarks);
#   2. opens /dev/net/tun to everyone (0666, as most distributions ship it;
#      some machines keep it 0600): private container networks need it;
#   3. creates the unprivileged test users: berth-sub, with a /etc/subuid and
#      /etc/subgid range, and berth-nosub, without (its lines are deleted:
#      Debian 12's useradd gives every new user a range);
#   4. builds the fixture images in /var/cache/berth-test (the debootstrap
#      Debian image is cached there: a second run skips it), and starts a
#      one-machine Slurm cluster (scripts/slurm-setup.sh) for tests/slurm.rs;
#   5. runs the unit and integration tests (`cargo test`); the integration
#      tests run berth as the two test users (tests/common/mod.rs).
# As any other user it skips 1 to 3, builds the busybox fixtures in
# ~/.cache/berth-test (the Debian image only if /var/cache/berth-test already
# has it), and runs the tests as that user.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { printf '\n=== %s\n' "$*"; }

as_root=false
[ "$(id -u)" = 0 ] && as_root=true

install_packages() {
    local want=(busybox-static uidmap skopeo debootstrap zstd docker-registry apache2-utils procps curl)
    command -v python3 >/dev/null || want+=(python3)
    command -v cc >/dev/null || want+=(gcc libc6-dev)
    local missing=() optional=()
    installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
    for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
    # Only the benchmarks in bench/ use these; the tests pass without them.
    for p in bubblewrap hyperfine iperf3; do installed "$p" || optional+=("$p"); done
    if [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
        echo "packages: all present"
        return
    fi
    log "apt-get install ${missing[*]} ${optional[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
    fi
    if [ ${#optional[@]} -gt 0 ]; then
        apt-get install -y -q --no-install-recommends "${optional[@]}" </dev/null ||
            echo "optional packages ${optional[*]} not installed: the benchmarks will do without" >&2
    fi
}

# The first free subordinate id range above every range already given out.
free_subid_start() {
    awk -F: 'BEGIN { m = 100000 } NF >= 3 { e = $2 + $3; if (e > m) m = e } END { print m }' \
        /etc/subuid /etc/subgid 2>/dev/null
}

create_users() {
    log "test users berth-sub (with subuid range) and berth-nosub (without)"
    for u in berth-sub berth-nosub; do
        id "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$u"
    done
    touch /etc/subuid /etc/subgid
    if ! grep -q '^berth-sub:' /etc/subuid || ! grep -q '^berth-sub:' /etc/subgid; then
        local start
        start=$(free_subid_start)
        sed -i '/^berth-sub:/d' /etc/subuid /etc/subgid
        echo "berth-sub:$start:65536" >> /etc/subuid
        echo "berth-sub:$start:65536" >> /etc/subgid
    fi
    local nosub_uid
    nosub_uid=$(id -u berth-nosub)
    sed -i -e '/^berth-nosub:/d' -e "/^$nosub_uid:/d" /etc/subuid /etc/subgid
    grep '^berth-sub:' /etc/subuid
}

# /dev/net/tun as distributions ship it; tests/slirp.rs closes it for a
# moment to check berth's error, and opens it again.
open_tun() {
    if [ -c /dev/net/tun ]; then
        chmod 0666 /dev/net/tun
    else
        echo "warning: /dev/net/tun is missing: the networking tests will fail (modprobe tun)" >&2
    fi
}

find_cargo() {
    if ! command -v cargo >/dev/null; then
        for d in "$HOME/.cargo/bin" /root/.cargo/bin /usr/local/cargo/bin; do
            [ -x "$d/cargo" ] && export PATH="$d:$PATH" && break
        done
    fi
    command -v cargo >/dev/null || {
        echo "test.sh: cargo not found: install Rust 1.91 or newer (rustup), then rerun" >&2
        exit 1
    }
}

find_cargo
if $as_root; then
    install_packages
    open_tun
    create_users
    export BERTH_TEST_FIXTURES=${BERTH_TEST_FIXTURES:-/var/cache/berth-test}
    log "fixtures in $BERTH_TEST_FIXTURES"
    scripts/fixtures.sh --debian "$BERTH_TEST_FIXTURES"
    log "Slurm: a one-machine cluster for tests/slurm.rs"
    scripts/slurm-setup.sh
    # The tests fail, rather than skip, when a user or fixture is missing.
    export BERTH_TEST_STRICT=1
else
    echo "not root: skipping package installation and test users; tests run as $(id -un)"
    if [ -z "${BERTH_TEST_FIXTURES:-}" ]; then
        if [ -s /var/cache/berth-test/debian.tar ] && [ -r /var/cache/berth-test/debian.tar ]; then
            export BERTH_TEST_FIXTURES=/var/cache/berth-test
        else
            export BERTH_TEST_FIXTURES=${XDG_CACHE_HOME:-$HOME/.cache}/berth-test
        fi
    fi
    # A shared cache made by root is used as it is.
    if [ -w "$BERTH_TEST_FIXTURES" ] || [ ! -e "$BERTH_TEST_FIXTURES" ]; then
        scripts/fixtures.sh "$BERTH_TEST_FIXTURES"
    fi
fi

log "cargo test"
cargo test --no-fail-fast "$@"
