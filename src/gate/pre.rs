//! Pre-start steps (`--pre`): run in order before CMD, under the
//! `--pre-lock` when one is given; the first failure, or a stop signal while
//! a step runs, ends berth before CMD starts.
//!
//! The gate decides what runs and when; starting and supervising each step
//! exactly like CMD (signals forwarded, zombies reaped) is `run`'s job, which
//! it passes in as `run_step`.

use super::lock::Lock;
use crate::exit::Error;
use crate::log;
use crate::options::Step;
use crate::sys::signals::SignalFd;

/// How a step ended, as its supervisor saw it.
pub struct StepEnd {
    /// Its exit code (128 + N when killed by signal N).
    pub code: u8,
    /// "exit code 3", "killed by SIGKILL".
    pub how: String,
    /// The first stop signal forwarded to it while it ran.
    pub stopped_by: Option<i32>,
}

/// Where the pre-start lock lives: a postgres:// or mysql:// URL and the lock's name.
pub struct LockSpec<'a> {
    pub url: &'a str,
    pub name: &'a str,
}

/// Runs `steps` in order, holding the lock from before the first until after
/// the last. A stop signal ends them: forwarded to a step that runs (by
/// `run_step`), or before the next step starts (`super::stop_pending`).
pub fn run_steps(
    steps: &[Step],
    lock: Option<LockSpec>,
    signals: &SignalFd,
    mut run_step: impl FnMut(&Step) -> Result<StepEnd, Error>,
) -> Result<(), Error> {
    if steps.is_empty() {
        return Ok(());
    }
    let held = match lock {
        Some(spec) => Some(Lock::acquire(spec.url, spec.name, signals)?),
        None => None,
    };
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        log::debug(format_args!("pre-start step {n}: {}", step.text));
        let failed = |why: String, code: u8| Error::Step {
            n,
            text: step.text.clone(),
            why,
            code,
        };
        super::stop_pending(signals, "before the command started")?;
        let end = run_step(step).map_err(|e| failed(e.to_string(), e.code()))?;
        if end.code != 0 {
            return Err(failed(end.how, end.code));
        }
        if let Some(signal) = end.stopped_by {
            return Err(Error::Stopped {
                signal,
                during: "before the command started",
            });
        }
    }
    drop(held);
    Ok(())
}
