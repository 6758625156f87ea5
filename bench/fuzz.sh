#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz + libFuzzer) for SECONDS each and
# prints, per target, the executions, their rate, and the coverage reached
# (libFuzzer's "cov": edges of berth and its dependencies, "ft": features).
# The corpus grows in fuzz/corpus/TARGET (only the seed-* files are
# committed); a crash stops its target, is saved in fuzz/artifacts/TARGET
# and makes the script fail: turn it into a regression unit test.
# usage: bench/fuzz.sh [SECONDS] [TARGET...]   (default 60, every target)
# needs: rustup toolchain nightly, cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null || { echo "fuzz: cargo install cargo-fuzz" >&2; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
cargo +nightly fuzz build -O >/dev/null
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
failed=0
printf '%-12s %8s %12s %9s %7s %7s %7s  %s\n' target seconds executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  result=ok
  # -rss_limit_mb: a reply reader that buffers without bound is a finding.
  cargo +nightly fuzz run -O "$t" -- -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
    -rss_limit_mb=1024 -timeout=30 >"$LOGS/$t" 2>&1 || { result="CRASH (fuzz/artifacts/$t)"; failed=1; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t" | tail -1 || true)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOGS/$t" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$LOGS/$t" | tail -1 | cut -d' ' -f2 || true)
  ft=$(grep -o 'ft: [0-9]*' "$LOGS/$t" | tail -1 | cut -d' ' -f2 || true)
  printf '%-12s %8s %12s %9s %7s %7s %7s  %s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "${secs:-?}" \
    "${cov:-?}" "${ft:-?}" "$(ls "corpus/$t" | wc -l)" "$result"
  [ "$result" = ok ] || grep -m5 -E 'panicked|ERROR|SUMMARY' "$LOGS/$t" | sed 's/^/    /'
done
exit $failed
