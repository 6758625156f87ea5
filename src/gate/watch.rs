//! The gate's one waiting loop, shared by the dependency wait and the
//! pre-start lock: the main thread sleeps in `poll` on a pipe that worker
//! threads poke when something changes and on the signalfd, so a stop signal
//! ends the wait at once; every few seconds it says what it is waiting for.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::exit::Error;
use crate::sys::signals::{self, SignalFd};

/// The pipe workers write to when they have news.
pub struct Wake {
    rx: OwnedFd,
    tx: Arc<OwnedFd>,
}

/// A worker's end of the pipe.
#[derive(Clone)]
pub struct Notifier(Arc<OwnedFd>);

impl Notifier {
    pub fn notify(&self) {
        // A full pipe already holds a wake-up: nothing is lost.
        let _ = nix::unistd::write(&*self.0, b"!");
    }
}

impl Wake {
    pub fn new() -> Result<Wake, Error> {
        // Close-on-exec from the start: a pre-step or CMD started while a
        // worker still runs must not inherit it (crate::inherit).
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::Setup(format!("cannot create a pipe: {}", e.desc())))?;
        Ok(Wake {
            rx,
            tx: Arc::new(tx),
        })
    }

    pub fn notifier(&self) -> Notifier {
        Notifier(self.tx.clone())
    }
}

/// Why watching ended without a result.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Deadline,
    /// A stop signal (SIGTERM, SIGINT, SIGQUIT, SIGHUP) arrived.
    Stopped(i32),
}

/// How often, and from when, to report progress.
pub struct Progress {
    pub first: Duration,
    pub every: Duration,
}

/// Calls `ready` at the start and after every wake-up until it returns a
/// value; calls `progress` with the time waited at `first` and then every
/// `every`. Ends early at `deadline` or when a stop signal arrives on
/// `signals`. Other signals are dropped: no child exists yet to forward
/// them to.
pub fn watch<T>(
    wake: &Wake,
    signals: Option<&SignalFd>,
    deadline: Option<Instant>,
    progress: Progress,
    mut ready: impl FnMut() -> Option<T>,
    mut report: impl FnMut(Duration),
) -> Result<T, Ended> {
    let start = Instant::now();
    let mut next = start + progress.first;
    loop {
        if let Some(value) = ready() {
            return Ok(value);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(Ended::Deadline);
        }
        if now >= next {
            report(now - start);
            while next <= now {
                next += progress.every;
            }
        }
        let until = deadline.map_or(next, |d| d.min(next));
        if let Some(signal) = sleep(wake, signals, until.saturating_duration_since(now)) {
            return Err(Ended::Stopped(signal));
        }
    }
}

/// Sleeps until a worker writes to `wake`, `until` passes, or a stop signal
/// arrives (returned).
fn sleep(wake: &Wake, signals: Option<&SignalFd>, until: Duration) -> Option<i32> {
    // Round up so a deadline never fires a millisecond early.
    let ms = until.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let mut fds = vec![PollFd::new(wake.rx.as_fd(), PollFlags::POLLIN)];
    if let Some(s) = signals {
        fds.push(PollFd::new(s.fd(), PollFlags::POLLIN));
    }
    // EINTR (a signal berth does not block, e.g. under a debugger) is just
    // an early wake-up: the caller looks again.
    let woke = poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    )
    .is_ok_and(|n| n > 0);
    if woke {
        if fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
        {
            let mut buf = [0u8; 64];
            let _ = nix::unistd::read(&wake.rx, &mut buf);
        }
        if let Some(s) = signals {
            return signals::drain(s);
        }
    }
    None
}
