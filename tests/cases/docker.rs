//! berth inside a real Docker engine: health status, `docker stop`, exit
//! codes, zombies, Docker's embedded DNS, `docker run --init` and compose.
//!
//! Images are built `FROM scratch` from the berth binary cargo built for
//! this run and Debian's static busybox (support::docker); nothing is
//! pulled. Without an engine these tests say so and skip, or fail when
//! `CI=true`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::docker::*;
use crate::support::{output_bounded, text};

/// busybox httpd serving /www on port 8080: an app that relies on the
/// default action of SIGTERM (it installs no handler for it).
const HTTPD: [&str; 7] = ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"];

/// Health status and the log of checks (exit code, JSON-quoted output),
/// one entry per line, oldest first.
fn health(d: &Docker, c: &str) -> (String, Vec<String>) {
    let s = d.inspect(
        c,
        "{{.State.Health.Status}}{{range .State.Health.Log}}\n{{.ExitCode}} {{json .Output}}{{end}}",
    );
    let mut lines = s.lines().map(String::from);
    let status = lines.next().unwrap_or_default();
    (status, lines.collect())
}

/// Waits until the container's health is `want`; returns the last check.
fn wait_health(d: &Docker, c: &str, want: &str, limit: Duration) -> String {
    let mut last = (String::new(), Vec::new());
    let reached = poll(limit, || {
        d.tick_health(c);
        last = health(d, c);
        last.0 == want
    });
    assert!(
        reached,
        "health of {c} not '{want}' within {limit:?}: {last:?}\nlogs:\n{}",
        d.logs(c)
    );
    last.1.last().cloned().unwrap_or_default()
}

fn wait_logs(d: &Docker, c: &str, needle: &str) {
    let seen = poll(Duration::from_secs(20), || d.logs(c).contains(needle));
    assert!(seen, "{c} never logged '{needle}':\n{}", d.logs(c));
}

#[test]
fn healthcheck_goes_starting_healthy_unhealthy_healthy() {
    if let Some(mut d) = Docker::new() {
        health_cycle(&mut d);
    }
}

/// Under any engine (tests/cases/podman.rs runs it under Podman).
pub(super) fn health_cycle(d: &mut Docker) {
    let base = d.base_image();
    let ctx = d.dir("health");
    // Docker's --timeout is above berth's, so berth reports its own reason
    // instead of being killed mid-check.
    let image = d.build(
        &ctx,
        &format!(
            "FROM {base}\n\
             HEALTHCHECK --interval=1s --timeout=3s --retries=1 \
             CMD [\"/berth\", \"check\", \"http\", \"http://127.0.0.1:8080/health\", \"--timeout\", \"2s\"]\n\
             ENTRYPOINT [\"/berth\", \"run\", \"--\"]\n\
             CMD {}\n",
            json_array(&HTTPD)
        ),
    );
    let t0 = Instant::now();
    let c = d.run_detached("health", &[&image]);
    assert_eq!(health(d, &c).0, "starting");

    let ok = wait_health(d, &c, "healthy", Duration::from_secs(20));
    let healthy_at = t0.elapsed();
    // `docker inspect` shows berth's one line: what, verdict, reason, time
    // (with its newline; Podman strips it).
    let newline = if d.engine == Engine::Docker {
        "\\n"
    } else {
        ""
    };
    assert!(
        ok.starts_with("0 \"http://127.0.0.1:8080/health: healthy, HTTP 200 (")
            && ok.ends_with(&format!(" ms){newline}\""))
            && ok.matches("\\n").count() == newline.len() / 2,
        "{ok}"
    );

    // The endpoint starts failing: busybox httpd answers 404.
    d.ok(&["exec", &c, "/bin/busybox", "mv", "/www/health", "/www/off"]);
    let bad = wait_health(d, &c, "unhealthy", Duration::from_secs(20));
    let unhealthy_at = t0.elapsed();
    assert!(
        bad.starts_with("1 \"http://127.0.0.1:8080/health: unhealthy, HTTP 404"),
        "{bad}"
    );

    // And recovers.
    d.ok(&["exec", &c, "/bin/busybox", "mv", "/www/off", "/www/health"]);
    wait_health(d, &c, "healthy", Duration::from_secs(20));
    eprintln!(
        "health: healthy after {healthy_at:.1?}, unhealthy at {unhealthy_at:.1?}, \
         healthy again at {:.1?}\n  {ok}\n  {bad}",
        t0.elapsed()
    );
}

/// A shell app that drains for 300 ms on SIGTERM, then exits 0.
const DRAINING_APP: &str = "trap 'echo draining; /bin/busybox sleep 0.3; echo drained; exit 0' TERM
echo ready
while true; do /bin/busybox sleep 1 & wait $!; done";

/// `docker stop` and the time it took.
fn timed_stop(d: &Docker, c: &str, extra: &[&str]) -> Duration {
    let mut args = vec!["stop"];
    args.extend_from_slice(extra);
    args.push(c);
    let t = Instant::now();
    d.ok(&args);
    t.elapsed()
}

#[test]
fn docker_stop_reaches_the_app_through_berth() {
    if let Some(mut d) = Docker::new() {
        stop_reaches_the_app(&mut d);
    }
}

/// Under any engine (tests/cases/podman.rs runs it under Podman).
pub(super) fn stop_reaches_the_app(d: &mut Docker) {
    let base = d.base_image();

    // An app with a SIGTERM handler: the stop takes its drain time.
    let drain = d.run_detached(
        "drain",
        &[&base, "/berth", "run", "--", "/bin/sh", "-c", DRAINING_APP],
    );
    wait_logs(d, &drain, "ready");
    let drain_took = timed_stop(d, &drain, &[]);
    let drain_code = d.exit_code(&drain, Duration::from_secs(5));
    let logs = d.logs(&drain);
    assert!(logs.contains("draining\ndrained\n"), "{logs}");
    assert_eq!(drain_code, 0, "the app's own exit code");
    // Exit 0, not docker's SIGKILL (137) at its 10 s stop timeout: the
    // signal reached the app, which drained and exited by itself.
    assert!(
        drain_took >= Duration::from_millis(300),
        "docker stop took {drain_took:?}; the app drains for 300 ms"
    );

    // An app that relies on SIGTERM's default action (busybox httpd).
    let httpd = d.run_detached("httpd", &cat(&[&base, "/berth", "run", "--"], &HTTPD));
    assert!(poll(Duration::from_secs(10), || d
        .inspect(&httpd, "{{.State.Running}}")
        == "true"));
    let httpd_took = timed_stop(d, &httpd, &[]);
    let httpd_code = d.exit_code(&httpd, Duration::from_secs(5));
    assert_eq!(httpd_code, 128 + 15, "killed by the forwarded SIGTERM");

    eprintln!(
        "{} stop with berth: draining app {drain_took:.2?} (exit {drain_code}), \
         busybox httpd {httpd_took:.2?} (exit {httpd_code})",
        d.engine.name()
    );
}

#[test]
fn docker_stop_without_an_init_stalls_until_sigkill() {
    let Some(mut d) = Docker::new() else { return };
    let base = d.base_image();
    // The same httpd as PID 1 itself: the kernel drops SIGTERM for a
    // namespace's PID 1 without a handler, so Docker waits its full 10 s
    // (the default, measured once here) and then SIGKILLs.
    let c = d.run_detached("noinit", &cat(&[&base], &HTTPD));
    assert!(poll(Duration::from_secs(10), || d
        .inspect(&c, "{{.State.Running}}")
        == "true"));
    let took = timed_stop(&d, &c, &[]);
    let code = d.exit_code(&c, Duration::from_secs(5));
    eprintln!("docker stop without an init: busybox httpd {took:.2?} (exit {code})");
    assert_eq!(code, 128 + 9, "SIGKILLed by Docker");
    assert!(took >= Duration::from_millis(9500), "{took:?}");
}

#[test]
fn exit_codes_pass_through_docker_run() {
    if let Some(mut d) = Docker::new() {
        exit_codes_pass_through(&mut d);
    }
}

/// Under any engine (tests/cases/podman.rs runs it under Podman).
pub(super) fn exit_codes_pass_through(d: &mut Docker) {
    let base = d.base_image();
    let cases: [(&[&str], i32); 6] = [
        (&["--", "/bin/sh", "-c", "exit 0"], 0),
        (&["--", "/bin/sh", "-c", "exit 3"], 3),
        (&["--", "/bin/sh", "-c", "kill -TERM $$"], 128 + 15),
        (&["--", "/bin/sh", "-c", "kill -KILL $$"], 128 + 9),
        (&["--", "/no/such/app"], 127),
        (&["--success-code", "3", "--", "/bin/sh", "-c", "exit 3"], 0),
    ];
    for (run_args, want) in cases {
        let name = d.container("code");
        let mut args = vec!["run", "--name", &name, &base, "/berth", "run"];
        args.extend_from_slice(run_args);
        let out = d.try_run(&args);
        assert_eq!(
            out.status.code(),
            Some(want),
            "docker {}\n{}",
            args.join(" "),
            text(&out.stderr)
        );
    }
}

/// Starts 5 orphans (each sleeps 2 s, its parent gone at once), then execs
/// a long sleep as the main process.
const ORPHANS: &str = "for i in 1 2 3 4 5; do (/bin/busybox sleep 2 &); done
echo spawned
exec /bin/busybox sleep 1000";

fn zombies(pid: i32) -> usize {
    descendants(pid).iter().filter(|p| p.state == 'Z').count()
}

#[test]
fn orphans_leave_no_zombies_under_berth() {
    if let Some(mut d) = Docker::new() {
        orphans_leave_no_zombies(&mut d);
    }
}

/// Under any engine (tests/cases/podman.rs runs it under Podman).
pub(super) fn orphans_leave_no_zombies(d: &mut Docker) {
    let base = d.base_image();

    let c = d.run_detached(
        "reap",
        &[&base, "/berth", "run", "--", "/bin/sh", "-c", ORPHANS],
    );
    wait_logs(d, &c, "spawned");
    let berth = d.host_pid(&c);
    assert_eq!(proc_stat(berth).unwrap().comm, "berth");
    // The orphans were re-parented to berth (PID 1)...
    assert!(
        poll(Duration::from_secs(5), || children(berth).len() == 6),
        "{:?}",
        descendants(berth)
    );
    // ...and once they exit, berth reaps them: only the app is left.
    let reaped = poll(Duration::from_secs(10), || {
        let kids = children(berth);
        kids.len() == 1 && kids[0].state != 'Z'
    });
    assert!(reaped, "left under berth: {:?}", descendants(berth));

    // Without an init the same container keeps 5 zombies: the test can fail.
    let bare = d.run_detached("zombie", &[&base, "/bin/sh", "-c", ORPHANS]);
    wait_logs(d, &bare, "spawned");
    let pid1 = d.host_pid(&bare);
    let piled = poll(Duration::from_secs(10), || zombies(pid1) == 5);
    assert!(piled, "expected 5 zombies: {:?}", descendants(pid1));
    eprintln!("zombies after 2 s: 0 under berth, 5 with sleep as PID 1");
}

#[test]
fn check_and_wait_reach_a_service_by_name_on_a_user_network() {
    if let Some(mut d) = Docker::new() {
        names_resolve_on_a_user_network(&mut d);
    }
}

/// Under any engine (tests/cases/podman.rs runs it under Podman).
pub(super) fn names_resolve_on_a_user_network(d: &mut Docker) {
    let base = d.base_image();
    let net = d.network();

    // A scratch image: no libc, no /etc/nsswitch.conf; Docker provides only
    // /etc/hosts and /etc/resolv.conf (pointing at its embedded DNS).
    let out = d.try_run(&[
        "run",
        "--rm",
        &base,
        "/bin/busybox",
        "test",
        "-e",
        "/etc/nsswitch.conf",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the image must have no nsswitch.conf"
    );

    // The client waits for "web" before that name even exists...
    let client = d.run_detached(
        "client",
        &[
            "--network",
            &net,
            &base,
            "/berth",
            "wait",
            "--timeout",
            "40s",
            "http://web:8080/health",
            "tcp://web:8080",
            "--",
            "/berth",
            "check",
            "http",
            "http://web:8080/health",
        ],
    );
    // ...then the server starts under that service name.
    let started = Instant::now();
    d.run_detached(
        "web",
        &cat(
            &["--network", &net, "--network-alias", "web", &base],
            &HTTPD,
        ),
    );
    let code = d.exit_code(&client, Duration::from_secs(45));
    let logs = d.logs(&client);
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("http://web:8080/health: healthy, HTTP 200"),
        "{logs}"
    );
    eprintln!(
        "berth wait saw web within {:.2?} of its start",
        started.elapsed()
    );

    // berth check tcp by name; and an unknown name is a clear failure.
    // A freshly started container's first lookup sometimes fails under
    // Podman 4.3 (aardvark-dns not yet serving it): retried within a
    // deadline, as any real client (and HEALTHCHECK's retries) would.
    let check_on_net = |args: &[&str]| {
        let mut run = vec!["run", "--rm", "--network", &net, &base, "/berth", "check"];
        run.extend_from_slice(args);
        d.try_run(&run)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = check_on_net(&["tcp", "web:8080"]);
        if out.status.code() == Some(0) || Instant::now() >= deadline {
            break out;
        }
        eprintln!("check tcp web:8080, retried: {}", text(&out.stdout).trim());
    };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = check_on_net(&["http", "http://nosuch:8080/"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    eprintln!("{}", text(&out.stdout).trim());
}

#[test]
fn berth_under_docker_run_init_is_a_subreaper() {
    if let Some(mut d) = Docker::new() {
        under_run_init_berth_is_a_subreaper(&mut d);
    }
}

/// Under any engine (tests/cases/podman.rs runs it under Podman).
pub(super) fn under_run_init_berth_is_a_subreaper(d: &mut Docker) {
    let base = d.base_image();

    // Exit codes pass through docker-init and berth.
    let name = d.container("init-code");
    let out = d.try_run(&[
        "run", "--init", "--name", &name, &base, "/berth", "run", "--", "/bin/sh", "-c", "exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));

    let script = "(/bin/busybox sleep 1000 &); echo ready; exec /bin/busybox sleep 1000";
    let c = d.run_detached(
        "init",
        &[
            "--init", &base, "/berth", "run", "--", "/bin/sh", "-c", script,
        ],
    );
    wait_logs(d, &c, "ready");
    let pid1 = d.host_pid(&c);
    assert_eq!(proc_stat(pid1).unwrap().comm, d.engine.init_name());
    let below = children(pid1);
    assert_eq!(below.len(), 1, "{below:?}");
    assert_eq!(below[0].comm, "berth");
    // The orphan is re-parented to berth (the subreaper), not docker-init.
    let berth = below[0].pid;
    assert!(
        poll(Duration::from_secs(5), || children(berth).len() == 2),
        "{:?}",
        descendants(pid1)
    );

    // The engine's init forwards SIGTERM to berth, berth to the app.
    let took = timed_stop(d, &c, &[]);
    let code = d.exit_code(&c, Duration::from_secs(5));
    eprintln!(
        "{} stop with --init and berth: {took:.2?} (exit {code})",
        d.engine.name()
    );
    // 143, not docker's SIGKILL (137) at its stop timeout.
    assert_eq!(code, 128 + 15);
}

/// An image with redis-server and the shared libraries `ldd` lists, copied
/// from this machine, plus /berth for the health check.
pub(super) fn redis_image(d: &mut Docker) -> String {
    let ctx = d.dir("redis");
    let root = ctx.join("rootfs");
    copy_with_libraries(&root, &["/usr/bin/redis-server"]);
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::copy(crate::support::berth_path(), root.join("berth")).unwrap();
    d.build(&ctx, "FROM scratch\nCOPY rootfs/ /\nWORKDIR /tmp\n")
}

/// Compose (v1, `docker-compose`: this machine has no `docker compose` v2
/// plugin). Redis runs from an image assembled from this machine's
/// redis-server; PostgreSQL is not run in the engine (its checks are tested
/// against real servers in check-db's tests).
#[test]
fn compose_depends_on_service_healthy_and_berth_env() {
    let Some(mut d) = Docker::new() else { return };
    let base = d.base_image();
    let redis = redis_image(&mut d);
    let dir = d.dir("compose");
    let file = dir.join("compose.yml");
    std::fs::write(
        &file,
        format!(
            r#"services:
  cache:
    image: {redis}
    entrypoint: ["/berth", "run", "--"]
    # A password: Redis refuses non-loopback clients without one
    # ("protected mode"). berth reads it from REDISCLI_AUTH.
    command: ["/usr/bin/redis-server", "--save", "", "--appendonly", "no", "--requirepass", "s3cret"]
    environment:
      REDISCLI_AUTH: s3cret
    healthcheck:
      test: ["CMD", "/berth", "check", "redis", "redis://127.0.0.1:6379"]
      interval: 1s
      timeout: 3s
      retries: 30
  api:
    image: {base}
    # Takes 2 s to come up, so "service_healthy" has something to wait for.
    entrypoint: ["/berth", "run", "--", "/bin/sh", "-c", "/bin/busybox sleep 2; exec \"$$@\"", "sh"]
    command: {httpd}
    healthcheck:
      test: ["CMD", "/berth", "check", "http", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 3s
      retries: 30
  app:
    image: {base}
    depends_on:
      cache:
        condition: service_healthy
      api:
        condition: service_healthy
    environment:
      BERTH_WAIT: "redis://cache:6379,http://api:8080/health"
      BERTH_WAIT_TIMEOUT: "20s"
      BERTH_PRE: |-
        /bin/busybox echo pre-step one
        /bin/busybox echo pre-step two
      BERTH_SUCCESS_CODE: "3"
      # The *_FILE convention, with a compose secret.
      REDISCLI_AUTH_FILE: /run/secrets/redis_password
    secrets: [redis_password]
    entrypoint: ["/berth", "run", "--"]
    command: ["/bin/sh", "-c", "echo app started; exit 3"]
secrets:
  redis_password:
    file: ./redis_password
"#,
            httpd = json_array(&HTTPD)
        ),
    )
    .unwrap();
    std::fs::write(dir.join("redis_password"), "s3cret\n").unwrap();
    let project = d.project(&file);
    let t = Instant::now();
    let out = d.compose(
        &file,
        &project,
        &["up", "--no-color", "--exit-code-from", "app"],
        Duration::from_secs(120),
    );
    let took = t.elapsed();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    // BERTH_SUCCESS_CODE=3 made the app's 3 a 0.
    assert_eq!(out.status.code(), Some(0), "{all}");
    let app: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split_once("| ").filter(|(p, _)| p.starts_with("app")))
        .map(|(_, l)| l)
        .collect();
    let pos = |s: &str| app.iter().position(|l| *l == s);
    assert!(
        pos("pre-step one") < pos("pre-step two")
            && pos("pre-step two") < pos("app started")
            && pos("pre-step one").is_some(),
        "{all}"
    );

    // The app started only after both dependencies' first healthy check.
    let id = |svc: &str| {
        let out = d.compose(&file, &project, &["ps", "-q", svc], Duration::from_secs(30));
        text(&out.stdout).trim().to_string()
    };
    let app_started = docker_time(&d.inspect(&id("app"), "{{.State.StartedAt}}"));
    for svc in ["cache", "api"] {
        let first_ok = d.inspect(
            &id(svc),
            "{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{json .End}}\n{{end}}{{end}}",
        );
        let first_ok = first_ok
            .lines()
            .next()
            .unwrap_or_else(|| panic!("{svc} never healthy"));
        assert!(
            docker_time(first_ok) <= app_started,
            "app started before {svc} was healthy ({first_ok})"
        );
    }
    eprintln!("compose up (build excluded) took {took:.1?}");
}

fn cat<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    a.iter().chain(b).copied().collect()
}

fn json_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The compose example is valid for Compose (`docker-compose config`, v1
/// here; it reads the file and needs no engine).
#[test]
fn example_compose_file_is_valid() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose.yml");
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_err()
    {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("docker-compose is needed under CI=true (apt-get install docker-compose)");
        }
        eprintln!("SKIPPED: no docker-compose on PATH; examples/compose.yml not validated");
        return;
    }
    let out = output_bounded(
        Command::new("docker-compose")
            .arg("-f")
            .arg(&file)
            .args(["config", "-q"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A Python with PyYAML: the one on PATH, or Debian's (python3-yaml).
fn python_with_yaml() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The compose and Kubernetes examples parse as YAML, and berth does every
/// check, wait and probe in them with a timeout below the orchestrator's.
#[test]
fn example_yaml_files_parse_and_use_berth() {
    let python = python_with_yaml().expect("PyYAML is needed: apt-get install python3-yaml");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let out = output_bounded(
        Command::new(python)
            .arg(crate::support::pidns::fixture("check_examples.py"))
            .arg(&examples),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The project's Dockerfile makes the `berth` image from a built binary,
/// and examples/Dockerfile.add-berth copies /berth out of it into another
/// image with a multi-stage `COPY --from=`.
#[test]
fn example_dockerfiles_build_and_copy_berth_in() {
    let Some(mut d) = Docker::new() else { return };
    let base = d.base_image();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");

    let ctx = d.dir("prebuilt");
    std::fs::copy(crate::support::berth_path(), ctx.join("berth")).unwrap();
    let dockerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let berth_image = d.build(&ctx, &dockerfile);
    let version = d.ok(&["run", "--rm", &berth_image, "--version"]);
    assert!(version.starts_with("berth "), "{version}");

    let ctx = d.dir("add-berth");
    let dockerfile = std::fs::read_to_string(examples.join("Dockerfile.add-berth")).unwrap();
    let tag = d.build_with(
        &ctx,
        &dockerfile,
        &[("BASE", &base), ("BERTH_IMAGE", &berth_image)],
    );
    let out = d.try_run(&[
        "run",
        "--rm",
        &tag,
        "/usr/local/bin/berth",
        "run",
        "--",
        "/bin/sh",
        "-c",
        "exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}
