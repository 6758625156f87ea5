//! Peers that are not the server a check expects: one that accepts and never
//! answers, one that answers garbage, one that closes at once. Each listens
//! on 127.0.0.1 on a fresh port and serves until the test process ends.

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
