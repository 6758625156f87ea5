//! berth's entry point: argv -> signals -> cli -> {run, gate, check}::main ->
//! exit code.
//!
//! `main` is ours rather than std's (`no_main`): std's start-up sets SIGPIPE
//! to ignored before any user code runs, and an init must hand CMD the signal
//! dispositions it was itself started with. It also keeps start-up minimal.

#![no_main]

use std::ffi::{CStr, CString, c_char, c_int};

use argh::FromArgs;

use berth::cli::{Berth, Command};
use berth::exit::{self, Error};
use berth::options::{RunOptions, WaitOptions};
use berth::sys::signals::{self, Mask};
use berth::{argv, check, gate, install, log, run};

/// The program's entry, called by the C runtime.
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // Before anything else, as std's own start-up would: descriptors 0-2
    // open, so nothing berth opens lands there and is taken for stdio.
    berth::sys::stdio::ensure_open();
    // SAFETY: the C runtime passes `argc` valid NUL-terminated strings.
    let args: Vec<&CStr> = (0..argc.max(0) as usize)
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .collect();

    // Signals first: `run` and `wait` block them before anything else, so
    // none is lost or acted on while berth parses, waits or runs pre-steps,
    // and as PID 1 none is dropped by the kernel for want of a handler.
    let command = args.get(1).map(|a| a.to_bytes());
    let original_mask = matches!(command, Some(b"run" | b"wait")).then(signals::block_handled);

    c_int::from(dispatch(&args, original_mask))
}

/// Parses the command line and runs the command; returns the exit code.
///
/// Each command's entry and each parsing step is `#[inline(never)]`: with
/// LTO they would all be inlined into `main`, whose frame then held every
/// command's locals (12 kB, most of them `install`'s) below PID 1's stack
/// for CMD's whole life. Apart, a finished step's frame is dead stack, which
/// `run` drops while idle (src/run/memory.rs).
fn dispatch(raw: &[&CStr], original_mask: Option<Mask>) -> u8 {
    let command = raw.get(1).map(|a| a.to_bytes());
    let usage_code = if command == Some(b"check") {
        exit::UNHEALTHY
    } else {
        exit::USAGE
    };

    // `wait URL... -- CMD`: argh drops the `--`, and with it the line
    // between URLs and CMD, so split there first; CMD stays bytes.
    let mut raw = &raw[1.min(raw.len())..];
    let mut wait_cmd = None;
    if command == Some(b"wait") {
        if let Some(i) = raw.iter().position(|a| a.to_bytes() == b"--") {
            wait_cmd = Some(raw[i + 1..].iter().map(|a| CString::from(*a)).collect());
            raw = &raw[..i];
        }
    }
    // `run`'s CMD and pre-steps may hold any bytes: parse them as lossless
    // text (src/argv.rs). Elsewhere every argument is berth's own: text.
    let mut args: Vec<String> = Vec::with_capacity(raw.len());
    for (i, a) in raw.iter().enumerate() {
        match a.to_str() {
            _ if command == Some(b"run") => args.push(argv::to_text(a.to_bytes())),
            Ok(s) => args.push(s.to_string()),
            Err(_) => {
                log::error(format_args!("argument {} is not valid UTF-8", i + 1));
                return usage_code;
            }
        }
    }
    // `check` and `wait` expand `${NAME}` in their own arguments (not in
    // wait's CMD): exec-form health checks and probes have no shell. `run`
    // expands its own flags once they are text (options.rs).
    if matches!(command, Some(b"check" | b"wait")) {
        let written: Vec<&str> = args.iter().map(String::as_str).collect();
        match berth::expand::args(&written) {
            Ok(expanded) => args = expanded,
            Err(e) => {
                log::error(format_args!("{e}"));
                return usage_code;
            }
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // `berth check URL...`: a URL where a check's name would be; with -h or
    // --help anywhere in it, `berth check --help` (which describes it).
    let mut args = args;
    if command == Some(b"check")
        && args
            .get(1)
            .is_some_and(|a| berth::target::looks_like_url(a))
    {
        if !args[1..].iter().any(|a| matches!(*a, "-h" | "--help")) {
            return check::main_urls(&args[1..]);
        }
        args = vec![args[0], "--help"];
    }
    let berth = match parse(&args) {
        Ok(b) => b,
        Err(early) => return early_exit(early, &args, usage_code),
    };
    if berth.version {
        log::out(format_args!("berth {}\n", env!("BERTH_VERSION")));
        return 0;
    }
    let mask = original_mask.unwrap_or(Mask(0));
    let result = match berth.command {
        None => Err(exit::usage(
            "no command given: use 'berth run', 'berth wait', 'berth check' or 'berth install' (see 'berth --help')",
        )),
        Some(Command::Check(a)) => return check::main(a),
        Some(Command::Run(a)) => RunOptions::from_args(a).and_then(|opts| {
            log::set_level(opts.level);
            run::main(&opts, mask)
        }),
        Some(Command::Wait(a)) => {
            WaitOptions::from_args(a, wait_cmd).and_then(|opts| gate::main(opts, mask))
        }
        Some(Command::Install(a)) => install::main(&a.dir).map(|path| {
            log::out(format_args!("berth: installed {}\n", path.display()));
            0
        }),
    };
    result.unwrap_or_else(|e: Error| {
        log::error(format_args!("{e}"));
        e.code()
    })
}

/// The command line as argh reads it, with `-h` meaning `--help` wherever
/// argh would take it for one of berth's own flags (not in CMD, which argh
/// passes through untouched): argh knows only `--help`.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
fn parse(args: &[&str]) -> Result<Berth, argh::EarlyExit> {
    let first = Berth::from_args(&["berth"], args);
    match &first {
        Err(early) if early.output.starts_with("Unrecognized argument: -h\n") => {
            let mut args = args.to_vec();
            if let Some(h) = args.iter_mut().find(|a| **a == "-h") {
                *h = "--help";
            }
            Berth::from_args(&["berth"], &args)
        }
        _ => first,
    }
}

/// `--help` (exit 0), or argh's complaint as one line with the usage code.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
fn early_exit(early: argh::EarlyExit, args: &[&str], usage_code: u8) -> u8 {
    if early.status.is_ok() {
        log::out(format_args!("{}", early.output));
        return 0;
    }
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
