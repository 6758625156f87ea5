//! `--pre-lock`: a lock held on its own database session while the
//! pre-start steps run, so replicas that start together migrate one at a
//! time: PostgreSQL's session-level advisory lock (`postgres://`), or
//! MySQL's and MariaDB's named lock, `GET_LOCK` (`mysql://`,
//! `mariadb://`). The lock lives as long as its session: berth releases it
//! after the last step, and if berth dies the server ends the session and
//! frees it.
//!
//! The session runs on its own thread (for PostgreSQL a current-thread
//! tokio runtime, as the postgres check uses); the main thread waits for
//! it in the gate's watch loop, so a SIGTERM while another replica
//! migrates stops berth at once. Only taking and releasing differ per
//! server (`Server::hold`); everything else is one.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::watch::{Ended, Progress, Wake, watch};
use crate::check::{Attempt, Probe, mysql::Mysql, postgres::Postgres};
use crate::exit::Error;
use crate::log;
use crate::sys::signals::SignalFd;
use crate::sys::thread;
use crate::target::{Kind, Target};

/// Bound on connecting and logging in (not on waiting for the lock, which
/// lasts as long as another replica's migration).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one GET_LOCK waits before it is asked again (MySQL has no
/// wait without end in every version; asking again costs nothing).
const MYSQL_WAIT_SECS: u64 = 5;
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

/// The server the lock lives on, and the lock's key or name there.
enum Server {
    Postgres(Postgres, i64),
    Mysql(Mysql, String),
}

enum Event {
    Locked,
    Failed(String),
}

/// The statement that takes MySQL's named lock `name`, waiting at most
/// `secs`. The name is the lock's name on the server, as given: a
/// contract between replicas (and berth versions), like the PostgreSQL key.
/// MySQL takes names of up to 64 characters; quotes and backslashes are
/// refused rather than escaped (escaping depends on the server's sql_mode).
pub fn mysql_get_lock(name: &str, secs: u64) -> Result<String, String> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err("--pre-lock-name: a MySQL lock name has 1 to 64 characters".into());
    }
    if name
        .chars()
        .any(|c| c == '\'' || c == '\\' || c.is_control())
    {
        return Err(
            "--pre-lock-name: a MySQL lock name may not hold quotes, backslashes or control characters"
                .into(),
        );
    }
    Ok(format!("SELECT GET_LOCK('{name}', {secs})"))
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
    /// Connects to `url` and waits until the lock is granted, or a stop
    /// signal arrives.
    pub fn acquire(url: &str, name: &str, signals: &SignalFd) -> Result<Lock, Error> {
        let target = Target::parse_for(url, &[Kind::Postgres, Kind::Mysql], None)
            .map_err(|e| Error::Lock(format!("{}: {e}", crate::target::sketch(url))))?;
        let server = match target.scheme.kind {
            Kind::Mysql => {
                mysql_get_lock(name, MYSQL_WAIT_SECS).map_err(Error::Lock)?;
                Server::Mysql(
                    Mysql::from_target(target).map_err(Error::Lock)?,
                    name.into(),
                )
            }
            _ => Server::Postgres(
                Postgres::from_target(target).map_err(Error::Lock)?,
                key(name),
            ),
        };
        let (what, key) = match &server {
            Server::Postgres(pg, key) => (pg.describe(), format!(" (key {key})")),
            Server::Mysql(my, _) => (my.describe(), String::new()),
        };
        let what = format!("'{name}' on {what}");
        log::debug(format_args!("taking the pre-start lock {what}{key}"));

        let wake = Wake::new()?;
        let notifier = wake.notifier();
        let (events_tx, events) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let session = thread::spawn("pre-lock", move || {
            let tell = |event: Event| {
                let _ = events_tx.send(event);
                notifier.notify();
            };
            if let Err(why) = server.hold(&released, &|| tell(Event::Locked)) {
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

impl Server {
    /// The session thread: log in, take the lock, report, hold it until
    /// `released` closes, then unlock.
    fn hold(&self, released: &mpsc::Receiver<()>, locked: &dyn Fn()) -> Result<(), String> {
        match self {
            Server::Postgres(pg, key) => hold_postgres(pg, *key, released, locked),
            Server::Mysql(my, name) => hold_mysql(my, name, released, locked),
        }
    }
}

/// `pg_advisory_lock`, which waits as long as another session holds it.
fn hold_postgres(
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

/// `GET_LOCK`, asked again each time its wait ends without the lock; each
/// exchange bounded by the socket's deadline.
fn hold_mysql(
    my: &Mysql,
    name: &str,
    released: &mpsc::Receiver<()>,
    locked: &dyn Fn(),
) -> Result<(), String> {
    let attempt = Attempt::new(Instant::now() + LOGIN_TIMEOUT);
    let mut session = my.login(&attempt).map_err(|f| f.reason)?;
    let get_lock = mysql_get_lock(name, MYSQL_WAIT_SECS)?;
    loop {
        let wait = Duration::from_secs(MYSQL_WAIT_SECS) + LOGIN_TIMEOUT;
        let attempt = Attempt::new(Instant::now() + wait);
        session.set_deadline(attempt.deadline());
        let rows = session
            .rows(&get_lock, &attempt)
            .map_err(|e| format!("GET_LOCK failed: {e}"))?;
        match rows
            .first()
            .and_then(|r| r.first())
            .cloned()
            .flatten()
            .as_deref()
        {
            Some("1") => break,
            // The wait ended: another replica holds the lock.
            Some("0") => continue,
            _ => return Err("GET_LOCK failed (the server answered NULL)".into()),
        }
    }
    locked();
    let _ = released.recv();
    let attempt = Attempt::new(Instant::now() + UNLOCK_TIMEOUT);
    session.set_deadline(attempt.deadline());
    let _ = session.rows(&format!("SELECT RELEASE_LOCK('{name}')"), &attempt);
    session.quit();
    Ok(())
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

    /// MySQL's lock is the name itself, also a contract between versions.
    #[test]
    fn mysql_lock_names_are_pinned() {
        assert_eq!(
            mysql_get_lock("berth-pre", 5).unwrap(),
            "SELECT GET_LOCK('berth-pre', 5)"
        );
        assert!(mysql_get_lock("it's", 5).is_err());
        assert!(mysql_get_lock(&"x".repeat(65), 5).is_err());
        assert!(mysql_get_lock("", 5).is_err());
    }
}
