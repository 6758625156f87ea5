//! Real MariaDB servers for the tests (Debian's mariadb-server): a primary
//! with password users, TLS from the test certificates and a user that
//! must log in with a client certificate (REQUIRE X509); and a second
//! server that is read-only and requires secure transport. Each is started
//! once per test process, on first use, as the unprivileged `mysql` user
//! on a loopback port with its own data directory.
//!
//! No MySQL 8 server can be installed here (Debian ships MariaDB only, and
//! PyPI none), so caching_sha2_password is tested against a scripted peer
//! in the tests themselves, labelled as such.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::daemon;

pub const MARIADBD: &str = "/usr/sbin/mariadbd";
/// The password user that owns the `app` database.
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app-My-71xq";
/// For the "no password in any output" tests: a password unlike any other
/// text berth prints, so finding it means a leak.
pub const SECRET_USER: &str = "secretapp";
pub const SECRET_PASSWORD: &str = "Zq9mys3cret";
/// A user that must log in over TLS (REQUIRE SSL).
pub const TLS_USER: &str = "tlsapp";
pub const TLS_PASSWORD: &str = "tls-My-20vb";
/// A user that logs in with MariaDB's ed25519 plugin.
pub const ED_USER: &str = "edapp";
pub const ED_PASSWORD: &str = "ed-My-55hh";
/// The user who must show a client certificate (REQUIRE X509), no password.
pub const CERT_USER: &str = super::certs::CLIENT_CN;

pub struct My {
    pub port: u16,
    pub dir: PathBuf,
}

impl My {
    /// `mysql://user:password@127.0.0.1:port/db`
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("mysql://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }

    /// Runs SQL as root over the Unix socket.
    pub fn sql(&self, statements: &str) {
        daemon::run(
            Command::new("mariadb")
                .args(["--no-defaults", "-uroot", "--batch"])
                .arg(format!("--socket={}", self.socket().display()))
                .args(["-e", statements]),
            "mariadb",
        );
    }
}

fn mysql_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "mysql"])
            .output()
            .expect("id");
        assert!(
            out.status.success(),
            "the tests need a 'mysql' user to run MariaDB as: install mariadb-server (scripts/setup.sh)"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn alive(socket: &Path) -> bool {
    Command::new("mysqladmin")
        .args(["--no-defaults", "-uroot", "--connect-timeout=1"])
        .arg(format!("--socket={}", socket.display()))
        .arg("ping")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs a data directory and starts mariadbd on a fresh port with
/// `extra` settings; waits until it answers.
fn start(name: &str, extra: &[&str]) -> My {
    assert!(
        Path::new(MARIADBD).exists(),
        "{MARIADBD} is missing: install mariadb-server (scripts/setup.sh)"
    );
    let certs = super::certs::certs();
    let (uid, gid) = mysql_ids();
    let dir = daemon::temp_dir(name);
    let data = dir.join("data");
    // Its own temporary directory: bootstraps that run side by side in the
    // shared /tmp remove each other's temporary tables, and fail.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    for (from, to) in [
        (&certs.cert, "server.pem"),
        (&certs.key, "server.key"),
        (&certs.ca, "ca.pem"),
    ] {
        std::fs::copy(from, dir.join(to)).unwrap();
    }
    daemon::run(
        Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(&dir),
        "chown",
    );
    daemon::run(
        Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]),
        "mariadb-install-db",
    );
    let port = daemon::free_port();
    let socket = dir.join("mysqld.sock");
    let log = dir.join("mariadbd.log");
    let mut cmd = Command::new(MARIADBD);
    cmd.uid(uid).gid(gid).arg("--no-defaults");
    cmd.arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
        .arg(format!("--port={port}"))
        .arg(format!("--ssl-cert={}", dir.join("server.pem").display()))
        .arg(format!("--ssl-key={}", dir.join("server.key").display()))
        .arg(format!("--ssl-ca={}", dir.join("ca.pem").display()))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
            "--innodb-log-file-size=8M",
            "--max-connections=40",
            "--plugin-load-add=auth_ed25519",
        ])
        .args(extra);
    // SIGTERM: a clean shutdown (the keeper's signal when the tests end).
    let pid = daemon::spawn(cmd, libc::SIGTERM, &log);
    let ready = super::wait_until(Duration::from_secs(60), || alive(&socket));
    assert!(
        ready,
        "mariadbd {pid} on port {port} not ready: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    My { port, dir }
}

fn users(my: &My) {
    my.sql(&format!(
        "CREATE DATABASE app;
         CREATE USER '{APP_USER}'@'%' IDENTIFIED BY '{APP_PASSWORD}';
         GRANT ALL ON app.* TO '{APP_USER}'@'%';
         CREATE USER '{SECRET_USER}'@'%' IDENTIFIED BY '{SECRET_PASSWORD}';
         CREATE USER '{TLS_USER}'@'%' IDENTIFIED BY '{TLS_PASSWORD}' REQUIRE SSL;
         CREATE USER '{CERT_USER}'@'%' REQUIRE X509;
         CREATE USER '{ED_USER}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('{ED_PASSWORD}');"
    ));
}

/// The primary: password users, TLS, a REQUIRE X509 user.
pub fn primary() -> &'static My {
    static PRIMARY: OnceLock<My> = OnceLock::new();
    PRIMARY.get_or_init(|| {
        let my = start("mariadb", &[]);
        users(&my);
        my
    })
}

/// A read-only server that also requires TLS for every TCP login
/// (require_secure_transport).
pub fn strict() -> &'static My {
    static STRICT: OnceLock<My> = OnceLock::new();
    STRICT.get_or_init(|| {
        let my = start(
            "mariadb-strict",
            &["--read-only=ON", "--require-secure-transport=ON"],
        );
        users(&my);
        my
    })
}
