#!/usr/bin/env bash
# berth doing its main job on this machine: PID 1 of a fresh PID namespace,
# like an ENTRYPOINT in a container. The app leaves orphans behind and
# drains for a moment on SIGTERM; berth forwards the signal, reaps every
# orphan, and exits with the app's own status. Needs root (unshare).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build # the pinned toolchain, musl target, C compilers
BERTH=target/x86_64-unknown-linux-musl/release/berth
cargo build --release --locked --quiet

app='
  echo "app: started as PID $$ under $(cat /proc/1/comm) (PID 1)"
  for i in 1 2 3; do (sleep 300 &); done    # orphans, re-parented to PID 1
  trap "echo app: got SIGTERM, draining...; sleep 0.3; echo app: bye; exit 0" TERM
  while :; do sleep 0.1; done'

echo "\$ unshare --pid --fork --mount-proc $BERTH run -v -- sh -c '...'"
unshare --pid --fork --mount-proc "$BERTH" run -v --grace 2s -- sh -c "$app" &
ns=$!
for _ in $(seq 100); do
  pid1=$(cut -d' ' -f1 "/proc/$ns/task/$ns/children" 2>/dev/null || true)
  [ -n "$pid1" ] && grep -q "sleep" <(ps --ppid "$pid1" -o comm= 2>/dev/null) && break
  sleep 0.05
done
echo "demo: processes in the namespace (berth is PID 1):"
ps -o pid=,ppid=,comm= --ppid "$pid1" | sed 's/^/    /'
echo "demo: docker stop -> SIGTERM to PID 1 (host pid $pid1)"
start=$(date +%s%N)
kill -TERM "$pid1"
set +e; wait "$ns"; code=$?; set -e
echo "demo: container exited with code $code after $(( ($(date +%s%N) - start) / 1000000 )) ms; no zombies, no 10 s SIGKILL stall"
