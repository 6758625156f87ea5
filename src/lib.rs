//! berth: one small static binary for containers, with three jobs:
//!
//! - `run`: PID 1 (src/run/): forward signals, reap zombies, pass the exit
//!   status through;
//! - the startup gate (src/gate/): `berth wait`, and `run`'s `--wait`,
//!   `--pre` and `--pre-lock`;
//! - `check` (src/check/): one health check per protocol.
//!
//! Dependencies run one way: `run` uses the gate, the gate uses the checks,
//! and all of them use what sits below: `sys` (signals and threads),
//! `options`, `duration`, `cli`, `argv`, `env`, `expand`, `inherit` (what
//! CMD inherits), `target`, `log` and `exit`,
//! which know no feature module. The binary (src/main.rs) is only the entry point; the
//! library exists so that fuzz targets and tests reach the parsers.

pub mod argv;
pub mod check;
pub mod cli;
pub mod duration;
pub mod env;
pub mod exit;
pub mod expand;
pub mod gate;
pub mod inherit;
pub mod install;
pub mod log;
pub mod options;
pub mod run;
pub mod sys;
pub mod target;
