//! One conversation with a broker or cache (AMQP, NATS, memcached): a
//! socket from `net`, TLS over it when asked for (also after a plain-text
//! greeting, as NATS upgrades), and reads of whole lines or exact byte
//! counts, every one bounded by the attempt's deadline and by a size limit,
//! with one wording for why a read or write failed.

use std::io::{Read, Write};

use rustls::{ClientConnection, StreamOwned};

use super::Attempt;
use super::net::{self, Bounded};
use super::tls::{Peer, Tls};

/// Longest reply berth buffers from these peers: their greetings are a
/// few hundred bytes, and a peer that is not the server expected must not
/// make berth buffer without end.
pub const LIMIT: usize = 1 << 17;

enum Conn {
    Plain(Bounded),
    Tls(Box<StreamOwned<ClientConnection, Bounded>>, Peer),
    /// Only while an upgrade is under way.
    Gone,
}

pub struct Wire {
    conn: Conn,
    /// Bytes received and not yet taken.
    buf: Vec<u8>,
    /// Whether the peer has sent anything since the connection (or TLS)
    /// was made.
    heard: bool,
    /// What a peer that hangs up without a word may be instead, for
    /// `net::closed` ("not an AMQP server?").
    hint: &'static str,
    /// Its phase names a timeout, whether the socket's deadline or
    /// `run_once`'s strikes first.
    attempt: Attempt,
}

impl Wire {
    /// Connects to `host:port`, with TLS when `tls` is given.
    pub fn connect(
        host: &str,
        port: u16,
        tls: Option<&Tls>,
        attempt: &Attempt,
        hint: &'static str,
    ) -> Result<Wire, String> {
        let sock = Bounded::new(net::connect_one(host, port, attempt)?, attempt);
        let wire = Wire {
            conn: Conn::Plain(sock),
            buf: Vec::new(),
            heard: false,
            hint,
            attempt: attempt.clone(),
        };
        match tls {
            Some(tls) => wire.upgrade(tls, host, attempt),
            None => Ok(wire),
        }
    }

    /// Runs the TLS handshake over the plain connection (NATS: after the
    /// server's INFO, which must have been read whole).
    pub fn upgrade(mut self, tls: &Tls, host: &str, attempt: &Attempt) -> Result<Wire, String> {
        if !self.buf.is_empty() {
            return Err("the server sent more than its greeting before the TLS handshake".into());
        }
        let Conn::Plain(mut sock) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            return Err("TLS is already on".into());
        };
        sock.restart_first();
        let peer = tls.peer(host)?;
        let stream = peer.handshake(sock, attempt)?;
        self.conn = Conn::Tls(Box::new(stream), peer);
        self.heard = false;
        Ok(self)
    }

    /// Sends `bytes` whole.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let result = match &mut self.conn {
            Conn::Plain(s) => s.write_all(bytes),
            Conn::Tls(s, _) => s.write_all(bytes).and_then(|()| s.flush()),
            Conn::Gone => return Err("no connection".into()),
        };
        result.map_err(|e| match self.tls_reason(&e) {
            Some(r) => r,
            None if net::is_timeout(&e) => self.timed_out(),
            None if net::is_closed(&e) => net::closed(!self.heard, self.hint),
            None => format!("cannot send the request: {}", crate::exit::io_reason(&e)),
        })
    }

    /// Up to and without the next "\n" (and a "\r" before it), at most
    /// `limit` bytes.
    pub fn line(&mut self, limit: usize) -> Result<Vec<u8>, String> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > limit {
                return Err(format!(
                    "reply line longer than {limit} bytes ({})",
                    self.hint.trim_end_matches('?')
                ));
            }
            self.fill()?;
        }
    }

    /// Exactly `n` bytes (at most `LIMIT`).
    pub fn exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        if n > LIMIT {
            return Err(format!(
                "a reply of {n} bytes announced ({})",
                self.hint.trim_end_matches('?')
            ));
        }
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// At least one byte buffered, without taking it.
    pub fn peek(&mut self) -> Result<u8, String> {
        if self.buf.is_empty() {
            self.fill()?;
        }
        Ok(self.buf[0])
    }

    /// Reads what the peer has sent so far into the buffer.
    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        let read = match &mut self.conn {
            Conn::Plain(s) => s.read(&mut chunk),
            Conn::Tls(s, _) => s.read(&mut chunk),
            Conn::Gone => return Err("no connection".into()),
        };
        match read {
            Ok(0) => Err(self.closed()),
            Ok(n) => {
                self.heard = true;
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) => Err(match self.tls_reason(&e) {
                Some(r) => r,
                None if net::is_timeout(&e) => self.timed_out(),
                None if net::is_closed(&e) => self.closed(),
                None => format!("cannot read the reply: {}", crate::exit::io_reason(&e)),
            }),
        }
    }

    /// The peer hung up; what it sent of a reply not taken whole is shown
    /// (a peer of another protocol says something and hangs up).
    fn closed(&self) -> String {
        match (&self.conn, self.heard) {
            (Conn::Tls(..), false) => net::closed_after_handshake(self.hint),
            _ if !self.buf.is_empty() => format!(
                "{} (it sent {}; {})",
                net::closed(false, ""),
                super::tls::printable(&self.buf[..self.buf.len().min(8)]),
                self.hint
            ),
            _ => net::closed(!self.heard, self.hint),
        }
    }

    fn timed_out(&self) -> String {
        format!("timed out {}", self.attempt.current_phase())
    }

    fn tls_reason(&self, e: &std::io::Error) -> Option<String> {
        match &self.conn {
            Conn::Tls(_, peer) => peer.after_handshake(e),
            _ => None,
        }
    }
}
