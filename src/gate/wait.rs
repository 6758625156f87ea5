//! Waiting for dependencies: every target in parallel, each retried with a
//! backoff that starts at 10 ms and is capped at 100 ms, so berth proceeds
//! within a fraction of a second of the last one becoming ready (wait-for-it
//! and dockerize sleep a fixed second between tries).
//!
//! Each target gets a thread that runs the same check `berth check` runs;
//! the main thread waits in the gate's watch loop, so a stop signal ends the
//! wait at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::watch::{Ended, Notifier, Progress, Wake, watch};
use crate::check::{self, Probe};
use crate::exit::{Error, usage};
use crate::log;
use crate::sys::signals::SignalFd;
use crate::sys::thread;

const FIRST_DELAY: Duration = Duration::from_millis(10);
const MAX_DELAY: Duration = Duration::from_millis(100);
/// How often a line is printed per pending target.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What is known of one target.
struct Status {
    what: String,
    attempts: u32,
    last_reason: String,
    ready: bool,
}

type Board = Mutex<Vec<Status>>;

fn lock(board: &Board) -> MutexGuard<'_, Vec<Status>> {
    // A worker that panicked cannot have left a Status half-written.
    board
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Builds the checks for `urls`, failing on the first bad one.
pub fn targets(urls: &[String]) -> Result<Vec<Arc<dyn Probe>>, Error> {
    urls.iter()
        .map(|u| {
            check::from_url(u).map_err(|e| usage(format!("{}: {e}", crate::target::sketch(u))))
        })
        .collect()
}

/// Waits until every target is ready, `timeout` passes (`None`: no limit),
/// or (when `signals` is given) a stop signal arrives, also one that came
/// together with the last target's success (see `super::stop_pending`).
pub fn wait_all(
    targets: Vec<Arc<dyn Probe>>,
    timeout: Option<Duration>,
    signals: Option<&SignalFd>,
) -> Result<(), Error> {
    if targets.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    let deadline = timeout.map(|t| start + t);
    let wake = Wake::new()?;
    let stop = Arc::new(AtomicBool::new(false));
    let board: Arc<Board> = Arc::new(Mutex::new(
        targets
            .iter()
            .map(|t| Status {
                what: t.describe(),
                attempts: 0,
                last_reason: "not tried yet".into(),
                ready: false,
            })
            .collect(),
    ));

    for (i, probe) in targets.into_iter().enumerate() {
        let (board, stop, wake) = (board.clone(), stop.clone(), wake.notifier());
        thread::spawn("wait", move || {
            retry(i, probe, deadline, &board, &stop, &wake)
        })
        .map_err(|e| Error::Setup(format!("cannot start a thread: {e}")))?;
    }

    let result = watch(
        &wake,
        signals,
        deadline,
        Progress {
            first: PROGRESS_EVERY,
            every: PROGRESS_EVERY,
        },
        || lock(&board).iter().all(|s| s.ready).then_some(()),
        |waited| {
            for s in lock(&board).iter().filter(|s| !s.ready) {
                log::warn(format_args!(
                    "waiting for {}: {} (attempt {}, {})",
                    s.what,
                    s.last_reason,
                    s.attempts,
                    humantime::format_duration(round(waited))
                ));
            }
        },
    );
    stop.store(true, Ordering::Relaxed);
    match result {
        Ok(()) => match signals {
            Some(signals) => super::stop_pending(signals, "while waiting for dependencies"),
            None => Ok(()),
        },
        Err(Ended::Stopped(signal)) => Err(Error::Stopped {
            signal,
            during: "while waiting for dependencies",
        }),
        Err(Ended::Deadline) => {
            let pending: Vec<String> = lock(&board)
                .iter()
                .filter(|s| !s.ready)
                .map(|s| {
                    format!(
                        "{} never became ready: {} (attempt {})",
                        s.what, s.last_reason, s.attempts
                    )
                })
                .collect();
            Err(Error::WaitTimeout(format!(
                "gave up after {}:\nberth:   {}",
                humantime::format_duration(round(start.elapsed())),
                pending.join("\nberth:   ")
            )))
        }
    }
}

/// One target's loop: attempt, back off, until ready or told to stop.
fn retry(
    i: usize,
    probe: Arc<dyn Probe>,
    deadline: Option<Instant>,
    board: &Board,
    stop: &AtomicBool,
    wake: &Notifier,
) {
    let mut delay = FIRST_DELAY;
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let left = deadline.map_or(check::DEFAULT_TIMEOUT, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            break;
        }
        // The last attempt may be cut short by the wait's own deadline: its
        // "timed out" says nothing about the target, so the reason of the
        // last attempt that ran its course is the one kept.
        let cut_short = left < check::DEFAULT_TIMEOUT;
        let outcome = check::run_once(probe.clone(), Some(left.min(check::DEFAULT_TIMEOUT)));
        {
            let mut st = lock(board);
            let s = &mut st[i];
            let keep_reason = cut_short && s.attempts > 0 && outcome.timed_out;
            s.attempts += 1;
            log::debug(format_args!("{}", check::report_line(&s.what, &outcome)));
            if outcome.healthy {
                s.ready = true;
                log::warn(format_args!(
                    "{} is ready ({}, attempt {})",
                    s.what,
                    humantime::format_duration(round(start.elapsed())),
                    s.attempts
                ));
            } else if !keep_reason {
                s.last_reason = outcome.reason;
            }
        }
        if outcome.healthy {
            wake.notify();
            return;
        }
        let left = deadline.map_or(delay, |d| d.saturating_duration_since(Instant::now()));
        std::thread::sleep(delay.min(left));
        delay = (delay * 3 / 2).min(MAX_DELAY);
    }
}

/// Rounded to 100 ms for messages.
pub fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64 / 100 * 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Attempt;
    use std::sync::atomic::AtomicU32;

    /// Refused at once the first time; after that, silent until the
    /// attempt's deadline, then a socket's own wording of it.
    struct RefusedThenSilent(AtomicU32);

    impl Probe for RefusedThenSilent {
        fn describe(&self) -> String {
            "test://".into()
        }
        fn probe(&self, attempt: &Attempt) -> Result<String, String> {
            if self.0.fetch_add(1, Ordering::Relaxed) == 0 {
                return Err("connection refused by 127.0.0.1:1".into());
            }
            attempt.phase("waiting for the reply");
            while !attempt.passed() {
                std::thread::sleep(attempt.remaining());
            }
            Err("cannot send the request: deadline reached".into())
        }
    }

    #[test]
    fn the_last_attempt_cut_short_by_the_wait_keeps_the_reason_before_it() {
        let probe = Arc::new(RefusedThenSilent(AtomicU32::new(0)));
        let Err(Error::WaitTimeout(why)) =
            wait_all(vec![probe.clone()], Some(Duration::from_secs(1)), None)
        else {
            panic!("the wait did not time out");
        };
        assert!(probe.0.load(Ordering::Relaxed) >= 2, "{why}");
        assert!(
            why.contains("test:// never became ready: connection refused by 127.0.0.1:1"),
            "{why}"
        );
    }
}
