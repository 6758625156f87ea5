//! `--pre-lock`: a PostgreSQL session-level advisory lock held while the
//! pre-start steps run, so replicas that start together migrate one at a
//! time. The lock lives as long as its session: berth releases it after the
//! last step, and if berth dies the server ends the session and frees it.
//!
//! The session runs on its own thread (a current-thread tokio runtime, as
//! the postgres check uses); the main thread waits for it in the gate's
//! watch loop, so a SIGTERM while another replica migrates stops berth at
//! once.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::watch::{Ended, Progress, Wake, watch};
use crate::check::{Attempt, Probe, postgres::Postgres};
use crate::exit::Error;
use crate::log;
use crate::sys::signals::SignalFd;
use crate::sys::thread;
use crate::target::{Kind, Target};

/// Bound on connecting and logging in (not on waiting for the lock, which
/// lasts as long as another replica's migration).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often berth says it is still waiting for the lock.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Bound on the explicit unlock when releasing.
const UNLOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// A held lock; dropping it releases the lock.
pub struct Lock {
    release: Option<mpsc::Sender<()>>,
    session: Option<JoinHandle<()>>,
    what: String,
}

enum Event {
    Locked,
    Failed(String),
}

/// The advisory-lock key for a name: 64-bit FNV-1a, so every replica (and
/// any other tool) derives the same number from the same name.
pub fn key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

impl Lock {
    /// Connects to `url` and waits until `pg_advisory_lock` is granted, or a
    /// stop signal arrives.
    pub fn acquire(url: &str, name: &str, signals: &SignalFd) -> Result<Lock, Error> {
        let target = Target::parse_for(url, &[Kind::Postgres], None)
            .map_err(|e| Error::Lock(format!("{}: {e}", crate::target::sketch(url))))?;
        let pg = Postgres::from_target(target).map_err(Error::Lock)?;
        let key = key(name);
        let what = format!("'{name}' on {}", pg.describe());
        log::debug(format_args!("taking the pre-start lock {what} (key {key})"));

        let wake = Wake::new()?;
        let notifier = wake.notifier();
        let (events_tx, events) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let session = thread::spawn("pre-lock", move || {
            let tell = |event: Event| {
                let _ = events_tx.send(event);
                notifier.notify();
            };
            if let Err(why) = hold(&pg, key, &released, &|| tell(Event::Locked)) {
                tell(Event::Failed(why));
            }
        })
        .map_err(|e| Error::Setup(format!("cannot start a thread: {e}")))?;
        let mut lock = Lock {
            release: Some(release),
            session: Some(session),
            what,
        };

        let start = Instant::now();
        let what_for_log = lock.what.clone();
        let outcome = watch(
            &wake,
            Some(signals),
            None,
            Progress {
                first: Duration::from_secs(1),
                every: PROGRESS_EVERY,
            },
            || events.try_recv().ok(),
            |waited| {
                log::warn(format_args!(
                    "waiting for the pre-start lock {}: another replica holds it ({}s)",
                    what_for_log,
                    waited.as_secs()
                ))
            },
        );
        match outcome {
            Ok(Event::Locked) => {
                log::warn(format_args!(
                    "holding the pre-start lock {} (waited {})",
                    lock.what,
                    humantime::format_duration(super::wait::round(start.elapsed()))
                ));
                Ok(lock)
            }
            Ok(Event::Failed(why)) => {
                lock.release = None;
                Err(Error::Lock(format!("{}: {why}", lock.what)))
            }
            Err(Ended::Stopped(signal)) => {
                // The session thread stays blocked in pg_advisory_lock; it
                // ends with the process, and the server drops the request.
                lock.session = None;
                lock.release = None;
                Err(Error::Stopped {
                    signal,
                    during: "while waiting for the pre-start lock",
                })
            }
            // No deadline was given: waiting for the lock lasts as long as
            // another replica's migration.
            Err(Ended::Deadline) => Err(Error::Lock(format!("{}: gave up", lock.what))),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Closing the channel tells the session to unlock and disconnect.
        if self.release.take().is_some() {
            if let Some(session) = self.session.take() {
                let _ = session.join();
            }
            log::debug(format_args!("released the pre-start lock {}", self.what));
        }
    }
}

/// The session thread: log in, take the lock, report, hold it until
/// `released` closes, then unlock.
fn hold(
    pg: &Postgres,
    key: i64,
    released: &mpsc::Receiver<()>,
    locked: &dyn Fn(),
) -> Result<(), String> {
    let runtime = Postgres::runtime()?;
    runtime.block_on(async {
        let attempt = Attempt::new(Instant::now() + LOGIN_TIMEOUT);
        let client = tokio::time::timeout(LOGIN_TIMEOUT, pg.client(&attempt))
            .await
            .map_err(|_| format!("timed out {}", attempt.current_phase()))??;
        client
            .simple_query(&format!("SELECT pg_advisory_lock({key})"))
            .await
            .map_err(|e| {
                format!(
                    "pg_advisory_lock failed: {}",
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |d| d.message().to_string())
                )
            })?;
        locked();
        // Block this thread (and so the runtime) until released: the
        // session needs no attention while it just holds the lock.
        let _ = released.recv();
        let unlock = format!("SELECT pg_advisory_unlock({key})");
        let _ = tokio::time::timeout(UNLOCK_TIMEOUT, client.simple_query(&unlock)).await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 64-bit FNV-1a of "berth-pre", computed independently of `key`.
    const KEY_BERTH_PRE: i64 = -8_277_946_722_037_810_650;

    /// The key is a contract between berth versions: replicas of different
    /// versions during a rolling update must take the same lock.
    #[test]
    fn keys_are_pinned() {
        assert_eq!(key("berth-pre"), KEY_BERTH_PRE);
        assert_ne!(key("berth-pre"), key("berth-pre2"));
        // FNV-1a of the empty string is its offset basis.
        assert_eq!(key("") as u64, 0xcbf2_9ce4_8422_2325);
    }
}
