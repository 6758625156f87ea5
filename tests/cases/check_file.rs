//! berth check file: heartbeat files with explicit modification times (set
//! with utimensat through std's `File::set_modified`, never by sleeping),
//! and `file://` as a wait target.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::check_http::{check, healthy, unhealthy, usage_error};
use crate::support::daemon::temp_dir;
use crate::support::*;

/// Creates `path` with its modification time `age` in the past.
fn beat(path: &Path, age: Duration) {
    let f = File::create(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn heartbeat_fresh_stale_and_missing() {
    let dir = temp_dir("check-file");
    let path = dir.join("beat");
    let p = path.to_str().unwrap();

    beat(&path, Duration::from_secs(5));
    let run = check(&["file", p, "--max-age", "1m"]);
    healthy(&run, "exists, modified 5s ago");
    assert!(
        run.stdout.starts_with(&format!("file {p}: healthy")),
        "{}",
        run.stdout
    );

    beat(&path, Duration::from_secs(300));
    unhealthy(
        &check(&["file", p, "--max-age", "1m"]),
        "modified 5m ago, more than --max-age 1m",
    );
    // Without --max-age only existence counts.
    healthy(&check(&["file", p]), "exists, modified 5m ago");

    std::fs::remove_file(&path).unwrap();
    unhealthy(&check(&["file", p]), "no such file");
}

#[test]
fn file_usage_errors() {
    usage_error(
        &check(&["file", "/tmp/x", "--max-age", "soon"]),
        "--max-age 'soon'",
    );
    usage_error(&check(&["file", ""]), "path is empty");
}

#[test]
fn wait_for_a_file_to_appear() {
    let dir = temp_dir("wait-file");
    let path = dir.join("ready");
    let url = format!("file://{}", path.display());
    let mut child = berth()
        .args(["wait", "--timeout", "30s", &url])
        .spawn()
        .unwrap();
    // The file does not exist yet, so berth is necessarily still waiting.
    assert!(child.try_wait().unwrap().is_none());
    File::create(&path).unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn wait_for_a_fresh_heartbeat_times_out_on_a_stale_one() {
    let dir = temp_dir("wait-file-stale");
    let path = dir.join("beat");
    beat(&path, Duration::from_secs(600));
    let url = format!("file://{}?max-age=1m", path.display());
    let out = output_bounded(
        berth().args(["wait", "--timeout", "300ms", &url]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("more than --max-age 1m"),
        "{}",
        text(&out.stderr)
    );
}
