//! What a peer sends back, through the real checks over loopback: the first
//! byte picks HTTP, Redis or PostgreSQL, the rest is the whole reply, after
//! which the peer closes. The check must end (no hang: the peer is gone),
//! never panic, never show the password, and call healthy only a reply that
//! says so.

#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use berth::check::{self, Probe};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "s3cr3t-pw";

struct Peer {
    port: u16,
    reply: Arc<Mutex<Vec<u8>>>,
}

/// One loopback server for the whole run, serving the current input.
fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let reply = Arc::new(Mutex::new(Vec::new()));
        let served = reply.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let bytes = served.lock().unwrap().clone();
                let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                let mut request = [0u8; 4096];
                let _ = conn.read(&mut request);
                let _ = conn.write_all(&bytes);
                let _ = conn.shutdown(Shutdown::Write);
                // Drain what the client still sends, so closing is a FIN.
                while matches!(conn.read(&mut request), Ok(n) if n > 0) {}
            }
        });
        Peer { port, reply }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, reply)) = data.split_first() else {
        return;
    };
    let peer = peer();
    *peer.reply.lock().unwrap() = reply.to_vec();
    let url = match which % 3 {
        0 => format!("http://user:{SECRET}@127.0.0.1:{}/health", peer.port),
        1 => format!("redis://:{SECRET}@127.0.0.1:{}/0", peer.port),
        _ => format!(
            "postgres://app:{SECRET}@127.0.0.1:{}/app?sslmode=disable",
            peer.port
        ),
    };
    let probe: Arc<dyn Probe> = check::from_url(&url).unwrap();
    // The probe on this thread, not through run_once: run_once's attempt
    // thread may still be exiting when the input ends, which LeakSanitizer
    // reads as a leak (CI's fuzz stage saw one). None of these probes starts
    // a thread of its own (one address, no TLS).
    let start = Instant::now();
    let attempt = check::Attempt::new(start + Duration::from_secs(10));
    let result = probe.probe(&attempt);
    let outcome = check::outcome(result, &attempt, start.elapsed());
    let line = check::report_line(&probe.describe(), &outcome);
    assert!(
        !outcome.timed_out && !outcome.reason.starts_with("timed out"),
        "the peer closed, yet: {line}"
    );
    if !reply.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()) {
        assert!(!line.contains(SECRET), "{line}");
    }
    if outcome.healthy {
        match which % 3 {
            0 => assert!(reply.starts_with(b"HTTP/"), "{line}"),
            1 => assert!(reply.windows(7).any(|w| w == b"+PONG\r\n"), "{line}"),
            _ => {}
        }
    }
});
