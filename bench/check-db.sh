#!/usr/bin/env bash
# One PostgreSQL and one Redis health check, berth beside pg_isready and
# redis-cli, against local servers started here. Wall and CPU time from
# hyperfine, peak memory from GNU time, and what it adds up to for a host
# running 100 containers checked every 10 s (10 checks a second).
# usage: bench/check-db.sh [runs]   (default 300); needs root (runs
# PostgreSQL as the postgres user), postgresql-15, redis-server, hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-target/x86_64-unknown-linux-musl/release/berth}
RUNS=${1:-300}
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$BERTH" ] || cargo build --release --quiet
for tool in hyperfine redis-server redis-cli pg_isready "$PGBIN/postgres"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Redis with a password, as in production (REDISCLI_AUTH for both tools).
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --requirepass bench >/dev/null &
pids+=($!)
export REDISCLI_AUTH=bench

# PostgreSQL, trust auth on loopback (the check's cost, not scram's).
pport=$(free_port)
chown postgres "$TMP"
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$PGBIN/postgres" -D "$TMP/pg" -k "$TMP" -p "$pport" -c listen_addresses=127.0.0.1 >/dev/null 2>&1 &
pids+=($!)
PG="postgres://postgres@127.0.0.1:$pport/postgres"

names=(berth-pg berth-pg-ping pg_isready berth-redis redis-cli)
cmds=(
  "$BERTH check postgres $PG"
  "$BERTH check postgres --ping $PG"
  "pg_isready -q -h 127.0.0.1 -p $pport"
  "$BERTH check redis redis://127.0.0.1:$rport"
  "redis-cli -p $rport ping"
)
for _ in $(seq 100); do
  $BERTH check postgres "$PG" >/dev/null && $BERTH check redis "redis://127.0.0.1:$rport" >/dev/null && break
  sleep 0.1
done
for i in "${!cmds[@]}"; do
  sh -c "${cmds[$i]}" >/dev/null || { echo "bench: '${cmds[$i]}' failed" >&2; exit 1; }
done

ROUNDS=5
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
for r in $(seq "$ROUNDS"); do
  hyperfine -N --style none --warmup 10 --runs $(( (RUNS + ROUNDS - 1) / ROUNDS )) \
    --export-json "$TMP/times-$r.json" "${args[@]}" >/dev/null 2>&1
done
for i in "${!cmds[@]}"; do
  for _ in $(seq 20); do
    /usr/bin/time -f '%M' -a -o "$TMP/mem-${names[$i]}" sh -c "exec ${cmds[$i]}" >/dev/null
  done
done

python3 - "$TMP" "$ROUNDS" <<'PYEOF'
import glob, json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
times, cpu = {}, {}
for f in sorted(glob.glob(f"{tmp}/times-*.json")):
    for r in json.load(open(f))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
        cpu.setdefault(r["command"], []).append(r["user"] + r["system"])
print(f"one check against a local server: {len(next(iter(times.values())))} runs each in {rounds} rounds "
      f"(hyperfine), peak RSS the largest of 20 runs (GNU time); fleet = 100 containers every 10 s")
print(f"{'command':14} {'median ms':>9} {'cpu ms':>7} {'peak RSS kB':>12} {'fleet cpu %core':>16} {'fleet cpu s/day':>16}")
for n in times:
    c = statistics.mean(cpu[n]) * 1e3
    mem = max(int(l) for l in open(f"{tmp}/mem-{n}"))
    print(f"{n:14} {statistics.median(times[n])*1e3:9.2f} {c:7.2f} {mem:12d} {c*10/10:15.2f}% {c*10*86400/1e3:16.0f}")
PYEOF
