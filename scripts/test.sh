#!/usr/bin/env bash
# The README's test command: set up what the tests need (scripts/setup.sh),
# then run the whole suite with cargo-nextest. Extra arguments go to
# `cargo nextest run` (e.g. -E 'test(/check_redis/)').
#
#   bash scripts/test.sh [NEXTEST ARGS...]
#   bash scripts/test.sh --target aarch64-unknown-linux-musl [NEXTEST ARGS...]
#
# With --target aarch64-unknown-linux-musl the tests themselves still run
# natively, but every berth they start is the aarch64 release build, run by
# qemu-user through binfmt_misc (BERTH_TEST_BIN, see tests/support/mod.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

target=
if [ "${1:-}" = --target ]; then
  target=${2:?--target needs a target triple}
  shift 2
fi
case $target in
"" | x86_64-unknown-linux-musl) bash scripts/setup.sh test ;;
aarch64-unknown-linux-musl)
  bash scripts/setup.sh arm64
  cargo build --release --locked --target "$target"
  export BERTH_TEST_BIN=target/$target/release/berth
  # qemu-user rejects PR_SET_CHILD_SUBREAPER; berth refuses to run outside a
  # PID namespace without it unless told to go on (tests/cases/run.rs says
  # which tests that touches).
  export BERTH_NO_SUBREAPER=1
  echo "test: berth under test: $BERTH_TEST_BIN ($(file -b "$BERTH_TEST_BIN" | cut -d, -f1-2)), run by qemu-user" >&2
  ;;
*)
  echo "test: unsupported target '$target' (x86_64-unknown-linux-musl or aarch64-unknown-linux-musl)" >&2
  exit 2
  ;;
esac
exec cargo nextest run --locked "$@"
