#!/usr/bin/env bash
# The README's test command: set up what the tests need (scripts/setup.sh),
# then run the whole suite with cargo-nextest. Extra arguments go to
# `cargo nextest run` (e.g. -E 'test(/check_redis/)').
#
#   bash scripts/test.sh [NEXTEST ARGS...]
#   bash scripts/test.sh --target TARGET [NEXTEST ARGS...]
#
# With --target (any release target of scripts/arches.sh) the tests
# themselves still run natively, but every berth they start is that
# target's release build (BERTH_TEST_BIN and BERTH_TEST_TARGET, see
# tests/support/mod.rs), run by qemu-user through binfmt_misc, or natively
# for i686. BERTH_TEST_BIN set beforehand names an already built binary of
# that target (CI passes the release set's), so nothing is built.
#
#   bash scripts/test.sh --target TARGET --lib [CARGO TEST ARGS...]
#
# builds the library's unit tests (the protocol readers among them) for
# TARGET itself and runs them there, under qemu-user: on s390x that is
# every reader on a big-endian machine. cargo test, not nextest: its
# harness is the one built with std from source.
set -euo pipefail
cd "$(dirname "$0")/.."

target=
if [ "${1:-}" = --target ]; then
  target=${2:?--target needs a target triple}
  shift 2
fi
case $target in
"" | x86_64-unknown-linux-musl) bash scripts/setup.sh test ;;
*)
  source scripts/arches.sh
  arch_field "$target" platform >/dev/null || exit 2
  if [ "${1:-}" = --lib ]; then
    shift
    bash scripts/setup.sh arches
    arch_env "$target"
    cpu=$(arch_field "$target" cpu)
    [ "$cpu" = - ] || export QEMU_CPU=$cpu
    echo "test: the library's unit tests built for $target, run $([ "$(arch_field "$target" qemu)" = - ] && echo natively || echo by qemu-user)" >&2
    # The test harness unwinds (panic_unwind), so std is built with it.
    # shellcheck disable=SC2046 # no arguments, or one -Z flag
    exec cargo test --locked --lib --target "$target" $(arch_cargo_args "$target" | sed 's/panic_abort/panic_unwind/') "$@"
  fi
  if [ "$target" = aarch64-unknown-linux-musl ]; then bash scripts/setup.sh arm64; else bash scripts/setup.sh arches; fi
  if [ -z "${BERTH_TEST_BIN:-}" ]; then
    arch_env "$target"
    # shellcheck disable=SC2046 # no arguments, or one -Z flag
    cargo build --release --locked --target "$target" $(arch_cargo_args "$target")
    unset RUSTC_BOOTSTRAP
    export BERTH_TEST_BIN=target/$target/release/berth
  fi
  export BERTH_TEST_TARGET=$target
  cpu=$(arch_field "$target" cpu)
  [ "$cpu" = - ] || export QEMU_CPU=$cpu
  # qemu-user rejects PR_SET_CHILD_SUBREAPER; berth refuses to run outside a
  # PID namespace without it unless told to go on (tests/cases/run.rs says
  # which tests that touches). Natively (i686) berth gets its subreaper.
  [ "$(arch_field "$target" qemu)" = - ] || export BERTH_NO_SUBREAPER=1
  runner=$(arch_field "$target" qemu)
  [ "$runner" = - ] && runner=natively || runner="by qemu-user ($(qemu-$runner-static --version | head -1 | sed 's/.*version //')${QEMU_CPU:+, cpu $QEMU_CPU})"
  echo "test: berth under test: $BERTH_TEST_BIN ($(file -b "$BERTH_TEST_BIN" | cut -d, -f1-2)), run $runner" >&2
  ;;
esac
exec cargo nextest run --locked "$@"
