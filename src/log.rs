//! berth's own log lines: few, prefixed `berth:`, on stderr. `-q` silences
//! all but fatal errors, `-v` adds detail (each forwarded signal, each reaped
//! orphan).

use std::sync::atomic::{AtomicU8, Ordering};

/// How much berth says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

fn enabled(level: Level) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level as u8
}

/// Something the user should know about (a leftover process killed, a
/// deadline hit). Silenced by `-q`.
pub fn warn(msg: std::fmt::Arguments) {
    if enabled(Level::Normal) {
        eprintln!("berth: {msg}");
    }
}

/// Detail shown with `-v`.
pub fn debug(msg: std::fmt::Arguments) {
    if enabled(Level::Verbose) {
        eprintln!("berth: {msg}");
    }
}

/// A fatal error: always shown, with any argument that `${NAME}` expanded
/// shown as written (`crate::expand::as_written`): the value may be a
/// secret.
pub fn error(msg: std::fmt::Arguments) {
    eprintln!("berth: {}", crate::expand::as_written(&msg.to_string()));
}
