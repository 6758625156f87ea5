//! berth run --stop-delay, as PID 1 of a PID namespace: the first SIGTERM
//! is held while everything else goes on; a second SIGTERM, SIGINT or
//! SIGQUIT ends the hold; --kill-after counts from the forwarded signal.
//! The assertions are about order and conditions (what CMD saw, and in
//! which order), never about how long something took.

use std::path::Path;
use std::time::Duration;

use crate::support::pidns::{PYTHON, Pid1, fixture, log_lines, temp_dir};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);

fn wait_ready(log: &Path) {
    assert!(
        wait_until(LIMIT, || log_lines(log).iter().any(|l| l == "ready")),
        "fixture never became ready"
    );
}

/// Whether `signal` is pending for process `pid` (its shared pending set):
/// once it is not, berth has taken it from its signalfd.
fn pending(pid: i32, signal: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("ShdPnd:\t"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// Sends `signal` and waits until berth has taken it.
fn deliver(berth: &Pid1, signal: i32) {
    berth.signal(signal);
    assert!(
        wait_until(LIMIT, || !pending(berth.outer_pid, signal)),
        "berth never took signal {signal}"
    );
}

fn start(delay: &str, extra: &[&str], log: &Path, expected: &[&str]) -> Pid1 {
    let rec = fixture("sigrecord.py");
    let log = log.to_str().unwrap();
    let mut args = vec!["run", "-v", "--stop-delay", delay];
    args.extend(extra);
    args.extend(["--", PYTHON, &rec, log]);
    args.extend(expected);
    Pid1::start(&args)
}

#[test]
fn sigterm_is_held_while_other_signals_pass_then_forwarded() {
    let dir = temp_dir("stop-delay");
    let log = dir.join("log");
    let berth = start("1500ms", &[], &log, &["10", "15"]);
    wait_ready(&log);
    deliver(&berth, libc::SIGTERM);
    // Sent after SIGTERM, it reaches CMD first: SIGTERM is being held.
    berth.signal(libc::SIGUSR1);
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_eq!(log_lines(&log), ["ready", "10", "15"], "stderr: {err}");
    let held = err.find("holding SIGTERM").expect(&err);
    let over = err.find("--stop-delay of 1s 500ms is over").expect(&err);
    assert!(held < over, "{err}");
}

#[test]
fn a_second_sigterm_forwards_at_once() {
    let dir = temp_dir("stop-delay-twice");
    let log = dir.join("log");
    // An hour: berth ending within LIMIT means the hold was cut short.
    let berth = start("1h", &[], &log, &["15"]);
    wait_ready(&log);
    deliver(&berth, libc::SIGTERM);
    berth.signal(libc::SIGTERM);
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_eq!(log_lines(&log), ["ready", "15"]);
    assert!(
        err.contains("SIGTERM during --stop-delay: stopping CMD now"),
        "{err}"
    );
}

#[test]
fn sigint_during_the_delay_is_forwarded_at_once() {
    for (signal, name) in [(libc::SIGINT, "2"), (libc::SIGQUIT, "3")] {
        let dir = temp_dir("stop-delay-int");
        let log = dir.join("log");
        let berth = start("1h", &[], &log, &[name]);
        wait_ready(&log);
        deliver(&berth, libc::SIGTERM);
        berth.signal(signal);
        let (code, err) = berth.finish(LIMIT);
        assert_eq!(code, Some(0), "stderr: {err}");
        // The held SIGTERM is dropped: CMD is already being stopped.
        assert_eq!(log_lines(&log), ["ready", name]);
    }
}

#[test]
fn kill_after_counts_from_the_forwarded_signal() {
    let dir = temp_dir("stop-delay-kill");
    let log = dir.join("log");
    // CMD never exits by itself (no expected signals): --kill-after ends it.
    // Were the clock started by the held SIGTERM, SIGKILL would come during
    // the delay and CMD would never see SIGTERM.
    let berth = start("1s", &["--kill-after", "200ms"], &log, &[]);
    wait_ready(&log);
    deliver(&berth, libc::SIGTERM);
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(137), "stderr: {err}");
    assert_eq!(log_lines(&log), ["ready", "15"], "stderr: {err}");
    let forwarded = err.find("is over; forwarding SIGTERM").expect(&err);
    let killed = err.find("sending SIGKILL").expect(&err);
    assert!(forwarded < killed, "{err}");
}

#[test]
fn stop_delay_from_the_environment_and_bad_values() {
    let out = output_bounded(
        berth()
            .env("BERTH_STOP_DELAY", "later")
            .args(["run", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("BERTH_STOP_DELAY"),
        "{}",
        text(&out.stderr)
    );
    let out = output_bounded(
        berth().args(["run", "--stop-delay", "x", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("--stop-delay"),
        "{}",
        text(&out.stderr)
    );

    // The variable alone turns the delay on.
    let dir = temp_dir("stop-delay-env");
    let log = dir.join("log");
    let rec = fixture("sigrecord.py");
    let berth = Pid1::start_env(
        &[("BERTH_STOP_DELAY", "1h")],
        &["run", "-v", "--", PYTHON, &rec, log.to_str().unwrap(), "15"],
    );
    wait_ready(&log);
    deliver(&berth, libc::SIGTERM);
    berth.signal(libc::SIGTERM);
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(0), "stderr: {err}");
    assert!(err.contains("holding SIGTERM"), "{err}");
}
