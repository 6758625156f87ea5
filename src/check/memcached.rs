//! memcached: the text protocol's `version` must be answered with
//! `VERSION x`. The text protocol has no login (SASL is the binary
//! protocol's), so the URL takes a host and port and nothing else.
//! <https://github.com/memcached/memcached/blob/master/doc/protocol.txt>

use super::wire::Wire;
use super::{Attempt, Probe, clip};
use crate::cli::MemcachedArgs;
use crate::target::{Kind, Target};

const HINT: &str = "not a memcached server?";

pub struct Memcached {
    target: Target,
}

impl Memcached {
    /// `berth check memcached HOST:PORT` (or a `memcached://` URL).
    pub fn from_args(args: MemcachedArgs) -> Result<(Memcached, Option<String>), String> {
        let target = Target::parse_for(&args.address, &[Kind::Memcached], Some("memcached"))
            .map_err(|e| e.to_string())?;
        Ok((Memcached::from_target(target)?, args.timeout))
    }

    /// `memcached://HOST[:PORT]`.
    pub fn from_target(target: Target) -> Result<Memcached, String> {
        target.host().map_err(|e| e.to_string())?;
        if !target.is_host_only() {
            return Err(
                "memcached URL: expected memcached://HOST[:PORT] and nothing else \
                 (the text protocol has no login)"
                    .into(),
            );
        }
        Ok(Memcached { target })
    }
}

impl Probe for Memcached {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let (host, port) = self.target.host().map_err(|e| e.to_string())?;
        let mut wire = Wire::connect(host, port, None, attempt, HINT)?;
        attempt.phase("waiting for the reply");
        wire.send(b"version\r\n")?;
        verdict(&wire.line(1024)?)
    }
}

/// The verdict on the reply to `version`.
pub fn verdict(line: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(line);
    let (word, rest) = text.split_once(' ').unwrap_or((&text, ""));
    match word {
        "VERSION" if !rest.trim().is_empty() => Ok(format!("VERSION {}", clip(rest.trim()))),
        "SERVER_ERROR" | "CLIENT_ERROR" => Err(format!("{word} {}", clip(rest))),
        "ERROR" => Err(format!("'version' answered ERROR ({HINT})")),
        _ => Err(format!(
            "not a memcached server (it answered {})",
            crate::check::tls::printable(&line[..line.len().min(8)])
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(verdict(b"VERSION 1.6.18").unwrap(), "VERSION 1.6.18");
        assert!(verdict(b"VERSION ").is_err());
        assert_eq!(
            verdict(b"SERVER_ERROR out of memory").unwrap_err(),
            "SERVER_ERROR out of memory"
        );
        assert!(
            verdict(b"HTTP/1.1 400 Bad Request")
                .unwrap_err()
                .contains("not a memcached")
        );
    }

    #[test]
    fn urls() {
        let m = |u: &str| Memcached::from_target(Target::parse(u).unwrap());
        assert_eq!(m("memcached://c").unwrap().describe(), "memcached://c");
        assert!(m("memcached://u:p@c").is_err());
        assert!(m("memcached://c/x").is_err());
    }
}
