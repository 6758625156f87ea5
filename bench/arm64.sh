#!/usr/bin/env bash
# berth's aarch64 build on this x86_64 machine: binary sizes of both
# release builds, and the idle footprint of the aarch64 berth as PID 1 of a
# PID namespace under qemu-user (binfmt_misc), beside the floor qemu-user
# itself costs (a static aarch64 program that only calls pause(), run by
# the same qemu) and the x86_64 berth natively. qemu's VmRSS includes the
# emulator and its translated code, so only the difference to the floor
# says something about berth, and it is small beside qemu's own ~11 MB
# (the floor program is static glibc, so the difference can come out
# negative); a real arm64 machine runs berth natively.
# Needs root (unshare, binfmt_misc). usage: bench/arm64.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh arm64
IDLE=${IDLE:-5}
X86=target/x86_64-unknown-linux-musl/release/berth
ARM=target/aarch64-unknown-linux-musl/release/berth
cargo build --release --locked --quiet
cargo build --release --locked --quiet --target aarch64-unknown-linux-musl
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
printf '#include <unistd.h>\nint main(void) { pause(); return 0; }\n' >"$TMP/pause.c"
aarch64-linux-gnu-gcc -static -O2 -o "$TMP/pause-aarch64" "$TMP/pause.c"

echo "== release binary sizes (bytes; limit 2,000,000) =="
for b in $X86 $ARM; do printf "%-48s %10s\n" "$b" "$(stat -c %s "$b")"; done

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

echo
echo "== idle PID 1 (VmRSS kB after ${IDLE}s idle) =="
p_arm=$(start_pid1 "$ARM" run -- sleep 600)
p_floor=$(start_pid1 "$TMP/pause-aarch64")
p_x86=$(start_pid1 "$X86" run -- sleep 600)
sleep "$IDLE" # a footprint is what stays after start-up, so let it idle
arm=$(status_field "$p_arm" VmRSS)
floor=$(status_field "$p_floor" VmRSS)
x86=$(status_field "$p_x86" VmRSS)
printf "%-44s %8s\n" "berth aarch64 under qemu-user" "$arm"
printf "%-44s %8s\n" "qemu-user floor (static aarch64 pause())" "$floor"
printf "%-44s %8s\n" "berth aarch64 minus the qemu floor" "$((arm - floor))"
printf "%-44s %8s\n" "berth x86_64, native" "$x86"
echo "qemu: $(qemu-aarch64-static --version | head -1)"
