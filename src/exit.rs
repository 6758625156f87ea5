//! Exit codes are an API: this is the one table (mirrored in the README), and
//! `Error::code` is the one place that maps failures to it. This module knows
//! no feature module: `run`, `gate` and `check` describe their failures in
//! its terms.

use nix::errno::Errno;

use crate::sys::signals;

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

/// The shell's convention for a process ended by signal `signal`: 128 + N.
pub fn signalled(signal: i32) -> u8 {
    (128 + signal).clamp(0, 255) as u8
}

/// A failure that ends berth before or instead of CMD's own exit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the message names the flag or variable that fixes it.
    #[error("{0}")]
    Usage(String),
    /// berth could not set itself up (signalfd, fork, subreaper, ...).
    #[error("{0}")]
    Setup(String),
    /// A command could not be started; `code` is 126 or 127.
    #[error("{message}")]
    Exec { message: String, code: u8 },
    /// A dependency was not ready in time.
    #[error("{0}")]
    WaitTimeout(String),
    /// A stop signal arrived before CMD started.
    #[error("stopped by {} {during}", signals::name(*signal))]
    Stopped { signal: i32, during: &'static str },
    /// A pre-start step failed; berth exits with the step's code.
    #[error("pre-start step {n} ({text}) failed: {why}")]
    Step {
        n: usize,
        text: String,
        why: String,
        code: u8,
    },
    /// The pre-start lock could not be taken.
    #[error("--pre-lock: {0}")]
    Lock(String),
}

impl Error {
    pub fn code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Setup(_) | Error::Lock(_) => USAGE,
            Error::Exec { code, .. } | Error::Step { code, .. } => *code,
            Error::WaitTimeout(_) => WAIT_TIMEOUT,
            Error::Stopped { signal, .. } => signalled(*signal),
        }
    }
}

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Why `cmd` could not be executed, with the shell's code: 127 when it was
/// not found, 126 when it was found but could not run.
pub fn exec_failed(cmd: &str, errno: Errno) -> Error {
    match errno {
        // A path names a file that is not there; a bare name was looked
        // up in PATH, as a shell would say.
        Errno::ENOENT | Errno::ENOTDIR => Error::Exec {
            message: if cmd.contains('/') {
                format!("{cmd}: {}", errno.desc())
            } else {
                format!("{cmd}: command not found")
            },
            code: NOT_FOUND,
        },
        e => Error::Exec {
            message: format!("{cmd}: cannot execute: {}", e.desc()),
            code: CANNOT_EXECUTE,
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_table() {
        assert_eq!(signalled(15), 143);
        assert_eq!(signalled(9), 137);
        assert_eq!(signalled(64), 192);
        assert_eq!(exec_failed("x", Errno::ENOENT).code(), 127);
        assert_eq!(exec_failed("x", Errno::EACCES).code(), 126);
        let stopped = Error::Stopped {
            signal: 15,
            during: "while waiting",
        };
        assert_eq!(stopped.code(), 143);
        assert_eq!(stopped.to_string(), "stopped by SIGTERM while waiting");
        assert_eq!(Error::WaitTimeout(String::new()).code(), 124);
    }
}
