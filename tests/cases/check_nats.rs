//! berth check nats, and nats:// and tls:// wait targets, against real
//! nats-server processes.

use std::time::Duration;

use super::check_postgres::check;
use crate::support::brokers::*;
use crate::support::*;

fn url(auth: &str, port: u16) -> String {
    format!("nats://{auth}127.0.0.1:{port}")
}

#[test]
fn user_and_password() {
    let n = nats(&["--user", NATS_USER, "--pass", NATS_PASSWORD]);
    let good = url(&format!("{NATS_USER}:{NATS_PASSWORD}@"), n.port);
    let run = check(&["nats", &good], &[]);
    run.healthy("PONG (nats-server 2.");
    run.no_secrets(&[NATS_PASSWORD]);
    assert!(
        run.stdout.contains("nats://natsapp:****@"),
        "{}",
        run.stdout
    );
    check(&[&good], &[]).healthy("PONG");
    check(
        &["nats", &url(&format!("{NATS_USER}:wrong-Nt5q@"), n.port)],
        &[],
    )
    .unhealthy(
        "authentication failed (Authorization Violation)",
        &["wrong-Nt5q"],
    );
    check(&["nats", &url("", n.port)], &[]).unhealthy(
        "authentication required (Authorization Violation): give user:password@ or token@",
        &[],
    );
    let mut cmd = berth();
    cmd.args(["wait", &good, "--timeout", "10s"]);
    let out = output_bounded(&mut cmd, Duration::from_secs(20));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains(NATS_PASSWORD));
}

#[test]
fn token() {
    let n = nats(&["--auth", NATS_TOKEN]);
    let run = check(&["nats", &url(&format!("{NATS_TOKEN}@"), n.port)], &[]);
    run.healthy("PONG");
    run.no_secrets(&[NATS_TOKEN]);
    assert!(
        run.stdout.contains("nats://****@127.0.0.1"),
        "{}",
        run.stdout
    );
    check(&["nats", &url("not-the-token@", n.port)], &[])
        .unhealthy("authentication failed", &["not-the-token", NATS_TOKEN]);
}

#[test]
fn tls_after_info() {
    let n = nats_tls(false);
    let ca = certs::certs().ca.display().to_string();
    let auth = format!("{NATS_USER}:{NATS_PASSWORD}@");
    let tls = format!("tls://{auth}localhost:{}", n.port);
    let run = check(&["nats", &tls, "--cacert", &ca], &[]);
    run.healthy("PONG");
    run.no_secrets(&[NATS_PASSWORD]);
    check(&["nats", &tls], &[]).unhealthy("certificate not trusted", &[NATS_PASSWORD]);
    check(&["nats", &format!("{tls}#cacert={ca}")], &[]).healthy("PONG");
    check(&["nats", &url(&auth, n.port)], &[])
        .unhealthy("the server requires TLS: use tls://", &[NATS_PASSWORD]);
    check(&["nats", &url(&auth, n.port), "--cacert", &ca], &[])
        .usage("use tls:// for TLS", &[NATS_PASSWORD]);
    // tls:// to a server without TLS.
    let plain = nats(&[]);
    check(
        &[
            "nats",
            &format!("tls://127.0.0.1:{}", plain.port),
            "--insecure",
        ],
        &[],
    )
    .unhealthy("the server offers no TLS", &[]);
}

#[test]
fn tls_with_client_certificates() {
    let n = nats_tls(true);
    let ca = certs::certs().ca.display().to_string();
    let (cert, key) = certs::pki().client("sec1");
    let tls = format!("tls://{NATS_USER}:{NATS_PASSWORD}@localhost:{}", n.port);
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let run = check(
        &[
            "nats", &tls, "--cacert", &ca, "--cert", &cert, "--key", &key,
        ],
        &[],
    );
    run.healthy("PONG");
    run.no_secrets(&[NATS_PASSWORD]);
    for line in certs::pki().key_lines() {
        run.no_secrets(&[&line]);
    }
    check(&["nats", &tls, "--cacert", &ca], &[])
        .unhealthy("the server requires a client certificate", &[NATS_PASSWORD]);
}

#[test]
fn peers_that_are_not_nats() {
    let secret = "nats-hostile-pw3";
    let at = |port: u16| url(&format!("u:{secret}@"), port);
    check(&["nats", &at(daemon::free_port())], &[]).unhealthy("connection refused", &[secret]);
    check(&["nats", &at(hostile::silent()), "--timeout", "500ms"], &[])
        .unhealthy("timed out waiting for INFO", &[secret]);
    check(&["nats", &at(hostile::closer())], &[]).unhealthy(
        "connection closed by the server before the reply",
        &[secret],
    );
    // A real server of another protocol: memcached speaks only when asked,
    // and then not NATS.
    let mc = memcached();
    check(&["nats", &at(mc), "--timeout", "500ms"], &[])
        .unhealthy("timed out waiting for INFO", &[secret]);
    let greets = hostile::serve(|mut s| {
        use std::io::Write;
        let _ = s.write_all(b"220 smtp.example ESMTP\r\n");
        std::thread::sleep(Duration::from_millis(300));
    });
    check(&["nats", &at(greets)], &[])
        .unhealthy("not a NATS server (it sent '220 smtp')", &[secret]);
}
