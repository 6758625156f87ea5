#!/usr/bin/env bash
# Image sizes of the example stack with berth beside the usual approach, in
# one run: each base image plus what its health check, wait and init need.
#
#   usual:  nginx + curl, node + wget, python + tini + wait-for-it
#           (+ curl for the check, or `python -c urllib`), postgres with
#           pg_isready, redis with redis-cli
#   berth:  the same base + /usr/local/bin/berth (one static file)
#
#   bench/stack-images.sh             # builds the release binary first
#   BERTH=/path/to/berth bench/stack-images.sh
#
# Uses the base images examples/run-stack.sh builds (the official ones when
# a registry serves them, else stand-ins from Debian's packages: `BASES=debian
# examples/run-stack.sh bases`); the "usual" variants install their tools
# from Debian's packages. Removes the images it builds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BERTH:-}" ]; then
    cargo build --release --quiet
    BERTH=target/x86_64-unknown-linux-musl/release/berth
fi
export DOCKER_BUILDKIT=0
examples/run-stack.sh bases >&2

ctx=$(mktemp -d /tmp/berth-bench-images.XXXXXX)
tags=()
cleanup() {
    [ ${#tags[@]} = 0 ] || docker rmi -f "${tags[@]}" >/dev/null 2>&1 || true
    rm -rf "$ctx"
}
trap cleanup EXIT
cp "$BERTH" "$ctx/berth"

size() { docker image inspect -f '{{.Size}}' "$1"; }
build() { # TAG DOCKERFILE
    tags+=("$1")
    printf '%s\n' "$2" | docker build -q -t "$1" -f - "$ctx" >/dev/null 2>&1 \
        || { echo "build of $1 failed" >&2; exit 1; }
}
apt_add() { # BASE PACKAGES...
    local base=$1; shift
    printf 'FROM %s\nUSER root\nRUN apt-get update && apt-get install -y --no-install-recommends %s && apt-get clean && rm -rf /var/lib/apt/lists/*\n' \
        "$base" "$*"
}

printf '%-10s %-28s %10s %10s %10s  %s\n' service base base_MB usual_MB berth_MB "usual adds"
row() { # SERVICE BASE USUAL_PACKAGES...
    local svc=$1 base=$2; shift 2
    build "berth-bench-$svc-berth" "$(printf 'FROM %s\nCOPY berth /usr/local/bin/berth\n' "$base")"
    if [ $# -gt 0 ]; then
        build "berth-bench-$svc-usual" "$(apt_add "$base" "$@")"
        usual=$(size "berth-bench-$svc-usual")
    else
        usual=$(size "$base")
    fi
    awk -v s="$svc" -v b="$base" -v x="$(size "$base")" -v u="$usual" -v t="$(size "berth-bench-$svc-berth")" -v w="${*:-(already in the base)}" \
        'BEGIN { printf "%-10s %-28s %10.1f %10.1f %10.1f  %s\n", s, b, x/1e6, u/1e6, t/1e6, w }'
}
row nginx berth-example/nginx:1 curl
row frontend berth-example/node:18 wget
row backend berth-example/python:3 tini wait-for-it curl
row db berth-example/postgres:15
row cache berth-example/redis:7
echo "berth binary: $(stat -c %s "$BERTH") bytes"
