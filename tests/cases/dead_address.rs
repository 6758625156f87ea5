//! One dead address must not stall a check: a name with two addresses, the
//! first of which drops every packet (support::deadnet), the second a real
//! server. Bug: berth gave the whole --timeout to connect() on the first
//! address, so the live one was never tried and the check timed out
//! "while connecting".
//!
//! Each check must *succeed* within its --timeout: that is the point here,
//! so the timeouts are the ones a user would write, not stretched.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use crate::support::deadnet::{DeadNet, HOST};
use crate::support::http::Server;
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(30);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = output_bounded(cmd, LIMIT);
    Run {
        code: out.status.code(),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

fn assert_healthy(run: &Run, found: &str) {
    assert_eq!(
        run.code,
        Some(0),
        "expected healthy: {}{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains(": healthy, "), "{}", run.stdout);
    assert!(
        run.stdout.contains(found),
        "expected '{found}' in {}",
        run.stdout
    );
}

/// Bug 2 (tcp): `berth check tcp deadhost:PORT --timeout 3s` is healthy
/// through the second address.
#[test]
fn tcp_check_gets_past_a_dead_first_address() {
    let net = DeadNet::new();
    let listener = net.inside(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let port = listener.local_addr().unwrap().port();
    let run = run(net
        .berth()
        .args(["check", "tcp", &format!("{HOST}:{port}"), "--timeout", "3s"]));
    assert_healthy(&run, &format!("connected to 127.0.0.1:{port}"));
}

/// Bug 2 (http): `berth check http http://deadhost:PORT/ok --timeout 3s`
/// is healthy, and the server on the second address saw the request.
#[test]
fn http_check_gets_past_a_dead_first_address() {
    let net = DeadNet::new();
    let server = net.keep(Server::http);
    let url = format!("http://{HOST}:{}/ok", server.addr.port());
    let run = run(net.berth().args(["check", "http", &url, "--timeout", "3s"]));
    assert_healthy(&run, "HTTP 200");
    assert!(server.hit_count() >= 1, "the live server was never reached");
}

/// A redis-server inside the namespace, on 127.0.0.1 only; stopped when
/// the tests end.
fn redis_inside(net: &DeadNet) -> u16 {
    let port = net.inside(|| {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    });
    let mut cmd = net.command(crate::support::redis::SERVER);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
    ])
    .arg(&net.dir);
    daemon::spawn(cmd, libc::SIGTERM, &net.dir.join("redis.log"));
    let ready = wait_until(Duration::from_secs(20), || {
        let out = output_bounded(
            net.command("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "ping"]),
            Duration::from_secs(10),
        );
        text(&out.stdout).trim() == "PONG"
    });
    assert!(
        ready,
        "redis-server in the namespace not ready: {}",
        std::fs::read_to_string(net.dir.join("redis.log")).unwrap_or_default()
    );
    port
}

/// Bug 2 (redis): `berth check redis redis://deadhost:PORT --timeout 3s` is
/// healthy (PONG from the server on the second address).
#[test]
fn redis_check_gets_past_a_dead_first_address() {
    let net = DeadNet::new();
    let port = redis_inside(&net);
    let run = run(net.berth().args([
        "check",
        "redis",
        &format!("redis://{HOST}:{port}"),
        "--timeout",
        "3s",
    ]));
    assert_healthy(&run, "PONG");
}

/// Bug 2 (wait): `berth wait --timeout 5s tcp://deadhost:PORT` becomes
/// ready and runs CMD.
#[test]
fn wait_gets_past_a_dead_first_address() {
    let net = DeadNet::new();
    let listener = net.inside(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let port = listener.local_addr().unwrap().port();
    let run = run(net.berth().args([
        "wait",
        "--timeout",
        "5s",
        &format!("tcp://{HOST}:{port}"),
        "--",
        "echo",
        "started",
    ]));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "started\n", "{}", run.stderr);
}
