//! Real PostgreSQL 15 servers for the tests: a primary with SCRAM and md5
//! users and TLS, a hot standby (with ssl=off, for the "server does not
//! support SSL" case) and a standby with hot_standby=off that rejects
//! connections. Each is started once per test process, on first use.
//!
//! PostgreSQL refuses to run as root, so the servers run as the `postgres`
//! user; a missing binary or user fails the test loudly.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::daemon;

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The SCRAM user that owns the `app` database.
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app-Pw-93kq";
/// A user whose password is stored and checked as md5.
pub const MD5_USER: &str = "oldapp";
pub const MD5_PASSWORD: &str = "md5-Pw-41zt";
/// A SCRAM user for the "no password in any output" tests: a password
/// unlike any other text berth prints, so finding it means a leak.
pub const SECRET_USER: &str = "secretapp";
pub const SECRET_PASSWORD: &str = "Zq9s3cret";
/// A SCRAM user whose password holds a comma (BERTH_WAIT is a
/// comma-separated list).
pub const COMMA_USER: &str = "commaapp";
pub const COMMA_PASSWORD: &str = "Zq9,s3cret";

pub struct Pg {
    pub port: u16,
    pub dir: PathBuf,
}

impl Pg {
    /// `postgres://user:password@127.0.0.1:port/db?extra`
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id");
        assert!(
            out.status.success(),
            "the tests need a 'postgres' user to run PostgreSQL as"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn as_postgres(program: &str) -> Command {
    let path = format!("{BIN}/{program}");
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: install postgresql-15"
    );
    let (uid, gid) = postgres_ids();
    let mut cmd = Command::new(path);
    cmd.uid(uid)
        .gid(gid)
        .env_remove("PGPASSWORD")
        .env("LC_ALL", "C");
    cmd
}

fn chown_tree(dir: &Path) {
    let (uid, gid) = postgres_ids();
    daemon::run(
        Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(dir),
        "chown",
    );
}

fn pg_isready_code(port: u16) -> Option<i32> {
    Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
        .status()
        .ok()
        .and_then(|s| s.code())
}

/// When a freshly started server counts as ready.
#[derive(Clone, Copy, Debug)]
enum Ready {
    /// pg_isready exits 0.
    Accepting,
    /// A login is refused with this message. pg_isready's 1 cannot tell the
    /// states apart: a standby says "starting up", then "not yet accepting
    /// connections" until it is consistent, and only then its final word.
    Rejecting(&'static str),
}

impl Ready {
    fn reached(self, port: u16) -> bool {
        match self {
            Ready::Accepting => pg_isready_code(port) == Some(0),
            Ready::Rejecting(message) => Command::new("psql")
                .args(["-X", "-w", "-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["-U", "postgres", "-d", "postgres", "-c", ""])
                .env("LC_ALL", "C")
                .env("PGCONNECT_TIMEOUT", "2")
                .env_remove("PGPASSWORD")
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stderr).contains(message)),
        }
    }
}

/// Starts `postgres -D data` in the foreground (the keeper stops it with
/// SIGQUIT, PostgreSQL's immediate shutdown) and waits until it is `ready`.
fn start(dir: &Path, data: &Path, port: u16, extra: &[&str], ready: Ready) {
    let mut cmd = as_postgres("postgres");
    cmd.arg("-D").arg(data).args([
        "-c",
        &format!("port={port}"),
        // 127.0.0.2: an address the test certificate does not name.
        "-c",
        "listen_addresses=127.0.0.1,127.0.0.2,::1",
        "-c",
        &format!("unix_socket_directories={}", dir.display()),
        "-c",
        "fsync=off",
        "-c",
        "max_connections=40",
        "-c",
        "password_encryption=scram-sha-256",
    ]);
    for setting in extra {
        cmd.args(["-c", setting]);
    }
    let pid = daemon::spawn(
        cmd,
        libc::SIGQUIT,
        &dir.join(format!("postgres-{port}.log")),
    );
    let ready = super::wait_until(Duration::from_secs(60), || ready.reached(port));
    let log = std::fs::read_to_string(dir.join(format!("postgres-{port}.log"))).unwrap_or_default();
    assert!(
        ready,
        "postgres {pid} on port {port} not ready ({ready:?}): {log}"
    );
}

/// Runs each statement with its own -c (CREATE DATABASE cannot share a
/// transaction).
fn psql(dir: &Path, port: u16, statements: &[&str]) {
    let mut cmd = Command::new("psql");
    cmd.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        "postgres",
        "-d",
        "postgres",
    ])
    .arg("-h")
    .arg(dir)
    .args(["-p", &port.to_string()]);
    for sql in statements {
        cmd.args(["-c", sql]);
    }
    daemon::run(&mut cmd, "psql");
}

/// The user who logs in with a client certificate (pg_hba.conf `cert`).
const CERT_USER: &str = super::certs::CLIENT_CN;

/// The primary: SCRAM for `app` (and `secretapp`, `commaapp`), md5 for `oldapp`, TLS with the test
/// certificates, `cert` logins (client certificate, user from its CN) for
/// `certuser` over TLS, replication open to the standbys.
pub fn primary() -> &'static Pg {
    static PRIMARY: OnceLock<Pg> = OnceLock::new();
    PRIMARY.get_or_init(|| {
        let certs = super::certs::certs();
        let dir = daemon::temp_dir("pg");
        let data = dir.join("data");
        for (from, to) in [
            (&certs.cert, "server.pem"),
            (&certs.key, "server.key"),
            (&certs.ca, "client-ca.pem"),
        ] {
            std::fs::copy(from, dir.join(to)).unwrap();
        }
        std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        chown_tree(&dir);
        daemon::run(
            as_postgres("initdb").arg("-D").arg(&data).args([
                "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                "--no-sync", "--no-instructions", "-E", "UTF8",
            ]),
            "initdb",
        );
        // md5 lines first: pg_hba.conf is read top to bottom.
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all postgres trust\n\
                 hostssl all {CERT_USER} 127.0.0.0/8 cert\n\
                 hostssl all {CERT_USER} ::1/128 cert\n\
                 host replication postgres 127.0.0.1/32 trust\n\
                 host all {MD5_USER} 127.0.0.0/8 md5\n\
                 host all {MD5_USER} ::1/128 md5\n\
                 host all all 127.0.0.0/8 scram-sha-256\n\
                 host all all ::1/128 scram-sha-256\n"
            ),
        )
        .unwrap();
        let port = daemon::free_port();
        start(&dir, &data, port, &[
            "ssl=on",
            &format!("ssl_cert_file={}", dir.join("server.pem").display()),
            &format!("ssl_key_file={}", dir.join("server.key").display()),
            &format!("ssl_ca_file={}", dir.join("client-ca.pem").display()),
        ], Ready::Accepting);
        psql(&dir, port, &[
            &format!("CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}'"),
            &format!("CREATE DATABASE app OWNER {APP_USER}"),
            &format!("CREATE ROLE {CERT_USER} LOGIN"),
            // Before the md5 role: its SET lasts for the rest of the session.
            &format!("CREATE ROLE {SECRET_USER} LOGIN PASSWORD '{SECRET_PASSWORD}'"),
            &format!("CREATE ROLE {COMMA_USER} LOGIN PASSWORD '{COMMA_PASSWORD}'"),
            &format!("SET password_encryption = 'md5'; CREATE ROLE {MD5_USER} LOGIN PASSWORD '{MD5_PASSWORD}'"),
        ]);
        Pg { port, dir }
    })
}

fn standby(extra: &[&str], ready: Ready) -> Pg {
    let primary = primary();
    let dir = daemon::temp_dir("pg-standby");
    chown_tree(&dir);
    let data = dir.join("data");
    daemon::run(
        as_postgres("pg_basebackup").arg("-D").arg(&data).args([
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",
        ]),
        "pg_basebackup",
    );
    let port = daemon::free_port();
    start(&dir, &data, port, extra, ready);
    Pg { port, dir }
}

/// A hot standby of the primary, without TLS: logins work, it is read-only.
pub fn hot_standby() -> &'static Pg {
    static HOT: OnceLock<Pg> = OnceLock::new();
    HOT.get_or_init(|| standby(&["hot_standby=on", "ssl=off"], Ready::Accepting))
}

/// A standby with hot_standby=off: up, but rejecting connections.
pub fn cold_standby() -> &'static Pg {
    static COLD: OnceLock<Pg> = OnceLock::new();
    COLD.get_or_init(|| {
        standby(
            &["hot_standby=off", "ssl=off"],
            Ready::Rejecting("the database system is not accepting connections"),
        )
    })
}
