#!/usr/bin/env bash
# Reaction time of the startup gate: a dependency (a TCP listener) appears at
# a random moment; how long from its appearance until the waiter starts CMD?
# berth wait beside wait-for-it (Debian's package), same runs, same moments.
# usage: bench/wait.sh [runs]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-target/x86_64-unknown-linux-musl/release/berth}
RUNS=${1:-15}
[ -x "$BERTH" ] || cargo build --release --quiet
command -v wait-for-it >/dev/null || { echo "bench: wait-for-it is missing (apt-get install wait-for-it)" >&2; exit 1; }
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Listens on PORT after DELAY seconds; prints the moment it listened (ns).
listener='
import socket, sys, time
port, delay = int(sys.argv[1]), float(sys.argv[2])
time.sleep(delay)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
print(time.time_ns(), flush=True)
s.settimeout(8)
try:
    while True:
        s.accept()[0].close()
except OSError:
    pass
'
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

measure() { # name, port, delay, command...
  local name=$1 port=$2 delay=$3; shift 3
  $PY -c "$listener" "$port" "$delay" > "$TMP/up" &
  local l=$!
  "$@" > "$TMP/started" 2>/dev/null
  local started up
  started=$(cat "$TMP/started"); up=$(cat "$TMP/up")
  kill "$l" 2>/dev/null || true; wait "$l" 2>/dev/null || true
  echo "$name $(( (started - up) / 1000000 ))" >> "$TMP/results"
}

for i in $(seq "$RUNS"); do
  delay=$($PY -c 'import random; print(round(random.uniform(0.3, 2.5), 3))')
  p=$(free_port)
  measure berth "$p" "$delay" "$BERTH" wait -q --timeout 20s "tcp://127.0.0.1:$p" -- date +%s%N
  p=$(free_port)
  measure wait-for-it "$p" "$delay" wait-for-it -q -h 127.0.0.1 -p "$p" -t 20 -- date +%s%N
done

$PY - "$TMP/results" <<'PYEOF'
import statistics, sys
r = {}
for line in open(sys.argv[1]):
    name, ms = line.split()
    r.setdefault(name, []).append(int(ms))
b = statistics.median(r["berth"])
print(f"reaction time from the dependency's appearance to CMD's start, {len(r['berth'])} runs")
print(f"{'waiter':12} {'median(ms)':>10} {'min':>6} {'max':>6} {'vs berth':>9}")
for name, v in r.items():
    m = statistics.median(v)
    print(f"{name:12} {m:10.0f} {min(v):6d} {max(v):6d} {m / max(b, 1):8.1f}x")
PYEOF
