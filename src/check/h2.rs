//! Just enough HTTP/2 (RFC 9113) for one request on a fresh connection, and
//! its header compression HPACK (RFC 7541): what `check grpc` needs for one
//! unary call.
//!
//! Why not the `h2` crate: it is a full, concurrent implementation (stream
//! state machines, flow control, priorities, server push) whose code in the
//! static binary is far beyond the size budget, while a health check sends
//! one small request and reads one small reply. So: the connection preface,
//! SETTINGS and their ACK, PING answered, one HEADERS + DATA out, HEADERS,
//! CONTINUATION, DATA and trailers in, GOAWAY and RST_STREAM turned into
//! reasons. Flow control needs nothing: the request is far below the initial
//! window, and the reply is bounded well below ours.
//!
//! Headers are sent as HPACK literals (no dynamic table of ours); the
//! decoder is complete (static and dynamic tables, Huffman), because
//! servers use all of it. Parsing is pure (bytes in, frames and headers
//! out), so fuzz targets can call it: `Conversation::on_frame` and
//! `Decoder::decode`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

/// What a client sends first (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// The largest frame payload a peer may send before our SETTINGS say
/// otherwise (and they do not).
pub const MAX_FRAME: usize = 16_384;
/// Our one stream.
pub const STREAM: u32 = 1;
/// Bound on the reply's body and decoded headers: a health reply is a few
/// dozen bytes; anything near this is not one.
const MAX_REPLY: usize = 64 * 1024;

/// Appends one frame.
pub fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

/// A frame's 9-byte header.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Head {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

pub fn parse_head(b: &[u8; 9]) -> Head {
    Head {
        len: u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize,
        kind: b[3],
        flags: b[4],
        stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
    }
}

/// The payload of a DATA or HEADERS frame without padding and (HEADERS)
/// priority fields.
fn content(head: &Head, payload: &[u8]) -> Result<Vec<u8>, String> {
    let mut p = payload;
    let mut pad = 0;
    if head.flags & PADDED != 0 {
        let (&n, rest) = p.split_first().ok_or_else(|| malformed("padding"))?;
        pad = n as usize;
        p = rest;
    }
    if head.kind == HEADERS && head.flags & PRIORITY != 0 {
        p = p.get(5..).ok_or_else(|| malformed("priority"))?;
    }
    if pad > p.len() {
        return Err(malformed("padding"));
    }
    Ok(p[..p.len() - pad].to_vec())
}

fn malformed(what: &str) -> String {
    format!("not a valid HTTP/2 reply (bad {what})")
}

/// An HTTP/2 error code by name (RFC 9113 §7).
pub fn error_name(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    NAMES
        .get(code as usize)
        .map_or_else(|| format!("error {code}"), |n| (*n).to_string())
}

/// Header fields as (name, value) bytes.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The reply to our one request.
#[derive(Debug, Default, PartialEq)]
pub struct Reply {
    pub headers: Fields,
    pub body: Vec<u8>,
    /// Empty when the reply ended without trailers (or with headers only).
    pub trailers: Fields,
}

/// The client's side of one connection after the request went out: feed it
/// each frame received; it collects the reply and queues what must be sent
/// back (SETTINGS and PING acknowledgements).
#[derive(Default)]
pub struct Conversation {
    decoder: Decoder,
    /// A header block waiting for its CONTINUATION frames: stream, the
    /// block so far, and whether it ends the stream.
    pending: Option<(u32, Vec<u8>, bool)>,
    seen_settings: bool,
    reply: Reply,
    got_headers: bool,
    /// Frames to send back.
    pub out: Vec<u8>,
    /// The server said GOAWAY but will still finish our stream.
    going_away: bool,
}

impl Conversation {
    /// Takes one frame. `Ok(Some(reply))` once our stream has ended.
    pub fn on_frame(&mut self, head: Head, payload: &[u8]) -> Result<Option<Reply>, String> {
        if !self.seen_settings {
            if head.kind != SETTINGS || head.flags & ACK != 0 {
                return Err("not an HTTP/2 server (its first frame is not SETTINGS)".into());
            }
            self.seen_settings = true;
        }
        if let Some((stream, _, _)) = &self.pending {
            if head.kind != CONTINUATION || head.stream != *stream {
                return Err(malformed("header block: CONTINUATION expected"));
            }
        }
        match head.kind {
            SETTINGS if head.flags & ACK == 0 => {
                if head.len % 6 != 0 || head.stream != 0 {
                    return Err(malformed("SETTINGS"));
                }
                frame(&mut self.out, SETTINGS, ACK, 0, &[]);
                Ok(None)
            }
            PING if head.flags & ACK == 0 => {
                if head.len != 8 {
                    return Err(malformed("PING"));
                }
                frame(&mut self.out, PING, ACK, 0, payload);
                Ok(None)
            }
            HEADERS => {
                let block = content(&head, payload)?;
                let end_stream = head.flags & END_STREAM != 0;
                if head.flags & END_HEADERS == 0 {
                    self.pending = Some((head.stream, block, end_stream));
                    return Ok(None);
                }
                self.on_block(head.stream, &block, end_stream)
            }
            CONTINUATION => {
                let Some((stream, mut block, end_stream)) = self.pending.take() else {
                    return Err(malformed("CONTINUATION without HEADERS"));
                };
                block.extend_from_slice(payload);
                if block.len() > MAX_REPLY {
                    return Err("reply headers too large".into());
                }
                if head.flags & END_HEADERS == 0 {
                    self.pending = Some((stream, block, end_stream));
                    return Ok(None);
                }
                self.on_block(stream, &block, end_stream)
            }
            DATA if head.stream == STREAM => {
                if !self.got_headers {
                    return Err(malformed("reply: DATA before HEADERS"));
                }
                let data = content(&head, payload)?;
                if self.reply.body.len() + data.len() > MAX_REPLY {
                    return Err("reply too large for a health check".into());
                }
                self.reply.body.extend_from_slice(&data);
                Ok(self.end_if(head.flags & END_STREAM != 0))
            }
            RST_STREAM if head.stream == STREAM => {
                let code = payload
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or_else(|| malformed("RST_STREAM"))?;
                Err(format!(
                    "the server reset the stream ({})",
                    error_name(code)
                ))
            }
            GOAWAY => {
                let b = payload.get(..8).ok_or_else(|| malformed("GOAWAY"))?;
                let last = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff;
                let code = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                // A graceful shutdown that still covers our stream: keep
                // reading, the reply comes.
                if code == 0 && last >= STREAM {
                    self.going_away = true;
                    return Ok(None);
                }
                let debug = String::from_utf8_lossy(&payload[8..]);
                let debug = debug.trim();
                Err(format!(
                    "the server closed the connection (GOAWAY {}{}{})",
                    error_name(code),
                    if debug.is_empty() { "" } else { ": " },
                    super::clip(debug)
                ))
            }
            PUSH_PROMISE => Err(malformed("reply: PUSH_PROMISE though push is disabled")),
            // WINDOW_UPDATE, PRIORITY, acknowledgements, unknown types and
            // frames for other streams carry nothing for us.
            _ => Ok(None),
        }
    }

    fn on_block(
        &mut self,
        stream: u32,
        block: &[u8],
        end_stream: bool,
    ) -> Result<Option<Reply>, String> {
        // Decode every block, whatever its stream: the decoder's table
        // must see them all.
        let fields = self.decoder.decode(block)?;
        if stream != STREAM {
            return Ok(None);
        }
        if !self.got_headers {
            // 1xx informational headers come before the real ones.
            let informational = fields
                .iter()
                .any(|(n, v)| n == b":status" && v.first() == Some(&b'1'));
            if !informational {
                self.got_headers = true;
                self.reply.headers = fields;
            }
        } else {
            self.reply.trailers = fields;
        }
        Ok(self.end_if(end_stream))
    }

    fn end_if(&mut self, end: bool) -> Option<Reply> {
        end.then(|| std::mem::take(&mut self.reply))
    }

    /// Whether the server has announced a graceful shutdown.
    pub fn going_away(&self) -> bool {
        self.going_away
    }
}

/// The start of a connection and one request: preface, our SETTINGS (no
/// server push), HEADERS with `fields` as HPACK literals, and `body` in one
/// DATA frame that ends the stream.
pub fn request(fields: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    // SETTINGS_ENABLE_PUSH (2) = 0.
    frame(&mut out, SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 0]);
    let mut block = Vec::new();
    for (name, value) in fields {
        encode_literal(&mut block, name, value);
    }
    // Header blocks beyond one frame would need CONTINUATION; the caller
    // bounds what users put in (a few metadata entries).
    for (i, chunk) in block.chunks(MAX_FRAME).enumerate() {
        let last = (i + 1) * MAX_FRAME >= block.len();
        let kind = if i == 0 { HEADERS } else { CONTINUATION };
        frame(
            &mut out,
            kind,
            if last { END_HEADERS } else { 0 },
            STREAM,
            chunk,
        );
    }
    for (i, chunk) in body.chunks(MAX_FRAME).enumerate() {
        let last = (i + 1) * MAX_FRAME >= body.len();
        frame(
            &mut out,
            DATA,
            if last { END_STREAM } else { 0 },
            STREAM,
            chunk,
        );
    }
    out
}

/// Sends `request` and reads frames until the reply to stream 1 is
/// complete. `sock` bounds every read and write by the attempt's deadline.
pub fn exchange<S: Read + Write>(sock: &mut S, request: &[u8]) -> Result<Reply, io::Error> {
    sock.write_all(request)?;
    sock.flush()?;
    let mut talk = Conversation::default();
    let mut payload = vec![0; MAX_FRAME];
    loop {
        let mut head = [0u8; 9];
        sock.read_exact(&mut head)?;
        let h = parse_head(&head);
        if !talk.seen_settings && (h.kind != SETTINGS || h.len > MAX_FRAME) {
            return Err(protocol(not_h2(&head)));
        }
        if h.len > MAX_FRAME {
            return Err(protocol(malformed("frame: larger than the maximum")));
        }
        sock.read_exact(&mut payload[..h.len])?;
        let done = talk.on_frame(h, &payload[..h.len]).map_err(protocol)?;
        if !talk.out.is_empty() {
            sock.write_all(&talk.out)?;
            sock.flush()?;
            talk.out.clear();
        }
        if let Some(reply) = done {
            return Ok(reply);
        }
    }
}

/// The client's side of `exchange` over bytes a server sent, with nothing
/// written anywhere: the entry point for fuzz targets (and the tests below).
pub fn replay(server_bytes: &[u8]) -> Result<Reply, io::Error> {
    struct Replay<'a>(&'a [u8]);
    impl Read for Replay<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl Write for Replay<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    exchange(&mut Replay(server_bytes), &[])
}

/// A reason from the protocol itself, wrapped as an I/O error of kind
/// `InvalidData` so `exchange` has one error type; `io_reason` unwraps it.
fn protocol(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

/// What to say when the first bytes are not an HTTP/2 SETTINGS frame.
fn not_h2(first: &[u8]) -> String {
    match first {
        [b'H', b'T', b'T', b'P', b'/', ..] => {
            "not an HTTP/2 server: it answered in HTTP/1 (is this the gRPC port?)".into()
        }
        [21 | 22, 3, ..] => "not an HTTP/2 server: it speaks TLS (use grpcs://)".into(),
        _ => format!(
            "not an HTTP/2 server (reply starts with {})",
            super::tls::printable(&first[..first.len().min(8)])
        ),
    }
}

// --- HPACK (RFC 7541) ---

/// Appends an HPACK integer with an `n`-bit prefix; `flags` fills the
/// first byte's high bits.
pub fn encode_int(out: &mut Vec<u8>, value: usize, n: u32, flags: u8) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A "literal header field without indexing": by the static table's index
/// when it has the name, else with the name spelled out; no Huffman.
fn encode_literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    match STATIC.iter().position(|(n, _)| n.as_bytes() == name) {
        Some(i) => encode_int(out, i + 1, 4, 0x00),
        None => {
            out.push(0x00);
            encode_int(out, name.len(), 7, 0x00);
            out.extend_from_slice(name);
        }
    }
    encode_int(out, value.len(), 7, 0x00);
    out.extend_from_slice(value);
}

/// The static table (RFC 7541 Appendix A), index 1 first.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The dynamic table size our SETTINGS allow the server (the default).
const TABLE_LIMIT: usize = 4096;

/// An HPACK decoder: the dynamic table lives as long as the connection.
pub struct Decoder {
    /// Newest first.
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max: TABLE_LIMIT,
        }
    }
}

fn bad_hpack(what: &str) -> String {
    format!("not a valid HTTP/2 reply (header compression: {what})")
}

impl Decoder {
    /// Decodes one complete header block.
    pub fn decode(&mut self, block: &[u8]) -> Result<Fields, String> {
        let mut fields = Vec::new();
        let mut total = 0;
        let mut p = block;
        while let Some(&first) = p.first() {
            let field = if first & 0x80 != 0 {
                // Indexed field.
                let i = int(&mut p, 7)?;
                self.get(i)?
            } else if first & 0xe0 == 0x20 {
                // Dynamic table size update.
                let size = int(&mut p, 5)?;
                if size > TABLE_LIMIT {
                    return Err(bad_hpack("table size above the limit"));
                }
                self.max = size;
                self.evict(0);
                continue;
            } else {
                // Literal: with incremental indexing (01), without (0000)
                // or never indexed (0001).
                let indexing = first & 0xc0 == 0x40;
                let i = int(&mut p, if indexing { 6 } else { 4 })?;
                let name = if i == 0 {
                    string(&mut p)?
                } else {
                    self.get(i)?.0
                };
                let value = string(&mut p)?;
                if indexing {
                    self.insert(name.clone(), value.clone());
                }
                (name, value)
            };
            total += field.0.len() + field.1.len() + 32;
            if total > MAX_REPLY {
                return Err("reply headers too large".into());
            }
            fields.push(field);
        }
        Ok(fields)
    }

    fn get(&self, index: usize) -> Result<(Vec<u8>, Vec<u8>), String> {
        match index {
            0 => Err(bad_hpack("index 0")),
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            }
            _ => self
                .table
                .get(index - 62)
                .cloned()
                .ok_or_else(|| bad_hpack("index beyond the table")),
        }
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let size = name.len() + value.len() + 32;
        self.evict(size);
        // An entry larger than the table empties it and is not kept.
        if size <= self.max {
            self.size += size;
            self.table.push_front((name, value));
        }
    }

    /// Drops the oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max {
            match self.table.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
    }
}

/// Reads an integer with an `n`-bit prefix from the front of `p`.
fn int(p: &mut &[u8], n: u32) -> Result<usize, String> {
    let (&first, rest) = p.split_first().ok_or_else(|| bad_hpack("truncated"))?;
    *p = rest;
    let max = (1usize << n) - 1;
    let mut value = (first as usize) & max;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0;
    loop {
        let (&b, rest) = p.split_first().ok_or_else(|| bad_hpack("truncated"))?;
        *p = rest;
        if shift > 21 {
            return Err(bad_hpack("integer too large"));
        }
        value += ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// Reads a string literal (raw or Huffman-coded) from the front of `p`.
fn string(p: &mut &[u8]) -> Result<Vec<u8>, String> {
    let huffman = p.first().is_some_and(|b| b & 0x80 != 0);
    let len = int(p, 7)?;
    if len > p.len() {
        return Err(bad_hpack("truncated"));
    }
    let (s, rest) = p.split_at(len);
    *p = rest;
    if huffman {
        huffman_decode(s)
    } else {
        Ok(s.to_vec())
    }
}

/// The length in bits of each symbol's Huffman code (RFC 7541 Appendix B),
/// symbols 0-255 and EOS (256). The code is canonical: codes are assigned
/// in order of (length, symbol), so the lengths are all the table needs.
const CODE_BITS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// Decodes a Huffman-coded string, bit by bit against the canonical code:
/// at each length, the codes of that length form one contiguous range.
pub fn huffman_decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
    // Symbols sorted by (length, symbol), and per length the first code
    // and where its symbols start in that order.
    let mut order: Vec<u16> = (0..257).collect();
    order.sort_by_key(|&s| (CODE_BITS[s as usize], s));
    let mut count = [0u32; 31];
    for &b in &CODE_BITS {
        count[b as usize] += 1;
    }
    let mut first = [0u32; 31];
    let mut start = [0u32; 31];
    let (mut code, mut index) = (0u32, 0u32);
    for len in 1..31 {
        first[len] = code;
        start[len] = index;
        code = (code + count[len]) << 1;
        index += count[len];
    }

    let mut out = Vec::with_capacity(bytes.len() * 8 / 5);
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in bytes {
        for bit in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> bit) & 1);
            len += 1;
            if len > 30 {
                return Err(bad_hpack("bad Huffman code"));
            }
            if code.wrapping_sub(first[len]) < count[len] && code >= first[len] {
                let symbol = order[(start[len] + code - first[len]) as usize];
                if symbol == 256 {
                    return Err(bad_hpack("EOS in a string"));
                }
                out.push(symbol as u8);
                code = 0;
                len = 0;
            }
        }
    }
    // Padding: fewer than 8 bits, all ones (a prefix of EOS).
    if len >= 8 || code != (1 << len) - 1 {
        return Err(bad_hpack("bad Huffman padding"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn text(fields: &Fields) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn integers() {
        // RFC 7541 C.1: 10 and 1337 with a 5-bit prefix, 42 with 8 bits.
        let mut out = Vec::new();
        encode_int(&mut out, 10, 5, 0);
        encode_int(&mut out, 1337, 5, 0);
        encode_int(&mut out, 42, 8, 0);
        assert_eq!(out, [0x0a, 0x1f, 0x9a, 0x0a, 0x2a]);
        let mut p = &out[..];
        assert_eq!(int(&mut p, 5), Ok(10));
        assert_eq!(int(&mut p, 5), Ok(1337));
        assert_eq!(int(&mut p, 8), Ok(42));
        let mut p: &[u8] = &[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(int(&mut p, 5).is_err());
    }

    #[test]
    fn huffman() {
        // RFC 7541 C.4.1 and C.6.1.
        assert_eq!(
            huffman_decode(&hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff")).unwrap(),
            b"www.example.com"
        );
        assert_eq!(huffman_decode(&hex("6402")).unwrap(), b"302");
        assert_eq!(
            huffman_decode(&hex(
                "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"
            ))
            .unwrap(),
            b"Mon, 21 Oct 2013 20:13:21 GMT"
        );
        // Padding longer than 7 bits, or not all ones, is an error.
        assert!(huffman_decode(&hex("6402 ff")).is_err());
        assert!(huffman_decode(&hex("64")).is_err());
        assert_eq!(huffman_decode(&hex("6400")).unwrap(), b"300");
    }

    #[test]
    fn rfc_response_examples_with_huffman_and_eviction() {
        // RFC 7541 C.6: three responses, dynamic table limited to 256.
        let mut d = Decoder {
            max: 256,
            ..Decoder::default()
        };
        let first = d
            .decode(&hex(
                "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            ))
            .unwrap();
        assert_eq!(
            text(&first),
            [
                (":status".into(), "302".into()),
                ("cache-control".into(), "private".into()),
                ("date".into(), "Mon, 21 Oct 2013 20:13:21 GMT".into()),
                ("location".into(), "https://www.example.com".into()),
            ]
        );
        assert_eq!(d.size, 222);
        let second = d.decode(&hex("4883 640e ff c1 c0 bf")).unwrap();
        assert_eq!(text(&second)[0], (":status".into(), "307".into()));
        assert_eq!(text(&second)[3].1, "https://www.example.com");
        assert_eq!(d.size, 222);
        let third = d
            .decode(&hex(
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ))
            .unwrap();
        assert_eq!(text(&third)[0], (":status".into(), "200".into()));
        assert_eq!(
            text(&third)[5].1,
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
        );
        assert_eq!(d.size, 215);
        // Indexes past the table, and size updates above our limit, fail.
        assert!(d.decode(&[0xff, 0x00]).is_err());
        assert!(d.decode(&hex("3fe2 1f")).is_err());
    }

    #[test]
    fn literals_round_trip() {
        let mut block = Vec::new();
        encode_literal(&mut block, b":path", b"/grpc.health.v1.Health/Check");
        encode_literal(&mut block, b"x-token", &[b'a'; 300]);
        let fields = Decoder::default().decode(&block).unwrap();
        assert_eq!(fields[0].0, b":path");
        assert_eq!(fields[1], (b"x-token".to_vec(), vec![b'a'; 300]));
    }

    /// A server's reply as frames: SETTINGS, PING, headers split over
    /// CONTINUATION, padded DATA, trailers.
    #[test]
    fn conversation() {
        let mut talk = Conversation::default();
        let mut feed = |kind, flags, stream, payload: &[u8]| {
            let head = Head {
                len: payload.len(),
                kind,
                flags,
                stream,
            };
            talk.on_frame(head, payload)
        };
        assert_eq!(feed(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]), Ok(None));
        assert_eq!(feed(PING, 0, 0, &[1; 8]), Ok(None));
        // ":status: 200" indexed, then "content-type: application/grpc".
        let mut block = vec![0x88];
        encode_literal(&mut block, b"content-type", b"application/grpc");
        assert_eq!(feed(HEADERS, 0, STREAM, &block[..3]), Ok(None));
        assert_eq!(
            feed(CONTINUATION, END_HEADERS, STREAM, &block[3..]),
            Ok(None)
        );
        assert_eq!(feed(DATA, PADDED, STREAM, &[2, 7, 7, 0, 0]), Ok(None));
        let mut trailers = Vec::new();
        encode_literal(&mut trailers, b"grpc-status", b"0");
        let reply = feed(HEADERS, END_HEADERS | END_STREAM, STREAM, &trailers)
            .unwrap()
            .unwrap();
        assert_eq!(reply.body, [7, 7]);
        assert_eq!(reply.headers.len(), 2);
        assert_eq!(reply.trailers, [(b"grpc-status".to_vec(), b"0".to_vec())]);
        let mut expected = Vec::new();
        frame(&mut expected, SETTINGS, ACK, 0, &[]);
        frame(&mut expected, PING, ACK, 0, &[1; 8]);
        assert_eq!(talk.out, expected);
    }

    #[test]
    fn conversation_errors() {
        let head = |kind, len, stream| Head {
            len,
            kind,
            flags: 0,
            stream,
        };
        let mut talk = Conversation::default();
        assert!(talk.on_frame(head(DATA, 0, 1), &[]).is_err());
        let mut talk = Conversation::default();
        talk.on_frame(head(SETTINGS, 0, 0), &[]).unwrap();
        let e = talk
            .on_frame(head(RST_STREAM, 4, 1), &[0, 0, 0, 7])
            .unwrap_err();
        assert_eq!(e, "the server reset the stream (REFUSED_STREAM)");
        let e = talk
            .on_frame(head(GOAWAY, 13, 0), b"\0\0\0\0\0\0\0\x0bcalm!")
            .unwrap_err();
        assert_eq!(
            e,
            "the server closed the connection (GOAWAY ENHANCE_YOUR_CALM: calm!)"
        );
        assert!(talk.on_frame(head(DATA, 0, 1), &[]).is_err());
    }

    /// A valid reply, then that reply cut and corrupted in many ways: every
    /// run ends with a reply or an error, never a panic or a hang (the same
    /// property a fuzz target checks through `replay`, here reproducibly).
    #[test]
    fn replay_survives_corruption() {
        let mut good = Vec::new();
        frame(&mut good, SETTINGS, 0, 0, &[0, 4, 0, 0, 0xff, 0xff]);
        let mut block = vec![0x88];
        encode_literal(&mut block, b"content-type", b"application/grpc");
        frame(&mut good, HEADERS, END_HEADERS, STREAM, &block);
        frame(&mut good, DATA, 0, STREAM, &[0, 0, 0, 0, 2, 8, 1]);
        let mut trailers = Vec::new();
        encode_literal(&mut trailers, b"grpc-status", b"0");
        frame(
            &mut good,
            HEADERS,
            END_HEADERS | END_STREAM,
            STREAM,
            &trailers,
        );
        let reply = replay(&good).unwrap();
        assert_eq!(reply.body, [0, 0, 0, 0, 2, 8, 1]);

        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            bytes.truncate((next() as usize) % (bytes.len() + 1));
            let _ = replay(&bytes);
        }
        for _ in 0..2_000 {
            let len = (next() % 200) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = replay(&bytes);
            let _ = Decoder::default().decode(&bytes);
            let _ = huffman_decode(&bytes);
        }
    }

    #[test]
    fn request_frames() {
        let out = request(&[(b":method", b"POST")], &[0, 0, 0, 0, 0]);
        assert!(out.starts_with(PREFACE));
        let rest = &out[PREFACE.len()..];
        assert_eq!(
            parse_head(rest[..9].try_into().unwrap()),
            Head {
                len: 6,
                kind: SETTINGS,
                flags: 0,
                stream: 0
            }
        );
    }
}
