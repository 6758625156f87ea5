//! berth run: PID 1 behaviour.

use std::time::Duration;

use crate::support::*;

#[test]
fn passes_exit_code_through() {
    let out = output_bounded(berth().args(["run", "--", "sh", "-c", "exit 7"]), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(7));
}
