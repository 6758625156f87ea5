#!/usr/bin/env bash
# The example stack (examples/compose.yml: nginx -> frontend + backend ->
# PostgreSQL + Redis, berth in every container), for real, in one command:
#
#   examples/run-stack.sh up          build, start, return once every service is healthy
#   examples/run-stack.sh scale N     the same with N backend replicas (one migrates at a time)
#   examples/run-stack.sh down        stop (each container in its own drain time) and remove
#                                     containers, networks, volumes and the images it built
#   examples/run-stack.sh swarm       the same file on a single-node Docker Swarm
#   examples/run-stack.sh swarm-down  remove the Swarm stack (and leave the swarm if `swarm` made it)
#   examples/run-stack.sh bases       only build the base images from Debian's packages
#   examples/run-stack.sh clean       remove the base images built from Debian's packages
#
# Where a registry serves the official images (postgres, redis, nginx,
# python, node), compose.yml is used as it is. Where none does, the script
# first builds stand-ins from Debian's packages (debootstrap --variant=minbase
# + docker import, then examples/debian/Dockerfile.*; once, kept as
# berth-example/*) and adds compose.debian.yml, which only changes the BASE
# build arguments.
#
# Settings (environment):
#   COMPOSE_PROJECT_NAME  project and Swarm stack name (default berth-example)
#   IMAGES                prefix of the images built (default: the project name)
#   HTTP_PORT             where nginx is published (default 8080)
#   BERTH_BIN             the static berth binary to put in the images
#                         (default: target/x86_64-unknown-linux-musl/release/berth)
#   BERTH_IMAGE           the tag of the image holding only /berth (default berth)
#   BASES                 official | debian | auto (default: debian when a pull fails)
#   UP_TIMEOUT            seconds `up`, `scale` and `swarm` wait for health (default 300)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-berth-example}
export IMAGES=${IMAGES:-$COMPOSE_PROJECT_NAME}
export HTTP_PORT=${HTTP_PORT:-8080}
export BERTH_IMAGE=${BERTH_IMAGE:-berth}
export BACKEND_REPLICAS=${BACKEND_REPLICAS:-1}
BERTH_BIN=${BERTH_BIN:-$repo/target/x86_64-unknown-linux-musl/release/berth}
BASES=${BASES:-auto}
UP_TIMEOUT=${UP_TIMEOUT:-300}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The classic builder: engines without the BuildKit plugin have only it.
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} COMPOSE_DOCKER_CLI_BUILD=${COMPOSE_DOCKER_CLI_BUILD:-0}
SERVICES=(db cache backend frontend nginx)

say() { printf 'run-stack: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s.%N; }
# Runs a command, showing its output only when it fails.
quiet() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; die "failed: $*"; }
}
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Compose v2 (`docker compose`) where installed, else v1 (`docker-compose`).
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  die "neither \`docker compose\` nor docker-compose is installed"
fi

# ---- base images -----------------------------------------------------------

# What a Debian stand-in is built from (its Dockerfile, the files beside
# it, the base rootfs), so that a change to any of them rebuilds it.
bases_hash() { # CONTEXT NAME
  { cat "$1/Dockerfile.$2" "$1"/*.sh "$1"/*.crt; docker image inspect -f '{{.Id}}' berth-example/debian:bookworm; } \
    | sha256sum | cut -c1-16
}
# Bumped when the rootfs recipe below changes.
ROOTFS_VERSION=2

# Whether the official base images can be had (already here, or pulled).
official_bases_available() {
  local image
  for image in postgres:16-alpine redis:7-alpine nginx:1.27-alpine python:3.12-slim node:22-slim; do
    docker image inspect "$image" >/dev/null 2>&1 && continue
    timeout 600 docker pull -q "$image" >/dev/null 2>&1 || return 1
  done
}

# berth-example/{debian,postgres,redis,nginx,python,node} from Debian's
# packages. Kept between runs (and rebuilt when examples/debian/ changes);
# a lock file keeps parallel runs from building them twice.
build_debian_bases() {
  local lock=${TMPDIR:-/tmp}/berth-example-bases.lock hash
  exec 9>"$lock"
  flock -w 1200 9 || die "another run has held $lock for 20 minutes"
  if [ "$(docker image inspect -f '{{index .Config.Labels "berth.example.rootfs"}}' berth-example/debian:bookworm 2>/dev/null)" != $ROOTFS_VERSION ]; then
    command -v debootstrap >/dev/null || die "debootstrap is needed to build the base images (apt-get install debootstrap)"
    local root t0
    t0=$(now)
    root=$(mktemp -d "${TMPDIR:-/tmp}/berth-example-rootfs.XXXXXX")
    say "debootstrap --variant=minbase bookworm (Debian's packages, once)"
    if ! debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1; then
      tail -20 "$root.log" >&2
      rm -rf "$root" "$root.log"
      die "debootstrap failed"
    fi
    # As Debian's own slim images are set up: no recommends, no package
    # caches left in layers, no documentation, and no fsync per unpacked
    # file (a layer is written once; on fuse-overlayfs that fsync made
    # installing npm take 11 minutes).
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90-berth-example"
    printf 'force-unsafe-io\n' >"$root/etc/dpkg/dpkg.cfg.d/90-berth-example-speedup"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
      >"$root/etc/dpkg/dpkg.cfg.d/90-berth-example-slim"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import --change 'CMD ["bash"]' \
      --change "LABEL berth.example.rootfs=$ROOTFS_VERSION" - berth-example/debian:bookworm >/dev/null
    rm -rf "$root" "$root.log"
    say "berth-example/debian:bookworm imported in $(since "$t0") s"
  fi
  # In parallel: most of the time goes to downloading packages.
  local base tag t0 pids=() failed=0 ctx
  # The build context: examples/debian/ and the CA bundle this machine
  # trusts, so that pip inside trusts what the host does (a TLS-inspecting
  # proxy's CA included). Empty where the host has none.
  ctx=$(mktemp -d)
  cp "$here"/debian/* "$ctx/"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca-certificates.crt" 2>/dev/null \
    || : >"$ctx/host-ca-certificates.crt"
  t0=$(now)
  for base in postgres:15 redis:7 nginx:1 python:3 node:18; do
    tag=berth-example/$base
    hash=$(bases_hash "$ctx" "${base%%:*}")
    if [ "$(docker image inspect -f '{{index .Config.Labels "berth.example.bases"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
      continue
    fi
    say "building $tag from Debian's packages"
    quiet docker build -q --label "berth.example.bases=$hash" -t "$tag" \
      -f "$ctx/Dockerfile.${base%%:*}" "$ctx" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  rm -rf "$ctx"
  [ $failed = 0 ] || die "building the base images failed"
  [ ${#pids[@]} = 0 ] || say "${#pids[@]} base image(s) built in $(since "$t0") s"
  exec 9>&-
}

# The image holding only /berth, from the binary cargo built.
build_berth_image() {
  [ -x "$BERTH_BIN" ] || (cd "$repo" && cargo build --release --quiet)
  file -L "$BERTH_BIN" 2>/dev/null | grep -q 'statically linked' \
    || die "$BERTH_BIN is not a static binary (cargo build --release builds the musl one)"
  local ctx
  ctx=$(mktemp -d)
  cp "$BERTH_BIN" "$ctx/berth"
  quiet docker build -q -t "$BERTH_IMAGE" -f "$repo/Dockerfile" "$ctx"
  rm -rf "$ctx"
}

compose_files=(-f "$here/compose.yml")
choose_bases() {
  case $BASES in
    official) ;;
    debian) compose_files+=(-f "$here/compose.debian.yml") ;;
    auto)
      if official_bases_available; then
        BASES=official
      else
        say "the official images cannot be pulled: using stand-ins built from Debian's packages"
        BASES=debian
        compose_files+=(-f "$here/compose.debian.yml")
      fi ;;
    *) die "BASES must be official, debian or auto, not '$BASES'" ;;
  esac
  [ "$BASES" = debian ] && build_debian_bases
  return 0
}

compose() { "${compose_cmd[@]}" "${compose_files[@]}" "$@"; }

prepare() {
  # The secret compose.yml names; a development value unless one is there.
  [ -s "$here/db_password.txt" ] || echo dev-only >"$here/db_password.txt"
  choose_bases
  build_berth_image
  local t0
  t0=$(now)
  quiet compose build -q
  say "images built in $(since "$t0") s"
}

# ---- health ----------------------------------------------------------------

# Prints "NAME STATUS" for every container of the project (or Swarm stack).
states() {
  local filter=$1 id
  for id in $(docker ps -aq --filter "$filter"); do
    docker inspect -f '{{.Name}} {{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}}' "$id"
  done
}

# Waits until every container matching the filter is running and healthy,
# and the containers number at least $2; fails on an unhealthy or exited one.
wait_healthy() {
  local filter=$1 want=$2 deadline=$(( $(date +%s) + UP_TIMEOUT )) s n bad
  while :; do
    s=$(states "$filter")
    n=$(grep -c . <<<"$s" || true)
    bad=$(grep -v ' running/healthy$' <<<"$s" || true)
    if [ "$n" -ge "$want" ] && [ -z "$bad" ]; then
      return 0
    fi
    if grep -q 'unhealthy\|exited/\|dead/' <<<"$bad"; then
      say "not healthy: $(tr '\n' ' ' <<<"$bad")"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "still not healthy after ${UP_TIMEOUT}s: $(tr '\n' ' ' <<<"$bad")"
      return 1
    fi
    sleep 1
  done
}

# Each container's last health check: berth's one line, as `docker inspect` shows it.
print_health() {
  local id
  for id in $(docker ps -q --filter "$1"); do
    printf '%-40s %s\n' "$(docker inspect -f '{{.Name}}' "$id" | cut -c2-)" \
      "$(docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$id" | grep . | tail -1)"
  done
}

show_failure() {
  local id
  for id in $(docker ps -aq --filter "$1"); do
    say "---- $(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")"
    docker logs --tail 30 "$id" 2>&1 | sed 's/^/    /' >&2
  done
}

# ---- compose ---------------------------------------------------------------

project_filter() { echo "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"; }

start() {
  local replicas=$1 t0
  prepare
  t0=$(now)
  # Compose starts a service once the ones it depends on are healthy
  # (depends_on: service_healthy); v1 has no `up --wait`, so the script
  # waits for the last ones itself.
  compose up -d --no-build --scale "backend=$replicas" >&2 \
    || { show_failure "$(project_filter)"; exit 1; }
  wait_healthy "$(project_filter)" $(( ${#SERVICES[@]} - 1 + replicas )) \
    || { show_failure "$(project_filter)"; exit 1; }
  say "all healthy $(since "$t0") s after \`up\` (images already built)"
  print_health "$(project_filter)"
  say "nginx: http://127.0.0.1:$HTTP_PORT/ (API under /api/)"
}

down() {
  compose_files+=(-f "$here/compose.debian.yml")   # names the same services and images
  local t0 id
  t0=$(now)
  compose stop >&2
  say "stopped in $(since "$t0") s"
  # Exit codes: 137 would mean Docker's SIGKILL after the stop timeout.
  for id in $(docker ps -aq --filter "$(project_filter)"); do
    docker inspect -f '{{.Name}} exit {{.State.ExitCode}} at {{.State.FinishedAt}}' "$id" | cut -c2- >&2
  done
  compose down --volumes --remove-orphans --rmi all >&2
  say "removed (containers, networks, volumes, images) $(since "$t0") s after \`down\`"
}

# ---- Swarm -----------------------------------------------------------------

stack_filter() { echo "label=com.docker.stack.namespace=$COMPOSE_PROJECT_NAME"; }

swarm_up() {
  local replicas=${BACKEND_REPLICAS_SWARM:-3}
  export BACKEND_REPLICAS=$replicas
  if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" != active ]; then
    local had_gwbridge=no
    docker network inspect docker_gwbridge >/dev/null 2>&1 && had_gwbridge=yes
    say "docker swarm init (single node; swarm-down leaves it again)"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    # Remembered in the swarm itself, for swarm-down.
    docker node update --label-add berth-example.initialised=yes \
      --label-add "berth-example.had-gwbridge=$had_gwbridge" "$(docker info -f '{{.Swarm.NodeID}}')" >/dev/null
  fi
  prepare
  local t0 file
  t0=$(now)
  # `docker stack deploy` rejects depends_on with conditions (and Swarm
  # would ignore depends_on anyway): in Swarm, berth's --wait is the gate.
  file=$(mktemp)
  local host_ports=no
  if [ ! -e /proc/net/ip_vs ]; then
    say "no IPVS in this kernel: DNS round robin instead of virtual IPs, nginx's port published on the node"
    compose_files+=(-f "$here/compose.swarm-dnsrr.yml")
    host_ports=yes
  fi
  compose config | awk -v host_ports=$host_ports '
    /^    depends_on:/ { skip = 1; next }
    skip && /^      / { next }
    { skip = 0; print }
    host_ports == "yes" && /^      target: / { print "      mode: host" }' >"$file"
  docker stack deploy --resolve-image never --prune -c "$file" "$COMPOSE_PROJECT_NAME" >&2
  rm -f "$file"
  if ! wait_stack "$replicas"; then
    docker stack ps --no-trunc "$COMPOSE_PROJECT_NAME" >&2 || true
    show_failure "$(stack_filter)"
    exit 1
  fi
  say "all replicas running and healthy $(since "$t0") s after \`stack deploy\`"
  print_health "$(stack_filter)"
  say "nginx: http://127.0.0.1:$HTTP_PORT/ (Swarm's routing mesh)"
}

# Every service has all its replicas running (Swarm counts a task with a
# health check as running only once it is healthy), and every container is.
wait_stack() {
  local deadline=$(( $(date +%s) + UP_TIMEOUT )) line ok
  while :; do
    ok=yes
    line=$(docker service ls --filter "$(stack_filter)" --format '{{.Name}} {{.Replicas}}')
    [ "$(grep -c . <<<"$line" || true)" -eq ${#SERVICES[@]} ] || ok=no
    while read -r _ r; do
      [ -n "$r" ] && [ "${r%%/*}" = "${r#*/}" ] || ok=no
    done <<<"$line"
    if [ $ok = yes ] && ! states "$(stack_filter)" | grep -q ' running/\(starting\|unhealthy\)'; then
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "not all replicas healthy after ${UP_TIMEOUT}s: $(tr '\n' ' ' <<<"$line")"
      return 1
    fi
    sleep 1
  done
}

swarm_down() {
  local t0 deadline
  t0=$(now)
  if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" = active ]; then
    docker stack rm "$COMPOSE_PROJECT_NAME" >&2 || true
    # `stack rm` returns before its containers and networks are gone.
    deadline=$(( $(date +%s) + 120 ))
    while [ -n "$(docker ps -aq --filter "$(stack_filter)")$(docker network ls -q --filter "$(stack_filter)")" ]; do
      [ "$(date +%s)" -lt "$deadline" ] || die "stack $COMPOSE_PROJECT_NAME still has containers or networks after 120 s"
      sleep 0.5
    done
    say "stack removed in $(since "$t0") s"
    local labels
    labels=$(docker node inspect self -f '{{index .Spec.Labels "berth-example.initialised"}} {{index .Spec.Labels "berth-example.had-gwbridge"}}')
    if [ "${labels%% *}" = yes ] && [ -z "$(docker service ls -q)" ]; then
      say "docker swarm leave (run-stack.sh initialised it)"
      docker swarm leave --force >/dev/null
      [ "${labels#* }" = yes ] || docker network rm docker_gwbridge >/dev/null 2>&1 || true
    fi
  fi
  local images
  images=$(for s in "${SERVICES[@]}"; do docker image inspect -f '{{.Id}}' "$IMAGES-$s" 2>/dev/null || true; done)
  if [ -n "$images" ]; then
    docker rmi -f $(for s in "${SERVICES[@]}"; do echo "$IMAGES-$s"; done) >/dev/null 2>&1 || true
  fi
}

case ${1:-} in
  up) start 1 ;;
  scale)
    [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "usage: $0 scale N (N backend replicas, N >= 1)"
    start "$2" ;;
  down) down ;;
  swarm) swarm_up ;;
  swarm-down) swarm_down ;;
  bases) BASES=debian; choose_bases ;;
  clean)
    docker rmi berth-example/postgres:15 berth-example/redis:7 berth-example/nginx:1 \
      berth-example/python:3 berth-example/node:18 berth-example/debian:bookworm 2>/dev/null || true ;;
  *) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
