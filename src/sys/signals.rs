//! Signals as berth sees them: block every catchable signal at start-up, read
//! them one by one from a signalfd, and (under `run`) forward them to CMD.
//!
//! Why a blocked mask and a signalfd rather than handlers (see signalfd(2)):
//! a blocked signal is queued even when PID 1 of a namespace has no handler
//! for it (the kernel drops unhandled signals to a namespace init, but never
//! drops a blocked one), berth's dispositions stay exactly those it was started
//! with so CMD inherits them, and the main loop sleeps in one `read` with no
//! timer at all: zero wake-ups while idle.
//!
//! The kernel's signal set is one 64-bit word on x86_64 and aarch64. We talk to
//! it with raw system calls because libc's `sigset_t` helpers (musl's and
//! glibc's) refuse signals 32-34, which the C libraries keep for themselves,
//! and berth must forward every signal a process can catch.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use signal_hook::consts::signal as sig;
use signal_hook::low_level::signal_name;

/// A set of signals in the kernel's layout: bit `n - 1` stands for signal `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mask(pub u64);

/// The highest signal number (SIGRTMAX on Linux).
pub const MAX_SIGNAL: i32 = 64;

/// The fault signals. The kernel raises them in a process that faults, and
/// delivers such a fault even when the signal is blocked (it unblocks it and
/// applies the default action: see force_sig_info in kernel/signal.c), and
/// musl's abort() unblocks SIGABRT itself. So blocking them costs nothing
/// when berth itself faults, which still ends berth, and a fault signal
/// another process *sends* (`kill -SEGV 1`) is queued on the signalfd and
/// forwarded to CMD like any other, as dumb-init does, instead of ending PID 1
/// and orphaning the app.
pub const FAULTS: [i32; 7] = [
    sig::SIGILL,
    sig::SIGTRAP,
    sig::SIGABRT,
    sig::SIGBUS,
    sig::SIGFPE,
    sig::SIGSEGV,
    sig::SIGSYS,
];

impl Mask {
    /// Every signal berth handles: all but SIGKILL and SIGSTOP, which cannot
    /// be blocked or caught (the fault signals included: see `FAULTS`).
    pub fn handled() -> Mask {
        Mask(!(bit(sig::SIGKILL) | bit(sig::SIGSTOP)))
    }

    #[cfg(test)]
    pub fn contains(self, signal: i32) -> bool {
        (1..=MAX_SIGNAL).contains(&signal) && self.0 & bit(signal) != 0
    }
}

fn bit(signal: i32) -> u64 {
    1u64 << (signal - 1)
}

/// Replaces the calling thread's signal mask, returning the previous one.
pub fn set_mask(how: libc::c_int, mask: Mask) -> Mask {
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask reads 8 bytes from `new` and writes 8 bytes to
    // `old`, both valid u64s; 8 is the kernel's sigset size on this platform.
    let rc = unsafe { libc::syscall(libc::SYS_rt_sigprocmask, how, &mask.0, &mut old, 8usize) };
    debug_assert_eq!(rc, 0, "rt_sigprocmask cannot fail with valid arguments");
    Mask(old)
}

/// Blocks every handled signal in the calling thread and returns the mask it
/// had, which CMD gets back. `run` and `wait` call it first thing in `main`,
/// before any thread exists (threads inherit the mask).
pub fn block_handled() -> Mask {
    set_mask(libc::SIG_BLOCK, Mask::handled())
}

/// The calling thread's mask, unchanged.
pub fn current() -> Mask {
    set_mask(libc::SIG_BLOCK, Mask(0))
}

/// Runs `f` and then puts the calling thread's mask back as it was: musl
/// unblocks its own signals 32-34 in the caller when it starts the first
/// thread and around `posix_spawn`, and under `run` those must keep coming
/// through the signalfd like every other signal.
pub fn keeping_mask<T>(f: impl FnOnce() -> T) -> T {
    let mask = current();
    let result = f();
    restore(mask);
    result
}

/// Restores `mask` as the whole signal mask. Async-signal-safe: used in the
/// child between fork and exec.
pub fn restore(mask: Mask) {
    set_mask(libc::SIG_SETMASK, mask);
}

/// One received signal.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub signal: i32,
    /// The sender's pid (0 for the kernel).
    pub from: u32,
}

/// A signalfd over the handled mask: the one place berth waits.
pub struct SignalFd(OwnedFd);

impl SignalFd {
    pub fn new(mask: Mask) -> std::io::Result<SignalFd> {
        // SAFETY: signalfd4 reads an 8-byte mask; -1 asks for a new descriptor,
        // which we own from here on.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_signalfd4,
                -1,
                &mask.0,
                8usize,
                libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor to us.
        Ok(SignalFd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Waits for the next signal; `None` when `timeout` passes first.
    /// With no timeout it sleeps until a signal arrives.
    pub fn next(&self, timeout: Option<Duration>) -> Option<Received> {
        loop {
            if let Some(r) = self.try_read() {
                return Some(r);
            }
            let ms = match timeout {
                None => PollTimeout::NONE,
                Some(t) => {
                    // Round up so a deadline never fires a millisecond early.
                    let ms = t.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => return None,
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    crate::log::warn(format_args!("poll on the signalfd failed: {e}"));
                    return None;
                }
            }
        }
    }

    /// The descriptor, for waiting on it together with others.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// The next pending signal, without waiting.
    ///
    /// A SIGPIPE berth raised in itself is skipped: a log line written to a
    /// pipe nobody reads raises one, naming the writer as its sender.
    /// Forwarded, it would be logged, raise another, and so on, starving
    /// every signal behind it (SIGCHLD included: the kernel hands out the
    /// lowest number first). Other signals from berth's own pid pass: one
    /// queued before exec by the process that became berth is real.
    pub fn try_read(&self) -> Option<Received> {
        loop {
            let mut info = std::mem::MaybeUninit::<libc::signalfd_siginfo>::uninit();
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: we read at most `size` bytes into a buffer of that size.
            let n = unsafe { libc::read(self.0.as_raw_fd(), info.as_mut_ptr().cast(), size) };
            if n as usize != size {
                return None; // EAGAIN: nothing pending
            }
            // SAFETY: the kernel filled the whole struct.
            let info = unsafe { info.assume_init() };
            if info.ssi_signo == sig::SIGPIPE as u32 && info.ssi_pid == std::process::id() {
                continue;
            }
            return Some(Received {
                signal: info.ssi_signo as i32,
                from: info.ssi_pid,
            });
        }
    }
}

/// A printable name: "SIGTERM", "SIGRTMIN+6", or the number.
pub fn name(signal: i32) -> String {
    match signal_name(signal) {
        Some(n) => n.to_string(),
        None => format!("signal {signal}"),
    }
}

/// Parses TERM, SIGTERM, term or 15. Real-time signals are given by number,
/// because their names differ between C libraries (glibc's SIGRTMIN is 34,
/// musl's is 35).
pub fn parse(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=MAX_SIGNAL).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let wanted = upper.strip_prefix("SIG").unwrap_or(&upper);
    (1..32).find(|&n| signal_name(n).and_then(|s| s.strip_prefix("SIG")) == Some(wanted))
}

/// Why berth can never forward `signal`, if it cannot: SIGKILL and SIGSTOP
/// reach no process's handler, and SIGCHLD is berth's own (it reaps on it).
pub fn never_received(signal: i32) -> Option<&'static str> {
    match signal {
        sig::SIGKILL | sig::SIGSTOP => Some("the kernel never lets a process catch it"),
        sig::SIGCHLD => {
            Some("it tells berth a child changed state; berth reaps, never forwards it")
        }
        _ => None,
    }
}

/// Signals that ask berth to stop: while it waits for dependencies, for the
/// pre-start lock or between pre-start steps they end berth (with 128 + N)
/// instead of being forwarded.
pub fn is_stop_signal(signal: i32) -> bool {
    signal_hook::consts::TERM_SIGNALS.contains(&signal) || signal == sig::SIGHUP
}

/// Takes every signal already queued on `signals` without waiting, and
/// returns the first stop signal among them.
pub fn drain(signals: &SignalFd) -> Option<i32> {
    let mut stop = None;
    while let Some(got) = signals.try_read() {
        if is_stop_signal(got.signal) {
            stop.get_or_insert(got.signal);
        }
    }
    stop
}

/// Sends `signal` to `pid` (a negative pid names a process group). Raw, so
/// real-time signals work; returns the errno on failure.
pub fn send(pid: i32, signal: i32) -> Result<(), nix::errno::Errno> {
    // SAFETY: kill has no memory arguments.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse("TERM"), Some(15));
        assert_eq!(parse("SIGQUIT"), Some(3));
        assert_eq!(parse("hup"), Some(1));
        assert_eq!(parse("40"), Some(40));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("65"), None);
        assert_eq!(parse("TERMINATE"), None);
        assert_eq!(parse("SIG"), None);
    }

    #[test]
    fn handled_mask_leaves_out_only_the_unblockables() {
        let m = Mask::handled();
        for s in (1..=MAX_SIGNAL).filter(|s| ![9, 19].contains(s)) {
            assert!(m.contains(s), "{s} should be handled");
        }
        for s in FAULTS {
            assert!(m.contains(s), "fault signal {s} should be forwarded");
        }
        for s in [9, 19] {
            assert!(!m.contains(s), "{s} should not be handled");
        }
    }
}
