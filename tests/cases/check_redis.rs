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
    check(&["redis", "http://h:6379"], &[]).usage(
        "http:// is not for this check: use redis://, rediss://, valkey://, valkeys://",
        &[],
    );
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

/// Bug 1 (passwords printed): `redis://PASSWORD@host` is redis-cli's form,
/// a bare user info being the password. `berth check redis` must send AUTH
/// with it (healthy against `requirepass`) and print it nowhere; the same
/// URL as a `berth wait` target becomes ready, printing it nowhere.
#[test]
fn bare_userinfo_is_the_password() {
    let m = master();
    let bare = url(&format!("{PASSWORD}@"), m.port, "");
    let run = check(&["redis", &bare], &[]);
    run.no_secrets(&[PASSWORD]);
    run.healthy("PONG");
    let out = output_bounded(
        berth().args(["wait", "-v", "--timeout", "10s", &bare]),
        std::time::Duration::from_secs(20),
    );
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !text(stream).contains(PASSWORD),
            "password leaked: {}",
            text(stream)
        );
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Bug 3 (rules that disagree): `valkey://` is a Redis URL everywhere:
/// `berth check redis`, `berth wait` and `berth check URL`.
#[test]
fn valkey_scheme_everywhere() {
    let m = master();
    let valkey = format!("valkey://:{PASSWORD}@127.0.0.1:{}", m.port);
    check(&["redis", &valkey], &[]).healthy("PONG");
    let out = output_bounded(
        berth().args(["wait", "--timeout", "10s", &valkey]),
        std::time::Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "berth wait valkey://: {}",
        text(&out.stderr)
    );
    let run = check(&[&valkey], &[]);
    run.no_secrets(&[PASSWORD]);
    run.healthy("PONG");
}

/// Bug 3: a TLS flag with a plain scheme is a mistake to report, not to
/// ignore: `check redis --cacert FILE redis://...` fails (exit 1) naming
/// rediss://, as `check grpc --cacert FILE grpc://...` names grpcs://.
#[test]
fn tls_flags_with_a_plain_scheme_are_refused() {
    let m = master();
    let ca = certs::certs().ca.to_str().unwrap();
    let run = check(&["grpc", "--cacert", ca, "grpc://127.0.0.1:50051"], &[]);
    run.usage("grpcs://", &[]);
    let plain = url(&format!(":{PASSWORD}@"), m.port, "");
    let run = check(&["redis", "--cacert", ca, &plain], &[]);
    run.no_secrets(&[PASSWORD]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("rediss://"),
        "expected a message naming rediss://: {}{}",
        run.stdout,
        run.stderr
    );
}

/// Bug 3: the whole deadline bounds the reads. A peer that sends "+PONG"
/// one byte every 500 ms never lets a single read wait long; the check must
/// still end unhealthy, "timed out", once its 1 s are spent.
#[test]
fn a_reply_dripped_byte_by_byte_times_out() {
    use std::time::Duration;
    let drip = hostile::Drip::start(b"+PONG\r\n", Duration::from_millis(500));
    let out = output_bounded(
        berth().args([
            "check",
            "redis",
            &format!("redis://127.0.0.1:{}", drip.port),
            "--timeout",
            "1s",
        ]),
        Duration::from_secs(1) + margin(Duration::from_secs(3)),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(": unhealthy, timed out"), "{stdout}");
}

/// Bug 3: the same, seen from the server while `berth wait` retries: each
/// attempt (3 s, the check's default) must let go of its connection when
/// its deadline passes, not read on after it (a thread left reading, with
/// its socket, for as long as the peer keeps dripping).
#[test]
fn wait_attempts_let_go_of_a_dripping_peer_at_their_deadline() {
    use std::time::Duration;
    // "+PONG\r\n" at one byte per 2 s takes 14 s: far past an attempt.
    let drip = hostile::Drip::start(b"+PONG\r\n", Duration::from_secs(2));
    let mut child = berth()
        .args([
            "wait",
            "--timeout",
            "30s",
            &format!("redis://127.0.0.1:{}", drip.port),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let accepted = wait_until(Duration::from_secs(10), || !drip.conns().is_empty());
    let bound = Duration::from_secs(3) + margin(Duration::from_secs(3));
    let closed = accepted && wait_until(bound, || drip.conns()[0].closed.is_some());
    let _ = child.kill();
    let _ = wait_bounded(&mut child, Duration::from_secs(10));
    assert!(accepted, "berth never connected");
    let seen: Vec<String> = drip
        .conns()
        .iter()
        .map(|c| match c.closed {
            Some(t) => format!("closed after {:?}", t - c.accepted),
            None => format!("open for {:?}", c.accepted.elapsed()),
        })
        .collect();
    assert!(
        closed,
        "the first attempt still held its connection {bound:?} after it began \
         (connections, until berth was killed: {seen:?})"
    );
}
