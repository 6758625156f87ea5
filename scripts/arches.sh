# The eight release targets and what each needs, in one table that
# scripts/setup.sh, scripts/release.sh, scripts/test.sh and bench/arches.sh
# read (sourced, not run). .cargo/config.toml holds the same targets'
# compilers and flags.
#
#   target    the Rust target triple
#   platform  the Docker platform of the official images
#   debian    Debian's architecture name (musl-dev:ARCH and qemu's names)
#   gnu       prefix of Debian's cross gcc/binutils for that architecture
#   musl      prefix of the musl gcc wrapper musl-dev:ARCH ships ('-': rustc
#             links rust-std's own musl, no wrapper needed)
#   qemu      qemu-user's name for it ('-': this x86_64 machine runs it
#             natively, i386 through the kernel's 32-bit support)
#   cpu       the CPU qemu emulates (QEMU_CPU; '-': qemu's default, which
#             accepts every instruction of the architecture). arm/v6 runs
#             on an ARM1176 (a Raspberry Pi 1's core), so an ARMv7-only
#             instruction in the build faults there instead of passing.
#   std       'prebuilt': rustup's rust-std; 'source': built with
#             -Zbuild-std from the pinned toolchain's rust-src (no prebuilt
#             std for it can be had here; s390x musl is tier 3 and has none)
berth_arches='
x86_64-unknown-linux-musl      linux/amd64   amd64   x86_64-linux-gnu      -                      -       -       prebuilt
aarch64-unknown-linux-musl     linux/arm64   arm64   aarch64-linux-gnu     -                      aarch64 -       prebuilt
armv7-unknown-linux-musleabihf linux/arm/v7  armhf   arm-linux-gnueabihf   arm-linux-musleabihf   arm     -       source
arm-unknown-linux-musleabi     linux/arm/v6  armel   arm-linux-gnueabi     arm-linux-musleabi     arm     arm1176 source
i686-unknown-linux-musl        linux/386     i386    i686-linux-gnu        i386-linux-musl        -       -       source
powerpc64le-unknown-linux-musl linux/ppc64le ppc64el powerpc64le-linux-gnu powerpc64le-linux-musl ppc64le -       source
riscv64gc-unknown-linux-musl   linux/riscv64 riscv64 riscv64-linux-gnu     riscv64-linux-musl     riscv64 -       source
s390x-unknown-linux-musl       linux/s390x   s390x   s390x-linux-gnu       s390x-linux-musl       s390x   -       source
'

# Every target, in the table's order.
arch_targets() { awk 'NF { print $1 }' <<<"$berth_arches"; }

# arch_field TARGET NAME: one column of TARGET's row; fails for a target
# not in the table.
arch_field() {
  local col
  case $2 in
  platform) col=2 ;; debian) col=3 ;; gnu) col=4 ;; musl) col=5 ;;
  qemu) col=6 ;; cpu) col=7 ;; std) col=8 ;;
  *) echo "arch_field: no column '$2'" >&2; return 2 ;;
  esac
  local v
  v=$(awk -v t="$1" -v c=$col '$1 == t { print $c }' <<<"$berth_arches")
  [ -n "$v" ] || { echo "unknown target '$1' (one of: $(arch_targets | tr '\n' ' '))" >&2; return 2; }
  echo "$v"
}

# The cargo arguments a target's build needs beyond --target: std from
# source where there is no prebuilt one (RUSTC_BOOTSTRAP=1 lets the pinned
# stable rustc take -Z flags; arch_env sets it).
arch_cargo_args() {
  [ "$(arch_field "$1" std)" = source ] && echo "-Zbuild-std=std,panic_abort"
  return 0
}
arch_env() {
  if [ "$(arch_field "$1" std)" = source ]; then export RUSTC_BOOTSTRAP=1; else unset RUSTC_BOOTSTRAP; fi
}

# The part of the suite .ci/run and bench/arches.sh run against TARGET's
# release binary (a nextest filter): PID 1, exit codes and signals, orphans,
# the startup gate (wait on TCP and HTTP targets, pre-steps), check http and
# check redis against real servers, and check postgres against a real
# server. aarch64 runs every PostgreSQL test and the pre-start lock too;
# the others run the PostgreSQL logins (SCRAM, MD5, TLS modes, the ping),
# which keeps CI's time for seven emulated architectures in bounds (most of
# a PostgreSQL test's time is its server starting, natively). s390x, the
# big-endian one, also runs the gRPC check's tests (HTTP/2 framing, HPACK).
arch_subset_filter() {
  case $1 in
  aarch64-unknown-linux-musl) echo 'test(/^cases::(run|gate|pre_lock|inherit|check_http|check_postgres|check_redis)::/)' ;;
  s390x-unknown-linux-musl) echo 'test(/^cases::(run|gate|check_http|check_redis|check_grpc)::/) | test(/^cases::check_postgres::(login_and_query_with_scram|md5_password|ssl_modes|ping_means_pg_isready)$/)' ;;
  *) echo 'test(/^cases::(run|gate|check_http|check_redis)::/) | test(/^cases::check_postgres::(login_and_query_with_scram|md5_password|ssl_modes|ping_means_pg_isready)$/)' ;;
  esac
}
