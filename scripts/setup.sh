#!/usr/bin/env bash
# Everything berth's build and tests need, installed or detected, on a
# machine that starts with only rustup (Rust toolchain) and Docker. The
# README's commands (examples/demo.sh, scripts/test.sh) run it first, and so
# does CI through them: the set-up lives here and nowhere else.
#
#   bash scripts/setup.sh build   the pinned toolchain with both musl targets
#                                 (rust-toolchain.toml) and the C compilers
#                                 ring needs: enough for `cargo build --release`
#   bash scripts/setup.sh test    build + the servers, peers and tools the
#                                 tests run + cargo-nextest
#   bash scripts/setup.sh arm64   test + qemu-user-static registered in
#                                 binfmt_misc, to run the aarch64 build here
#   bash scripts/setup.sh arches  arm64 + what the other six release targets
#                                 need (scripts/arches.sh): rust-src, Debian's
#                                 cross compilers and musl, an unwinder, and
#                                 every qemu-user registered
#   bash scripts/setup.sh fuzz    build + a nightly toolchain, cargo-fuzz and
#                                 a C++ compiler (libFuzzer): bench/fuzz.sh
#
# Idempotent and quiet when everything is there (a second or so). Installing
# Debian packages or registering binfmt_misc needs root: without it the
# script names what is missing and the command that installs it, and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
case $mode in build | test | arm64 | arches | fuzz) ;; *)
  echo "setup: unknown mode '$mode' (build, test, arm64, arches or fuzz)" >&2
  exit 2
  ;;
esac

say() { echo "setup: $*" >&2; }
die() {
  say "$*"
  exit 1
}
as_root() { [ "$(id -u)" = 0 ]; }

# --- Rust: the toolchain, targets and components of rust-toolchain.toml.
# Inside this directory rustup selects that toolchain, but adds the file's
# targets and components only when it installs the toolchain: to one that
# is already there they are added here (without re-syncing the toolchain).
command -v rustup >/dev/null || die "rustup not found: install it from https://rustup.rs, then run this again"
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$toolchain-"; then
  say "rustup toolchain install (rust-toolchain.toml: $toolchain)"
  rustup toolchain install >/dev/null
fi
have_targets=$(rustup target list --installed --toolchain "$toolchain")
have_components=$(rustup component list --installed --toolchain "$toolchain")
for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  grep -qx "$t" <<<"$have_targets" && continue
  say "rustup target add --toolchain $toolchain $t"
  rustup target add --toolchain "$toolchain" "$t" >/dev/null
done
for c in rustfmt clippy; do
  grep -q "^$c" <<<"$have_components" && continue
  say "rustup component add --toolchain $toolchain $c"
  rustup component add --toolchain "$toolchain" "$c" >/dev/null
done

# --- Debian packages. ring compiles C and assembly for each target:
# musl-tools gives x86_64-linux-musl-gcc; Debian's aarch64 cross gcc
# compiles for aarch64 (rustc links musl's own libc, see .cargo/config.toml)
# but needs libc6-dev-arm64-cross for the C headers ring includes (stdint.h;
# only Recommended by the compiler, so --no-install-recommends leaves it out).
# git names the commit in `berth --version`; procps gives the demo its ps.
apt_build=(musl-tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross git procps)
# Build scripts are linked for the host: rustup's toolchain expects a cc.
command -v cc >/dev/null || apt_build+=(gcc libc6-dev)
# What the tests start or compare against (see tests/support and bench/).
apt_test=(redis-server redis-tools postgresql-15 postgresql-client-15 rabbitmq-server nats-server memcached
  tini dumb-init catatonit
  curl wget hyperfine wait-for-it busybox-static file time jq docker-compose python3 python3-yaml python3-venv
  util-linux bsdutils procps openssl debootstrap iproute2 nftables mariadb-server mariadb-client
  # Podman (tests/cases/podman.rs, kube.rs): rootless needs uidmap's
  # newuidmap and fuse-overlayfs; netavark and aardvark-dns give networks
  # with DNS between containers; catatonit is its --init; runc runs the
  # containers (Debian's crun 1.8 refuses this machine's hybrid cgroups).
  podman uidmap slirp4netns fuse-overlayfs netavark aardvark-dns runc)
apt_arm64=(qemu-user-static)
# libfuzzer-sys compiles libFuzzer, which is C++.
apt_fuzz=()
command -v c++ >/dev/null || apt_fuzz+=(g++)

# The other six targets (scripts/arches.sh): Debian's cross gcc and g++
# (g++ builds the unwinder) and its musl (musl-dev:ARCH, which needs the
# architecture added to dpkg; riscv64's is built below, bookworm has none).
# dpkg-dev unpacks musl's source for that.
apt_arches=(qemu-user-static dpkg-dev)
arches_foreign=()
if [ "$mode" = arches ]; then
  source scripts/arches.sh
  for t in $(arch_targets); do
    [ "$(arch_field "$t" std)" = source ] || continue
    gnu=$(arch_field "$t" gnu) deb=$(arch_field "$t" debian)
    apt_arches+=("gcc-$gnu" "g++-$gnu")
    [ "$deb" = riscv64 ] || { apt_arches+=("musl-dev:$deb"); arches_foreign+=("$deb"); }
  done
  foreign=$(dpkg --print-foreign-architectures)
  for a in "${arches_foreign[@]}"; do
    grep -qx "$a" <<<"$foreign" && continue
    as_root || die "dpkg does not install $a packages; as root: dpkg --add-architecture $a"
    say "dpkg --add-architecture $a"
    dpkg --add-architecture "$a"
  done
fi

want=("${apt_build[@]}")
case $mode in
test) want+=("${apt_test[@]}") ;;
arm64) want+=("${apt_test[@]}" "${apt_arm64[@]}") ;;
arches) want+=("${apt_test[@]}" "${apt_arm64[@]}" "${apt_arches[@]}") ;;
fuzz) want+=("${apt_fuzz[@]}") ;;
esac
missing=()
for pkg in "${want[@]}"; do
  [ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]}, and no apt-get here: install their equivalents"
  as_root || die "missing Debian packages ${missing[*]}; as root: apt-get install ${missing[*]}"
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Podman's configuration for the tests. Its defaults raise the open
# files and processes limits above this machine's hard limits, which root
# may not raise here (no CAP_SYS_RESOURCE): every container would fail to
# start. Without systemd there are no health-check timers (the tests run
# `podman healthcheck run`). Written when absent, refreshed when it is
# ours, left alone (with a word) when someone else wrote it.
if [ "$mode" = test ] || [ "$mode" = arm64 ]; then
  conf=/etc/containers/containers.conf
  mark="# Written by berth's scripts/setup.sh: Podman settings for its tests."
  want_conf="$mark
[containers]
default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]
[network]
network_backend = \"netavark\"
[engine]
runtime = \"runc\""
  if [ ! -e $conf ] || { [ "$(head -1 $conf)" = "$mark" ] && [ "$(cat $conf)" != "$want_conf" ]; }; then
    as_root || die "$conf must set Podman's limits for the tests; run this script as root"
    say "writing $conf (Podman: ulimits, netavark, runc)"
    printf '%s\n' "$want_conf" >$conf
  elif [ "$(head -1 $conf)" != "$mark" ]; then
    say "warning: $conf is not ours; the Podman tests need the settings scripts/setup.sh writes there"
  fi
  # Rootless Podman: an unprivileged user with subordinate ids for its
  # user namespace (tests/support/docker.rs, ROOTLESS_USER).
  if ! id berth-podman >/dev/null 2>&1; then
    as_root || die "the rootless Podman tests need the user berth-podman; run this script as root"
    say "useradd berth-podman (rootless Podman tests)"
    useradd --create-home --shell /usr/sbin/nologin berth-podman
  fi
  for f in /etc/subuid /etc/subgid; do
    grep -q '^berth-podman:' $f && continue
    as_root || die "berth-podman has no range in $f; run this script as root"
    say "usermod: subordinate ids for berth-podman ($f)"
    usermod --add-subuids 300000-365535 --add-subgids 300000-365535 berth-podman
  done
fi

# --- cargo-nextest, the test runner.
if [[ $mode == test || $mode == arm64 || $mode == arches ]] && ! cargo nextest --version >/dev/null 2>&1; then
  say "cargo install --locked cargo-nextest"
  cargo install --locked --quiet cargo-nextest
fi

# --- The fuzz targets (fuzz/): cargo-fuzz needs a nightly toolchain (its
# sanitizer and coverage flags are unstable); the minimal profile is enough.
if [ "$mode" = fuzz ]; then
  if ! rustup toolchain list | grep -q '^nightly-'; then
    say "rustup toolchain install nightly --profile minimal"
    rustup toolchain install nightly --profile minimal >/dev/null
  fi
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    say "cargo install --locked cargo-fuzz"
    cargo install --locked --quiet cargo-fuzz
  fi
fi

# --- rust-src: std's source for the targets built with -Zbuild-std, and
# LLVM libunwind's, which the unwinder below is built from.
if [ "$mode" = arches ] && ! grep -q '^rust-src' <<<"$have_components"; then
  say "rustup component add --toolchain $toolchain rust-src"
  rustup component add --toolchain "$toolchain" rust-src >/dev/null
fi

# --- riscv64's musl: Debian 12 has no musl-dev:riscv64, so musl is built
# from Debian's own source package (the same 1.2.3 and patches as the other
# architectures' musl-dev) with Debian's riscv64 cross gcc, and installed
# where musl-dev:ARCH puts its files, with the same specs file and gcc
# wrapper (riscv64-linux-musl-gcc).
musl_rv=/usr/lib/riscv64-linux-musl
if [ "$mode" = arches ] && { [ ! -e $musl_rv/libc.a ] || [ ! -x /usr/bin/riscv64-linux-musl-gcc ]; }; then
  as_root || die "riscv64 musl is missing; run this script as root to build it from Debian's source"
  src_list=/etc/apt/sources.list.d/berth-deb-src.sources
  if ! apt-get source --print-uris musl >/dev/null 2>&1; then
    say "adding Debian's source packages to apt ($src_list)"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$(. /etc/os-release && echo "$VERSION_CODENAME")" >$src_list
    apt-get update -qq
  fi
  say "building musl for riscv64 from Debian's source (about a minute)"
  work=$(mktemp -d)
  (
    cd "$work"
    apt-get source -qq musl >/dev/null 2>&1
    cd musl-*/
    ./configure --target=riscv64-linux-gnu CROSS_COMPILE=riscv64-linux-gnu- --prefix=/usr \
      --libdir=$musl_rv --includedir=/usr/include/riscv64-linux-musl --syslibdir=$musl_rv \
      --disable-shared --enable-wrapper=gcc
    make -j"$(nproc)"
    # Only the libraries, headers and specs: `make install` would also
    # replace musl-tools' /usr/bin/musl-gcc with a riscv64 one.
    make install-libs install-headers
    install -m 644 lib/musl-gcc.specs $musl_rv/musl-gcc.specs
  ) >"$work.log" 2>&1 || { tail -20 "$work.log" >&2; die "building riscv64 musl failed (log: $work.log, sources: $work)"; }
  rm -f "$work.log"
  rm -rf "$work"
  printf '#!/bin/sh\nexec "${REALGCC:-riscv64-linux-gnu-gcc}" "$@" -specs "%s/musl-gcc.specs"\n' $musl_rv >/usr/bin/riscv64-linux-musl-gcc
  chmod 755 /usr/bin/riscv64-linux-musl-gcc
fi

# --- The unwinder std links on musl (-lunwind): rust-std ships LLVM
# libunwind beside its own musl; for the targets whose std is built here it
# is built from the pinned toolchain's rust-src with the target's musl gcc
# (as Rust's own build does it: C++ without exceptions, RTTI or the C++
# library) into that musl's library directory, where the wrapper's specs
# file makes the linker look. Rebuilt when the toolchain changes.
if [ "$mode" = arches ]; then
  unwind_src=$(rustc +"$toolchain" --print sysroot)/lib/rustlib/src/rust/src/llvm-project/libunwind
  rustc_v=$(rustc +"$toolchain" -V)
  for t in $(arch_targets); do
    [ "$(arch_field "$t" std)" = source ] || continue
    musl=$(arch_field "$t" musl) gnu=$(arch_field "$t" gnu)
    specs=$(sed -n 's/.*-specs "\(.*\)"$/\1/p' "/usr/bin/$musl-gcc")
    libdir=$(dirname "$specs")
    [ "$(cat "$libdir/libunwind.rustc" 2>/dev/null)" = "$rustc_v" ] && [ -e "$libdir/libunwind.a" ] && continue
    as_root || die "no libunwind.a for $t in $libdir; run this script as root to build it"
    say "building LLVM libunwind for $t ($rustc_v)"
    work=$(mktemp -d)
    flags=(-O2 -I"$unwind_src/include" -fstrict-aliasing -funwind-tables -fvisibility=hidden
      -D_LIBUNWIND_DISABLE_VISIBILITY_ANNOTATIONS -DNDEBUG -ffile-prefix-map="$unwind_src=/libunwind")
    for f in UnwindLevel1.c UnwindLevel1-gcc-ext.c UnwindRegistersSave.S UnwindRegistersRestore.S; do
      "$musl-gcc" "${flags[@]}" -std=c99 -c "$unwind_src/src/$f" -o "$work/${f%.*}.o"
    done
    for f in libunwind.cpp Unwind-EHABI.cpp; do
      "$gnu-g++" -specs "$specs" "${flags[@]}" -std=c++17 -fno-rtti -fno-exceptions -nostdinc++ \
        -c "$unwind_src/src/$f" -o "$work/${f%.*}.o"
    done
    rm -f "$libdir/libunwind.a"
    "$gnu-ar" rcD "$libdir/libunwind.a" "$work"/*.o
    echo "$rustc_v" >"$libdir/libunwind.rustc"
    rm -rf "$work"
  done
fi

# --- qemu-user for the other architectures' binaries, through binfmt_misc,
# with the magic and mask Debian's qemu-user-static lists in binfmt.d but
# the static interpreter itself: the F flag opens it now, so it also works
# inside PID/mount namespaces and containers (the engine can then run those
# images too).
register_qemu() {
  local name=$1 binfmt=/proc/sys/fs/binfmt_misc
  if [ ! -e $binfmt/register ]; then
    as_root || die "binfmt_misc is not mounted; as root: mount -t binfmt_misc binfmt_misc $binfmt"
    mount -t binfmt_misc binfmt_misc $binfmt
  fi
  if [ ! -e "$binfmt/qemu-$name" ]; then
    as_root || die "qemu-$name is not registered in binfmt_misc; run this script as root to register it"
    local conf=/usr/lib/binfmt.d/qemu-$name.conf magic mask
    magic=$(cut -d: -f5 "$conf") mask=$(cut -d: -f6 "$conf")
    [ -n "$magic" ] && [ -n "$mask" ] || die "no magic and mask for qemu-$name in $conf"
    say "registering /usr/bin/qemu-$name-static in binfmt_misc (flags F)"
    echo ":qemu-$name:M::$magic:$mask:/usr/bin/qemu-$name-static:F" >$binfmt/register
  fi
  grep -q '^enabled' "$binfmt/qemu-$name" || die "binfmt_misc entry qemu-$name is disabled: echo 1 > $binfmt/qemu-$name"
  grep -q '^flags: .*F' "$binfmt/qemu-$name" ||
    die "binfmt_misc entry qemu-$name lacks the F flag (needed in namespaces): echo -1 > $binfmt/qemu-$name and run this again"
}
case $mode in
arm64) register_qemu aarch64 ;;
arches)
  for t in $(arch_targets); do
    q=$(arch_field "$t" qemu)
    [ "$q" = - ] || register_qemu "$q"
  done
  ;;
esac
exit 0
