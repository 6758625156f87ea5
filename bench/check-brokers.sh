#!/usr/bin/env bash
# berth check amqp / nats / memcached beside what images use for them
# today, in one run against the same local servers: `rabbitmq-diagnostics
# ping` and a Python pika client (connect, open the vhost, close) for
# RabbitMQ; a Python nats-py client (connect, flush = PING/PONG) for NATS;
# `printf 'version\r\nquit\r\n' | nc` for memcached (the usual compose
# one-liner, with `quit` so that memcached hangs up and nc ends at once).
# Wall and CPU time from hyperfine, peak RSS from GNU time, ratios.
#
#   bench/check-brokers.sh [runs]      (default 100; rabbitmq-diagnostics
#                                       gets runs/10, it takes seconds each)
#
# Starts its own RabbitMQ (with its own epmd, node name and ports; as the
# rabbitmq user), nats-server and memcached on free loopback ports, and
# stops them on exit. Needs: hyperfine, GNU time, jq, python3-venv,
# rabbitmq-server, nats-server, memcached, busybox (scripts/setup.sh test).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-100}
SLOW_RUNS=$(( RUNS / 10 > 5 ? RUNS / 10 : 5 ))
BERTH=${BERTH:-target/x86_64-unknown-linux-musl/release/berth}
[ -x "$BERTH" ] || cargo build --release --quiet
RABBIT=/usr/lib/rabbitmq/bin
for tool in hyperfine jq busybox /usr/bin/time /usr/bin/epmd /usr/sbin/nats-server /usr/bin/memcached "$RABBIT/rabbitmq-server"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/setup.sh test)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root (the servers run as their packages' users)" >&2; exit 1; }

# pika and nats-py from PyPI in a virtual environment of their own, made once.
VENV=target/bench-brokers-venv
if [ ! -e "$VENV/ready" ]; then
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check pika==1.3.2 nats-py==2.9.0
  touch "$VENV/ready"
fi
PY=$VENV/bin/python3

work=$(mktemp -d /tmp/berth-bench-brokers.XXXXXX)
chmod 755 "$work"
pids=()
epmd=
cleanup() {
  # The servers first (the RabbitMQ node unregisters from its epmd as it
  # stops), epmd last.
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  [ -n "$epmd" ] && kill -TERM "$epmd" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A foreground command as a package's user. (Servers are started with
# setpriv itself, which execs, so that $! is the server's own pid.)
as() { setpriv --reuid="$1" --regid="$1" --init-groups -- "${@:2}"; }

# --- RabbitMQ: its own epmd in the foreground (so it ends with the
# script), a fixed distribution port, its own node name and directories.
rmq=$work/rabbitmq
mkdir -p "$rmq"
amqp_port=$(free_port)
epmd_port=$(free_port)
dist_port=$(free_port)
printf 'listeners.tcp.1 = 127.0.0.1:%s\nloopback_users = none\n' "$amqp_port" > "$rmq/rabbitmq.conf"
echo '[].' > "$rmq/enabled_plugins"
: > "$rmq/rabbitmq-env.conf"
chown -R rabbitmq: "$rmq"
rmq_env=(env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$rmq" ERL_EPMD_PORT="$epmd_port"
  RABBITMQ_NODENAME="bench$$@localhost" RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port"
  RABBITMQ_MNESIA_BASE="$rmq/mnesia" RABBITMQ_LOG_BASE="$rmq/log" RABBITMQ_LOGS=-
  RABBITMQ_CONFIG_FILE="$rmq/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$rmq/enabled_plugins"
  RABBITMQ_CONF_ENV_FILE="$rmq/rabbitmq-env.conf")
setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups -- /usr/bin/epmd -port "$epmd_port" >"$work/epmd.log" 2>&1 &
epmd=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$epmd_port") 2>/dev/null && break; sleep 0.1; done
# SIGTERM makes the script stop the node (rabbitmqctl stop) and wait.
setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups -- "${rmq_env[@]}" "$RABBIT/rabbitmq-server" >"$work/rabbitmq.log" 2>&1 &
pids+=($!)
ready=false
for _ in $(seq 60); do
  if as rabbitmq "${rmq_env[@]}" "$RABBIT/rabbitmqctl" -q await_startup --timeout 30 >/dev/null 2>&1; then ready=true; break; fi
  sleep 0.5
done
$ready || { echo "bench: RabbitMQ did not start" >&2; tail -20 "$work/rabbitmq.log" >&2; exit 1; }
PW=bench-Pw-5672
as rabbitmq "${rmq_env[@]}" "$RABBIT/rabbitmqctl" -q add_vhost prod
as rabbitmq "${rmq_env[@]}" "$RABBIT/rabbitmqctl" -q add_user app "$PW"
as rabbitmq "${rmq_env[@]}" "$RABBIT/rabbitmqctl" -q set_permissions -p prod app '.*' '.*' '.*'

# --- NATS and memcached.
nats_port=$(free_port)
setpriv --reuid=nats --regid=nats --init-groups -- /usr/sbin/nats-server -a 127.0.0.1 -p "$nats_port" --user app --pass "$PW" >"$work/nats.log" 2>&1 &
pids+=($!)
mc_port=$(free_port)
setpriv --reuid=memcache --regid=memcache --init-groups -- /usr/bin/memcached -l 127.0.0.1 -p "$mc_port" -U 0 -m 16 >"$work/memcached.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  "$BERTH" check nats "nats://app:$PW@127.0.0.1:$nats_port" >/dev/null 2>&1 &&
    "$BERTH" check memcached "127.0.0.1:$mc_port" >/dev/null 2>&1 && break
  sleep 0.1
done

cat > "$work/pika_check.py" <<'PYEOF'
import sys, pika
conn = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
conn.close()
PYEOF
cat > "$work/nats_check.py" <<'PYEOF'
import sys, asyncio, nats
async def main():
    nc = await nats.connect(sys.argv[1], connect_timeout=3, max_reconnect_attempts=0, allow_reconnect=False)
    await nc.flush(timeout=3)
    await nc.close()
asyncio.run(main())
PYEOF
chmod 644 "$work"/*.py

amqp_url="amqp://app:$PW@127.0.0.1:$amqp_port/prod"
nats_url="nats://app:$PW@127.0.0.1:$nats_port"
diag="setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups -- ${rmq_env[*]} $RABBIT/rabbitmq-diagnostics -q ping"
declare -A cmd=(
  [berth_amqp]="$BERTH check amqp $amqp_url"
  [pika]="$PY $work/pika_check.py $amqp_url"
  [diagnostics_ping]="$diag"
  [berth_nats]="$BERTH check nats $nats_url"
  [nats_py]="$PY $work/nats_check.py $nats_url"
  [berth_memcached]="$BERTH check memcached 127.0.0.1:$mc_port"
  [nc_version]="sh -c 'printf \"version\\r\\nquit\\r\\n\" | busybox nc -w 1 127.0.0.1 $mc_port | grep -q VERSION'"
)
names=(berth_amqp pika diagnostics_ping berth_nats nats_py berth_memcached nc_version)
for name in "${names[@]}"; do
  sh -c "${cmd[$name]}" >/dev/null 2>&1 || { echo "bench: $name fails: ${cmd[$name]}" >&2; exit 1; }
done

hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$work/amqp.json" \
  -n berth_amqp "${cmd[berth_amqp]}" -n pika "${cmd[pika]}" >/dev/null
hyperfine -N --warmup 1 --runs "$SLOW_RUNS" --export-json "$work/diag.json" \
  -n diagnostics_ping "${cmd[diagnostics_ping]}" >/dev/null
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$work/nats.json" \
  -n berth_nats "${cmd[berth_nats]}" -n nats_py "${cmd[nats_py]}" >/dev/null
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$work/mc.json" \
  -n berth_memcached "${cmd[berth_memcached]}" -n nc_version "${cmd[nc_version]}" >/dev/null

# Peak RSS of the process tree's largest process (GNU time: the command
# itself, or its largest child when it runs through sh).
rss() { /usr/bin/time -v sh -c "exec ${cmd[$1]}" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
row() { jq -r --arg n "$1" '.results[] | select(.command == $n) |
  [.command, (.mean*1000), (.stddev*1000), ((.user+.system)*1000), (.times | length)] | @tsv' "$2"; }
mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' "$2"; }
cpu() { jq -r --arg n "$1" '.results[] | select(.command == $n) | (.user + .system)' "$2"; }

printf '\n%-17s %10s %9s %10s %10s %6s\n' command "wall ms" "± ms" "cpu ms" "rss kB" runs
for pair in berth_amqp:amqp pika:amqp diagnostics_ping:diag berth_nats:nats nats_py:nats \
  berth_memcached:mc nc_version:mc; do
  name=${pair%%:*}; json="$work/${pair##*:}.json"
  IFS=$'\t' read -r n wall sd c runs < <(row "$name" "$json")
  printf '%-17s %10.2f %9.2f %10.2f %10s %6s\n' "$n" "$wall" "$sd" "$c" "$(rss "$name")" "$runs"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo
echo "wall: berth check amqp / pika:                      $(ratio "$(mean berth_amqp "$work/amqp.json")" "$(mean pika "$work/amqp.json")")x"
echo "wall: berth check amqp / rabbitmq-diagnostics ping: $(ratio "$(mean berth_amqp "$work/amqp.json")" "$(mean diagnostics_ping "$work/diag.json")")x"
echo "cpu:  berth check amqp / rabbitmq-diagnostics ping: $(ratio "$(cpu berth_amqp "$work/amqp.json")" "$(cpu diagnostics_ping "$work/diag.json")")x"
echo "wall: berth check nats / nats-py:                   $(ratio "$(mean berth_nats "$work/nats.json")" "$(mean nats_py "$work/nats.json")")x"
echo "cpu:  berth check nats / nats-py:                   $(ratio "$(cpu berth_nats "$work/nats.json")" "$(cpu nats_py "$work/nats.json")")x"
echo "wall: berth check memcached / printf | nc:         $(ratio "$(mean berth_memcached "$work/mc.json")" "$(mean nc_version "$work/mc.json")")x"
echo "binary: $BERTH, $(stat -c %s "$BERTH") bytes"
