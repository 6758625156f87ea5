//! Running berth as PID 1 of a fresh PID namespace, as Docker does.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_until;

/// A fixture script's path.
pub fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The system Python (not a version-manager shim, which would add a shell
/// between berth and the fixture).
pub const PYTHON: &str = "/usr/bin/python3";

/// berth started as PID 1 of a new PID namespace by `unshare`.
pub struct Pid1 {
    pub unshare: Child,
    /// berth's pid as seen from outside the namespace: where Docker's
    /// signals come from.
    pub outer_pid: i32,
}

impl Pid1 {
    pub fn start(berth_args: &[&str]) -> Pid1 {
        Pid1::start_env(&[], berth_args)
    }

    /// As `start`, with these variables added to berth's environment.
    pub fn start_env(env: &[(&str, &str)], berth_args: &[&str]) -> Pid1 {
        let mut unshare = Command::new("unshare")
            .envs(env.iter().copied())
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(super::berth_path())
            .args(berth_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare is needed to run berth as PID 1 (util-linux)");
        let children = format!("/proc/{0}/task/{0}/children", unshare.id());
        let mut outer = 0;
        let found = wait_until(Duration::from_secs(5), || {
            outer = std::fs::read_to_string(&children)
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            outer > 0
        });
        if !found {
            let _ = unshare.kill();
            let out = unshare.wait_with_output().unwrap();
            panic!(
                "berth did not start in a PID namespace (root needed): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Until berth has blocked its signals (its first act), a signal from
        // outside would reach a PID 1 without handlers, which the kernel
        // drops: wait for berth's own mask (every signal but KILL, STOP and
        // the fault signals), as Docker only signals a started init. (The
        // forked unshare briefly blocks INT and TERM itself before exec.)
        let status = format!("/proc/{outer}/status");
        //
        // A berth whose CMD ends at once may be gone (reaped by unshare)
        // before a busy machine schedules this loop: no signal can reach it
        // any more, so that ends the wait too, and the test's own checks on
        // its exit and output decide.
        let blocked = wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&status).map_or(true, |s| super::shows_berths_mask(&s))
        });
        let pid1 = Pid1 {
            unshare,
            outer_pid: outer,
        };
        assert!(blocked, "berth never blocked its signals");
        pid1
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory arguments.
        let rc = unsafe { libc::kill(self.outer_pid, signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.outer_pid);
    }

    /// Waits (bounded) for berth to end; returns its exit code and stderr.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let status = super::wait_bounded(&mut self.unshare, limit);
        let mut err = String::new();
        if let Some(mut e) = self.unshare.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        (status.code(), err)
    }
}

/// A test that fails midway leaves no berth behind (unshare runs with
/// --kill-child: berth goes with it).
impl Drop for Pid1 {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// Lines of a log file written by a fixture (empty when absent).
pub fn log_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// A fresh temporary directory for one test, removed when the tests end.
pub use super::daemon::temp_dir;
