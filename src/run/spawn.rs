//! Starting CMD (and pre-start steps) as a direct child, in its own process
//! group, with the signal mask berth was itself started with.
//!
//! Not `std::process::Command`: std always clears the child's signal mask.
//! The common case goes through `posix_spawn`, which sets the group and the
//! mask itself and is cheaper than a fork (musl shares berth's memory with
//! the child until exec). When the child must take the terminal or switch
//! users, berth forks and does in the child only async-signal-safe work on
//! data prepared before the fork; a close-on-exec pipe carries the failing
//! step and errno back, so the parent can say why and pick 126 or 127.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{ForkResult, Gid, Pid, Uid, fork, pipe2};

use crate::exit::{Error, exec_failed};
use crate::inherit::{self, Environment, ListenPid};
use crate::sys::signals::{self, Mask};

/// Who the child runs as (`--user`); applied in the order the kernel needs:
/// supplementary groups, then gid, then uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    pub groups: Vec<Gid>,
    /// The user's home directory, CMD's `HOME`.
    pub home: Vec<u8>,
}

/// What to start.
pub struct Spec<'a> {
    pub argv: &'a [CString],
    /// The signal mask berth was started with.
    pub mask: Mask,
    pub user: Option<&'a Credentials>,
    /// Its environment and socket-activation descriptors (`crate::inherit`).
    pub env: &'a Environment,
}

/// What the child reports through the pipe before it dies.
const STAGE_EXEC: u8 = 1;
const STAGE_CREDENTIALS: u8 = 2;
const STAGE_GROUP: u8 = 3;
const STAGE_TERMINAL: u8 = 4;

/// Starts `spec.argv` in a new process group; when stdin is a terminal that
/// group becomes the terminal's foreground group, so Ctrl-C and job control
/// reach the app as they would without berth (`docker run -it`).
pub fn spawn(spec: &Spec) -> Result<Pid, Error> {
    let foreground = nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
    let argv: Vec<*const libc::c_char> = spec
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // The child must write its own pid into LISTEN_PID: only a fork can.
    let mut listen_pid = inherit::listen_pid_buffer();
    let listen_pid: *mut ListenPid = &mut listen_pid;
    if !foreground && spec.user.is_none() && spec.env.listen_fds.is_none() {
        return posix_spawn(spec, &argv, &spec.env.pointers(None));
    }
    let envp = spec
        .env
        .pointers(spec.env.listen_fds.map(|_| listen_pid.cast_const().cast()));
    let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).map_err(|e| cannot_fork(e, spec))?;
    let groups: Vec<libc::gid_t> = spec
        .user
        .map(|c| c.groups.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();

    // SAFETY: the child only calls async-signal-safe functions on memory
    // prepared above (no allocation, no locks), then execs or _exits.
    match unsafe { fork() }.map_err(|e| cannot_fork(e, spec))? {
        ForkResult::Child => {
            drop(read_end);
            child(
                spec,
                &Prepared {
                    argv: &argv,
                    envp: &envp,
                    groups: &groups,
                    listen_pid,
                },
                foreground,
                &write_end,
            )
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
                    let cmd = spec.argv[0].to_string_lossy();
                    let why = |what: &str| Error::Exec {
                        message: format!("{cmd}: {what}: {}", errno.desc()),
                        code: crate::exit::CANNOT_EXECUTE,
                    };
                    Err(match stage {
                        STAGE_CREDENTIALS => why("cannot switch to the user given by --user"),
                        STAGE_GROUP => why("cannot start a process group"),
                        STAGE_TERMINAL => why("cannot hand over the terminal"),
                        _ => exec_failed(&cmd, errno),
                    })
                }
            }
        }
    }
}

/// The common case (no terminal to hand over, no user to switch to) needs
/// nothing posix_spawn cannot do, and musl's posix_spawn shares berth's
/// memory with the child until exec instead of copying its page tables:
/// a measurably cheaper start for short commands.
fn posix_spawn(
    spec: &Spec,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> Result<Pid, Error> {
    let cmd = spec.argv[0].to_string_lossy();
    let setup = |call: &str, rc: libc::c_int| {
        Error::Setup(format!(
            "{cmd}: {call} failed: {}",
            Errno::from_raw(rc).desc()
        ))
    };
    let mut attr = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::uninit();
    // SAFETY: initialises the attribute object in place.
    let rc = unsafe { libc::posix_spawnattr_init(attr.as_mut_ptr()) };
    if rc != 0 {
        return Err(setup("posix_spawnattr_init", rc));
    }
    // SAFETY: initialised just above.
    let mut attr = unsafe { attr.assume_init() };
    // SAFETY: an all-zero sigset_t is a valid empty set; its first 8 bytes
    // are the kernel's set (musl hands them to rt_sigprocmask as they are,
    // so signals 32-34 survive).
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigset_t is at least 8 bytes on every Linux target.
    unsafe {
        std::ptr::write_unaligned(
            (&mut mask as *mut libc::sigset_t).cast::<u64>(),
            spec.mask.0,
        )
    };
    let flags = (libc::POSIX_SPAWN_SETPGROUP | libc::POSIX_SPAWN_SETSIGMASK) as libc::c_short;
    // SAFETY: `attr` is initialised; `mask` outlives the calls.
    let configured = unsafe {
        [
            (
                "posix_spawnattr_setsigmask",
                libc::posix_spawnattr_setsigmask(&mut attr, &mask),
            ),
            (
                "posix_spawnattr_setpgroup",
                libc::posix_spawnattr_setpgroup(&mut attr, 0),
            ),
            (
                "posix_spawnattr_setflags",
                libc::posix_spawnattr_setflags(&mut attr, flags),
            ),
        ]
    };
    let result = match configured.into_iter().find(|(_, rc)| *rc != 0) {
        Some((call, rc)) => Err(setup(call, rc)),
        None => {
            let mut pid: libc::pid_t = 0;
            // SAFETY: argv and envp are NULL-terminated and outlive the call.
            let rc = signals::keeping_mask(|| unsafe {
                libc::posix_spawnp(
                    &mut pid,
                    argv[0],
                    std::ptr::null(),
                    &attr,
                    argv.as_ptr().cast(),
                    envp.as_ptr().cast(),
                )
            });
            // musl has already reaped a child whose exec failed.
            match rc {
                0 => Ok(Pid::from_raw(pid)),
                rc => Err(exec_failed(&cmd, Errno::from_raw(rc))),
            }
        }
    };
    // SAFETY: destroys the object initialised above, once.
    unsafe { libc::posix_spawnattr_destroy(&mut attr) };
    result
}

/// Everything the child uses, made before the fork.
struct Prepared<'a> {
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    groups: &'a [libc::gid_t],
    /// The entry `envp` points to for LISTEN_PID, if CMD gets one; only the
    /// child writes it.
    listen_pid: *mut ListenPid,
}

/// The child's side of the fork. Never returns.
fn child(spec: &Spec, p: &Prepared, foreground: bool, report: &OwnedFd) -> ! {
    // SAFETY: all calls below are async-signal-safe system calls on valid
    // pointers prepared before the fork.
    unsafe {
        if libc::setpgid(0, 0) != 0 {
            fail(report, STAGE_GROUP);
        }
        // SIGTTOU is blocked here, so taking the terminal from the
        // background cannot stop us. ENOTTY and ENXIO mean stdin is not our
        // controlling terminal after all (tini tolerates them too): the app
        // then runs without one, as it would without berth.
        if foreground && libc::tcsetpgrp(0, libc::getpid()) != 0 {
            let e = Errno::last();
            if e != Errno::ENOTTY && e != Errno::ENXIO {
                fail(report, STAGE_TERMINAL);
            }
        }
        if let Some(c) = spec.user {
            if libc::setgroups(p.groups.len(), p.groups.as_ptr()) != 0
                || libc::setgid(c.gid.as_raw()) != 0
                || libc::setuid(c.uid.as_raw()) != 0
            {
                fail(report, STAGE_CREDENTIALS);
            }
        }
        if let Some(n) = spec.env.listen_fds {
            inherit::pass_listen_fds(n);
            inherit::write_listen_pid(&mut *p.listen_pid);
        }
        signals::restore(spec.mask);
        libc::execvpe(p.argv[0], p.argv.as_ptr(), p.envp.as_ptr());
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

fn cannot_fork(e: Errno, spec: &Spec) -> Error {
    Error::Setup(format!(
        "{}: cannot fork: {}",
        spec.argv[0].to_string_lossy(),
        e.desc()
    ))
}
