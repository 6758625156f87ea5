//! The MySQL client/server protocol's packets, as far as a health check
//! needs them: framing, the server's greeting (Initial Handshake v10), the
//! generic OK/ERR replies, and a text result set. Everything here reads
//! bytes a peer sent and never trusts a length in them; the fuzz target
//! `mysql` runs it on any input.
//!
//! <https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html>,
//! <https://mariadb.com/kb/en/clientserver-protocol/>

use std::io::{self, Read, Write};

/// Capability flags berth uses (CLIENT_* in the protocol's documentation).
pub const CLIENT_LONG_PASSWORD: u32 = 0x1;
pub const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
pub const CLIENT_PROTOCOL_41: u32 = 0x200;
pub const CLIENT_SSL: u32 = 0x800;
pub const CLIENT_TRANSACTIONS: u32 = 0x2000;
pub const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
pub const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
pub const CLIENT_PLUGIN_AUTH_LENENC_DATA: u32 = 0x20_0000;

/// A packet longer than this is not a health check's reply: berth refuses
/// it rather than allocating what a hostile length asks for.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Columns or rows of a result set berth reads at most.
const MAX_COLUMNS: u64 = 64;
const MAX_ROWS: usize = 64;

/// Why reading the peer's packets failed.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed or closed (the caller words it).
    Io(io::Error),
    /// The bytes are not what a MySQL server sends.
    Protocol(String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

fn bad<T>(what: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError::Protocol(what.into()))
}

/// Both directions of a connection, numbering packets as the protocol
/// does: each packet of one exchange carries the next sequence number.
pub struct Packets<S> {
    pub stream: S,
    seq: u8,
}

impl<S> Packets<S> {
    pub fn new(stream: S) -> Packets<S> {
        Packets { stream, seq: 0 }
    }

    /// Goes on with a stream that replaced the one before (TLS), keeping
    /// the numbering.
    pub fn with_seq(stream: S, seq: u8) -> Packets<S> {
        Packets { stream, seq }
    }

    pub fn into_parts(self) -> (S, u8) {
        (self.stream, self.seq)
    }

    /// A new command starts its exchange at sequence number 0.
    pub fn reset(&mut self) {
        self.seq = 0;
    }
}

impl<S: Read> Packets<S> {
    /// One packet's payload. A payload of 16 MiB - 1 or more continues in
    /// the next packet; berth needs none that long and refuses it.
    pub fn read(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut head = [0u8; 4];
        self.stream.read_exact(&mut head)?;
        let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
        if head[3] != self.seq {
            return bad(format!(
                "packet out of order (sequence {}, expected {})",
                head[3], self.seq
            ));
        }
        if len > MAX_PAYLOAD {
            return bad(format!("a packet of {len} bytes"));
        }
        self.seq = self.seq.wrapping_add(1);
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload)?;
        Ok(payload)
    }
}

impl<S: Write> Packets<S> {
    /// Sends `payload` as one packet (berth's are all short).
    pub fn write(&mut self, payload: &[u8]) -> io::Result<()> {
        let len = payload.len().min(0xff_ffff) as u32;
        let mut packet = Vec::with_capacity(payload.len() + 4);
        packet.extend_from_slice(&len.to_le_bytes()[..3]);
        packet.push(self.seq);
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.stream.write_all(&packet)?;
        self.stream.flush()
    }
}

/// A cursor over one payload.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        if self.rest.len() < n {
            return bad("a packet ends too early");
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ReadError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, ReadError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Up to the next NUL (consumed), or to the end when there is none.
    fn nul_str(&mut self) -> &'a [u8] {
        match self.rest.iter().position(|&b| b == 0) {
            Some(i) => {
                let s = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                s
            }
            None => std::mem::take(&mut self.rest),
        }
    }

    /// A length-encoded integer; `None` for 0xfb, the NULL of a row.
    fn lenenc(&mut self) -> Result<Option<u64>, ReadError> {
        Ok(Some(match self.u8()? {
            0xfb => return Ok(None),
            0xfc => u64::from(self.u16()?),
            0xfd => {
                let b = self.take(3)?;
                u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16
            }
            0xfe => {
                let b = self.take(8)?;
                u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            0xff => return bad("a length of 0xff"),
            n => u64::from(n),
        }))
    }

    /// A length-encoded string; `None` for NULL.
    fn lenenc_bytes(&mut self) -> Result<Option<&'a [u8]>, ReadError> {
        match self.lenenc()? {
            None => Ok(None),
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                self.take(n).map(Some)
            }
        }
    }
}

/// The server's greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub version: String,
    pub capabilities: u32,
    /// The nonce the password is scrambled with (20 bytes from any current
    /// server; without the trailing NUL).
    pub scramble: Vec<u8>,
    /// The server's default authentication plugin (empty: none named,
    /// mysql_native_password).
    pub plugin: String,
}

/// What the server sent first: its greeting, or an error (too many
/// connections, a blocked host) instead.
#[derive(Debug)]
pub enum Greeting {
    Handshake(Handshake),
    Refused(ServerError),
}

/// Reads the first packet a server sends.
pub fn parse_greeting(payload: &[u8]) -> Result<Greeting, ReadError> {
    let mut c = Cursor { rest: payload };
    match c.u8()? {
        10 => {}
        0xff => return parse_error(payload).map(Greeting::Refused),
        9 => return bad("a server speaking protocol version 9 (MySQL before 3.22)"),
        _ => return bad("not a MySQL server (unexpected greeting)"),
    }
    let version = String::from_utf8_lossy(c.nul_str()).into_owned();
    let _connection_id = c.u32()?;
    let mut scramble = c.take(8)?.to_vec();
    let _filler = c.u8()?;
    let mut capabilities = u32::from(c.u16()?);
    let mut plugin = String::new();
    if !c.rest.is_empty() {
        let _charset = c.u8()?;
        let _status = c.u16()?;
        capabilities |= u32::from(c.u16()?) << 16;
        let data_len = usize::from(c.u8()?);
        // Reserved; MariaDB puts its own capabilities in the last four.
        c.take(10)?;
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let n = data_len.saturating_sub(8).max(13);
            let part = c.take(n.min(c.rest.len()))?;
            // The part ends with a NUL that is not part of the nonce.
            let part = part.strip_suffix(&[0]).unwrap_or(part);
            scramble.extend_from_slice(part);
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0 {
            plugin = String::from_utf8_lossy(c.nul_str()).into_owned();
        }
    }
    if capabilities & CLIENT_PROTOCOL_41 == 0 {
        return bad("a server without the 4.1 protocol (MySQL before 4.1)");
    }
    Ok(Greeting::Handshake(Handshake {
        version,
        capabilities,
        scramble,
        plugin,
    }))
}

/// An ERR packet's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    pub code: u16,
    /// The SQLSTATE, when the server sent one.
    pub state: String,
    pub message: String,
}

/// Reads an ERR packet (first byte 0xff).
pub fn parse_error(payload: &[u8]) -> Result<ServerError, ReadError> {
    let mut c = Cursor { rest: payload };
    if c.u8()? != 0xff {
        return bad("not an error packet");
    }
    let code = c.u16()?;
    let mut state = String::new();
    if c.rest.first() == Some(&b'#') && c.rest.len() >= 6 {
        state = String::from_utf8_lossy(&c.rest[1..6]).into_owned();
        c.rest = &c.rest[6..];
    }
    Ok(ServerError {
        code,
        state,
        message: String::from_utf8_lossy(c.rest).into_owned(),
    })
}

/// What the server says after the client's part of authentication.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthReply {
    Ok,
    Err(ServerError),
    /// AuthSwitchRequest: use this plugin, with this nonce.
    Switch {
        plugin: String,
        data: Vec<u8>,
    },
    /// AuthMoreData: the plugin's own exchange goes on.
    More(Vec<u8>),
}

/// Reads the server's reply during authentication.
pub fn parse_auth_reply(payload: &[u8]) -> Result<AuthReply, ReadError> {
    let mut c = Cursor { rest: payload };
    match c.u8()? {
        0x00 => Ok(AuthReply::Ok),
        0xff => parse_error(payload).map(AuthReply::Err),
        0xfe => {
            let plugin = String::from_utf8_lossy(c.nul_str()).into_owned();
            // Raw: the native plugins' 20-byte nonce comes with a NUL after
            // it (they read 20 bytes), ed25519's 32 bytes with none, and its
            // last byte may be 0.
            Ok(AuthReply::Switch {
                plugin,
                data: c.rest.to_vec(),
            })
        }
        0x01 => Ok(AuthReply::More(c.rest.to_vec())),
        _ => bad("not a MySQL server (unexpected reply to the login)"),
    }
}

/// What a query returned.
#[derive(Debug, PartialEq, Eq)]
pub enum QueryReply {
    /// Rows of text values (NULL as `None`), at most `MAX_ROWS` of them.
    Rows(Vec<Vec<Option<String>>>),
    /// No result set (an OK packet).
    Done,
    Err(ServerError),
}

/// Reads the reply to COM_QUERY: an OK, an ERR, or a text result set
/// (column count, column definitions, an EOF, rows, an EOF or an OK in
/// its place).
pub fn read_query_reply<S: Read>(packets: &mut Packets<S>) -> Result<QueryReply, ReadError> {
    let first = packets.read()?;
    let columns = match first.first() {
        None => return bad("an empty reply"),
        Some(0x00) => return Ok(QueryReply::Done),
        Some(0xff) => return parse_error(&first).map(QueryReply::Err),
        Some(0xfb) => return bad("a LOCAL INFILE request"),
        Some(_) => {
            let mut c = Cursor { rest: &first };
            match c.lenenc()? {
                Some(n) if (1..=MAX_COLUMNS).contains(&n) && c.rest.is_empty() => n as usize,
                _ => return bad("not a MySQL server (unexpected reply to the query)"),
            }
        }
    };
    for _ in 0..columns {
        let def = packets.read()?;
        if matches!(def.first(), Some(0xff | 0xfe) | None) {
            return bad("a column definition missing");
        }
    }
    // The EOF after the definitions (absent with CLIENT_DEPRECATE_EOF,
    // which berth does not ask for).
    if !is_eof(&packets.read()?) {
        return bad("no end after the column definitions");
    }
    let mut rows = Vec::new();
    loop {
        let row = packets.read()?;
        if is_eof(&row) {
            return Ok(QueryReply::Rows(rows));
        }
        if row.first() == Some(&0xff) {
            return parse_error(&row).map(QueryReply::Err);
        }
        if rows.len() == MAX_ROWS {
            return bad(format!("more than {MAX_ROWS} rows"));
        }
        let mut c = Cursor { rest: &row };
        let mut values = Vec::with_capacity(columns);
        for _ in 0..columns {
            let v = c.lenenc_bytes()?;
            values.push(v.map(|b| String::from_utf8_lossy(b).into_owned()));
        }
        if !c.rest.is_empty() {
            return bad("a row longer than its columns");
        }
        rows.push(values);
    }
}

/// An EOF packet (0xfe and fewer than 9 bytes; a row value of that length
/// would start with a longer length prefix).
fn is_eof(payload: &[u8]) -> bool {
    payload.first() == Some(&0xfe) && payload.len() < 9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(packets: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for (seq, p) in packets.iter().enumerate() {
            out.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
            out.push(seq as u8);
            out.extend_from_slice(p);
        }
        out
    }

    /// A MariaDB 10.11 greeting, as captured from the test server.
    fn greeting() -> Vec<u8> {
        let mut g = vec![10];
        g.extend_from_slice(b"5.5.5-10.11.6-MariaDB\0");
        g.extend_from_slice(&7u32.to_le_bytes());
        g.extend_from_slice(b"abcdefgh\0");
        let caps: u32 = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
        g.extend_from_slice(&(caps as u16).to_le_bytes());
        g.push(45);
        g.extend_from_slice(&2u16.to_le_bytes());
        g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        g.push(21);
        g.extend_from_slice(&[0; 10]);
        g.extend_from_slice(b"ijklmnopqrst\0");
        g.extend_from_slice(b"mysql_native_password\0");
        g
    }

    #[test]
    fn reads_a_greeting() {
        let Greeting::Handshake(h) = parse_greeting(&greeting()).unwrap() else {
            panic!("not a handshake");
        };
        assert_eq!(h.version, "5.5.5-10.11.6-MariaDB");
        assert_eq!(h.scramble, b"abcdefghijklmnopqrst");
        assert_eq!(h.plugin, "mysql_native_password");
        let refused = b"\xff\x10\x04Too many connections";
        let Greeting::Refused(e) = parse_greeting(refused).unwrap() else {
            panic!("not refused");
        };
        assert_eq!((e.code, e.message.as_str()), (1040, "Too many connections"));
        assert!(parse_greeting(b"HTTP/1.1 400 Bad Request").is_err());
        assert!(parse_greeting(&greeting()[..20]).is_err());
    }

    #[test]
    fn reads_a_result_set() {
        let bytes = framed(&[
            b"\x01",
            b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0",
            b"\xfe\0\0\x02\0",
            b"\x011",
            b"\xfb",
            b"\xfe\0\0\x02\0",
        ]);
        let mut p = Packets::new(&bytes[..]);
        assert_eq!(
            read_query_reply(&mut p).unwrap(),
            QueryReply::Rows(vec![vec![Some("1".into())], vec![None]])
        );
        let bytes = framed(&[b"\xff\x19\x04#42000Unknown database 'x'"]);
        let QueryReply::Err(e) = read_query_reply(&mut Packets::new(&bytes[..])).unwrap() else {
            panic!("not an error");
        };
        assert_eq!(
            (e.code, e.state.as_str(), e.message.as_str()),
            (1049, "42000", "Unknown database 'x'")
        );
        // Out of order, too long, cut short: all refused, none a panic.
        let mut wrong = framed(&[b"\x00"]);
        wrong[3] = 5;
        assert!(read_query_reply(&mut Packets::new(&wrong[..])).is_err());
        assert!(read_query_reply(&mut Packets::new(&b"\xff\xff\xff\0"[..])).is_err());
        assert!(read_query_reply(&mut Packets::new(&framed(&[b"\x01"])[..])).is_err());
    }

    #[test]
    fn reads_auth_replies() {
        assert_eq!(parse_auth_reply(b"\0\0\0\x02\0").unwrap(), AuthReply::Ok);
        assert_eq!(
            parse_auth_reply(b"\xfemysql_native_password\0nonce\0").unwrap(),
            AuthReply::Switch {
                plugin: "mysql_native_password".into(),
                data: b"nonce\0".to_vec()
            }
        );
        // ed25519's nonce is 32 bytes with no NUL after it: a last byte
        // of 0 is part of it.
        let mut switch = b"\xfeclient_ed25519\0".to_vec();
        let nonce: Vec<u8> = (1..=31).chain([0]).collect();
        switch.extend_from_slice(&nonce);
        assert_eq!(
            parse_auth_reply(&switch).unwrap(),
            AuthReply::Switch {
                plugin: "client_ed25519".into(),
                data: nonce
            }
        );
        assert_eq!(
            parse_auth_reply(b"\x01\x03").unwrap(),
            AuthReply::More(vec![3])
        );
        assert!(parse_auth_reply(b"").is_err());
    }
}
