//! TCP: the port accepts a connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::{Attempt, Probe};
use crate::cli::TcpArgs;

pub struct Tcp {
    host: String,
    port: u16,
}

impl Tcp {
    pub fn from_args(args: TcpArgs) -> Result<(Tcp, Option<String>), String> {
        Ok((Tcp::parse(&args.address)?, args.timeout))
    }

    /// `tcp://HOST:PORT`, as `berth wait` gets it.
    pub fn from_url(url: &str) -> Result<Tcp, String> {
        let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
        // The message shows the URL redacted: "tcp://user:pw@db:5432" is
        // no HOST:PORT, and must not print the password saying so.
        Tcp::parse(rest.trim_end_matches('/')).map_err(|_| {
            format!(
                "'{}' is not tcp://HOST:PORT (IPv6 as [::1]:5432)",
                crate::target::redact(url)
            )
        })
    }

    fn parse(address: &str) -> Result<Tcp, String> {
        let (host, port) = split_host_port(address)
            .ok_or_else(|| format!("'{address}' is not HOST:PORT (IPv6 as [::1]:5432)"))?;
        Ok(Tcp { host, port })
    }
}

impl Probe for Tcp {
    fn describe(&self) -> String {
        format!("tcp://{}", join_host_port(&self.host, self.port))
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let stream = connect(&self.host, self.port, attempt)?;
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        Ok(format!("connected to {peer}"))
    }
}

/// "host:port" or "[v6]:port" into its parts.
pub fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        let (host, port) = text.rsplit_once(':')?;
        if host.contains(':') {
            return None; // a bare IPv6 address needs brackets
        }
        (host, port)
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

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

/// Connects to the first address of `host` that accepts, within the
/// attempt's deadline, with a specific reason when none does.
pub fn connect(host: &str, port: u16, attempt: &Attempt) -> Result<TcpStream, String> {
    let addrs = resolve(host, port, attempt)?;
    connect_addrs(&addrs, attempt)
}

/// Connects to the first of `addrs` that accepts (already resolved, e.g. by
/// a protocol client's own resolver hook).
pub fn connect_addrs(addrs: &[SocketAddr], attempt: &Attempt) -> Result<TcpStream, String> {
    attempt.phase("while connecting");
    let mut last = String::from("no address to connect to");
    for addr in addrs {
        match TcpStream::connect_timeout(addr, attempt.remaining()) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(attempt.remaining()));
                let _ = s.set_write_timeout(Some(attempt.remaining()));
                return Ok(s);
            }
            Err(e) => last = connect_reason(&e, *addr),
        }
    }
    Err(last)
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

    /// Up to the first 8 bytes received so far.
    pub fn first_bytes(&self) -> &[u8] {
        &self.first[..self.seen]
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

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("db:5432"), Some(("db".into(), 5432)));
        assert_eq!(split_host_port("[::1]:6379"), Some(("::1".into(), 6379)));
        assert_eq!(split_host_port("::1:6379"), None);
        assert_eq!(split_host_port("db"), None);
        assert_eq!(split_host_port(":80"), None);
        assert_eq!(split_host_port("db:99999"), None);
        assert_eq!(join_host_port("::1", 80), "[::1]:80");
    }

    /// Found by the fuzz target `urls`: the error printed the password.
    #[test]
    fn bad_url_error_hides_the_password() {
        let Err(e) = Tcp::from_url("tcp://u:pa?ss#x@host/x?y=1") else {
            panic!("not HOST:PORT")
        };
        assert!(!e.contains("pa?ss"), "{e}");
        assert_eq!(
            e,
            "'tcp://u:****@host/x?y=1' is not tcp://HOST:PORT (IPv6 as [::1]:5432)"
        );
    }
}
