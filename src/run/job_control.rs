//! Job control when berth runs from an interactive shell rather than as
//! PID 1: the shell watches berth, not CMD, so when CMD stops (Ctrl-Z, a
//! background read or write on the terminal) berth stops too and the shell
//! sees the job stopped; `fg` or `bg` continues berth, which forwards the
//! SIGCONT to CMD like any other signal. dumb-init does the same. As PID 1
//! there is no shell to tell, and PID 1 never stops.

use nix::unistd::Pid;
use signal_hook::consts::{SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};

use crate::log;
use crate::sys::signals;

/// CMD (`child`) has stopped on `signal`: stop berth as well when that is a
/// job-control stop and berth is not PID 1; once continued, hand the
/// terminal back to CMD if the shell gave it to berth (`fg`).
pub fn follow_stop(child: Pid, signal: i32) {
    if std::process::id() == 1 || ![SIGTSTP, SIGTTIN, SIGTTOU].contains(&signal) {
        return;
    }
    log::debug(format_args!(
        "CMD stopped on {}; stopping berth too, so the shell sees the job stopped",
        signals::name(signal)
    ));
    // Returns once the shell continues berth (SIGCONT, queued on the
    // signalfd and forwarded to CMD by the main loop).
    let _ = signals::send(std::process::id() as i32, SIGSTOP);
    // `fg` made berth's group the terminal's foreground: CMD's group had it
    // before it stopped, and gets it back. SIGTTOU is blocked, so this
    // cannot stop berth.
    let stdin = std::io::stdin();
    if nix::unistd::tcgetpgrp(&stdin).ok() == Some(nix::unistd::getpgrp()) {
        let _ = nix::unistd::tcsetpgrp(&stdin, child);
    }
}
