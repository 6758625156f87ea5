//! NATS: the server's `INFO`, berth's `CONNECT` (with the URL's user and
//! password or token), `PING`, and `PONG` must come back: what a client does
//! before its first publish, and what proves the login was accepted.
//!
//! URL: `nats://[user:password@|token@]host[:port]`, and `tls://` for TLS,
//! the scheme NATS clients take for it (the Go and Python clients also
//! upgrade `nats://` when the server asks for TLS; berth says to use
//! `tls://` instead, so the TLS settings are where they can be seen). A
//! user info without ':' is a token, as the NATS clients read it. TLS
//! follows the server's INFO, as NATS's classic handshake does; a server
//! set to `handshake_first` (TLS before INFO, NATS 2.10) is not supported.
//! <https://docs.nats.io/reference/reference-protocols/nats-protocol>

use super::tls::{Tls, TlsOptions};
use super::wire::Wire;
use super::{Attempt, Probe, clip};
use crate::cli::NatsArgs;
use crate::target::{Kind, Target, TlsSettings};

const HINT: &str = "not a NATS server?";
/// Longest line berth reads: an INFO with a cluster's connect_urls runs to
/// a few kB.
const LINE_LIMIT: usize = 64 * 1024;
/// Lines read while waiting for PONG at most (+OK, a newer INFO).
const MAX_LINES: usize = 16;

pub struct Nats {
    target: Target,
    tls: Option<Tls>,
}

impl Nats {
    /// `berth check nats URL`.
    pub fn from_args(args: NatsArgs) -> Result<(Nats, Option<String>), String> {
        let flags = args.tls();
        let target =
            Target::parse_for(&args.url, &[Kind::Nats], None).map_err(|e| e.to_string())?;
        Ok((Nats::build(target, flags)?, args.timeout))
    }

    /// `nats://` or `tls://`, as `berth wait` gets it.
    pub fn from_target(target: Target) -> Result<Nats, String> {
        Nats::build(target, TlsSettings::default())
    }

    fn build(target: Target, flags: TlsSettings) -> Result<Nats, String> {
        target.host().map_err(|e| e.to_string())?;
        target.params().map_err(|e| e.to_string())?;
        let tls = match target.tls_settings(flags).map_err(|e| e.to_string())? {
            Some(settings) => Some(Tls::new(&TlsOptions::from(settings))?),
            None => None,
        };
        Ok(Nats { target, tls })
    }

    /// The CONNECT line, with the credentials the URL holds.
    fn connect_line(&self) -> Vec<u8> {
        let mut json = format!(
            "{{\"verbose\":false,\"pedantic\":false,\"tls_required\":{},\
             \"name\":\"berth\",\"lang\":\"rust\",\"version\":\"{}\",\"protocol\":0",
            self.tls.is_some(),
            env!("CARGO_PKG_VERSION")
        );
        match (&self.target.user, self.target.secret()) {
            (Some(user), password) => {
                json.push_str(",\"user\":");
                proto::json_string(&mut json, user);
                json.push_str(",\"pass\":");
                proto::json_string(&mut json, password.map_or("", |p| p.expose()));
            }
            (None, Some(token)) => {
                json.push_str(",\"auth_token\":");
                proto::json_string(&mut json, token.expose());
            }
            (None, None) => {}
        }
        json.push('}');
        let mut line = b"CONNECT ".to_vec();
        line.extend(json.as_bytes());
        line.extend(b"\r\nPING\r\n");
        line
    }
}

impl Probe for Nats {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let (host, port) = self.target.host().map_err(|e| e.to_string())?;
        let mut wire = Wire::connect(host, port, None, attempt, HINT)?;

        attempt.phase("waiting for INFO");
        let line = wire.line(LINE_LIMIT)?;
        let info = proto::info(&line)?;
        match (&self.tls, info.tls_required || info.tls_available) {
            (Some(tls), true) => wire = wire.upgrade(tls, host, attempt)?,
            (Some(_), false) => {
                return Err("the server offers no TLS (its INFO has no tls_required)".into());
            }
            (None, _) if info.tls_required => {
                return Err("the server requires TLS: use tls:// (and the TLS flags)".into());
            }
            (None, _) => {}
        }

        attempt.phase("waiting for PONG");
        wire.send(&self.connect_line())?;
        for _ in 0..MAX_LINES {
            let line = wire.line(LINE_LIMIT)?;
            match proto::reply(&line) {
                proto::Reply::Pong => {
                    let server = match info.version {
                        Some(v) => format!(" (nats-server {})", clip(&v)),
                        None => String::new(),
                    };
                    return Ok(format!("PONG{server}"));
                }
                proto::Reply::Error(e) => return Err(self.server_error(&e)),
                proto::Reply::Other => {}
                proto::Reply::Unknown => {
                    return Err(format!(
                        "unexpected reply '{}' ({HINT})",
                        clip(&String::from_utf8_lossy(&line))
                    ));
                }
            }
        }
        Err(format!("no PONG in {MAX_LINES} lines"))
    }
}

impl Nats {
    fn server_error(&self, e: &str) -> String {
        let e = clip(e.trim_matches(|c| c == '\'' || c == ' '));
        let given = self.target.user.is_some() || self.target.secret().is_some();
        match e.to_ascii_lowercase().as_str() {
            "authorization violation" | "authentication timeout" if !given => {
                format!("authentication required ({e}): give user:password@ or token@ in the URL")
            }
            "authorization violation" => format!("authentication failed ({e})"),
            _ => format!("server error: {e}"),
        }
    }
}

/// The server's lines: INFO's JSON (the few fields a check needs, read by
/// a small scanner that skips the rest) and the replies to CONNECT and
/// PING. Pure functions over bytes, for the fuzz target `brokers`.
pub mod proto {
    use super::HINT;

    /// Appends `text` as a JSON string.
    pub fn json_string(out: &mut String, text: &str) {
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }

    #[derive(Debug, Default, PartialEq, Eq)]
    pub struct Info {
        pub tls_required: bool,
        pub tls_available: bool,
        pub version: Option<String>,
    }

    #[derive(Debug, PartialEq, Eq)]
    pub enum Reply {
        Pong,
        Error(String),
        /// `+OK`, `PING`, `INFO`: nothing to judge.
        Other,
        Unknown,
    }

    pub fn reply(line: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(line);
        let word = text.split([' ', '\t']).next().unwrap_or("");
        match word.to_ascii_uppercase().as_str() {
            "PONG" => Reply::Pong,
            "-ERR" => Reply::Error(text[4..].trim().to_string()),
            "+OK" | "PING" | "INFO" => Reply::Other,
            _ => Reply::Unknown,
        }
    }

    /// `INFO {...}`, the server's greeting.
    pub fn info(line: &[u8]) -> Result<Info, String> {
        let not_nats = || {
            format!(
                "not a NATS server (it sent {})",
                crate::check::tls::printable(&line[..line.len().min(8)])
            )
        };
        let json = match line.get(..5) {
            Some(head) if head.eq_ignore_ascii_case(b"INFO ") || head == b"INFO\t" => &line[5..],
            _ => return Err(not_nats()),
        };
        let mut info = Info::default();
        let mut s = Scanner { b: json, i: 0 };
        s.ws();
        s.expect(b'{')?;
        s.ws();
        if s.peek() == Some(b'}') {
            return Ok(info);
        }
        loop {
            s.ws();
            let key = s.string()?;
            s.ws();
            s.expect(b':')?;
            s.ws();
            match key.as_str() {
                "tls_required" => info.tls_required = s.boolean()?,
                "tls_available" => info.tls_available = s.boolean()?,
                "version" => info.version = Some(s.string()?),
                _ => s.skip(0)?,
            }
            s.ws();
            match s.next() {
                Some(b',') => continue,
                Some(b'}') => return Ok(info),
                _ => return Err(malformed()),
            }
        }
    }

    fn malformed() -> String {
        format!("malformed INFO ({HINT})")
    }

    struct Scanner<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Scanner<'_> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }
        fn next(&mut self) -> Option<u8> {
            let c = self.peek()?;
            self.i += 1;
            Some(c)
        }
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                self.i += 1;
            }
        }
        fn expect(&mut self, c: u8) -> Result<(), String> {
            match self.next() {
                Some(got) if got == c => Ok(()),
                _ => Err(malformed()),
            }
        }
        fn boolean(&mut self) -> Result<bool, String> {
            for (word, value) in [(&b"true"[..], true), (b"false", false)] {
                if self.b[self.i..].starts_with(word) {
                    self.i += word.len();
                    return Ok(value);
                }
            }
            Err(malformed())
        }
        /// A string, escapes decoded (`\u` surrogates as U+FFFD).
        fn string(&mut self) -> Result<String, String> {
            self.expect(b'"')?;
            let mut out = Vec::new();
            loop {
                match self.next().ok_or_else(malformed)? {
                    b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                    b'\\' => {
                        let c = match self.next().ok_or_else(malformed)? {
                            b'n' => '\n',
                            b't' => '\t',
                            b'r' => '\r',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'u' => {
                                let hex = self.b.get(self.i..self.i + 4).ok_or_else(malformed)?;
                                self.i += 4;
                                let hex = std::str::from_utf8(hex).map_err(|_| malformed())?;
                                let n = u32::from_str_radix(hex, 16).map_err(|_| malformed())?;
                                char::from_u32(n).unwrap_or('\u{fffd}')
                            }
                            c @ (b'"' | b'\\' | b'/') => c as char,
                            _ => return Err(malformed()),
                        };
                        out.extend(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    c => out.push(c),
                }
            }
        }
        /// Any value, not kept; nesting at most 32 deep.
        fn skip(&mut self, depth: u32) -> Result<(), String> {
            match self.peek().ok_or_else(malformed)? {
                b'"' => self.string().map(drop),
                open @ (b'{' | b'[') if depth < 32 => {
                    let close = if open == b'{' { b'}' } else { b']' };
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(close) {
                        self.i += 1;
                        return Ok(());
                    }
                    loop {
                        self.ws();
                        if open == b'{' {
                            self.string()?;
                            self.ws();
                            self.expect(b':')?;
                            self.ws();
                        }
                        self.skip(depth + 1)?;
                        self.ws();
                        match self.next() {
                            Some(b',') => continue,
                            Some(c) if c == close => return Ok(()),
                            _ => return Err(malformed()),
                        }
                    }
                }
                b't' | b'f' => self.boolean().map(drop),
                b'n' if self.b[self.i..].starts_with(b"null") => {
                    self.i += 4;
                    Ok(())
                }
                b'-' | b'0'..=b'9' => {
                    while matches!(
                        self.peek(),
                        Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    ) {
                        self.i += 1;
                    }
                    Ok(())
                }
                _ => Err(malformed()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::proto::*;
    use super::*;

    fn nats(url: &str) -> Nats {
        Nats::from_target(Target::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn info_lines() {
        let line = br#"INFO {"server_id":"N1","server_name":"n1","version":"2.9.10","go":"go1.19","host":"0.0.0.0","port":4222,"headers":true,"auth_required":true,"tls_required":true,"max_payload":1048576,"connect_urls":["10.0.0.1:4222",{"a":[1,-2.5e3,null]}],"xkey":"X\"\u00e9"}"#;
        assert_eq!(
            info(line).unwrap(),
            Info {
                tls_required: true,
                tls_available: false,
                version: Some("2.9.10".into()),
            }
        );
        assert_eq!(info(b"INFO {}").unwrap(), Info::default());
        assert!(
            info(b"HTTP/1.1 400")
                .unwrap_err()
                .contains("not a NATS server")
        );
        assert!(info(b"INFO {\"a\":").is_err());
        assert!(info(b"INFO {\"tls_required\":tru}").is_err());
        let deep = format!("INFO {{\"a\":{}}}", "[".repeat(100));
        assert!(info(deep.as_bytes()).is_err());
    }

    #[test]
    fn replies() {
        assert_eq!(reply(b"PONG"), Reply::Pong);
        assert_eq!(
            reply(b"-ERR 'Authorization Violation'"),
            Reply::Error("'Authorization Violation'".into())
        );
        assert_eq!(reply(b"+OK"), Reply::Other);
        assert_eq!(reply(b"HELLO"), Reply::Unknown);
    }

    #[test]
    fn credentials_in_connect() {
        let line = |url: &str| String::from_utf8(nats(url).connect_line()).unwrap();
        assert!(line("nats://h").ends_with("\"protocol\":0}\r\nPING\r\n"));
        assert!(line("nats://u%22:p%5C@h").contains(r#""user":"u\"","pass":"p\\""#));
        assert!(line("nats://s3cr3t@h").contains(r#""auth_token":"s3cr3t""#));
        assert_eq!(
            nats("nats://s3cr3t@h:4223").describe(),
            "nats://****@h:4223"
        );
        assert!(line("tls://h#insecure").contains("\"tls_required\":true"));
    }
}
