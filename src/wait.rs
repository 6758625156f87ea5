//! Waiting for dependencies: every target in parallel, each retried with a
//! backoff that starts at 10 ms and is capped at 100 ms, so berth proceeds
//! within a fraction of a second of the last one becoming ready (wait-for-it
//! and dockerize sleep a fixed second between tries).
//!
//! Each target gets a thread that runs the same check `berth check` runs.
//! The main thread sleeps in `poll` on two descriptors: a pipe the workers
//! write to when something changes, and (under `berth run`) the signalfd, so
//! a SIGTERM while waiting ends berth at once.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::check::{self, Probe};
use crate::exit::{Error, usage};
use crate::init::signals::SignalFd;
use crate::log;

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

/// Why waiting ended without every target ready.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("gave up after {}:\nberth:   {}", humantime::format_duration(*.waited), .pending.join("\nberth:   "))]
    Timeout {
        waited: Duration,
        pending: Vec<String>,
    },
    #[error("stopped by {} while waiting for dependencies", crate::init::signals::name(*.0))]
    Interrupted(i32),
}

/// Builds the checks for `urls`, failing on the first bad one.
pub fn targets(urls: &[String]) -> Result<Vec<Arc<dyn Probe>>, Error> {
    urls.iter()
        .map(|u| {
            check::from_url(u).map_err(|e| usage(format!("{}: {e}", crate::target::redact(u))))
        })
        .collect()
}

/// Waits until every target is ready, `timeout` passes, or (when `signals`
/// is given) a terminating signal arrives.
pub fn wait_all(
    targets: Vec<Arc<dyn Probe>>,
    timeout: Duration,
    signals: Option<&SignalFd>,
) -> Result<(), WaitError> {
    if targets.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    let deadline = start + timeout;
    let (wake_rx, wake_tx) = nix::unistd::pipe().expect("pipe");
    let wake_tx = Arc::new(wake_tx);
    let stop = Arc::new(AtomicBool::new(false));
    let status: Arc<Mutex<Vec<Status>>> = Arc::new(Mutex::new(
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
        let (status, stop, wake) = (status.clone(), stop.clone(), wake_tx.clone());
        std::thread::spawn(move || {
            crate::init::signals::block_in_thread();
            retry(i, probe, deadline, &status, &stop, &wake)
        });
    }

    if signals.is_some() {
        // musl unblocks its own signals 33 and 34 in the main thread when
        // the first thread starts: under `run`, block them again so they
        // come through the signalfd like every other signal.
        crate::init::signals::block_in_thread();
    }
    let mut next_progress = start + PROGRESS_EVERY;
    let result = loop {
        {
            let st = status.lock().unwrap();
            if st.iter().all(|s| s.ready) {
                break Ok(());
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let st = status.lock().unwrap();
            break Err(WaitError::Timeout {
                waited: round(now - start),
                pending: st
                    .iter()
                    .filter(|s| !s.ready)
                    .map(|s| {
                        format!(
                            "{} never became ready: {} (attempt {})",
                            s.what, s.last_reason, s.attempts
                        )
                    })
                    .collect(),
            });
        }
        if now >= next_progress {
            for s in status.lock().unwrap().iter().filter(|s| !s.ready) {
                log::warn(format_args!(
                    "waiting for {}: {} (attempt {}, {})",
                    s.what,
                    s.last_reason,
                    s.attempts,
                    humantime::format_duration(round(now - start))
                ));
            }
            next_progress += PROGRESS_EVERY;
        }
        let until = next_progress.min(deadline).saturating_duration_since(now);
        if let Some(sig) = sleep(&wake_rx, signals, until) {
            break Err(WaitError::Interrupted(sig));
        }
    };
    stop.store(true, Ordering::Relaxed);
    result
}

/// One target's loop: attempt, back off, until ready or told to stop.
fn retry(
    i: usize,
    probe: Arc<dyn Probe>,
    deadline: Instant,
    status: &Mutex<Vec<Status>>,
    stop: &AtomicBool,
    wake: &OwnedFd,
) {
    let mut delay = FIRST_DELAY;
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let outcome = check::run_once(probe.clone(), left.min(check::DEFAULT_TIMEOUT));
        {
            let mut st = status.lock().unwrap();
            let s = &mut st[i];
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
            } else {
                s.last_reason = outcome.reason;
            }
        }
        if outcome.healthy {
            let _ = nix::unistd::write(wake, b"r");
            return;
        }
        std::thread::sleep(delay.min(deadline.saturating_duration_since(Instant::now())));
        delay = (delay * 3 / 2).min(MAX_DELAY);
    }
}

/// Sleeps until a worker writes to `wake`, `until` passes, or a terminating
/// signal arrives (returned). Other signals are not meaningful yet: no child
/// exists to forward them to.
pub fn sleep(wake: &OwnedFd, signals: Option<&SignalFd>, until: Duration) -> Option<i32> {
    let ms = until.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = vec![PollFd::new(wake.as_fd(), PollFlags::POLLIN)];
    if let Some(s) = signals {
        fds.push(PollFd::new(s.fd(), PollFlags::POLLIN));
    }
    match poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(n) if n > 0 => {
            let woke = fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN));
            if woke {
                let mut buf = [0u8; 64];
                let _ = nix::unistd::read(wake, &mut buf);
            }
            while let Some(got) = signals.and_then(SignalFd::try_read) {
                if crate::init::is_stop_signal(got.signal) {
                    return Some(got.signal);
                }
            }
            None
        }
        _ => None,
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64 / 100 * 100)
}
