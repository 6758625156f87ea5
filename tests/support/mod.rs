//! Test support: the binary under test, bounded process runs, and waiting
//! for conditions with a deadline (never a blind sleep).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The berth binary under test: the one cargo built for this test run, or
/// `BERTH_TEST_BIN` when set (scripts/test.sh points it at another
/// target's release build, which runs under qemu-user through binfmt_misc,
/// or natively for i686).
pub fn berth() -> Command {
    Command::new(berth_path())
}

pub fn berth_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| match std::env::var("BERTH_TEST_BIN") {
        Ok(p) if !p.is_empty() => std::fs::canonicalize(&p)
            .unwrap_or_else(|e| panic!("BERTH_TEST_BIN={p}: {e}"))
            .to_string_lossy()
            .into_owned(),
        _ => env!("CARGO_BIN_EXE_berth").to_string(),
    })
}

/// The target the binary under test was built for: `BERTH_TEST_TARGET`
/// when set (scripts/test.sh sets it beside `BERTH_TEST_BIN`), checked
/// against the ELF header's machine field (read in the header's own byte
/// order: s390x is big-endian); else the target the machine field names.
/// Both ARM targets share one machine number, so they need the variable.
pub fn berth_target() -> &'static str {
    static TARGET: OnceLock<String> = OnceLock::new();
    TARGET.get_or_init(|| {
        let elf = std::fs::read(berth_path()).expect("read the berth binary");
        let field = [elf[18], elf[19]];
        let machine = match elf[5] {
            2 => u16::from_be_bytes(field),
            _ => u16::from_le_bytes(field),
        };
        let arch = match machine {
            62 => "x86_64-",
            183 => "aarch64-",
            40 => "arm",
            3 => "i686-",
            21 => "powerpc64le-",
            243 => "riscv64gc-",
            22 => "s390x-",
            m => panic!("berth binary for an unexpected ELF machine {m}"),
        };
        match std::env::var("BERTH_TEST_TARGET") {
            Ok(t) if !t.is_empty() => {
                assert!(
                    t.starts_with(arch),
                    "BERTH_TEST_TARGET={t}, but the binary's ELF machine is {machine}"
                );
                t
            }
            _ if arch == "arm" => {
                panic!("an ARM berth binary: set BERTH_TEST_TARGET to armv7 or arm (v6)")
            }
            _ => format!("{arch}unknown-linux-musl"),
        }
    })
}

/// Whether the binary under test runs under qemu-user (another
/// architecture's build; this x86_64 machine runs i686 natively), where
/// some kernel interfaces are emulated partially: the tests that depend on
/// them say which and why.
pub fn under_qemu() -> bool {
    let target = berth_target();
    let native = target.starts_with(std::env::consts::ARCH)
        || (std::env::consts::ARCH == "x86_64" && target.starts_with("i686-"));
    !native
}

/// Whether a /proc/PID/status text shows berth's own signal mask (every
/// signal but KILL and STOP blocked, the fault signals included).
///
/// Under qemu-user the host mask is qemu's translation of the guest's:
/// signals 1-31 are the same except SIGSEGV and SIGBUS, which qemu never
/// blocks on the host (it needs them itself), and the real-time ones are
/// renumbered, so only 1-31 are compared. That SEGV and BUS are open is
/// also what tells berth's mask from qemu's own block-everything state
/// while it starts.
pub fn shows_berths_mask(status: &str) -> bool {
    const BERTH: u64 = 0xffff_ffff_fffb_feff;
    // BUS (7) and SEGV (11): bits 6 and 10.
    const QEMU_OPEN: u64 = (1 << 6) | (1 << 10);
    let qemu = under_qemu();
    status.lines().any(|l| match l.strip_prefix("SigBlk:\t") {
        Some(m) if qemu => u64::from_str_radix(m, 16)
            .is_ok_and(|m| m & 0x7fff_ffff == BERTH & 0x7fff_ffff & !QEMU_OPEN),
        Some(m) => u64::from_str_radix(m, 16) == Ok(BERTH),
        None => false,
    })
}

/// The margin a bound on berth's own run time allows (a check ends within
/// its timeout plus this). Under qemu-user the emulator first translates
/// every code path berth takes (TLS, the protocol clients), which on a busy
/// 2-core machine costs seconds, not milliseconds: there the margin is 4x.
pub fn margin(native: Duration) -> Duration {
    if under_qemu() { native * 4 } else { native }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, cond: impl FnMut() -> bool) -> bool {
    poll_every(limit, Duration::from_millis(10), cond)
}

/// Polls `cond` every `every` until it holds or `limit` passes.
pub fn poll_every(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// Waits for `child` at most `limit`; kills it and panics past that, so a
/// hang fails the test instead of blocking CI.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "process {} still running after {limit:?}; killed",
                child.id()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `cmd` to completion with captured output, bounded by `limit`.
pub fn output_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = wait_bounded(&mut child, limit);
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// Lossy text of a byte buffer.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub mod brokers;
pub mod certs;
pub mod daemon;
pub mod deadnet;
pub mod docker;
pub mod faults;
pub mod grpc;
pub mod hostile;
pub mod http;
pub mod mysql;
pub mod pidns;
pub mod postgres;
pub mod redis;
pub mod stack;
