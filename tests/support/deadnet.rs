//! A network where one address of a name is dead: packets to it vanish, so
//! a connect() there hangs until its timeout (no refusal, no unreachable
//! error), as with a crashed host or a firewall that drops.
//!
//! A holder process (`unshare --net --mount`, then `sleep`) owns a fresh
//! network namespace and a mount namespace in which /etc/hosts is a file of
//! ours. Inside: loopback up, `DEAD` added to it, and an nftables rule that
//! drops every packet to `DEAD`. The hosts file maps `deadhost` to `DEAD`
//! first and 127.0.0.1 second; musl returns IPv4-only answers from
//! /etc/hosts in file order (it sorts only when IPv6 is among them), so a
//! client that tries addresses one by one meets the dead one first.
//!
//! Servers join the namespace in two ways: in-process ones are bound on a
//! thread that has entered the namespace (`inside`; a socket stays in the
//! namespace it was made in), other programs run under `nsenter`
//! (`command`), as berth itself does.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::daemon;

/// The address whose packets are dropped.
pub const DEAD: &str = "10.99.0.1";
/// Resolves to `DEAD`, then to 127.0.0.1.
pub const HOST: &str = "deadhost";

pub struct DeadNet {
    /// The holder's pid: its namespaces are the ones entered.
    pid: u32,
    pub dir: PathBuf,
}

impl DeadNet {
    pub fn new() -> DeadNet {
        let dir = daemon::temp_dir("deadnet");
        let hosts = dir.join("hosts");
        std::fs::write(
            &hosts,
            format!("127.0.0.1 localhost\n{DEAD} {HOST}\n127.0.0.1 {HOST}\n"),
        )
        .unwrap();
        let ready = dir.join("ready");
        let rules = format!(
            "table inet deadnet {{\n  chain out {{\n    type filter hook output priority 0; policy accept;\n    ip daddr {DEAD} drop\n  }}\n}}\n"
        );
        std::fs::write(dir.join("rules.nft"), rules).unwrap();
        // `unshare --mount` makes every mount private first, so the bind
        // mount over /etc/hosts stays in the holder's namespace.
        let script = format!(
            "set -e\n\
             ip link set lo up\n\
             ip addr add {DEAD}/32 dev lo\n\
             nft -f {rules}\n\
             mount --bind {hosts} /etc/hosts\n\
             touch {ready}\n\
             exec sleep 100000\n",
            rules = dir.join("rules.nft").display(),
            hosts = hosts.display(),
            ready = ready.display(),
        );
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ]);
        let log = dir.join("holder.log");
        let pid = daemon::spawn(cmd, libc::SIGKILL, &log);
        let up = super::wait_until(Duration::from_secs(10), || ready.exists());
        assert!(
            up,
            "the dead-address namespace was not set up (root, unshare, ip and nft needed): {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let net = DeadNet { pid, dir };
        net.assert_dead();
        net
    }

    /// Runs `f` on a thread inside the namespace: sockets it creates (a
    /// listener, a test server) live there.
    pub fn inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        inside(self.pid, f)
    }

    /// `make` run inside the namespace, its result dropped there too: a
    /// test server's Drop wakes its accept loop by connecting to it, which
    /// only reaches it from inside.
    pub fn keep<T: Send + 'static>(&self, make: impl FnOnce() -> T + Send + 'static) -> Held<T> {
        Held {
            value: Some(self.inside(make)),
            pid: self.pid,
        }
    }

    /// `program` run inside the namespace (network and mounts: it sees our
    /// /etc/hosts).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid.to_string(), "--net", "--mount", "--"])
            .arg(program);
        cmd
    }

    /// berth inside the namespace.
    pub fn berth(&self) -> Command {
        self.command(super::berth_path())
    }

    /// The set-up is what the tests assume, or they would prove nothing: a
    /// connect() to `DEAD` gets no answer at all (it times out), and
    /// `deadhost` has both addresses. (getent is glibc's, which sorts
    /// addresses by RFC 6724 and puts 127.0.0.1 first; berth's musl keeps
    /// the file's order for IPv4-only answers: lookup_name.c, "No further
    /// processing is needed ... if there are only IPv4 results".)
    fn assert_dead(&self) {
        let result = self.inside(|| {
            let addr: SocketAddr = format!("{DEAD}:9").parse().unwrap();
            TcpStream::connect_timeout(&addr, Duration::from_millis(300)).map(drop)
        });
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            other => panic!("a connect to {DEAD} should hang, got {other:?}"),
        }
        let out = super::output_bounded(
            self.command("getent").args(["ahostsv4", HOST]),
            Duration::from_secs(10),
        );
        let mut found: Vec<String> = super::text(&out.stdout)
            .lines()
            .filter(|l| l.contains("STREAM"))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        found.sort();
        assert_eq!(
            found,
            ["10.99.0.1", "127.0.0.1"],
            "{HOST} resolves to {found:?}"
        );
    }
}

/// Runs `f` on a new thread that has entered `pid`'s network namespace.
fn inside<T: Send + 'static>(pid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).expect("open netns");
    std::thread::spawn(move || {
        // SAFETY: setns(2) on a descriptor we own; it changes only this
        // thread's network namespace.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("thread inside the namespace")
}

/// A value made inside the namespace, dropped inside it.
pub struct Held<T: Send + 'static> {
    value: Option<T>,
    pid: u32,
}

impl<T: Send + 'static> std::ops::Deref for Held<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_ref().unwrap()
    }
}

impl<T: Send + 'static> Drop for Held<T> {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            inside(self.pid, move || drop(v));
        }
    }
}
