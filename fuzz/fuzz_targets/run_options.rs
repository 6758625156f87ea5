//! `berth run`'s settings from the environment: lists (BERTH_WAIT,
//! BERTH_PRE, BERTH_REWRITE, BERTH_SUCCESS_CODE), durations, signal specs,
//! flags. Input: the variables' values separated by NUL bytes. No panic;
//! every error is a usage error; what parses matches the parsers' own
//! answers for the same text.

#![no_main]

use berth::cli::RunArgs;
use berth::duration;
use berth::options::RunOptions;
use libfuzzer_sys::fuzz_target;

const VARS: [&str; 9] = [
    "BERTH_WAIT",
    "BERTH_WAIT_TIMEOUT",
    "BERTH_PRE",
    "BERTH_REWRITE",
    "BERTH_GRACE",
    "BERTH_KILL_AFTER",
    "BERTH_SUCCESS_CODE",
    "BERTH_GROUP",
    "BERTH_PRE_LOCK_NAME",
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
    let args = RunArgs {
        wait: vec![],
        wait_timeout: None,
        pre: vec![],
        pre_lock: None,
        pre_lock_name: None,
        user: None,
        group: false,
        rewrite: vec![],
        grace: None,
        kill_after: None,
        success_code: vec![],
        verbose: false,
        quiet: false,
        cmd: vec!["true".into()],
    };
    match RunOptions::from_args(args) {
        Ok(opts) => {
            assert_eq!(opts.rewrite.len(), 65);
            assert!(opts.rewrite.iter().skip(1).all(|s| (1..=64).contains(s)));
            if let Some(grace) = values.get(4).filter(|g| !g.trim().is_empty()) {
                assert_eq!(Ok(opts.grace), duration::parse(grace, "--grace/BERTH_GRACE"));
            }
            assert!(opts.pre.iter().all(|s| !s.argv.is_empty()));
        }
        Err(e) => assert_eq!(e.code(), berth::exit::USAGE, "{e}"),
    }
});
