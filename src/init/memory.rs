//! PID 1's idle footprint. berth is one binary with TLS and three protocol
//! clients in it, but `run` needs only a sliver of that code while it sleeps.
//! The kernel maps file pages around every page a process touches ("fault
//! around", 64 kB windows), so start-up alone leaves most of berth's code
//! resident. Before it sleeps, berth drops its clean, read-only file mappings
//! (code and the read-only data before it) from its page tables: the pages
//! stay in the page cache, come back on the next wake-up as minor faults, and
//! VmRSS while idle shows what PID 1 really holds.
//!
//! The drop and the sleep are one small function issuing raw system calls,
//! and the page it lives in is left mapped: returning from `madvise` into
//! code that was just dropped would fault a whole 64 kB window straight back.
//! Only never-written mappings are dropped (MADV_DONTNEED on a private file
//! mapping discards changes); relocated read-only data and writable data stay.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Drop at most this often, so a storm of signals does not pay for madvise
/// and re-faults on every wake-up.
const EVERY: Duration = Duration::from_secs(1);
const PAGE: usize = 4096;

pub struct Trimmer {
    /// Up to three ranges: code below and above the sleeping function's
    /// pages, and the read-only data mapped before the code.
    ranges: [(usize, usize); 3],
    last: Option<Instant>,
}

impl Trimmer {
    pub fn new() -> Trimmer {
        Trimmer {
            ranges: droppable().unwrap_or_default(),
            last: None,
        }
    }

    /// How long until dropping the mappings is allowed again: zero when it
    /// is due, `None` when there is nothing to drop.
    pub fn due_in(&self) -> Option<Duration> {
        if self.ranges[0].1 == 0 {
            return None;
        }
        Some(
            self.last
                .map_or(Duration::ZERO, |t| EVERY.saturating_sub(t.elapsed())),
        )
    }

    /// Drops the mappings and sleeps until `fd` is readable.
    pub fn sleep_until_readable(&mut self, fd: BorrowedFd) {
        self.last = Some(Instant::now());
        drop_and_poll(&self.ranges, fd.as_raw_fd());
    }
}

/// The ranges to drop, from /proc/self/maps: the r-x mapping holding this
/// code minus the pages of `drop_and_poll`, and the same file's r--p mapping
/// at offset 0 (headers and read-only data the loader never writes).
fn droppable() -> Option<[(usize, usize); 3]> {
    let keep = (drop_and_poll as fn(&[(usize, usize); 3], i32) as usize) & !(PAGE - 1);
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let parse = |line: &str| -> Option<(usize, usize, String, String, String)> {
        let mut f = line.split_whitespace();
        let (range, perms, offset) = (f.next()?, f.next()?, f.next()?);
        let (_dev, _inode) = (f.next()?, f.next()?);
        let path = f.next().unwrap_or("").to_string();
        let (a, b) = range.split_once('-')?;
        let (a, b) = (
            usize::from_str_radix(a, 16).ok()?,
            usize::from_str_radix(b, 16).ok()?,
        );
        Some((a, b, perms.to_string(), offset.to_string(), path))
    };
    let entries: Vec<_> = maps.lines().filter_map(parse).collect();
    let (ta, tb, _, _, path) = entries
        .iter()
        .find(|(a, b, perms, _, _)| perms.starts_with("r-x") && (*a..*b).contains(&keep))?
        .clone();
    // Keep two pages: the function may straddle a page boundary.
    let below = (ta, keep - ta);
    let above_start = (keep + 2 * PAGE).min(tb);
    let above = (above_start, tb - above_start);
    let rodata = entries
        .iter()
        .find(|(_, b, perms, off, p)| {
            *p == path && perms == "r--p" && off.trim_start_matches('0').is_empty() && *b <= ta
        })
        .map_or((0, 0), |(a, b, ..)| (*a, b - a));
    Some([below, above, rodata])
}

/// madvise(MADV_DONTNEED) on each range, then ppoll on `fd`, touching no
/// code outside this function between the two.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn drop_and_poll(ranges: &[(usize, usize); 3], fd: i32) {
    const SYS_MADVISE: usize = 28;
    const SYS_PPOLL: usize = 271;
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    for &(start, len) in ranges {
        // SAFETY: each range lies in one of our own never-written file
        // mappings, so dropping it loses nothing: pages fault back unchanged.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") SYS_MADVISE => _,
                in("rdi") start,
                in("rsi") len,
                in("rdx") libc::MADV_DONTNEED as usize,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
    }
    // SAFETY: one valid pollfd on our stack, no timeout, no signal mask
    // change (the mask argument is NULL).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_PPOLL => _,
            in("rdi") &mut pfd as *mut libc::pollfd,
            in("rsi") 1usize,
            in("rdx") 0usize,
            in("r10") 0usize,
            in("r8") 8usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
}

/// Elsewhere: plain system calls (the code they touch stays resident).
#[cfg(not(target_arch = "x86_64"))]
fn drop_and_poll(ranges: &[(usize, usize); 3], fd: i32) {
    for &(start, len) in ranges {
        // SAFETY: as above: never-written file mappings of our own.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, -1) };
}
