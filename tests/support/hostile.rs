//! Peers that are not the server a check expects: one that accepts and never
//! answers, one that answers garbage, one that closes at once, one that
//! sends its answer a byte at a time and records when the client hung up.
//! Each listens on 127.0.0.1 on a fresh port and serves until the test
//! process ends.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// Serves every connection to a fresh 127.0.0.1 port with `handle`, one
/// thread each, until the test process ends.
pub fn serve(handle: impl Fn(std::net::TcpStream) + Send + Sync + Copy + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream));
        }
    });
    port
}

/// Accepts, reads, never answers.
pub fn silent() -> u16 {
    serve(|mut s| {
        let mut buf = [0; 1024];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })
}

/// Answers like an HTTP server that got a request it cannot parse.
pub fn garbage() -> u16 {
    serve(|mut s| {
        let mut buf = [0; 1024];
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        std::thread::sleep(Duration::from_millis(500));
    })
}

/// Closes each connection as soon as it is accepted.
pub fn closer() -> u16 {
    serve(drop)
}

/// A peer that answers `reply` one byte every `every`, and records, for
/// each connection, when it was accepted and when the client closed it.
pub struct Drip {
    pub port: u16,
    conns: std::sync::Arc<std::sync::Mutex<Vec<Conn>>>,
}

/// One connection a `Drip` served.
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    pub accepted: std::time::Instant,
    /// When the client closed its end (the server saw end of file or a
    /// reset), if it has.
    pub closed: Option<std::time::Instant>,
}

impl Drip {
    pub fn start(reply: &'static [u8], every: Duration) -> Drip {
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<Conn>>> = Arc::default();
        let list = conns.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let list = list.clone();
                let i = {
                    let mut l = list.lock().unwrap();
                    l.push(Conn {
                        accepted: std::time::Instant::now(),
                        closed: None,
                    });
                    l.len() - 1
                };
                std::thread::spawn(move || {
                    drip(stream, reply, every);
                    list.lock().unwrap()[i].closed = Some(std::time::Instant::now());
                });
            }
        });
        Drip { port, conns }
    }

    pub fn conns(&self) -> Vec<Conn> {
        self.conns.lock().unwrap().clone()
    }
}

/// Sends `reply` a byte at a time, reading between bytes (the request is
/// read and dropped); returns when the client has closed.
fn drip(mut s: std::net::TcpStream, reply: &[u8], every: Duration) {
    let _ = s.set_read_timeout(Some(every));
    let mut next = reply.iter();
    let mut buf = [0; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if let Some(b) = next.next() {
                    if s.write_all(&[*b]).is_err() {
                        return;
                    }
                }
            }
            Err(_) => return,
        }
    }
}
