//! PID 1's idle footprint. berth is one binary with TLS and three protocol
//! clients in it, but `run` needs only a sliver of that code while it sleeps.
//! The kernel maps file pages around every page a process touches ("fault
//! around", 64 kB windows), so start-up alone leaves most of berth's code
//! resident. Before it sleeps, berth drops its clean, read-only file mappings
//! (code and read-only data) from its page tables: the pages
//! stay in the page cache, come back on the next wake-up as minor faults, and
//! VmRSS while idle shows what PID 1 really holds.
//!
//! The drop and the sleep are one small function issuing raw system calls,
//! and the page it lives in is left mapped: returning from `madvise` into
//! code that was just dropped would fault a whole 64 kB window straight back.
//! Only never-written mappings are dropped (MADV_DONTNEED on a private file
//! mapping discards changes): a mapping with any private page is left alone.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Drop once berth has been idle this long (and so at most this often): a
/// storm of signals does not pay for madvise and re-faults on every wake-up,
/// and a short-lived CMD not at all.
const EVERY: Duration = Duration::from_secs(1);
const PAGE: usize = 4096;

pub struct Trimmer {
    /// Our clean read-only mappings, minus the pages of `drop_and_poll`;
    /// found the first time they are dropped, so reading /proc/self/smaps
    /// is never on the way to CMD's start (and a short CMD never pays it).
    ranges: Option<Vec<(usize, usize)>>,
    last: Instant,
}

impl Trimmer {
    /// The first drop is due `EVERY` from now.
    pub fn new() -> Trimmer {
        Trimmer {
            ranges: None,
            last: Instant::now(),
        }
    }

    /// How long until dropping the mappings is allowed again: zero when it
    /// is due, `None` when there is nothing to drop.
    pub fn due_in(&self) -> Option<Duration> {
        if self.ranges.as_ref().is_some_and(Vec::is_empty) {
            return None;
        }
        Some(EVERY.saturating_sub(self.last.elapsed()))
    }

    /// Drops the mappings and sleeps until `fd` is readable.
    pub fn sleep_until_readable(&mut self, fd: BorrowedFd) {
        let ranges = self
            .ranges
            .get_or_insert_with(|| droppable().unwrap_or_default());
        self.last = Instant::now();
        drop_and_poll(ranges, fd.as_raw_fd());
    }
}

/// The ranges to drop, from /proc/self/smaps: every read-only mapping of our
/// own executable that holds no private (written) page, so dropping it can
/// lose nothing; less the two pages where `drop_and_poll` lives. In a
/// static-pie build the relocated read-only data has private pages and is
/// left alone by this rule.
fn droppable() -> Option<Vec<(usize, usize)>> {
    let keep = (drop_and_poll as fn(&[(usize, usize)], i32) as usize) & !(PAGE - 1);
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let exe = exe.to_str()?;
    let mut ranges = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            // A mapping header: "start-end perms offset dev inode path".
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                current = None;
                continue;
            };
            current = (path == exe && (perms == "r-xp" || perms == "r--p")).then_some((a, b));
        } else if first == "Anonymous:" {
            if let Some((a, b)) = current.take() {
                if f.next() == Some("0") {
                    ranges.push((a, b));
                }
            }
        }
    }
    // Cut out the pages of drop_and_poll (two: it may straddle a boundary).
    let mut cut = Vec::with_capacity(ranges.len() + 1);
    for (a, b) in ranges {
        if (a..b).contains(&keep) {
            cut.push((a, keep - a));
            let after = (keep + 2 * PAGE).min(b);
            cut.push((after, b - after));
        } else {
            cut.push((a, b - a));
        }
    }
    cut.retain(|r| r.1 > 0);
    Some(cut)
}

/// madvise(MADV_DONTNEED) on each range, then ppoll on `fd`, touching no
/// code outside this function between the two.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn drop_and_poll(ranges: &[(usize, usize)], fd: i32) {
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
fn drop_and_poll(ranges: &[(usize, usize)], fd: i32) {
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
