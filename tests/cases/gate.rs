//! The startup gate: berth wait, run --wait, --pre steps and --user.

use std::net::TcpListener;
use std::time::Duration;

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

/// Starts listening on `port` after `delay`; the listener lives as long as
/// the handle's result, so berth can see it however slowly it runs.
fn listen_later(port: u16, delay: Duration) -> std::thread::JoinHandle<TcpListener> {
    std::thread::spawn(move || {
        std::thread::sleep(delay); // the dependency's own start-up time
        TcpListener::bind(("127.0.0.1", port)).unwrap()
    })
}

// How soon berth proceeds once a listener appears is measured in
// bench/wait.sh, beside wait-for-it and dockerize: a timing threshold here
// would fail on a loaded machine, not on a slow berth.
#[test]
fn wait_proceeds_after_a_late_listener_appears() {
    let port = free_port();
    let up = listen_later(port, Duration::from_millis(700));
    let out = output_bounded(
        berth().args([
            "wait",
            &format!("tcp://127.0.0.1:{port}"),
            "--timeout",
            "30s",
            "--",
            "echo",
            "started",
        ]),
        LIMIT,
    );
    let _listener = up.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "started\n");
}

#[test]
fn targets_are_waited_for_in_parallel() {
    // A listens only once B has been tried: waiting for A before trying B
    // would never end. No clock involved.
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let b_port = b.local_addr().unwrap().port();
    let a_port = free_port();
    let a = std::thread::spawn(move || {
        b.set_nonblocking(true).unwrap();
        let tried = wait_until(LIMIT, || b.accept().is_ok());
        (tried, TcpListener::bind(("127.0.0.1", a_port)).unwrap(), b)
    });
    let out = output_bounded(
        berth().args([
            "wait",
            &format!("tcp://127.0.0.1:{a_port}"),
            &format!("tcp://localhost:{b_port}"),
            "--timeout",
            "30s",
        ]),
        LIMIT,
    );
    let (tried, _a, _b) = a.join().unwrap();
    assert!(tried, "B was never tried");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn timeout_names_each_target_and_its_reason_and_never_runs_cmd() {
    let dir = temp_dir("wait-timeout");
    let marker = dir.join("ran");
    let closer = crate::support::hostile::closer();
    let out = output_bounded(
        berth()
            .args([
                "wait",
                "tcp://127.0.0.1:1",
                &format!("redis://127.0.0.1:{closer}"),
                "--timeout",
                "2s",
                "--",
            ])
            .arg("touch")
            .arg(&marker),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert!(
        err.contains("tcp://127.0.0.1:1 never became ready: connection refused"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "redis://127.0.0.1:{closer} never became ready: connection closed by the server before the reply (not a Redis server?)"
        )),
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
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
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
    // Bounded by LIMIT, well before the 60 s wait would end: 143 says the
    // signal ended it, not the deadline.
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(143), "{err}");
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

    // A wrong status is "not ready", with the check's own reason, also when
    // the wait's deadline cuts the last attempt short (qemu-user needs
    // longer for the first attempt: see `margin`).
    let timeout = format!("{}ms", margin(Duration::from_millis(2000)).as_millis());
    let out = output_bounded(
        berth().args([
            "wait",
            "--timeout",
            &timeout,
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

/// A Kubernetes initContainer or `docker run IMAGE berth wait ...`: berth
/// wait is PID 1, and SIGTERM (docker stop, pod deletion) or SIGINT (Ctrl-C)
/// must end it at once with 128 + N, not after the wait's own timeout.
#[test]
fn wait_as_pid1_ends_on_sigterm_and_sigint() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = temp_dir("wait-pid1-signal");
        let marker = dir.join("ran");
        let marker_s = marker.to_string_lossy().into_owned();
        // The wait would last 60 s, longer than LIMIT: only the signal can
        // end it in time.
        let berth = Pid1::start(&[
            "wait",
            "tcp://127.0.0.1:1",
            "--timeout",
            "60s",
            "--",
            "touch",
            &marker_s,
        ]);
        berth.signal(signal);
        let (code, err) = berth.finish(LIMIT);
        assert_eq!(code, Some(128 + signal), "{err}");
        assert!(
            err.contains("stopped by SIG") && err.contains("while waiting for dependencies"),
            "{err}"
        );
        assert!(!marker.exists(), "CMD ran after the signal");
    }
}

/// Outside a PID namespace too, berth wait ends with 143 (its own exit
/// code, not death by the signal), as `run --wait` does.
#[test]
fn wait_handles_sigterm_outside_a_namespace() {
    let mut child = berth()
        .args(["wait", "tcp://127.0.0.1:1", "--timeout", "60s"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&status).is_ok_and(|s| shows_berths_mask(&s))
        }),
        "berth wait never blocked its signals"
    );
    // SAFETY: kill has no memory arguments.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let code = wait_bounded(&mut child, LIMIT);
    assert_eq!(code.code(), Some(143), "{code:?}");
}

/// CMD's arguments, pre-step commands and `wait -- CMD` are bytes, passed
/// through untouched whatever their encoding (Latin-1 file names, say).
#[test]
fn arguments_pass_through_as_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    // Latin-1, stray bytes, and a valid character from the range berth's
    // parser uses to carry bytes (U+10FF80), which must survive as itself.
    let raw = OsStr::from_bytes(b"caf\xe9-\xff\xfe-\xf4\x8f\xbe\x80");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = format!("tcp://{}", listener.local_addr().unwrap());
    let mut step = b"printf <%s> ".to_vec();
    step.extend_from_slice(raw.as_bytes());
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![
            "run".as_ref(),
            "--".as_ref(),
            "printf".as_ref(),
            "<%s>".as_ref(),
            raw,
        ],
        // Without `--` too, as tini takes it.
        vec!["run".as_ref(), "printf".as_ref(), "<%s>".as_ref(), raw],
        vec![
            "run".as_ref(),
            "--pre".as_ref(),
            OsStr::from_bytes(&step),
            "--".as_ref(),
            "true".as_ref(),
        ],
        vec![
            "wait".as_ref(),
            up.as_ref(),
            "--".as_ref(),
            "printf".as_ref(),
            "<%s>".as_ref(),
            raw,
        ],
    ];
    for args in cases {
        let out = output_bounded(berth().args(&args), LIMIT);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            out.stdout, b"<caf\xe9-\xff\xfe-\xf4\x8f\xbe\x80>",
            "{args:?}"
        );
    }
}

/// berth's own flag values must be text: a clear usage error otherwise.
#[test]
fn own_flags_must_be_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let bad = OsStr::from_bytes(b"5\xffs");
    for (args, code, needle) in [
        (
            vec![
                "run".as_ref(),
                "--grace".as_ref(),
                bad,
                "--".as_ref(),
                "true".as_ref(),
            ],
            125,
            "--grace: the value is not valid UTF-8",
        ),
        (
            vec![
                "wait".as_ref(),
                "--timeout".as_ref(),
                bad,
                "tcp://127.0.0.1:1".as_ref(),
            ],
            125,
            "argument 3 is not valid UTF-8",
        ),
        (
            vec!["check".as_ref(), "tcp".as_ref(), bad],
            1,
            "argument 3 is not valid UTF-8",
        ),
    ] {
        let out = output_bounded(berth().args(&args), LIMIT);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// Asserts that no output of a run holds `secret`.
fn assert_no_secret(out: &std::process::Output, secret: &str, what: &str) {
    for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text(stream).contains(secret),
            "{what}: password on {name}: {}",
            text(stream)
        );
    }
}

/// Bug 1 (passwords printed): a PostgreSQL password given as libpq allows,
/// `?password=` in the query, is printed by no line of `berth wait`: not
/// the per-attempt lines of -v, not the "is ready" line, not the progress
/// and timeout lines of a wait that fails.
#[test]
fn wait_never_prints_a_postgres_password_given_in_the_query() {
    use crate::support::postgres::{SECRET_PASSWORD, SECRET_USER, primary};
    let url = |port: u16| {
        format!("postgres://{SECRET_USER}@127.0.0.1:{port}/app?password={SECRET_PASSWORD}")
    };
    let real = url(primary().port);
    for verbose in [&["-v"][..], &[]] {
        let out = output_bounded(
            berth()
                .arg("wait")
                .args(verbose)
                .args(["--timeout", "20s", &real]),
            LIMIT,
        );
        assert_no_secret(&out, SECRET_PASSWORD, &format!("wait {verbose:?}"));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    // Nothing listens there: attempts fail, then the wait times out.
    let dead = url(free_port());
    for verbose in [&["-v"][..], &[]] {
        let out = output_bounded(
            berth()
                .arg("wait")
                .args(verbose)
                .args(["--timeout", "1s", &dead]),
            LIMIT,
        );
        assert_no_secret(&out, SECRET_PASSWORD, &format!("failing wait {verbose:?}"));
        assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("never became ready"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// Bug 1: a URL berth cannot parse is reported without its password (exit
/// 125, one line), whatever the scheme.
#[test]
fn malformed_wait_urls_are_reported_without_the_password() {
    let secret = "Zq9s3cret";
    for url in [
        format!("grpc://u:{secret}@host"),
        format!("grpcs://u:{secret}@host"),
        format!("file://u:{secret}@x"),
        format!("tcp://u:{secret}@db"),
        format!("http://u:{secret}@[::1"),
    ] {
        let out = output_bounded(berth().args(["wait", &url]), LIMIT);
        assert_no_secret(&out, secret, &url);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{url}: {err}");
        assert_eq!(err.lines().count(), 1, "{url}: one line: {err}");
    }
}

/// Bug 1: a password with a comma in BERTH_WAIT (a comma-separated list)
/// stays whole: berth logs in, and prints no part of it.
#[test]
fn comma_in_a_password_in_berth_wait() {
    use crate::support::postgres::{COMMA_PASSWORD, COMMA_USER, primary};
    let url = format!(
        "postgres://{COMMA_USER}:{COMMA_PASSWORD}@127.0.0.1:{}/app",
        primary().port
    );
    let out = output_bounded(
        berth()
            .env("BERTH_WAIT", &url)
            .env("BERTH_WAIT_TIMEOUT", "20s")
            .args(["wait", "--", "echo", "ready"]),
        LIMIT,
    );
    let (head, tail) = COMMA_PASSWORD.split_once(',').unwrap();
    for part in [COMMA_PASSWORD, head, tail] {
        assert_no_secret(&out, part, "BERTH_WAIT");
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ready\n");
}

/// The rule for stop signals before CMD (`gate::stop_pending`): one that
/// arrives before CMD starts ends berth with 128 + N and CMD never starts,
/// wherever berth is. Here SIGTERM comes while berth waits for a dependency
/// that becomes ready only afterwards, when the test creates its file.
#[test]
fn sigterm_before_the_last_dependency_is_ready_never_starts_cmd() {
    for round in 0..20 {
        let dir = temp_dir("term-then-ready");
        let (ready, marker) = (dir.join("ready"), dir.join("ran"));
        let marker_s = marker.to_string_lossy().into_owned();
        let berth = Pid1::start(&[
            "run",
            "--wait",
            &format!("file://{}", ready.display()),
            "--wait-timeout",
            "0",
            "--",
            "touch",
            &marker_s,
        ]);
        berth.signal(libc::SIGTERM);
        std::fs::File::create(&ready).unwrap();
        let (code, err) = berth.finish(LIMIT);
        assert_eq!(code, Some(143), "round {round}: {err}");
        assert!(!marker.exists(), "round {round}: CMD started after SIGTERM");
    }
}

/// Runs `wrapper... berth args...` to completion as PID 1 of a new PID
/// namespace (the wrapper execs berth). For a berth that may end before
/// `Pid1::start` can see it.
fn as_pid1(wrapper: &[&str], args: &[&str]) -> std::process::Output {
    output_bounded(
        std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(wrapper)
            .arg(berth_path())
            .args(args),
        LIMIT,
    )
}

/// Runs berth as PID 1 with SIGTERM already pending when it starts
/// (blocked and raised by the process it replaces): a signal that came
/// before CMD started, whatever berth was doing meanwhile. No timing luck
/// involved: the signal is there before berth's first instruction.
fn with_sigterm_pending(args: &[&str]) -> std::process::Output {
    const RAISE_THEN_EXEC: &str = "import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.kill(os.getpid(), signal.SIGTERM)
os.execv(sys.argv[1], sys.argv[1:])";
    as_pid1(&[pidns::PYTHON, "-c", RAISE_THEN_EXEC], args)
}

/// A stop signal that is already there when the wait ends (the last
/// dependency ready at once), when the pre-steps would start, or when CMD
/// would: 143, and neither step nor CMD runs. Before the rule lived in one
/// place, `run` started CMD (or the first step) and forwarded the signal
/// to it.
#[test]
fn a_stop_signal_before_cmd_starts_ends_berth_wherever_it_is() {
    let dir = temp_dir("pending-term");
    let ready = dir.join("ready");
    std::fs::File::create(&ready).unwrap();
    let ready_url = format!("file://{}", ready.display());
    let log = dir.join("log");
    let append = |word: &str| format!("sh -c 'echo {word} >> {}'", log.display());
    let cmd_text = format!("echo cmd >> {}", log.display());
    let cmd = ["sh", "-c", &cmd_text];
    let step = append("step");
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", "--"],
        vec!["run", "--wait", &ready_url, "--"],
        vec!["run", "--pre", &step, "--"],
        vec!["run", "--wait", &ready_url, "--pre", &step, "--"],
        vec!["wait", &ready_url, "--"],
    ];
    for mut args in cases {
        args.extend(cmd);
        for round in 0..5 {
            let out = with_sigterm_pending(&args);
            let err = text(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(143),
                "{args:?} round {round}: {err}"
            );
            assert!(err.contains("stopped by SIGTERM"), "{args:?}: {err}");
            assert_eq!(
                log_lines(&log),
                Vec::<String>::new(),
                "{args:?} round {round}"
            );
        }
    }
}

/// The window after the wait: the first pre-step sends SIGTERM to berth
/// (its parent, PID 1) and exits. Whether berth forwards it to the step
/// before the step exits (the step then dies of it) or finds it once the
/// step has ended, the second step and CMD never start: 143.
#[test]
fn sigterm_from_a_pre_step_stops_everything_after_it() {
    for round in 0..20 {
        let dir = temp_dir("step-sends-term");
        let log = dir.join("log");
        let append = |word: &str| format!("sh -c 'echo {word} >> {}'", log.display());
        let out = as_pid1(
            &[],
            &[
                "run",
                "--pre",
                &format!("sh -c 'echo first >> {}; kill -TERM 1'", log.display()),
                "--pre",
                &append("second"),
                "--",
                "sh",
                "-c",
                &format!("echo cmd >> {}", log.display()),
            ],
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(143), "round {round}: {err}");
        assert_eq!(log_lines(&log), vec!["first"], "round {round}: {err}");
    }
}
