//! Build-time facts for the binary.
//!
//! - `BERTH_VERSION`: what `berth --version` prints after "berth ": the
//!   package version, the target and the commit, so a user can tell which
//!   source and architecture a copied binary came from. The commit comes
//!   from `BERTH_COMMIT` when set (a source tarball without `.git`), else
//!   from git, else it is "unknown". Nothing time- or path-dependent goes
//!   in, so release bytes stay reproducible.
//! - Release builds of the binary drop unwind tables at link time (about
//!   220 kB): the release profile aborts on panic, so nothing ever unwinds.
//!   Test builds keep them, since the test harness unwinds to report
//!   failures.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build/no-unwind-tables.ld");
    println!("cargo:rerun-if-env-changed=BERTH_COMMIT");
    let target = std::env::var("TARGET").unwrap();
    let commit = commit();
    println!(
        "cargo:rustc-env=BERTH_VERSION={} ({target}, commit {commit})",
        std::env::var("CARGO_PKG_VERSION").unwrap()
    );

    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let gnu_ld_target = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if release && gnu_ld_target {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/build/no-unwind-tables.ld");
    }
}

/// The commit being built (12 hex digits), watching the files that change
/// when HEAD moves so the string is never stale.
fn commit() -> String {
    if let Ok(c) = std::env::var("BERTH_COMMIT") {
        return c;
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(hash) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    // HEAD names a branch whose ref file (or packed-refs) moves on commit.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(branch);
    }
    for name in watch {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    hash
}
