//! `berth check`: one attempt against one target, bounded by a timeout over
//! every phase, reported in one line on stdout. Exit 0 healthy, 1 unhealthy.
//!
//! A new protocol is a new file here, its row in the scheme table
//! (`target.rs`) and one line in `from_target`. Every protocol reaches its
//! peer through `net` and speaks TLS through `tls`.

pub mod amqp;
pub mod attempt;
pub mod ed25519;
pub mod file;
pub mod grpc;
pub mod h2;
pub mod http;
pub mod json;
pub mod memcached;
pub mod mysql;
pub mod nats;
pub mod net;
pub mod postgres;
pub mod redis;
pub mod tcp;
pub mod tls;
pub mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::{CheckArgs, CheckKind};
use crate::exit;
use crate::log;
use crate::target::{Kind, Target};
pub use attempt::Attempt;

pub use crate::options::DEFAULT_CHECK_TIMEOUT as DEFAULT_TIMEOUT;

/// One kind of health check, configured and ready to run.
pub trait Probe: Send + Sync {
    /// What is checked, for the report: the URL with any password masked.
    fn describe(&self) -> String;

    /// Runs one attempt. `Ok` carries what was found ("HTTP 200"), `Err` the
    /// specific reason the target is unhealthy ("connection refused").
    /// Implementations call `attempt.phase(...)` as they go, so a timeout can
    /// say where it struck, and bound their sockets by `attempt.remaining()`.
    fn probe(&self, attempt: &Attempt) -> Result<String, String>;
}

/// The result of one attempt.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub healthy: bool,
    /// What was found, or why it is unhealthy.
    pub reason: String,
    pub elapsed: Duration,
    /// Whether the attempt failed because its deadline passed, however the
    /// protocol worded it: a wait whose own deadline cut its last attempt
    /// short keeps the reason of the one before (`gate::wait`).
    pub timed_out: bool,
}

/// Builds the check a URL's scheme selects (the scheme table in
/// `target.rs`), with `berth check`'s defaults.
pub fn from_url(url: &str) -> Result<Arc<dyn Probe>, String> {
    from_target(Target::parse(url).map_err(|e| e.to_string())?)
}

/// The check for a parsed target.
pub fn from_target(target: Target) -> Result<Arc<dyn Probe>, String> {
    Ok(match target.scheme.kind {
        Kind::Http | Kind::HttpUnix => Arc::new(http::Http::from_target(target)?),
        Kind::Postgres => Arc::new(postgres::Postgres::from_target(target)?),
        Kind::Mysql => Arc::new(mysql::Mysql::from_target(target)?),
        Kind::Redis => Arc::new(redis::Redis::from_target(target)?),
        Kind::Grpc => Arc::new(grpc::Grpc::from_target(target)?),
        Kind::Amqp => Arc::new(amqp::Amqp::from_target(target)?),
        Kind::Nats => Arc::new(nats::Nats::from_target(target)?),
        Kind::Memcached => Arc::new(memcached::Memcached::from_target(target)?),
        Kind::Tcp => Arc::new(tcp::Tcp::from_target(target)?),
        Kind::File => Arc::new(file::File::from_target(target)?),
    })
}

/// Runs `probe` once, giving up after `timeout` whatever it is doing;
/// `None` (`--timeout 0`) is no limit: berth waits as long as the probe
/// runs, and its sockets' deadline is a year away (`duration::MAX`, the
/// longest any duration can be), which no clock arithmetic overflows.
///
/// The attempt runs on its own thread and this one waits with a deadline: a
/// DNS lookup in the C library, a TLS handshake or a protocol client that
/// ignores socket timeouts cannot hold berth past it. A thread left behind
/// by a timeout dies with the process (check) or ends at its socket timeouts
/// (wait).
pub fn run_once(probe: Arc<dyn Probe>, timeout: Option<Duration>) -> Outcome {
    let start = Instant::now();
    let attempt = Attempt::new(start + timeout.unwrap_or(crate::duration::MAX));
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = attempt.clone();
    let spawned = crate::sys::thread::spawn("attempt", move || {
        let _ = tx.send(probe.probe(&worker));
    });
    let result = match spawned {
        Err(e) => Err(format!("cannot start the check: {e}")),
        // Disconnected: the check panicked; a timeout is worded by `outcome`.
        Ok(_) => match timeout.map_or_else(|| rx.recv().ok(), |t| rx.recv_timeout(t).ok()) {
            Some(r) => r,
            None if attempt.passed() => Err(String::new()),
            None => Err("the check stopped unexpectedly".into()),
        },
    };
    outcome(result, &attempt, start.elapsed())
}

/// One rule for what a failure at the deadline is: a timeout, worded
/// "timed out" + the phase it struck in, whichever socket call noticed it
/// first ("cannot send the request: deadline reached" is the same event).
/// A protocol's own "timed out ..." wording is kept, as it may say more.
pub fn outcome(result: Result<String, String>, attempt: &Attempt, elapsed: Duration) -> Outcome {
    let healthy = result.is_ok();
    let timed_out = !healthy && attempt.passed();
    let reason = match result {
        Ok(found) => found,
        Err(why) if timed_out && !why.starts_with("timed out") => {
            format!("timed out {}", attempt.current_phase())
        }
        Err(why) => why,
    };
    Outcome {
        healthy,
        reason,
        elapsed,
        timed_out,
    }
}

/// A fragment of what a peer sent, fit for the one-line report: each run of
/// control characters one space (not dropped: dropping would join the
/// pieces around them into text the peer never sent, a password split by
/// NULs among them), ends trimmed, at most 160 characters. Every protocol
/// clips here.
pub fn clip(s: &str) -> String {
    let mut line = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_control() {
            line.push(c);
        } else if !line.is_empty() && !line.ends_with(' ') {
            line.push(' ');
        }
    }
    let line = line.trim_end().to_string();
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line,
    }
}

/// The report line: "URL: healthy, HTTP 200 (2.1 ms)".
pub fn report_line(what: &str, outcome: &Outcome) -> String {
    format!(
        "{what}: {}, {} ({:.1} ms)",
        if outcome.healthy {
            "healthy"
        } else {
            "unhealthy"
        },
        outcome.reason,
        outcome.elapsed.as_secs_f64() * 1000.0
    )
}

/// `berth check URL [URL...] [--timeout DUR]`: each URL checked by its
/// scheme (the table in `target.rs`, with `berth check`'s defaults), all in
/// parallel, one line each in the order given; healthy when all are.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
pub fn main_urls(args: &[&str]) -> u8 {
    let mut urls = Vec::new();
    let mut timeout = None;
    let mut rest = args.iter();
    while let Some(&arg) = rest.next() {
        match arg {
            "--timeout" => match rest.next() {
                Some(&t) => timeout = Some(t),
                None => return usage_error("--timeout needs a duration, e.g. 3s"),
            },
            a if a.starts_with('-') && !crate::target::looks_like_url(a) => {
                return usage_error(
                    "unknown option for 'berth check URL...' (it takes --timeout DUR); \
                     other flags belong to 'berth check http|postgres|redis|...'",
                );
            }
            url => urls.push(url),
        }
    }
    let timeout = match crate::options::check_timeout(timeout) {
        Ok(t) => t,
        Err(e) => return usage_error(&e.to_string()),
    };
    let mut probes = Vec::new();
    for url in &urls {
        match from_url(url) {
            Ok(p) => probes.push(p),
            Err(e) => return usage_error(&format!("{}: {e}", crate::target::sketch(url))),
        }
    }
    let workers: Vec<_> = probes
        .into_iter()
        .map(|probe| {
            let what = probe.describe();
            let worker = crate::sys::thread::spawn("check", move || run_once(probe, timeout));
            (what, worker)
        })
        .collect();
    let mut healthy = true;
    for (what, worker) in workers {
        let outcome = match worker.map_err(|e| e.to_string()).and_then(|w| {
            w.join()
                .map_err(|_| "the check stopped unexpectedly".to_string())
        }) {
            Ok(o) => o,
            Err(why) => Outcome {
                healthy: false,
                reason: why,
                elapsed: Duration::ZERO,
                timed_out: false,
            },
        };
        healthy &= outcome.healthy;
        log::out(format_args!("{}\n", report_line(&what, &outcome)));
    }
    if healthy {
        exit::HEALTHY
    } else {
        exit::UNHEALTHY
    }
}

fn usage_error(msg: &str) -> u8 {
    crate::log::error(format_args!("check: {msg}"));
    exit::UNHEALTHY
}

/// `berth check ...`: builds the probe, runs it once, prints one line.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
pub fn main(args: CheckArgs) -> u8 {
    let built: Result<(Arc<dyn Probe>, Option<String>), String> = match args.kind {
        CheckKind::Http(a) => http::Http::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
        CheckKind::Postgres(a) => {
            postgres::Postgres::from_args(a).map(|(p, t)| (Arc::new(p) as _, t))
        }
        CheckKind::Mysql(a) => mysql::Mysql::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
        CheckKind::Redis(a) => redis::Redis::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
        CheckKind::Grpc(a) => grpc::Grpc::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
        CheckKind::Amqp(a) => amqp::Amqp::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
        CheckKind::Nats(a) => nats::Nats::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
        CheckKind::Memcached(a) => {
            memcached::Memcached::from_args(a).map(|(p, t)| (Arc::new(p) as _, t))
        }
        CheckKind::Tcp(a) => tcp::Tcp::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
        CheckKind::File(a) => file::File::from_args(a).map(|(p, t)| (Arc::new(p) as _, t)),
    };
    let (probe, timeout) = match built {
        Ok(b) => b,
        Err(msg) => {
            crate::log::error(format_args!("check: {msg}"));
            return exit::UNHEALTHY;
        }
    };
    let timeout = match crate::options::check_timeout(timeout.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            crate::log::error(format_args!("check: {e}"));
            return exit::UNHEALTHY;
        }
    };
    let what = probe.describe();
    let outcome = run_once(probe, timeout);
    log::out(format_args!("{}\n", report_line(&what, &outcome)));
    if outcome.healthy {
        exit::HEALTHY
    } else {
        exit::UNHEALTHY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outcome of `result`, ending in phase "sending the request" of an
    /// attempt whose deadline has or has not passed.
    fn ended(result: Result<String, String>, deadline_passed: bool) -> Outcome {
        let now = Instant::now();
        let attempt = Attempt::new(if deadline_passed {
            now
        } else {
            now + Duration::from_secs(60)
        });
        attempt.phase("sending the request");
        outcome(result, &attempt, Duration::ZERO)
    }

    #[test]
    fn a_failure_at_the_deadline_is_a_timeout_however_it_was_worded() {
        let o = ended(
            Err("cannot send the request: deadline reached".into()),
            true,
        );
        assert!(o.timed_out && !o.healthy);
        assert_eq!(o.reason, "timed out sending the request");
        // run_once's own wait ran out before the check answered.
        let o = ended(Err(String::new()), true);
        assert!(o.timed_out);
        assert_eq!(o.reason, "timed out sending the request");
    }

    #[test]
    fn a_protocols_own_timeout_wording_is_kept() {
        let o = ended(
            Err("timed out while connecting to 127.0.0.1:1".into()),
            true,
        );
        assert!(o.timed_out);
        assert_eq!(o.reason, "timed out while connecting to 127.0.0.1:1");
    }

    #[test]
    fn a_failure_before_the_deadline_is_not_a_timeout() {
        let o = ended(Err("connection refused by 127.0.0.1:1".into()), false);
        assert!(!o.timed_out && !o.healthy);
        assert_eq!(o.reason, "connection refused by 127.0.0.1:1");
    }

    #[test]
    fn clipped_text_never_joins_what_control_characters_kept_apart() {
        assert_eq!(clip("\r\nERR s3cr\0\0et\r\n"), "ERR s3cr et");
        assert_eq!(clip("plain"), "plain");
        assert_eq!(clip(&"x".repeat(200)), format!("{}...", "x".repeat(160)));
    }

    #[test]
    fn success_at_the_deadline_is_success() {
        let o = ended(Ok("PONG".into()), true);
        assert!(o.healthy && !o.timed_out);
        assert_eq!(o.reason, "PONG");
    }
}
