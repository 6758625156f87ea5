//! gRPC: the standard health service, `grpc.health.v1.Health/Check`, one
//! unary call over HTTP/2 (h2.rs), in the clear (`grpc://`, or a bare
//! HOST:PORT) or over TLS (`grpcs://`, ALPN "h2").
//!
//! SERVING is healthy; NOT_SERVING, UNKNOWN and SERVICE_UNKNOWN are
//! unhealthy and named, and so is every gRPC error code (a server without
//! the health service answers UNIMPLEMENTED). The messages are small enough
//! to encode and decode by hand: a request is one optional string field,
//! a reply one enum field (grpc/health/v1/health.proto).

use std::io;

use super::h2;
use super::net::{self, Bounded};
use super::tls::{Peer, Tls, TlsOptions};
use super::{Attempt, Probe};
use crate::cli::GrpcArgs;
use crate::target::{Kind, Target, TlsSettings, join_host_port};

const PATH: &[u8] = b"/grpc.health.v1.Health/Check";
/// More metadata than this is not a health check's, and it must fit in one
/// HEADERS frame.
const MAX_METADATA: usize = 8 * 1024;

pub struct Grpc {
    target: Target,
    /// TLS for grpcs://, None in the clear; built up front, so a bad
    /// certificate or key file is reported before any connection.
    tls: Option<Tls>,
    /// A client certificate is configured (for the reason when the server
    /// hangs up after the handshake).
    client_cert: bool,
    service: String,
    metadata: Vec<(String, String)>,
}

impl Grpc {
    /// `berth check grpc ADDR`: `HOST:PORT`, `grpc://HOST:PORT` or
    /// `grpcs://HOST:PORT`.
    pub fn from_args(args: GrpcArgs) -> Result<(Grpc, Option<String>), String> {
        let flags = args.tls();
        let target = Target::parse_for(&args.address, &[Kind::Grpc], Some("grpc"))
            .map_err(|e| e.to_string())?;
        let mut grpc = Grpc::build(target, flags)?;
        if let Some(s) = args.service {
            grpc.service = s;
        }
        grpc.metadata = args
            .header
            .iter()
            .map(|h| parse_metadata(h))
            .collect::<Result<_, _>>()?;
        if grpc
            .metadata
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>()
            > MAX_METADATA
        {
            return Err(format!(
                "--header: more than {MAX_METADATA} bytes of metadata"
            ));
        }
        Ok((grpc, args.timeout))
    }

    /// `grpc://HOST:PORT` or `grpcs://HOST:PORT`, optionally `?service=NAME`
    /// (how `berth wait` names a service), and for grpcs:// TLS settings in
    /// the fragment (`#cacert=FILE&cert=FILE&key=FILE`).
    pub fn from_target(target: Target) -> Result<Grpc, String> {
        Grpc::build(target, TlsSettings::default())
    }

    fn build(target: Target, flags: TlsSettings) -> Result<Grpc, String> {
        target.host().map_err(|e| e.to_string())?;
        if !target.path.trim_matches('/').is_empty()
            || target.user.is_some()
            || target.secret().is_some()
        {
            return Err(
                "gRPC URL: expected grpc[s]://HOST:PORT[?service=NAME] (IPv6 as [::1]:PORT)".into(),
            );
        }
        let mut service = String::new();
        for (key, value) in target.params().map_err(|e| e.to_string())? {
            match key.as_str() {
                "service" => service = value,
                _ => {
                    return Err(target
                        .unknown_param(&key, "gRPC URLs take service=NAME")
                        .to_string());
                }
            }
        }
        let settings = target.tls_settings(flags).map_err(|e| e.to_string())?;
        let client_cert = settings.as_ref().is_some_and(|s| s.cert.is_some());
        let tls = settings.map(|s| tls(TlsOptions::from(s))).transpose()?;
        Ok(Grpc {
            target,
            tls,
            client_cert,
            service,
            metadata: Vec::new(),
        })
    }

    fn address(&self) -> (&str, u16) {
        // Checked when built.
        self.target.host().unwrap_or(("", 0))
    }

    /// The request: preface, SETTINGS, HEADERS and the one DATA frame.
    fn request(&self, attempt: &Attempt) -> Vec<u8> {
        let (host, port) = self.address();
        let authority = join_host_port(host, port);
        // The server may end the call itself when our deadline passes
        // (gRPC's "m" unit is milliseconds; at most 8 digits).
        let timeout = format!("{}m", attempt.remaining().as_millis().clamp(1, 99_999_999));
        let scheme: &[u8] = if self.tls.is_some() {
            b"https"
        } else {
            b"http"
        };
        let mut fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":scheme", scheme),
            (b":path", PATH),
            (b":authority", authority.as_bytes()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            (b"grpc-timeout", timeout.as_bytes()),
            (
                b"user-agent",
                concat!("berth/", env!("CARGO_PKG_VERSION")).as_bytes(),
            ),
        ];
        for (n, v) in &self.metadata {
            fields.push((n.as_bytes(), v.as_bytes()));
        }
        h2::request(&fields, &message(&self.service))
    }
}

impl Probe for Grpc {
    fn describe(&self) -> String {
        match self.service.is_empty() {
            true => self.target.to_string(),
            false => format!("{} service '{}'", self.target, super::clip(&self.service)),
        }
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let (host, port) = self.address();
        let peer = self.tls.as_ref().map(|t| t.peer(host)).transpose()?;
        let stream = net::connect_one(host, port, attempt)?;
        let mut sock = Bounded::new(stream, attempt);
        let request = self.request(attempt);
        let reply = match &peer {
            Some(peer) => {
                let mut tls = peer.handshake(sock, attempt)?;
                attempt.phase("waiting for the reply");
                h2::exchange(&mut tls, &request)
            }
            None => {
                attempt.phase("waiting for the reply");
                h2::exchange(&mut sock, &request)
            }
        };
        let reply = reply.map_err(|e| io_reason(&e, attempt, peer.as_ref(), self.client_cert))?;
        verdict(&reply)
    }
}

/// gRPC's TLS: the settings given, and ALPN "h2", which gRPC servers
/// require.
fn tls(mut options: TlsOptions) -> Result<Tls, String> {
    options.alpn = vec![b"h2".to_vec()];
    Tls::new(&options)
}

fn io_reason(e: &io::Error, attempt: &Attempt, peer: Option<&Peer>, client_cert: bool) -> String {
    use io::ErrorKind::*;
    // TLS 1.3 servers judge the client's certificate after the client has
    // finished its handshake: their refusal comes with the first read.
    if let Some(reason) = peer.and_then(|p| p.after_handshake(e)) {
        return reason;
    }
    let tls = peer.is_some();
    match e.kind() {
        InvalidData => e
            .get_ref()
            .map_or_else(|| e.to_string(), |inner| inner.to_string()),
        TimedOut | WouldBlock => format!("timed out {}", attempt.current_phase()),
        // Some servers (BoringSSL's, in grpcio) hang up without an alert.
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe if tls && client_cert => {
            net::closed_after_handshake("it may have rejected the client certificate")
        }
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe if tls => {
            net::closed_after_handshake(
                "does it require a client certificate? use --cert and --key",
            )
        }
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
            net::closed(true, "if it serves TLS, use grpcs://")
        }
        _ => format!("{} {}", crate::exit::io_reason(e), attempt.current_phase()),
    }
}

/// The HealthCheckRequest as a gRPC message: the 5-byte prefix (not
/// compressed, length), then field 1 (`service`, a string) when not empty.
pub fn message(service: &str) -> Vec<u8> {
    let mut proto = Vec::new();
    if !service.is_empty() {
        proto.push(0x0a); // field 1, length-delimited
        let mut len = service.len();
        while len >= 0x80 {
            proto.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        proto.push(len as u8);
        proto.extend_from_slice(service.as_bytes());
    }
    let mut out = vec![0];
    out.extend_from_slice(&(proto.len() as u32).to_be_bytes());
    out.extend_from_slice(&proto);
    out
}

/// The verdict on a complete reply.
pub fn verdict(reply: &h2::Reply) -> Result<String, String> {
    let header = |fields: &h2::Fields, name: &[u8]| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    match header(&reply.headers, b":status").as_deref() {
        Some("200") => {}
        Some(status) => {
            return Err(format!(
                "HTTP {status} from the server (not a gRPC endpoint?)"
            ));
        }
        None => return Err("not a valid HTTP/2 reply (no :status)".into()),
    }
    if let Some(ct) = header(&reply.headers, b"content-type") {
        if !ct.starts_with("application/grpc") {
            return Err(format!("not a gRPC server (content-type '{ct}')"));
        }
    }
    // Trailers, or the headers themselves in a "trailers-only" reply.
    let status = header(&reply.trailers, b"grpc-status")
        .or_else(|| header(&reply.headers, b"grpc-status"))
        .ok_or("the reply has no grpc-status")?;
    let code: u32 = status
        .trim()
        .parse()
        .map_err(|_| format!("the reply has a bad grpc-status '{status}'"))?;
    if code != 0 {
        let message = header(&reply.trailers, b"grpc-message")
            .or_else(|| header(&reply.headers, b"grpc-message"))
            .map(|m| {
                percent_encoding::percent_decode_str(&m)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .filter(|m| !m.is_empty());
        return Err(code_reason(code, message.as_deref()));
    }
    match serving_status(&reply.body)? {
        1 => Ok("SERVING".into()),
        0 => Err("status UNKNOWN".into()),
        2 => Err("status NOT_SERVING".into()),
        3 => Err("status SERVICE_UNKNOWN".into()),
        n => Err(format!("status {n} (not one grpc.health.v1 defines)")),
    }
}

/// The `status` field (1, an enum) of the one HealthCheckResponse in the
/// body; 0 (UNKNOWN) when absent, as proto3 says.
fn serving_status(body: &[u8]) -> Result<u64, String> {
    let bad = || "the reply is not a valid HealthCheckResponse".to_string();
    let (prefix, rest) = body.split_at_checked(5).ok_or_else(bad)?;
    if prefix[0] != 0 {
        return Err("the reply is compressed, though berth did not offer compression".into());
    }
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    let mut p = rest.get(..len).ok_or_else(bad)?;
    let mut status = 0;
    while !p.is_empty() {
        let key = varint(&mut p).ok_or_else(bad)?;
        match key & 7 {
            0 => {
                let v = varint(&mut p).ok_or_else(bad)?;
                if key >> 3 == 1 {
                    status = v;
                }
            }
            1 => p = p.get(8..).ok_or_else(bad)?,
            2 => {
                let n = varint(&mut p).ok_or_else(bad)? as usize;
                p = p.get(n..).ok_or_else(bad)?;
            }
            5 => p = p.get(4..).ok_or_else(bad)?,
            _ => return Err(bad()),
        }
    }
    Ok(status)
}

fn varint(p: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = p.split_first()?;
        *p = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A gRPC status code in words (grpc/doc/statuscodes.md).
fn code_reason(code: u32, message: Option<&str>) -> String {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    let name = NAMES
        .get(code as usize)
        .map_or_else(|| format!("code {code}"), |n| (*n).to_string());
    let why = match code {
        12 => Some("the server does not implement grpc.health.v1".to_string()),
        5 => Some("the health service does not know this service".to_string()),
        _ => message.map(super::clip),
    };
    match why {
        Some(why) => format!("gRPC {name}: {why}"),
        None => format!("gRPC {name}"),
    }
}

/// `--header 'name: value'` as gRPC metadata: a lowercase name of
/// [0-9a-z-_.], not a reserved one, and a printable ASCII value.
fn parse_metadata(text: &str) -> Result<(String, String), String> {
    let bad = |why: &str| format!("--header '{text}': {why}");
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| bad("expected 'name: value'"))?;
    let name = name.trim().to_ascii_lowercase();
    let value = value.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(bad(
            "the name may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    if name.starts_with("grpc-")
        || ["content-type", "te", "user-agent", "host", "connection"].contains(&name.as_str())
    {
        return Err(bad("that name is reserved by gRPC or HTTP/2"));
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(bad("the value must be printable ASCII"));
    }
    Ok((name, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(headers: &[(&str, &str)], body: &[u8], trailers: &[(&str, &str)]) -> h2::Reply {
        let f = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect()
        };
        h2::Reply {
            headers: f(headers),
            body: body.to_vec(),
            trailers: f(trailers),
        }
    }

    const OK_HEADERS: &[(&str, &str)] = &[(":status", "200"), ("content-type", "application/grpc")];

    #[test]
    fn verdicts() {
        let ok = &[("grpc-status", "0")];
        assert_eq!(
            verdict(&reply(OK_HEADERS, &[0, 0, 0, 0, 2, 8, 1], ok)),
            Ok("SERVING".into())
        );
        assert_eq!(
            verdict(&reply(OK_HEADERS, &[0, 0, 0, 0, 2, 8, 2], ok)),
            Err("status NOT_SERVING".into())
        );
        assert_eq!(
            verdict(&reply(OK_HEADERS, &[0, 0, 0, 0, 0], ok)),
            Err("status UNKNOWN".into())
        );
        let trailers_only = [
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-status", "12"),
        ];
        assert_eq!(
            verdict(&reply(&trailers_only, &[], &[])),
            Err("gRPC UNIMPLEMENTED: the server does not implement grpc.health.v1".into())
        );
        assert_eq!(
            verdict(&reply(
                OK_HEADERS,
                &[],
                &[("grpc-status", "16"), ("grpc-message", "no%20token")]
            )),
            Err("gRPC UNAUTHENTICATED: no token".into())
        );
        assert!(verdict(&reply(&[(":status", "404")], &[], &[])).is_err());
        assert!(verdict(&reply(OK_HEADERS, &[0, 0, 0, 0, 9, 8], ok)).is_err());
    }

    #[test]
    fn messages() {
        assert_eq!(message(""), [0, 0, 0, 0, 0]);
        assert_eq!(message("db"), [0, 0, 0, 0, 4, 0x0a, 2, b'd', b'b']);
        assert_eq!(message(&"x".repeat(200))[5..8], [0x0a, 0xc8, 0x01]);
    }

    #[test]
    fn addresses() {
        let grpc = |url: &str| Grpc::from_target(Target::parse(url).map_err(|e| e.to_string())?);
        let g = grpc("grpcs://api:443?service=a%2Fb#insecure").unwrap();
        assert!(g.tls.is_some());
        assert_eq!((g.address(), g.service.as_str()), (("api", 443), "a/b"));
        let g = grpc("grpc://[::1]:50051").unwrap();
        assert!(g.tls.is_none());
        assert_eq!(g.describe(), "grpc://[::1]:50051");
        assert!(grpc("grpc://api").is_err());
        assert!(grpc("grpc://api:1?x=y").is_err());
        assert!(grpc("grpc://api:1#insecure").is_err());
        assert!(grpc("grpcs://api:1#bogus").is_err());
    }

    #[test]
    fn metadata() {
        assert_eq!(
            parse_metadata("Authorization: Bearer x").unwrap(),
            ("authorization".into(), "Bearer x".into())
        );
        assert!(parse_metadata("no colon").is_err());
        assert!(parse_metadata("grpc-timeout: 1S").is_err());
        assert!(parse_metadata("bad name: x").is_err());
        assert!(parse_metadata("x: caf\u{e9}").is_err());
    }
}
