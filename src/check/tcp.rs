//! TCP: the port accepts a connection.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};

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
        Tcp::parse(rest.trim_end_matches('/'))
    }

    fn parse(address: &str) -> Result<Tcp, String> {
        let (host, port) = split_host_port(address).ok_or_else(|| {
            format!("'{address}' is not HOST:PORT (IPv6 as [::1]:5432)")
        })?;
        Ok(Tcp { host, port })
    }
}

impl Probe for Tcp {
    fn describe(&self) -> String {
        format!("tcp://{}", join_host_port(&self.host, self.port))
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let stream = connect(&self.host, self.port, attempt)?;
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
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
        .map_err(|_| format!("name resolution failed for {host}"))?
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
    attempt.phase("while connecting");
    let mut last = String::new();
    for addr in &addrs {
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
}
