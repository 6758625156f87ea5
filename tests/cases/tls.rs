//! TLS as people set it up, against real servers: certificates made with
//! the openssl command (every common server key, a self-signed `req -x509`
//! certificate, client keys in each PEM shape), an HTTPS server and a Redis
//! that require client certificates, PostgreSQL `cert` logins, and
//! `berth wait` with TLS targets. Every run asserts that no private key
//! line and no password appears in any output.

use std::path::Path;
use std::time::Duration;

use super::check_postgres::{Run, check};
use crate::support::certs::{CLIENT_CN, certs, chain, pki};
use crate::support::http::{Behaviour, Server, tls_config_for};
use crate::support::postgres::primary;
use crate::support::redis::{PASSWORD, tls_strict, tls12_strict};
use crate::support::*;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// No private key and no password in anything berth printed.
fn clean(run: Run) -> Run {
    for line in pki().key_lines() {
        assert!(
            !run.stdout.contains(&line) && !run.stderr.contains(&line),
            "key material in output: {}{}",
            run.stdout,
            run.stderr
        );
    }
    run.no_secrets(&[PASSWORD]);
    run
}

fn tls_check(args: &[&str]) -> Run {
    clean(check(args, &[]))
}

/// An HTTPS server on 127.0.0.1 with this certificate, requiring a client
/// certificate from the test CA when `mtls`.
fn https(cert: &Path, key: &Path, mtls: bool) -> Server {
    let client_ca = mtls.then(|| pki().client_ca.as_path());
    Server::start(
        "127.0.0.1:0",
        Behaviour::Normal,
        Some(tls_config_for(cert, key, client_ca)),
    )
}

fn localhost(s: &Server) -> String {
    format!("https://localhost:{}/ok", s.addr.port())
}

#[test]
fn every_common_server_key_verifies() {
    let ca = p(&certs().ca);
    for (label, cert, key) in &pki().servers {
        let s = https(cert, key, false);
        let run = tls_check(&["http", "--cacert", ca, &localhost(&s)]);
        assert_eq!(run.code, Some(0), "{label}: {}{}", run.stdout, run.stderr);
        run.healthy("HTTP 200");
        assert_eq!(s.hit_count(), 1, "{label}");
    }
}

#[test]
fn self_signed_certificate_as_its_own_cacert() {
    let pki = pki();
    let s = https(&pki.self_signed, &pki.self_signed_key, false);
    let own = p(&pki.self_signed);
    tls_check(&["http", "--cacert", own, &localhost(&s)]).healthy("HTTP 200");
    let by_ip = format!("https://127.0.0.1:{}/ok", s.addr.port());
    tls_check(&["http", "--cacert", own, &by_ip]).healthy("HTTP 200");
    // The name is still verified...
    tls_check(&[
        "http",
        "--cacert",
        own,
        "--servername",
        "db.example",
        &by_ip,
    ])
    .unhealthy(
        "TLS: certificate is not valid for db.example (name mismatch)",
        &[],
    );
    // ...and without it the certificate is not trusted.
    tls_check(&["http", &localhost(&s)]).unhealthy(
        "TLS: certificate not trusted (use --cacert or --insecure)",
        &[],
    );
    // Through SSL_CERT_DIR, as OpenSSL reads a directory of certificates.
    let dir = daemon::temp_dir("certdir");
    std::fs::copy(own, dir.join("server.pem")).unwrap();
    clean(check(
        &["http", &localhost(&s)],
        &[("SSL_CERT_DIR", p(&dir)), ("SSL_CERT_FILE", "/nonexistent")],
    ))
    .healthy("HTTP 200");
}

#[test]
fn trust_stores_as_curl_and_openssl_read_them() {
    let (_, cert, key) = &pki().servers[0];
    let s = https(cert, key, false);
    let (ca, other) = (p(&certs().ca), p(&certs().other_ca));
    // --cacert replaces the system's CAs (curl, libpq): with a bundle that
    // trusts the server but a --cacert that does not, not trusted.
    clean(check(
        &["http", "--cacert", other, &localhost(&s)],
        &[("SSL_CERT_FILE", ca)],
    ))
    .unhealthy(
        "TLS: certificate not trusted (use --cacert or --insecure)",
        &[],
    );
    // A bundle without the issuer, SSL_CERT_DIR with it: the directory is
    // consulted for what the bundle does not know.
    let dir = daemon::temp_dir("certdir-ca");
    std::fs::copy(ca, dir.join("ca.pem")).unwrap();
    std::os::unix::fs::symlink("ca.pem", dir.join("0a1b2c3d.0")).unwrap();
    clean(check(
        &["http", &localhost(&s)],
        &[("SSL_CERT_FILE", other), ("SSL_CERT_DIR", p(&dir))],
    ))
    .healthy("HTTP 200");
    clean(check(
        &["http", &localhost(&s)],
        &[("SSL_CERT_FILE", other)],
    ))
    .unhealthy(
        "TLS: certificate not trusted (use --cacert or --insecure)",
        &[],
    );
}

/// `SSL_CERT_FILE` holding `certs`, after the system's own CAs where the
/// machine has them, so that the bundle is as long as a real one.
fn bundle(name: &str, certs: &[&Path], crlf: bool) -> std::path::PathBuf {
    let mut pem = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    for c in certs {
        pem.extend(std::fs::read(c).unwrap());
    }
    if crlf {
        pem = String::from_utf8(pem).unwrap().replace('\n', "\r\n").into();
    }
    let path = daemon::temp_dir("bundle").join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

#[test]
fn a_bundle_lends_the_anchors_the_chain_names() {
    // The server sends its certificate and an intermediate; the root is
    // one of many CAs in the bundle, after one with the same name and
    // another key. Verdicts as when every CA of the bundle is an anchor.
    let chain = chain();
    let s = https(&chain.server, &chain.key, false);
    let (ca, other) = (certs().ca.as_path(), certs().other_ca.as_path());
    let not_trusted = "TLS: certificate not trusted (use --cacert or --insecure)";
    for crlf in [false, true] {
        let trusted = bundle("root.pem", &[other, &chain.namesake, &chain.root, ca], crlf);
        clean(check(
            &["http", &localhost(&s)],
            &[("SSL_CERT_FILE", p(&trusted))],
        ))
        .healthy("HTTP 200");
    }
    // Without the root, a CA of the same name does not sign for it...
    let namesake = bundle("namesake.pem", &[other, &chain.namesake, ca], false);
    clean(check(
        &["http", &localhost(&s)],
        &[("SSL_CERT_FILE", p(&namesake))],
    ))
    .unhealthy("TLS: bad certificate signature", &[]);
    // ...and without either, the issuer is unknown.
    let untrusted = bundle("others.pem", &[other, ca], false);
    clean(check(
        &["http", &localhost(&s)],
        &[("SSL_CERT_FILE", p(&untrusted))],
    ))
    .unhealthy(not_trusted, &[]);
    // The server signed directly by a CA in the bundle, and not by one.
    let (_, cert, key) = &pki().servers[0];
    let direct = https(cert, key, false);
    let with_ca = bundle("ca.pem", &[other, ca, &chain.root], false);
    clean(check(
        &["http", &localhost(&direct)],
        &[("SSL_CERT_FILE", p(&with_ca))],
    ))
    .healthy("HTTP 200");
    let without_ca = bundle("roots.pem", &[other, &chain.root], false);
    clean(check(
        &["http", &localhost(&direct)],
        &[("SSL_CERT_FILE", p(&without_ca))],
    ))
    .unhealthy(not_trusted, &[]);
    // A self-signed certificate the user put in the bundle is trusted as
    // its own anchor, as with --cacert.
    let pki = pki();
    let own = https(&pki.self_signed, &pki.self_signed_key, false);
    let with_own = bundle("own.pem", &[other, &pki.self_signed, ca], false);
    clean(check(
        &["http", &localhost(&own)],
        &[("SSL_CERT_FILE", p(&with_own))],
    ))
    .healthy("HTTP 200");
    clean(check(
        &["http", &localhost(&own)],
        &[("SSL_CERT_FILE", p(&untrusted))],
    ))
    .unhealthy(not_trusted, &[]);
}

#[test]
fn no_ca_certificates_at_all_is_said_before_connecting() {
    // Port 1 is closed: connecting first would say "connection refused".
    let empty = bundle("empty.pem", &[], false);
    std::fs::write(&empty, "no certificates here\n").unwrap();
    for file in [p(&empty), "/nonexistent/ca.pem"] {
        check(
            &["http", "https://127.0.0.1:1/"],
            &[("SSL_CERT_FILE", file)],
        )
        .usage(
            "TLS: no CA certificates on this system to verify the server \
             (use --cacert or --insecure, or SSL_CERT_FILE)",
            &[],
        );
    }
}

#[test]
fn a_self_signed_certificate_keeps_its_dates() {
    let pki = pki();
    for ((cert, key), reason) in [
        (&pki.expired, "TLS: certificate expired"),
        (
            &pki.future,
            "TLS: certificate not valid yet (check the clock)",
        ),
    ] {
        let s = https(cert, key, false);
        tls_check(&["http", "--cacert", p(cert), &localhost(&s)]).unhealthy(reason, &[]);
        // --insecure still connects.
        tls_check(&["http", "--insecure", &localhost(&s)]).healthy("HTTP 200");
    }
}

#[test]
fn servername_verifies_another_name() {
    // 127.0.0.2 is not in the certificate; localhost is.
    let s = Server::start(
        "127.0.0.2:0",
        Behaviour::Normal,
        Some(tls_config_for(&certs().cert, &certs().key, None)),
    );
    let url = format!("https://127.0.0.2:{}/ok", s.addr.port());
    let ca = p(&certs().ca);
    tls_check(&["http", "--cacert", ca, &url]).unhealthy(
        "TLS: certificate is not valid for 127.0.0.2 (name mismatch)",
        &[],
    );
    tls_check(&["http", "--cacert", ca, "--servername", "localhost", &url]).healthy("HTTP 200");
}

#[test]
fn https_client_certificates() {
    let pki = pki();
    let ca = p(&certs().ca);
    let s = https(&certs().cert, &certs().key, true);
    let url = localhost(&s);
    tls_check(&["http", "--cacert", ca, &url]).unhealthy(
        "TLS: the server requires a client certificate (use --cert and --key)",
        &[],
    );
    // Every PEM shape, and an Ed25519 key (signed by berth's own Ed25519,
    // not ring's).
    let labels = pki.clients.iter().map(|(label, ..)| *label);
    for label in labels.chain(["ed25519"]) {
        let (cert, key) = pki.client(label);
        let run = tls_check(&[
            "http",
            "--cacert",
            ca,
            "--cert",
            p(cert),
            "--key",
            p(key),
            &url,
        ]);
        assert_eq!(run.code, Some(0), "{label}: {}{}", run.stdout, run.stderr);
        run.healthy("HTTP 200");
    }
    // The key may follow the certificate in one file, as curl allows.
    let dir = daemon::temp_dir("combined");
    let (cert, key) = pki.client("pkcs8");
    let both = dir.join("both.pem");
    let text = std::fs::read_to_string(cert).unwrap() + &std::fs::read_to_string(key).unwrap();
    std::fs::write(&both, text).unwrap();
    tls_check(&["http", "--cacert", ca, "--cert", p(&both), &url]).healthy("HTTP 200");
    // A certificate from another CA is refused by the server.
    let (cert, key) = &pki.stranger;
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        p(cert),
        "--key",
        p(key),
        &url,
    ])
    .unhealthy("TLS: the server rejected the client certificate", &[]);
}

#[test]
fn bad_client_certificate_files_are_named() {
    let pki = pki();
    let ca = p(&certs().ca);
    let (cert, key) = pki.client("pkcs8");
    let (_, other_key) = pki.client("sec1");
    let url = "https://localhost:1/ok";
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        p(cert),
        "--key",
        "/nonexistent.key",
        url,
    ])
    .usage("--key /nonexistent.key: cannot read", &[]);
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        "/nonexistent.pem",
        "--key",
        p(key),
        url,
    ])
    .usage("--cert /nonexistent.pem: cannot read", &[]);
    // A key given as the certificate, and a certificate as the key.
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        p(key),
        "--key",
        p(key),
        url,
    ])
    .usage(&format!("--cert {}: no PEM certificate", p(key)), &[]);
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        p(cert),
        "--key",
        p(cert),
        url,
    ])
    .usage(&format!("--key {}: no private key in it", p(cert)), &[]);
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        p(cert),
        "--key",
        p(other_key),
        url,
    ])
    .usage("does not belong to the certificate", &[]);
    tls_check(&["http", "--cacert", ca, "--key", p(key), url]).usage("needs --cert", &[]);
    // A key cut short.
    let dir = daemon::temp_dir("badkey");
    let broken = dir.join("broken.key");
    let text = std::fs::read_to_string(key).unwrap();
    std::fs::write(&broken, &text[..text.len() / 2]).unwrap();
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        p(cert),
        "--key",
        p(&broken),
        url,
    ])
    .usage(&format!("--key {}: not a valid PEM file", p(&broken)), &[]);
    // An encrypted key: a clear way out, and its password never asked for.
    let encrypted = dir.join("enc.key");
    let out = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-aes256",
            "-passout",
            "pass:k3y-Pw-88",
            "-in",
            p(key),
            "-out",
        ])
        .arg(&encrypted)
        .output()
        .unwrap();
    assert!(out.status.success());
    tls_check(&[
        "http",
        "--cacert",
        ca,
        "--cert",
        p(cert),
        "--key",
        p(&encrypted),
        url,
    ])
    .usage("the key is encrypted", &["k3y-Pw-88"]);
}

/// `check redis URL --cacert CA --cert CERT --key KEY [EXTRA...]`.
fn redis_mtls(url: &str, (cert, key): (&Path, &Path), extra: &[&str]) -> Run {
    let mut args = vec![
        "redis",
        url,
        "--cacert",
        p(&certs().ca),
        "--cert",
        p(cert),
        "--key",
        p(key),
    ];
    args.extend_from_slice(extra);
    tls_check(&args)
}

/// What a Redis TLS port demanding client certificates says: none given,
/// each of `labels`' keys accepted, a certificate from another CA refused.
fn redis_client_certificate_verdicts(url: &str, labels: &[&str]) {
    tls_check(&["redis", url, "--cacert", p(&certs().ca)]).unhealthy(
        "TLS: the server requires a client certificate (use --cert and --key)",
        &[],
    );
    let pki = pki();
    for label in labels {
        let (cert, key) = pki.client(label);
        redis_mtls(url, (cert, key), &[]).healthy("PONG");
    }
    let (cert, key) = &pki.stranger;
    redis_mtls(url, (cert.as_path(), key.as_path()), &[])
        .unhealthy("TLS: the server rejected the client certificate", &[]);
}

#[test]
fn redis_with_its_default_tls_settings() {
    let r = tls_strict();
    let url = format!("rediss://:{PASSWORD}@localhost:{}", r.tls_port);
    redis_client_certificate_verdicts(&url, &["pkcs8", "pkcs1", "sec1", "ed25519"]);
    // By address, verified against the name in the certificate.
    let (cert, key) = pki().client("sec1");
    let url_ip = format!("rediss://:{PASSWORD}@127.0.0.1:{}", r.tls_port);
    redis_mtls(&url_ip, (cert, key), &["--servername", "db.example"]).unhealthy(
        "TLS: certificate is not valid for db.example (name mismatch)",
        &[],
    );
    redis_mtls(&url_ip, (cert, key), &["--servername", "localhost"]).healthy("PONG");
}

#[test]
fn redis_held_to_tls_1_2() {
    let r = tls12_strict();
    let url = format!("rediss://:{PASSWORD}@localhost:{}", r.tls_port);
    redis_client_certificate_verdicts(&url, &["pkcs1"]);
}

#[test]
fn postgres_certificate_login() {
    let pg = primary();
    let pki = pki();
    let ca = p(&certs().ca);
    let base = format!("postgres://{CLIENT_CN}@localhost:{}/postgres", pg.port);
    let labels = pki.clients.iter().map(|(label, ..)| *label);
    for label in labels.chain(["ed25519"]) {
        let (cert, key) = pki.client(label);
        let url = format!(
            "{base}?sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}",
            p(cert),
            p(key)
        );
        tls_check(&["postgres", &url]).healthy(&format!("logged in as {CLIENT_CN}"));
    }
    // The libpq environment instead of URL parameters.
    let (cert, key) = pki.client("sec1");
    clean(check(
        &["postgres", &base],
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", ca),
            ("PGSSLCERT", p(cert)),
            ("PGSSLKEY", p(key)),
        ],
    ))
    .healthy(&format!("logged in as {CLIENT_CN}"));
    // sslrootcert=system: the system's roots (here SSL_CERT_FILE), verify-full.
    let system = format!(
        "{base}?sslrootcert=system&sslcert={}&sslkey={}",
        p(cert),
        p(key)
    );
    clean(check(&["postgres", &system], &[("SSL_CERT_FILE", ca)]))
        .healthy(&format!("logged in as {CLIENT_CN}"));
    check(&["postgres", &format!("{system}&sslmode=require")], &[])
        .usage("may not be used with sslrootcert=system", &[]);
    // No certificate: pg_hba.conf's cert method refuses the login.
    tls_check(&[
        "postgres",
        &format!("{base}?sslmode=verify-full&sslrootcert={ca}"),
    ])
    .unhealthy(
        "TLS: the server requires a client certificate (use sslcert and sslkey)",
        &[],
    );
    // A bad key file is named, with libpq's parameter name.
    tls_check(&[
        "postgres",
        &format!(
            "{base}?sslmode=require&sslcert={}&sslkey=/nonexistent.key",
            p(cert)
        ),
    ])
    .usage("sslkey /nonexistent.key: cannot read", &[]);
}

const LIMIT: Duration = Duration::from_secs(30);

/// `berth wait URL --timeout 10s`, bounded; (exit code, stderr).
fn wait(url: &str) -> (Option<i32>, String) {
    wait_for(url, "10s", &[])
}

fn wait_for(url: &str, timeout: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = output_bounded(
        berth()
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .envs(env.iter().copied())
            .args(["wait", "--timeout", timeout, url]),
        LIMIT,
    );
    let err = text(&out.stderr);
    let all = format!("{}{err}", text(&out.stdout));
    for line in pki().key_lines() {
        assert!(!all.contains(&line), "key material in output: {all}");
    }
    assert!(!all.contains(PASSWORD), "password in output: {all}");
    (out.status.code(), err)
}

#[test]
fn wait_targets_take_every_tls_setting() {
    let pki = pki();
    let ca = p(&certs().ca);
    let (cert, key) = pki.client("pkcs1");
    let tls = format!("cacert={ca}&cert={}&key={}", p(cert), p(key));

    let s = https(&certs().cert, &certs().key, true);
    let (code, err) = wait(&format!("{}#{tls}", localhost(&s)));
    assert_eq!(code, Some(0), "{err}");
    // servername in the fragment too.
    let by_ip = format!(
        "https://127.0.0.1:{}/ok#{tls}&servername=db.example",
        s.addr.port()
    );
    let (code, err) = wait_for(&by_ip, "1s", &[]);
    assert_eq!(code, Some(124), "{err}");
    assert!(
        err.contains("TLS: certificate is not valid for db.example (name mismatch)"),
        "{err}"
    );

    let r = tls_strict();
    let (code, err) = wait(&format!(
        "rediss://:{PASSWORD}@localhost:{}#{tls}",
        r.tls_port
    ));
    assert_eq!(code, Some(0), "{err}");

    let pg = primary();
    let (code, err) = wait(&format!(
        "postgres://{CLIENT_CN}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}",
        pg.port,
        p(cert),
        p(key)
    ));
    assert_eq!(code, Some(0), "{err}");

    // A file that cannot be read is a usage error, named, before any waiting.
    let (code, err) = wait(&format!(
        "rediss://:{PASSWORD}@localhost:{}#cacert={ca}&cert={}&key=/nonexistent.key",
        r.tls_port,
        p(cert)
    ));
    assert_eq!(code, Some(125), "{err}");
    assert!(err.contains("--key /nonexistent.key: cannot read"), "{err}");
    let (code, err) = wait(&format!("{}#cert=/nonexistent.pem", localhost(&s)));
    assert_eq!(code, Some(125), "{err}");
    assert!(
        err.contains("--cert /nonexistent.pem: cannot read"),
        "{err}"
    );
    let (code, err) = wait(&format!("{}#colour=blue", localhost(&s)));
    assert_eq!(code, Some(125), "{err}");
    assert!(
        err.contains("unknown TLS setting after '#' (expected"),
        "{err}"
    );
}
