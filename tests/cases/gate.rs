//! The startup gate: berth wait, run --wait, --pre steps and --user.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::pidns::{Pid1, log_lines, temp_dir};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);

/// A loopback port nobody listens on yet.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts listening on `port` after `delay`; returns when it listened.
fn listen_later(port: u16, delay: Duration) -> std::thread::JoinHandle<Instant> {
    std::thread::spawn(move || {
        std::thread::sleep(delay); // the dependency's own start-up time
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let at = Instant::now();
        // Keep it open long enough for berth to see it.
        std::thread::spawn(move || {
            let _keep = l;
            std::thread::sleep(Duration::from_secs(5));
        });
        at
    })
}

#[test]
fn wait_proceeds_soon_after_a_late_listener_appears() {
    let port = free_port();
    let up = listen_later(port, Duration::from_millis(700));
    let out = output_bounded(
        berth().args([
            "wait",
            &format!("tcp://127.0.0.1:{port}"),
            "--timeout",
            "10s",
            "--",
            "echo",
            "started",
        ]),
        LIMIT,
    );
    let done = Instant::now();
    let appeared = up.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "started\n");
    let reaction = done.saturating_duration_since(appeared);
    assert!(
        reaction < Duration::from_millis(400),
        "berth took {reaction:?} to notice the listener"
    );
}

#[test]
fn targets_are_waited_for_in_parallel() {
    let (a, b) = (free_port(), free_port());
    let start = Instant::now();
    let ups = [
        listen_later(a, Duration::from_millis(800)),
        listen_later(b, Duration::from_millis(800)),
    ];
    let out = output_bounded(
        berth().args([
            "wait",
            &format!("tcp://127.0.0.1:{a}"),
            &format!("tcp://localhost:{b}"),
            "--timeout",
            "10s",
        ]),
        LIMIT,
    );
    let took = start.elapsed();
    for u in ups {
        u.join().unwrap();
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Sequential waiting would take at least 1.6 s.
    assert!(
        took < Duration::from_millis(1400),
        "took {took:?}: not parallel"
    );
}

#[test]
fn timeout_names_each_target_and_its_reason_and_never_runs_cmd() {
    let dir = temp_dir("wait-timeout");
    let marker = dir.join("ran");
    let start = Instant::now();
    let out = output_bounded(
        berth()
            .args([
                "wait",
                "tcp://127.0.0.1:1",
                "tcp://no-such-host.invalid:80",
                "--timeout",
                "700ms",
                "--",
            ])
            .arg("touch")
            .arg(&marker),
        LIMIT,
    );
    let took = start.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(
        err.contains("tcp://127.0.0.1:1 never became ready: connection refused"),
        "{err}"
    );
    assert!(
        err.contains("no-such-host.invalid:80 never became ready: name resolution failed"),
        "{err}"
    );
    assert!(!marker.exists(), "CMD ran after a timeout");
}

#[test]
fn progress_lines_name_the_pending_target_and_reason() {
    let out = output_bounded(
        berth().args(["wait", "tcp://127.0.0.1:1", "--timeout", "5500ms"]),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(124));
    assert!(
        err.lines().any(
            |l| l.contains("waiting for tcp://127.0.0.1:1: connection refused")
                && l.contains("attempt")
        ),
        "{err}"
    );
}

#[test]
fn wait_usage_errors() {
    for (args, needle) in [
        (vec!["wait"], "nothing to wait for"),
        (vec!["wait", "ftp://x"], "unknown scheme"),
        (vec!["wait", "db:5432"], "not a URL"),
        (vec!["wait", "tcp://db", "--timeout", "x"], "--timeout"),
        (vec!["wait", "tcp://db:5432", "--"], "no command"),
    ] {
        let out = output_bounded(berth().args(&args), LIMIT);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn wait_from_environment() {
    let port = free_port();
    let _l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = output_bounded(
        berth()
            .env(
                "BERTH_WAIT",
                format!("tcp://127.0.0.1:{port}, tcp://127.0.0.1:{port}"),
            )
            .env("BERTH_WAIT_TIMEOUT", "5s")
            .args(["wait", "--", "echo", "ok"]),
        LIMIT,
    );
    assert_eq!(text(&out.stdout), "ok\n", "{}", text(&out.stderr));
}

#[test]
fn run_wait_timeout_never_starts_cmd() {
    let dir = temp_dir("run-wait-timeout");
    let marker = dir.join("ran");
    let out = output_bounded(
        berth()
            .args([
                "run",
                "--wait",
                "tcp://127.0.0.1:1",
                "--wait-timeout",
                "500ms",
                "--",
                "touch",
            ])
            .arg(&marker),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert!(!marker.exists());
}

#[test]
fn sigterm_while_waiting_ends_berth_at_once_as_pid1() {
    let dir = temp_dir("term-wait");
    let marker = dir.join("ran");
    let marker_s = marker.to_string_lossy().into_owned();
    let berth = Pid1::start(&[
        "run",
        "--wait",
        "tcp://127.0.0.1:1",
        "--wait-timeout",
        "60s",
        "--",
        "touch",
        &marker_s,
    ]);
    berth.signal(libc::SIGTERM);
    let start = Instant::now();
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(143), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(!marker.exists(), "CMD started after SIGTERM");
}

#[test]
fn sigterm_during_a_step_reaches_it_and_cmd_never_starts() {
    let dir = temp_dir("term-step");
    let (log, ready, marker) = (dir.join("log"), dir.join("ready"), dir.join("ran"));
    let step = format!(
        "sh -c 'trap \"echo step-got-term >> {log}; exit 0\" TERM; touch {ready}; while :; do sleep 0.05; done'",
        log = log.display(),
        ready = ready.display()
    );
    let marker_s = marker.to_string_lossy().into_owned();
    let berth = Pid1::start(&["run", "--pre", &step, "--", "touch", &marker_s]);
    assert!(
        wait_until(Duration::from_secs(10), || ready.exists()),
        "step never started"
    );
    berth.signal(libc::SIGTERM);
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(143), "{err}");
    assert_eq!(log_lines(&log), vec!["step-got-term"]);
    assert!(!marker.exists(), "CMD started after SIGTERM during a step");
}

#[test]
fn steps_run_in_order_then_cmd() {
    let dir = temp_dir("order");
    let log = dir.join("log");
    let append = |word: &str| format!("sh -c 'echo {word} >> {}'", log.display());
    let out = output_bounded(
        berth().args([
            "run",
            "--pre",
            &append("first"),
            "--pre",
            &append("second"),
            "--",
            "sh",
            "-c",
            &format!("echo cmd >> {}", log.display()),
        ]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(log_lines(&log), vec!["first", "second", "cmd"]);
}

#[test]
fn a_failing_step_stops_everything_with_its_code() {
    let dir = temp_dir("failing");
    let log = dir.join("log");
    let out = output_bounded(
        berth().args([
            "run",
            "--pre",
            &format!("sh -c 'echo one >> {}; exit 3'", log.display()),
            "--pre",
            &format!("sh -c 'echo two >> {}'", log.display()),
            "--",
            "sh",
            "-c",
            &format!("echo cmd >> {}", log.display()),
        ]),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(log_lines(&log), vec!["one"]);
    assert!(
        err.contains("pre-start step 1") && err.contains("exit code 3"),
        "{err}"
    );

    let out = output_bounded(
        berth().args(["run", "--pre", "no-such-migrate-tool up", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("no-such-migrate-tool"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn steps_are_not_interpreted_by_a_shell() {
    let out = output_bounded(
        berth().args([
            "run",
            "--pre",
            r#"printf '[%s]' $HOME ; "a b" 'c\d' e\ f"#,
            "--",
            "true",
        ]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), r"[$HOME][;][a b][c\d][e f]");
}

#[test]
fn steps_from_environment_and_flags_win() {
    let dir = temp_dir("pre-env");
    let log = dir.join("log");
    let step = |w: &str| format!("sh -c 'echo {w} >> {}'", log.display());
    let out = output_bounded(
        berth()
            .env("BERTH_PRE", format!("{}\n{}\n", step("env1"), step("env2")))
            .args(["run", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(log_lines(&log), vec!["env1", "env2"]);
    let out = output_bounded(
        berth()
            .env("BERTH_PRE", step("env"))
            .args(["run", "--pre", &step("flag"), "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(log_lines(&log), vec!["env1", "env2", "flag"]);
    let out = output_bounded(
        berth().args(["run", "--pre", "sh -c 'unbalanced", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn user_applies_to_steps_and_cmd_but_not_berth() {
    let show = "grep -E '^(Uid|Gid|Groups):' /proc/self/status";
    let out = output_bounded(
        berth().args([
            "run",
            "--user",
            "1234:5678",
            "--pre",
            show,
            "--",
            "sh",
            "-c",
            &format!("{show}; grep -E '^Uid:' /proc/$PPID/status"),
        ]),
        LIMIT,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        stdout.matches("Uid:\t1234\t1234\t1234\t1234").count(),
        2,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("Gid:\t5678\t5678\t5678\t5678").count(),
        2,
        "{stdout}"
    );
    assert_eq!(stdout.matches("Groups:\t5678 \n").count(), 2, "{stdout}");
    // berth itself (CMD's parent) still runs as root, so it can signal and reap.
    assert!(stdout.contains("Uid:\t0\t0\t0\t0"), "{stdout}");

    // A name from /etc/passwd, with its groups from /etc/group.
    let out = output_bounded(
        berth().args(["run", "--user", "nobody", "--", "sh", "-c", show]),
        LIMIT,
    );
    assert!(
        text(&out.stdout).contains("Uid:\t65534"),
        "{}",
        text(&out.stdout)
    );

    let out = output_bounded(
        berth().args(["run", "--user", "no-such-user", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("no user 'no-such-user'"),
        "{}",
        text(&out.stderr)
    );
    let out = output_bounded(
        berth()
            .env("BERTH_USER", "nobody:no-such-group")
            .args(["run", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn wait_runs_the_same_http_check_as_berth_check() {
    use crate::support::certs::certs;
    use crate::support::http::Server;
    let plain = Server::http();
    let out = output_bounded(
        berth().args([
            "wait",
            "--timeout",
            "5s",
            &plain.url("http", "", "/ok"),
            "--",
            "echo",
            "up",
        ]),
        LIMIT,
    );
    assert_eq!(text(&out.stdout), "up\n", "{}", text(&out.stderr));
    assert!(plain.hit_count() >= 1);

    // A wrong status is "not ready", with the check's own reason.
    let out = output_bounded(
        berth().args([
            "wait",
            "--timeout",
            "600ms",
            &plain.url("http", "u:hunter2", "/status/503"),
        ]),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert!(err.contains("HTTP 503, expected 200-399"), "{err}");
    assert!(!err.contains("hunter2"), "password leaked: {err}");

    // https:// with a private CA, trusted through SSL_CERT_FILE.
    let tls = Server::https();
    let url = tls
        .url("https", "", "/ok")
        .replace("127.0.0.1", "localhost");
    let out = output_bounded(
        berth()
            .env("SSL_CERT_FILE", &certs().ca)
            .args(["wait", "--timeout", "5s", &url]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
