//! Typed settings for every command: `berth run` and `berth wait` from their
//! flags and then the `BERTH_*` environment (flags win), and the timeout of
//! `berth check`. Every error names the flag and variable that fix it.
//!
//! Durations go through `crate::duration::parse`, and so share its one
//! meaning of 0, "none": a `None` duration below is no limit, no delay, no
//! grace or never, as each field says.

use std::ffi::CString;
use std::time::Duration;

use crate::argv;
use crate::cli::{RunArgs, WaitArgs};
use crate::env;
use crate::exit::{Error, usage};
use crate::log::Level;
use crate::sys::signals;

/// Settings of `berth run`.
#[derive(Debug)]
pub struct RunOptions {
    /// Dependencies to wait for before anything else (URLs).
    pub wait: Vec<String>,
    /// How long to wait for them in total; `None`: no limit.
    pub wait_timeout: Option<Duration>,
    /// Pre-start steps, in order.
    pub pre: Vec<Step>,
    /// PostgreSQL or MySQL URL whose lock is held while the steps run.
    pub pre_lock: Option<String>,
    /// Name the advisory lock key is derived from.
    pub pre_lock_name: String,
    /// USER[:GROUP] for the steps and CMD, resolved against /etc/passwd later.
    pub user: Option<String>,
    /// Forward signals to CMD's process group instead of CMD alone.
    pub group: bool,
    /// `rewrite[n]` is the signal sent when signal n arrives.
    pub rewrite: Vec<i32>,
    /// How long leftovers get after SIGTERM once CMD has exited; `None`:
    /// no grace, SIGKILL at once.
    pub grace: Option<Duration>,
    /// SIGKILL CMD's group this long after a forwarded terminating signal;
    /// `None`: never.
    pub kill_after: Option<Duration>,
    /// Hold CMD's first SIGTERM this long before forwarding it; `None`: no
    /// delay.
    pub stop_delay: Option<Duration>,
    /// Exit codes reported as 0.
    pub success_codes: Vec<u8>,
    pub level: Level,
    /// CMD and its arguments.
    pub cmd: Vec<CString>,
}

/// One pre-start step: as written, and split into words for exec.
#[derive(Debug)]
pub struct Step {
    pub text: String,
    pub argv: Vec<CString>,
}

/// Settings of `berth wait`.
#[derive(Debug)]
pub struct WaitOptions {
    /// Dependencies to wait for (URLs).
    pub urls: Vec<String>,
    /// How long to wait for them in total; `None`: no limit.
    pub timeout: Option<Duration>,
    pub level: Level,
    /// The command to exec once all are ready, if any.
    pub cmd: Option<Vec<CString>>,
}

pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);
/// The default bound on one check attempt, all phases included.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_GRACE: Duration = Duration::from_secs(5);
const DEFAULT_LOCK_NAME: &str = "berth-pre";

impl RunOptions {
    #[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
    pub fn from_args(args: RunArgs) -> Result<RunOptions, Error> {
        let level = level(args.verbose, args.quiet)?;
        let cmd = args
            .cmd
            .iter()
            .map(|w| argv::c_string(w))
            .collect::<Result<_, _>>()?;
        let cmd = command(cmd, "berth run")?;
        let mut args = args;
        own_flags(&mut args)?;

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
            wait: env::urls(args.wait, "BERTH_WAIT")?,
            wait_timeout: duration(
                args.wait_timeout,
                "--wait-timeout",
                "BERTH_WAIT_TIMEOUT",
                Some(DEFAULT_WAIT_TIMEOUT),
            )?,
            pre,
            pre_lock: env::one(args.pre_lock, "BERTH_PRE_LOCK")?,
            pre_lock_name: env::one(args.pre_lock_name, "BERTH_PRE_LOCK_NAME")?
                .unwrap_or_else(|| DEFAULT_LOCK_NAME.to_string()),
            user: env::one(args.user, "BERTH_USER")?,
            group: args.group || env::flag("BERTH_GROUP")?,
            rewrite,
            grace: duration(args.grace, "--grace", "BERTH_GRACE", Some(DEFAULT_GRACE))?,
            kill_after: duration(args.kill_after, "--kill-after", "BERTH_KILL_AFTER", None)?,
            stop_delay: duration(args.stop_delay, "--stop-delay", "BERTH_STOP_DELAY", None)?,
            success_codes,
            level,
            cmd,
        })
    }
}

/// `run`'s own flag values must be text (its CMD and pre-steps need not be),
/// and `${NAME}` in them expands as in `check`'s and `wait`'s arguments
/// (src/expand.rs): `--wait` and `--pre-lock` URLs in an exec-form
/// ENTRYPOINT get no shell either. The pre-steps and CMD are the app's
/// words and are passed as written, as `wait -- CMD` passes CMD.
fn own_flags(args: &mut RunArgs) -> Result<(), Error> {
    let flags: [(&str, &mut [String]); 10] = [
        ("--wait", &mut args.wait),
        ("--wait-timeout", args.wait_timeout.as_mut_slice()),
        ("--pre-lock", args.pre_lock.as_mut_slice()),
        ("--pre-lock-name", args.pre_lock_name.as_mut_slice()),
        ("--user", args.user.as_mut_slice()),
        ("--rewrite", &mut args.rewrite),
        ("--grace", args.grace.as_mut_slice()),
        ("--kill-after", args.kill_after.as_mut_slice()),
        ("--stop-delay", args.stop_delay.as_mut_slice()),
        ("--success-code", &mut args.success_code),
    ];
    let mut own: Vec<&mut String> = Vec::new();
    for (flag, values) in flags {
        for value in values {
            *value = argv::own(std::mem::take(value), flag)?;
            own.push(value);
        }
    }
    let written: Vec<&str> = own.iter().map(|v| v.as_str()).collect();
    let expanded = crate::expand::args(&written)?;
    for (value, expanded) in own.into_iter().zip(expanded) {
        *value = expanded;
    }
    Ok(())
}

impl WaitOptions {
    /// `cmd` is what followed `--`, as bytes.
    #[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
    pub fn from_args(args: WaitArgs, cmd: Option<Vec<CString>>) -> Result<WaitOptions, Error> {
        let level = level(args.verbose, args.quiet)?;
        let urls = env::urls(args.urls, "BERTH_WAIT")?;
        if urls.is_empty() {
            return Err(usage(
                "nothing to wait for: give URLs (or BERTH_WAIT), e.g. 'berth wait tcp://db:5432 -- CMD'",
            ));
        }
        let timeout = duration(
            args.timeout,
            "--timeout",
            "BERTH_WAIT_TIMEOUT",
            Some(DEFAULT_WAIT_TIMEOUT),
        )?;
        let cmd = cmd.map(|c| command(c, "berth wait URL...")).transpose()?;
        Ok(WaitOptions {
            urls,
            timeout,
            level,
            cmd,
        })
    }
}

/// `berth check --timeout`: 3 s when not given; `None` (0): no limit.
pub fn check_timeout(flag: Option<&str>) -> Result<Option<Duration>, Error> {
    match flag {
        None => Ok(Some(DEFAULT_CHECK_TIMEOUT)),
        Some(text) => crate::duration::parse(text, "--timeout").map_err(usage),
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

/// CMD, which must have at least its name.
fn command(words: Vec<CString>, context: &str) -> Result<Vec<CString>, Error> {
    if words.is_empty() {
        return Err(usage(format!(
            "no command given: usage is '{context} [options] -- CMD [ARGS...]'"
        )));
    }
    Ok(words)
}

/// A duration from the flag or the variable, `default` when neither is
/// given; `None` is 0, "none" (see `crate::duration`).
pub fn duration(
    flag: Option<String>,
    flag_name: &str,
    var: &str,
    default: Option<Duration>,
) -> Result<Option<Duration>, Error> {
    match env::one(flag, var)? {
        None => Ok(default),
        Some(text) => crate::duration::parse(&text, &format!("{flag_name}/{var}")).map_err(usage),
    }
}

fn parse_rewrite(pair: &str) -> Result<(i32, i32), Error> {
    let bad = |why: &str| {
        usage(format!(
            "--rewrite/BERTH_REWRITE: '{pair}': {why}; use FROM:TO, e.g. TERM:QUIT or 15:3"
        ))
    };
    let (from, to) = pair.split_once(':').ok_or_else(|| bad("missing ':'"))?;
    let from =
        signals::parse(from.trim()).ok_or_else(|| bad(&format!("unknown signal '{from}'")))?;
    if let Some(why) = signals::never_received(from) {
        return Err(bad(&format!(
            "berth never forwards {}: {why}",
            signals::name(from)
        )));
    }
    // 0 drops the signal (dumb-init's form), e.g. WINCH:0 for Apache.
    let to = match to.trim() {
        "0" => 0,
        to => signals::parse(to).ok_or_else(|| bad(&format!("unknown signal '{to}'")))?,
    };
    Ok((from, to))
}

/// Splits a pre-start step into words like a POSIX shell (quotes, escapes),
/// without any expansion: it is then executed directly, no shell involved.
fn split_step(step: &str) -> Result<Step, Error> {
    let bad = |why: &str| usage(format!("--pre/BERTH_PRE '{step}': {why}"));
    let words = shell_words::split(step).map_err(|_| bad("unbalanced quotes"))?;
    if words.is_empty() {
        return Err(bad("empty step"));
    }
    let argv = words
        .iter()
        .map(|w| argv::c_string(w).map_err(|_| bad("contains a NUL byte")))
        .collect::<Result<_, _>>()?;
    Ok(Step {
        text: String::from_utf8_lossy(&argv::to_bytes(step)).into_owned(),
        argv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_timeouts() {
        assert_eq!(check_timeout(None).unwrap(), Some(DEFAULT_CHECK_TIMEOUT));
        assert_eq!(
            check_timeout(Some("2")).unwrap(),
            Some(Duration::from_secs(2))
        );
        assert_eq!(check_timeout(Some("0")).unwrap(), None);
        let e = check_timeout(Some("soon")).unwrap_err();
        assert!(e.to_string().starts_with("--timeout 'soon'"), "{e}");
        assert_eq!(e.code(), crate::exit::USAGE);
    }

    #[test]
    fn durations_default_and_zero() {
        let d = |flag: Option<&str>, default| {
            duration(
                flag.map(String::from),
                "--grace",
                "BERTH_TEST_NOT_SET",
                default,
            )
        };
        let five = Some(Duration::from_secs(5));
        assert_eq!(d(None, five).unwrap(), five);
        assert_eq!(d(None, None).unwrap(), None);
        assert_eq!(d(Some("0"), five).unwrap(), None);
        assert_eq!(d(Some("1m"), None).unwrap(), Some(Duration::from_secs(60)));
        let e = d(Some("999999999999h"), None).unwrap_err().to_string();
        assert!(
            e.starts_with("--grace/BERTH_TEST_NOT_SET '999999999999h' is longer than a year"),
            "{e}"
        );
    }

    #[test]
    fn rewrites() {
        assert_eq!(parse_rewrite("TERM:QUIT").unwrap(), (15, 3));
        assert_eq!(parse_rewrite("SIGINT:40").unwrap(), (2, 40));
        assert_eq!(parse_rewrite("HUP:0").unwrap(), (1, 0));
        assert_eq!(parse_rewrite("SEGV:TERM").unwrap(), (11, 15));
        for never in ["KILL:TERM", "STOP:TSTP", "CHLD:HUP", "9:0"] {
            let e = parse_rewrite(never).unwrap_err().to_string();
            assert!(e.contains("never forwards"), "{never}: {e}");
        }
        assert!(parse_rewrite("TERM").is_err());
        assert!(parse_rewrite("TERM:NOPE").is_err());
    }
}
