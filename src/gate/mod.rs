//! The startup gate: what happens before the app starts. `berth wait`, and
//! for `berth run` the `--wait` dependencies, the `--pre` steps and the
//! `--pre-lock` they run under.
//!
//! - `wait`: every dependency in parallel, each with the check `berth check`
//!   runs;
//! - `lock`: the PostgreSQL advisory lock that serialises replicas;
//! - `pre`: the steps, in order, under the lock;
//! - `watch`: the one loop the main thread waits in meanwhile, which a stop
//!   signal ends at once (with 128 + N).

pub mod lock;
pub mod pre;
pub mod wait;
mod watch;

use std::ffi::CString;

use crate::exit::{Error, exec_failed};
use crate::log;
use crate::options::WaitOptions;
use crate::sys::signals::{self, Mask, SignalFd};

/// `berth wait URL... [--timeout DUR] [-- CMD]`: waits for every URL, then
/// execs CMD (replacing berth) or returns 0. Signals were blocked by `main`
/// before anything else, so as PID 1 (a Kubernetes initContainer, `docker
/// run IMAGE berth wait ...`) SIGTERM and SIGINT still end it at once;
/// `original_mask` is the mask CMD gets back.
pub fn main(opts: WaitOptions, original_mask: Mask) -> Result<u8, Error> {
    log::set_level(opts.level);
    let signals = SignalFd::new(Mask::handled())
        .map_err(|e| Error::Setup(format!("cannot create a signalfd: {e}")))?;
    wait::wait_all(wait::targets(&opts.urls)?, opts.timeout, Some(&signals))?;
    // A stop signal that came with the last target's success still counts;
    // other queued signals are dropped here rather than delivered to CMD,
    // which did not exist when they were sent.
    if let Some(signal) = signals::drain(&signals) {
        return Err(Error::Stopped {
            signal,
            during: "while waiting for dependencies",
        });
    }
    match opts.cmd {
        None => Ok(0),
        Some(argv) => {
            signals::restore(original_mask);
            Err(exec(&argv))
        }
    }
}

/// Replaces berth with `argv`. Returns only on failure.
fn exec(argv: &[CString]) -> Error {
    match nix::unistd::execvp(&argv[0], argv) {
        Err(e) => exec_failed(&argv[0].to_string_lossy(), e),
        Ok(never) => match never {},
    }
}
