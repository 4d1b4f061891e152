#!/bin/bash
# `compose config` benchmark: how long `berth compose config` takes on a
# three-service project (web + api + db, a .env, ports, volumes, a health
# check, depends_on), beside podman-compose's `config` when installed.
#
#   bench/compose-config.sh [-n RUNS] [--berth PATH]
#
# RUNS defaults to 50. PATH defaults to target/release/berth (built here).
# Prints each tool's median in milliseconds and the ratio.
# The goal (not a test): berth's median at or under 10 ms.
set -euo pipefail

runs=50
berth=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--runs) runs=$2; shift 2 ;;
        --berth) berth=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "compose-config.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "$berth" ]; then
    (cd "$repo" && cargo build --release --quiet)
    berth=$repo/target/release/berth
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bench" && cd "$dir/bench"
cat > compose.yaml <<'YAML'
services:
  web:
    image: "nginx:${NGINX_TAG:-1.25}"
    ports: ["8080:80"]
    volumes: ["./html:/usr/share/nginx/html:ro"]
    depends_on:
      api:
        condition: service_healthy
  api:
    image: "example/api:${API_TAG}"
    environment:
      DATABASE_URL: "postgres://app:${DB_PASSWORD}@db/app"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:3000/health"]
      interval: 5s
    depends_on: [db]
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
    volumes: ["db-data:/var/lib/postgresql/data"]
volumes:
  db-data: {}
YAML
printf 'API_TAG=2.1\nDB_PASSWORD=secret\n' > .env

# Milliseconds of each of $runs runs of "$@", sorted; prints the median.
median_ms() {
    local times=() t0 t1
    for _ in $(seq "$runs"); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; printf "%.2f\n", m / 1000 }'
}

"$berth" compose config >/dev/null   # fails loudly if the project does not load
f=$(median_ms "$berth" --version)
b=$(median_ms "$berth" compose config)
echo "berth --version (the floor: starting the binary): median ${f} ms"
echo "berth compose config: median ${b} ms over $runs runs (goal: <= 10 ms)"
if command -v podman-compose >/dev/null; then
    p=$(median_ms podman-compose config)
    echo "podman-compose config: median ${p} ms over $runs runs"
    awk -v b="$b" -v p="$p" 'BEGIN { printf "ratio berth/podman-compose: %.3f\n", b / p }'
else
    echo "podman-compose not installed (apt-get install podman-compose): no comparison"
fi
