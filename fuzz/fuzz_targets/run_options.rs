//! `berth run`'s settings from the environment: lists (BERTH_WAIT,
//! BERTH_PRE, BERTH_REWRITE, BERTH_SUCCESS_CODE), durations, signal specs,
//! flags. Input: the variables' values separated by NUL bytes. No panic;
//! every error is a usage error; what parses matches the parsers' own
//! answers for the same text.
//!
//! The arguments come from argh, as `berth run -- true` gives them, not from
//! a struct literal: a new option then needs no change here to build.

#![no_main]

use argh::FromArgs;
use berth::cli::RunArgs;
use berth::duration;
use berth::options::RunOptions;
use libfuzzer_sys::fuzz_target;

const VARS: [&str; 10] = [
    "BERTH_WAIT",
    "BERTH_WAIT_TIMEOUT",
    "BERTH_PRE",
    "BERTH_REWRITE",
    "BERTH_GRACE",
    "BERTH_KILL_AFTER",
    "BERTH_SUCCESS_CODE",
    "BERTH_GROUP",
    "BERTH_PRE_LOCK_NAME",
    "BERTH_STOP_DELAY",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\0').collect();
    for (i, var) in VARS.iter().enumerate() {
        // SAFETY: the fuzz target is single-threaded; nothing else reads
        // the environment meanwhile.
        unsafe {
            match values.get(i) {
                Some(v) => std::env::set_var(var, v),
                None => std::env::remove_var(var),
            }
        }
    }
    for v in &values {
        let _ = duration::parse(v, "BERTH_GRACE");
        let _ = berth::sys::signals::parse(v);
    }
    let args = RunArgs::from_args(&["run"], &["--", "true"]).expect("`run -- true` parses");
    match RunOptions::from_args(args) {
        Ok(opts) => {
            assert_eq!(opts.rewrite.len(), 65);
            assert!(opts.rewrite.iter().skip(1).all(|s| (1..=64).contains(s)));
            if let Some(grace) = values.get(4).filter(|g| !g.trim().is_empty()) {
                assert_eq!(Ok(opts.grace), duration::parse(grace, "--grace/BERTH_GRACE"));
            }
            assert!(opts.pre.iter().all(|s| !s.argv.is_empty()));
            if let Some(delay) = values.get(9).filter(|d| !d.trim().is_empty()) {
                let parsed = duration::parse(delay, "--stop-delay/BERTH_STOP_DELAY");
                assert_eq!(Ok(opts.stop_delay), parsed);
            }
        }
        Err(e) => assert_eq!(e.code(), berth::exit::USAGE, "{e}"),
    }
});
