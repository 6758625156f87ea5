//! Descriptors 0-2. berth has its own `main` (src/main.rs), so std's start-up
//! does not run, and with it goes std's guarantee that stdin, stdout and
//! stderr are open. Started with one of them closed (`berth run ... 2>&-`),
//! berth's first signalfd or socket would take that number, and a log line
//! would go into it. `ensure_open` restores the guarantee, as std does:
//! each closed one becomes /dev/null, which CMD then inherits in its place.

use std::ffi::CStr;

const DEV_NULL: &CStr = c"/dev/null";

/// Opens /dev/null on each of 0, 1 and 2 that is closed. One `poll` when all
/// are open (the usual case).
pub fn ensure_open() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of 3 pollfds; a zero timeout returns at
    // once.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    if rc < 0 {
        return;
    }
    for pfd in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
        // SAFETY: a NUL-terminated path; open returns the lowest free
        // descriptor, which is the closed one (lower ones are open or were
        // just reopened in order).
        let fd = unsafe { libc::open(DEV_NULL.as_ptr(), libc::O_RDWR) };
        if fd >= 0 && fd != pfd.fd {
            // Something lower was free after all: move it where it belongs.
            // SAFETY: both are descriptors we own.
            unsafe {
                libc::dup2(fd, pfd.fd);
                libc::close(fd);
            }
        }
    }
}
