#!/usr/bin/env bash
# One HTTPS health check (connect, full TLS handshake with certificate
# verification, GET), berth beside curl, against a Python (OpenSSL) HTTPS
# server with an RSA-2048, an ECDSA P-256 and an Ed25519 certificate from a
# private CA, in the same run. Medians and ratios from hyperfine. One more
# berth row trusts the system's bundle instead of --cacert: the
# distribution's CA file with the bench CA appended, as SSL_CERT_FILE.
# (Not `openssl s_server -www`: its replies meet delayed ACKs, ~40 ms each.)
# usage: bench/check-tls.sh [runs]   (default 200; ROUNDS=N, default 4, interleaves
# the commands more finely when the machine is busy)
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-target/x86_64-unknown-linux-musl/release/berth}
RUNS=${1:-200}
[ -x "$BERTH" ] || cargo build --release --quiet
BERTH=$(realpath "$BERTH")
for tool in hyperfine curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
cd "$TMP"
ossl() { openssl "$@" >/dev/null 2>&1 || { echo "bench: openssl $* failed" >&2; exit 1; }; }

ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
  -out ca.pem -days 2 -subj "/CN=bench CA"
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
declare -A keyopts=(
  [rsa2048]="-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
  [ecdsa-p256]="-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
  [ed25519]="-algorithm ED25519"
)
labels=(rsa2048 ecdsa-p256 ed25519)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A urls
for l in "${labels[@]}"; do
  # shellcheck disable=SC2086
  ossl genpkey ${keyopts[$l]} -out "$l.key"
  ossl req -new -key "$l.key" -subj /CN=localhost -out "$l.csr"
  ossl x509 -req -in "$l.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out "$l.pem"
  port=$(free_port)
  python3 - "$port" "$l.pem" "$l.key" >/dev/null 2>&1 <<'PYEOF' &
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a): pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PYEOF
  pids+=($!)
  urls[$l]="https://localhost:$port/"
  for _ in $(seq 100); do
    curl -fsS --cacert ca.pem -o /dev/null "${urls[$l]}" 2>/dev/null && break
    sleep 0.05
  done
  curl -fsS --cacert ca.pem -o /dev/null "${urls[$l]}" || { echo "bench: the $l server did not come up" >&2; exit 1; }
  "$BERTH" check http --cacert ca.pem "${urls[$l]}" >/dev/null || { echo "bench: berth failed against $l" >&2; exit 1; }
done

B="$BERTH"
args=()
for l in "${labels[@]}"; do
  args+=(-n "berth $l" "$B check http --cacert $TMP/ca.pem ${urls[$l]}")
  args+=(-n "curl $l" "curl -fsS -o /dev/null --cacert $TMP/ca.pem ${urls[$l]}")
done
# The system's bundle, last the CA that signed the server: every anchor
# before it is one berth could have parsed for nothing. hyperfine -N runs
# no shell, so the variable is set for every command; --cacert (berth's
# and curl's) replaces it. No SSL_CERT_DIR, which some shells set.
SYSTEM=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  [ -r "$f" ] && { SYSTEM=$f; break; }
done
cat ${SYSTEM:+"$SYSTEM"} ca.pem > bundle.pem
export SSL_CERT_FILE=$TMP/bundle.pem
unset SSL_CERT_DIR
BUNDLED=ecdsa-p256
"$B" check http "${urls[$BUNDLED]}" >/dev/null || { echo "bench: berth failed with the bundle" >&2; exit 1; }
args+=(-n "berth $BUNDLED bundle" "$B check http ${urls[$BUNDLED]}")
# In rounds, so a burst of load from elsewhere hits every command alike.
ROUNDS=${ROUNDS:-4}
for r in $(seq "$ROUNDS"); do
  hyperfine -N --style none --warmup 5 --runs $(( (RUNS + ROUNDS - 1) / ROUNDS )) \
    --export-json "times-$r.json" "${args[@]}" >/dev/null 2>&1
done

python3 - "$TMP" "$BUNDLED" "$(grep -c 'BEGIN CERTIFICATE' bundle.pem)" "${labels[@]}" <<'PYEOF'
import glob, json, statistics, sys
tmp, bundled, anchors, labels = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
times, cpu = {}, {}
for f in sorted(glob.glob(f"{tmp}/times-*.json")):
    for r in json.load(open(f))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
        cpu.setdefault(r["command"], []).append(r["user"] + r["system"])
n = len(times[f"berth {labels[0]}"])
print(f"one HTTPS check (TLS handshake + GET) against a Python/OpenSSL server, {n} runs each (hyperfine);")
print("CPU is the checking process's own (user + system), wall includes the server's share")
print(f"{'server key':12} {'berth ms':>9} {'curl ms':>8} {'curl/berth':>11} {'berth cpu':>10} {'curl cpu':>9} {'cpu ratio':>10}")
for l in labels:
    b = statistics.median(times[f"berth {l}"]) * 1000
    c = statistics.median(times[f"curl {l}"]) * 1000
    bc = statistics.mean(cpu[f"berth {l}"]) * 1000
    cc = statistics.mean(cpu[f"curl {l}"]) * 1000
    print(f"{l:12} {b:9.2f} {c:8.2f} {c / b:11.2f} {bc:10.2f} {cc:9.2f} {cc / bc:10.2f}")
s = statistics.median(times[f"berth {bundled} bundle"]) * 1000
sc = statistics.mean(cpu[f"berth {bundled} bundle"]) * 1000
b = statistics.median(times[f"berth {bundled}"]) * 1000
bc = statistics.mean(cpu[f"berth {bundled}"]) * 1000
print(f"berth {bundled} trusting the system bundle ({anchors} CAs, SSL_CERT_FILE) instead of --cacert:")
print(f"  {s:.2f} ms wall ({s - b:+.2f} ms), {sc:.2f} ms cpu ({sc - bc:+.2f} ms)")
PYEOF
