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
//!
//! The main thread's stack below the sleeping frame is dropped too: start-up
//! (argument parsing, reading smaps) touched pages there that hold nothing
//! live. They come back as zero pages if a deeper call needs them. And
//! /proc/self/smaps is read through a buffer on the stack, not the heap:
//! musl's allocator keeps freed pages resident, so a 10 kB read would stay.

use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Drop once berth has been idle this long (and so at most this often): a
/// storm of signals does not pay for madvise and re-faults on every wake-up,
/// and a short-lived CMD not at all.
const EVERY: Duration = Duration::from_secs(1);
const PAGE: usize = 4096;

pub struct Trimmer {
    /// What can be dropped; found the first time it is dropped, so reading
    /// /proc/self/smaps is never on the way to CMD's start (and a short CMD
    /// never pays it).
    found: Option<Droppable>,
    last: Instant,
}

#[derive(Default)]
struct Droppable {
    /// Our clean read-only mappings, minus the pages of `drop_and_poll`.
    ranges: Vec<(usize, usize)>,
    /// The main thread's stack mapping (start, end).
    stack: (usize, usize),
}

impl Trimmer {
    /// The first drop is due `EVERY` from now.
    pub fn new() -> Trimmer {
        Trimmer {
            found: None,
            last: Instant::now(),
        }
    }

    /// How long until dropping the mappings is allowed again: zero when it
    /// is due, `None` when there is nothing to drop.
    pub fn due_in(&self) -> Option<Duration> {
        if self
            .found
            .as_ref()
            .is_some_and(|f| f.ranges.is_empty() && f.stack.0 == f.stack.1)
        {
            return None;
        }
        Some(EVERY.saturating_sub(self.last.elapsed()))
    }

    /// Drops the mappings and sleeps until `fd` is readable.
    pub fn sleep_until_readable(&mut self, fd: BorrowedFd) {
        let found = self
            .found
            .get_or_insert_with(|| droppable().unwrap_or_default());
        self.last = Instant::now();
        drop_and_poll(&found.ranges, found.stack, fd.as_raw_fd());
    }
}

/// What to drop, from /proc/self/smaps: every read-only mapping of our own
/// executable that holds no private (written) page, so dropping it can lose
/// nothing, less the two pages where `drop_and_poll` lives; and where the
/// main thread's stack is. In a static-pie build the relocated read-only
/// data has private pages and is left alone by this rule.
fn droppable() -> Option<Droppable> {
    let keep = (drop_and_poll as fn(&[(usize, usize)], (usize, usize), i32) as usize) & !(PAGE - 1);
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let exe = exe.to_str()?;
    let mut found = Droppable::default();
    let mut current: Option<(usize, usize)> = None;
    each_line("/proc/self/smaps", |line| {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            // A mapping header: "start-end perms offset dev inode path".
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                current = None;
                return;
            };
            if path == "[stack]" {
                found.stack = (a, b);
            }
            current = (path == exe && (perms == "r-xp" || perms == "r--p")).then_some((a, b));
        } else if first == "Anonymous:" {
            if let Some((a, b)) = current.take() {
                if f.next() == Some("0") {
                    found.ranges.push((a, b));
                }
            }
        }
    })?;
    // Cut out the pages of drop_and_poll (two: it may straddle a boundary).
    let mut cut = Vec::with_capacity(found.ranges.len() + 1);
    for &(a, b) in &found.ranges {
        if (a..b).contains(&keep) {
            cut.push((a, keep - a));
            let after = (keep + 2 * PAGE).min(b);
            cut.push((after, b - after));
        } else {
            cut.push((a, b - a));
        }
    }
    cut.retain(|r| r.1 > 0);
    found.ranges = cut;
    Some(found)
}

/// Calls `each` with every line of the file at `path`, read through a
/// buffer on the stack. A line longer than the buffer is passed cut short
/// (smaps's only long lines are headers with a long path, which then match
/// no path and are left alone).
fn each_line(path: &str, mut each: impl FnMut(&str)) -> Option<()> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 1024];
    let (mut filled, mut skipping) = (0, false);
    loop {
        let n = file.read(&mut buf[filled..]).ok()?;
        filled += n;
        let mut start = 0;
        while let Some(nl) = buf[start..filled].iter().position(|&b| b == b'\n') {
            if !skipping {
                each(std::str::from_utf8(&buf[start..start + nl]).unwrap_or(""));
            }
            skipping = false;
            start += nl + 1;
        }
        if n == 0 {
            if start < filled && !skipping {
                each(std::str::from_utf8(&buf[start..filled]).unwrap_or(""));
            }
            return Some(());
        }
        if start == 0 && filled == buf.len() {
            if !skipping {
                each(std::str::from_utf8(&buf).unwrap_or(""));
            }
            (start, skipping) = (filled, true);
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// The part of `stack` (start, end) more than a page below `here`, an
/// address in the caller's frame: what start-up left there is dead. The
/// page kept below `here` covers the frame and a system call wrapper's.
#[inline(always)]
fn below(stack: (usize, usize), here: usize) -> (usize, usize) {
    if !(stack.0..stack.1).contains(&here) {
        return (stack.0, 0);
    }
    let top = (here & !(PAGE - 1)).saturating_sub(PAGE).max(stack.0);
    (stack.0, top - stack.0)
}

/// madvise(MADV_DONTNEED) on each range and on the stack below this frame,
/// then poll on `fd`, touching no code outside this function between the
/// two: the system calls are issued inline (`raw`).
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[inline(never)]
fn drop_and_poll(ranges: &[(usize, usize)], stack: (usize, usize), fd: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let dead = below(stack, &pfd as *const libc::pollfd as usize);
    for &(start, len) in ranges.iter().chain(std::iter::once(&dead)) {
        // SAFETY: each range lies in one of our own never-written file
        // mappings, so dropping it loses nothing: pages fault back unchanged;
        // or in our stack a page or more below this frame, where nothing
        // lives (a deeper call later gets zero pages).
        unsafe { raw::madvise_dontneed(start, len) };
    }
    // SAFETY: one valid pollfd on our stack.
    unsafe { raw::poll_forever(&mut pfd) };
}

/// Elsewhere: plain system calls through libc, whose code faults back in
/// (32-bit ARM's frame pointer register is the one its system calls need).
#[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
#[inline(never)]
fn drop_and_poll(ranges: &[(usize, usize)], stack: (usize, usize), fd: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let dead = below(stack, &pfd as *const libc::pollfd as usize);
    for &(start, len) in ranges.iter().chain(std::iter::once(&dead)) {
        // SAFETY: as above: never-written file mappings of our own, or our
        // stack a page or more below this frame (madvise's own frame is in
        // the page kept).
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, -1) };
}

/// The two system calls `drop_and_poll` makes, inline in its body. The
/// results are not read: a failed drop leaves pages resident, and a failed
/// poll (EINTR) returns to the loop that called it.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
mod raw {
    #[cfg(target_arch = "x86_64")]
    mod nr {
        pub const MADVISE: usize = 28;
        pub const POLL: usize = 7;
    }

    #[cfg(target_arch = "x86")]
    mod nr {
        pub const MADVISE: usize = 219;
        pub const POLL: usize = 168;
    }

    #[cfg(target_arch = "aarch64")]
    mod nr {
        pub const MADVISE: usize = 233;
        /// No poll here: ppoll with no timeout and no mask is the same.
        pub const PPOLL: usize = 73;
    }

    /// madvise(start, len, MADV_DONTNEED).
    #[inline(always)]
    pub unsafe fn madvise_dontneed(start: usize, len: usize) {
        // SAFETY: the caller's promise about the range.
        unsafe { syscall3(nr::MADVISE, start, len, libc::MADV_DONTNEED as usize) };
    }

    /// poll(pfd, 1, -1): until the descriptor is readable or a signal.
    #[inline(always)]
    pub unsafe fn poll_forever(pfd: *mut libc::pollfd) {
        #[cfg(not(target_arch = "aarch64"))]
        // SAFETY: the caller's valid pollfd; -1 is no timeout.
        unsafe {
            syscall3(nr::POLL, pfd as usize, 1, -1isize as usize)
        };
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the caller's valid pollfd; a NULL timeout and a NULL mask
        // (ppoll's fourth argument, zero in syscall3).
        unsafe {
            syscall3(nr::PPOLL, pfd as usize, 1, 0)
        };
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn syscall3(nr: usize, a: usize, b: usize, c: usize) {
        // SAFETY: the caller's.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr => _,
                in("rdi") a,
                in("rsi") b,
                in("rdx") c,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            )
        };
    }

    /// int 0x80 takes the first argument in ebx, which Rust keeps for
    /// itself: it is swapped in and back.
    #[cfg(target_arch = "x86")]
    #[inline(always)]
    unsafe fn syscall3(nr: usize, a: usize, b: usize, c: usize) {
        // SAFETY: the caller's; ebx is restored before the block ends.
        unsafe {
            std::arch::asm!(
                "xchg ebx, {a}",
                "int 0x80",
                "xchg ebx, {a}",
                a = inout(reg) a => _,
                inlateout("eax") nr => _,
                in("ecx") b,
                in("edx") c,
                options(nostack),
            )
        };
    }

    /// Also zeroes the fourth and fifth argument registers (ppoll's mask
    /// and its size).
    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    unsafe fn syscall3(nr: usize, a: usize, b: usize, c: usize) {
        // SAFETY: the caller's.
        unsafe {
            std::arch::asm!(
                "svc #0",
                in("x8") nr,
                inlateout("x0") a => _,
                in("x1") b,
                in("x2") c,
                in("x3") 0usize,
                in("x4") 0usize,
                options(nostack),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(text: &str) -> Vec<String> {
        let path = std::env::temp_dir().join(format!("berth-each-line-{}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let mut lines = Vec::new();
        each_line(path.to_str().unwrap(), |l| lines.push(l.to_string())).unwrap();
        std::fs::remove_file(&path).unwrap();
        lines
    }

    #[test]
    fn lines_across_reads_are_whole_and_overlong_ones_cut() {
        // Lines straddling the 1024-byte buffer, a last line with no
        // newline, and a 3000-byte line passed as its first 1024 bytes.
        let short: Vec<String> = (0..300).map(|i| format!("line {i}")).collect();
        let long = "x".repeat(3000);
        let text = format!("{}\n{long}\nafter\nlast", short.join("\n"));
        let mut want = short.clone();
        want.extend(["x".repeat(1024), "after".into(), "last".into()]);
        assert_eq!(lines_of(&text), want);
        assert_eq!(lines_of(""), Vec::<String>::new());
    }

    #[test]
    fn the_dead_stack_is_below_a_page_under_the_frame() {
        let stack = (0x10000, 0x30000);
        assert_eq!(below(stack, 0x2f010), (0x10000, 0x1e000));
        assert_eq!(below(stack, 0x10800), (0x10000, 0));
        // An address outside the stack (another thread's): nothing.
        assert_eq!(below(stack, 0x40000), (0x10000, 0));
    }
}
