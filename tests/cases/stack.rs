//! The example stack for real (examples/run-stack.sh): Compose with one and
//! with three backend replicas, and Docker Swarm with a rolled-back update.
//!
//! Each test builds the stack's images with the berth binary under test,
//! starts it, checks what the example promises, and takes it down; the
//! guard (support::stack) takes it down also when a step fails. Every step
//! is bounded in time. They need a Docker engine (with `CI=true` a missing
//! one fails) and reach Debian's and PyPI's registries for the images.

use std::time::Duration;

use crate::support::docker::{Docker, poll};
use crate::support::stack::{FIRST_UP_LIMIT, STEP_LIMIT, Stack};
use crate::support::text;

const SERVICES: [&str; 5] = ["db", "cache", "backend", "frontend", "nginx"];

/// Every entry of the container's health log is berth's one line
/// ("TARGET: healthy|unhealthy, REASON (N ms)"; a replica still waiting for
/// the lock fails its first checks, within the start period), the last one
/// healthy, and the container is healthy.
fn assert_berth_health_log(d: &Docker, id: &str) {
    let name = d.inspect(id, "{{.Name}}");
    let status = d.inspect(id, "{{.State.Health.Status}}");
    assert_eq!(status, "healthy", "{name}");
    let log = d.inspect(id, "{{range .State.Health.Log}}{{json .Output}}\n{{end}}");
    let entries: Vec<&str> = log.lines().collect();
    assert!(!entries.is_empty(), "{name}: no health checks ran");
    assert!(
        entries.last().unwrap().contains(": healthy, "),
        "{name}: last check not healthy: {entries:?}"
    );
    for entry in entries {
        // JSON-quoted: exactly one line, berth's format.
        let inner = entry.trim_matches('"');
        let line = inner
            .strip_suffix("\\n")
            .unwrap_or_else(|| panic!("{name}: not one line: {entry}"));
        assert!(
            !line.contains("\\n")
                && (line.contains(": healthy, ") || line.contains(": unhealthy, "))
                && line.ends_with(" ms)")
                && (line.starts_with("http://127.0.0.1")
                    || line.starts_with("postgres://app@127.0.0.1/app")
                    || line.starts_with("redis://127.0.0.1:6379")),
            "{name}: not berth's one line: {entry}"
        );
    }
}

/// Every service is up and healthy, with berth's lines in its health log.
fn assert_all_healthy(s: &Stack, backends: usize) {
    for svc in SERVICES {
        let ids = s.containers(svc);
        let want = if svc == "backend" { backends } else { 1 };
        assert_eq!(ids.len(), want, "containers of {svc}: {ids:?}");
        for id in ids {
            assert_berth_health_log(&s.docker, &id);
        }
    }
}

/// The API through nginx writes to PostgreSQL and Redis and reads back;
/// the frontend's page (through nginx too) shows the API's answer.
fn assert_api_through_nginx(s: &Stack) {
    let (code, body) = s.http("POST", "/api/visits");
    assert_eq!(code, 201, "{body}");
    assert!(
        body.contains("\"counter\":1") && body.contains("\"rows\":1"),
        "{body}"
    );
    let (code, body) = s.http("POST", "/api/visits");
    assert_eq!(code, 201, "{body}");
    assert!(
        body.contains("\"counter\":2") && body.contains("\"rows\":2"),
        "{body}"
    );
    let (code, body) = s.http("GET", "/api/visits");
    assert_eq!((code, body.trim()), (200, "{\"counter\":2,\"rows\":2}"));
    let (code, page) = s.http("GET", "/");
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("API says: <code>{\"counter\":2,\"rows\":2}</code>"),
        "{page}"
    );
}

/// `down` stopped every container through its own shutdown: the script
/// lists each one's exit code before removing it, and a 137 (or any code
/// but 0) would be Docker's SIGKILL after the stop timeout or a failed
/// drain. Then nothing of the project is left.
fn assert_down_clean(s: &mut Stack) {
    let out = s.script(&["down"], STEP_LIMIT);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let exits: Vec<&str> = err.lines().filter(|l| l.contains(" exit ")).collect();
    assert!(exits.len() >= SERVICES.len(), "{err}");
    for line in &exits {
        assert!(
            line.contains(" exit 0 at "),
            "not a clean stop: {line}\n{err}"
        );
    }
    let project = format!("label=com.docker.compose.project={}", s.project);
    for what in ["ps -aq", "network ls -q", "volume ls -q"] {
        let mut args: Vec<&str> = what.split(' ').collect();
        args.extend(["--filter", &project]);
        assert_eq!(s.docker.ok(&args), "", "docker {what} after down");
    }
    let images = s.docker.ok(&["images", "-q", &format!("{}-*", s.project)]);
    assert_eq!(images, "", "images left after down");
}

/// `scale 3` on a fresh stack: every service healthy with berth's health
/// lines, three backend replicas that ran `alembic upgrade head` under the
/// lock (applied once, the others waited), the API through nginx, and a
/// `down` in which every container stops through its own shutdown. (`up` is
/// the same with one replica.)
#[test]
fn compose_stack_three_replicas_migrate_once_serve_and_stop_cleanly() {
    let Some(mut s) = Stack::new() else { return };
    let out = s.ok(&["scale", "3"], FIRST_UP_LIMIT);
    // The script's own report: each service's last health line.
    for svc in SERVICES {
        assert!(
            out.contains(&format!("_{svc}_1 ")) || out.contains(&format!("-{svc}-1 ")),
            "{out}"
        );
    }
    assert_all_healthy(&s, 3);

    let logs: Vec<String> = s
        .containers("backend")
        .iter()
        .map(|id| s.docker.logs(id))
        .collect();
    let all = logs.join("\n----\n");
    // Alembic's own log line for applying revision 0001: one replica only.
    let applied = logs
        .iter()
        .filter(|l| l.contains("Running upgrade  -> 0001"))
        .count();
    assert_eq!(applied, 1, "{all}");
    // Each replica took the lock in turn. The replicas start together (their
    // dependencies are already healthy), so all but the first wait for
    // the Alembic run of those before them; berth's "holding" line says how
    // long (rounded down to 100 ms; a wait past a second also prints a
    // "waiting for" line, but a warm Alembic run can take less).
    let took = logs
        .iter()
        .filter(|l| l.contains("berth: holding the pre-start lock 'berth-pre'"))
        .count();
    assert_eq!(took, 3, "{all}");
    let waited = logs
        .iter()
        .filter(|l| {
            l.lines().any(|line| {
                line.contains("berth: holding the pre-start lock 'berth-pre'")
                    && !line.ends_with("(waited 0s)")
            })
        })
        .count();
    assert!(waited >= 1, "no replica waited for the lock:\n{all}");

    // The database agrees: one table, at revision 0001.
    let db = &s.containers("db")[0];
    let sql = |q: &str| {
        s.docker
            .ok(&["exec", db, "psql", "-U", "app", "-d", "app", "-tAc", q])
    };
    assert_eq!(sql("SELECT version_num FROM alembic_version"), "0001");
    assert_eq!(
        sql("SELECT count(*) FROM pg_tables WHERE tablename = 'visits'"),
        "1"
    );
    assert_api_through_nginx(&s);
    assert_down_clean(&mut s);
}

/// The same file on a single-node Swarm: 3 backend replicas, a good update
/// rolls out one replica at a time, and an update whose health check fails
/// is rolled back by Swarm itself.
#[test]
fn swarm_stack_rolls_out_healthy_updates_and_rolls_back_a_failing_one() {
    let Some(mut s) = Stack::new() else { return };
    s.ok(&["swarm"], FIRST_UP_LIMIT);
    assert_all_healthy(&s, 3);
    let (code, body) = s.http("POST", "/api/visits");
    assert_eq!(code, 201, "{body}");
    let service = format!("{}_backend", s.project);
    let d = Docker::new().unwrap();
    let update_state = |d: &Docker| {
        d.inspect(
            &service,
            "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        )
    };
    let wait_state = |d: &Docker, want: &str| {
        let mut last = String::new();
        let reached = poll(Duration::from_secs(300), || {
            last = update_state(d);
            last == want
        });
        let tasks = d.ok(&["service", "ps", "--no-trunc", &service]);
        assert!(
            reached,
            "update of {service}: '{last}', not '{want}'\n{tasks}"
        );
    };

    // A good update: the three replicas are replaced one at a time
    // (parallelism 1), so the new tasks started one after another.
    d.ok(&[
        "service",
        "update",
        "--detach",
        "--env-add",
        "RELEASE=2",
        &service,
    ]);
    wait_state(&d, "completed");
    let mut started: Vec<f64> = Vec::new();
    let replaced = poll(Duration::from_secs(120), || {
        let ids = s.containers("backend");
        started.clear();
        for id in &ids {
            let env = d.inspect(id, "{{json .Config.Env}}");
            if !env.contains("RELEASE=2") {
                return false;
            }
            let at = d.inspect(id, "{{json .State.StartedAt}}");
            started.push(crate::support::docker::docker_time(&at));
        }
        ids.len() == 3
    });
    assert!(
        replaced,
        "{}",
        d.ok(&["service", "ps", "--no-trunc", &service])
    );
    started.sort_by(f64::total_cmp);
    assert!(
        started.windows(2).all(|w| w[0] < w[1]),
        "new tasks not started one at a time: {started:?}"
    );
    // nginx finds the replaced tasks (new addresses) through Docker's DNS.
    let (code, body) = s.http("GET", "/api/visits");
    assert_eq!(code, 200, "{body}");

    // A broken update: the new task's health check fails (here it checks a
    // port nothing listens on), Swarm stops the update and rolls back.
    let good_check = d.inspect(
        &service,
        "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}}",
    );
    d.ok(&[
        "service",
        "update",
        "--detach",
        "--health-cmd",
        "berth check http http://127.0.0.1:8001/healthz --timeout 2s",
        "--health-interval",
        "2s",
        "--health-retries",
        "2",
        "--health-start-period",
        "0s",
        &service,
    ]);
    wait_state(&d, "rollback_completed");
    let check = d.inspect(
        &service,
        "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}}",
    );
    assert_eq!(check, good_check);
    assert!(
        poll(Duration::from_secs(120), || {
            d.ok(&[
                "service",
                "ls",
                "--filter",
                &format!("name={service}"),
                "--format",
                "{{.Replicas}}",
            ]) == "3/3"
        }),
        "{}",
        d.ok(&["service", "ps", "--no-trunc", &service])
    );
    let (code, body) = s.http("GET", "/api/visits");
    assert_eq!(code, 200, "{body}");

    let out = s.script(&["swarm-down"], STEP_LIMIT);
    assert!(out.status.success());
    let left = s.docker.ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.stack.namespace={}", s.project),
    ]);
    assert_eq!(left, "");
}
