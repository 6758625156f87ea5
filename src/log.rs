//! berth's own log lines: few, prefixed `berth:`, on stderr. `-q` silences
//! all but fatal errors, `-v` adds detail (each forwarded signal, each reaped
//! orphan).
//!
//! A line that cannot be written (stderr or stdout closed, or a pipe nobody
//! reads) is dropped: printing must never cost CMD's exit status, and std's
//! `eprintln!` would panic, which here means abort. Every line berth prints
//! goes through `line` or `out`.

use std::io::Write;
use std::sync::OnceLock;
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

/// What error lines show instead of expanded text: (expanded, as written).
/// Set once, by `crate::expand::args`.
static WRITTEN: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// From now on, `error` shows each `expanded` text as `written` (the first
/// pair that matches wins where they overlap): an argument that `${NAME}`
/// expanded may hold a secret.
pub fn show_as_written(pairs: Vec<(String, String)>) {
    let _ = WRITTEN.set(pairs);
}

/// `line` with every expanded text shown as written.
fn as_written(line: &str) -> String {
    let mut line = line.to_string();
    for (expanded, written) in WRITTEN.get().map(Vec::as_slice).unwrap_or_default() {
        if !expanded.is_empty() && line.contains(expanded.as_str()) {
            line = line.replace(expanded.as_str(), written);
        }
    }
    line
}

/// A fatal error: always shown, with any argument that `${NAME}` expanded
/// shown as written (`show_as_written`).
pub fn error(msg: std::fmt::Arguments) {
    line(format_args!("{}", as_written(&msg.to_string())));
}
