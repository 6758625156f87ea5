//! Reaping: collect every child that exits, CMD's own status among them, and
//! find the processes left in berth's tree when CMD is gone.

use nix::errno::Errno;
use nix::unistd::Pid;

/// How a process ended, as `wait(2)` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(u8),
    Signal(i32),
}

impl Exit {
    /// The shell's convention: the code, or 128 + the signal number.
    pub fn code(self) -> u8 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => crate::exit::signalled(s),
        }
    }

    fn from_status(status: i32) -> Exit {
        if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status) as u8)
        }
    }
}

/// What one pass of reaping found.
pub struct Reaped {
    /// `watched`'s exit, if it was collected in this pass.
    pub watched: Option<Exit>,
    /// The signal that stopped `watched`, if it stopped in this pass (job
    /// control: Ctrl-Z, a background read from the terminal).
    pub stopped: Option<i32>,
    /// No child is left at all (ECHILD): berth's tree is empty.
    pub none_left: bool,
}

/// Collects every child that has exited, without blocking, and notes
/// whether `watched` has stopped. Raw `waitpid` rather than nix's, because
/// nix cannot represent a child killed by a real-time signal and would lose
/// that status.
pub fn reap(watched: Option<Pid>) -> Reaped {
    let mut found = Reaped {
        watched: None,
        stopped: None,
        none_left: false,
    };
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::WUNTRACED) };
        match pid {
            0 => return found,
            -1 => match Errno::last() {
                Errno::EINTR => continue,
                // ECHILD: nothing left to wait for.
                _ => {
                    found.none_left = true;
                    return found;
                }
            },
            pid if libc::WIFSTOPPED(status) => {
                if Some(Pid::from_raw(pid)) == watched {
                    found.stopped = Some(libc::WSTOPSIG(status));
                }
            }
            pid => {
                let exit = Exit::from_status(status);
                if Some(Pid::from_raw(pid)) == watched {
                    found.watched = Some(exit);
                } else {
                    // Formatted only with -v: nothing is built per orphan
                    // otherwise.
                    crate::log::debug(format_args!("reaped process {pid} ({exit})"));
                }
            }
        }
    }
}

/// Blocks until `pid` has exited and returns how. Only for a child known to
/// be exiting already (a failed exec).
pub fn wait_for(pid: Pid) -> Option<Exit> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid.as_raw(), &mut status, 0) };
        if rc == pid.as_raw() {
            return Some(Exit::from_status(status));
        }
        if Errno::last() != Errno::EINTR {
            return None;
        }
    }
}

/// "exit code 3", "killed by SIGTERM".
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "killed by {}", crate::sys::signals::name(s)),
        }
    }
}

/// Sends `signal` to every process in berth's tree. As PID 1 of a namespace
/// that is everything else in the namespace, so `kill(-1)` is exact. Otherwise
/// berth walks /proc for its descendants: `kill(-1)` there would reach
/// processes that are not ours. Returns how many processes were signalled.
pub fn signal_tree(signal: i32) -> usize {
    let me = std::process::id() as i32;
    let tree = descendants(me);
    if me == 1 {
        // ESRCH: nobody else is left.
        return if crate::sys::signals::send(-1, signal).is_ok() {
            tree.len().max(1)
        } else {
            0
        };
    }
    tree.into_iter()
        .filter(|pid| crate::sys::signals::send(*pid, signal).is_ok())
        .count()
}

/// The pids under `root`, from each process's parent in /proc/PID/stat.
fn descendants(root: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        crate::log::warn(format_args!(
            "/proc is not readable; leftover processes cannot be found"
        ));
        return Vec::new();
    };
    let parents: Vec<(i32, i32)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == p)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    tree.remove(0);
    tree
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: the fields we want
    // follow the last ')'. Layout: "pid (comm) state ppid ...".
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(Exit::Code(3).code(), 3);
        assert_eq!(Exit::Signal(15).code(), 143);
        assert_eq!(Exit::Signal(9).code(), 137);
        assert_eq!(Exit::Signal(64).code(), 192);
    }

    #[test]
    fn parent_of_self_is_our_parent() {
        let me = std::process::id() as i32;
        assert_eq!(parent_of(me), Some(nix::unistd::getppid().as_raw()));
    }
}
