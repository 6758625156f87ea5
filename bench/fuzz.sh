#!/usr/bin/env bash
# Builds every fuzz target (fuzz/, cargo-fuzz + libFuzzer), runs each for
# SECONDS, and prints, per target, the executions, their rate, and the
# coverage reached (libFuzzer's "cov": edges of berth and its dependencies,
# "ft": features). CI runs it (.ci/run) as `bench/fuzz.sh --seeds 20`.
#
# usage: bench/fuzz.sh [--seeds] [SECONDS] [TARGET...]   (default 60, every target)
#   --seeds  start from the committed seed-* files only, in a scratch copy:
#            fuzz/corpus stays as it is (CI; comparable runs)
# Without --seeds the corpus grows in fuzz/corpus/TARGET (only the seed-*
# files are committed).
#
# A crash, a timeout, running out of memory or a failed property (a panic in
# the target) ends its target, is saved in fuzz/artifacts/TARGET and makes
# the script fail; the others still run. Each finding is named with the
# panic, the input as base64 and the command that replays it: make it a
# seed-* file or a unit test once fixed.
#
# Set-up (the nightly toolchain, cargo-fuzz, a C++ compiler for libFuzzer):
# scripts/setup.sh fuzz, which this runs first.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=false
if [ "${1:-}" = --seeds ]; then
  seeds=true
  shift
fi
SECONDS_EACH=${1:-60}
shift || true
bash scripts/setup.sh fuzz

# fuzz/ is a workspace of its own with its own Cargo.lock: the packages it
# shares with berth must be the versions berth is built and shipped with.
# Compared per semver-compatible line (1.x, 0.31.x): a fuzz-only dependency
# may need a second, incompatible version of a package beside berth's.
drift=$(awk 'function line(v, p) {
    split(v, p, ".")
    return p[1] != "0" ? p[1] : p[2] != "0" ? "0." p[2] : "0.0." p[3]
  }
  FNR == 1 { f++; n = "" }
  /^name = / { n = $3; gsub(/"/, "", n) }
  /^version = / && n != "" { v = $3; gsub(/"/, "", v); have[f, n " " line(v)] = v }
  END {
    for (k in have) {
      split(k, a, SUBSEP)
      if (a[1] == 1 && ((2, a[2]) in have) && have[k] != have[2, a[2]]) {
        split(a[2], nv, " ")
        print "  " nv[1] ": " have[k] " in Cargo.lock, " have[2, a[2]] " in fuzz/Cargo.lock"
      }
    }
  }' Cargo.lock fuzz/Cargo.lock | sort)
if [ -n "$drift" ]; then
  echo "fuzz: fuzz/Cargo.lock has other versions than berth's Cargo.lock:" >&2
  echo "$drift" >&2
  echo "fuzz: to align them: cp Cargo.lock fuzz/Cargo.lock && (cd fuzz && cargo +nightly fuzz build -O)" >&2
  exit 1
fi

cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
  echo "fuzz: cargo +nightly fuzz build -O (all ${#targets[@]} targets)" >&2
  cargo +nightly fuzz build -O
else
  for t in "${targets[@]}"; do cargo +nightly fuzz build -O "$t"; done
fi
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
failed=()
printf '%-12s %8s %12s %9s %7s %7s %7s  %s\n' target seconds executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
  corpus=corpus/$t
  if $seeds; then
    corpus=$LOGS/corpus-$t
    mkdir -p "$corpus"
    cp corpus/"$t"/seed-* "$corpus"/ 2>/dev/null || true
  fi
  mkdir -p "$corpus"
  result=ok
  # -rss_limit_mb: a reply reader that buffers without bound is a finding.
  cargo +nightly fuzz run -O "$t" "$corpus" -- -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
    -rss_limit_mb=1024 -timeout=30 >"$LOGS/$t" 2>&1 || result=FAILED
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t" | tail -1 || true)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOGS/$t" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$LOGS/$t" | tail -1 | cut -d' ' -f2 || true)
  ft=$(grep -o 'ft: [0-9]*' "$LOGS/$t" | tail -1 | cut -d' ' -f2 || true)
  # libFuzzer names the input it saved with its absolute path.
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$LOGS/$t" | tail -1 || true)
  artifact=${artifact#"$PWD"/}
  [ "$result" = ok ] || result="FAILED: ${artifact:+fuzz/$artifact}"
  printf '%-12s %8s %12s %9s %7s %7s %7s  %s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "${secs:-?}" \
    "${cov:-?}" "${ft:-?}" "$(find "$corpus" -type f | wc -l)" "$result"
  if [ "$result" != ok ]; then
    failed+=("$t")
    # The panic and its message (a property's assertion spans lines), or
    # libFuzzer's and the sanitizer's own verdict.
    { grep -m1 -A3 'panicked at' "$LOGS/$t" || grep -m5 -E '^==[0-9]+==|ERROR|SUMMARY|error' "$LOGS/$t" || tail -20 "$LOGS/$t"; } |
      sed 's/^/    /'
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
      echo "    input (base64): $(base64 -w0 "$artifact" | head -c 2000)"
      echo "    replay: (cd fuzz && cargo +nightly fuzz run -O $t $artifact)"
    fi
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
