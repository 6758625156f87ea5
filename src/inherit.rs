//! What CMD and the pre-start steps inherit from berth: the one rule, which
//! `run` (spawning CMD and each step) and `wait -- CMD` (exec) both follow.
//!
//! - **Environment**: every variable berth was started with, untouched,
//!   except berth's own settings: no `BERTH_*` variable reaches them (they
//!   configure berth, and `BERTH_WAIT` or `BERTH_PRE_LOCK` may hold a
//!   password). With `--user`, `HOME` is that user's home, as gosu, su-exec
//!   and `docker run --user` set it.
//! - **Descriptors**: those berth was started with; every descriptor berth
//!   opens itself is close-on-exec from the moment it exists (signalfd,
//!   pipes, sockets: std and `pipe2(O_CLOEXEC)`), so none reaches a child,
//!   even one started while another thread is still opening one.
//! - **Socket activation** (systemd's `LISTEN_FDS`, which Podman passes to
//!   the container): when `LISTEN_PID` names berth, the descriptors 3 to
//!   3 + LISTEN_FDS - 1 are CMD's, with `LISTEN_PID` rewritten to CMD's pid
//!   (as catatonit does). The pre-start steps get neither the descriptors
//!   nor the variables. A `LISTEN_PID` naming another process is not
//!   berth's business and passes through untouched.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

/// The prefix of berth's own settings.
const OWN: &[u8] = b"BERTH_";
const LISTEN_PID: &[u8] = b"LISTEN_PID";
const LISTEN_VARS: [&[u8]; 3] = [LISTEN_PID, b"LISTEN_FDS", b"LISTEN_FDNAMES"];
/// The first descriptor passed by socket activation (SD_LISTEN_FDS_START).
pub const LISTEN_FDS_START: i32 = 3;

/// Who the environment is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum For {
    /// CMD started by `run`: gets the socket-activation descriptors.
    Cmd,
    /// A pre-start step: gets no socket-activation descriptor or variable.
    Step,
    /// CMD exec'd by `wait`: it takes berth's place, pid and all, so
    /// `LISTEN_PID` stays right as it is.
    Exec,
}

/// A child's environment, ready for exec.
pub struct Environment {
    vars: Vec<CString>,
    /// The socket-activation descriptors CMD gets (3..3+n), when `LISTEN_PID`
    /// is to be rewritten to CMD's pid in the child (see `listen_pid`).
    pub listen_fds: Option<i32>,
}

impl Environment {
    /// Berth's environment as `who` inherits it; `home` replaces `HOME`.
    pub fn new(who: For, home: Option<&[u8]>) -> Environment {
        let listen_fds = socket_activation();
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let name = name.as_bytes();
            let listen = LISTEN_VARS.contains(&name) && listen_fds.is_some();
            let dropped = name.starts_with(OWN)
                || (home.is_some() && name == b"HOME")
                || (listen && who == For::Step)
                || (listen && who == For::Cmd && name == LISTEN_PID);
            if !dropped {
                vars.extend(entry(name, value.as_bytes()));
            }
        }
        if let Some(home) = home {
            vars.extend(entry(b"HOME", home));
        }
        Environment {
            vars,
            listen_fds: listen_fds.filter(|_| who == For::Cmd),
        }
    }

    /// The variables, for nix's exec.
    pub fn vars(&self) -> impl Iterator<Item = &std::ffi::CStr> {
        self.vars.iter().map(CString::as_c_str)
    }

    /// The NULL-terminated `envp` for exec, pointing into `self`; with
    /// `listen_pid`, that entry too (filled in by the child: `listen_pid`).
    pub fn pointers(&self, listen_pid: Option<*const libc::c_char>) -> Vec<*const libc::c_char> {
        self.vars
            .iter()
            .map(|v| v.as_ptr())
            .chain(listen_pid)
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    }
}

/// A `NAME=value` entry; `None` for one that cannot be passed (a NUL byte,
/// which the kernel's environment cannot hold anyway).
fn entry(name: &[u8], value: &[u8]) -> Option<CString> {
    CString::new([name, b"=", value].concat()).ok()
}

/// How many socket-activation descriptors berth was given: `LISTEN_FDS`
/// when `LISTEN_PID` is berth's own pid.
fn socket_activation() -> Option<i32> {
    let ours = std::env::var("LISTEN_PID").ok()?.parse::<u32>().ok()? == std::process::id();
    let n = std::env::var("LISTEN_FDS").ok()?.parse::<i32>().ok()?;
    (ours && n > 0).then_some(n)
}

/// Keeps the socket-activation descriptors from everything but CMD: marks
/// them close-on-exec in berth (the pre-start steps and any other child),
/// and the child that becomes CMD clears the mark (`pass_listen_fds`).
pub fn hold_listen_fds() {
    if let Some(n) = socket_activation() {
        for fd in LISTEN_FDS_START..LISTEN_FDS_START + n {
            // SAFETY: fcntl on an integer descriptor; EBADF (not open) is
            // harmless and leaves nothing to pass.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// In the child, between fork and exec: lets the `n` socket-activation
/// descriptors through exec. Async-signal-safe.
pub fn pass_listen_fds(n: i32) {
    for fd in LISTEN_FDS_START..LISTEN_FDS_START + n {
        // SAFETY: as above.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
}

/// A buffer for the `LISTEN_PID=<pid>` entry, which only the child can
/// write (its pid is not known before the fork).
pub type ListenPid = [u8; 32];

pub fn listen_pid_buffer() -> ListenPid {
    let mut buf = [0u8; 32];
    buf[..LISTEN_PID.len()].copy_from_slice(LISTEN_PID);
    buf[LISTEN_PID.len()] = b'=';
    buf
}

/// In the child, between fork and exec: writes its own pid after
/// `LISTEN_PID=`. Async-signal-safe (no allocation, no locks).
pub fn write_listen_pid(buf: &mut ListenPid) {
    // SAFETY: getpid has no arguments and cannot fail.
    let mut pid = unsafe { libc::getpid() } as u32;
    let mut digits = [0u8; 10];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (pid % 10) as u8;
        n += 1;
        pid /= 10;
        if pid == 0 {
            break;
        }
    }
    let start = LISTEN_PID.len() + 1;
    for i in 0..n {
        buf[start + i] = digits[n - 1 - i];
    }
    buf[start + n] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_pid_is_written_in_place() {
        let mut buf = listen_pid_buffer();
        write_listen_pid(&mut buf);
        let text = std::ffi::CStr::from_bytes_until_nul(&buf).unwrap();
        assert_eq!(
            text.to_str().unwrap(),
            format!("LISTEN_PID={}", std::process::id())
        );
    }
}
