//! The command line as the kernel gives it: bytes. CMD's arguments and the
//! pre-start steps pass through untouched whatever their encoding, as tini
//! and catatonit pass them; only berth's own flag values must be text.
//!
//! argh parses `&str`, so `run`'s arguments are first made text without
//! loss: every byte that is not part of valid UTF-8 (always 0x80-0xFF)
//! becomes the character U+10FF00 + byte, from the end of Unicode's
//! private-use plane 16, and a real character from that range is written as
//! its own UTF-8 bytes in the same way, so `to_bytes` gives back exactly the
//! bytes `to_text` was given.

use std::ffi::CString;

use crate::exit::{Error, usage};

const BASE: u32 = 0x10_FF00;
/// The characters that stand for bytes: U+10FF80..=U+10FFFF.
const FIRST: u32 = BASE + 0x80;

fn escape(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from_u32(BASE + u32::from(*b)).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
}

/// An argument as text for the parser.
pub fn to_text(arg: &[u8]) -> String {
    let mut out = String::with_capacity(arg.len());
    for chunk in arg.utf8_chunks() {
        for c in chunk.valid().chars() {
            if u32::from(c) >= FIRST {
                escape(&mut out, c.encode_utf8(&mut [0; 4]).as_bytes());
            } else {
                out.push(c);
            }
        }
        escape(&mut out, chunk.invalid());
    }
    out
}

/// The bytes `text` stands for (the inverse of `to_text`).
pub fn to_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match u32::from(c) {
            n if n >= FIRST => out.push((n - BASE) as u8),
            _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// The value of one of berth's own flags, which must be valid UTF-8.
pub fn own(value: String, flag: &str) -> Result<String, Error> {
    if !value.chars().any(|c| u32::from(c) >= FIRST) {
        return Ok(value);
    }
    String::from_utf8(to_bytes(&value))
        .map_err(|_| usage(format!("{flag}: the value is not valid UTF-8")))
}

/// A word of CMD or of a pre-start step, ready for exec.
pub fn c_string(text: &str) -> Result<CString, Error> {
    CString::new(to_bytes(text)).map_err(|_| usage("an argument contains a NUL byte"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_bytes() {
        let cases: [&[u8]; 6] = [
            b"plain",
            b"\xff",
            b"caf\xc3\xa9 \xe9t\xe9",
            "\u{10ff80}\u{10ffff}x".as_bytes(),
            b"\xf4\x8f\xbe\x80",
            b"",
        ];
        for bytes in cases {
            assert_eq!(to_bytes(&to_text(bytes)), bytes, "{bytes:?}");
        }
        assert_eq!(to_text(b"caf\xc3\xa9"), "café");
    }

    #[test]
    fn own_flags_must_be_text() {
        assert_eq!(own("5s".into(), "--grace").unwrap(), "5s");
        assert_eq!(
            own(to_text("\u{10ff80}".as_bytes()), "--grace").unwrap(),
            "\u{10ff80}"
        );
        let err = own(to_text(b"5\xffs"), "--grace").unwrap_err();
        assert_eq!(err.to_string(), "--grace: the value is not valid UTF-8");
    }
}
