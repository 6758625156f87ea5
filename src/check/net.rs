//! The one way every check reaches its peer: resolve every host, try the
//! addresses in order with the next one started early (RFC 8305's
//! "connection attempt delay", as curl does) so a dead first address cannot
//! take the whole deadline, and one deadline-bounded stream that every
//! protocol reads and writes through. The failure wordings that do not
//! depend on the protocol live here too.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Attempt;

/// How long an address gets before the next one is tried beside it
/// (RFC 8305 section 5 recommends 250 ms), unless the deadline leaves less
/// for each address still to try.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// Addresses tried per attempt at most: a name with more is a load
/// balancer's, and the rest would only share the deadline thinner.
const MAX_ADDRESSES: usize = 16;

/// Resolves `host` the way the C library does (musl: /etc/hosts, then the
/// servers in /etc/resolv.conf; no NSS needed, so it works FROM scratch).
pub fn resolve(host: &str, port: u16, attempt: &Attempt) -> Result<Vec<SocketAddr>, String> {
    attempt.phase("while resolving the name");
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            // The C library's reason ("Name does not resolve", "Temporary
            // failure in name resolution") tells a missing name from a DNS
            // server that gave no usable answer.
            let text = e.to_string();
            let why = text.rsplit(": ").next().unwrap_or_default();
            format!("name resolution failed for {host}: {why}")
        })?
        .collect();
    if addrs.is_empty() {
        return Err(format!("name resolution failed for {host}: no addresses"));
    }
    Ok(addrs)
}

/// Connects to the first of `hosts` that accepts, trying them in order
/// (several hosts: a PostgreSQL host list), within the attempt's deadline.
/// Returns the socket and the index of the host it reached.
pub fn connect(hosts: &[(&str, u16)], attempt: &Attempt) -> Result<(TcpStream, usize), String> {
    let mut addrs = Vec::new();
    let mut unresolved = None;
    for (i, &(host, port)) in hosts.iter().enumerate() {
        match resolve(host, port, attempt) {
            Ok(found) => addrs.extend(found.into_iter().map(|a| (a, i))),
            Err(why) => {
                unresolved.get_or_insert(why);
            }
        }
    }
    if addrs.is_empty() {
        return Err(unresolved.unwrap_or_else(|| "no host to connect to".into()));
    }
    addrs.truncate(MAX_ADDRESSES);
    let (stream, which) = connect_addrs(&addrs.iter().map(|a| a.0).collect::<Vec<_>>(), attempt)?;
    Ok((stream, addrs[which].1))
}

/// Connects to one host.
pub fn connect_one(host: &str, port: u16, attempt: &Attempt) -> Result<TcpStream, String> {
    connect(&[(host, port)], attempt).map(|(s, _)| s)
}

/// Connects to the first of `addrs` that accepts (already resolved, e.g. by
/// a protocol client's own resolver hook); returns the index of the one
/// that did.
///
/// The first address is tried at once; each next one after ATTEMPT_DELAY
/// (or its share of the time left, if smaller), or as soon as an earlier one
/// fails. Attempts already started keep going: a slow address that answers
/// first still wins.
pub fn connect_addrs(
    addrs: &[SocketAddr],
    attempt: &Attempt,
) -> Result<(TcpStream, usize), String> {
    attempt.phase("while connecting");
    match addrs {
        [] => return Err("no address to connect to".into()),
        [one] => return open(*one, attempt.remaining()).map(|s| (s, 0)),
        _ => {}
    }
    let (tx, rx) = mpsc::channel();
    let mut failures: Vec<String> = Vec::new();
    let mut started = 0;
    let mut next_at = Instant::now();
    loop {
        let now = Instant::now();
        if started < addrs.len() && now >= next_at {
            let (addr, tx, timeout) = (addrs[started], tx.clone(), attempt.remaining());
            let index = started;
            crate::sys::thread::spawn("connect", move || {
                let _ = tx.send((index, open(addr, timeout)));
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
            started += 1;
            let left = (addrs.len() - started) as u32;
            let share = attempt.remaining() / (left + 1);
            next_at = now + ATTEMPT_DELAY.min(share);
        }
        if failures.len() == addrs.len() {
            return Err(summary(failures));
        }
        let until = match started < addrs.len() {
            true => next_at,
            false => attempt.deadline(),
        };
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok((index, Ok(stream))) => return Ok((stream, index)),
            Ok((_, Err(why))) => {
                failures.push(why);
                // The next address need not wait for its turn.
                next_at = Instant::now();
            }
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() >= attempt.deadline() => {
                let waiting = addrs.len() - failures.len();
                failures.push(format!(
                    "timed out while connecting ({waiting} address{} still trying)",
                    if waiting == 1 { "" } else { "es" }
                ));
                return Err(summary(failures));
            }
            Err(_) => {}
        }
    }
}

/// The reasons of every failed address, the first in full.
fn summary(mut failures: Vec<String>) -> String {
    let first = failures.remove(0);
    match failures.len() {
        0 => first,
        n => format!(
            "{first}; and {n} other address{}: {}",
            if n == 1 { "" } else { "es" },
            failures.join("; ")
        ),
    }
}

/// One connection attempt, bounded by `timeout`.
fn open(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Err(e) => Err(connect_reason(&e, addr)),
    }
}

/// Connects to the Unix-domain socket at `path`.
pub fn connect_unix(path: &str, attempt: &Attempt) -> Result<UnixStream, String> {
    attempt.phase("while connecting");
    UnixStream::connect(path).map_err(|e| {
        use std::io::ErrorKind::*;
        match e.kind() {
            NotFound => format!("no such socket: {path}"),
            ConnectionRefused => format!("connection refused by {path} (nobody listening)"),
            _ => format!("cannot connect to {path}: {}", crate::exit::io_reason(&e)),
        }
    })
}

fn connect_reason(e: &std::io::Error, addr: SocketAddr) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => format!("connection refused by {addr}"),
        TimedOut | WouldBlock => format!("timed out while connecting to {addr}"),
        HostUnreachable => format!("host unreachable: {addr}"),
        NetworkUnreachable => format!("network unreachable: {addr}"),
        _ => format!("cannot connect to {addr}: {}", crate::exit::io_reason(e)),
    }
}

/// The one wording for a peer that hung up before its reply was complete;
/// `hint` says what it may have been instead ("not a Redis server?"), and
/// applies only when it sent nothing at all.
pub fn closed(sent_nothing: bool, hint: &str) -> String {
    match (sent_nothing, hint.is_empty()) {
        (true, false) => format!("connection closed by the server before the reply ({hint})"),
        (true, true) => "connection closed by the server before the reply".into(),
        (false, _) => "connection closed by the server in the middle of the reply".into(),
    }
}

/// The wording for a peer that hung up right after the TLS handshake, with
/// what that may mean.
pub fn closed_after_handshake(hint: &str) -> String {
    format!("connection closed by the server after the TLS handshake ({hint})")
}

/// Whether an I/O error means the peer hung up.
pub fn is_closed(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

/// Whether an I/O error is a deadline that passed.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// A connected socket whose every read and write ends by the attempt's
/// deadline: socket timeouts alone restart with each byte, so a peer that
/// trickles one byte a second would hold a reader forever.
///
/// It also keeps the first bytes the peer sent, so a client can tell what
/// kind of server answered ("it speaks TLS", "not an HTTP server").
#[derive(Debug)]
pub struct Bounded {
    stream: Sock,
    deadline: Instant,
    first: [u8; 8],
    seen: usize,
}

/// TCP, or a Unix-domain socket (`check http --unix-socket`).
#[derive(Debug)]
enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Bounded {
    pub fn new(stream: TcpStream, attempt: &Attempt) -> Bounded {
        Bounded::with(Sock::Tcp(stream), attempt)
    }

    pub fn unix(stream: UnixStream, attempt: &Attempt) -> Bounded {
        Bounded::with(Sock::Unix(stream), attempt)
    }

    fn with(stream: Sock, attempt: &Attempt) -> Bounded {
        Bounded {
            stream,
            deadline: attempt.deadline(),
            first: [0; 8],
            seen: 0,
        }
    }

    /// Moves the deadline: a session held open past one attempt (the
    /// pre-start lock) bounds each exchange anew.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Forgets what the peer sent so far: after a protocol's own greeting
    /// (MySQL's, before its TLS), the bytes that tell what kind of peer
    /// answered are those that come next.
    pub fn forget_first_bytes(&mut self) {
        self.seen = 0;
    }

    /// Up to the first 8 bytes received so far.
    pub fn first_bytes(&self) -> &[u8] {
        &self.first[..self.seen]
    }

    /// Forgets what the peer has sent so far: a protocol that starts TLS
    /// after a plain-text greeting (NATS) judges the handshake's first
    /// bytes, not the greeting's.
    pub fn restart_first(&mut self) {
        self.seen = 0;
    }

    /// Whether the peer has sent anything yet.
    pub fn sent_nothing(&self) -> bool {
        self.seen == 0
    }

    /// Time left, or a TimedOut error once the deadline has passed.
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline reached"));
        }
        Ok(left)
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = Some(self.left()?);
        let n = match &mut self.stream {
            Sock::Tcp(s) => {
                s.set_read_timeout(left)?;
                s.read(buf)?
            }
            Sock::Unix(s) => {
                s.set_read_timeout(left)?;
                s.read(buf)?
            }
        };
        let keep = n.min(self.first.len() - self.seen);
        self.first[self.seen..self.seen + keep].copy_from_slice(&buf[..keep]);
        self.seen += keep;
        Ok(n)
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = Some(self.left()?);
        match &mut self.stream {
            Sock::Tcp(s) => {
                s.set_write_timeout(left)?;
                s.write(buf)
            }
            Sock::Unix(s) => {
                s.set_write_timeout(left)?;
                s.write(buf)
            }
        }
    }

    /// One system call for all of `bufs`, as the socket itself would: TLS
    /// writes a handshake flight as several records, and a server that
    /// judges the first part and hangs up before the rest arrives resets
    /// the connection, losing the alert that says why.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let left = Some(self.left()?);
        match &mut self.stream {
            Sock::Tcp(s) => {
                s.set_write_timeout(left)?;
                s.write_vectored(bufs)
            }
            Sock::Unix(s) => {
                s.set_write_timeout(left)?;
                s.write_vectored(bufs)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
