//! The startup gate: what happens before the app starts. `berth wait`, and
//! for `berth run` the `--wait` dependencies, the `--pre` steps and the
//! `--pre-lock` they run under.
//!
//! - `wait`: every dependency in parallel, each with the check `berth check`
//!   runs;
//! - `lock`: the PostgreSQL advisory lock or MySQL named lock that serialises replicas;
//! - `pre`: the steps, in order, under the lock;
//! - `watch`: the one loop the main thread waits in meanwhile, which a stop
//!   signal ends at once (with 128 + N);
//! - `stop_pending`: the rule for a stop signal that arrives between these,
//!   which `berth wait` and `berth run` both follow.

pub mod lock;
pub mod pre;
pub mod wait;
mod watch;

use std::ffi::CString;

use crate::exit::{Error, exec_failed};
use crate::inherit::{Environment, For};
use crate::log;
use crate::options::WaitOptions;
use crate::sys::signals::{self, Mask, SignalFd};

/// `berth wait URL... [--timeout DUR] [-- CMD]`: waits for every URL, then
/// execs CMD (replacing berth) or returns 0. Signals were blocked by `main`
/// before anything else, so as PID 1 (a Kubernetes initContainer, `docker
/// run IMAGE berth wait ...`) SIGTERM and SIGINT still end it at once;
/// `original_mask` is the mask CMD gets back.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
pub fn main(opts: WaitOptions, original_mask: Mask) -> Result<u8, Error> {
    log::set_level(opts.level);
    let signals = SignalFd::new(Mask::handled())
        .map_err(|e| Error::Setup(format!("cannot create a signalfd: {e}")))?;
    wait::wait_all(wait::targets(&opts.urls)?, opts.timeout, Some(&signals))?;
    match opts.cmd {
        None => Ok(0),
        Some(argv) => {
            stop_pending(&signals, "before the command started")?;
            signals::restore(original_mask);
            Err(exec(&argv))
        }
    }
}

/// The one rule for stop signals before CMD, which `berth wait -- CMD` and
/// `berth run` both follow: a SIGTERM, SIGINT, SIGQUIT or SIGHUP received
/// before CMD starts ends berth with 128 + N, and CMD is never started.
///
/// While berth waits (for dependencies, for the pre-start lock) its watch
/// loop sees such a signal at once, and while a pre-start step runs it is
/// forwarded to the step and ends the gate when the step ends. This
/// function catches the ones that arrive in between: together with the last
/// dependency's success, before a step starts, after the last step. The
/// gate calls it at each of those points, and last thing before CMD starts
/// (exec for `wait`, spawn for `run`). Other signals queued meanwhile are
/// dropped: no process existed to receive them, and after `wait`'s exec
/// they would reach CMD as soon as it unblocks them.
pub fn stop_pending(signals: &SignalFd, during: &'static str) -> Result<(), Error> {
    match signals::drain(signals) {
        Some(signal) => Err(Error::Stopped { signal, during }),
        None => Ok(()),
    }
}

/// Replaces berth with `argv`, in the environment `crate::inherit` gives
/// CMD. Returns only on failure.
fn exec(argv: &[CString]) -> Error {
    let env = Environment::new(For::Exec, None);
    let env: Vec<&std::ffi::CStr> = env.vars().collect();
    match nix::unistd::execvpe(&argv[0], argv, &env) {
        Err(e) => exec_failed(&argv[0].to_string_lossy(), e),
        Ok(never) => match never {},
    }
}
