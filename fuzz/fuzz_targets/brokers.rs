//! The reply readers of the AMQP, NATS and memcached checks, on any bytes:
//! first directly (AMQP frame headers and methods, NATS's INFO and reply
//! lines, memcached's answer), then through the real checks over loopback,
//! where the first byte picks the protocol and the rest is the whole reply,
//! after which the peer closes.
//!
//! Properties: no panic; the check ends (the peer is gone, so no timeout);
//! no password in the report unless the peer itself sent it; healthy only
//! on a reply that says so; and a string berth writes into JSON (CONNECT)
//! reads back the same through the INFO reader.

#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use berth::check::amqp::frame;
use berth::check::nats::proto;
use berth::check::{self, Probe, memcached};
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
                // NATS speaks first: the reply goes out before any read.
                let _ = conn.write_all(&bytes);
                drop(bytes);
                let _ = conn.shutdown(Shutdown::Write);
                let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                let mut request = [0u8; 4096];
                // Drain what the client sends, so closing is a FIN.
                while matches!(conn.read(&mut request), Ok(n) if n > 0) {}
            }
        });
        Peer { port, reply }
    })
}

fn direct(data: &[u8]) {
    if let Some(head) = data.get(..frame::HEADER) {
        let _ = frame::header(head);
    }
    let _ = frame::payload(data);
    if let Ok(frame::Method::Start { .. }) = frame::method(data) {
        assert!(data.starts_with(&[0, 10, 0, 10]));
    }
    let _ = frame::other_protocol(data);
    if proto::info(data).is_ok() {
        assert!(data[..5].eq_ignore_ascii_case(b"INFO ") || data.starts_with(b"INFO\t"));
    }
    let _ = proto::reply(data);
    if memcached::verdict(data).is_ok() {
        assert!(data.starts_with(b"VERSION "));
    }
    // Written by berth's JSON writer, read back by the INFO reader.
    let text = String::from_utf8_lossy(data);
    let mut line = String::from("INFO {\"tls_required\":true,\"version\":");
    proto::json_string(&mut line, &text);
    line.push('}');
    let info = proto::info(line.as_bytes()).expect("berth's own JSON");
    assert_eq!(info.version.as_deref(), Some(&*text));
    assert!(info.tls_required);
}

fuzz_target!(|data: &[u8]| {
    direct(data);
    let Some((&which, reply)) = data.split_first() else {
        return;
    };
    let peer = peer();
    *peer.reply.lock().unwrap() = reply.to_vec();
    let url = match which % 3 {
        0 => format!("amqp://app:{SECRET}@127.0.0.1:{}/prod", peer.port),
        1 => format!("nats://app:{SECRET}@127.0.0.1:{}", peer.port),
        _ => format!("memcached://127.0.0.1:{}", peer.port),
    };
    let probe: Arc<dyn Probe> = check::from_url(&url).unwrap();
    // The probe on this thread, not through run_once: a worker thread that
    // outlives the input reads as a leak to libFuzzer. None of these
    // probes starts a thread of its own (one address, no TLS).
    let start = Instant::now();
    let attempt = check::Attempt::new(start + Duration::from_secs(10));
    let result = probe.probe(&attempt);
    let outcome = check::outcome(result, &attempt, start.elapsed());
    let line = check::report_line(&probe.describe(), &outcome);
    assert!(
        !outcome.timed_out && !outcome.reason.starts_with("timed out"),
        "the peer closed, yet: {line}"
    );
    // What the peer sent, as the report shows a peer's text (check::clip
    // drops control characters): only a peer that sent the password itself
    // (it got it, in CONNECT) can have it shown.
    let sent: String = String::from_utf8_lossy(reply)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if !sent.contains(SECRET) {
        assert!(!line.contains(SECRET), "{line}");
    }
    if outcome.healthy {
        match which % 3 {
            0 => assert!(
                reply.windows(4).any(|w| w == [0, 10, 0, 41])
                    && reply.windows(4).any(|w| w == [0, 10, 0, 51]),
                "{line}"
            ),
            1 => assert!(reply.windows(4).any(|w| w == b"PONG"), "{line}"),
            _ => assert!(reply.starts_with(b"VERSION "), "{line}"),
        }
    }
});
