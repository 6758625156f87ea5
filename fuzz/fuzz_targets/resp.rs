//! berth's RESP reply reader against the redis crate's parser, on any bytes.
//!
//! Both must agree: where berth reads a reply, the crate reads the same one;
//! where berth refuses a reply the crate accepts, the reply must be one berth
//! refuses on purpose (see `refused_on_purpose`). A Redis server that got
//! berth's RESP2 commands (no HELLO 3) writes neither of those.

#![no_main]

use berth::check::redis::resp::{self, Reply};
use libfuzzer_sys::fuzz_target;
use redis::Value;

/// berth's limits (src/check/redis.rs): bulk strings and lines up to 1 MiB,
/// arrays up to 1024 items, nested at most 4 deep (ROLE's reply is 2).
const MAX_BULK: usize = 1 << 20;
const MAX_ITEMS: usize = 1024;
const MAX_ARRAY_DEPTH: usize = 4;

fuzz_target!(|data: &[u8]| {
    let ours = resp::read(&mut &data[..]);
    let reference = redis::parse_redis_value(data);
    match (ours, reference) {
        (Ok(ours), Ok(theirs)) => assert!(
            same(&ours, &theirs),
            "berth read {ours:?}, the redis crate {theirs:?}"
        ),
        (Ok(ours), Err(e)) => panic!("berth read {ours:?} where the redis crate fails: {e}"),
        (Err(why), Ok(theirs)) => assert!(
            refused_on_purpose(&theirs, data),
            "berth refused ({why}) what the redis crate reads as {theirs:?}"
        ),
        (Err(_), Err(_)) => {}
    }
});

fn same(ours: &Reply, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Reply::Simple(s), Value::Okay) => s == "OK",
        (Reply::Simple(a), Value::SimpleString(b)) => a == b,
        (Reply::Error(line), Value::ServerError(e)) => {
            let mut whole = e.code().to_string();
            if let Some(detail) = e.details() {
                whole.push(' ');
                whole.push_str(detail);
            }
            *line == whole
        }
        (Reply::Int(a), Value::Int(b)) => a == b,
        (Reply::Bulk(a), Value::BulkString(b)) => a == b,
        (Reply::Nil, Value::Nil) => true,
        (Reply::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        _ => false,
    }
}

/// The replies berth refuses although the crate reads them:
/// - RESP3 types (maps, sets, doubles, ...): berth never asks for RESP3;
/// - beyond berth's limits (a peer that is not Redis must not make a health
///   check buffer without end);
/// - non-canonical encodings a server never writes: spaces around numbers,
///   negative lengths other than -1, a bare LF inside a simple string or
///   error line (RESP forbids CR and LF there). The crate tolerates them;
///   berth calls the peer "not a Redis server".
fn refused_on_purpose(theirs: &Value, data: &[u8]) -> bool {
    if !within_limits(theirs, 0) {
        return true;
    }
    let mut canonical = Vec::new();
    encode(theirs, &mut canonical);
    !data.starts_with(&canonical)
}

fn within_limits(v: &Value, depth: usize) -> bool {
    match v {
        Value::Nil | Value::Int(_) | Value::Okay => true,
        // A line ends at its first LF for berth; the crate reads on to CRLF.
        Value::ServerError(e) => {
            !e.code().contains('\n') && !e.details().is_some_and(|d| d.contains('\n'))
        }
        Value::SimpleString(s) => s.len() < MAX_BULK && !s.contains('\n'),
        Value::BulkString(b) => b.len() <= MAX_BULK,
        Value::Array(items) => {
            depth < MAX_ARRAY_DEPTH
                && items.len() <= MAX_ITEMS
                && items.iter().all(|i| within_limits(i, depth + 1))
        }
        _ => false, // a RESP3 type
    }
}

/// The bytes a Redis server writes for `v` (RESP2 only; called on values
/// `within_limits`).
fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Nil => out.extend(b"$-1\r\n"),
        Value::Int(n) => out.extend(format!(":{n}\r\n").as_bytes()),
        Value::Okay => out.extend(b"+OK\r\n"),
        Value::SimpleString(s) => out.extend(format!("+{s}\r\n").as_bytes()),
        Value::ServerError(e) => {
            out.extend(format!("-{}", e.code()).as_bytes());
            if let Some(d) = e.details() {
                out.extend(format!(" {d}").as_bytes());
            }
            out.extend(b"\r\n");
        }
        Value::BulkString(b) => {
            out.extend(format!("${}\r\n", b.len()).as_bytes());
            out.extend(b);
            out.extend(b"\r\n");
        }
        Value::Array(items) => {
            out.extend(format!("*{}\r\n", items.len()).as_bytes());
            for i in items {
                encode(i, out);
            }
        }
        _ => {}
    }
}
