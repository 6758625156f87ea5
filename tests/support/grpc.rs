//! Real gRPC servers for the tests: Python's grpcio with the standard health
//! service (tests/fixtures/grpc_health_server.py), one process per kind,
//! started once per test run and stopped when it ends.
//!
//! grpcio comes from PyPI into a virtual environment under cargo's target
//! directory, made on first use. Parallel test processes (nextest runs one
//! per test) take an exclusive lock on a file beside it, so exactly one of
//! them installs and the others wait for it; later runs find it ready.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::{certs, daemon};

/// Versions the tests were written against (pinned: a test run on a fresh
/// machine gets the same server).
const PACKAGES: &[&str] = &["grpcio==1.85.3", "grpcio-health-checking==1.85.1"];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grpc_health_server.py")
}

/// The Python interpreter of the environment that has grpcio, installed on
/// first use.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let venv = base.join("grpc-venv");
        let python = venv.join("bin/python3");
        let lock = File::create(base.join("grpc-venv.lock")).unwrap();
        // SAFETY: flock(2) on a descriptor we own; released when `lock`
        // closes at the end of this closure.
        let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "cannot lock {}", base.display());
        let ready = venv.join("ready");
        if !ready.exists() {
            let _ = std::fs::remove_dir_all(&venv);
            daemon::run(
                Command::new(super::pidns::PYTHON)
                    .args(["-m", "venv"])
                    .arg(&venv),
                "python3 -m venv (Debian: apt-get install python3-venv)",
            );
            let out = super::output_bounded(
                Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(PACKAGES),
                Duration::from_secs(600),
            );
            assert!(
                out.status.success(),
                "pip install {PACKAGES:?} failed: {}",
                super::text(&out.stderr)
            );
            std::fs::write(&ready, PACKAGES.join("\n")).unwrap();
        }
        python
    })
}

/// How a test server is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Plain HTTP/2, health service with SERVING and NOT_SERVING services,
    /// on 127.0.0.1 and ::1.
    Plain,
    /// Plain HTTP/2 without the health service.
    NoHealth,
    /// Plain, and every call needs "authorization: Bearer s3cret".
    Token,
    /// TLS with the test CA's server certificate.
    Tls,
    /// TLS that also requires a client certificate signed by the test CA.
    MutualTls,
}

pub const TOKEN: &str = "s3cret";

/// The port of the server of `kind`, started on first use.
pub fn server(kind: Kind) -> u16 {
    static SERVERS: [OnceLock<u16>; 5] = [const { OnceLock::new() }; 5];
    *SERVERS[kind as usize].get_or_init(|| start(kind))
}

fn start(kind: Kind) -> u16 {
    let python = python();
    let dir = daemon::temp_dir("grpc");
    let port_file = dir.join("port");
    let mut cmd = Command::new(python);
    cmd.arg(fixture()).arg("--port-file").arg(&port_file);
    let c = certs::certs();
    match kind {
        Kind::Plain => {
            cmd.args(["--listen", "[::]:0"]);
        }
        Kind::NoHealth => {
            cmd.arg("--no-health");
        }
        Kind::Token => {
            cmd.args(["--token", TOKEN]);
        }
        Kind::Tls => {
            cmd.arg("--cert").arg(&c.cert).arg("--key").arg(&c.key);
        }
        Kind::MutualTls => {
            cmd.arg("--cert").arg(&c.cert).arg("--key").arg(&c.key);
            cmd.arg("--client-ca").arg(&certs::pki().client_ca);
        }
    }
    let log = dir.join("server.log");
    let pid = daemon::spawn(cmd, libc::SIGKILL, &log);
    let started = super::wait_until(Duration::from_secs(30), || port_file.exists());
    assert!(
        started,
        "gRPC test server ({kind:?}, pid {pid}) did not start in 30s: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
