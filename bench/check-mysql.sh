#!/usr/bin/env bash
# berth check mysql beside the commands it replaces, in one run: wall time
# and CPU (hyperfine), peak RSS (/usr/bin/time -v), and ratios.
#
#   bench/check-mysql.sh            # builds the release binary first
#   BERTH=/path/to/berth RUNS=300 bench/check-mysql.sh
#
# Starts its own throwaway MariaDB (mysql_native_password user) on a free
# port as the mysql user, and stops it on exit. Compared: `mysqladmin ping`,
# `mysql -e 'select 1'`, and PyMySQL (what Python images carry) when pip can
# install it into a throwaway venv. Needs: hyperfine, GNU time, jq,
# mariadb-server, mariadb-client, python3-venv (scripts/setup.sh test).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-200}
PW=bench-My-2718
if [ -z "${BERTH:-}" ]; then
    cargo build --release --quiet
    BERTH=target/x86_64-unknown-linux-musl/release/berth
fi
for tool in hyperfine /usr/bin/time jq mysqladmin mariadb mariadb-install-db /usr/sbin/mariadbd; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

work=$(mktemp -d /tmp/berth-bench-mysql.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# mariadbd as root needs --user; as the mysql user it needs nothing more.
# setpriv execs in place, so the pid kept is the server's own.
as_my=()
[ "$(id -u)" = 0 ] && as_my=(setpriv --reuid=mysql --regid=mysql --init-groups --)
[ "$(id -u)" = 0 ] && chown mysql "$work"
port=$(free_port)
sock=$work/mysqld.sock
"${as_my[@]}" mariadb-install-db --no-defaults --datadir="$work/data" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >/dev/null
"${as_my[@]}" /usr/sbin/mariadbd --no-defaults --datadir="$work/data" --socket="$sock" --port="$port" \
    --bind-address=127.0.0.1 --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=16M \
    --pid-file="$work/mariadbd.pid" >"$work/mariadbd.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
    mysqladmin --no-defaults -uroot --socket="$sock" ping >/dev/null 2>&1 && break
    sleep 0.1
done
mariadb --no-defaults -uroot --socket="$sock" -e \
    "CREATE USER 'bench'@'%' IDENTIFIED BY '$PW'; GRANT SELECT ON *.* TO 'bench'@'%';"

py=
if python3 -m venv "$work/venv" >/dev/null 2>&1 && "$work/venv/bin/pip" install -q pymysql >/dev/null 2>&1; then
    py=$work/venv/bin/python
else
    echo "pymysql: not installable here, left out" >&2
fi

url="mysql://bench:$PW@127.0.0.1:$port/"
export MYSQL_PWD=$PW
declare -A cmd=(
    [berth_mysql]="$BERTH check mysql $url"
    [berth_ping]="$BERTH check mysql $url --ping"
    [mysqladmin]="mysqladmin --no-defaults -h 127.0.0.1 -P $port -u bench ping"
    [mysql_cli]="mariadb --no-defaults -h 127.0.0.1 -P $port -u bench -e 'select 1'"
)
names=(berth_mysql berth_ping mysqladmin mysql_cli)
if [ -n "$py" ]; then
    cmd[pymysql]="$py -c 'import pymysql; c = pymysql.connect(host=\"127.0.0.1\", port=$port, user=\"bench\", password=\"$PW\"); c.cursor().execute(\"select 1\"); c.close()'"
    names+=(pymysql)
fi
# Every command must succeed before it is timed.
for name in "${names[@]}"; do
    sh -c "${cmd[$name]}" >/dev/null || { echo "$name fails: ${cmd[$name]}" >&2; exit 1; }
done

args=()
for name in "${names[@]}"; do args+=(-n "$name" "${cmd[$name]}"); done
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/my.json" "${args[@]}" >/dev/null

rss() { /usr/bin/time -v sh -c "exec ${cmd[$1]}" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
row() {
    jq -r --arg n "$1" '.results[] | select(.command == $n) |
        [.command, (.mean*1000), (.stddev*1000), ((.user+.system)*1000)] | @tsv' "$work/my.json"
}
mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' "$work/my.json"; }

printf '\n%-12s %10s %9s %10s %10s\n' command "wall ms" "± ms" "cpu ms" "rss kB"
for name in "${names[@]}"; do
    IFS=$'\t' read -r n wall sd cpu < <(row "$name")
    printf '%-12s %10.2f %9.2f %10.2f %10s\n' "$n" "$wall" "$sd" "$cpu" "$(rss "$name")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "berth check mysql (login + SELECT 1) / mysqladmin ping:  $(ratio "$(mean berth_mysql)" "$(mean mysqladmin)")x"
echo "berth check mysql --ping / mysqladmin ping:             $(ratio "$(mean berth_ping)" "$(mean mysqladmin)")x"
echo "berth check mysql / mysql -e 'select 1':                $(ratio "$(mean berth_mysql)" "$(mean mysql_cli)")x"
[ -n "$py" ] && echo "berth check mysql / pymysql connect + select 1:         $(ratio "$(mean berth_mysql)" "$(mean pymysql)")x"
echo "binary: $BERTH, $(stat -c %s "$BERTH") bytes"
