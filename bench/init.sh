#!/usr/bin/env bash
# berth run beside tini, tini-static, dumb-init and catatonit, in one run:
#   idle footprint of PID 1 (VmRSS, threads, context switches over IDLE s),
#   start-up overhead (berth run -- true vs bare true, hyperfine),
#   time to reap a storm of N orphans as PID 1 of a PID namespace,
#   binary size.
# Needs root (unshare --pid), hyperfine, tini, dumb-init, catatonit, python3.
# usage: bench/init.sh [path/to/berth]   (default: the musl release build)
set -euo pipefail
cd "$(dirname "$0")/.."

BERTH=${1:-target/x86_64-unknown-linux-musl/release/berth}
IDLE=${IDLE:-10}
ORPHANS=${ORPHANS:-1000}
[ -x "$BERTH" ] || cargo build --release --quiet
for tool in hyperfine tini tini-static dumb-init catatonit unshare; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine tini dumb-init catatonit)" >&2; exit 1; }
done
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; jobs -p | xargs -r kill 2>/dev/null || true' EXIT

# name|command prefix that runs "CMD..." under the init
INITS=(
  "berth|$BERTH run --"
  "tini|tini --"
  "tini-static|tini-static --"
  "dumb-init|dumb-init"
  "catatonit|catatonit --"
)

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

echo "== idle PID 1 running sleep: VmRSS, threads, context switches in ${IDLE}s (all inits side by side) =="
declare -A PID
for entry in "${INITS[@]}"; do
  name=${entry%%|*}; cmd=${entry#*|}
  # shellcheck disable=SC2086
  unshare --pid --fork --mount-proc --kill-child $cmd sleep $((IDLE + 30)) &
  u=$!
  for _ in $(seq 200); do
    p=$(cut -d' ' -f1 "/proc/$u/task/$u/children" 2>/dev/null || true)
    [ -n "$p" ] && break
    sleep 0.01
  done
  PID[$name]=$p
done
sleep 1 # let every init settle into its idle loop before counting
declare -A CS0
for entry in "${INITS[@]}"; do
  name=${entry%%|*}; p=${PID[$name]}
  CS0[$name]=$(( $(status_field "$p" voluntary_ctxt_switches) + $(status_field "$p" nonvoluntary_ctxt_switches) ))
done
sleep "$IDLE"
printf "%-12s %10s %8s %14s %12s\n" init "VmRSS(kB)" threads "wakeups/${IDLE}s" "size(kB)"
for entry in "${INITS[@]}"; do
  name=${entry%%|*}; cmd=${entry#*|}; p=${PID[$name]}
  cs=$(( $(status_field "$p" voluntary_ctxt_switches) + $(status_field "$p" nonvoluntary_ctxt_switches) - CS0[$name] ))
  bin=$(command -v "${cmd%% *}")
  printf "%-12s %10s %8s %14s %12s\n" "$name" "$(status_field "$p" VmRSS)" "$(status_field "$p" Threads)" "$cs" $(( $(stat -c %s "$bin") / 1024 ))
  echo "$name $(status_field "$p" VmRSS)" >> "$TMP/rss"
done
kill "${PID[@]}" 2>/dev/null || true
wait 2>/dev/null || true

echo
echo "== start-up overhead: INIT true vs bare true (hyperfine, not PID 1) =="
hyperfine -N --warmup 50 --runs 1000 --export-json "$TMP/start.json" --style none \
  -n true "true" \
  -n berth "$BERTH run -- true" \
  -n tini "tini -s -- true" \
  -n tini-static "tini-static -s -- true" \
  -n dumb-init "dumb-init true" \
  -n catatonit "catatonit -- true" >/dev/null 2>&1
$PY - "$TMP/start.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["true"]["mean"]
b = r["berth"]["mean"] - base
print(f"{'init':12} {'mean(ms)':>9} {'overhead(ms)':>13} {'vs berth':>9}")
for name, x in r.items():
    over = x["mean"] - base
    ratio = "" if name == "true" else f"{over / b:8.2f}x"
    print(f"{name:12} {x['mean']*1000:9.3f} {over*1000:13.3f} {ratio:>9}")
EOF

echo
echo "== reaping a storm of $ORPHANS orphans that exit at once, as PID 1 (hyperfine) =="
args=()
for entry in "${INITS[@]}"; do
  name=${entry%%|*}; cmd=${entry#*|}
  args+=(-n "$name" "unshare --pid --fork --mount-proc $cmd $PY tests/fixtures/orphans.py $ORPHANS")
done
hyperfine -N --warmup 1 --runs 10 --export-json "$TMP/storm.json" --style none "${args[@]}" >/dev/null 2>&1
$PY - "$TMP/storm.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b = r["berth"]["mean"]
print(f"{'init':12} {'mean(ms)':>9} {'vs berth':>9}")
for name, x in r.items():
    print(f"{name:12} {x['mean']*1000:9.1f} {x['mean']/b:8.2f}x")
EOF
