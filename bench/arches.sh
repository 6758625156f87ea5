#!/usr/bin/env bash
# berth on every release architecture (scripts/arches.sh), on this x86_64
# machine: one row per target with
#   - the release binary's size (bytes; the limit is 2,000,000),
#   - its idle footprint as PID 1 of a PID namespace (VmRSS kB after IDLE
#     seconds), under qemu-user for the foreign ones, beside qemu's own
#     floor: a static program of the same architecture (musl, or aarch64's
#     static glibc) that only calls pause(), run by the same qemu. qemu's
#     VmRSS includes the emulator and its translated code, so only the
#     difference to the floor says something about berth (it can come out
#     negative); a real machine of that architecture runs berth natively.
#   - whether the subset of the test suite .ci/run runs against it passed
#     (arch_subset_filter in scripts/arches.sh), unless --no-subset.
# Needs root (unshare, binfmt_misc).
#
#   bench/arches.sh [--no-subset] [TARGET...]      (default: all eight)
set -euo pipefail
cd "$(dirname "$0")/.."
subset=1
[ "${1:-}" = --no-subset ] && { subset=0; shift; }
source scripts/arches.sh
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(arch_targets)
for t in "${targets[@]}"; do arch_field "$t" platform >/dev/null || exit 2; done
bash scripts/setup.sh arches
IDLE=${IDLE:-5}

TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
printf '#include <unistd.h>\nint main(void) { pause(); return 0; }\n' >"$TMP/pause.c"

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Starts "$@" as PID 1 of a new PID namespace; prints its host pid.
start_pid1() {
  unshare --pid --fork --mount-proc --kill-child "$@" >/dev/null 2>&1 &
  local u=$! p=
  for _ in $(seq 500); do
    p=$(cut -d' ' -f1 "/proc/$u/task/$u/children" 2>/dev/null || true)
    [ -n "$p" ] && break
    sleep 0.01
  done
  echo "$p"
}

rows=()
for t in "${targets[@]}"; do
  echo "arches: $t: building" >&2
  arch_env "$t"
  # shellcheck disable=SC2046 # no arguments, or one -Z flag
  cargo build --release --locked --quiet --target "$t" $(arch_cargo_args "$t")
  unset RUSTC_BOOTSTRAP
  bin=target/$t/release/berth
  size=$(stat -c %s "$bin")
  cpu=$(arch_field "$t" cpu) qemu=$(arch_field "$t" qemu)
  if [ "$cpu" = - ]; then unset QEMU_CPU; else export QEMU_CPU=$cpu; fi
  case $(arch_field "$t" musl) in
  -) cc=$(arch_field "$t" gnu)-gcc ;;
  *) cc=$(arch_field "$t" musl)-gcc ;;
  esac
  [ "$t" = x86_64-unknown-linux-musl ] && cc=musl-gcc
  "$cc" -static -O2 -o "$TMP/pause-$t" "$TMP/pause.c"
  # A foreign berth cannot become a subreaper under qemu-user; as PID 1
  # it needs none.
  p_berth=$(start_pid1 "$bin" run -- sleep 600)
  p_floor=$(start_pid1 "$TMP/pause-$t")
  sleep "$IDLE" # a footprint is what stays after start-up, so let it idle
  rss=$(status_field "$p_berth" VmRSS) floor=$(status_field "$p_floor" VmRSS)
  # SIGKILL to a PID 1 ends its namespace; unshare then exits.
  kill -KILL "$p_berth" "$p_floor" 2>/dev/null || true
  wait 2>/dev/null || true
  passed=skipped
  if [ $subset = 1 ]; then
    echo "arches: $t: the qemu subset" >&2
    if BERTH_TEST_BIN=$bin bash scripts/test.sh --target "$t" --no-fail-fast -E "$(arch_subset_filter "$t")" >"$TMP/subset-$t.log" 2>&1; then
      passed=$(grep -o '[0-9]* tests\? run: [0-9]* passed' "$TMP/subset-$t.log" | tail -1)
    else
      passed="FAILED: $(grep -o '[0-9]* tests\? run: .*' "$TMP/subset-$t.log" | tail -1)"
    fi
  fi
  runner=native
  [ "$qemu" = - ] || runner="qemu-$qemu${QEMU_CPU:+ -cpu $QEMU_CPU}"
  rows+=("$(printf '%-32s %-22s %10s %8s %8s %8s  %s' "$t" "$runner" "$size" "$rss" "$floor" "$((rss - floor))" "$passed")")
done

echo
printf '%-32s %-22s %10s %8s %8s %8s  %s\n' target "run by" bytes "rss kB" "floor kB" "berth kB" "qemu subset"
printf '%s\n' "${rows[@]}"
echo "qemu: $(qemu-aarch64-static --version | head -1)"
