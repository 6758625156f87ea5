//! Typed settings for `berth run`, from its flags and then the `BERTH_*`
//! environment (flags win). Every error names the flag and variable that fix it.

use std::ffi::CString;
use std::time::Duration;

use crate::cli::RunArgs;
use crate::env;
use crate::exit::{Error, usage};
use crate::init::signals;
use crate::log::Level;

/// Settings of `berth run`.
#[derive(Debug)]
pub struct RunOptions {
    /// Dependencies to wait for before anything else (URLs).
    pub wait: Vec<String>,
    /// How long to wait for them in total.
    pub wait_timeout: Duration,
    /// Pre-start steps, each already split into words.
    pub pre: Vec<Vec<String>>,
    /// PostgreSQL URL whose advisory lock is held while the steps run.
    pub pre_lock: Option<String>,
    /// Name the advisory lock key is derived from.
    pub pre_lock_name: String,
    /// USER[:GROUP] for the steps and CMD, resolved against /etc/passwd later.
    pub user: Option<String>,
    /// Forward signals to CMD's process group instead of CMD alone.
    pub group: bool,
    /// `rewrite[n]` is the signal sent when signal n arrives.
    pub rewrite: Vec<i32>,
    /// How long leftovers get after SIGTERM once CMD has exited.
    pub grace: Duration,
    /// SIGKILL CMD's group this long after a forwarded terminating signal.
    pub kill_after: Option<Duration>,
    /// Exit codes reported as 0.
    pub success_codes: Vec<u8>,
    pub level: Level,
    /// CMD and its arguments.
    pub cmd: Vec<CString>,
}

pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_GRACE: Duration = Duration::from_secs(5);
const DEFAULT_LOCK_NAME: &str = "berth-pre";

impl RunOptions {
    pub fn from_args(args: RunArgs) -> Result<RunOptions, Error> {
        let level = level(args.verbose, args.quiet)?;
        let cmd = command(args.cmd, "berth run")?;

        let mut rewrite: Vec<i32> = (0..=signals::MAX_SIGNAL).collect();
        for pair in env::list(args.rewrite, "BERTH_REWRITE", ',')? {
            let (from, to) = parse_rewrite(&pair)?;
            rewrite[from as usize] = to;
        }

        let success_codes = env::list(args.success_code, "BERTH_SUCCESS_CODE", ',')?
            .iter()
            .map(|c| {
                c.parse::<u8>().map_err(|_| {
                    usage(format!(
                        "--success-code/BERTH_SUCCESS_CODE: '{c}' is not an exit code (0-255)"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;

        let pre = env::list(args.pre, "BERTH_PRE", '\n')?
            .iter()
            .map(|step| split_step(step))
            .collect::<Result<_, _>>()?;

        Ok(RunOptions {
            wait: env::list(args.wait, "BERTH_WAIT", ',')?,
            wait_timeout: duration(args.wait_timeout, "--wait-timeout", "BERTH_WAIT_TIMEOUT")?
                .unwrap_or(DEFAULT_WAIT_TIMEOUT),
            pre,
            pre_lock: env::one(args.pre_lock, "BERTH_PRE_LOCK")?,
            pre_lock_name: env::one(args.pre_lock_name, "BERTH_PRE_LOCK_NAME")?
                .unwrap_or_else(|| DEFAULT_LOCK_NAME.to_string()),
            user: env::one(args.user, "BERTH_USER")?,
            group: args.group || env::flag("BERTH_GROUP")?,
            rewrite,
            grace: duration(args.grace, "--grace", "BERTH_GRACE")?.unwrap_or(DEFAULT_GRACE),
            kill_after: duration(args.kill_after, "--kill-after", "BERTH_KILL_AFTER")?,
            success_codes,
            level,
            cmd,
        })
    }
}

/// The log level from -v/-q and BERTH_VERBOSE/BERTH_QUIET.
pub fn level(verbose: bool, quiet: bool) -> Result<Level, Error> {
    let verbose = verbose || (!quiet && env::flag("BERTH_VERBOSE")?);
    let quiet = quiet || (!verbose && env::flag("BERTH_QUIET")?);
    Ok(match (verbose, quiet) {
        (true, true) => return Err(usage("-v and -q cannot be used together")),
        (true, false) => Level::Verbose,
        (false, true) => Level::Quiet,
        (false, false) => Level::Normal,
    })
}

/// CMD as C strings, ready for exec.
pub fn command(words: Vec<String>, context: &str) -> Result<Vec<CString>, Error> {
    if words.is_empty() {
        return Err(usage(format!(
            "no command given: usage is '{context} [options] -- CMD [ARGS...]'"
        )));
    }
    words
        .into_iter()
        .map(|w| {
            CString::new(w).map_err(|_| usage("the command contains a NUL byte"))
        })
        .collect()
}

/// A human duration ("500ms", "5s", "1m30s") from the flag or the variable.
pub fn duration(flag: Option<String>, flag_name: &str, var: &str) -> Result<Option<Duration>, Error> {
    let Some(text) = env::one(flag, var)? else {
        return Ok(None);
    };
    parse_duration(&text)
        .map(Some)
        .map_err(|why| usage(format!("{flag_name}/{var}: '{text}' is not a duration ({why}); use e.g. 500ms, 5s, 1m30s")))
}

/// Parses a human duration; a bare number is seconds, as in Docker's and
/// Kubernetes' habits of writing `--timeout 3`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

fn parse_rewrite(pair: &str) -> Result<(i32, i32), Error> {
    let bad = |why: &str| {
        usage(format!(
            "--rewrite/BERTH_REWRITE: '{pair}': {why}; use FROM:TO, e.g. TERM:QUIT or 15:3"
        ))
    };
    let (from, to) = pair.split_once(':').ok_or_else(|| bad("missing ':'"))?;
    let from = signals::parse(from.trim()).ok_or_else(|| bad(&format!("unknown signal '{from}'")))?;
    let to = signals::parse(to.trim()).ok_or_else(|| bad(&format!("unknown signal '{to}'")))?;
    Ok((from, to))
}

/// Splits a pre-start step into words like a POSIX shell (quotes, escapes),
/// without any expansion: it is then executed directly.
fn split_step(step: &str) -> Result<Vec<String>, Error> {
    let _ = step;
    Err(usage("--pre is not supported yet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn rewrites() {
        assert_eq!(parse_rewrite("TERM:QUIT").unwrap(), (15, 3));
        assert_eq!(parse_rewrite("SIGINT:40").unwrap(), (2, 40));
        assert!(parse_rewrite("TERM").is_err());
        assert!(parse_rewrite("TERM:NOPE").is_err());
    }
}
