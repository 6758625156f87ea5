//! A real container engine for end-to-end tests: Docker, and Podman
//! rootful and rootless ([`Engine`]); the same cases run under each.
//!
//! Nothing is pulled: every image is built `FROM scratch` from files this
//! machine has (the berth binary cargo built for this test run, Debian's
//! static busybox, or a server binary with the libraries `ldd` lists).
//! Every name is unique to the test (`berth-test-<pid>-<n>`), and [`Docker`]
//! is a guard whose `Drop` removes the containers, compose projects,
//! networks, images and build directories the test created, also when the
//! test panics. Every engine call is bounded in time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{output_bounded, text};

/// The default bound for one engine command (a build on fuse-overlayfs
/// takes a few seconds; a hung engine must not hang the test).
pub const DOCKER_LIMIT: Duration = Duration::from_secs(120);

/// The unprivileged user rootless Podman runs as (scripts/setup.sh creates
/// it, with subordinate uid and gid ranges for its user namespace).
pub const ROOTLESS_USER: &str = "berth-podman";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (process) uses.
pub fn unique(what: &str) -> String {
    format!(
        "berth-test-{}-{}-{what}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Which engine a test drives. Their command lines are the same for what
/// the tests do; the differences are here:
/// - Podman builds with `--format docker`, or the image loses HEALTHCHECK;
/// - Podman runs health checks from systemd timers, and this machine has no
///   systemd: [`Docker::tick_health`] runs one with `podman healthcheck run`;
/// - Podman's `--init` is catatonit, Docker's is docker-init (tini);
/// - rootless Podman runs as [`ROOTLESS_USER`] with `--network none` added
///   to every `run`: its networking needs /dev/net/tun, which only root may
///   open here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
    RootlessPodman,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::RootlessPodman => "rootless podman",
        }
    }

    /// The engine's client, ready for its arguments.
    pub fn command(self) -> Command {
        match self {
            Engine::Docker => Command::new("docker"),
            Engine::Podman => Command::new("podman"),
            Engine::RootlessPodman => {
                let mut c = Command::new("runuser");
                // runuser sets HOME and USER for the user; podman then keeps
                // its images and run state under the user's own directories.
                c.args(["-u", ROOTLESS_USER, "--", "podman"])
                    .current_dir("/");
                c
            }
        }
    }

    /// The command name of PID 1 under `run --init`: Docker's tini is
    /// docker-init, Podman's catatonit is mounted as /run/podman-init.
    pub fn init_name(self) -> &'static str {
        match self {
            Engine::Docker => "docker-init",
            _ => "podman-init",
        }
    }
}

/// Whether the engine answers. Without one the test says so plainly and
/// passes as skipped, except under `CI=true`, where it fails: CI must never
/// report a pass for tests that did not run.
fn engine_answers(engine: Engine) -> bool {
    let client = if engine == Engine::Docker {
        "docker"
    } else {
        "podman"
    };
    let why = match Command::new(client).arg("--version").output() {
        Err(e) => format!("no {client} client on PATH ({e})"),
        Ok(_) => {
            let version = match engine {
                Engine::Docker => "{{.ServerVersion}}",
                _ => "{{.Version.Version}}",
            };
            let out = output_bounded(
                engine.command().args(["info", "--format", version]),
                Duration::from_secs(60),
            );
            if out.status.success() {
                return true;
            }
            format!(
                "`{client} info` failed: {}",
                text(&out.stderr).trim().lines().last().unwrap_or("")
            )
        }
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "no {} engine answers, and CI=true makes that a failure: {why}",
            engine.name()
        );
    }
    eprintln!(
        "SKIPPED: no {} engine answers ({why}); this test did not run \
         (with CI=true it fails)",
        engine.name()
    );
    false
}

/// One test's handle on the engine; removes what the test created on drop.
pub struct Docker {
    pub engine: Engine,
    containers: Vec<String>,
    images: Vec<String>,
    networks: Vec<String>,
    /// (compose file, project name)
    projects: Vec<(PathBuf, String)>,
    dirs: Vec<PathBuf>,
}

impl Docker {
    /// Docker; `None` (after saying why) when no engine answers and CI is
    /// not set.
    pub fn new() -> Option<Docker> {
        Docker::on(Engine::Docker)
    }

    /// The given engine, or `None` as for [`Docker::new`].
    pub fn on(engine: Engine) -> Option<Docker> {
        if !engine_answers(engine) {
            return None;
        }
        Some(Docker {
            engine,
            containers: Vec::new(),
            images: Vec::new(),
            networks: Vec::new(),
            projects: Vec::new(),
            dirs: Vec::new(),
        })
    }

    /// Runs `ENGINE ARGS`, bounded, and returns its output whatever the
    /// status. Under rootless Podman a `run` gets `--network none`.
    pub fn try_run(&self, args: &[&str]) -> Output {
        let mut cmd = self.engine.command();
        match args.split_first() {
            Some((&"run", rest)) if self.engine == Engine::RootlessPodman => {
                cmd.args(["run", "--network", "none"]).args(rest)
            }
            _ => cmd.args(args),
        };
        output_bounded(&mut cmd, DOCKER_LIMIT)
    }

    /// Runs `ENGINE ARGS`, which must succeed; returns trimmed stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.try_run(args);
        assert!(
            out.status.success(),
            "{} {} failed ({}):\n{}{}",
            self.engine.name(),
            args.join(" "),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    }

    /// A fresh directory, removed on drop.
    pub fn dir(&mut self, what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(unique(what));
        std::fs::create_dir_all(&dir).unwrap();
        self.dirs.push(dir.clone());
        dir
    }

    /// A container name registered for removal: pass it to `docker run --name`.
    pub fn container(&mut self, what: &str) -> String {
        let name = unique(what);
        self.containers.push(name.clone());
        name
    }

    /// A user-defined bridge network (it has Docker's embedded DNS).
    pub fn network(&mut self) -> String {
        let name = unique("net");
        self.ok(&["network", "create", &name]);
        self.networks.push(name.clone());
        name
    }

    /// A compose project name, brought `down -v` on drop.
    pub fn project(&mut self, file: &Path) -> String {
        // Compose v1 lowercases and strips project names; keep it plain.
        let name = unique("proj").replace('-', "");
        self.projects.push((file.to_path_buf(), name.clone()));
        name
    }

    /// Builds `dockerfile` in `context` as a new image; returns its tag.
    pub fn build(&mut self, context: &Path, dockerfile: &str) -> String {
        self.build_with(context, dockerfile, &[])
    }

    /// Like [`Docker::build`], with `--build-arg NAME=VALUE` for each pair.
    pub fn build_with(
        &mut self,
        context: &Path,
        dockerfile: &str,
        build_args: &[(&str, &str)],
    ) -> String {
        std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
        let tag = unique("img");
        // Registered before building, so a half-built tag is removed too.
        self.images.push(tag.clone());
        let mut cmd = self.engine.command();
        if self.engine != Engine::Docker {
            // Podman's default (OCI) format has no HEALTHCHECK.
            cmd.args(["build", "--format", "docker"]);
        } else {
            // The classic builder: this engine has no BuildKit plugin,
            // and scratch images need nothing else.
            cmd.env("DOCKER_BUILDKIT", "0").arg("build");
        }
        let out = output_bounded(
            cmd
                // No cache: every test builds the same base image at about
                // the same time, and a cache hit on another test's image
                // races with that test removing it when it ends ("No such
                // image" while tagging: the Docker build that failed once on
                // a fresh CI run).
                .args(["--no-cache", "-q", "-t", &tag])
                .args(
                    build_args
                        .iter()
                        .flat_map(|(k, v)| ["--build-arg".to_string(), format!("{k}={v}")]),
                )
                .arg(context),
            DOCKER_LIMIT,
        );
        assert!(
            out.status.success(),
            "{} build failed:\n{dockerfile}\n{}",
            self.engine.name(),
            text(&out.stderr)
        );
        tag
    }

    /// The image every case starts from: `FROM scratch` with `/berth` (the
    /// binary under test), busybox as `/bin/sh` and friends, and `/www/health`
    /// for busybox httpd to serve. No /etc/nsswitch.conf, no libc.
    pub fn base_image(&mut self) -> String {
        let ctx = self.dir("ctx");
        let root = ctx.join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("www")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::copy(super::berth_path(), root.join("berth")).unwrap();
        std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
        for applet in ["sh", "sleep", "echo", "cat", "mv", "ls", "httpd"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        std::fs::write(root.join("www/health"), "ok\n").unwrap();
        // Content of its own, so no two tests' images share a layer either:
        // one test's `docker rmi` never touches what another one built.
        std::fs::write(
            root.join("tmp/.berth-test-image"),
            &ctx.to_string_lossy()[..],
        )
        .unwrap();
        self.build(&ctx, "FROM scratch\nCOPY rootfs/ /\n")
    }

    /// `docker run -d --name NAME ARGS...`: returns the registered name.
    pub fn run_detached(&mut self, what: &str, args: &[&str]) -> String {
        let name = self.container(what);
        let mut all = vec!["run", "-d", "--name", &name];
        all.extend_from_slice(args);
        self.ok(&all);
        name
    }

    /// Podman without systemd runs no health check by itself: run one now
    /// (`podman healthcheck run`). Docker runs them on its own schedule.
    pub fn tick_health(&self, name: &str) {
        if self.engine != Engine::Docker {
            let _ = self.try_run(&["healthcheck", "run", name]);
        }
    }

    /// `docker inspect -f FORMAT NAME`.
    pub fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name])
    }

    /// The host pid of the container's PID 1.
    pub fn host_pid(&self, name: &str) -> i32 {
        self.inspect(name, "{{.State.Pid}}").parse().unwrap()
    }

    /// Waits (bounded) until the container has exited; returns its exit code.
    pub fn exit_code(&self, name: &str, limit: Duration) -> i32 {
        let exited = poll(limit, || {
            self.inspect(name, "{{.State.Status}}") == "exited"
        });
        assert!(exited, "container {name} still running after {limit:?}");
        self.inspect(name, "{{.State.ExitCode}}").parse().unwrap()
    }

    /// Everything the container wrote to stdout and stderr.
    pub fn logs(&self, name: &str) -> String {
        let out = self.try_run(&["logs", name]);
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }

    /// `docker-compose -p PROJECT -f FILE ARGS...`, bounded by `limit`.
    /// (This machine has Compose v1, `docker-compose`; there is no
    /// `docker compose` v2 plugin.)
    pub fn compose(&self, file: &Path, project: &str, args: &[&str], limit: Duration) -> Output {
        output_bounded(
            Command::new("docker-compose")
                .arg("-p")
                .arg(project)
                .arg("-f")
                .arg(file)
                .args(args),
            limit,
        )
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // Best effort, in dependency order; errors (already gone) are fine.
        for (file, project) in &self.projects {
            let _ = self.compose(
                file,
                project,
                &["down", "-v", "--remove-orphans", "-t", "1"],
                DOCKER_LIMIT,
            );
        }
        if !self.containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(self.containers.iter().map(String::as_str));
            let _ = self.try_run(&args);
        }
        for net in &self.networks {
            let _ = self.try_run(&["network", "rm", net]);
        }
        if !self.images.is_empty() {
            // Only our tags: an image another test also tagged stays for it.
            let mut args = vec!["rmi", "-f"];
            args.extend(self.images.iter().map(String::as_str));
            let _ = self.try_run(&args);
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Copies `binaries` from this machine into the image root `root` at the
/// same paths, with the shared libraries `ldd` lists for them.
pub fn copy_with_libraries(root: &Path, binaries: &[&str]) {
    let mut files: Vec<PathBuf> = Vec::new();
    for binary in binaries {
        let out = output_bounded(Command::new("ldd").arg(binary), Duration::from_secs(10));
        assert!(out.status.success(), "ldd {binary}: is it installed?");
        files.push(PathBuf::from(binary));
        for line in text(&out.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let path = line.split("=>").last().unwrap().split_whitespace().next();
            if let Some(p) = path.filter(|p| p.starts_with('/')) {
                files.push(PathBuf::from(p));
            }
        }
    }
    for f in &files {
        let to = root.join(f.strip_prefix("/").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(f, &to).unwrap_or_else(|e| panic!("copy {}: {e}", f.display()));
    }
}

/// Debian's static busybox (`apt-get install busybox-static`).
pub fn busybox() -> &'static str {
    let path = "/bin/busybox";
    let out = Command::new("file").args(["-L", path]).output();
    let is_static = out.is_ok_and(|o| text(&o.stdout).contains("statically linked"));
    assert!(
        is_static,
        "{path} must be a static busybox for FROM scratch images: apt-get install busybox-static"
    );
    path
}

/// Polls `cond` every 100 ms (each poll spawns `docker`) until it holds or
/// `limit` passes.
pub fn poll(limit: Duration, cond: impl FnMut() -> bool) -> bool {
    super::poll_every(limit, Duration::from_millis(100), cond)
}

/// One process as the host's /proc shows it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    /// R, S, D, Z (zombie), ...
    pub state: char,
    pub comm: String,
}

/// Reads /proc/PID/stat; `None` once the process is gone.
pub fn proc_stat(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself hold ") ".
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let mut rest = stat[close + 2..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some(Proc {
        pid,
        state,
        comm: stat[open + 1..close].to_string(),
    })
}

/// The direct children of `pid` (of all its threads).
pub fn children(pid: i32) -> Vec<Proc> {
    let mut kids = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return kids;
    };
    for task in tasks.flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        kids.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .filter_map(proc_stat),
        );
    }
    kids
}

/// Every process below `pid`, depth first.
pub fn descendants(pid: i32) -> Vec<Proc> {
    let mut all = Vec::new();
    for child in children(pid) {
        let below = descendants(child.pid);
        all.push(child);
        all.extend(below);
    }
    all
}

/// Seconds since the epoch of a Docker timestamp such as
/// `2026-11-22T10:54:33.504033638Z` (always UTC from the engine), JSON
/// quotes allowed.
pub fn docker_time(stamp: &str) -> f64 {
    let (date, time) = stamp
        .trim()
        .trim_matches('"')
        .trim_end_matches('Z')
        .split_once('T')
        .unwrap_or_else(|| panic!("not a Docker timestamp: {stamp}"));
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<f64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days as f64 * 86_400.0 + t[0] * 3600.0 + t[1] * 60.0 + t[2]
}
