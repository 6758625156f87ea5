//! File: the path exists and, with `--max-age`, was modified recently.
//!
//! For workers without a port (queue consumers, schedulers) that touch a
//! heartbeat file: the check that replaces `find /tmp/beat -mmin -1 | grep .`,
//! which needs a shell and findutils. As a wait target (`file:///path`), it
//! waits for a file to appear.

use std::time::{Duration, SystemTime};

use super::{Attempt, Probe};
use crate::cli::FileArgs;
use crate::target::Target;

pub struct File {
    path: String,
    /// `None`: any age (no `--max-age`, or 0).
    max_age: Option<Duration>,
}

impl File {
    pub fn from_args(args: FileArgs) -> Result<(File, Option<String>), String> {
        if args.path.is_empty() {
            return Err("the file path is empty".into());
        }
        let max_age = match args.max_age.as_deref() {
            Some(text) => crate::duration::parse(text, "--max-age")?,
            None => None,
        };
        Ok((
            File {
                path: args.path,
                max_age,
            },
            None,
        ))
    }

    /// `file:///path`, optionally `?max-age=DUR`, as `berth wait` gets it.
    pub fn from_target(target: Target) -> Result<File, String> {
        let local = match target.hosts.as_slice() {
            [] => true,
            [h] => h.name == "localhost" && h.port.is_none(),
            _ => false,
        };
        if !local
            || !target.path.starts_with('/')
            || target.user.is_some()
            || target.secret().is_some()
        {
            return Err("file URL: expected file:///ABSOLUTE/PATH, e.g. file:///tmp/ready".into());
        }
        let path = percent_encoding::percent_decode_str(&target.path)
            .decode_utf8()
            .map_err(|_| "file URL: the path is not valid UTF-8 once decoded".to_string())?
            .into_owned();
        let mut max = None;
        for (key, value) in target.params().map_err(|e| e.to_string())? {
            match key.as_str() {
                "max-age" => max = crate::duration::parse(&value, "max-age")?,
                _ => {
                    return Err(target
                        .unknown_param(&key, "file URLs take max-age=DUR")
                        .to_string());
                }
            }
        }
        Ok(File { path, max_age: max })
    }
}

impl Probe for File {
    fn describe(&self) -> String {
        format!("file {}", self.path)
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        attempt.phase("while reading the file's status");
        let meta = std::fs::metadata(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => format!("cannot stat it: {}", crate::exit::io_reason(&e)),
        })?;
        let kind = if meta.is_dir() { "directory, " } else { "" };
        let modified = meta
            .modified()
            .map_err(|e| format!("no modification time: {}", crate::exit::io_reason(&e)))?;
        verdict(modified, SystemTime::now(), self.max_age, kind)
    }
}

/// The verdict on a file modified at `modified`, seen at `now`.
fn verdict(
    modified: SystemTime,
    now: SystemTime,
    max_age: Option<Duration>,
    kind: &str,
) -> Result<String, String> {
    let age = match now.duration_since(modified) {
        Ok(age) => age,
        // Clocks differ (a file from another host, or a clock set back):
        // a heartbeat from the future is still a heartbeat.
        Err(ahead) => {
            return Ok(format!(
                "exists, {kind}modified {} in the future",
                round(ahead.duration())
            ));
        }
    };
    match max_age {
        Some(max) if age > max => Err(format!(
            "{kind}modified {} ago, more than --max-age {}",
            round(age),
            humantime::format_duration(max)
        )),
        _ => Ok(format!("exists, {kind}modified {} ago", round(age))),
    }
}

/// An age in words a reader takes in at once: whole seconds, or whole
/// milliseconds under a second.
fn round(d: Duration) -> humantime::FormattedDuration {
    let shown = if d < Duration::from_secs(1) {
        Duration::from_millis(d.as_millis() as u64)
    } else {
        Duration::from_secs(d.as_secs())
    };
    humantime::format_duration(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ago = |s: u64| now - Duration::from_secs(s);
        let min = Some(Duration::from_secs(60));
        assert_eq!(
            verdict(ago(5), now, min, ""),
            Ok("exists, modified 5s ago".into())
        );
        assert_eq!(
            verdict(ago(125), now, min, ""),
            Err("modified 2m 5s ago, more than --max-age 1m".into())
        );
        assert_eq!(
            verdict(ago(125), now, None, ""),
            Ok("exists, modified 2m 5s ago".into())
        );
        assert_eq!(
            verdict(now + Duration::from_secs(3), now, min, ""),
            Ok("exists, modified 3s in the future".into())
        );
        assert_eq!(
            verdict(now - Duration::from_millis(1500), now, min, ""),
            Ok("exists, modified 1s ago".into())
        );
    }

    #[test]
    fn urls() {
        let from_url = |u: &str| File::from_target(Target::parse(u).map_err(|e| e.to_string())?);
        let f = from_url("file:///run/app%20ready?max-age=30s").unwrap();
        assert_eq!(f.path, "/run/app ready");
        assert_eq!(f.max_age, Some(Duration::from_secs(30)));
        assert_eq!(from_url("file:///tmp/x").unwrap().max_age, None);
        assert!(from_url("file://relative").is_err());
        assert!(from_url("file:///x?age=1s").is_err());
        assert!(from_url("file:///x?max-age=soon").is_err());
        // One parser for every duration: bare seconds, 0 for any age.
        assert_eq!(
            from_url("file:///x?max-age=30").unwrap().max_age,
            Some(Duration::from_secs(30))
        );
        assert_eq!(from_url("file:///x?max-age=0").unwrap().max_age, None);
        assert!(from_url("file:///x?max-age=999999999999h").is_err());
    }
}
