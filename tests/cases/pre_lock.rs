//! run --pre-lock: a PostgreSQL advisory lock, or a MySQL/MariaDB named
//! lock, serialises the pre-start steps of replicas started together,
//! against real servers; the same tests run against both.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::pidns::{log_lines, temp_dir};
use crate::support::postgres::{APP_PASSWORD, APP_USER, primary};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(30);

fn lock_url() -> String {
    primary().url(APP_USER, APP_PASSWORD, "app")
}

fn mysql_lock_url() -> String {
    use crate::support::mysql;
    mysql::primary().url(mysql::APP_USER, mysql::APP_PASSWORD, "app")
}

fn start_replica(
    url: &str,
    name: &str,
    step: &str,
    lock_name: &str,
    stderr: &std::path::Path,
) -> Child {
    berth()
        .args([
            "run",
            "--pre-lock",
            url,
            "--pre-lock-name",
            lock_name,
            "--pre",
            step,
            "--",
            "echo",
            name,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap()
}

#[test]
fn replicas_started_together_never_overlap_their_steps() {
    replicas_never_overlap(&lock_url(), APP_PASSWORD);
}

#[test]
fn mysql_replicas_started_together_never_overlap_their_steps() {
    replicas_never_overlap(&mysql_lock_url(), crate::support::mysql::APP_PASSWORD);
}

fn replicas_never_overlap(url: &str, password: &str) {
    let dir = temp_dir("pre-lock-overlap");
    let log = dir.join("log");
    let mut replicas: Vec<Child> = ["a", "b", "c", "d"]
        .iter()
        .map(|r| {
            // Each step takes a while, so unserialised steps would interleave.
            let step = format!(
                "sh -c 'echo start-{r} >> {log}; sleep 0.3; echo end-{r} >> {log}'",
                log = log.display()
            );
            start_replica(url, r, &step, "overlap-test", &dir.join(format!("{r}.err")))
        })
        .collect();
    for (r, child) in ["a", "b", "c", "d"].iter().zip(&mut replicas) {
        let status = wait_bounded(child, LIMIT);
        let err = std::fs::read_to_string(dir.join(format!("{r}.err"))).unwrap_or_default();
        assert_eq!(status.code(), Some(0), "replica {r}: {err}");
        assert!(!err.contains(password), "password leaked: {err}");
    }
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 8, "{lines:?}");
    for pair in lines.chunks(2) {
        let (start, end) = (&pair[0], &pair[1]);
        assert!(start.starts_with("start-"), "overlap: {lines:?}");
        assert_eq!(end, &start.replace("start-", "end-"), "overlap: {lines:?}");
    }
}

#[test]
fn killing_the_holder_lets_the_next_replica_proceed() {
    killing_the_holder(&lock_url());
}

#[test]
fn mysql_killing_the_holder_lets_the_next_replica_proceed() {
    killing_the_holder(&mysql_lock_url());
}

fn killing_the_holder(url: &str) {
    let dir = temp_dir("pre-lock-kill");
    let (a_ready, b_ran) = (dir.join("a-ready"), dir.join("b-ran"));
    // A unique sleep, so the holder's orphaned step can be found and ended.
    let marker = format!("sleep 60.{}", std::process::id());
    let step_a = format!("sh -c 'touch {}; exec {marker}'", a_ready.display());
    let mut a = start_replica(url, "a", &step_a, "kill-test", &dir.join("a.err"));
    assert!(
        wait_until(Duration::from_secs(15), || a_ready.exists()),
        "holder never ran its step"
    );

    let b_err = dir.join("b.err");
    let mut b = start_replica(
        url,
        "b",
        &format!("touch {}", b_ran.display()),
        "kill-test",
        &b_err,
    );
    // B must say it waits, and must not run its step while A holds the lock.
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(&b_err)
            .unwrap_or_default()
            .contains("waiting for the pre-start lock")),
        "b never reported waiting: {}",
        std::fs::read_to_string(&b_err).unwrap_or_default()
    );
    assert!(!b_ran.exists(), "b ran its step while a held the lock");

    // SIGKILL the holder: its session ends, the server frees the lock.
    a.kill().unwrap();
    a.wait().unwrap();
    let _ = std::process::Command::new("pkill")
        .args(["-f", &marker])
        .status();
    assert!(
        wait_until(Duration::from_secs(15), || b_ran.exists()),
        "b never got the lock"
    );
    assert_eq!(wait_bounded(&mut b, LIMIT).code(), Some(0));
}

#[test]
fn lock_failures_are_clear_and_exit_125() {
    let url = format!(
        "postgres://{APP_USER}:wrong-{APP_PASSWORD}@127.0.0.1:{}/app",
        primary().port
    );
    let out = output_bounded(
        berth().args(["run", "--pre-lock", &url, "--pre", "true", "--", "true"]),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("--pre-lock") && err.contains("authentication failed"),
        "{err}"
    );
    assert!(!err.contains("wrong-"), "password leaked: {err}");

    let out = output_bounded(
        berth().args([
            "run",
            "--pre-lock",
            "redis://x:1",
            "--pre",
            "true",
            "--",
            "true",
        ]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("--pre-lock"),
        "{}",
        text(&out.stderr)
    );
}

/// Bug 1 (passwords printed): `run --pre-lock` with the password in the
/// URL's query (`?password=`, as libpq allows) takes the lock and prints
/// the password nowhere, with -v too.
#[test]
fn pre_lock_never_prints_a_password_given_in_the_query() {
    use crate::support::postgres::{SECRET_PASSWORD, SECRET_USER};
    let url = format!(
        "postgres://{SECRET_USER}@127.0.0.1:{}/app?password={SECRET_PASSWORD}",
        primary().port
    );
    for verbose in [&["-v"][..], &[]] {
        let out = output_bounded(
            berth().arg("run").args(verbose).args([
                "--pre-lock",
                &url,
                "--pre",
                "true",
                "--",
                "true",
            ]),
            LIMIT,
        );
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !text(stream).contains(SECRET_PASSWORD),
                "{verbose:?}: password leaked: {}",
                text(stream)
            );
        }
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
}
