//! Peers that fail in the middle of an exchange, for the fault tests: each
//! listens on 127.0.0.1 on a fresh port and serves until the test process
//! ends, one thread per connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::hostile::serve;

/// Closes `s` with a TCP reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads a `linger` of the size given from a valid
    // pointer; the descriptor is open for the duration of the call.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

/// Reads the client's first bytes, sends the start of a reply, then resets
/// the connection.
pub fn resets_after(partial: &'static [u8]) -> u16 {
    serve(move |mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(partial);
        // Let the bytes leave before the reset discards the send queue.
        std::thread::sleep(Duration::from_millis(20));
        reset(s);
    })
}

/// Sends `head` once, then `chunk` over and over for at most `limit`
/// (a reply that, for the check, never ends).
pub fn endless(head: &'static [u8], chunk: &'static [u8], limit: Duration) -> u16 {
    serve(move |mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
        let end = Instant::now() + limit;
        let _ = s.set_write_timeout(Some(limit));
        if s.write_all(head).is_err() {
            return;
        }
        while Instant::now() < end && s.write_all(chunk).is_ok() {}
    })
}
