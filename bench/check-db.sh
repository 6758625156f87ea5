#!/usr/bin/env bash
# berth check postgres / redis beside the commands they replace, in one run:
# wall time and CPU (hyperfine), peak RSS (/usr/bin/time -v), and ratios.
#
#   bench/check-db.sh            # builds the release binary first
#   BERTH=/path/to/berth RUNS=300 bench/check-db.sh
#
# Starts its own throwaway PostgreSQL 15 (SCRAM-SHA-256) and Redis
# (requirepass) on free ports, and stops them on exit. Needs: hyperfine,
# GNU time, jq, postgresql-15, postgresql-client, redis-server, redis-tools.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-200}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PW=bench-Pw-2718
if [ -z "${BERTH:-}" ]; then
    cargo build --release --quiet
    BERTH=target/x86_64-unknown-linux-musl/release/berth
fi
for tool in hyperfine /usr/bin/time jq pg_isready psql redis-cli redis-server "$PGBIN/postgres"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
pids=()
cleanup() {
    # SIGQUIT: PostgreSQL's immediate shutdown; Redis stops on SIGTERM.
    kill -QUIT "${pids[0]:-}" 2>/dev/null || true
    kill -TERM "${pids[1]:-}" 2>/dev/null || true
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: use the postgres user then. setpriv
# execs in place, so the pid we keep is the server's own.
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
[ "$(id -u)" = 0 ] && chown postgres "$work"
pgport=$(free_port)
echo "$PW" > "$work/pw"; chmod 644 "$work/pw"
"${as_pg[@]}" "$PGBIN/initdb" -D "$work/pg" -U postgres --pwfile="$work/pw" --auth=scram-sha-256 \
    --no-sync --no-instructions -E UTF8 >/dev/null
"${as_pg[@]}" "$PGBIN/postgres" -D "$work/pg" -c port="$pgport" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$work" -c fsync=off -c password_encryption=scram-sha-256 \
    >"$work/pg.log" 2>&1 &
pids+=($!)
redisport=$(free_port)
redis-server --port "$redisport" --bind 127.0.0.1 --save '' --appendonly no \
    --requirepass "$PW" --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    pg_isready -q -h 127.0.0.1 -p "$pgport" && redis-cli -p "$redisport" -a "$PW" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
done

url="postgres://postgres:$PW@127.0.0.1:$pgport/postgres"
export REDISCLI_AUTH=$PW
declare -A cmd=(
    [berth_pg]="$BERTH check postgres $url"
    [pg_isready]="pg_isready -q -h 127.0.0.1 -p $pgport"
    [psql]="psql -X -q $url -c 'select 1'"
    [berth_redis]="$BERTH check redis redis://127.0.0.1:$redisport"
    [redis_cli]="redis-cli -p $redisport ping"
)
# Every command must succeed before it is timed.
for name in berth_pg pg_isready psql berth_redis redis_cli; do
    sh -c "${cmd[$name]}" >/dev/null || { echo "$name fails: ${cmd[$name]}" >&2; exit 1; }
done

hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/pg.json" \
    -n berth_pg "${cmd[berth_pg]}" -n pg_isready "${cmd[pg_isready]}" -n psql "${cmd[psql]}" >/dev/null
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/redis.json" \
    -n berth_redis "${cmd[berth_redis]}" -n redis_cli "${cmd[redis_cli]}" >/dev/null

rss() { /usr/bin/time -v sh -c "exec ${cmd[$1]}" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
row() { # name json
    jq -r --arg n "$1" '.results[] | select(.command == $n) |
        [.command, (.mean*1000), (.stddev*1000), ((.user+.system)*1000)] | @tsv' "$2"
}
mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' "$2"; }

printf '\n%-12s %10s %9s %10s %10s\n' command "wall ms" "± ms" "cpu ms" "rss kB"
for pair in berth_pg:pg pg_isready:pg psql:pg berth_redis:redis redis_cli:redis; do
    name=${pair%%:*}; json="$work/${pair##*:}.json"
    IFS=$'\t' read -r n wall sd cpu < <(row "$name" "$json")
    printf '%-12s %10.2f %9.2f %10.2f %10s\n' "$n" "$wall" "$sd" "$cpu" "$(rss "$name")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "berth check postgres (SCRAM login + SELECT 1) / pg_isready: $(ratio "$(mean berth_pg "$work/pg.json")" "$(mean pg_isready "$work/pg.json")")x  (target <= 0.5)"
echo "berth check postgres / psql -c 'select 1':                  $(ratio "$(mean berth_pg "$work/pg.json")" "$(mean psql "$work/pg.json")")x"
echo "berth check redis / redis-cli ping:                          $(ratio "$(mean berth_redis "$work/redis.json")" "$(mean redis_cli "$work/redis.json")")x  (target <= 0.5)"
echo "binary: $BERTH, $(stat -c %s "$BERTH") bytes"
