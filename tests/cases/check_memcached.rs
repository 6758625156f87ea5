//! berth check memcached, and memcached:// wait targets, against a real
//! memcached.

use std::time::Duration;

use super::check_postgres::check;
use crate::support::brokers::*;
use crate::support::*;

#[test]
fn version_answered() {
    let port = memcached();
    check(&["memcached", &format!("127.0.0.1:{port}")], &[]).healthy("VERSION 1.");
    check(
        &["memcached", &format!("memcached://127.0.0.1:{port}")],
        &[],
    )
    .healthy("VERSION");
    check(&[&format!("memcached://127.0.0.1:{port}")], &[]).healthy("VERSION");
    let mut cmd = berth();
    cmd.args([
        "wait",
        &format!("memcached://127.0.0.1:{port}"),
        "--timeout",
        "10s",
    ]);
    let out = output_bounded(&mut cmd, Duration::from_secs(20));
    assert!(out.status.success(), "{}", text(&out.stderr));
    check(&["memcached", "memcached://u:pw-mc1@127.0.0.1:11211"], &[])
        .usage("the text protocol has no login", &["pw-mc1"]);
}

#[test]
fn peers_that_are_not_memcached() {
    check(
        &["memcached", &format!("127.0.0.1:{}", daemon::free_port())],
        &[],
    )
    .unhealthy("connection refused", &[]);
    check(
        &[
            "memcached",
            &format!("127.0.0.1:{}", hostile::silent()),
            "--timeout",
            "500ms",
        ],
        &[],
    )
    .unhealthy("timed out waiting for the reply", &[]);
    check(
        &["memcached", &format!("127.0.0.1:{}", hostile::garbage())],
        &[],
    )
    .unhealthy("not a memcached server (it answered 'HTTP/1.1')", &[]);
    // A real server of another protocol on the port.
    let n = nats(&[]);
    check(&["memcached", &format!("127.0.0.1:{}", n.port)], &[])
        .unhealthy("not a memcached server (it answered 'INFO {", &[]);
}
