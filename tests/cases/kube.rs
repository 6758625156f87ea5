//! examples/kubernetes played for real with `podman kube play` (rootful
//! Podman): PostgreSQL and Redis in pods of their own, the backend's
//! initContainer holding the app until both answer a login, the app under
//! `berth run --pre-lock`, its probes `berth check`, and `podman pod stop`
//! draining it; and `berth install` into an emptyDir for a shell-less image.
//!
//! The images are built here from this machine's files (the berth binary
//! under test, Debian's busybox, PostgreSQL 15 and redis-server with their
//! libraries, the example stack's PostgreSQL entrypoint); nothing is
//! pulled. Without Podman these say so and skip, or fail when `CI=true`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::docker::redis_image;
use crate::support::docker::{Docker, Engine, copy_with_libraries, poll};
use crate::support::postgres::BIN;

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/kubernetes")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn id(flag: &str, user: &str) -> String {
    let out = std::process::Command::new("id")
        .args([flag, user])
        .output()
        .expect("id");
    assert!(
        out.status.success(),
        "no user {user}: install postgresql-15"
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// PostgreSQL 15 from this machine, with the example stack's entrypoint
/// (examples/debian/postgres-entrypoint.sh) run by busybox's sh, and /berth.
fn postgres_image(d: &mut Docker) -> String {
    let ctx = d.dir("pg");
    let root = ctx.join("rootfs");
    copy_with_libraries(
        &root,
        &[&format!("{BIN}/postgres"), &format!("{BIN}/initdb")],
    );
    let tree = |from: &str| {
        let to = root.join(from.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let ok = std::process::Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(&to)
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "cp -a {from}");
    };
    tree("/usr/lib/postgresql/15/lib");
    tree("/usr/share/postgresql/15");
    tree("/usr/share/zoneinfo/UTC");
    for dir in ["bin", "etc", "usr/local/bin"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    // The entrypoint's mktemp and the server's socket, as the postgres user.
    for dir in ["tmp", "var/run/postgresql"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::set_permissions(root.join(dir), std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    std::fs::copy(crate::support::docker::busybox(), root.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "id", "chown", "chmod", "mktemp", "cat", "rm", "printf", "echo",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::copy(crate::support::berth_path(), root.join("berth")).unwrap();
    let entry =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/debian/postgres-entrypoint.sh");
    std::fs::copy(entry, root.join("usr/local/bin/docker-entrypoint.sh")).unwrap();
    // PGDATA, empty: the entrypoint initialises it at the first start.
    std::fs::create_dir_all(ctx.join("pghome/data")).unwrap();
    std::fs::set_permissions(
        ctx.join("pghome/data"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let (uid, gid) = (id("-u", "postgres"), id("-g", "postgres"));
    std::fs::write(
        root.join("etc/passwd"),
        format!("root:x:0:0::/:/bin/sh\npostgres:x:{uid}:{gid}::/pgdata:/bin/sh\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        format!("root:x:0:\npostgres:x:{gid}:\n"),
    )
    .unwrap();
    d.build(
        &ctx,
        &format!(
            "FROM scratch\n\
             COPY rootfs/ /\n\
             COPY --chown={uid}:{gid} pghome/ /pgdata/\n\
             ENV PATH={BIN}:/usr/local/bin:/bin PGDATA=/pgdata/data TZ=UTC LC_ALL=C\n"
        ),
    )
}

/// Plays `yaml` on a network of its own; `kube down` (which kills at
/// once) and the network's removal when the guard drops.
struct Played<'a> {
    d: &'a Docker,
    file: std::path::PathBuf,
    net: String,
}

impl<'a> Played<'a> {
    fn new(d: &'a mut Docker, yaml: &str, pods: &[&str]) -> Played<'a> {
        let net = d.network();
        let file = d.dir("kube").join("play.yaml");
        std::fs::write(&file, yaml).unwrap();
        let d: &'a Docker = d;
        let played = Played { d, file, net };
        let file = played.file.to_string_lossy().into_owned();
        // Pod names are the example's (they are its DNS names): pods of a
        // run that was killed before its guard dropped go first.
        let mut rm = vec!["pod", "rm", "-f"];
        rm.extend_from_slice(pods);
        let _ = d.try_run(&rm);
        d.ok(&["kube", "play", "--network", &played.net, &file]);
        played
    }
}

impl Drop for Played<'_> {
    fn drop(&mut self) {
        let _ = self
            .d
            .try_run(&["kube", "down", &self.file.to_string_lossy()]);
        // The guard's own network removal runs later, when nothing uses it.
    }
}

fn logs_contain(d: &Docker, c: &str, needle: &str, limit: Duration) -> bool {
    poll(limit, || d.logs(c).contains(needle))
}

#[test]
fn kube_play_holds_the_app_until_db_and_cache_log_in_then_drains() {
    let Some(mut d) = Docker::on(Engine::Podman) else {
        return;
    };
    let app = d.base_image();
    let pg = postgres_image(&mut d);
    let redis = redis_image(&mut d);
    let yaml = example("podman-play.yaml")
        .replace("image: berth-example/postgres", &format!("image: {pg}"))
        .replace("image: berth-example/redis", &format!("image: {redis}"))
        .replace("image: berth-example/app", &format!("image: {app}"));
    let t = Instant::now();
    let played = Played::new(&mut d, &yaml, &["db", "cache", "backend"]);
    let d = played.d;
    let played_in = t.elapsed();

    // The init container ran to its end (kept by the annotation) and said
    // that both logins worked; only then did the app start.
    let init = "backend-wait-for-deps";
    let code = d.exit_code(init, Duration::from_secs(150));
    let wait_log = d.logs(init);
    assert_eq!(code, 0, "{wait_log}");
    for ready in [
        "postgres://app@db:5432/app is ready",
        "redis://cache:6379 is ready",
    ] {
        assert!(wait_log.contains(ready), "{wait_log}");
    }
    let app_c = "backend-app";
    assert!(
        logs_contain(d, app_c, "serving", Duration::from_secs(60)),
        "{}",
        d.logs(app_c)
    );
    let init_end =
        crate::support::docker::docker_time(&d.inspect(init, "{{json .State.FinishedAt}}"));
    let app_start =
        crate::support::docker::docker_time(&d.inspect(app_c, "{{json .State.StartedAt}}"));
    assert!(
        init_end <= app_start,
        "the app started before the wait ended"
    );
    // The pre-step ran (under the lock) before the app.
    let app_log = d.logs(app_c);
    let (pre, serving) = (app_log.find("migrated"), app_log.find("serving"));
    assert!(pre.is_some() && pre < serving, "{app_log}");

    // Probes: kube play made the liveness probe the container's health
    // check; run it (no systemd timers here). It goes through /bin/sh -c in
    // Podman 4.3, which this image has.
    let healthy = poll(Duration::from_secs(30), || {
        d.tick_health(app_c);
        d.inspect(app_c, "{{.State.Health.Status}}") == "healthy"
    });
    let probe = d.inspect(app_c, "{{range .State.Health.Log}}{{.Output}}{{end}}");
    assert!(healthy, "{probe}");
    assert!(
        probe.contains("http://127.0.0.1:8080/health: healthy, HTTP 200"),
        "{probe}"
    );
    // The PostgreSQL image has busybox's sh: its probe runs as played.
    let c = "db-postgres";
    let healthy = poll(Duration::from_secs(30), || {
        d.tick_health(c);
        d.inspect(c, "{{.State.Health.Status}}") == "healthy"
    });
    let probe = d.inspect(c, "{{range .State.Health.Log}}{{.Output}}\n{{end}}");
    assert!(
        healthy && probe.contains("postgres://app@127.0.0.1:5432/app: healthy, "),
        "{c}: {probe}"
    );
    // The Redis image has no shell, so Podman 4.3's `/bin/sh -c` probe
    // cannot run there: its command is run as a kubelet would.
    let line = d.ok(&[
        "exec",
        "cache-redis",
        "/berth",
        "check",
        "redis://127.0.0.1:6379",
        "--timeout",
        "2s",
    ]);
    assert!(
        line.starts_with("redis://127.0.0.1:6379: healthy, PONG"),
        "{line}"
    );

    // `podman pod stop` gives the pod its grace period: berth forwards
    // SIGTERM, the app drains for 1 s and exits 0.
    let t = Instant::now();
    d.ok(&["pod", "stop", "-t", "10", "backend"]);
    let took = t.elapsed();
    let code = d.exit_code(app_c, Duration::from_secs(15));
    let app_log = d.logs(app_c);
    assert!(app_log.contains("draining\ndrained\n"), "{app_log}");
    assert_eq!(code, 0, "{app_log}");
    assert!(
        took >= Duration::from_secs(1),
        "pod stop took {took:?}; the app drains for 1 s"
    );
    eprintln!(
        "kube play: played in {played_in:.1?}, pod stop drained in {took:.2?} (exit {code})\n{}",
        wait_log.trim()
    );
}

#[test]
fn kube_play_berth_installed_into_an_emptydir_for_a_shell_less_image() {
    let Some(mut d) = Docker::on(Engine::Podman) else {
        return;
    };
    // The project's image: FROM scratch, /berth.
    let ctx = d.dir("berth-image");
    std::fs::copy(crate::support::berth_path(), ctx.join("berth")).unwrap();
    let dockerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let berth_image = d.build(&ctx, &dockerfile);
    // A third-party image: a static server binary and its files, no shell.
    let ctx = d.dir("shell-less");
    std::fs::create_dir_all(ctx.join("rootfs/www")).unwrap();
    std::fs::copy(
        crate::support::docker::busybox(),
        ctx.join("rootfs/busybox"),
    )
    .unwrap();
    std::fs::write(ctx.join("rootfs/www/health"), "ok\n").unwrap();
    let shell_less = d.build(&ctx, "FROM scratch\nCOPY rootfs/ /\n");
    let yaml = example("install.yaml")
        .replace(
            "image: berth-example/berth",
            &format!("image: {berth_image}"),
        )
        .replace(
            "image: berth-example/shell-less",
            &format!("image: {shell_less}"),
        );
    let played = Played::new(&mut d, &yaml, &["third-party"]);
    let d = played.d;
    let server = "third-party-server";
    assert!(
        poll(Duration::from_secs(30), || d
            .inspect(server, "{{.State.Running}}")
            == "true"),
        "{}",
        d.logs(server)
    );
    // The image has no shell: Podman 4.3's probe (`/bin/sh -c ...`) cannot
    // run there, so the probe's command is run as a kubelet runs it.
    let out = d.try_run(&["exec", server, "/bin/sh", "-c", "true"]);
    assert!(
        !out.status.success(),
        "the image was meant to have no shell"
    );
    let line = d.ok(&[
        "exec",
        server,
        "/opt/berth/berth",
        "check",
        "http://127.0.0.1:8081/health",
    ]);
    assert!(
        line.starts_with("http://127.0.0.1:8081/health: healthy, HTTP 200"),
        "{line}"
    );
    // berth is PID 1 of the server's container.
    let pid1 = d.host_pid(server);
    assert_eq!(
        crate::support::docker::proc_stat(pid1).unwrap().comm,
        "berth"
    );
    let t = Instant::now();
    d.ok(&["pod", "stop", "-t", "10", "third-party"]);
    let code = d.exit_code(server, Duration::from_secs(15));
    assert_eq!(
        code,
        128 + 15,
        "busybox httpd ends by the forwarded SIGTERM"
    );
    eprintln!(
        "install into an emptyDir: {line}; pod stop {:.2?}",
        t.elapsed()
    );
}
