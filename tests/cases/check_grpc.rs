//! berth check grpc against real gRPC servers (Python's grpcio with the
//! standard health service, tests/support/grpc.rs): statuses, errors,
//! metadata, TLS, and grpc:// as a wait target.

use std::path::Path;
use std::time::Duration;

use super::check_http::{check, healthy, unhealthy, usage_error};
use crate::support::certs::{certs, pki};
use crate::support::grpc::{Kind, TOKEN, server};
use crate::support::*;

fn addr(kind: Kind) -> String {
    format!("127.0.0.1:{}", server(kind))
}

#[test]
fn serving_and_not_serving() {
    let a = addr(Kind::Plain);
    let run = check(&["grpc", &a]);
    healthy(&run, "SERVING");
    assert!(
        run.stdout
            .starts_with(&format!("grpc://{a}: healthy, SERVING (")),
        "{}",
        run.stdout
    );
    healthy(
        &check(&["grpc", &format!("grpc://{a}"), "--service", "app"]),
        "SERVING",
    );
    let run = check(&["grpc", &a, "--service", "down"]);
    unhealthy(&run, "status NOT_SERVING");
    assert!(run.stdout.contains("service 'down'"), "{}", run.stdout);
    unhealthy(
        &check(&["grpc", &a, "--service", "starting"]),
        "status UNKNOWN",
    );
    unhealthy(
        &check(&["grpc", &a, "--service", "nope"]),
        "gRPC NOT_FOUND: the health service does not know this service",
    );
    // IPv6, same server.
    healthy(
        &check(&["grpc", &format!("[::1]:{}", server(Kind::Plain))]),
        "SERVING",
    );
}

#[test]
fn grpc_errors_are_named() {
    unhealthy(
        &check(&["grpc", &addr(Kind::NoHealth)]),
        "gRPC UNIMPLEMENTED: the server does not implement grpc.health.v1",
    );
    let a = addr(Kind::Token);
    unhealthy(
        &check(&["grpc", &a]),
        "gRPC UNAUTHENTICATED: missing or wrong token",
    );
    healthy(
        &check(&[
            "grpc",
            &a,
            "--header",
            &format!("Authorization: Bearer {TOKEN}"),
        ]),
        "SERVING",
    );
}

#[test]
fn grpc_over_tls() {
    let c = certs();
    let a = addr(Kind::Tls);
    let ca = c.ca.to_str().unwrap();
    healthy(
        &check(&["grpc", &format!("grpcs://{a}"), "--cacert", ca]),
        "SERVING",
    );
    healthy(
        &check(&[
            "grpc",
            &format!("grpcs://localhost:{}", server(Kind::Tls)),
            "--cacert",
            ca,
        ]),
        "SERVING",
    );
    unhealthy(
        &check(&["grpc", &format!("grpcs://{a}")]),
        "certificate not trusted (use --cacert or --insecure)",
    );
    healthy(
        &check(&["grpc", &format!("grpcs://{a}"), "--insecure"]),
        "SERVING",
    );
    // Plain gRPC to a TLS port, and TLS to a plain one.
    unhealthy(
        &check(&["grpc", &a]),
        "connection closed by the server before the reply (if it serves TLS, use grpcs://)",
    );
    unhealthy(
        &check(&[
            "grpc",
            &format!("grpcs://{}", addr(Kind::Plain)),
            "--insecure",
        ]),
        "TLS handshake failed",
    );
}

#[test]
fn grpc_tls_server_requiring_a_client_certificate() {
    let c = certs();
    let pki = pki();
    let url = format!("grpcs://localhost:{}", server(Kind::MutualTls));
    let ca = c.ca.to_str().unwrap();
    unhealthy(
        &check(&["grpc", &url, "--cacert", ca]),
        "TLS: the server requires a client certificate (use --cert and --key)",
    );
    let with_cert = |cert: &Path, key: &Path| {
        check(&[
            "grpc",
            &url,
            "--cacert",
            ca,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
    };
    for (label, cert, key) in &pki.clients {
        let run = with_cert(cert, key);
        assert_eq!(run.code, 0, "{label}: {}{}", run.stdout, run.stderr);
        healthy(&run, "SERVING");
    }
    // A certificate from a CA the server does not trust.
    let run = with_cert(&pki.stranger.0, &pki.stranger.1);
    // (grpcio's BoringSSL hangs up without a TLS alert, so berth can only
    // suspect the certificate.)
    unhealthy(&run, "rejected the client certificate");
    // The same settings in a wait URL's fragment.
    let (cert, key) = pki.client("pkcs8");
    let target = format!(
        "{url}#cacert={ca}&cert={}&key={}",
        cert.display(),
        key.display()
    );
    let out = output_bounded(
        berth().args(["wait", "--timeout", "20s", &target]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn grpc_failures_before_the_call() {
    let port = crate::support::daemon::free_port();
    unhealthy(
        &check(&["grpc", &format!("127.0.0.1:{port}")]),
        "connection refused",
    );
    // An HTTP/1.1 server on the port.
    let http = crate::support::http::Server::http();
    unhealthy(
        &check(&["grpc", &http.addr.to_string()]),
        "not an HTTP/2 server",
    );
    // A server that accepts and never answers: the timeout names the phase.
    let silent = crate::support::http::Server::hostile(crate::support::http::Behaviour::Silent);
    unhealthy(
        &check(&["grpc", &silent.addr.to_string(), "--timeout", "300ms"]),
        "timed out waiting for the reply",
    );
}

#[test]
fn grpc_usage_errors() {
    usage_error(&check(&["grpc", "api"]), "no port");
    usage_error(
        &check(&["grpc", "http://api:80"]),
        "http:// is not for this check: use grpc://, grpcs://",
    );
    usage_error(
        &check(&["grpc", "api:50051", "--insecure"]),
        "--insecure: TLS settings, but grpc:// is plain text: use grpcs:// for TLS",
    );
    usage_error(
        &check(&["grpc", "api:50051", "--header", "grpc-timeout: 1S"]),
        "reserved",
    );
}

#[test]
fn wait_for_grpc_targets() {
    let plain = format!("grpc://{}?service=app", addr(Kind::Plain));
    let tls = format!("grpcs://localhost:{}", server(Kind::Tls));
    let out = output_bounded(
        berth()
            .env("SSL_CERT_FILE", certs().ca.to_str().unwrap())
            .args(["wait", "--timeout", "20s", &plain, &tls]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let down = format!("grpc://{}?service=down", addr(Kind::Plain));
    let out = output_bounded(
        berth().args(["wait", "--timeout", "300ms", &down]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(124));
    assert!(
        text(&out.stderr).contains("status NOT_SERVING"),
        "{}",
        text(&out.stderr)
    );
}
