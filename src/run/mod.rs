//! `berth run`: PID 1. Reads top to bottom:
//!
//! 1. signals are already blocked (by `main`, before anything else ran);
//! 2. open the signalfd and become a child subreaper;
//! 3. the startup gate: wait for the `--wait` dependencies, then run the
//!    `--pre` steps in order under the `--pre-lock`, each supervised exactly
//!    like CMD; a stop signal or the first failure ends berth here;
//! 4. a stop signal received since then also ends berth: CMD never starts
//!    once one has arrived (`gate::stop_pending`, the rule `berth wait`
//!    follows too);
//! 5. start CMD (in the directory berth was started in), then move berth
//!    itself to `/`;
//! 6. loop: sleep until a signal arrives; forward it (the first SIGTERM after
//!    `--stop-delay`), or reap on SIGCHLD;
//! 7. when CMD has exited: SIGTERM whatever is left of its tree, SIGKILL it
//!    after `--grace`, and exit with CMD's status the moment none is left.
//!
//! The phase rule (from catatonit): before CMD exists any error ends berth;
//! once it runs, errors are warnings and the loop goes on, because PID 1 must
//! not die while the app runs.

mod job_control;
mod memory;
pub mod reap;
pub mod spawn;
pub mod user;

use std::time::{Duration, Instant};

use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGKILL, SIGTERM, TERM_SIGNALS};

use crate::exit::Error;
use crate::gate;
use crate::inherit::{self, Environment, For};
use crate::log;
use crate::options::{RunOptions, Step};
use crate::sys::signals::{self, Mask, SignalFd, is_stop_signal};
use reap::{reap, signal_tree};

/// How long berth still waits for processes after SIGKILL before it exits
/// anyway (one stuck in uninterruptible sleep must not keep PID 1 alive).
const AFTER_KILL: Duration = Duration::from_secs(2);

/// Runs CMD to completion and returns berth's exit code.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
pub fn main(opts: &RunOptions, original_mask: Mask) -> Result<u8, Error> {
    // Phase 1: CMD does not exist yet; any error ends berth.
    let signals = SignalFd::new(Mask::handled())
        .map_err(|e| Error::Setup(format!("cannot create a signalfd: {e}")))?;
    become_subreaper()?;
    let user = opts.user.as_deref().map(user::resolve).transpose()?;
    let home = user.as_ref().map(|u| u.home.as_slice());
    inherit::hold_listen_fds();

    let targets = gate::wait::targets(&opts.wait)?;
    gate::wait::wait_all(targets, opts.wait_timeout, Some(&signals))?;
    let lock = opts.pre_lock.as_deref().map(|url| gate::pre::LockSpec {
        url,
        name: &opts.pre_lock_name,
    });
    gate::pre::run_steps(&opts.pre, lock, &signals, |step: &Step| {
        let child = spawn::spawn(&spawn::Spec {
            argv: &step.argv,
            mask: original_mask,
            user: user.as_ref(),
            env: &Environment::new(For::Step, home),
        })?;
        let done = supervise(child, &signals, opts, None);
        Ok(gate::pre::StepEnd {
            code: done.exit.code(),
            how: done.exit.to_string(),
            stopped_by: done.stopped_by,
        })
    })?;

    gate::stop_pending(&signals, "before the command started")?;
    // That drain may have taken the SIGCHLD of a pre-step's orphan that had
    // just exited: collect it now, not whenever CMD's tree next changes.
    reap(None);
    let child = spawn::spawn(&spawn::Spec {
        argv: &opts.cmd,
        mask: original_mask,
        user: user.as_ref(),
        env: &Environment::new(For::Cmd, home),
    })?;
    log::debug(format_args!("started {:?} as process {child}", opts.cmd[0]));
    // A directory PID 1 holds cannot be unmounted: CMD has its own now.
    if let Err(e) = nix::unistd::chdir("/") {
        log::debug(format_args!("cannot change to /: {}", e.desc()));
    }

    // Phase 2: CMD runs; from here on errors are warnings.
    let done = supervise(child, &signals, opts, opts.stop_delay);
    log::debug(format_args!("CMD ended: {}", done.exit));
    clean_up(&signals, opts.grace);

    let code = done.exit.code();
    Ok(if opts.success_codes.contains(&code) {
        0
    } else {
        code
    })
}

/// Orphans are re-parented to the nearest subreaper, so outside a PID
/// namespace (in a shell, in tests, under `docker run --init`) berth still
/// reaps everything CMD leaves behind and finds its leftovers at exit. PID 1
/// is the reaper by definition.
///
/// Without it, orphans would escape berth: it could neither reap them nor
/// stop them when CMD exits. So, like catatonit, berth refuses to start
/// when the kernel (or an emulator: qemu-user rejects the call) says no,
/// unless BERTH_NO_SUBREAPER=1 accepts that.
fn become_subreaper() -> Result<(), Error> {
    if std::process::id() == 1 {
        return Ok(());
    }
    let Err(e) = nix::sys::prctl::set_child_subreaper(true) else {
        return Ok(());
    };
    if crate::env::flag("BERTH_NO_SUBREAPER")? {
        log::warn(format_args!(
            "cannot become a child subreaper ({}); going on without it (BERTH_NO_SUBREAPER): orphans of CMD escape berth",
            e.desc()
        ));
        return Ok(());
    }
    Err(Error::Setup(format!(
        "cannot become a child subreaper ({}): orphans of CMD would escape berth; run berth as PID 1, or set BERTH_NO_SUBREAPER=1 to go on without it",
        e.desc()
    )))
}

/// How a supervised child ended.
struct Supervised {
    exit: reap::Exit,
    /// The first stop signal forwarded to it, if any.
    stopped_by: Option<i32>,
}

/// Forwards signals and reaps until `child` exits.
///
/// With `stop_delay` (CMD only, not the pre-start steps, which serve no
/// traffic), the first SIGTERM is held that long before it is forwarded, so
/// a load balancer can take the instance out of rotation while it still
/// answers. Meanwhile every other signal is forwarded and children are
/// reaped as usual; a second SIGTERM, or SIGINT/SIGQUIT (an operator who
/// means "now"), ends the hold and is forwarded at once. The hold is a
/// deadline on the one signalfd wait, not a timer: nothing wakes berth
/// before it expires.
fn supervise(
    child: Pid,
    signals: &SignalFd,
    opts: &RunOptions,
    stop_delay: Option<Duration>,
) -> Supervised {
    let mut kill_at: Option<Instant> = None;
    // The held SIGTERM and when it is due.
    let mut held: Option<(Instant, signals::Received)> = None;
    let mut delay_used = false;
    let mut stopped_by = None;
    let mut memory = memory::Trimmer::new();
    loop {
        let now = Instant::now();
        if let Some((_, got)) = held.filter(|(due, _)| now >= *due) {
            log::debug(format_args!(
                "--stop-delay of {} is over; forwarding SIGTERM",
                humantime::format_duration(stop_delay.unwrap_or_default())
            ));
            held = None;
            forward_stop(got, child, opts, &mut stopped_by, &mut kill_at);
            continue;
        }
        let deadline = match (kill_at, held.map(|(due, _)| due)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let got = match (deadline, memory.due_in()) {
            (Some(t), _) if kill_at == Some(t) && now >= t => {
                log::warn(format_args!(
                    "CMD still running {} after the stop signal (--kill-after); sending SIGKILL",
                    humantime::format_duration(opts.kill_after.unwrap_or_default())
                ));
                // ESRCH: already gone (or no group yet); nothing to kill.
                let _ = signals::send(-child.as_raw(), SIGKILL);
                let _ = signals::send(child.as_raw(), SIGKILL);
                kill_at = None;
                continue;
            }
            (Some(t), _) => signals.next(Some(t.saturating_duration_since(now))),
            // Idle until a signal comes: sleep with the least memory mapped.
            (None, Some(Duration::ZERO)) => {
                memory.sleep_until_readable(signals.fd());
                signals.next(None)
            }
            // Just busy: come back to trim once the rate limit allows.
            (None, Some(wait)) => signals.next(Some(wait)),
            (None, None) => signals.next(None),
        };
        match got {
            None => continue,
            Some(got) if got.signal == SIGCHLD => {
                let reaped = reap(Some(child));
                if let Some(exit) = reaped.watched {
                    return Supervised { exit, stopped_by };
                }
                if let Some(signal) = reaped.stopped {
                    job_control::follow_stop(child, signal);
                }
            }
            Some(got) if got.signal == SIGTERM && !delay_used && stop_delay.is_some() => {
                let delay = stop_delay.unwrap_or_default();
                delay_used = true;
                held = Some((Instant::now() + delay, got));
                log::debug(format_args!(
                    "holding SIGTERM (from pid {}) for {} before forwarding it (--stop-delay); a second SIGTERM, SIGINT or SIGQUIT forwards at once",
                    got.from,
                    humantime::format_duration(delay)
                ));
            }
            Some(got) if held.is_some() && TERM_SIGNALS.contains(&got.signal) => {
                log::debug(format_args!(
                    "{} during --stop-delay: stopping CMD now",
                    signals::name(got.signal)
                ));
                held = None;
                forward_stop(got, child, opts, &mut stopped_by, &mut kill_at);
            }
            Some(got) => forward_stop(got, child, opts, &mut stopped_by, &mut kill_at),
        }
    }
}

/// Forwards `got` and, for a stop signal, records it and starts the
/// `--kill-after` clock (from the first terminating signal forwarded).
fn forward_stop(
    got: signals::Received,
    child: Pid,
    opts: &RunOptions,
    stopped_by: &mut Option<i32>,
    kill_at: &mut Option<Instant>,
) {
    forward(got, child, opts);
    if is_stop_signal(got.signal) {
        stopped_by.get_or_insert(got.signal);
    }
    if let Some(delay) = opts.kill_after {
        if kill_at.is_none() && TERM_SIGNALS.contains(&got.signal) {
            *kill_at = Some(Instant::now() + delay);
        }
    }
}

fn forward(got: signals::Received, child: Pid, opts: &RunOptions) {
    let signal = opts.rewrite[got.signal as usize];
    if signal == 0 {
        log::debug(format_args!(
            "dropped {} (from pid {}): --rewrite {}:0",
            signals::name(got.signal),
            got.from,
            signals::name(got.signal)
        ));
        return;
    }
    let target = if opts.group {
        -child.as_raw()
    } else {
        child.as_raw()
    };
    match signals::send(target, signal) {
        Ok(()) => log::debug(format_args!(
            "forwarded {} (from pid {}) to {} {}{}",
            signals::name(got.signal),
            got.from,
            if opts.group {
                "process group"
            } else {
                "process"
            },
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
/// SIGKILL after `grace` (at once when `None`, `--grace 0`); berth returns
/// as soon as nothing is left (it sees each exit as a SIGCHLD, so there is
/// no polling).
fn clean_up(signals: &SignalFd, grace: Option<Duration>) {
    if reap(None).none_left {
        return;
    }
    if let Some(grace) = grace {
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
        log::warn(format_args!(
            "processes remain after SIGKILL; exiting anyway"
        ));
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
