//! Test support: the binary under test, bounded process runs, and waiting
//! for conditions with a deadline (never a blind sleep).

#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The berth binary built by cargo for this test run.
pub fn berth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berth"))
}

pub fn berth_path() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
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

pub mod certs;
pub mod daemon;
pub mod docker;
pub mod hostile;
pub mod http;
pub mod pidns;
pub mod postgres;
pub mod redis;
