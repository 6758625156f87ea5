#!/usr/bin/env bash
# berth run beside tini, tini-static, dumb-init and catatonit, in one run:
#   idle footprint of PID 1 (VmRSS, threads, context switches over IDLE s),
#   start-up overhead with a static CMD (INIT busybox true vs bare busybox
#   true, hyperfine, RUNS runs): mean, standard deviation and standard error,
#   and whether berth's lead is beyond the spread;
#   each init's own CPU time reaping a storm of N orphans as PID 1 of a PID
#   namespace (its /proc/PID/schedstat from release to the last reaped,
#   SHARE runs each: median, min and max), and the storm's wall time;
#   binary size.
# Needs root (unshare --pid), hyperfine, tini, dumb-init, catatonit, python3.
# usage: bench/init.sh [path/to/berth]   (default: the musl release build)
set -euo pipefail
cd "$(dirname "$0")/.."

BERTH=${1:-target/x86_64-unknown-linux-musl/release/berth}
IDLE=${IDLE:-10}
ORPHANS=${ORPHANS:-1000}
RUNS=${RUNS:-1500}
SHARE=${SHARE:-15}
[ -x "$BERTH" ] || cargo build --release --quiet
for tool in hyperfine tini tini-static dumb-init catatonit unshare busybox; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine tini dumb-init catatonit busybox-static)" >&2; exit 1; }
done
# A static CMD: a dynamically linked one spends most of its start in the
# loader, which drowns the init's own share.
STATIC_TRUE=$(command -v busybox)
file -b "$STATIC_TRUE" | grep -q 'statically linked' || { echo "bench: $STATIC_TRUE is not static (apt-get install busybox-static)" >&2; exit 1; }
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
echo "== start-up overhead: INIT busybox true vs bare busybox true (static CMD; hyperfine, $RUNS runs, not PID 1) =="
hyperfine -N --warmup 100 --runs "$RUNS" --export-json "$TMP/start.json" --style none \
  -n true "$STATIC_TRUE true" \
  -n berth "$BERTH run -- $STATIC_TRUE true" \
  -n tini "tini -s -- $STATIC_TRUE true" \
  -n tini-static "tini-static -s -- $STATIC_TRUE true" \
  -n dumb-init "dumb-init $STATIC_TRUE true" \
  -n catatonit "catatonit -- $STATIC_TRUE true" >/dev/null 2>&1
$PY - "$TMP/start.json" <<'EOF'
import json, math, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["true"]["mean"]
sem = lambda x: x["stddev"] / math.sqrt(len(x["times"]))
b = r["berth"]["mean"] - base
print(f"{'init':12} {'mean(ms)':>9} {'stddev':>8} {'sem':>7} {'overhead(ms)':>13} {'vs berth':>9}")
for name, x in r.items():
    over = x["mean"] - base
    ratio = "" if name == "true" else f"{over / b:8.2f}x"
    print(f"{name:12} {x['mean']*1000:9.3f} {x['stddev']*1000:8.3f} {sem(x)*1000:7.4f} {over*1000:13.3f} {ratio:>9}")
# Beyond the spread: berth's mean plus two standard errors below every
# other init's mean minus two of theirs.
inits = [n for n in r if n not in ("true", "berth")]
hi = r["berth"]["mean"] + 2 * sem(r["berth"])
ahead = [n for n in inits if hi < r[n]["mean"] - 2 * sem(r[n])]
behind = [n for n in inits if n not in ahead]
print(f"berth lowest beyond 2 standard errors against: {', '.join(ahead) or 'none'}"
      + (f"; not against: {', '.join(behind)}" if behind else ""))
EOF

echo
echo "== each init's own CPU time reaping $ORPHANS orphans that exit at once, as PID 1 ($SHARE runs each, interleaved) =="
for _ in $(seq "$SHARE"); do
  for entry in "${INITS[@]}"; do
    name=${entry%%|*}; cmd=${entry#*|}
    # shellcheck disable=SC2086
    out=$(unshare --pid --fork --mount-proc $cmd $PY tests/fixtures/orphans.py "$ORPHANS" --share)
    echo "$name ${out%%$'\n'*}" >> "$TMP/share"
  done
done
$PY - "$TMP/share" "$ORPHANS" <<'EOF'
import statistics, sys
n = int(sys.argv[2])
runs = {}
for line in open(sys.argv[1]):
    name, field = line.split()
    runs.setdefault(name, []).append(int(field.split("=")[1]) / 1e6)
b = statistics.median(runs["berth"])
print(f"{'init':12} {'median(ms)':>10} {'min':>7} {'max':>7} {'us/orphan':>10} {'vs berth':>9}")
for name, v in runs.items():
    m = statistics.median(v)
    print(f"{name:12} {m:10.2f} {min(v):7.2f} {max(v):7.2f} {m * 1000 / n:10.2f} {m / b:8.2f}x")
EOF

echo
echo "== the storm's wall time, fixture included (mostly the fixture's own forking; hyperfine) =="

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
