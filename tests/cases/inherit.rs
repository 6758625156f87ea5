//! What CMD and the pre-start steps inherit (src/inherit.rs): exactly what
//! berth was given, minus berth's own settings and descriptors. Every case
//! compares against the fixture started directly by this test (the
//! baseline: whatever this test process itself passes to any child), so a
//! descriptor the test harness happens to leak cannot be blamed on berth,
//! and one berth leaks cannot hide.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::pidns::{PYTHON, fixture, log_lines, temp_dir};
use crate::support::postgres::{APP_PASSWORD, APP_USER, primary};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(30);
/// Starts per mode: the wait loop's wake-up pipe reached CMD in 9-22 of 30
/// before it was close-on-exec.
const STARTS: usize = 30;
/// A BERTH_* variable berth does not read, holding a "secret".
const STRAY: (&str, &str) = ("BERTH_STRAY_SECRET", "hunter2");

type Report = HashMap<String, String>;

fn reports(out: &Path) -> Vec<Report> {
    log_lines(out)
        .iter()
        .map(|line| {
            line.split('\t')
                .filter_map(|f| f.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The fixture run directly, with no berth in between.
fn baseline(dir: &Path) -> Report {
    let out = dir.join("baseline");
    let status = Command::new(PYTHON)
        .args([&fixture("inherited.py"), out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    reports(&out).remove(0)
}

fn report_cmd(out: &Path) -> Vec<String> {
    vec![
        PYTHON.into(),
        fixture("inherited.py"),
        out.to_string_lossy().into_owned(),
    ]
}

/// Runs `berth ARGS... -- fixture OUT` `STARTS` times with `env` set, and
/// checks every report (CMD's, and the pre-steps' when `args` has them)
/// against the baseline.
fn starts(name: &str, args: &[String], env: &[(&str, &str)], steps_per_start: usize) {
    let dir = temp_dir(name);
    let base = baseline(&dir);
    let out = dir.join("reports");
    for i in 0..STARTS {
        let mut cmd = berth();
        cmd.args(
            args.iter()
                .map(|a| a.replace("{out}", out.to_str().unwrap())),
        );
        cmd.arg("--").args(report_cmd(&out));
        cmd.env(STRAY.0, STRAY.1).envs(env.iter().copied());
        let run = output_bounded(cmd.stdin(Stdio::null()), LIMIT);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{name}, start {i}: {}",
            text(&run.stderr)
        );
    }
    let got = reports(&out);
    assert_eq!(got.len(), STARTS * (1 + steps_per_start), "{name}: {got:?}");
    // Each rule over all the reports, so each fails on its own.
    let leaked: Vec<&Report> = got.iter().filter(|r| r["fds"] != base["fds"]).collect();
    assert!(
        leaked.is_empty(),
        "{name}: descriptors leaked in {} of {} (baseline {}): {leaked:?}",
        leaked.len(),
        got.len(),
        base["fds"]
    );
    for r in &got {
        assert_eq!(
            r["berth_vars"], "",
            "{name}: BERTH_* reached the child: {r:?}"
        );
        assert_eq!(r["home"], base["home"], "{name}: {r:?}");
    }
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn run_passes_only_what_it_was_given() {
    starts("inherit-run", &strings(&["run"]), &[], 0);
}

#[test]
fn run_with_wait_leaks_no_wake_up_pipe() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    // The dependency from the environment, as compose files give it.
    starts(
        "inherit-run-wait",
        &strings(&["run"]),
        &[("BERTH_WAIT", &url)],
        0,
    );
}

#[test]
fn pre_steps_get_what_cmd_gets() {
    let step = format!("{PYTHON} {} {{out}}", fixture("inherited.py"));
    starts(
        "inherit-run-pre",
        &strings(&["run", "--pre", &step]),
        &[],
        1,
    );
}

#[test]
fn pre_lock_connection_reaches_neither_steps_nor_cmd() {
    let step = format!("{PYTHON} {} {{out}}", fixture("inherited.py"));
    // The lock URL, with its password, from the environment.
    let url = primary().url(APP_USER, APP_PASSWORD, "app");
    starts(
        "inherit-run-pre-lock",
        &strings(&["run", "--pre", &step, "--pre-lock-name", "inherit-test"]),
        &[("BERTH_PRE_LOCK", &url)],
        1,
    );
}

#[test]
fn wait_execs_cmd_without_berths_settings() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    starts(
        "inherit-wait",
        &strings(&["wait", &url]),
        &[("BERTH_VERBOSE", "0")],
        0,
    );
}

#[test]
fn user_gets_its_own_home() {
    let dir = temp_dir("inherit-home");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // nobody's home in Debian's passwd; 4242 has no entry: "/", as Docker.
    for (user, home) in [("nobody", "/nonexistent"), ("4242", "/")] {
        let out = dir.join(user);
        let run = output_bounded(
            berth()
                .args(["run", "--user", user, "--"])
                .args(report_cmd(&out))
                .env("HOME", "/root"),
            LIMIT,
        );
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        let r = reports(&out).pop().unwrap();
        assert_eq!(r["home"], home, "--user {user}: {r:?}");
    }
}

#[test]
fn cmd_starts_where_berth_started_and_berth_moves_to_root() {
    let dir = temp_dir("inherit-cwd");
    let out = dir.join("reports");
    let step = format!("{PYTHON} {} {}", fixture("inherited.py"), out.display());
    let run = output_bounded(
        berth()
            .args(["run", "--pre", &step, "--"])
            .args(report_cmd(&out))
            .arg("--wait-parent-cwd")
            .current_dir(&dir),
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let got = reports(&out);
    let dir = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(got[0]["cwd"], dir.to_str().unwrap(), "pre-step: {got:?}");
    assert_eq!(got[1]["cwd"], dir.to_str().unwrap(), "CMD: {got:?}");
    // A held directory would block unmounting it (catatonit, dumb-init).
    assert_eq!(got[1]["parent_cwd"], "/", "berth's own cwd: {got:?}");
}

/// systemd-style socket activation as Podman passes it: LISTEN_PID names
/// berth (a shell sets it to its own pid, then execs berth), descriptor 3
/// is the socket. CMD gets it, with LISTEN_PID rewritten to CMD's pid; the
/// pre-step gets neither.
#[test]
fn socket_activation_reaches_cmd_only() {
    let dir = temp_dir("inherit-listen");
    let base = baseline(&dir);
    let out = dir.join("reports");
    let step = format!("{PYTHON} {} {}", fixture("inherited.py"), out.display());
    // Any open descriptor stands in for the socket: the rule is by number.
    let script = format!(
        "exec 3</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec {} run --pre '{step}' -- {PYTHON} {} {}",
        berth_path(),
        fixture("inherited.py"),
        out.display()
    );
    let run = output_bounded(Command::new("sh").args(["-c", &script]), LIMIT);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let got = reports(&out);
    let with_3 = |fds: &str| {
        let mut v: Vec<i32> = fds.split(',').map(|f| f.parse().unwrap()).collect();
        v.push(3);
        v.sort();
        v.dedup();
        v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
    };
    let (step, cmd) = (&got[0], &got[1]);
    assert_eq!(step["fds"], base["fds"], "pre-step got the socket: {got:?}");
    assert_eq!(step["listen_pid"], "-", "{got:?}");
    assert_eq!(step["listen_fds"], "-", "{got:?}");
    assert_eq!(
        cmd["fds"],
        with_3(&base["fds"]),
        "CMD lacks the socket: {got:?}"
    );
    assert_eq!(cmd["listen_pid"], cmd["pid"], "{got:?}");
    assert_eq!(cmd["listen_fds"], "1", "{got:?}");
}

/// `berth run ... 2>&-`, and a stderr pipe whose reader is gone: berth's
/// log lines (-v) fail to write, and CMD's exit status still comes through
/// (it was 134, an abort, with the status lost). The broken pipe also
/// raises SIGPIPE in berth for each line: taken for a signal to forward, it
/// would be logged again, and berth would loop forever.
#[test]
fn closed_or_broken_stderr_never_costs_the_exit_status() {
    let closed = output_bounded(
        Command::new("sh").args([
            "-c",
            &format!("exec {} run -v -- sh -c 'exit 7' 2>&- >&-", berth_path()),
        ]),
        LIMIT,
    );
    assert_eq!(closed.status.code(), Some(7), "{}", text(&closed.stderr));

    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut broken = berth()
        .args(["run", "-v", "--", "sh", "-c", "exit 7"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(writer)
        .spawn()
        .unwrap();
    assert_eq!(wait_bounded(&mut broken, LIMIT).code(), Some(7));
}
