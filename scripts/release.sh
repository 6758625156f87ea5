#!/usr/bin/env bash
# The release set of the committed HEAD, built so that anyone can rebuild
# the same bytes: both static binaries, SHA256SUMS, and the versions of
# every tool that went into them.
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
targets=${TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}

bash scripts/setup.sh build
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

mkdir -p "$out"
out=$(cd "$out" && pwd -P)
rm -rf "$out"/berth-* "$out"/SHA256SUMS "$out"/TOOLCHAIN "$out"/platform
for t in $targets; do
  # Appended to the target's rustflags in .cargo/config.toml (cargo joins
  # arrays from --config and config files).
  remap="[\"--remap-path-prefix=$src=/berth\", \"--remap-path-prefix=$cargo_home=/cargo\", \"--remap-path-prefix=$rustup_home=/rustup\"]"
  echo "release: building $t" >&2
  cargo build --release --locked --quiet --target "$t" --config "target.$t.rustflags=$remap"
  name=berth-$version-${t/-unknown/}
  bin=$CARGO_TARGET_DIR/$t/release/berth
  file -b "$bin" | grep -q 'statically linked' || { echo "release: $t binary is not static: $(file -b "$bin")" >&2; exit 1; }
  size=$(stat -c %s "$bin")
  [ "$size" -le 2000000 ] || { echo "release: $t binary is $size bytes, over the 2,000,000 limit" >&2; exit 1; }
  cp "$bin" "$out/$name"
  # The same file where the Dockerfile looks for it, by Docker platform.
  case $t in x86_64-*) platform=linux/amd64 ;; aarch64-*) platform=linux/arm64 ;; esac
  mkdir -p "$out/platform/$platform"
  cp "$out/$name" "$out/platform/$platform/berth"
done

{
  echo "berth $version, commit $commit"
  rustc -vV
  cargo -V
  for cc in x86_64-linux-musl-gcc aarch64-linux-gnu-gcc; do
    command -v $cc >/dev/null && echo "$cc: $($cc --version | head -1)"
  done
  for pkg in musl-tools musl-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu binutils; do
    echo "$pkg $(dpkg-query -W -f '${Version}' $pkg 2>/dev/null || echo absent)"
  done
} >"$out/TOOLCHAIN"
(cd "$out" && sha256sum berth-* >SHA256SUMS)
ls -l "$out"
cat "$out/SHA256SUMS"
