//! HTTP(S): one request, redirects followed, status (and optionally body)
//! checked, within the attempt's deadline.
//!
//! ureq speaks HTTP/1.1; the name lookup, the connection and the TLS
//! handshake are berth's own (ureq's resolver and connector hooks), so each
//! phase is named when it times out, every socket operation is bounded by
//! the deadline, and failures get the same reasons as the other checks.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::{ClientConnection, StreamOwned};
use ureq::config::RedirectAuthHeaders;
use ureq::http::{self, HeaderName, HeaderValue, Method, Uri};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};
use ureq::{Agent, Timeout};

use super::net::{self, Bounded};
use super::tls::{Peer, Tls, TlsOptions};
use super::{Attempt, Probe};
use crate::cli::HttpArgs;
use crate::target::{Kind, Target, TlsSettings};

/// More than any sane chain of redirects, few enough to stop a loop early.
const MAX_REDIRECTS: u32 = 5;
/// How much of the body `--contains` looks at.
const BODY_LIMIT: u64 = 1 << 20;

pub struct Http {
    /// What the report names (printed without secrets).
    target: Target,
    /// The URL without user info: what ureq sees, so no message of its own
    /// can carry the password.
    uri: Uri,
    /// `Basic ...` from the URL's user info.
    auth: Option<HeaderValue>,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    statuses: Statuses,
    contains: Option<String>,
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
        if args.contains.is_some() && http.method == Method::HEAD {
            return Err("--contains cannot work with --method HEAD: the reply has no body".into());
        }
        http.contains = args.contains;
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

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let ctx = Arc::new(Ctx {
            attempt: attempt.clone(),
            tls_options: self.tls_options.clone(),
            tls: self.tls.clone().map(OnceLock::from).unwrap_or_default(),
            host: self.host.clone(),
            unix_socket: self.unix_socket.clone(),
            failure: Mutex::new(None),
        });
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(attempt.remaining()))
            .max_redirects(MAX_REDIRECTS)
            .redirect_auth_headers(RedirectAuthHeaders::SameHost)
            // A health check talks to its service directly, not through the
            // HTTP_PROXY a build environment may have left in the image.
            .proxy(None)
            // One attempt: no connection is worth keeping.
            .max_idle_connections(0)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = Agent::with_parts(config, Dialer(ctx.clone()), Names(ctx.clone()));

        let mut request = http::Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone());
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let own_auth = self
            .headers
            .iter()
            .any(|(n, _)| n == http::header::AUTHORIZATION);
        if let (Some(auth), false) = (&self.auth, own_auth) {
            request = request.header(http::header::AUTHORIZATION, auth);
        }
        let request = request
            .body(())
            .map_err(|e| format!("cannot build the request: {e}"))?;

        let mut response = agent.run(request).map_err(|e| ctx.reason(e))?;
        let status = response.status().as_u16();
        if !self.statuses.allows(status) {
            return Err(format!("HTTP {status}, expected {}", self.statuses));
        }
        let Some(text) = &self.contains else {
            return Ok(format!("HTTP {status}"));
        };
        attempt.phase("while reading the body");
        let mut body = Vec::new();
        response
            .body_mut()
            .with_config()
            .reader()
            .take(BODY_LIMIT)
            .read_to_end(&mut body)
            .map_err(|e| ctx.reason(ureq::Error::from(e)))?;
        if body.windows(text.len()).any(|w| w == text.as_bytes()) {
            Ok(format!("HTTP {status}, body contains '{text}'"))
        } else {
            Err(format!("HTTP {status}, body does not contain '{text}'"))
        }
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

/// What one attempt's resolver, connector and connections share: the
/// deadline and phase, the TLS settings, and the first specific failure
/// reason, which ureq's own error would only blur.
struct Ctx {
    attempt: Attempt,
    tls_options: TlsOptions,
    tls: OnceLock<Tls>,
    host: String,
    unix_socket: Option<String>,
    failure: Mutex<Option<String>>,
}

impl Ctx {
    /// Records `reason` (the first one wins) and gives ureq an error to
    /// unwind with.
    fn fail(&self, reason: String) -> ureq::Error {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(reason);
        }
        ureq::Error::ConnectionFailed
    }

    /// Built on the first HTTPS connection of a plain http:// URL only:
    /// reading the system's CA file is wasted on plain HTTP.
    fn tls(&self) -> Result<&Tls, ureq::Error> {
        if let Some(t) = self.tls.get() {
            return Ok(t);
        }
        let tls = Tls::new(&self.tls_options).map_err(|r| self.fail(r))?;
        Ok(self.tls.get_or_init(|| tls))
    }

    /// The reason for a failed request: the one recorded on the way, or
    /// ureq's error in words.
    fn reason(&self, e: ureq::Error) -> String {
        if let Some(r) = self.failure.lock().ok().and_then(|mut f| f.take()) {
            return r;
        }
        let timed_out = || format!("timed out {}", self.attempt.current_phase());
        use ureq::Error as E;
        match e {
            E::Timeout(_) => timed_out(),
            E::Io(e) => match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => timed_out(),
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted => {
                    format!(
                        "connection closed {}",
                        self.attempt
                            .current_phase()
                            .replace("waiting for", "before")
                    )
                }
                _ => format!(
                    "{} {}",
                    crate::exit::io_reason(&e),
                    self.attempt.current_phase()
                ),
            },
            E::Protocol(e) => format!("not an HTTP server ({e})"),
            E::LargeResponseHeader(..) => "not an HTTP server (reply headers too large)".into(),
            E::TooManyRedirects => format!("too many redirects (more than {MAX_REDIRECTS})"),
            E::RedirectFailed => "redirect without a usable Location".into(),
            E::BadUri(u) => format!("bad redirect URL: {u}"),
            other => other.to_string(),
        }
    }
}

/// Name lookup for ureq: the same as every check's (`tcp::resolve`).
struct Names(Arc<Ctx>);

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Names")
    }
}

impl Resolver for Names {
    fn resolve(
        &self,
        uri: &Uri,
        _: &ureq::config::Config,
        _: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let ctx = &self.0;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            // Only a redirect can bring another scheme here.
            other => {
                return Err(ctx.fail(format!(
                    "redirected to an unsupported scheme '{}'",
                    other.unwrap_or("")
                )));
            }
        };
        let host = bare_host(uri);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let mut addrs = self.empty();
        if ctx.unix_socket.is_some() {
            // Never dialled: the connector opens the socket instead. ureq
            // wants an address all the same.
            addrs.push(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
            return Ok(addrs);
        }
        let found = net::resolve(host, port, &ctx.attempt).map_err(|r| ctx.fail(r))?;
        for a in found.into_iter().take(16) {
            addrs.push(a);
        }
        Ok(addrs)
    }
}

/// The URI's host as a name or address: http::Uri keeps IPv6 brackets.
fn bare_host(uri: &Uri) -> &str {
    uri.host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// Opens connections for ureq: connect, then TLS for https://.
struct Dialer(Arc<Ctx>);

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dialer")
    }
}

impl Connector for Dialer {
    type Out = Conn;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _: Option<()>,
    ) -> Result<Option<Conn>, ureq::Error> {
        let ctx = &self.0;
        let attempt = &ctx.attempt;
        let sock = match &ctx.unix_socket {
            Some(path) => Bounded::unix(
                net::connect_unix(path, attempt).map_err(|r| ctx.fail(r))?,
                attempt,
            ),
            None => Bounded::new(
                net::connect_addrs(&details.addrs, attempt)
                    .map_err(|r| ctx.fail(r))?
                    .0,
                attempt,
            ),
        };
        let mut peer = None;
        let io = if details.needs_tls() {
            let host = bare_host(details.uri);
            let p = ctx
                .tls()?
                .peer_named(host, host == ctx.host)
                .map_err(|r| ctx.fail(r))?;
            let tls = p.handshake(sock, attempt).map_err(|r| ctx.fail(r))?;
            peer = Some(p);
            Io::Tls(Box::new(tls))
        } else {
            Io::Plain(sock)
        };
        attempt.phase("waiting for the reply");
        let config = details.config;
        Ok(Some(Conn {
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            io,
            peer,
            head: Vec::new(),
            ctx: ctx.clone(),
        }))
    }
}

enum Io {
    Plain(Bounded),
    Tls(Box<StreamOwned<ClientConnection, Bounded>>),
}

/// One connection as ureq's transport.
struct Conn {
    buffers: LazyBuffers,
    io: Io,
    /// The TLS connection's words for failures after the handshake (a
    /// TLS 1.3 server refuses a client certificate with the first reply).
    peer: Option<Peer>,
    /// The first bytes of the reply, to tell a non-HTTP peer at once rather
    /// than wait for headers that never come.
    head: Vec<u8>,
    ctx: Arc<Ctx>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Conn")
    }
}

/// Bytes that start every HTTP/1.x status line.
const HTTP_PREFIX: &[u8] = b"HTTP/";

impl Conn {
    /// A TLS reason for a failed read or write, if TLS explains it.
    fn tls_reason(&self, e: &io::Error) -> Option<String> {
        self.peer.as_ref()?.after_handshake(e)
    }

    /// Checks the reply's first bytes once enough of them are in.
    fn check_head(&mut self, new: &[u8]) -> Result<(), ureq::Error> {
        if self.head.len() >= HTTP_PREFIX.len() {
            return Ok(());
        }
        let take = new.len().min(HTTP_PREFIX.len() - self.head.len());
        self.head.extend_from_slice(&new[..take]);
        let n = self.head.len();
        if self.head[..] == HTTP_PREFIX[..n] {
            return Ok(());
        }
        let reason = match self.head[..] {
            [21 | 22, 3, ..] => "not an HTTP server: it speaks TLS (use https://)".to_string(),
            _ => format!(
                "not an HTTP server (reply starts with {})",
                super::tls::printable(&self.head)
            ),
        };
        Err(self.ctx.fail(reason))
    }
}

fn io_error(e: io::Error) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            ureq::Error::Timeout(Timeout::Global)
        }
        _ => ureq::Error::Io(e),
    }
}

impl Transport for Conn {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, _: NextTimeout) -> Result<(), ureq::Error> {
        let out = &self.buffers.output()[..amount];
        let sent = match &mut self.io {
            Io::Plain(s) => s.write_all(out),
            Io::Tls(s) => s.write_all(out).and_then(|_| s.flush()),
        };
        if let Some(reason) = sent.as_ref().err().and_then(|e| self.tls_reason(e)) {
            return Err(self.ctx.fail(reason));
        }
        match sent {
            Err(e) if self.head.is_empty() && is_closed(&e) => {
                Err(self.ctx.fail("connection closed before the reply".into()))
            }
            other => other.map_err(io_error),
        }
    }

    /// Bounded by the attempt's deadline (in `Bounded`), not `timeout`: ureq
    /// got the same deadline, and one clock is simpler to reason about.
    fn await_input(&mut self, _: NextTimeout) -> Result<bool, ureq::Error> {
        let buf = self.buffers.input_append_buf();
        let read = match &mut self.io {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        };
        if let Some(reason) = read.as_ref().err().and_then(|e| self.tls_reason(e)) {
            return Err(self.ctx.fail(reason));
        }
        let n = match read {
            Ok(n) => n,
            Err(e) if self.head.is_empty() && is_closed(&e) => {
                return Err(self.ctx.fail("connection closed before the reply".into()));
            }
            Err(e) => return Err(io_error(e)),
        };
        if n == 0 && self.head.is_empty() {
            return Err(self.ctx.fail("connection closed before the reply".into()));
        }
        if self.head.len() < HTTP_PREFIX.len() {
            let new = self.buffers.input_append_buf()[..n].to_vec();
            self.check_head(&new)?;
        }
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        // Never pooled (max_idle_connections is 0), so never asked to reuse.
        false
    }

    fn is_tls(&self) -> bool {
        matches!(self.io, Io::Tls(_))
    }
}

fn is_closed(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
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
}
