//! Real Redis servers for the tests, started once per test process on first
//! use: a master with `requirepass`, an ACL user and a TLS port, and a
//! replica of it without a password.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::daemon;

pub const SERVER: &str = "/usr/bin/redis-server";
pub const PASSWORD: &str = "redis-Pw-58xv";
pub const ACL_USER: &str = "checker";
pub const ACL_PASSWORD: &str = "acl-Pw-17mb";
/// An ACL user allowed PING but not ROLE.
pub const LIMITED_USER: &str = "limited";
pub const LIMITED_PASSWORD: &str = "lim-Pw-66re";

pub struct Redis {
    pub port: u16,
    pub tls_port: u16,
}

fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args([
            "--no-auth-warning",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Starts `redis-server CONFIG` and waits until `ready` holds.
fn start(dir: &Path, config: &str, port: u16, ready: impl FnMut() -> bool) {
    assert!(
        Path::new(SERVER).exists(),
        "{SERVER} is missing: apt-get install redis-server"
    );
    let conf = dir.join(format!("redis-{port}.conf"));
    std::fs::write(&conf, config).unwrap();
    let mut cmd = Command::new(SERVER);
    cmd.arg(&conf);
    let log = dir.join(format!("redis-{port}.log"));
    let pid = daemon::spawn(cmd, libc::SIGTERM, &log);
    let ok = super::wait_until(Duration::from_secs(30), ready);
    assert!(
        ok,
        "redis-server {pid} on port {port} not ready: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

fn base_config(dir: &Path, port: u16) -> String {
    format!(
        "port {port}\nbind 127.0.0.1 ::1\nprotected-mode no\ndaemonize no\nsave \"\"\nappendonly no\n\
         dir {}\nlogfile \"\"\n",
        dir.display()
    )
}

pub fn master() -> &'static Redis {
    static MASTER: OnceLock<Redis> = OnceLock::new();
    MASTER.get_or_init(|| {
        let certs = super::certs::certs();
        let dir = daemon::temp_dir("redis");
        let port = daemon::free_port();
        let tls_port = daemon::free_port();
        let config = format!(
            "{}requirepass {PASSWORD}\n\
             user {ACL_USER} on >{ACL_PASSWORD} ~* &* +@all\n\
             user {LIMITED_USER} on >{LIMITED_PASSWORD} ~* &* +ping +info\n\
             tls-port {tls_port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
             tls-auth-clients no\n",
            base_config(&dir, port),
            certs.cert.display(),
            certs.key.display(),
            certs.ca.display(),
        );
        start(&dir, &config, port, || {
            cli(port, &["-a", PASSWORD, "ping"]).as_deref() == Some("PONG")
        });
        Redis { port, tls_port }
    })
}

/// A replica of the master, with no password of its own, in sync.
pub fn replica() -> &'static Redis {
    static REPLICA: OnceLock<Redis> = OnceLock::new();
    REPLICA.get_or_init(|| {
        let master = master();
        let dir = daemon::temp_dir("redis-replica");
        let port = daemon::free_port();
        let config = format!(
            "{}replicaof 127.0.0.1 {}\nmasterauth {PASSWORD}\n",
            base_config(&dir, port),
            master.port
        );
        start(&dir, &config, port, || {
            cli(port, &["info", "replication"]).is_some_and(|i| i.contains("master_link_status:up"))
        });
        Redis { port, tls_port: 0 }
    })
}

/// A replica whose master is gone and that may not serve stale data:
/// it answers MASTERDOWN.
pub fn orphan_replica() -> Redis {
    let dir = daemon::temp_dir("redis-orphan");
    let port = daemon::free_port();
    let dead = daemon::free_port();
    let config = format!(
        "{}replicaof 127.0.0.1 {dead}\nreplica-serve-stale-data no\n",
        base_config(&dir, port)
    );
    start(&dir, &config, port, || {
        cli(port, &["ping"]).is_some_and(|r| r.contains("MASTERDOWN"))
    });
    Redis { port, tls_port: 0 }
}

/// A server still loading its dataset, slowed down per key: it answers
/// LOADING for several seconds after it starts.
pub fn loading() -> Redis {
    let dir = daemon::temp_dir("redis-loading");
    // First make a dump with enough keys.
    let port = daemon::free_port();
    let config = format!("{}enable-debug-command yes\n", base_config(&dir, port));
    start(&dir, &config, port, || {
        cli(port, &["ping"]).as_deref() == Some("PONG")
    });
    assert_eq!(
        cli(port, &["debug", "populate", "200000"]).as_deref(),
        Some("OK")
    );
    assert_eq!(cli(port, &["save"]).as_deref(), Some("OK"));
    let _ = cli(port, &["shutdown", "nosave"]);
    assert!(super::wait_until(Duration::from_secs(10), || cli(
        port,
        &["ping"]
    )
    .as_deref()
        != Some("PONG")));
    // Then load it slowly: key-load-delay is in microseconds per key.
    let port = daemon::free_port();
    let config = format!(
        "{}dbfilename dump.rdb\nkey-load-delay 100\nloading-process-events-interval-bytes 1024\n",
        base_config(&dir, port)
    );
    start(&dir, &config, port, || {
        cli(port, &["ping"]).is_some_and(|r| r.contains("LOADING"))
    });
    Redis { port, tls_port: 0 }
}

/// A Redis that speaks only TLS, with Redis's own defaults for it: client
/// certificates required (`tls-auth-clients yes`), signed by the test CA.
pub fn tls_strict() -> &'static Redis {
    static STRICT: OnceLock<Redis> = OnceLock::new();
    STRICT.get_or_init(|| strict_server(""))
}

/// The same, held to TLS 1.2, where OpenSSL answers a missing client
/// certificate with a plain handshake_failure alert.
pub fn tls12_strict() -> &'static Redis {
    static STRICT12: OnceLock<Redis> = OnceLock::new();
    STRICT12.get_or_init(|| strict_server("tls-protocols \"TLSv1.2\"\n"))
}

fn strict_server(extra: &str) -> Redis {
    {
        let certs = super::certs::certs();
        let pki = super::certs::pki();
        let (cert, key) = pki.client("sec1");
        let dir = daemon::temp_dir("redis-tls");
        let tls_port = daemon::free_port();
        let config = format!(
            "{}requirepass {PASSWORD}\n\
             tls-port {tls_port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n{extra}",
            base_config(&dir, 0),
            certs.cert.display(),
            certs.key.display(),
            certs.ca.display(),
        );
        let ping = || {
            let out = Command::new("redis-cli")
                .args(["--no-auth-warning", "--tls", "-h", "localhost"])
                .args(["-p", &tls_port.to_string(), "-a", PASSWORD, "--cacert"])
                .arg(&certs.ca)
                .arg("--cert")
                .arg(cert)
                .arg("--key")
                .arg(key)
                .arg("ping")
                .output();
            out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
        };
        start(&dir, &config, tls_port, ping);
        Redis { port: 0, tls_port }
    }
}
