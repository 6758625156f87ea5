//! The one duration parser: every duration flag, variable and URL parameter
//! (`--timeout`, `--wait-timeout`, `--grace`, `--kill-after`, `--stop-delay`,
//! `--max-age`, `file://...?max-age=`) goes through `parse`, so they all read
//! the same text the same way:
//!
//! - human durations (`500ms`, `5s`, `1m30s`, `2h`), read by humantime;
//! - a bare number is seconds (`30`, `0.5`), as Docker's and Kubernetes'
//!   habits of writing `--timeout 3` expect;
//! - 0 (`0`, `0s`) means "none", for every flag: no time limit, no delay,
//!   no grace, never, any age. `parse` returns `None` for it;
//! - at most a year (`MAX`): anything longer is refused with a message that
//!   names the flag, so no deadline computed downstream (`Instant::now() +
//!   d`, a socket timeout) can overflow.

use std::time::Duration;

/// The longest duration accepted: 365 days. A year from now is far inside
/// what `Instant` and the kernel's timeouts can hold, and no container
/// waits, drains or checks that long on purpose.
pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses `text` for the flag or variable `name` (as the message should
/// show it, e.g. "--grace/BERTH_GRACE"). `Ok(None)` is 0: "none".
pub fn parse(text: &str, name: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    let bare = text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let parsed = if bare {
        humantime::parse_duration(&format!("{text}s"))
    } else {
        humantime::parse_duration(text)
    };
    match parsed {
        Ok(d) if d.is_zero() => Ok(None),
        Ok(d) if d <= MAX => Ok(Some(d)),
        Ok(_) | Err(humantime::DurationError::NumberOverflow) => Err(format!(
            "{name} '{text}' is longer than a year, the most berth accepts; write 365d or less, or 0 for none"
        )),
        Err(e) => Err(format!(
            "{name} '{text}' is not a duration ({e}); write e.g. 500ms, 5s, 1m30s, 30 (seconds), or 0 for none"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Result<Option<Duration>, String> {
        Ok(Some(Duration::from_secs(s)))
    }

    #[test]
    fn human_durations_and_bare_seconds() {
        assert_eq!(parse("500ms", "--t"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse("1m30s", "--t"), secs(90));
        assert_eq!(parse("5s", "--t"), secs(5));
        assert_eq!(parse("30", "--t"), secs(30));
        assert_eq!(parse("0.5", "--t"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse("1.5s", "--t"), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(parse(" 3 ", "--t"), secs(3));
        assert_eq!(parse("2h", "--t"), secs(7200));
    }

    #[test]
    fn zero_is_none() {
        for zero in ["0", "0s", "0ms", "00", "0h 0m"] {
            assert_eq!(parse(zero, "--t"), Ok(None), "{zero}");
        }
    }

    #[test]
    fn at_most_a_year() {
        assert_eq!(parse("365d", "--t"), Ok(Some(MAX)));
        assert_eq!(parse("31536000", "--t"), Ok(Some(MAX)));
        for long in [
            "365d 1s",
            "31536001",
            "999999999999h",
            "99999999999999999999",
            "99999999999999999999s",
            "584942417355y",
        ] {
            let e = parse(long, "--kill-after/BERTH_KILL_AFTER").unwrap_err();
            assert_eq!(
                e,
                format!(
                    "--kill-after/BERTH_KILL_AFTER '{long}' is longer than a year, the most berth accepts; write 365d or less, or 0 for none"
                )
            );
        }
    }

    #[test]
    fn not_durations() {
        for bad in [
            "",
            "soon",
            "-1s",
            "-1",
            "1..5",
            ".",
            "5 parsecs",
            "s",
            "30 s x",
        ] {
            let e = parse(bad, "--max-age").unwrap_err();
            assert!(
                e.starts_with(&format!("--max-age '{bad}' is not a duration (")),
                "{e}"
            );
            assert!(e.ends_with("or 0 for none"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
