//! HTTP(S): one request, redirects followed, status (and optionally body)
//! checked, within the attempt's deadline.
//!
//! HTTP/1.1 on berth's own few lines over httparse: the name lookup, the
//! connection and the TLS handshake are the shared ones, so each phase is
//! named when it times out and every socket operation is bounded by the
//! deadline. Redirects are followed here, with curl's rules: credentials
//! only to the URL's own scheme, host and port, a 3xx without `Location` is
//! the final reply, and reply heads as large as curl takes (any number of
//! headers, up to 300 kB).

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::OnceLock;

use http::{HeaderName, HeaderValue, Method, Uri};
use rustls::{ClientConnection, StreamOwned};

use super::net::{self, Bounded};
use super::tls::{Peer, Tls, TlsOptions};
use super::{Attempt, Probe};
use crate::cli::HttpArgs;
use crate::target::{Kind, Target, TlsSettings};

/// More than any sane chain of redirects, few enough to stop a loop early.
const MAX_REDIRECTS: u32 = 5;
/// How much of the body `--contains` looks at.
const BODY_LIMIT: u64 = 1 << 20;
/// The most reply head (status line and headers) berth reads: curl's
/// limit (MAX_HTTP_RESP_HEADER_SIZE), so what curl takes berth takes, and
/// a peer that never ends its headers is cut off with a reason.
const HEAD_LIMIT: usize = 300 * 1024;

pub struct Http {
    /// What the report names (printed without secrets).
    target: Target,
    /// The URL without user info: what goes into requests and messages,
    /// so none can carry the password.
    uri: Uri,
    /// `Basic ...` from the URL's user info.
    auth: Option<HeaderValue>,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    statuses: Statuses,
    contains: Option<String>,
    json_field: Option<super::json::Field>,
    /// TLS settings, from the flags and the URL fragment.
    tls_options: TlsOptions,
    /// Built up front for an https:// URL, so a bad certificate or key file
    /// is reported before any connection (and as a usage error by `wait`).
    tls: Option<Tls>,
    /// The URL's own host: `--servername` applies to it, not to hosts a
    /// redirect leads to.
    host: String,
    /// Connect here instead of the URL's host and port.
    unix_socket: Option<String>,
}

impl Http {
    pub fn from_args(args: HttpArgs) -> Result<(Http, Option<String>), String> {
        let target = Target::parse_for(&args.url, &[Kind::Http, Kind::HttpUnix], None)
            .map_err(|e| e.to_string())?;
        let flags = args.tls();
        let mut http = Http::build(target, flags)?;
        if let Some(s) = &args.status {
            http.statuses = Statuses::parse(s)?;
        }
        if let Some(m) = &args.method {
            http.method = Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("--method '{m}' is not an HTTP method (e.g. GET, HEAD)"))?;
        }
        http.headers = args
            .header
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<_, _>>()?;
        if args.contains.as_deref() == Some("") {
            return Err("--contains needs a non-empty text".into());
        }
        let body_flag = match (&args.contains, &args.json_field) {
            (Some(_), _) => Some("--contains"),
            (None, Some(_)) => Some("--json-field"),
            (None, None) => None,
        };
        if let Some(flag) = body_flag.filter(|_| http.method == Method::HEAD) {
            return Err(format!(
                "{flag} cannot work with --method HEAD: the reply has no body"
            ));
        }
        http.contains = args.contains;
        http.json_field = args
            .json_field
            .as_deref()
            .map(super::json::Field::parse)
            .transpose()?;
        if let Some(path) = args.unix_socket {
            if path.is_empty() {
                return Err("--unix-socket needs a path".into());
            }
            http.unix_socket = Some(path);
        }
        Ok((http, args.timeout))
    }

    /// An `http://`, `https://` or `http+unix://` URL with `berth check
    /// http`'s defaults, TLS settings from its fragment.
    pub fn from_target(target: Target) -> Result<Http, String> {
        Http::build(target, TlsSettings::default())
    }

    /// `http+unix://%2Frun%2Fapp.sock/health`: the socket's path,
    /// percent-encoded, in place of the host (the form requests-unixsocket
    /// and Docker's clients use), so `berth wait` can reach an app that
    /// listens on a socket only. The request says `Host: localhost`.
    fn build(target: Target, flags: TlsSettings) -> Result<Http, String> {
        let s = target.scheme.name;
        let (host, _) = target.host().map_err(|e| e.to_string())?;
        let unix_socket = match target.scheme.kind {
            Kind::HttpUnix if !host.starts_with('/') && !host.starts_with('.') => {
                return Err(format!(
                    "{s} URL: expected the socket's path in place of the host, e.g. http+unix://%2Frun%2Fapp.sock/health"
                ));
            }
            Kind::HttpUnix => Some(host.to_string()),
            _ => None,
        };
        let local = unix_socket.as_ref().map(|_| "localhost");
        let uri = target.request_url(local).map_err(|e| e.to_string())?;
        let uri: Uri = uri.parse().map_err(|_| {
            format!("{s} URL: not a valid HTTP URL (characters that need percent-encoding in the path or query?)")
        })?;
        let auth = match (&target.user, target.secret()) {
            (None, None) => None,
            (user, password) => Some(
                basic_auth(
                    user.as_deref().unwrap_or(""),
                    password.map_or("", |p| p.expose()),
                )
                .map_err(|_| {
                    format!("{s} URL: the user name or password cannot be sent in a header")
                })?,
            ),
        };
        let options = target.tls_settings(flags).map_err(|e| e.to_string())?;
        let tls = match &options {
            Some(o) if target.scheme.tls || !o.is_empty() => {
                Some(Tls::new(&TlsOptions::from(o.clone()))?)
            }
            _ => None,
        };
        Ok(Http {
            host: bare_host(&uri).to_string(),
            target,
            uri,
            auth,
            method: Method::GET,
            headers: Vec::new(),
            statuses: Statuses::default(),
            contains: None,
            json_field: None,
            tls_options: options.map(TlsOptions::from).unwrap_or_default(),
            tls,
            unix_socket,
        })
    }
}

impl Probe for Http {
    fn describe(&self) -> String {
        match &self.unix_socket {
            Some(path) if self.target.scheme.kind != Kind::HttpUnix => {
                format!("{} via {path}", self.target)
            }
            _ => self.target.to_string(),
        }
    }

    /// One exchange per hop, redirects followed here rather than by a
    /// library, so that the credential rule is curl's and a 3xx without a
    /// `Location` is a final reply (as curl reports it).
    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let ctx = Ctx {
            attempt,
            tls_options: &self.tls_options,
            tls: self.tls.clone().map(OnceLock::from).unwrap_or_default(),
            host: &self.host,
            unix_socket: self.unix_socket.as_deref(),
        };
        let mut uri = self.uri.clone();
        let mut method = self.method.clone();
        let mut redirects = 0;
        let (mut conn, head) = loop {
            let request = self.request(&method, &uri);
            let mut conn = ctx.connect(&uri)?;
            conn.send(&request)?;
            let head = conn.read_head(method == Method::HEAD)?;
            let Some(location) = head.location.as_deref().filter(|_| head.is_redirect()) else {
                break (conn, head);
            };
            if redirects == MAX_REDIRECTS {
                return Err(format!("too many redirects (more than {MAX_REDIRECTS})"));
            }
            redirects += 1;
            uri = crate::target::resolve_redirect(&uri, location)?;
            method = method_after(method, head.status);
        };
        let status = head.status;
        if !self.statuses.allows(status) {
            return Err(format!("HTTP {status}, expected {}", self.statuses));
        }
        if self.contains.is_none() && self.json_field.is_none() {
            return Ok(format!("HTTP {status}"));
        }
        attempt.phase("while reading the body");
        let body = conn.read_body(head.body)?;
        let mut found = format!("HTTP {status}");
        if let Some(text) = &self.contains {
            if !body.windows(text.len()).any(|w| w == text.as_bytes()) {
                return Err(format!("{found}, body does not contain '{text}'"));
            }
            found = format!("{found}, body contains '{text}'");
        }
        if let Some(field) = &self.json_field {
            match field.check(&body) {
                Ok(what) => found = format!("{found}, {what}"),
                Err(why) => return Err(format!("{found}, {why}")),
            }
        }
        Ok(found)
    }
}

/// Healthy statuses: codes and inclusive ranges, "200,204,300-399".
#[derive(Clone, Debug, PartialEq)]
pub struct Statuses(Vec<(u16, u16)>);

impl Default for Statuses {
    fn default() -> Self {
        Statuses(vec![(200, 399)])
    }
}

impl Statuses {
    pub fn parse(text: &str) -> Result<Statuses, String> {
        let bad = |item: &str| {
            format!(
                "--status '{text}': '{item}' is not a status code (100-999) or range like 200-399"
            )
        };
        let code = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=999).contains(c))
        };
        let mut ranges = Vec::new();
        for item in text.split(',') {
            let range = match item.split_once('-') {
                Some((lo, hi)) => (
                    code(lo).ok_or_else(|| bad(item))?,
                    code(hi).ok_or_else(|| bad(item))?,
                ),
                None => {
                    let c = code(item).ok_or_else(|| bad(item))?;
                    (c, c)
                }
            };
            if range.0 > range.1 {
                return Err(bad(item));
            }
            ranges.push(range);
        }
        Ok(Statuses(ranges))
    }

    pub fn allows(&self, status: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

impl fmt::Display for Statuses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            if lo == hi {
                write!(f, "{sep}{lo}")?;
            } else {
                write!(f, "{sep}{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// `--header 'Name: value'`.
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let bad = || format!("--header '{text}' is not 'Name: value'");
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

/// The `Authorization` value for URL user info `user:password` (both
/// already percent-decoded).
fn basic_auth(user: &str, password: &str) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    use base64::Engine;
    let creds = format!("{user}:{password}");
    let mut value = HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    ))?;
    value.set_sensitive(true);
    Ok(value)
}

impl Http {
    /// The request head for `method` on `uri`. Credentials (the URL's user
    /// info, and `Authorization` or `Cookie` given with `--header`) go only
    /// to the scheme, host and port of the URL given, as curl sends them
    /// (without --location-trusted): a redirect elsewhere, even to another
    /// port of the same host, must not hand them on. The rule compares with
    /// the URL given, not the previous hop, as curl does.
    fn request(&self, method: &Method, uri: &Uri) -> Vec<u8> {
        let trusted = origin(uri) == origin(&self.uri);
        let secret =
            |name: &HeaderName| name == http::header::AUTHORIZATION || name == http::header::COOKIE;
        let given = |name: &HeaderName| self.headers.iter().any(|(n, _)| n == name);
        let mut head = format!(
            "{method} {} HTTP/1.1\r\n",
            uri.path_and_query().map_or("/", |p| p.as_str())
        )
        .into_bytes();
        let mut header = |name: &[u8], value: &[u8]| {
            for part in [name, b": ", value, b"\r\n"] {
                head.extend_from_slice(part);
            }
        };
        // A user's Host goes to the URL's own host only, like curl's.
        if !(trusted && given(&http::header::HOST)) {
            header(b"Host", host_header(uri).as_bytes());
        }
        let defaults = [
            (
                http::header::USER_AGENT,
                concat!("berth/", env!("CARGO_PKG_VERSION")),
            ),
            (http::header::ACCEPT, "*/*"),
            // One request per connection: nothing is pooled.
            (http::header::CONNECTION, "close"),
        ];
        for (name, value) in defaults {
            if !given(&name) {
                header(name.as_str().as_bytes(), value.as_bytes());
            }
        }
        // An Authorization given with --header wins over the URL's.
        if let Some(auth) = self.auth.as_ref().filter(|_| trusted) {
            if !given(&http::header::AUTHORIZATION) {
                header(b"Authorization", auth.as_bytes());
            }
        }
        for (name, value) in &self.headers {
            if trusted || !(secret(name) || name == http::header::HOST) {
                header(name.as_str().as_bytes(), value.as_bytes());
            }
        }
        head.extend_from_slice(b"\r\n");
        head
    }
}

/// Scheme, host and port: what must stay the same for credentials to be
/// sent (curl's `Curl_auth_allowed_to_host`).
fn origin(uri: &Uri) -> (Option<&str>, String, u16) {
    (
        uri.scheme_str(),
        bare_host(uri).to_ascii_lowercase(),
        port(uri),
    )
}

/// The port a URI names, or its scheme's default.
fn port(uri: &Uri) -> u16 {
    uri.port_u16().unwrap_or_else(|| default_port(uri))
}

fn default_port(uri: &Uri) -> u16 {
    if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    }
}

/// `Host`: the host, and the port unless it is the scheme's default.
fn host_header(uri: &Uri) -> String {
    let host = uri.host().unwrap_or("");
    match port(uri) {
        p if p == default_port(uri) => host.to_string(),
        p => format!("{host}:{p}"),
    }
}

/// The method after a redirect with `status`, as curl (and browsers) do:
/// 303 asks for a GET (a HEAD stays HEAD), a POST becomes a GET on 301
/// and 302; otherwise the method stays.
fn method_after(method: Method, status: u16) -> Method {
    match status {
        303 if method != Method::HEAD => Method::GET,
        301 | 302 if method == Method::POST => Method::GET,
        _ => method,
    }
}

/// What one attempt's connections share: the deadline and phase, and the
/// TLS settings.
struct Ctx<'a> {
    attempt: &'a Attempt,
    tls_options: &'a TlsOptions,
    tls: OnceLock<Tls>,
    /// The URL's own host, which `--servername` applies to.
    host: &'a str,
    unix_socket: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    /// Built on the first HTTPS connection of a plain http:// URL only:
    /// reading the system's CA file is wasted on plain HTTP.
    fn tls(&self) -> Result<&Tls, String> {
        if let Some(t) = self.tls.get() {
            return Ok(t);
        }
        let tls = Tls::new(self.tls_options)?;
        Ok(self.tls.get_or_init(|| tls))
    }

    /// A connection for `uri`: to its host and port, or to the Unix socket
    /// whatever the host (as curl's --unix-socket, also after a redirect
    /// to another host); then TLS for https://.
    fn connect(&self, uri: &Uri) -> Result<Conn<'a>, String> {
        let attempt = self.attempt;
        let host = bare_host(uri);
        let sock = match self.unix_socket {
            Some(path) => Bounded::unix(net::connect_unix(path, attempt)?, attempt),
            None => Bounded::new(net::connect_one(host, port(uri), attempt)?, attempt),
        };
        let (io, peer) = if uri.scheme_str() == Some("https") {
            let peer = self.tls()?.peer_named(host, host == self.host)?;
            let tls = peer.handshake(sock, attempt)?;
            (Io::Tls(Box::new(tls)), Some(peer))
        } else {
            (Io::Plain(sock), None)
        };
        attempt.phase("waiting for the reply");
        Ok(Conn {
            io,
            peer,
            attempt,
            buf: Vec::new(),
        })
    }
}

/// The URI's host as a name or address: http::Uri keeps IPv6 brackets.
fn bare_host(uri: &Uri) -> &str {
    uri.host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
}

enum Io {
    Plain(Bounded),
    Tls(Box<StreamOwned<ClientConnection, Bounded>>),
}

/// One connection: one request, one reply. Every read and write ends by
/// the attempt's deadline (`Bounded`).
struct Conn<'a> {
    io: Io,
    /// The TLS connection's words for failures after the handshake (a
    /// TLS 1.3 server refuses a client certificate with the first reply).
    peer: Option<Peer>,
    attempt: &'a Attempt,
    /// Received and not yet used.
    buf: Vec<u8>,
}

/// What berth needs of a reply head.
struct Head {
    status: u16,
    location: Option<Vec<u8>>,
    body: Body,
}

impl Head {
    /// A 3xx is followed when it names a `Location`, whatever the code,
    /// as curl does; one that names none is the final reply.
    fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }
}

/// How the body ends (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Body {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Bytes that start every HTTP/1.x status line.
const HTTP_PREFIX: &[u8] = b"HTTP/";

impl Conn<'_> {
    fn send(&mut self, request: &[u8]) -> Result<(), String> {
        let sent = match &mut self.io {
            Io::Plain(s) => s.write_all(request),
            Io::Tls(s) => s.write_all(request).and_then(|_| s.flush()),
        };
        sent.map_err(|e| self.io_reason(&e))
    }

    /// Reads more into `buf`; 0 at the end of the stream.
    fn fill(&mut self) -> io::Result<usize> {
        let len = self.buf.len();
        self.buf.resize(len + 16 * 1024, 0);
        let read = match &mut self.io {
            Io::Plain(s) => s.read(&mut self.buf[len..]),
            Io::Tls(s) => s.read(&mut self.buf[len..]),
        };
        self.buf.truncate(len + read.as_ref().map_or(0, |n| *n));
        read
    }

    /// As `fill`, with a reason for the report when nothing more came.
    fn more(&mut self) -> Result<(), String> {
        match self.fill() {
            Ok(0) => Err(self.io_reason(&io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => Ok(()),
            Err(e) => Err(self.io_reason(&e)),
        }
    }

    /// Why a read or write failed: TLS's reason if it has one, else what
    /// happened in which phase.
    fn io_reason(&self, e: &io::Error) -> String {
        if let Some(r) = self.peer.as_ref().and_then(|p| p.after_handshake(e)) {
            return r;
        }
        let phase = self.attempt.current_phase();
        use io::ErrorKind::*;
        match e.kind() {
            TimedOut | WouldBlock => format!("timed out {phase}"),
            UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
                net::closed(phase == "waiting for the reply", "")
            }
            _ => format!("{} {phase}", crate::exit::io_reason(e)),
        }
    }

    /// Reads the reply head, past any interim 1xx reply. No limit on the
    /// number of headers, and up to `HEAD_LIMIT` bytes of them, as curl.
    fn read_head(&mut self, head_request: bool) -> Result<Head, String> {
        let mut first = true;
        loop {
            let (used, head) = loop {
                if first {
                    self.check_prefix()?;
                }
                if let Some(parsed) = parse_head(&self.buf, head_request)? {
                    break parsed;
                }
                if self.buf.len() > HEAD_LIMIT {
                    return Err(too_large());
                }
                self.more()?;
            };
            if used > HEAD_LIMIT {
                return Err(too_large());
            }
            self.buf.drain(..used);
            first = false;
            // 100 Continue, 103 Early Hints: the real reply follows.
            if !(100..200).contains(&head.status) || head.status == 101 {
                return Ok(head);
            }
        }
    }

    /// Tells a peer that is not an HTTP server from its first bytes, at
    /// once, rather than wait for headers that never come.
    fn check_prefix(&self) -> Result<(), String> {
        let n = self.buf.len().min(HTTP_PREFIX.len());
        if self.buf[..n] == HTTP_PREFIX[..n] {
            return Ok(());
        }
        Err(match self.buf[..] {
            [21 | 22, 3, ..] => "not an HTTP server: it speaks TLS (use https://)".to_string(),
            _ => format!(
                "not an HTTP server (reply starts with {})",
                super::tls::printable(&self.buf[..n])
            ),
        })
    }

    /// The body, or its first `BODY_LIMIT` bytes.
    fn read_body(&mut self, body: Body) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        match body {
            Body::Empty => {}
            Body::Length(n) => self.take(n.min(BODY_LIMIT) as usize, &mut out)?,
            Body::UntilClose => loop {
                let n = self.buf.len().min(BODY_LIMIT as usize - out.len());
                out.extend(self.buf.drain(..n));
                if out.len() == BODY_LIMIT as usize {
                    break;
                }
                match self.fill() {
                    Ok(0) => break,
                    Ok(_) => {}
                    // A TLS server that closes without close_notify.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(self.io_reason(&e)),
                }
            },
            Body::Chunked => loop {
                let (used, size) = loop {
                    match httparse::parse_chunk_size(&self.buf) {
                        Ok(httparse::Status::Complete(c)) => break c,
                        Ok(httparse::Status::Partial) if self.buf.len() < 1024 => self.more()?,
                        _ => return Err("not an HTTP server (bad chunked body)".into()),
                    }
                };
                self.buf.drain(..used);
                let want = size.min(BODY_LIMIT - out.len() as u64) as usize;
                if want == 0 {
                    break;
                }
                self.take(want, &mut out)?;
                if want as u64 != size {
                    break;
                }
                while self.buf.len() < 2 {
                    self.more()?;
                }
                self.buf.drain(..2);
            },
        }
        Ok(out)
    }

    /// Moves exactly `n` more bytes of the body into `out`.
    fn take(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let end = out.len() + n;
        loop {
            let k = self.buf.len().min(end - out.len());
            out.extend(self.buf.drain(..k));
            if out.len() == end {
                return Ok(());
            }
            self.more()?;
        }
    }
}

fn too_large() -> String {
    format!(
        "reply headers too large (more than {} kB)",
        HEAD_LIMIT / 1024
    )
}

/// The head at the start of `input`, and its length; `None` while
/// incomplete. The header array grows as needed: httparse wants one, and
/// curl sets no limit on the number of headers.
fn parse_head(input: &[u8], head_request: bool) -> Result<Option<(usize, Head)>, String> {
    let bad = |e: httparse::Error| format!("not an HTTP server ({e})");
    let mut size = 64;
    loop {
        let mut slots = vec![httparse::EMPTY_HEADER; size];
        let mut reply = httparse::Response::new(&mut slots);
        let used = match reply.parse(input) {
            Ok(httparse::Status::Complete(used)) => used,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                size *= 2;
                continue;
            }
            Err(e) => return Err(bad(e)),
        };
        let status = reply.code.unwrap_or(0);
        if status < 100 {
            return Err(bad(httparse::Error::Status));
        }
        let header = |name: &'static str| {
            reply
                .headers
                .iter()
                .filter(move |h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        let location = header("location").next().filter(|v| !v.is_empty());
        let chunked = header("transfer-encoding").next_back().map(|v| {
            // Chunked only when it is the last coding applied.
            let codings = String::from_utf8_lossy(v);
            let last = codings.rsplit(',').next().unwrap_or_default();
            last.trim().eq_ignore_ascii_case("chunked")
        });
        let length = header("content-length").next().map(|v| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| "not an HTTP server (bad Content-Length)".to_string())
        });
        let body = if head_request || status < 200 || status == 204 || status == 304 {
            Body::Empty
        } else if let Some(chunked) = chunked {
            if chunked {
                Body::Chunked
            } else {
                Body::UntilClose
            }
        } else if let Some(length) = length {
            Body::Length(length?)
        } else {
            Body::UntilClose
        };
        let head = Head {
            status,
            location: location.map(<[u8]>::to_vec),
            body,
        };
        return Ok(Some((used, head)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_and_ranges() {
        let s = Statuses::parse("200,204,300-399").unwrap();
        assert!(s.allows(204) && s.allows(301) && !s.allows(201) && !s.allows(400));
        assert_eq!(s.to_string(), "200,204,300-399");
        assert_eq!(Statuses::default().to_string(), "200-399");
        for bad in ["", "abc", "99", "1000", "300-200", "200-", "200,,204"] {
            assert!(Statuses::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers() {
        let (n, v) = parse_header("X-Probe:  yes ").unwrap();
        assert_eq!((n.as_str(), v.to_str().unwrap()), ("x-probe", "yes"));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header(": x").is_err());
    }

    #[test]
    fn urls() {
        let from_url = |u: &str| Http::from_target(Target::parse(u).map_err(|e| e.to_string())?);
        let h = from_url("http://u:p%40ss@[::1]:8080/health?x=1#insecure").unwrap();
        assert_eq!(h.uri.to_string(), "http://[::1]:8080/health?x=1");
        // "u:p@ss" in base64
        assert_eq!(h.auth.unwrap().to_str().unwrap(), "Basic dTpwQHNz");
        let err = |url: &str| from_url(url).err().expect("should be refused");
        err("https://h/#frag");
        err("http://");
        let u = from_url("http+unix://%2Frun%2Fapp.sock/health?x=1").unwrap();
        assert_eq!(u.unix_socket.as_deref(), Some("/run/app.sock"));
        assert_eq!(u.uri.to_string(), "http://localhost/health?x=1");
        let u = from_url("http+unix://%2Frun%2Fapp.sock").unwrap();
        assert_eq!(u.uri.to_string(), "http://localhost/");
        assert!(from_url("http+unix://app.sock/").is_err());
        let e = err("http://u:secret@ho st/");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn redirect_targets() {
        let base: Uri = "http://h:8080/a/b/c?q=1".parse().unwrap();
        let target = |loc: &str| {
            crate::target::resolve_redirect(&base, loc.as_bytes()).map(|u| u.to_string())
        };
        for (loc, want) in [
            ("https://o/x", "https://o/x"),
            ("HTTP://o/x#frag", "http://o/x"),
            ("//o:81/x", "http://o:81/x"),
            ("/x?y=2", "http://h:8080/x?y=2"),
            ("?y=2", "http://h:8080/a/b/c?y=2"),
            ("", "http://h:8080/a/b/c?q=1"),
            ("d", "http://h:8080/a/b/d"),
            ("../d/./e", "http://h:8080/a/d/e"),
            ("../../../..", "http://h:8080/"),
            ("/a b/\u{e9}", "http://h:8080/a%20b/%C3%A9"),
            ("http://o/a/../b/.", "http://o/b/"),
        ] {
            assert_eq!(target(loc).as_deref(), Ok(want), "{loc}");
        }
        assert_eq!(
            target("ftp://o/").unwrap_err(),
            "redirected to an unsupported scheme 'ftp://'"
        );
        assert!(
            target("http:///x")
                .unwrap_err()
                .starts_with("redirected to a bad URL")
        );
        let e = target("http://u:secret@o:99999999/").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn credentials_go_to_the_same_origin_only() {
        let mut h = Http::from_target(Target::parse("http://u:p@h/").unwrap()).unwrap();
        h.headers = vec![
            parse_header("Cookie: c=1").unwrap(),
            parse_header("X-A: 1").unwrap(),
        ];
        let sent =
            |url: &str| String::from_utf8(h.request(&Method::GET, &url.parse().unwrap())).unwrap();
        let here = sent("http://H:80/x");
        assert!(here.starts_with("GET /x HTTP/1.1\r\nHost: H\r\n"), "{here}");
        assert!(here.contains("Authorization: Basic dTpw\r\n") && here.contains("cookie: c=1"));
        for elsewhere in ["http://h:81/", "https://h/", "http://h2/"] {
            let there = sent(elsewhere);
            assert!(
                !there.contains("Authorization") && !there.contains("cookie"),
                "{there}"
            );
            assert!(there.contains("x-a: 1\r\n"), "{there}");
        }
        assert!(sent("https://h2:443/").contains("Host: h2\r\n"));
        assert!(sent("http://[::1]:81/").contains("Host: [::1]:81\r\n"));
    }

    #[test]
    fn methods_after_a_redirect() {
        let (get, head, post, put) = (Method::GET, Method::HEAD, Method::POST, Method::PUT);
        assert_eq!(method_after(post.clone(), 303), get);
        assert_eq!(method_after(head.clone(), 303), head);
        assert_eq!(method_after(post.clone(), 302), get);
        assert_eq!(method_after(put.clone(), 302), put);
        assert_eq!(method_after(post.clone(), 307), post);
    }

    /// The head and body `reply` gives, read as a check reads them. The
    /// deadline only bounds a hang: a debug build under qemu-user (the
    /// s390x run of these tests) takes seconds over the 2 MB reply.
    fn read_reply(reply: &[u8], head_request: bool) -> Result<(u16, Vec<u8>), String> {
        let attempt = Attempt::new(std::time::Instant::now() + std::time::Duration::from_secs(60));
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        // A thread: a large reply does not fit in the socket's buffer.
        let reply = reply.to_vec();
        std::thread::spawn(move || theirs.write_all(&reply));
        let mut conn = Conn {
            io: Io::Plain(Bounded::unix(ours, &attempt)),
            peer: None,
            attempt: &attempt,
            buf: Vec::new(),
        };
        attempt.phase("waiting for the reply");
        let head = conn.read_head(head_request)?;
        attempt.phase("while reading the body");
        Ok((head.status, conn.read_body(head.body)?))
    }

    #[test]
    fn replies_read_to_their_end() {
        let ok = |reply: &[u8], want: &[u8]| {
            let (status, body) = read_reply(reply, false).unwrap();
            assert_eq!(
                (status, &body[..]),
                (200, want),
                "{}",
                String::from_utf8_lossy(reply)
            );
        };
        ok(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more",
            b"hello",
        );
        ok(b"HTTP/1.0 200 OK\r\n\r\nuntil close", b"until close");
        ok(b"HTTP/1.1 103 Early\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", b"hi");
        ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\n", b"abc0123456789");
        let big = [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n"[..],
            &vec![b'a'; 2_000_000],
        ]
        .concat();
        assert_eq!(
            read_reply(&big, false).unwrap().1.len(),
            BODY_LIMIT as usize
        );
        assert!(
            read_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true)
                .unwrap()
                .1
                .is_empty()
        );
        let bad = |reply: &[u8], reason: &str| {
            assert_eq!(
                read_reply(reply, false).unwrap_err(),
                reason,
                "{}",
                String::from_utf8_lossy(reply)
            );
        };
        bad(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
            "connection closed by the server in the middle of the reply",
        );
        bad(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "not an HTTP server (bad chunked body)",
        );
        bad(
            b"HTTP/1.1 200 OK\r\nX-A: b",
            "connection closed by the server before the reply",
        );
        bad(b"", "connection closed by the server before the reply");
        bad(
            b"SSH-2.0-x\r\n",
            "not an HTTP server (reply starts with 'SSH-2')",
        );
        bad(
            b"\x16\x03\x01\x00",
            "not an HTTP server: it speaks TLS (use https://)",
        );
        let huge = [&b"HTTP/1.1 200 OK\r\nX-A: "[..], &vec![b'a'; HEAD_LIMIT]].concat();
        bad(&huge, "reply headers too large (more than 300 kB)");
    }

    #[test]
    fn reply_heads() {
        let parse = |r: &str, head| parse_head(r.as_bytes(), head);
        let (used, h) = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false)
            .unwrap()
            .unwrap();
        assert_eq!((used, h.status, h.body), (38, 200, Body::Length(5)));
        assert!(
            parse("HTTP/1.1 200 OK\r\nContent-Le", false)
                .unwrap()
                .is_none()
        );
        let h = parse("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", true)
            .unwrap()
            .unwrap()
            .1;
        assert_eq!(h.body, Body::Empty);
        let te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n";
        assert_eq!(parse(te, false).unwrap().unwrap().1.body, Body::Chunked);
        let h = parse("HTTP/1.1 302 F\r\nLocation: /x\r\n\r\n", false)
            .unwrap()
            .unwrap()
            .1;
        assert_eq!(
            (h.location.as_deref(), h.body),
            (Some(&b"/x"[..]), Body::UntilClose)
        );
        let many: String = (0..1000).map(|i| format!("X-{i}: v\r\n")).collect();
        let h = parse(&format!("HTTP/1.1 204 N\r\n{many}\r\n"), false)
            .unwrap()
            .unwrap()
            .1;
        assert_eq!((h.status, h.body), (204, Body::Empty));
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 099 X\r\n\r\n",
            "HTTP/2 200\r\n\r\n",
        ] {
            let e = parse(bad, false).err().expect(bad);
            assert!(e.starts_with("not an HTTP server ("), "{e}");
        }
    }
}
