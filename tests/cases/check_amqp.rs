//! berth check amqp, and amqp:// wait targets, against a real RabbitMQ.
//!
//! One node serves every case that needs it (booting one takes seconds),
//! so they run in order in one test, the memory alarm last.

use std::time::Duration;

use super::check_postgres::check;
use crate::support::brokers::*;
use crate::support::*;

fn url(auth: &str, port: u16, vhost: &str) -> String {
    format!("amqp://{auth}127.0.0.1:{port}{vhost}")
}

/// `berth wait URL --timeout DUR`: exit code and output.
fn wait(url: &str, timeout: &str) -> (Option<i32>, String) {
    let mut cmd = berth();
    cmd.args(["wait", url, "--timeout", timeout]);
    let out = output_bounded(&mut cmd, Duration::from_secs(30));
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn against_rabbitmq() {
    let r = rabbit();
    let secrets = [AMQP_PASSWORD, AMQP_NOBODY_PASSWORD];
    let app = format!("{AMQP_USER}:{AMQP_PASSWORD}@");

    // Healthy: guest (no user info) on "/", the app user on its vhost.
    check(&["amqp", &url("", r.port, "")], &[])
        .healthy("connection opened on vhost '/' (RabbitMQ 3.");
    let run = check(&["amqp", &url(&app, r.port, "/prod")], &[]);
    run.healthy("connection opened on vhost 'prod'");
    run.no_secrets(&secrets);
    assert!(run.stdout.contains("amqp://app:****@"), "{}", run.stdout);
    // The scheme alone picks the check.
    check(&[&url(&app, r.port, "/prod")], &[]).healthy("vhost 'prod'");

    // Refused login, missing vhost, a vhost the user may not open.
    check(
        &[
            "amqp",
            &url(&format!("{AMQP_USER}:wrong-Rb7x@"), r.port, "/prod"),
        ],
        &[],
    )
    .unhealthy("login refused: 403 ACCESS_REFUSED", &["wrong-Rb7x"]);
    check(&["amqp", &url(&app, r.port, "/nope")], &[]).unhealthy(
        "vhost 'nope' not opened: 530 NOT_ALLOWED - vhost nope not found",
        &secrets,
    );
    let nobody = format!("{AMQP_NOBODY}:{AMQP_NOBODY_PASSWORD}@");
    check(&["amqp", &url(&nobody, r.port, "/prod")], &[])
        .unhealthy("vhost 'prod' not opened: 530 NOT_ALLOWED", &secrets);

    // TLS: verified with the test CA; refused without it; plain AMQP on
    // the TLS port is named.
    let ca = certs::certs().ca.display().to_string();
    let tls = format!("amqps://{app}localhost:{}/prod", r.tls_port);
    let run = check(&["amqp", &tls, "--cacert", &ca], &[]);
    run.healthy("connection opened on vhost 'prod'");
    run.no_secrets(&secrets);
    check(&["amqp", &tls], &[]).unhealthy("certificate not trusted", &secrets);
    check(&["amqp", &url(&app, r.tls_port, "/prod")], &[])
        .unhealthy("the server speaks TLS on this port: use amqps://", &secrets);
    check(&["amqp", &url("", r.port, ""), "--insecure"], &[]).usage("use amqps:// for TLS", &[]);

    // A wait target, TLS settings in the fragment.
    let (code, out) = wait(&format!("{tls}#cacert={ca}"), "20s");
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains(AMQP_PASSWORD), "{out}");

    // A memory alarm: RabbitMQ blocks publishers and says so to a client
    // that advertises connection.blocked.
    r.ctl(&["-q", "set_vm_memory_high_watermark", "0.0000001"]);
    let blocked = poll_every(Duration::from_secs(20), Duration::from_millis(200), || {
        check(&["amqp", &url(&app, r.port, "/prod")], &[])
            .stdout
            .contains("broker blocked: low on memory")
    });
    assert!(blocked, "never reported blocked");
    check(&["amqp", &url(&app, r.port, "/prod")], &[])
        .unhealthy("broker blocked: low on memory", &secrets);
    let (code, out) = wait(&url(&app, r.port, "/prod"), "1s");
    assert_eq!(code, Some(124), "{out}");
    assert!(out.contains("broker blocked"), "{out}");
    r.ctl(&["-q", "set_vm_memory_high_watermark", "0.6"]);
    let cleared = poll_every(Duration::from_secs(20), Duration::from_millis(200), || {
        check(&["amqp", &url(&app, r.port, "/prod")], &[]).code == Some(0)
    });
    assert!(cleared, "still unhealthy after the alarm cleared");
}

#[test]
fn peers_that_are_not_rabbitmq() {
    let secret = "amqp-hostile-pw9";
    let at = |port: u16| format!("amqp://u:{secret}@127.0.0.1:{port}/");
    let port = daemon::free_port();
    check(&["amqp", &at(port)], &[]).unhealthy("connection refused", &[secret]);
    check(&["amqp", &at(hostile::silent()), "--timeout", "500ms"], &[])
        .unhealthy("timed out waiting for connection.start", &[secret]);
    check(&["amqp", &at(hostile::closer())], &[]).unhealthy("connection closed", &[secret]);
    check(&["amqp", &at(hostile::garbage())], &[])
        .unhealthy("not an AMQP server (it sent 'HTTP/1.", &[secret]);
    // An AMQP 1.0 broker answers the 0-9-1 header with its own.
    let amqp10 = hostile::serve(|mut s| {
        use std::io::{Read, Write};
        let mut header = [0; 8];
        if s.read_exact(&mut header).is_ok() {
            let _ = s.write_all(b"AMQP\x00\x01\x00\x00");
        }
    });
    check(&["amqp", &at(amqp10)], &[]).unhealthy("speaks AMQP 1.0, not 0-9-1", &[secret]);
    // A broker that hangs up after the login (RabbitMQ does, to a client
    // that does not advertise authentication_failure_close).
    let hangs_up = hostile::serve(|mut s| {
        use std::io::{Read, Write};
        let mut buf = [0; 4096];
        if s.read_exact(&mut buf[..8]).is_ok() {
            let _ = s.write_all(&connection_start());
            let _ = s.read(&mut buf);
        }
    });
    check(&["amqp", &at(hangs_up)], &[]).unhealthy(
        "login refused? (the broker hung up after the login)",
        &[secret],
    );
    // A real server of another protocol on the port.
    let nats = nats(&[]);
    check(&["amqp", &at(nats.port)], &[]).unhealthy("not an AMQP server", &[secret]);
    // TLS against a silent peer is bounded too.
    check(
        &[
            "amqp",
            &format!("amqps://u:{secret}@127.0.0.1:{}", hostile::silent()),
            "--insecure",
            "--timeout",
            "500ms",
        ],
        &[],
    )
    .unhealthy("timed out during the TLS handshake", &[secret]);
}

/// A connection.start frame as RabbitMQ sends it (product, version, PLAIN).
fn connection_start() -> Vec<u8> {
    let mut props = Vec::new();
    for (k, v) in [("product", "RabbitMQ"), ("version", "3.10.8")] {
        props.push(k.len() as u8);
        props.extend(k.as_bytes());
        props.push(b'S');
        props.extend((v.len() as u32).to_be_bytes());
        props.extend(v.as_bytes());
    }
    let mut payload = vec![0, 10, 0, 10, 0, 9];
    for field in [&props[..], b"PLAIN AMQPLAIN", b"en_US"] {
        payload.extend((field.len() as u32).to_be_bytes());
        payload.extend(field);
    }
    let mut frame = vec![1, 0, 0];
    frame.extend((payload.len() as u32).to_be_bytes());
    frame.extend(payload);
    frame.push(0xCE);
    frame
}
