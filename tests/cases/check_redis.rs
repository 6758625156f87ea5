//! berth check redis, against real Redis servers.

use super::check_postgres::check;
use crate::support::redis::*;
use crate::support::*;

fn url(auth: &str, port: u16, path: &str) -> String {
    format!("redis://{auth}127.0.0.1:{port}{path}")
}

#[test]
fn pong_with_password() {
    let m = master();
    let run = check(&["redis", &url(&format!(":{PASSWORD}@"), m.port, "")], &[]);
    run.healthy("PONG");
    run.no_secrets(&[PASSWORD]);
    assert!(run.stdout.contains(":****@"), "{}", run.stdout);
    let v6 = format!("redis://:{PASSWORD}@[::1]:{}", m.port);
    check(&["redis", &v6], &[]).healthy("PONG");
    // No auth needed on the replica.
    check(&["redis", &url("", replica().port, "")], &[]).healthy("PONG");
}

#[test]
fn noauth_and_wrongpass() {
    let m = master();
    check(&["redis", &url("", m.port, "")], &[])
        .unhealthy("authentication required (NOAUTH)", &[PASSWORD]);
    check(&["redis", &url(":wrong-redis-pw@", m.port, "")], &[]).unhealthy(
        "authentication failed (WRONGPASS)",
        &["wrong-redis-pw", PASSWORD],
    );
    check(
        &[
            "redis",
            &url(&format!("{ACL_USER}:wrong-acl-pw@"), m.port, ""),
        ],
        &[],
    )
    .unhealthy("authentication failed (WRONGPASS)", &["wrong-acl-pw"]);
}

#[test]
fn acl_user() {
    let m = master();
    let run = check(
        &[
            "redis",
            &url(&format!("{ACL_USER}:{ACL_PASSWORD}@"), m.port, ""),
        ],
        &[],
    );
    run.healthy("PONG");
    run.no_secrets(&[ACL_PASSWORD]);
}

#[test]
fn password_from_the_environment() {
    let m = master();
    let plain = url("", m.port, "");
    check(&["redis", &plain], &[("REDISCLI_AUTH", PASSWORD)]).healthy("PONG");
    let dir = daemon::temp_dir("redis-auth");
    let file = dir.join("pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    check(
        &["redis", &plain],
        &[("REDISCLI_AUTH_FILE", file.to_str().unwrap())],
    )
    .healthy("PONG");
    check(
        &["redis", &plain],
        &[("REDISCLI_AUTH_FILE", "/nonexistent/auth")],
    )
    .usage("REDISCLI_AUTH_FILE: cannot read /nonexistent/auth", &[]);
    // The URL's password wins.
    check(
        &["redis", &url(&format!(":{PASSWORD}@"), m.port, "")],
        &[("REDISCLI_AUTH", "other")],
    )
    .healthy("PONG");
}

#[test]
fn database_index() {
    let m = master();
    let auth = format!(":{PASSWORD}@");
    check(&["redis", &url(&auth, m.port, "/3")], &[]).healthy("PONG");
    check(&["redis", &url(&auth, m.port, "/999")], &[])
        .unhealthy("SELECT failed: ERR DB index is out of range", &[PASSWORD]);
}

#[test]
fn tls() {
    let m = master();
    let ca = certs::certs().ca.to_str().unwrap();
    let tls_url = format!("rediss://:{PASSWORD}@localhost:{}", m.tls_port);
    check(&["redis", &tls_url, "--cacert", ca], &[]).healthy("PONG");
    check(&["redis", &tls_url, "--insecure"], &[]).healthy("PONG");
    check(
        &["redis", &tls_url],
        &[("SSL_CERT_FILE", certs::certs().other_ca.to_str().unwrap())],
    )
    .unhealthy(
        "TLS: certificate not trusted (use --cacert or --insecure)",
        &[PASSWORD],
    );
    let other = certs::certs().other_ca.to_str().unwrap();
    check(&["redis", &tls_url, "--cacert", other], &[]).unhealthy(
        "TLS: certificate not trusted (use --cacert or --insecure)",
        &[PASSWORD],
    );
    // TLS against the plain port.
    let wrong = format!("rediss://:{PASSWORD}@localhost:{}", m.port);
    let run = check(&["redis", &wrong, "--insecure", "--timeout", "1s"], &[]);
    run.unhealthy("TLS", &[PASSWORD]);
}

#[test]
fn role() {
    let m = master();
    let auth = format!(":{PASSWORD}@");
    check(&["redis", &url(&auth, m.port, ""), "--role", "master"], &[])
        .healthy("PONG, role master");
    check(
        &["redis", &url(&auth, m.port, ""), "--role", "replica"],
        &[],
    )
    .unhealthy("role is master, expected replica", &[PASSWORD]);
    let r = replica();
    check(&["redis", &url("", r.port, ""), "--role", "replica"], &[]).healthy("role replica");
    check(&["redis", &url("", r.port, ""), "--role", "master"], &[])
        .unhealthy("role is replica, expected master", &[]);
    // A user without ROLE: INFO replication tells.
    let limited = format!("{LIMITED_USER}:{LIMITED_PASSWORD}@");
    check(
        &["redis", &url(&limited, m.port, ""), "--role", "master"],
        &[],
    )
    .healthy("role master");
}

#[test]
fn masterdown() {
    let orphan = orphan_replica();
    check(&["redis", &url("", orphan.port, "")], &[]).unhealthy("MASTERDOWN", &[]);
}

#[test]
fn loading() {
    let server = crate::support::redis::loading();
    check(&["redis", &url("", server.port, "")], &[])
        .unhealthy("LOADING: dataset not loaded yet", &[]);
}

#[test]
fn usage_errors() {
    check(&["redis", "--role", "leader"], &[]).usage("--role 'leader'", &[]);
    check(&["redis", "redis://:pw-usage-4@h:notaport"], &[])
        .usage("redis URL: expected HOST or HOST:PORT", &["pw-usage-4"]);
    check(&["redis", "http://h:6379"], &[]).usage("http:// is not a Redis URL", &[]);
    check(
        &["redis", "rediss://h", "--cacert", "/nonexistent.pem"],
        &[],
    )
    .usage("/nonexistent.pem", &[]);
}

#[test]
fn hostile_peers() {
    let secret = "pw-hostile-r7";
    let url = |port: u16| format!("redis://:{secret}@127.0.0.1:{port}");
    let run = check(
        &["redis", &url(hostile::silent()), "--timeout", "500ms"],
        &[],
    );
    run.unhealthy("timed out waiting for the reply", &[secret]);
    check(&["redis", &url(hostile::garbage())], &[]).unhealthy("not a Redis server", &[secret]);
    check(&["redis", &url(hostile::closer())], &[]).unhealthy("not a Redis server", &[secret]);
    let pg = crate::support::postgres::primary().port;
    check(&["redis", &url(pg), "--timeout", "1s"], &[]).unhealthy("not a Redis server", &[secret]);
    let port = daemon::free_port();
    check(&["redis", &url(port)], &[]).unhealthy("connection refused", &[secret]);
    // TLS handshake against a silent peer is bounded too.
    let run = check(
        &[
            "redis",
            &format!("rediss://:{secret}@127.0.0.1:{}", hostile::silent()),
            "--insecure",
            "--timeout",
            "500ms",
        ],
        &[],
    );
    run.unhealthy("timed out during the TLS handshake", &[secret]);
}
