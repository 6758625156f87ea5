//! `berth run`: PID 1. Reads top to bottom:
//!
//! 1. signals are already blocked (by `main`, before anything else ran);
//! 2. open the signalfd and become a child subreaper;
//! 3. start CMD;
//! 4. loop: sleep until a signal arrives; forward it, or reap on SIGCHLD;
//! 5. when CMD has exited: SIGTERM whatever is left of its tree, SIGKILL it
//!    after `--grace`, and exit with CMD's status the moment none is left.
//!
//! The phase rule (from catatonit): before CMD exists any error ends berth;
//! once it runs, errors are warnings and the loop goes on, because PID 1 must
//! not die while the app runs.

pub mod reap;
pub mod signals;
pub mod spawn;

use std::time::{Duration, Instant};

use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGKILL, SIGTERM, TERM_SIGNALS};

use crate::exit::Error;
use crate::log;
use crate::options::RunOptions;
use reap::{Exit, reap, signal_tree};
use signals::{Mask, SignalFd};

/// How long berth still waits for processes after SIGKILL before it exits
/// anyway (one stuck in uninterruptible sleep must not keep PID 1 alive).
const AFTER_KILL: Duration = Duration::from_secs(2);

/// Runs CMD to completion and returns berth's exit code.
pub fn run(opts: &RunOptions, original_mask: Mask) -> Result<u8, Error> {
    // Phase 1: CMD does not exist yet; any error ends berth.
    let signals = SignalFd::new(Mask::handled())
        .map_err(|e| Error::Setup(format!("cannot create a signalfd: {e}")))?;
    become_subreaper();

    let child = spawn::spawn(&spawn::Spec {
        argv: &opts.cmd,
        mask: original_mask,
        user: None,
    })?;
    log::debug(format_args!("started {:?} as process {child}", opts.cmd[0]));

    // Phase 2: CMD runs; from here on errors are warnings.
    let exit = supervise(child, &signals, opts);
    log::debug(format_args!("CMD ended: {}", reap::describe(exit)));
    clean_up(&signals, opts.grace);

    let code = exit.code();
    Ok(if opts.success_codes.contains(&code) { 0 } else { code })
}

/// Orphans are re-parented to the nearest subreaper, so outside a PID
/// namespace (in a shell, in tests, under `docker run --init`) berth still
/// reaps everything CMD leaves behind. PID 1 is the reaper by definition.
fn become_subreaper() {
    if std::process::id() == 1 {
        return;
    }
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        log::warn(format_args!(
            "cannot become a child subreaper ({e}): orphans of CMD will not be reaped by berth"
        ));
    }
}

/// Forwards signals and reaps until CMD exits; returns how it exited.
fn supervise(child: Pid, signals: &SignalFd, opts: &RunOptions) -> Exit {
    let mut kill_at: Option<Instant> = None;
    loop {
        let timeout = kill_at.map(|t| t.saturating_duration_since(Instant::now()));
        match signals.next(timeout) {
            None => {
                // --kill-after ran out.
                log::warn(format_args!(
                    "CMD still running {} after the stop signal (--kill-after); sending SIGKILL",
                    humantime::format_duration(opts.kill_after.unwrap_or_default())
                ));
                let _ = signals::send(-child.as_raw(), SIGKILL);
                let _ = signals::send(child.as_raw(), SIGKILL);
                kill_at = None;
            }
            Some(got) if got.signal == SIGCHLD => {
                if let Some(exit) = reap(Some(child)).watched {
                    return exit;
                }
            }
            Some(got) => {
                forward(got, child, opts);
                if let Some(delay) = opts.kill_after {
                    if kill_at.is_none() && TERM_SIGNALS.contains(&got.signal) {
                        kill_at = Some(Instant::now() + delay);
                    }
                }
            }
        }
    }
}

fn forward(got: signals::Received, child: Pid, opts: &RunOptions) {
    let signal = opts.rewrite[got.signal as usize];
    let target = if opts.group { -child.as_raw() } else { child.as_raw() };
    match signals::send(target, signal) {
        Ok(()) => log::debug(format_args!(
            "forwarded {} (from pid {}) to {} {}{}",
            signals::name(got.signal),
            got.from,
            if opts.group { "process group" } else { "process" },
            child,
            if signal != got.signal {
                format!(" as {}", signals::name(signal))
            } else {
                String::new()
            },
        )),
        // ESRCH: CMD has just exited and its SIGCHLD is on the way.
        Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => log::warn(format_args!(
            "cannot forward {} to {target}: {}",
            signals::name(signal),
            e.desc()
        )),
    }
}

/// CMD has exited. Whatever else is left in berth's tree gets SIGTERM, then
/// SIGKILL after `grace`; berth returns as soon as nothing is left (it sees
/// each exit as a SIGCHLD, so there is no polling).
fn clean_up(signals: &SignalFd, grace: Duration) {
    if reap(None).none_left {
        return;
    }
    if !grace.is_zero() {
        let n = signal_tree(SIGTERM);
        log::warn(format_args!(
            "CMD exited; sent SIGTERM to {} leftover process{}, waiting up to {} (--grace)",
            n,
            if n == 1 { "" } else { "es" },
            humantime::format_duration(grace)
        ));
        if wait_until_empty(signals, Instant::now() + grace) {
            return;
        }
    }
    let n = signal_tree(SIGKILL);
    log::warn(format_args!(
        "sent SIGKILL to {n} process{} still running after --grace",
        if n == 1 { "" } else { "es" }
    ));
    if !wait_until_empty(signals, Instant::now() + AFTER_KILL) {
        log::warn(format_args!("processes remain after SIGKILL; exiting anyway"));
    }
}

/// Reaps until no child is left (true) or `deadline` passes (false).
fn wait_until_empty(signals: &SignalFd, deadline: Instant) -> bool {
    loop {
        if reap(None).none_left {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        // Any signal wakes us; only SIGCHLD matters now, and reap() above
        // collects whatever it announced.
        signals.next(Some(left));
    }
}
