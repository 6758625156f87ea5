//! berth: one small static binary for containers: PID 1 init (`run`),
//! startup gate (`wait`) and health checks (`check`).
//!
//! `main` is ours rather than std's (`no_main`): std's start-up sets SIGPIPE
//! to ignored before any user code runs, and an init must hand CMD the signal
//! dispositions it was itself started with. It also keeps start-up minimal.

#![cfg_attr(not(test), no_main)]
// Unit-test builds have no entry point of ours, so most code looks unused.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod check;
mod cli;
mod env;
mod exit;
mod init;
mod log;
mod options;
mod target;
mod wait;

use std::ffi::{CStr, c_char, c_int};

use argh::FromArgs;

use cli::{Berth, Command};

/// The program's entry, called by the C runtime. (Unit tests get the test
/// harness's own main instead.)
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes `argc` valid NUL-terminated strings.
    let args: Vec<&CStr> = (0..argc.max(0) as usize)
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .collect();

    // Signals first: `run` blocks them before it does anything else, so none
    // is lost or acted on while berth parses, waits or runs pre-steps.
    let original_mask =
        (args.get(1).map(|a| a.to_bytes()) == Some(b"run")).then(init::signals::block_all);

    c_int::from(dispatch(&args, original_mask))
}

/// Parses the command line and runs the command; returns the exit code.
fn dispatch(raw: &[&CStr], original_mask: Option<init::signals::Mask>) -> u8 {
    let is_check = raw.get(1).map(|a| a.to_bytes()) == Some(b"check");
    let usage_code = if is_check {
        exit::UNHEALTHY
    } else {
        exit::USAGE
    };

    let mut args: Vec<&str> = Vec::with_capacity(raw.len());
    for (i, a) in raw.iter().enumerate().skip(1) {
        match a.to_str() {
            Ok(s) => args.push(s),
            Err(_) => {
                log::error(format_args!("argument {i} is not valid UTF-8"));
                return usage_code;
            }
        }
    }

    // `wait URL... -- CMD`: argh drops the `--`, and with it the line
    // between URLs and CMD, so split there first.
    let mut wait_cmd = None;
    if args.first() == Some(&"wait") {
        if let Some(i) = args.iter().position(|a| *a == "--") {
            let mut cmd = args.split_off(i);
            cmd.remove(0);
            wait_cmd = Some(cmd);
        }
    }

    let berth = match Berth::from_args(&["berth"], &args) {
        Ok(b) => b,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    print!("{}", early.output);
                    0
                }
                Err(()) => {
                    // argh's messages may span lines ("...not provided:\nurl"): one line.
                    let text = early
                        .output
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let cmd = args.first().filter(|a| !a.starts_with('-')).unwrap_or(&"");
                    log::error(format_args!(
                        "{} (see 'berth {}{}--help')",
                        text.trim_end_matches('.'),
                        cmd,
                        if cmd.is_empty() { "" } else { " " }
                    ));
                    usage_code
                }
            };
        }
    };

    if berth.version {
        println!("berth {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let result = match berth.command {
        None => Err(exit::usage(
            "no command given: use 'berth run', 'berth wait' or 'berth check' (see 'berth --help')",
        )),
        Some(Command::Check(a)) => return check::main(a),
        Some(Command::Run(a)) => options::RunOptions::from_args(a).and_then(|opts| {
            log::set_level(opts.level);
            init::run(&opts, original_mask.unwrap_or(init::signals::Mask(0)))
        }),
        Some(Command::Wait(a)) => wait_command(a, wait_cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            log::error(format_args!("{e}"));
            e.code()
        }
    }
}

/// `berth wait URL... [--timeout DUR] [-- CMD]`: on success exec CMD
/// (replacing berth) or exit 0.
fn wait_command(args: cli::WaitArgs, cmd: Option<Vec<&str>>) -> Result<u8, exit::Error> {
    log::set_level(options::level(args.verbose, args.quiet)?);
    let urls = env::list(args.urls, "BERTH_WAIT", ',')?;
    if urls.is_empty() {
        return Err(exit::usage(
            "nothing to wait for: give URLs (or BERTH_WAIT), e.g. 'berth wait tcp://db:5432 -- CMD'",
        ));
    }
    let timeout = options::duration(args.timeout, "--timeout", "BERTH_WAIT_TIMEOUT")?
        .unwrap_or(options::DEFAULT_WAIT_TIMEOUT);
    let argv = match cmd {
        None => None,
        Some(cmd) => Some(options::command(
            cmd.into_iter().map(String::from).collect(),
            "berth wait URL...",
        )?),
    };
    wait::wait_all(wait::targets(&urls)?, timeout, None)?;
    match argv {
        None => Ok(0),
        Some(argv) => Err(init::spawn::exec(&argv).into()),
    }
}
