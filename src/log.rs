//! berth's own log lines: few, prefixed `berth:`, on stderr. `-q` silences
//! all but fatal errors, `-v` adds detail (each forwarded signal, each reaped
//! orphan).
//!
//! A line that cannot be written (stderr or stdout closed, or a pipe nobody
//! reads) is dropped: printing must never cost CMD's exit status, and std's
//! `eprintln!` would panic, which here means abort. Every line berth prints
//! goes through `line` or `out`.

use std::io::Write;
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

/// Writes `berth: msg` to stderr; a failed write is dropped.
fn line(msg: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr(), "berth: {msg}");
}

/// Writes a result to stdout (`berth check`'s line, `--help`, `--version`);
/// a failed write is dropped.
pub fn out(msg: std::fmt::Arguments) {
    let _ = std::io::stdout().write_fmt(msg);
}

/// Something the user should know about (a leftover process killed, a
/// deadline hit). Silenced by `-q`.
pub fn warn(msg: std::fmt::Arguments) {
    if enabled(Level::Normal) {
        line(msg);
    }
}

/// Detail shown with `-v`.
pub fn debug(msg: std::fmt::Arguments) {
    if enabled(Level::Verbose) {
        line(msg);
    }
}

/// A fatal error: always shown, with any argument that `${NAME}` expanded
/// shown as written (`crate::expand::as_written`): the value may be a
/// secret.
pub fn error(msg: std::fmt::Arguments) {
    line(format_args!(
        "{}",
        crate::expand::as_written(&msg.to_string())
    ));
}
