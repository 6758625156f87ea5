//! berth's MySQL packet reader (src/check/mysql/packet.rs) on any bytes: the
//! first byte picks what the rest is read as (a server's greeting, its
//! reply during login, or framed packets holding a query's reply).
//!
//! Properties: nothing panics or allocates past the packet limit; a
//! result set's rows all have its number of columns, at most 64 of them;
//! and rows read back the same after being framed again as a server
//! would send them (length-encoded values, NULL as 0xfb), so the reader
//! neither drops nor invents a value.

#![no_main]

use berth::check::mysql::packet::{
    self, Greeting, Packets, QueryReply, parse_auth_reply, parse_greeting,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => {
            if let Ok(Greeting::Handshake(h)) = parse_greeting(rest) {
                assert!(
                    h.scramble.len() <= rest.len(),
                    "a nonce longer than the packet"
                );
                assert!(h.capabilities & packet::CLIENT_PROTOCOL_41 != 0);
            }
        }
        1 => {
            let _ = parse_auth_reply(rest);
        }
        _ => {
            let mut packets = Packets::new(rest);
            if let Ok(QueryReply::Rows(rows)) = packet::read_query_reply(&mut packets) {
                let columns = rows.first().map_or(1, Vec::len);
                assert!(rows.len() <= 64);
                assert!(rows.iter().all(|r| r.len() == columns), "{rows:?}");
                let again = packet::read_query_reply(&mut Packets::new(&frame(&rows, columns)[..]));
                assert_eq!(again.ok(), Some(QueryReply::Rows(rows)));
            }
        }
    }
});

/// A text result set as a server frames it.
fn frame(rows: &[Vec<Option<String>>], columns: usize) -> Vec<u8> {
    let mut payloads: Vec<Vec<u8>> = vec![vec![columns as u8]];
    for _ in 0..columns {
        payloads.push(b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0".to_vec());
    }
    payloads.push(b"\xfe\0\0\x02\0".to_vec());
    for row in rows {
        let mut p = Vec::new();
        for value in row {
            match value {
                None => p.push(0xfb),
                Some(v) => {
                    lenenc(&mut p, v.len() as u64);
                    p.extend_from_slice(v.as_bytes());
                }
            }
        }
        payloads.push(p);
    }
    payloads.push(b"\xfe\0\0\x02\0".to_vec());
    let mut out = Vec::new();
    for (seq, p) in payloads.iter().enumerate() {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
        out.push(seq as u8);
        out.extend_from_slice(p);
    }
    out
}

fn lenenc(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=250 => out.push(n as u8),
        251..=0xffff => {
            out.push(0xfc);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}
