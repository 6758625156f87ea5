//! Faults and floods, with real processes: signal storms at PID 1, a DNS
//! server that never answers or answers garbage, peers that reset the
//! connection mid-exchange, replies that never end, hundreds of checks at
//! once, SIGTERM while waiting for the pre-start lock, berth without file
//! descriptors or under a pids limit, and CMD killed by the OOM killer in a
//! memory-limited container.
//!
//! No timing thresholds here: every run has a kill deadline, and the
//! assertions are about verdicts, reasons and exit codes. Peak memory under
//! endless replies is measured in bench/floods.sh.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::faults::{endless, resets_after};
use crate::support::http::Server;
use crate::support::pidns::{PYTHON, Pid1, fixture, log_lines, temp_dir};
use crate::support::postgres::{APP_PASSWORD, APP_USER, primary};
use crate::support::*;

/// The kill deadline of one berth run: far beyond what any of them needs,
/// so a hang fails the test instead of a slow machine.
const LIMIT: Duration = Duration::from_secs(60);

fn wait_ready(log: &Path) {
    assert!(
        wait_until(Duration::from_secs(20), || log_lines(log)
            .iter()
            .any(|l| l == "ready")),
        "fixture never became ready"
    );
}

/// `berth check ARGS...`: exit code and the report line.
fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let out = output_bounded(berth().arg("check").args(args), LIMIT);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn real_time_signal_storm_reaches_cmd_one_for_one() {
    let dir = temp_dir("rt-storm");
    let log = dir.join("log");
    let (rec, log_s) = (fixture("sigrecord.py"), log.to_string_lossy().into_owned());
    let berth = Pid1::start(&["run", "--", PYTHON, &rec, &log_s, "15"]);
    wait_ready(&log);
    // Real-time signals queue: each of these thousands must arrive once,
    // none merged, none lost, whatever their order.
    let signals: Vec<i32> = (34..=64).collect();
    const ROUNDS: usize = 100;
    for _ in 0..ROUNDS {
        for &s in &signals {
            berth.signal(s);
        }
    }
    let sent = ROUNDS * signals.len();
    let counted = || {
        log_lines(&log)
            .iter()
            .filter(|l| l.parse::<i32>().is_ok_and(|n| n >= 34))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(60), || counted() >= sent),
        "CMD saw {} of {sent} real-time signals",
        counted()
    );
    berth.signal(libc::SIGTERM);
    let (code, err) = berth.finish(LIMIT);
    assert_eq!(code, Some(0), "stderr: {err}");
    let lines = log_lines(&log);
    for s in signals {
        let n = lines.iter().filter(|l| **l == s.to_string()).count();
        assert_eq!(n, ROUNDS, "signal {s} arrived {n} times, sent {ROUNDS}");
    }
}

#[test]
fn signal_flood_while_cmd_exits_never_hangs_the_reaper() {
    // CMD ignores the flood's signals, counts to a few thousand and exits 7;
    // meanwhile signals pour in without pause, before, while and after CMD
    // exits. berth must pass on 7 and end, not spin or wait forever.
    for round in 0..5 {
        let ready = temp_dir(&format!("flood-{round}")).join("ready");
        let script = format!(
            "trap '' HUP USR1 USR2 ALRM WINCH; touch {}; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 7",
            ready.display()
        );
        let berth = Pid1::start(&["run", "--", "sh", "-c", &script]);
        // The flood starts once CMD ignores its signals (before that, the
        // default action of SIGHUP would end CMD with 129: right, but not
        // what this test is about).
        assert!(
            wait_until(Duration::from_secs(20), || ready.exists()),
            "CMD never started"
        );
        let pid = berth.outer_pid;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flood = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut sent = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 5_000_000 {
                    for s in [
                        libc::SIGHUP,
                        libc::SIGUSR1,
                        libc::SIGUSR2,
                        libc::SIGALRM,
                        28,
                    ] {
                        // SAFETY: kill has no memory arguments. ESRCH once
                        // berth is gone is expected.
                        unsafe { libc::kill(pid, s) };
                        sent += 1;
                    }
                }
                sent
            })
        };
        let (code, err) = berth.finish(LIMIT);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = flood.join().unwrap();
        assert_eq!(code, Some(7), "round {round}, {sent} signals sent: {err}");
    }
}

/// `berth check tcp` on a name only a DNS server can resolve, in a network
/// namespace of its own whose /etc/resolv.conf names `dns.py MODE`.
fn check_with_resolver(mode: &str) -> (Option<i32>, String, String) {
    let dir = temp_dir(&format!("dns-{mode}"));
    let resolv = dir.join("resolv.conf");
    // musl's defaults: it gives up after 5 s, berth's --timeout comes first.
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
    let ready = dir.join("ready");
    let script = format!(
        "ip link set lo up && mount --bind {resolv} /etc/resolv.conf || exit 90
        {PYTHON} {dns} {mode} {ready} & server=$!
        i=0; while [ ! -e {ready} ] && [ $i -lt 400 ]; do i=$((i+1)); sleep 0.05; done
        [ -e {ready} ] || exit 91
        {berth} check tcp db.berth-test.invalid:5432 --timeout 2s; code=$?
        kill $server; exit $code",
        resolv = resolv.display(),
        ready = ready.display(),
        dns = fixture("dns.py"),
        berth = berth_path(),
    );
    let out = output_bounded(
        Command::new("unshare").args(["--net", "--mount", "sh", "-c", &script]),
        LIMIT,
    );
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn dns_server_that_never_answers_ends_at_the_timeout() {
    let (code, out, err) = check_with_resolver("silent");
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("unhealthy, timed out while resolving the name"),
        "{out}{err}"
    );
}

#[test]
fn dns_server_that_answers_garbage_is_a_resolution_failure() {
    let (code, out, err) = check_with_resolver("garbage");
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("unhealthy, name resolution failed for db.berth-test.invalid")
            || out.contains("unhealthy, timed out while resolving the name"),
        "{out}{err}"
    );
}

#[test]
fn peers_that_reset_mid_exchange_are_unhealthy_with_a_reason() {
    let http = resets_after(b"HTTP/1.1 200 OK\r\nContent-Le");
    let redis = resets_after(b"+PO");
    // An authentication request cut short.
    let postgres = resets_after(b"R\0\0\0");
    // A frame header cut short; a version line cut short.
    let amqp = resets_after(b"\x01\0\0\0\0\x01");
    let memcached = resets_after(b"VERS");
    let cases = [
        vec!["amqp".into(), format!("amqp://app:pw@127.0.0.1:{amqp}/")],
        vec!["memcached".into(), format!("127.0.0.1:{memcached}")],
        vec!["http".to_string(), format!("http://127.0.0.1:{http}/")],
        vec!["redis".into(), format!("redis://127.0.0.1:{redis}")],
        vec![
            "postgres".into(),
            format!("postgres://app:pw@127.0.0.1:{postgres}/app?sslmode=disable"),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = check(&[&args[..], &["--timeout", "20s"][..]].concat());
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        // Whether the partial reply was read before the reset came is up to
        // the scheduler; the reason names the closed connection either way.
        assert!(
            out.contains("connection reset") || out.contains("connection closed"),
            "{args:?}: {out}{err}"
        );
        assert!(!out.contains(":pw@"), "{out}");
    }
    // TCP proves only that the port accepts: a reset after that is healthy.
    let tcp = resets_after(b"");
    let (code, out, err) = check(&["tcp", &format!("127.0.0.1:{tcp}")]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn replies_that_never_end_end_at_the_timeout() {
    let forever = Duration::from_secs(120);
    let body = endless(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
        &[b'a'; 4096],
        forever,
    );
    let headers = endless(
        b"HTTP/1.1 200 OK\r\n",
        b"X-Filler: aaaaaaaaaaaaaaaa\r\n",
        forever,
    );
    let length = endless(
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
        &[b'a'; 4096],
        forever,
    );
    for (port, extra) in [
        (body, vec!["--contains", "needle"]),
        (headers, vec![]),
        (length, vec!["--contains", "needle"]),
    ] {
        let url = format!("http://127.0.0.1:{port}/");
        let mut args = vec!["http", &url, "--timeout", "2s"];
        args.extend(extra);
        let (code, out, err) = check(&args);
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("unhealthy"), "{args:?}: {out}{err}");
    }
}

#[test]
fn hundreds_of_checks_at_once_all_get_the_right_verdict() {
    let server = Server::http();
    const N: usize = 200;
    let spawn = |path: &str| -> Child {
        berth()
            // A generous timeout: the verdict is what this test is about,
            // not how a loaded machine schedules 400 processes.
            .args([
                "check",
                "http",
                &server.url("http", "", path),
                "--timeout",
                "50s",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut children: Vec<(Child, i32)> = Vec::new();
    for _ in 0..N {
        children.push((spawn("/ok"), 0));
        children.push((spawn("/status/503"), 1));
    }
    for (mut child, want) in children {
        let status = wait_bounded(&mut child, LIMIT);
        let mut out = String::new();
        let _ = child.stdout.take().unwrap().read_to_string(&mut out);
        assert_eq!(status.code(), Some(want), "{out}");
    }
    assert_eq!(server.hit_count(), 2 * N);
}

#[test]
fn sigterm_while_waiting_for_the_pre_lock_as_pid1_ends_at_once() {
    let dir = temp_dir("pre-lock-term");
    let (a_ready, b_ran) = (dir.join("a-ready"), dir.join("b-ran"));
    let url = primary().url(APP_USER, APP_PASSWORD, "app");
    let name = "term-test";
    // The holder: its step signals it holds the lock and sleeps until told.
    let mut holder = berth()
        .args(["run", "--pre-lock", &url, "--pre-lock-name", name, "--pre"])
        .arg(format!(
            "sh -c 'touch {}; exec sleep 600'",
            a_ready.display()
        ))
        .args(["--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || a_ready.exists()),
        "the holder never ran its step"
    );

    let mut waiter = Pid1::start(&[
        "run",
        "--pre-lock",
        &url,
        "--pre-lock-name",
        name,
        "--pre",
        &format!("touch {}", b_ran.display()),
        "--",
        "true",
    ]);
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = waiter.unshare.stderr.take().unwrap();
    let copy = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0; 1024];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            copy.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    assert!(
        wait_until(Duration::from_secs(30), || stderr
            .lock()
            .unwrap()
            .contains("waiting for the pre-start lock")),
        "never waited for the lock: {}",
        stderr.lock().unwrap()
    );
    waiter.signal(libc::SIGTERM);
    let (code, _) = waiter.finish(LIMIT);
    // It ended while the lock was still held (the holder still runs), by
    // the signal, and its step never ran.
    assert_eq!(code, Some(143), "{}", stderr.lock().unwrap());
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the holder ended first"
    );
    assert!(!b_ran.exists(), "the step ran");

    // SIGTERM to the holder reaches its step; then it ends too.
    // SAFETY: kill has no memory arguments.
    unsafe { libc::kill(holder.id() as i32, libc::SIGTERM) };
    let status = wait_bounded(&mut holder, LIMIT);
    assert_eq!(status.code(), Some(143));
}

#[test]
fn no_file_descriptors_left_is_one_clear_line() {
    let server = Server::http();
    let url = server.url("http", "", "/ok");
    // stdin, stdout and stderr take the only three descriptors allowed.
    for (cmd, want) in [
        (format!("check http {url}"), 1),
        (format!("wait {url} -- true"), 125),
        ("run -- true".to_string(), 125),
    ] {
        let out = output_bounded(
            Command::new("sh").args(["-c", &format!("ulimit -n 3 && exec {} {cmd}", berth_path())]),
            LIMIT,
        );
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(want), "{cmd}: {all}");
        assert_eq!(all.lines().count(), 1, "{cmd}: {all}");
        assert!(!all.contains("panicked"), "{cmd}: {all}");
    }
}

#[test]
fn pids_limit_reached_while_cmd_forks() {
    // A pids cgroup (v1 or v2) of our own that allows a few processes; CMD
    // forks until the kernel says no, then exits 7. berth must survive,
    // clean up the children, and pass on 7.
    let name = format!("berth-test-{}", std::process::id());
    let cgroup = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        .iter()
        .map(|root| Path::new(root).join(&name))
        .find(|dir| {
            std::fs::create_dir(dir).is_ok() && std::fs::write(dir.join("pids.max"), "12").is_ok()
        })
        .expect("a pids cgroup (root needed)");
    let forker = "import os, sys, time
n = 0
while n < 100:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    n += 1
print('forked', n, flush=True)
sys.exit(7 if 0 < n < 100 else 1)";
    let out = output_bounded(
        Command::new("sh").args([
            "-c",
            &format!(
                "echo $$ > {procs} && exec {berth} run --grace 1s -- {PYTHON} -c \"$0\"",
                procs = cgroup.join("cgroup.procs").display(),
                berth = berth_path(),
            ),
            forker,
        ]),
        LIMIT,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(7), "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Every process of the group is gone once berth is.
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::remove_dir(&cgroup)
            .is_ok()),
        "processes left in {}",
        cgroup.display()
    );
}

#[test]
fn cmd_killed_by_the_oom_killer_is_137_and_berth_survives() {
    // A container limited to 48 MiB (no swap) whose CMD, busybox dd with a
    // 256 MiB buffer, fills memory: the kernel's OOM killer picks it, the
    // largest process, and berth (PID 1, 72 kB) reports it and exits 137.
    let Some(mut d) = crate::support::docker::Docker::new() else {
        return;
    };
    let base = d.base_image();
    let name = d.container("oom");
    let out = d.try_run(&[
        "run",
        "--name",
        &name,
        "--memory",
        "48m",
        "--memory-swap",
        "48m",
        &base,
        "/berth",
        "run",
        "-v",
        "--",
        "/bin/busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=256M",
        "count=1",
    ]);
    let logs = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(137), "{logs}");
    // Docker's flag, with the whole state beside it should it ever disagree
    // with the exit status (moby has reported it unreliable).
    assert_eq!(
        d.inspect(&name, "{{.State.OOMKilled}}"),
        "true",
        "{logs}\nstate: {}",
        d.inspect(&name, "{{json .State}}")
    );
    // berth itself lived on to say how CMD ended.
    assert!(
        logs.contains("berth: CMD ended: killed by SIGKILL"),
        "{logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
}
