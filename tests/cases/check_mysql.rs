//! berth check mysql, against real MariaDB servers (tests/support/mysql.rs),
//! and, for MySQL 8's caching_sha2_password, which no installable server
//! here speaks, against a scripted peer that follows the protocol's
//! documented exchange (the tests say so in their names).

use std::io::{Read, Write};
use std::net::TcpListener;

use super::check_postgres::check;
use crate::support::mysql::*;
use crate::support::*;

fn app_url(extra: &str) -> String {
    format!("{}{extra}", primary().url(APP_USER, APP_PASSWORD, "app"))
}

#[test]
fn login_and_select_1() {
    let run = check(&["mysql", &app_url("")], &[]);
    run.healthy("logged in as app, SELECT 1 answered (MariaDB 10.");
    run.no_secrets(&[APP_PASSWORD]);
    assert!(run.stdout.contains("app:****@"), "{}", run.stdout);
    // mariadb:// is the same check, and `check URL` picks it by scheme.
    let url = app_url("").replacen("mysql://", "mariadb://", 1);
    check(&["mysql", &url], &[]).healthy("logged in as app");
    check(&[&url], &[]).healthy("logged in as app");
    // No database: the user's default.
    let url = primary().url(SECRET_USER, SECRET_PASSWORD, "");
    check(&["mysql", &url], &[]).healthy("logged in as secretapp");
}

#[test]
fn wrong_password_and_unknown_user() {
    let url = primary().url(APP_USER, "not-the-My-55", "app");
    let run = check(&["mysql", &url], &[]);
    run.unhealthy(
        "authentication failed for user app (wrong password or unknown user; error 1045",
        &["not-the-My-55", APP_PASSWORD],
    );
    let url = primary().url("nobody", "nobody-My-66", "app");
    check(&["mysql", &url], &[])
        .unhealthy("authentication failed for user nobody", &["nobody-My-66"]);
}

#[test]
fn unknown_database() {
    // root may see every database, so it is told that this one is
    // missing (others are told they may not use it).
    let socket = primary().socket().display().to_string();
    let url = format!("mysql://root@localhost/nosuchdb?socket={socket}");
    check(&["mysql", &url], &[]).unhealthy(
        "unknown database (error 1049: Unknown database 'nosuchdb')",
        &[],
    );
    // A database the user may not use.
    let url = primary().url(SECRET_USER, SECRET_PASSWORD, "app");
    check(&["mysql", &url], &[]).unhealthy(
        "access denied to the database (error 1044",
        &[SECRET_PASSWORD],
    );
}

#[test]
fn ssl_modes() {
    let certs = certs::certs();
    let ca = certs.ca.display().to_string();
    // PREFERRED, the default: TLS when the server offers it.
    check(&["mysql", &app_url("")], &[]).healthy(", TLS)");
    let run = check(&["mysql", &app_url("?ssl-mode=DISABLED")], &[]);
    run.healthy("logged in as app");
    assert!(!run.stdout.contains(", TLS)"), "{}", run.stdout);
    check(&["mysql", &app_url("?ssl-mode=REQUIRED")], &[]).healthy(", TLS)");
    check(
        &[
            "mysql",
            &app_url(&format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}")),
        ],
        &[],
    )
    .healthy(", TLS)");
    check(&["mysql", &app_url(""), "--cacert", &ca], &[]).healthy(", TLS)");
    // Verified against a CA that did not sign the server's certificate.
    let other = certs.other_ca.display().to_string();
    check(
        &[
            "mysql",
            &app_url(&format!("?ssl-mode=VERIFY_CA&ssl-ca={other}")),
        ],
        &[],
    )
    .unhealthy("TLS: certificate not trusted", &[APP_PASSWORD]);
    // A name the certificate does not carry: VERIFY_IDENTITY fails,
    // VERIFY_CA (the chain only) passes.
    let named = |mode: &str| {
        check(
            &[
                "mysql",
                &app_url(&format!("?ssl-mode={mode}&ssl-ca={ca}")),
                "--servername",
                "not-the-server.test",
            ],
            &[],
        )
    };
    named("VERIFY_IDENTITY").unhealthy("TLS: certificate is not valid for", &[APP_PASSWORD]);
    named("VERIFY_CA").healthy(", TLS)");
    // A user that must use TLS.
    let tls_url = |extra: &str| format!("{}{extra}", primary().url(TLS_USER, TLS_PASSWORD, ""));
    check(&["mysql", &tls_url("")], &[]).healthy("logged in as tlsapp");
    check(&["mysql", &tls_url("?ssl-mode=DISABLED")], &[])
        .unhealthy("authentication failed for user tlsapp", &[TLS_PASSWORD]);
    // Bad values are usage errors.
    check(&["mysql", &app_url("?ssl-mode=sometimes")], &[])
        .usage("ssl-mode: expected DISABLED", &[APP_PASSWORD]);
}

#[test]
fn client_certificate_for_require_x509() {
    let ca = certs::certs().ca.display().to_string();
    let (cert, key) = certs::pki().client("pkcs8");
    let url = format!(
        "mysql://{CERT_USER}@127.0.0.1:{}/?ssl-mode=VERIFY_CA&ssl-ca={ca}",
        primary().port
    );
    let with = format!(
        "{url}&ssl-cert={}&ssl-key={}",
        cert.display(),
        key.display()
    );
    let run = check(&["mysql", &with], &[]);
    run.healthy("logged in as certuser");
    let lines = certs::pki().key_lines();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    run.no_secrets(&lines);
    check(
        &[
            "mysql",
            &url,
            "--cert",
            &cert.display().to_string(),
            "--key",
            &key.display().to_string(),
        ],
        &[],
    )
    .healthy("logged in as certuser");
    check(&["mysql", &url], &[]).unhealthy("authentication failed for user certuser", &[]);
}

#[test]
fn require_secure_transport_and_read_only() {
    let s = strict();
    let url = |extra: &str| format!("{}{extra}", s.url(APP_USER, APP_PASSWORD, "app"));
    check(&["mysql", &url("")], &[]).healthy(", TLS)");
    // MariaDB refuses a plain-text login under require_secure_transport
    // as a failed login (MySQL says 3159, which berth names too).
    check(&["mysql", &url("?ssl-mode=DISABLED")], &[])
        .unhealthy("authentication failed for user app", &[APP_PASSWORD]);
    check(&["mysql", &url(""), "--primary"], &[]).unhealthy(
        "server is read-only (read_only on), expected a primary",
        &[APP_PASSWORD],
    );
    check(&["mysql", &app_url(""), "--primary"], &[]).healthy("primary (read_only off)");
}

#[test]
fn ping_means_mysqladmin_ping() {
    let url = primary().url(APP_USER, "wrong-ping-My-1", "app");
    let run = check(&["mysql", &url, "--ping"], &[]);
    run.healthy("alive, MariaDB 10.");
    run.no_secrets(&["wrong-ping-My-1"]);
    assert!(run.stdout.contains("error 1045"), "{}", run.stdout);
    check(&["mysql", &app_url(""), "--ping"], &[]).healthy("alive, MariaDB");
    let port = daemon::free_port();
    check(
        &[
            "mysql",
            &format!("mysql://u:p-My-2@127.0.0.1:{port}"),
            "--ping",
        ],
        &[],
    )
    .unhealthy("connection refused", &["p-My-2"]);
}

#[test]
fn mysql_client_environment() {
    let port = primary().port.to_string();
    let env = [
        ("MYSQL_HOST", "127.0.0.1"),
        ("MYSQL_TCP_PORT", port.as_str()),
        ("MYSQL_PWD", SECRET_PASSWORD),
    ];
    let run = check(&["mysql", &format!("mysql://{SECRET_USER}@")], &env);
    run.healthy("logged in as secretapp");
    run.no_secrets(&[SECRET_PASSWORD]);
    // From a file, the official images' convention.
    let dir = daemon::temp_dir("mysql-pwd");
    let file = dir.join("pw");
    std::fs::write(&file, format!("{SECRET_PASSWORD}\n")).unwrap();
    let file = file.display().to_string();
    let env = [
        ("MYSQL_HOST", "127.0.0.1"),
        ("MYSQL_TCP_PORT", port.as_str()),
        ("MYSQL_PWD_FILE", file.as_str()),
    ];
    let run = check(&["mysql", &format!("mysql://{SECRET_USER}@")], &env);
    run.healthy("logged in as secretapp");
    run.no_secrets(&[SECRET_PASSWORD]);
    // No URL: root over the Unix socket named by MYSQL_UNIX_PORT.
    let socket = primary().socket().display().to_string();
    let run = check(&["mysql"], &[("MYSQL_UNIX_PORT", socket.as_str())]);
    run.healthy("logged in as root");
    assert!(!run.stdout.contains(", TLS)"), "{}", run.stdout);
}

#[test]
fn unix_socket_in_the_url() {
    let socket = primary().socket().display().to_string();
    let url = format!("mysql://{APP_USER}:{APP_PASSWORD}@localhost/app?socket={socket}");
    check(&["mysql", &url], &[]).healthy("logged in as app");
    let encoded = socket.replace('/', "%2F");
    let url = format!("mysql://{APP_USER}:{APP_PASSWORD}@{encoded}/app");
    check(&["mysql", &url], &[]).healthy("logged in as app");
    let url =
        format!("mysql://{APP_USER}:{APP_PASSWORD}@localhost/app?socket=/nonexistent/my.sock");
    check(&["mysql", &url], &[])
        .unhealthy("no MySQL socket at /nonexistent/my.sock", &[APP_PASSWORD]);
}

#[test]
fn ed25519_users_log_in() {
    // MariaDB's client_ed25519: a signature of the server's nonce, so the
    // password crosses neither a plain connection nor TLS.
    let url = primary().url(ED_USER, ED_PASSWORD, "");
    for mode in ["DISABLED", "REQUIRED"] {
        let run = check(&["mysql", &format!("{url}?ssl-mode={mode}")], &[]);
        run.healthy("logged in as edapp, SELECT 1 answered");
        run.no_secrets(&[ED_PASSWORD]);
    }
    // Each login signs a new nonce: many in a row, none refused (a nonce
    // whose last byte is 0 must be signed whole).
    for _ in 0..40 {
        check(&["mysql", &url], &[]).healthy("logged in as edapp");
    }
    let wrong = primary().url(ED_USER, "not-the-ed-77", "");
    check(&["mysql", &wrong], &[]).unhealthy(
        "authentication failed for user edapp (wrong password or unknown user; error 1045",
        &["not-the-ed-77", ED_PASSWORD],
    );
    // And alive for --ping either way.
    check(&["mysql", &wrong, "--ping"], &[]).healthy("alive, MariaDB");
}

#[test]
fn server_down_and_hostile_peers() {
    let port = daemon::free_port();
    check(
        &[
            "mysql",
            &format!("mysql://app:pw-down-1@127.0.0.1:{port}/app"),
        ],
        &[],
    )
    .unhealthy("connection refused", &["pw-down-1"]);
    let silent = hostile::silent();
    check(
        &[
            "mysql",
            &format!("mysql://app:pw-silent-1@127.0.0.1:{silent}/app"),
            "--timeout",
            "1s",
        ],
        &[],
    )
    .unhealthy(
        "timed out waiting for the server's greeting",
        &["pw-silent-1"],
    );
    let closer = hostile::closer();
    check(
        &[
            "mysql",
            &format!("mysql://app:pw-close-1@127.0.0.1:{closer}/app"),
        ],
        &[],
    )
    .unhealthy(
        "connection closed by the server before the reply (not a MySQL server?)",
        &["pw-close-1"],
    );
    // An HTTP server's reply where the greeting belongs.
    let http = hostile::garbage();
    check(
        &[
            "mysql",
            &format!("mysql://app:pw-http-1@127.0.0.1:{http}/app"),
            "--timeout",
            "2s",
        ],
        &[],
    )
    .unhealthy("not a MySQL server (unexpected greeting)", &["pw-http-1"]);
}

#[test]
fn wait_target() {
    let mut cmd = berth();
    cmd.args(["wait", "--timeout", "20s", &app_url(""), "--", "true"]);
    let out = output_bounded(&mut cmd, std::time::Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains(APP_PASSWORD));
}

// ---- caching_sha2_password: a scripted peer, not a MySQL 8 server ----

/// The scripted peer's password and nonces.
const SHA2_PASSWORD: &str = "sha2-My-8pw";
const NONCE: &[u8; 20] = b"0123456789abcdefghij";
const SWITCH_NONCE: &[u8; 20] = b"ABCDEFGHIJ0123456789";

fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(payload);
    out
}

fn read_packet(s: &mut std::net::TcpStream) -> Vec<u8> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    let len = head[0] as usize | (head[1] as usize) << 8 | (head[2] as usize) << 16;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    body
}

/// A MySQL 8.0 greeting: protocol 10, caching_sha2_password by default,
/// no TLS offered.
fn mysql8_greeting(plugin: &str) -> Vec<u8> {
    let caps: u32 = 0x0000_0200 | 0x0000_8000 | 0x0008_0000 | 0x0020_0000;
    let mut g = vec![10];
    g.extend_from_slice(b"8.0.36\0");
    g.extend_from_slice(&1u32.to_le_bytes());
    g.extend_from_slice(&NONCE[..8]);
    g.push(0);
    g.extend_from_slice(&(caps as u16).to_le_bytes());
    g.push(255);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(&NONCE[8..]);
    g.push(0);
    g.extend_from_slice(plugin.as_bytes());
    g.push(0);
    g
}

/// The scramble the documented formula gives, computed with sha256sum's
/// algorithm from Python (no code shared with berth).
fn expected_scramble(nonce: &[u8]) -> Vec<u8> {
    let script = format!(
        "import hashlib,sys\np=b'{SHA2_PASSWORD}'\nn=bytes.fromhex('{}')\n\
         a=hashlib.sha256(p).digest();b=hashlib.sha256(hashlib.sha256(a).digest()+n).digest()\n\
         sys.stdout.write(bytes(x^y for x,y in zip(a,b)).hex())",
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let out = daemon::run(
        std::process::Command::new("python3").args(["-c", &script]),
        "python3",
    );
    (0..out.len() / 2)
        .map(|i| u8::from_str_radix(&out[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The scramble in a HandshakeResponse41 or a bare auth packet.
fn auth_data(response: &[u8]) -> Vec<u8> {
    let rest = &response[32..];
    let user_end = rest.iter().position(|&b| b == 0).unwrap();
    let rest = &rest[user_end + 1..];
    rest[1..1 + rest[0] as usize].to_vec()
}

/// Serves one scripted login per connection: `full` asks for the full
/// exchange (AuthMoreData 4) instead of the fast path. Each connection's
/// verdict on the scramble goes to the returned channel.
fn scripted_mysql8(full: bool, switch: bool) -> (u16, std::sync::mpsc::Receiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    let fast = expected_scramble(NONCE);
    let switched = expected_scramble(SWITCH_NONCE);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(4) {
            let mut s = stream;
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let plugin = if switch {
                "mysql_native_password"
            } else {
                "caching_sha2_password"
            };
            s.write_all(&frame(0, &mysql8_greeting(plugin))).unwrap();
            let response = read_packet(&mut s);
            let mut seq = 2;
            let scramble_ok = if switch {
                let mut req = b"\xfecaching_sha2_password\0".to_vec();
                req.extend_from_slice(SWITCH_NONCE);
                req.push(0);
                s.write_all(&frame(seq, &req)).unwrap();
                let again = read_packet(&mut s);
                seq += 2;
                again == switched
            } else {
                auth_data(&response) == fast
            };
            let _ = tx.send(scramble_ok);
            if !scramble_ok {
                let err = b"\xff\x15\x04#28000Access denied for user 'app'@'localhost' (using password: YES)";
                let _ = s.write_all(&frame(seq, err));
                continue;
            }
            let more: &[u8] = if full { b"\x01\x04" } else { b"\x01\x03" };
            s.write_all(&frame(seq, more)).unwrap();
            if full {
                // berth must not send the password in clear text here.
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
                let _ = tx.send(
                    !rest
                        .windows(SHA2_PASSWORD.len())
                        .any(|w| w == SHA2_PASSWORD.as_bytes()),
                );
                continue;
            }
            s.write_all(&frame(seq + 1, b"\x00\x00\x00\x02\x00\x00\x00"))
                .unwrap();
            let query = read_packet(&mut s);
            assert_eq!(query, b"\x03SELECT 1");
            let mut reply = frame(1, b"\x01");
            reply.extend(frame(
                2,
                b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0",
            ));
            reply.extend(frame(3, b"\xfe\0\0\x02\0"));
            reply.extend(frame(4, b"\x011"));
            reply.extend(frame(5, b"\xfe\0\0\x02\0"));
            s.write_all(&reply).unwrap();
            let quit = read_packet(&mut s);
            assert_eq!(quit, b"\x01");
        }
    });
    (port, rx)
}

/// The scripted peer's next verdict, within a bound.
fn verdict(verdicts: &std::sync::mpsc::Receiver<bool>) -> bool {
    verdicts
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the scripted peer saw no login")
}

#[test]
fn caching_sha2_fast_path_against_a_scripted_peer_not_mysql_8() {
    let (port, verdicts) = scripted_mysql8(false, false);
    let url = format!("mysql://app:{SHA2_PASSWORD}@127.0.0.1:{port}/app");
    let run = check(&["mysql", &url], &[]);
    run.healthy("logged in as app, SELECT 1 answered (MySQL 8.0.36)");
    run.no_secrets(&[SHA2_PASSWORD]);
    assert!(verdict(&verdicts), "the fast-path scramble");
    // A wrong password gives another scramble, and the server's 1045.
    let url = format!("mysql://app:wrong-sha2-pw@127.0.0.1:{port}/app");
    check(&["mysql", &url], &[]).unhealthy("error 1045", &["wrong-sha2-pw"]);
    assert!(!verdict(&verdicts));
}

#[test]
fn auth_switch_to_caching_sha2_against_a_scripted_peer_not_mysql_8() {
    let (port, verdicts) = scripted_mysql8(false, true);
    let url = format!("mysql://app:{SHA2_PASSWORD}@127.0.0.1:{port}/app");
    check(&["mysql", &url], &[]).healthy("logged in as app");
    assert!(verdict(&verdicts), "the scramble after the switch");
}

#[test]
fn caching_sha2_full_exchange_without_tls_against_a_scripted_peer_not_mysql_8() {
    let (port, verdicts) = scripted_mysql8(true, false);
    let url = format!("mysql://app:{SHA2_PASSWORD}@127.0.0.1:{port}/app");
    check(&["mysql", &url], &[]).unhealthy(
        "caching_sha2_password needs its full exchange",
        &[SHA2_PASSWORD],
    );
    assert!(verdict(&verdicts));
    assert!(verdict(&verdicts), "no password in clear text");
}

/// Over a Unix socket the full caching_sha2_password exchange may send the
/// password itself (the socket is the secure transport, as for the mysql
/// client): a scripted peer, not a MySQL 8 server, checks that it arrives
/// as the documented cleartext packet, and only then says OK.
#[test]
fn caching_sha2_full_exchange_over_a_unix_socket_against_a_scripted_peer_not_mysql_8() {
    let dir = daemon::temp_dir("mysql8-sock");
    let path = dir.join("mysqld.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let (tx, verdicts) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        s.write_all(&frame(0, &mysql8_greeting("caching_sha2_password")))
            .unwrap();
        let _response = read_unix_packet(&mut s);
        s.write_all(&frame(2, b"\x01\x04")).unwrap();
        let password = read_unix_packet(&mut s);
        let mut expected = SHA2_PASSWORD.as_bytes().to_vec();
        expected.push(0);
        let _ = tx.send(password == expected);
        s.write_all(&frame(4, b"\x00\x00\x00\x02\x00\x00\x00"))
            .unwrap();
        let query = read_unix_packet(&mut s);
        assert_eq!(query, b"\x03SELECT 1");
        let mut reply = frame(1, b"\x01");
        reply.extend(frame(
            2,
            b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0",
        ));
        reply.extend(frame(3, b"\xfe\0\0\x02\0"));
        reply.extend(frame(4, b"\x011"));
        reply.extend(frame(5, b"\xfe\0\0\x02\0"));
        s.write_all(&reply).unwrap();
        let _ = read_unix_packet(&mut s);
    });
    let url = format!(
        "mysql://app:{SHA2_PASSWORD}@localhost/app?socket={}",
        path.display()
    );
    let run = check(&["mysql", &url], &[]);
    run.healthy("logged in as app, SELECT 1 answered (MySQL 8.0.36)");
    run.no_secrets(&[SHA2_PASSWORD]);
    assert!(verdict(&verdicts), "the password as a cleartext packet");
}

fn read_unix_packet(s: &mut std::os::unix::net::UnixStream) -> Vec<u8> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    let len = head[0] as usize | (head[1] as usize) << 8 | (head[2] as usize) << 16;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    body
}

/// A server out of connections sends an error instead of its greeting:
/// unhealthy, and for --ping too (mysqladmin ping's "alive" is for a
/// server that would let someone in). A scripted peer sends MariaDB's
/// bytes for it.
#[test]
fn too_many_connections_before_the_greeting() {
    let port = hostile::serve(|mut s| {
        let _ = s.write_all(&frame(0, b"\xff\x10\x04Too many connections"));
    });
    let url = format!("mysql://app:pw-full-1@127.0.0.1:{port}/app");
    check(&["mysql", &url], &[]).unhealthy("too many connections", &["pw-full-1"]);
    check(&["mysql", &url, "--ping"], &[]).unhealthy("too many connections", &["pw-full-1"]);
    // Shutting down, said after the greeting as MySQL does.
    let port = hostile::serve(|mut s| {
        let _ = s.write_all(&frame(0, &mysql8_greeting("mysql_native_password")));
        let mut head = [0u8; 4];
        if s.read_exact(&mut head).is_ok() {
            let mut body = vec![0u8; head[0] as usize | (head[1] as usize) << 8];
            let _ = s.read_exact(&mut body);
            let _ = s.write_all(&frame(2, b"\xff\x1d\x04#08S01Server shutdown in progress"));
        }
    });
    let url = format!("mysql://app:pw-full-2@127.0.0.1:{port}/app");
    check(&["mysql", &url], &[]).unhealthy("server shutting down (error 1053)", &["pw-full-2"]);
    check(&["mysql", &url, "--ping"], &[]).unhealthy("server shutting down", &["pw-full-2"]);
}

/// A server that greets and then never answers the login is not alive for
/// --ping (mysqladmin ping fails on it too); one that never greets neither.
#[test]
fn ping_is_unhealthy_when_the_server_stops_answering() {
    let port = hostile::serve(|mut s| {
        let _ = s.write_all(&frame(0, &mysql8_greeting("mysql_native_password")));
        let mut buf = [0; 1024];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let url = format!("mysql://app:pw-hang-1@127.0.0.1:{port}/app");
    check(&["mysql", &url, "--ping", "--timeout", "1s"], &[])
        .unhealthy("timed out during login", &["pw-hang-1"]);
    let silent = hostile::silent();
    let url = format!("mysql://app:pw-hang-2@127.0.0.1:{silent}/app");
    check(&["mysql", &url, "--ping", "--timeout", "1s"], &[]).unhealthy(
        "timed out waiting for the server's greeting",
        &["pw-hang-2"],
    );
}
