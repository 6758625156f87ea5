//! Real RabbitMQ, NATS and memcached servers for the tests, from Debian's
//! packages, each run as its package's own unprivileged user on loopback
//! ports with its own directory.
//!
//! RabbitMQ takes seconds to boot an Erlang VM, so one node serves all of
//! a test's cases (started on first use, per test process). Its Erlang
//! port mapper runs on a port of its own, started here in the foreground
//! so that it ends with the tests (a node would otherwise start a daemon
//! epmd that outlives them); the node's distribution port is fixed too, so
//! nothing collides with another node on the machine.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::daemon;

pub const RABBIT_BIN: &str = "/usr/lib/rabbitmq/bin";
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
pub const MEMCACHED: &str = "/usr/bin/memcached";

/// A RabbitMQ user with its own vhost (`prod`), and a password unlike any
/// other text berth prints.
pub const AMQP_USER: &str = "app";
pub const AMQP_PASSWORD: &str = "Rb7x-amqp-pw";
pub const AMQP_VHOST: &str = "prod";
/// A user with no permission on any vhost.
pub const AMQP_NOBODY: &str = "nobody";
pub const AMQP_NOBODY_PASSWORD: &str = "Rb7x-nobody-pw";

pub const NATS_USER: &str = "natsapp";
pub const NATS_PASSWORD: &str = "Nt5q-nats-pw";
pub const NATS_TOKEN: &str = "Nt5q-token-s3cret";

/// The uid and gid of a system user the packages create.
fn ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, user]).output().expect("id");
        assert!(
            out.status.success(),
            "the tests need the '{user}' user (made by its Debian package): scripts/setup.sh test"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn as_user(program: &str, user: &str) -> Command {
    assert!(
        Path::new(program).exists(),
        "{program} is missing: scripts/setup.sh test installs it"
    );
    let (uid, gid) = ids(user);
    let mut cmd = Command::new(program);
    cmd.uid(uid).gid(gid);
    cmd
}

/// A fresh directory owned by `user`, with copies of the test certificates
/// it can read.
fn owned_dir(name: &str, user: &str) -> PathBuf {
    let dir = daemon::temp_dir(name);
    let certs = super::certs::certs();
    for (from, to) in [
        (&certs.ca, "ca.pem"),
        (&certs.cert, "server.pem"),
        (&certs.key, "server.key"),
    ] {
        std::fs::copy(from, dir.join(to)).unwrap();
    }
    let (uid, gid) = ids(user);
    daemon::run(
        Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(&dir),
        "chown",
    );
    dir
}

pub struct Rabbit {
    pub port: u16,
    pub tls_port: u16,
    dir: PathBuf,
    epmd_port: u16,
    node: String,
}

impl Rabbit {
    /// `rabbitmqctl ARGS` against this node, bounded; its output.
    pub fn ctl(&self, args: &[&str]) -> String {
        let mut cmd = self.command("rabbitmqctl");
        cmd.args(args);
        daemon::run(&mut cmd, &format!("rabbitmqctl {args:?}"))
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = as_user(&format!("{RABBIT_BIN}/{program}"), "rabbitmq");
        let d = &self.dir;
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .env("HOME", d)
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", (self.port + 20000).to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_LOGS", "-")
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_PID_FILE", d.join("rabbitmq.pid"));
        cmd
    }
}

/// A free port whose +20000 (the node's distribution port) is free too.
fn rabbit_port() -> u16 {
    for _ in 0..100 {
        let port = daemon::free_port();
        if port < 45000 && std::net::TcpListener::bind(("127.0.0.1", port + 20000)).is_ok() {
            return port;
        }
    }
    panic!("no port pair free for RabbitMQ in 100 tries");
}

/// One RabbitMQ node per test process: AMQP on `port`, AMQPS on
/// `tls_port` (the test CA's server certificate), the `guest` user allowed
/// from anywhere, `app` on vhost `prod`, `nobody` with no vhost.
pub fn rabbit() -> &'static Rabbit {
    static RABBIT: OnceLock<Rabbit> = OnceLock::new();
    RABBIT.get_or_init(|| {
        let dir = owned_dir("rabbitmq", "rabbitmq");
        let rabbit = Rabbit {
            port: rabbit_port(),
            tls_port: daemon::free_port(),
            epmd_port: daemon::free_port(),
            node: format!("berth{}@localhost", std::process::id()),
            dir: dir.clone(),
        };
        let config = format!(
            "listeners.tcp.1 = 127.0.0.1:{}\nlisteners.ssl.1 = 127.0.0.1:{}\n\
             ssl_options.cacertfile = {d}/ca.pem\nssl_options.certfile = {d}/server.pem\n\
             ssl_options.keyfile = {d}/server.key\nssl_options.verify = verify_none\n\
             ssl_options.fail_if_no_peer_cert = false\nloopback_users = none\n",
            rabbit.port,
            rabbit.tls_port,
            d = dir.display()
        );
        for (name, text) in [
            ("rabbitmq.conf", config.as_str()),
            ("enabled_plugins", "[].\n"),
            ("advanced.config", "[].\n"),
            ("rabbitmq-env.conf", ""),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        daemon::run(
            Command::new("chown").args(["-R", "rabbitmq:"]).arg(&dir),
            "chown",
        );

        let mut epmd = as_user("/usr/bin/epmd", "rabbitmq");
        epmd.args(["-port", &rabbit.epmd_port.to_string()]);
        daemon::spawn(epmd, libc::SIGTERM, &dir.join("epmd.log"));
        // Listening before the node starts, or the node starts a daemon
        // epmd of its own, which would outlive the tests.
        let listening = super::wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", rabbit.epmd_port)).is_ok()
        });
        assert!(listening, "epmd on port {} not listening", rabbit.epmd_port);
        let log = dir.join("rabbitmq.log");
        let pid = daemon::spawn(rabbit.command("rabbitmq-server"), libc::SIGTERM, &log);
        // await_startup fails at once while the node is not reachable yet,
        // and waits (within its own --timeout) once it is.
        let mut last = String::new();
        let up = super::poll_every(Duration::from_secs(90), Duration::from_millis(500), || {
            let mut wait = rabbit.command("rabbitmqctl");
            wait.args(["-q", "await_startup", "--timeout", "30"]);
            let out = super::output_bounded(&mut wait, Duration::from_secs(40));
            last = super::text(&out.stderr);
            out.status.success()
        });
        assert!(
            up,
            "rabbitmq-server {pid} not ready in 90 s: {last}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        rabbit.ctl(&["-q", "add_vhost", AMQP_VHOST]);
        for (user, password) in [
            (AMQP_USER, AMQP_PASSWORD),
            (AMQP_NOBODY, AMQP_NOBODY_PASSWORD),
        ] {
            rabbit.ctl(&["-q", "add_user", user, password]);
        }
        rabbit.ctl(&[
            "-q",
            "set_permissions",
            "-p",
            AMQP_VHOST,
            AMQP_USER,
            ".*",
            ".*",
            ".*",
        ]);
        rabbit
    })
}

pub struct Nats {
    pub port: u16,
}

/// A NATS server with `args` (e.g. `--user U --pass P`), ready when its
/// port answers with INFO.
pub fn nats(args: &[&str]) -> Nats {
    let dir = owned_dir("nats", "nats");
    let port = daemon::free_port();
    let mut cmd = as_user(NATS_SERVER, "nats");
    cmd.current_dir(&dir)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(args);
    let log = dir.join("nats.log");
    let pid = daemon::spawn(cmd, libc::SIGTERM, &log);
    wait_for_greeting(port, b"INFO ", pid, &log);
    Nats { port }
}

/// NATS with TLS required, the test CA's server certificate; with
/// `client_certs`, client certificates signed by the test CA required too.
pub fn nats_tls(client_certs: bool) -> Nats {
    let dir = owned_dir("nats-certs", "nats");
    let path = |f: &str| dir.join(f).display().to_string();
    let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
    let mut args = vec![
        "--tls",
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
        "--user",
        NATS_USER,
        "--pass",
        NATS_PASSWORD,
    ];
    if client_certs {
        args.extend(["--tlscacert", &ca, "--tlsverify"]);
    }
    nats(&args)
}

/// A memcached server on a fresh loopback port.
pub fn memcached() -> u16 {
    let dir = owned_dir("memcached", "memcache");
    let port = daemon::free_port();
    let mut cmd = as_user(MEMCACHED, "memcache");
    cmd.args([
        "-l",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "0",
        "-m",
        "16",
    ]);
    let log = dir.join("memcached.log");
    let pid = daemon::spawn(cmd, libc::SIGTERM, &log);
    let answered = super::wait_until(Duration::from_secs(20), || {
        exchange(port, b"version\r\n").starts_with(b"VERSION ")
    });
    assert!(
        answered,
        "memcached {pid} on port {port} not ready: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    port
}

/// Waits until a connection to `port` is greeted with `greeting`.
fn wait_for_greeting(port: u16, greeting: &[u8], pid: u32, log: &Path) {
    let ready = super::wait_until(Duration::from_secs(20), || {
        exchange(port, b"").starts_with(greeting)
    });
    assert!(
        ready,
        "server {pid} on port {port} not ready: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Sends `request` to 127.0.0.1:`port` and returns what came back within
/// half a second (nothing if the port is closed).
pub fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return Vec::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.write_all(request);
    let mut buf = [0; 512];
    match s.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}
