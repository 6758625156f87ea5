//! `berth install DIR`: the running executable copied to DIR/berth, mode
//! 0755, by rename (never a partial file), with clear errors.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::support::*;

const LIMIT: Duration = Duration::from_secs(15);

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-install-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

#[test]
fn installs_an_executable_copy_and_replaces_an_old_one() {
    let dir = temp_dir("ok");
    let dest = dir.join("berth");
    std::fs::write(&dest, "an old berth").unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A umask that would strip the execute bits: the mode is set anyway.
    let mut cmd = berth();
    cmd.arg("install").arg(&dir);
    // SAFETY: umask(2) is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o177);
            Ok(())
        });
    }
    let out = output_bounded(&mut cmd, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("berth: installed {}\n", dest.display())
    );
    let installed = std::fs::read(&dest).unwrap();
    assert_eq!(
        installed,
        std::fs::read(berth_path()).unwrap(),
        "not a copy of berth"
    );
    let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["berth"], "a temporary file was left behind");
    // The copy runs, and installs itself in turn.
    let out = output_bounded(std::process::Command::new(&dest).arg("--version"), LIMIT);
    assert!(
        text(&out.stdout).starts_with("berth "),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clear_errors_for_a_missing_or_unusable_directory() {
    let dir = temp_dir("errors");
    let missing = dir.join("missing");
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let cases = [
        (
            missing.clone(),
            "No such file or directory (create the directory",
        ),
        (file.clone(), "is not a directory"),
    ];
    for (target, needle) in cases {
        let out = output_bounded(berth().arg("install").arg(&target), LIMIT);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(
            err.contains(&target.display().to_string()) && err.contains(needle),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // A directory this user cannot write: nobody (65534) against root's 0755.
    let out = output_bounded(
        berth().arg("install").arg(&dir).uid(65534).gid(65534),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!(
            "cannot write {}: Permission denied",
            dir.join("berth").display()
        )),
        "{err}"
    );
    assert!(!dir.join("berth").exists());
    let out = output_bounded(berth().arg("install"), LIMIT);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
