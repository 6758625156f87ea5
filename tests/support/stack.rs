//! examples/run-stack.sh driven by the tests: the example stack (nginx,
//! Node frontend, Python backend with Alembic, PostgreSQL, Redis) under a
//! project name of its own, on a free port, with the berth binary under
//! test in every image.
//!
//! The stack tests take the engine's host port, CPU and (for Swarm) the
//! engine's swarm mode: [`Stack::new`] holds an exclusive file lock for the
//! guard's lifetime, so they run one at a time whatever runs them (nextest's
//! one process per test, or cargo test's threads). The base images built
//! from Debian's packages are the script's to cache: the first test of a run
//! on a fresh engine builds them, behind the script's own lock file, and the
//! others reuse them. `Drop` takes the stack down (Compose and Swarm), also
//! when the test panics.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::docker::{Docker, unique};
use super::{output_bounded, text};

/// `up` on a fresh engine: debootstrap, five base images from Debian's
/// packages, pip and npm installs. Later calls reuse the base images.
pub const FIRST_UP_LIMIT: Duration = Duration::from_secs(1800);
/// Any other script command (`down`, `swarm-down`).
pub const STEP_LIMIT: Duration = Duration::from_secs(300);

pub struct Stack {
    pub docker: Docker,
    /// Compose project, Swarm stack and image prefix.
    pub project: String,
    pub port: u16,
    berth_image: String,
    swarm: bool,
    _lock: std::fs::File,
}

impl Stack {
    /// `None` when no engine answers and CI is not set (as [`Docker::new`]).
    pub fn new() -> Option<Stack> {
        let docker = Docker::new()?;
        let lock = std::fs::File::create(std::env::temp_dir().join("berth-stack-tests.lock"))
            .expect("create the stack tests' lock file");
        // SAFETY: flock on a descriptor this function owns; blocks until
        // the other stack test (another process) drops its guard.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
        // Compose v1 keeps only [a-z0-9] of a project name.
        let project = unique("stack").replace('-', "");
        Some(Stack {
            docker,
            berth_image: unique("berth"),
            port: free_port(),
            project,
            swarm: false,
            _lock: lock,
        })
    }

    /// `examples/run-stack.sh ARGS`, bounded by `limit`; returns its output
    /// whatever its status (stderr carries the script's report).
    pub fn script(&mut self, args: &[&str], limit: Duration) -> Output {
        if args.first() == Some(&"swarm") {
            self.swarm = true;
        }
        let t = Instant::now();
        let out = output_bounded(
            Command::new(script())
                .args(args)
                .env("COMPOSE_PROJECT_NAME", &self.project)
                .env("IMAGES", &self.project)
                .env("BERTH_IMAGE", &self.berth_image)
                .env("BERTH_BIN", super::berth_path())
                .env("HTTP_PORT", self.port.to_string()),
            limit,
        );
        eprintln!(
            "run-stack.sh {} took {:.1?} ({}):\n{}",
            args.join(" "),
            t.elapsed(),
            out.status,
            text(&out.stderr)
        );
        out
    }

    /// Like [`Stack::script`], which must succeed; returns stdout.
    pub fn ok(&mut self, args: &[&str], limit: Duration) -> String {
        let out = self.script(args, limit);
        assert!(
            out.status.success(),
            "run-stack.sh {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// The ids of the running containers of `service` (Compose or Swarm).
    pub fn containers(&self, service: &str) -> Vec<String> {
        let label = if self.swarm {
            format!(
                "label=com.docker.swarm.service.name={}_{service}",
                self.project
            )
        } else {
            format!("label=com.docker.compose.service={service}")
        };
        let project = if self.swarm {
            format!("label=com.docker.stack.namespace={}", self.project)
        } else {
            format!("label=com.docker.compose.project={}", self.project)
        };
        self.docker
            .ok(&["ps", "-q", "--filter", &label, "--filter", &project])
            .lines()
            .map(String::from)
            .collect()
    }

    /// `curl` through nginx on the published port: (status, body).
    pub fn http(&self, method: &str, path: &str) -> (u16, String) {
        let out = output_bounded(
            Command::new("curl").args([
                "-sS",
                "--max-time",
                "10",
                "-X",
                method,
                "-w",
                "\n%{http_code}",
                &format!("http://127.0.0.1:{}{path}", self.port),
            ]),
            Duration::from_secs(20),
        );
        let all = text(&out.stdout);
        let (body, code) = all.rsplit_once('\n').unwrap_or(("", ""));
        assert!(
            out.status.success(),
            "curl {method} {path}: {}{all}",
            text(&out.stderr)
        );
        (code.parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Both are no-ops for what does not exist; each is bounded.
        if self.swarm {
            let _ = self.script(&["swarm-down"], STEP_LIMIT);
        }
        let _ = self.script(&["down"], STEP_LIMIT);
        let _ = self.docker.try_run(&["rmi", "-f", &self.berth_image]);
    }
}

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/run-stack.sh")
}

/// A port nothing listens on now, for the engine to publish nginx on.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
