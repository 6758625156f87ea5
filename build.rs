//! Release builds of the binary drop unwind tables at link time (about
//! 220 kB): the release profile aborts on panic, so nothing ever unwinds.
//! Test builds keep them, since the test harness unwinds to report failures.

fn main() {
    println!("cargo:rerun-if-changed=build/no-unwind-tables.ld");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let gnu_ld_target = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if release && gnu_ld_target {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/build/no-unwind-tables.ld");
    }
}
