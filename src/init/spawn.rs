//! Starting CMD (and pre-start steps) as a direct child.
//!
//! Not `std::process::Command`: std always clears the child's signal mask,
//! and berth must hand CMD the mask it was itself started with. So we fork,
//! and in the child do only async-signal-safe work on data prepared before the
//! fork: new process group, the terminal, credentials, the original mask,
//! exec. A close-on-exec pipe carries errno back if exec fails, so the parent
//! can say why and pick 126 or 127.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{ForkResult, Gid, Pid, Uid, fork, pipe2};

use super::signals::{self, Mask};

/// Who the child runs as (`--user`); applied in the order the kernel needs:
/// supplementary groups, then gid, then uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    pub groups: Vec<Gid>,
}

/// What to start.
pub struct Spec<'a> {
    pub argv: &'a [CString],
    /// The signal mask berth was started with.
    pub mask: Mask,
    pub user: Option<&'a Credentials>,
}

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot fork: {0}")]
    Fork(Errno),
    #[error("{}: command not found", .0)]
    NotFound(String),
    #[error("{}: cannot execute: {}", .0, .1.desc())]
    NotExecutable(String, Errno),
    #[error("cannot switch to the user given by --user: {}", .0.desc())]
    Credentials(Errno),
}

impl SpawnError {
    /// The shell's convention: 127 not found, 126 found but not runnable.
    pub fn exit_code(&self) -> u8 {
        match self {
            SpawnError::NotFound(_) => crate::exit::NOT_FOUND,
            _ => crate::exit::CANNOT_EXECUTE,
        }
    }
}

/// What the child reports through the pipe before it dies.
const STAGE_EXEC: u8 = 1;
const STAGE_CREDENTIALS: u8 = 2;

/// Starts `spec.argv` in a new process group; when stdin is a terminal that
/// group becomes the terminal's foreground group, so Ctrl-C and job control
/// reach the app as they would without berth (`docker run -it`).
pub fn spawn(spec: &Spec) -> Result<Pid, SpawnError> {
    let foreground = nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
    let argv: Vec<*const libc::c_char> = spec
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    if !foreground && spec.user.is_none() {
        return posix_spawn(spec, &argv);
    }
    let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Fork)?;
    let groups: Vec<libc::gid_t> = spec
        .user
        .map(|c| c.groups.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();

    // SAFETY: the child only calls async-signal-safe functions on memory
    // prepared above (no allocation, no locks), then execs or _exits.
    match unsafe { fork() }.map_err(SpawnError::Fork)? {
        ForkResult::Child => {
            drop(read_end);
            child(spec, &argv, &groups, foreground, &write_end)
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            // Also set the group from this side, so a signal forwarded to the
            // group right after the fork cannot miss it. EACCES once the child
            // has exec'd is expected and harmless.
            let _ = nix::unistd::setpgid(child, child);
            match read_report(&read_end) {
                None => Ok(child),
                Some((stage, errno)) => {
                    // The child has _exited; collect it so it is not counted
                    // as a leftover.
                    super::reap::wait_for(child);
                    let cmd = spec.argv[0].to_string_lossy().into_owned();
                    Err(match (stage, errno) {
                        (STAGE_CREDENTIALS, e) => SpawnError::Credentials(e),
                        (_, Errno::ENOENT | Errno::ENOTDIR) => SpawnError::NotFound(cmd),
                        (_, e) => SpawnError::NotExecutable(cmd, e),
                    })
                }
            }
        }
    }
}

unsafe extern "C" {
    static environ: *const *const libc::c_char;
}

/// The common case (no terminal to hand over, no user to switch to) needs
/// nothing posix_spawn cannot do, and musl's posix_spawn shares berth's
/// memory with the child until exec instead of copying its page tables:
/// a measurably cheaper start for short commands.
fn posix_spawn(spec: &Spec, argv: &[*const libc::c_char]) -> Result<Pid, SpawnError> {
    // SAFETY: the attribute object is initialised before use and destroyed
    // after; the signal set is written through its first 8 bytes, which is
    // the kernel's set (musl hands it to rt_sigprocmask as it is, so
    // signals 32-34 survive); argv is NULL-terminated and outlives the call.
    unsafe {
        let mut attr = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        libc::posix_spawnattr_init(attr.as_mut_ptr());
        let mut attr = attr.assume_init();
        let mut mask: libc::sigset_t = std::mem::zeroed();
        std::ptr::write_unaligned(
            (&mut mask as *mut libc::sigset_t).cast::<u64>(),
            spec.mask.0,
        );
        libc::posix_spawnattr_setsigmask(&mut attr, &mask);
        libc::posix_spawnattr_setpgroup(&mut attr, 0);
        libc::posix_spawnattr_setflags(
            &mut attr,
            (libc::POSIX_SPAWN_SETPGROUP | libc::POSIX_SPAWN_SETSIGMASK) as libc::c_short,
        );
        let mut pid: libc::pid_t = 0;
        let rc = libc::posix_spawnp(
            &mut pid,
            argv[0],
            std::ptr::null(),
            &attr,
            argv.as_ptr().cast(),
            environ.cast(),
        );
        libc::posix_spawnattr_destroy(&mut attr);
        // musl blocks all signals around the spawn and restores the mask
        // it read back through pthread_sigmask, which leaves out its own
        // 32-34: block them again so they keep coming through the signalfd.
        super::signals::block_in_thread();
        let cmd = || spec.argv[0].to_string_lossy().into_owned();
        if rc == 0 {
            return Ok(Pid::from_raw(pid));
        }
        // musl has already reaped a child whose exec failed.
        match Errno::from_raw(rc) {
            Errno::ENOENT | Errno::ENOTDIR => Err(SpawnError::NotFound(cmd())),
            e => Err(SpawnError::NotExecutable(cmd(), e)),
        }
    }
}

/// The child's side of the fork. Never returns.
fn child(
    spec: &Spec,
    argv: &[*const libc::c_char],
    groups: &[libc::gid_t],
    foreground: bool,
    report: &OwnedFd,
) -> ! {
    // SAFETY: all calls below are async-signal-safe system calls on valid
    // pointers prepared before the fork.
    unsafe {
        libc::setpgid(0, 0);
        if foreground {
            // SIGTTOU is blocked here, so taking the terminal from the
            // background cannot stop us.
            libc::tcsetpgrp(0, libc::getpid());
        }
        if let Some(c) = spec.user {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(c.gid.as_raw()) != 0
                || libc::setuid(c.uid.as_raw()) != 0
            {
                fail(report, STAGE_CREDENTIALS);
            }
        }
        signals::restore(spec.mask);
        libc::execvp(argv[0], argv.as_ptr());
        fail(report, STAGE_EXEC)
    }
}

/// Sends the stage and errno to the parent and exits. Async-signal-safe.
fn fail(report: &OwnedFd, stage: u8) -> ! {
    let errno = Errno::last_raw();
    let mut msg = [0u8; 5];
    msg[0] = stage;
    msg[1..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: writing 5 bytes from a 5-byte buffer; _exit skips atexit
    // handlers and stdio flushing, which belong to the parent.
    unsafe {
        libc::write(report.as_raw_fd(), msg.as_ptr().cast(), msg.len());
        libc::_exit(crate::exit::CANNOT_EXECUTE as i32)
    }
}

/// Reads the child's failure report; `None` means exec succeeded (the pipe
/// closed with no data).
fn read_report(fd: &OwnedFd) -> Option<(u8, Errno)> {
    let mut buf = [0u8; 5];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(5) => {
                let errno = i32::from_ne_bytes([buf[1], buf[2], buf[3], buf[4]]);
                return Some((buf[0], Errno::from_raw(errno)));
            }
            Err(Errno::EINTR) => continue,
            _ => return None,
        }
    }
}

/// Replaces berth with `argv` (`berth wait ... -- CMD`). Returns only on
/// failure.
pub fn exec(argv: &[CString]) -> SpawnError {
    let cmd = argv[0].to_string_lossy().into_owned();
    match nix::unistd::execvp(&argv[0], argv) {
        Err(Errno::ENOENT | Errno::ENOTDIR) => SpawnError::NotFound(cmd),
        Err(e) => SpawnError::NotExecutable(cmd, e),
        Ok(never) => match never {},
    }
}
