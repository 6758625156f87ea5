#!/usr/bin/env bash
# The release set of the committed HEAD, built so that anyone can rebuild
# the same bytes: the eight static binaries (scripts/arches.sh), SHA256SUMS,
# and the versions of every tool that went into them.
#
#   bash scripts/release.sh [OUTDIR]        (default target/dist)
#   TARGETS=x86_64-unknown-linux-musl bash scripts/release.sh OUTDIR
#
# Reproducible because: the toolchain is pinned (rust-toolchain.toml), the
# dependencies are locked (--locked), every absolute path that could reach
# the binary (this checkout, including its target directory, the cargo
# registry, rustup's home) is remapped to a fixed name, the linker writes no
# build id, and nothing reads the clock (build.rs puts only the version,
# target and commit in `berth --version`). The build uses its own target
# directory, so the usual `cargo build` artifacts stay as they are.
#
# Check a release: clone the commit anywhere, run this, compare SHA256SUMS.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/dist}
source scripts/arches.sh
targets=${TARGETS:-$(arch_targets)}
for t in $targets; do arch_field "$t" platform >/dev/null || exit 2; done

# Only the x86_64 and aarch64 builds need no more than the build set-up.
if [ -n "$(for t in $targets; do [ "$(arch_field "$t" std)" = source ] && echo "$t"; done)" ]; then
  bash scripts/setup.sh arches
else
  bash scripts/setup.sh build
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "release: the checkout has uncommitted changes; a release is built from a commit" >&2
  exit 1
fi
commit=$(git rev-parse HEAD)
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
src=$(pwd -P)
cargo_home=$(cd "${CARGO_HOME:-$HOME/.cargo}" && pwd -P)
rustup_home=$(cd "${RUSTUP_HOME:-$HOME/.rustup}" && pwd -P)
export CARGO_TARGET_DIR=$src/target/release-build CARGO_INCREMENTAL=0
# Keep the environment from adding flags of its own.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

times=()
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
rm -rf "$out"/berth-* "$out"/SHA256SUMS "$out"/TOOLCHAIN "$out"/platform
for t in $targets; do
  # Appended to the target's rustflags in .cargo/config.toml (cargo joins
  # arrays from --config and config files).
  remap="[\"--remap-path-prefix=$src=/berth\", \"--remap-path-prefix=$cargo_home=/cargo\", \"--remap-path-prefix=$rustup_home=/rustup\"]"
  echo "release: building $t" >&2
  start=$SECONDS
  arch_env "$t"
  # shellcheck disable=SC2046 # no arguments, or one -Z flag
  cargo build --release --locked --quiet --target "$t" $(arch_cargo_args "$t") --config "target.$t.rustflags=$remap"
  times+=("$t $((SECONDS - start))s")
  name=berth-$version-${t/-unknown/}
  bin=$CARGO_TARGET_DIR/$t/release/berth
  file -b "$bin" | grep -q 'statically linked' || { echo "release: $t binary is not static: $(file -b "$bin")" >&2; exit 1; }
  size=$(stat -c %s "$bin")
  [ "$size" -le 2000000 ] || { echo "release: $t binary is $size bytes, over the 2,000,000 limit" >&2; exit 1; }
  cp "$bin" "$out/$name"
  # The same file where the Dockerfile looks for it, by Docker platform.
  platform=$(arch_field "$t" platform)
  mkdir -p "$out/platform/$platform"
  cp "$out/$name" "$out/platform/$platform/berth"
done

{
  echo "berth $version, commit $commit"
  rustc -vV
  cargo -V
  # musl-dev:amd64: other architectures' musl-dev may be installed too.
  pkgs=(musl-tools musl-dev:amd64 binutils)
  for t in $targets; do
    gnu=$(arch_field "$t" gnu) deb=$(arch_field "$t" debian)
    [ "$deb" = amd64 ] && continue
    command -v "$gnu-gcc" >/dev/null && echo "$gnu-gcc: $("$gnu-gcc" --version | head -1)"
    pkgs+=("gcc-$gnu" "binutils-$gnu")
    case $(arch_field "$t" std) in
    prebuilt) pkgs+=("libc6-dev-$deb-cross") ;;
    source)
      echo "$t: std built from the toolchain's rust-src (-Zbuild-std=std,panic_abort, RUSTC_BOOTSTRAP=1)"
      [ "$deb" = riscv64 ] && echo "musl for riscv64: built from Debian's musl source" || pkgs+=("musl-dev:$deb")
      ;;
    esac
  done
  for pkg in "${pkgs[@]}"; do
    echo "$pkg $(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo absent)"
  done
} >"$out/TOOLCHAIN"
(cd "$out" && sha256sum berth-* >SHA256SUMS)
ls -l "$out"
echo "release: build times (this machine, now): ${times[*]}" >&2
cat "$out/SHA256SUMS"
