//! Durations, one rule for every flag (src/duration.rs): human or bare
//! seconds, 0 means "none", at most a year. A duration too long to add to a
//! clock used to abort berth (as PID 1, at the first SIGTERM for
//! --kill-after); now it is a one-line usage error naming the flag.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use super::check_http::{check, healthy, unhealthy, usage_error};
use crate::support::pidns::{Pid1, log_lines, temp_dir};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);
const HUGE: &str = "999999999999h";

/// berth's stderr, line by line as it comes (`lines`), and all of it once
/// berth has ended (`all`).
struct Stderr {
    lines: std::sync::mpsc::Receiver<String>,
    all: std::thread::JoinHandle<Vec<String>>,
}

impl Stderr {
    fn follow(child: &mut std::process::Child) -> Stderr {
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let all = std::thread::spawn(move || {
            let mut all = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                all.push(line);
            }
            all
        });
        Stderr { lines, all }
    }

    /// Waits (as long as berth runs: the test's bound on berth bounds it)
    /// for the `n`th line that contains `text`.
    fn seen(&self, text: &str, n: usize) -> bool {
        self.lines
            .iter()
            .filter(|l| l.contains(text))
            .nth(n - 1)
            .is_some()
    }

    fn text(self) -> String {
        self.all.join().unwrap().join("\n")
    }
}

/// One usage error line naming `flag`, with `code`, never a panic (134).
fn refused(out: &std::process::Output, code: i32, flag: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(
        err.contains(&format!("{flag} '{HUGE}' is longer than a year")),
        "{err}"
    );
    assert!(err.contains("365d or less, or 0 for none"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn durations_too_long_for_a_clock_are_usage_errors() {
    let wait = "tcp://127.0.0.1:1";
    let run_cases: &[(&[&str], &str)] = &[
        (
            &["run", "--kill-after", HUGE, "--", "true"],
            "--kill-after/BERTH_KILL_AFTER",
        ),
        (
            &["run", "--wait", wait, "--wait-timeout", HUGE, "--", "true"],
            "--wait-timeout/BERTH_WAIT_TIMEOUT",
        ),
        (
            &["run", "--grace", HUGE, "--", "true"],
            "--grace/BERTH_GRACE",
        ),
        (
            &["run", "--stop-delay", HUGE, "--", "true"],
            "--stop-delay/BERTH_STOP_DELAY",
        ),
        (
            &["wait", wait, "--timeout", HUGE],
            "--timeout/BERTH_WAIT_TIMEOUT",
        ),
    ];
    for (args, flag) in run_cases {
        let out = output_bounded(berth().args(*args), LIMIT);
        refused(&out, 125, flag);
    }
    // The variables go through the same parser.
    let out = output_bounded(
        berth()
            .env("BERTH_KILL_AFTER", HUGE)
            .args(["run", "--", "true"]),
        LIMIT,
    );
    refused(&out, 125, "--kill-after/BERTH_KILL_AFTER");
    let out = output_bounded(
        berth().env("BERTH_WAIT_TIMEOUT", HUGE).args(["wait", wait]),
        LIMIT,
    );
    refused(&out, 125, "--timeout/BERTH_WAIT_TIMEOUT");
    // berth check: usage errors exit 1 (never 2).
    for (args, flag) in [
        (vec!["tcp", "127.0.0.1:1", "--timeout", HUGE], "--timeout"),
        (vec!["file", "/", "--max-age", HUGE], "--max-age"),
    ] {
        let out = output_bounded(berth().arg("check").args(&args), LIMIT);
        refused(&out, 1, flag);
    }
}

/// The case that aborted PID 1: a huge --kill-after was accepted, and the
/// first SIGTERM computed its deadline. Now berth refuses it at start.
#[test]
fn huge_kill_after_is_refused_before_cmd_starts() {
    let dir = temp_dir("huge-kill-after");
    let marker = dir.join("ran");
    let marker_s = marker.to_string_lossy().into_owned();
    let out = output_bounded(
        berth().args(["run", "--kill-after", HUGE, "--", "touch", &marker_s]),
        LIMIT,
    );
    refused(&out, 125, "--kill-after/BERTH_KILL_AFTER");
    assert!(!marker.exists(), "CMD ran with an invalid --kill-after");
}

/// Creates `path` with its modification time `age` in the past.
fn beat(path: &std::path::Path, age: Duration) {
    let f = std::fs::File::create(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn max_age_takes_bare_seconds_and_0_for_any_age() {
    let dir = temp_dir("max-age-seconds");
    let path = dir.join("beat");
    let p = path.to_str().unwrap();
    beat(&path, Duration::from_secs(5));
    healthy(
        &check(&["file", p, "--max-age", "30"]),
        "exists, modified 5s ago",
    );
    beat(&path, Duration::from_secs(300));
    unhealthy(
        &check(&["file", p, "--max-age", "30"]),
        "modified 5m ago, more than --max-age 30s",
    );
    healthy(
        &check(&["file", p, "--max-age", "0"]),
        "exists, modified 5m ago",
    );
    usage_error(
        &check(&["file", p, "--max-age", "-30"]),
        "--max-age '-30' is not a duration",
    );
}

#[test]
fn check_timeout_0_is_no_limit() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    healthy(&check(&["tcp", &addr, "--timeout", "0"]), "connected to");
    healthy(&check(&["tcp", &addr, "--timeout", "0s"]), "connected to");
    // A bare number is seconds here too.
    healthy(&check(&["tcp", &addr, "--timeout", "2"]), "connected to");
}

/// `berth wait --timeout 0`: no limit, as wait-for-it's `-t 0`. berth is
/// seen failing (its -v log) before the port opens, so the success can only
/// come from waiting, not from a port that was open all along.
#[test]
fn wait_timeout_0_waits_until_the_port_opens() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("tcp://127.0.0.1:{port}");
    let mut child = berth()
        .args([
            "wait",
            "-v",
            "--timeout",
            "0",
            &target,
            "--",
            "echo",
            "started",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Stderr::follow(&mut child);
    // 0 used to mean "give up at once": exit 124 after one attempt.
    if !stderr.seen("unhealthy, connection refused", 2) {
        let _ = wait_bounded(&mut child, LIMIT);
        panic!("berth did not keep trying: {}", stderr.text());
    }
    let _listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let status = wait_bounded(&mut child, LIMIT);
    let err = stderr.text();
    assert_eq!(status.code(), Some(0), "{err}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(out, "started\n");
}

/// `run --wait-timeout 0` (here from BERTH_WAIT_TIMEOUT) waits without a
/// limit too; a file:// target appears when the test creates it.
#[test]
fn run_wait_timeout_0_from_the_environment_waits() {
    let dir = temp_dir("wait-timeout-0");
    let (ready, log) = (dir.join("ready"), dir.join("log"));
    let url = format!("file://{}", ready.display());
    let cmd = format!("echo cmd >> {}", log.display());
    let mut berth = Pid1::start_env(
        &[("BERTH_WAIT_TIMEOUT", "0"), ("BERTH_WAIT", &url)],
        &["run", "-v", "--", "sh", "-c", &cmd],
    );
    let stderr = Stderr::follow(&mut berth.unshare);
    // 0 used to mean "give up at once": exit 124 after one attempt.
    if !stderr.seen("unhealthy, no such file", 2) {
        let _ = berth.finish(LIMIT);
        panic!("berth did not keep trying: {}", stderr.text());
    }
    std::fs::File::create(&ready).unwrap();
    let (code, _) = berth.finish(LIMIT);
    let err = stderr.text();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(log_lines(&log), vec!["cmd"]);
}

/// `--kill-after 0` is "never", like its default: a CMD that takes its time
/// over SIGTERM exits on its own (it used to be SIGKILLed at once).
#[test]
fn kill_after_0_never_kills() {
    let dir = temp_dir("kill-after-0");
    let ready = dir.join("ready");
    let script = format!(
        "trap 'sleep 0.3; exit 7' TERM; touch {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let berth = Pid1::start(&["run", "--kill-after", "0", "--", "sh", "-c", &script]);
    assert!(
        wait_until(Duration::from_secs(10), || ready.exists()),
        "CMD never started"
    );
    berth.signal(libc::SIGTERM);
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(7), "{err}");
}
