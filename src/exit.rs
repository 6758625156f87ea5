//! Exit codes are an API: this is the one table (mirrored in the README), and
//! `Error::code` is the one place that maps failures to it.

use crate::init::spawn::SpawnError;

/// `berth check`: healthy.
pub const HEALTHY: u8 = 0;
/// `berth check`: unhealthy, or a usage error. Never 2: Docker reserves it.
pub const UNHEALTHY: u8 = 1;
/// `berth wait`, `run --wait`: a dependency was not ready in time (as timeout(1)).
pub const WAIT_TIMEOUT: u8 = 124;
/// `run`, `wait`: bad flag or variable, or berth could not set itself up,
/// e.g. take the `--pre-lock` (as env(1)).
pub const USAGE: u8 = 125;
/// CMD was found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// CMD was not found.
pub const NOT_FOUND: u8 = 127;

/// A failure that ends berth before or instead of CMD's own exit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the message names the flag or variable that fixes it.
    #[error("{0}")]
    Usage(String),
    /// berth could not set itself up (signalfd, fork, ...).
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// A dependency was not ready in time, or a signal stopped the wait.
    #[error(transparent)]
    Wait(#[from] crate::wait::WaitError),
    /// A pre-start step failed; berth exits with the step's code.
    #[error("pre-start step {n} ({text}) failed: {why}")]
    Step {
        n: usize,
        text: String,
        why: String,
        code: u8,
    },
    /// A stop signal arrived before CMD started.
    #[error("stopped by {} before the command started", crate::init::signals::name(*.0))]
    Stopped(i32),
    /// The pre-start lock could not be taken.
    #[error("--pre-lock: {0}")]
    Lock(String),
}

impl Error {
    pub fn code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Setup(_) => USAGE,
            Error::Spawn(e) => e.exit_code(),
            Error::Wait(crate::wait::WaitError::Timeout { .. }) => WAIT_TIMEOUT,
            Error::Wait(crate::wait::WaitError::Interrupted(sig)) | Error::Stopped(sig) => {
                128 + *sig as u8
            }
            Error::Step { code, .. } => *code,
            Error::Lock(_) => USAGE,
        }
    }
}

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// An I/O error's reason without the "(os error N)" suffix, for one-line
/// messages ("No such file or directory").
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
