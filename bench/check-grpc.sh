#!/usr/bin/env bash
# One gRPC health check (grpc.health.v1.Health/Check), berth beside a
# Python client using grpcio's own health stub (what images without
# grpc-health-probe run), against the same local grpcio server in the same
# run. Wall and CPU time from hyperfine, peak memory from GNU time.
# usage: bench/check-grpc.sh [runs]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-target/x86_64-unknown-linux-musl/release/berth}
RUNS=${1:-200}
[ -x "$BERTH" ] || cargo build --release --quiet
for tool in hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing (apt-get install time)" >&2; exit 1; }

# grpcio from PyPI in a virtual environment of its own, made once (the
# same pinned versions the tests use).
VENV=target/bench-grpc-venv
if [ ! -e "$VENV/ready" ]; then
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check \
    grpcio==1.85.3 grpcio-health-checking==1.85.1
  touch "$VENV/ready"
fi
PY=$VENV/bin/python3
TMP=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

"$PY" tests/fixtures/grpc_health_server.py --port-file "$TMP/port" 2>"$TMP/server.log" &
server=$!
for _ in $(seq 200); do [ -e "$TMP/port" ] && break; sleep 0.05; done
[ -e "$TMP/port" ] || { echo "bench: the gRPC server did not come up" >&2; cat "$TMP/server.log" >&2; exit 1; }
ADDR=127.0.0.1:$(cat "$TMP/port")

cat > "$TMP/client.py" <<PYEOF
import sys, grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
with grpc.insecure_channel("$ADDR") as ch:
    r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="app"), timeout=3)
sys.exit(0 if r.status == health_pb2.HealthCheckResponse.SERVING else 1)
PYEOF

names=(berth python-grpcio)
cmds=(
  "$BERTH check grpc $ADDR --service app"
  "$PY $TMP/client.py"
)
for i in "${!cmds[@]}"; do
  sh -c "${cmds[$i]}" >/dev/null || { echo "bench: '${cmds[$i]}' failed" >&2; exit 1; }
done

ROUNDS=5
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
for r in $(seq "$ROUNDS"); do
  hyperfine -N --style none --warmup 5 --runs $(( (RUNS + ROUNDS - 1) / ROUNDS )) \
    --export-json "$TMP/times-$r.json" "${args[@]}" >/dev/null 2>&1
done

for i in "${!cmds[@]}"; do
  for _ in $(seq 20); do
    /usr/bin/time -f '%M' -a -o "$TMP/mem-${names[$i]}" sh -c "exec ${cmds[$i]}" >/dev/null
  done
done

/usr/bin/python3 - "$TMP" "$ROUNDS" <<'PYEOF'
import glob, json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
times, cpu = {}, {}
for f in sorted(glob.glob(f"{tmp}/times-*.json")):
    for r in json.load(open(f))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
        cpu.setdefault(r["command"], []).append(r["user"] + r["system"])
names = list(times)
wall = {n: statistics.median(times[n]) for n in names}
p90 = {n: statistics.quantiles(times[n], n=10)[-1] for n in names}
cpu = {n: statistics.mean(cpu[n]) for n in names}
mem = {n: max(int(l) for l in open(f"{tmp}/mem-{n}")) for n in names}
print(f"one gRPC health check against a local grpcio server: {len(times['berth'])} runs each "
      f"in {rounds} rounds (hyperfine), peak RSS the largest of 20 runs (GNU time)")
print(f"{'command':14} {'median ms':>9} {'p90 ms':>7} {'cpu ms':>7} {'peak RSS kB':>12} "
      f"{'wall/berth':>11} {'cpu/berth':>10} {'RSS/berth':>10}")
for n in names:
    print(f"{n:14} {wall[n]*1e3:9.2f} {p90[n]*1e3:7.2f} {cpu[n]*1e3:7.2f} {mem[n]:12d} "
          f"{wall[n]/wall['berth']:10.1f}x {cpu[n]/cpu['berth']:9.1f}x {mem[n]/mem['berth']:9.1f}x")
PYEOF
