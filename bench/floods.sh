#!/usr/bin/env bash
# Peak memory of one check against replies that never end: an endless body
# (with --contains), endless headers, and a huge Content-Length, each
# streamed as fast as loopback allows until the check gives up at its
# --timeout. Prints berth's peak RSS beside curl's for the same peer
# (curl -fsS --max-time, the command berth replaces).
# usage: bench/floods.sh [TIMEOUT_SECONDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-target/x86_64-unknown-linux-musl/release/berth}
T=${1:-3}
[ -x "$BERTH" ] || cargo build --release --quiet
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing (apt-get install time)" >&2; exit 1; }
PY=/usr/bin/python3
servers=()
cleanup() { for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# serve HEAD CHUNK: sets $port; sends HEAD then CHUNK forever per connection.
# It runs in this shell (not in a command substitution, whose subshell
# would lose the server's pid and leave it holding the caller's output).
serve() {
  local fifo
  fifo=$(mktemp -u) && mkfifo "$fifo"
  $PY -c '
import socket, sys, threading
head, chunk = sys.argv[1].encode().decode("unicode_escape").encode("latin1"), sys.argv[2].encode() * 4096
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
def feed(c):
    try:
        c.recv(65536); c.sendall(head)
        while True: c.sendall(chunk)
    except OSError: pass
while True:
    c, _ = s.accept(); threading.Thread(target=feed, args=(c,), daemon=True).start()
' "$1" "$2" >"$fifo" 2>/dev/null </dev/null &
  servers+=($!)
  read -r port <"$fifo"
  rm -f "$fifo"
}

peak() { # peak RSS in kB of a command
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1
}

printf '%-22s %14s %14s %8s\n' reply "berth peak kB" "curl peak kB" ratio
for case in body headers length; do
  case $case in
    body)    serve 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n' a; extra=(--contains needle) ;;
    headers) serve 'HTTP/1.1 200 OK\r\n' 'X-Filler: aaaaaaaa\r\n'; extra=() ;;
    length)  serve 'HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n' a; extra=(--contains needle) ;;
  esac
  url="http://127.0.0.1:$port/"
  b=$(peak "$BERTH" check http "$url" --timeout "${T}s" "${extra[@]}" || true)
  c=$(peak curl -fsS -o /dev/null --max-time "$T" "$url" || true)
  printf '%-22s %14s %14s %8s\n' "$case" "$b" "$c" "$(awk -v b="$b" -v c="$c" 'BEGIN{ if (c > 0) printf "%.2f", b / c }')"
done
