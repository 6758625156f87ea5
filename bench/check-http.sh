#!/usr/bin/env bash
# One HTTP health check, berth beside the commands it replaces: curl -fsS,
# wget --spider and python3's urllib, against the same local server in the
# same run. Wall and CPU time from hyperfine, peak memory from GNU time.
# usage: bench/check-http.sh [runs]   (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-target/x86_64-unknown-linux-musl/release/berth}
RUNS=${1:-300}
[ -x "$BERTH" ] || cargo build --release --quiet
for tool in hyperfine curl wget python3 busybox; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing (apt-get install time)" >&2; exit 1; }
# The system's python3, as an image would have it (not a version manager's shim).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
TMP=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# busybox httpd forks per connection and answers in well under a
# millisecond, so the server adds little to what is measured.
mkdir "$TMP/www" && echo ok > "$TMP/www/health"
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
busybox httpd -f -p "127.0.0.1:$port" -h "$TMP/www" &
server=$!
URL="http://127.0.0.1:$port/health"
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$URL" 2>/dev/null && break
  sleep 0.05
done
curl -fsS -o /dev/null "$URL" || { echo "bench: the test server did not come up" >&2; exit 1; }

names=(berth curl wget python)
cmds=(
  "$BERTH check http $URL"
  "curl -fsS -o /dev/null $URL"
  "wget -q --spider $URL"
  "$PY -c \"import urllib.request; urllib.request.urlopen('$URL')\""
)
for i in "${!cmds[@]}"; do
  sh -c "${cmds[$i]}" >/dev/null || { echo "bench: '${cmds[$i]}' failed" >&2; exit 1; }
done

# In rounds, so that a burst of load from elsewhere on the machine hits
# every command alike rather than the one that happened to be running.
ROUNDS=5
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
for r in $(seq "$ROUNDS"); do
  hyperfine -N --style none --warmup 10 --runs $(( (RUNS + ROUNDS - 1) / ROUNDS )) \
    --export-json "$TMP/times-$r.json" "${args[@]}" >/dev/null 2>&1
done

# Peak resident memory: the largest of 20 runs each.
for i in "${!cmds[@]}"; do
  for _ in $(seq 20); do
    /usr/bin/time -f '%M' -a -o "$TMP/mem-${names[$i]}" sh -c "exec ${cmds[$i]}" >/dev/null
  done
done

$PY - "$TMP" "$ROUNDS" <<'PYEOF'
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
print(f"one HTTP check against a local server: {len(times['berth'])} runs each in {rounds} rounds "
      f"(hyperfine), peak RSS the largest of 20 runs (GNU time)")
print(f"{'command':8} {'median ms':>9} {'p90 ms':>7} {'cpu ms':>7} {'peak RSS kB':>12} "
      f"{'wall/berth':>11} {'cpu/berth':>10} {'RSS/berth':>10}")
for n in names:
    print(f"{n:8} {wall[n]*1e3:9.2f} {p90[n]*1e3:7.2f} {cpu[n]*1e3:7.2f} {mem[n]:12d} "
          f"{wall[n]/wall['berth']:10.1f}x {cpu[n]/cpu['berth']:9.1f}x {mem[n]/mem['berth']:9.1f}x")
ratio = wall["berth"] / wall["curl"]
print(f"berth's median wall time is {ratio:.2f}x curl's (target: at most 0.25x): "
      f"{'met' if ratio <= 0.25 else 'MISSED'}")
PYEOF
