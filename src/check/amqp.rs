//! AMQP 0-9-1 (RabbitMQ): the connection handshake through
//! `connection.open-ok` on the URL's virtual host, then a clean
//! `connection.close`. Healthy means the broker accepted the login and
//! opened the vhost; a refused login, a vhost that is missing or not
//! allowed, and a broker that says it is blocked (a resource alarm) are
//! each named.
//!
//! URL: `amqp[s]://[user[:password]@]host[:port][/vhost]`, as the AMQP URI
//! spec and RabbitMQ's clients read it: the vhost is the path without its
//! first '/', percent-decoded (`%2F` is '/'), and "/" when the path is
//! empty; no user info means RabbitMQ's default user `guest`/`guest`, as
//! pika and the Java client assume. The login is PLAIN, the one mechanism
//! every RabbitMQ offers.
//!
//! The client properties advertise two capabilities: `connection.blocked`,
//! without which RabbitMQ never tells a client it is blocked, and
//! `authentication_failure_close`, without which it answers a refused login
//! by hanging up without a word.
//! <https://www.rabbitmq.com/amqp-0-9-1-reference.html>,
//! <https://www.rabbitmq.com/docs/connection-blocked>

use super::tls::{Tls, TlsOptions};
use super::wire::Wire;
use super::{Attempt, Probe, clip};
use crate::cli::AmqpArgs;
use crate::target::{Kind, Secret, Target, TlsSettings};

use frame::{Method, Type};

const HINT: &str = "not an AMQP server?";
/// Frames read while waiting for one method at most: heartbeats and
/// frames on other channels are passed over, without end they are not.
const MAX_SKIPPED: usize = 32;

pub struct Amqp {
    target: Target,
    tls: Option<Tls>,
    user: String,
    password: Secret,
    vhost: String,
}

impl Amqp {
    /// `berth check amqp URL`.
    pub fn from_args(args: AmqpArgs) -> Result<(Amqp, Option<String>), String> {
        let flags = args.tls();
        let target =
            Target::parse_for(&args.url, &[Kind::Amqp], None).map_err(|e| e.to_string())?;
        Ok((Amqp::build(target, flags)?, args.timeout))
    }

    /// `amqp://` or `amqps://`, as `berth wait` gets it.
    pub fn from_target(target: Target) -> Result<Amqp, String> {
        Amqp::build(target, TlsSettings::default())
    }

    fn build(target: Target, flags: TlsSettings) -> Result<Amqp, String> {
        let s = target.scheme.name;
        target.host().map_err(|e| e.to_string())?;
        // Client settings (heartbeat=, channel_max=...) change nothing a
        // handshake proves; they are accepted and not used.
        target.params().map_err(|e| e.to_string())?;
        let vhost = match target.path.strip_prefix('/').unwrap_or("") {
            "" => "/".to_string(),
            v => percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map_err(|_| format!("{s} URL: the vhost is not UTF-8 once decoded"))?
                .into_owned(),
        };
        if vhost.len() > 255 {
            return Err(format!("{s} URL: the vhost is longer than 255 bytes"));
        }
        let (user, password) = match (&target.user, target.secret()) {
            (None, None) => ("guest".to_string(), Secret::new("guest".into())),
            (user, password) => (
                user.clone().unwrap_or_default(),
                password
                    .cloned()
                    .unwrap_or_else(|| Secret::new(String::new())),
            ),
        };
        let tls = match target.tls_settings(flags).map_err(|e| e.to_string())? {
            Some(settings) => Some(Tls::new(&TlsOptions::from(settings))?),
            None => None,
        };
        Ok(Amqp {
            target,
            tls,
            user,
            password,
            vhost,
        })
    }
}

impl Probe for Amqp {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let (host, port) = self.target.host().map_err(|e| e.to_string())?;
        let mut wire = Wire::connect(host, port, self.tls.as_ref(), attempt, HINT)?;

        attempt.phase("waiting for connection.start");
        wire.send(frame::PROTOCOL_HEADER)?;
        if wire.peek()? == b'A' {
            // A broker that does not speak 0-9-1 answers with the header
            // of the protocol it does speak, and hangs up.
            let header = wire.exact(8)?;
            return Err(frame::other_protocol(&header));
        }
        let server = match read_method(&mut wire)? {
            Method::Start {
                mechanisms,
                product,
            } => {
                if !mechanisms.split(' ').any(|m| m == "PLAIN") {
                    return Err(format!(
                        "the broker offers no PLAIN login (it offers {})",
                        clip(&mechanisms)
                    ));
                }
                product
            }
            other => return Err(unexpected("connection.start", &other)),
        };

        attempt.phase("waiting for the login's answer (connection.tune)");
        wire.send(&frame::start_ok(&self.user, self.password.expose()))?;
        let (channel_max, frame_max) = match read_method(&mut wire).map_err(after_login)? {
            Method::Tune {
                channel_max,
                frame_max,
                ..
            } => (channel_max, frame_max),
            Method::Close { code, text } => return Err(closed_by_broker(code, &text)),
            Method::Secure => {
                return Err("the broker asked for a SASL challenge after PLAIN".into());
            }
            other => return Err(unexpected("connection.tune", &other)),
        };

        attempt.phase("waiting for connection.open-ok");
        let mut request = frame::tune_ok(channel_max, frame_max);
        request.extend(frame::open(&self.vhost));
        wire.send(&request)?;
        loop_methods(&mut wire, |m| match m {
            Method::OpenOk => Ok(true),
            Method::Close { code: 530, text } => Err(format!(
                "vhost '{}' not opened: 530 {}",
                clip(&self.vhost),
                clip(&text)
            )),
            Method::Close { code, text } => Err(closed_by_broker(code, &text)),
            Method::Blocked { reason } => Err(blocked(&reason)),
            other => Err(unexpected("connection.open-ok", &other)),
        })?;

        // RabbitMQ tells a connection it is blocked (a memory or disk
        // alarm) only when it publishes: an empty message to the default
        // exchange with an empty routing key, which no queue can have, so
        // the broker drops it unrouted without a log line; channel.close
        // after it answers only once the publish went through.
        attempt.phase("waiting for channel.open-ok");
        wire.send(&frame::channel_open())?;
        loop_methods(&mut wire, |m| match m {
            Method::ChannelOpenOk => Ok(true),
            Method::Close { code, text } => Err(closed_by_broker(code, &text)),
            Method::Blocked { reason } => Err(blocked(&reason)),
            other => Err(unexpected("channel.open-ok", &other)),
        })?;
        attempt.phase("waiting for the publish to go through (channel.close-ok)");
        wire.send(&frame::publish_nowhere())?;
        loop_methods(&mut wire, |m| match m {
            // Refused (no write permission) is not blocked either.
            Method::ChannelCloseOk | Method::ChannelClose { .. } => Ok(true),
            Method::Close { code, text } => Err(closed_by_broker(code, &text)),
            Method::Blocked { reason } => Err(blocked(&reason)),
            _ => Ok(false),
        })?;

        // A clean close, so the broker logs no "client unexpectedly
        // closed TCP connection".
        attempt.phase("waiting for connection.close-ok");
        wire.send(&frame::close())?;
        loop_methods(&mut wire, |m| match m {
            Method::CloseOk => Ok(true),
            Method::Blocked { reason } => Err(blocked(&reason)),
            Method::Close { code, text } => Err(closed_by_broker(code, &text)),
            _ => Ok(false),
        })?;
        let product = match server {
            Some(p) => format!(" ({})", clip(&p)),
            None => String::new(),
        };
        Ok(format!(
            "connection opened on vhost '{}'{product}",
            clip(&self.vhost)
        ))
    }
}

/// Reads methods (channels 0 and 1) until `judge` says done (`Ok(true)`) or
/// fails, passing over at most MAX_SKIPPED others.
fn loop_methods(
    wire: &mut Wire,
    mut judge: impl FnMut(Method) -> Result<bool, String>,
) -> Result<(), String> {
    for _ in 0..MAX_SKIPPED {
        if judge(read_method(wire)?)? {
            return Ok(());
        }
    }
    Err(format!("no answer in {MAX_SKIPPED} frames ({HINT})"))
}

/// The next method on channel 0 or 1 (the one berth opens), heartbeats
/// and other frames passed over.
fn read_method(wire: &mut Wire) -> Result<Method, String> {
    for _ in 0..MAX_SKIPPED {
        let header = wire.exact(frame::HEADER)?;
        let (kind, channel, size) = frame::header(&header)?;
        let body = wire.exact(size as usize + 1)?;
        let payload = frame::payload(&body)?;
        if kind == Type::Method && channel <= 1 {
            return frame::method(payload);
        }
    }
    Err(format!("no method frame in {MAX_SKIPPED} frames ({HINT})"))
}

/// A read that failed right after the login: RabbitMQ without
/// `authentication_failure_close` (and other brokers) hang up on a
/// refused login.
fn after_login(reason: String) -> String {
    match reason.starts_with("connection closed") {
        true => format!("{reason}: login refused? (the broker hung up after the login)"),
        false => reason,
    }
}

fn closed_by_broker(code: u16, text: &str) -> String {
    let text = clip(text);
    match code {
        403 => format!("login refused: 403 {text}"),
        320 => format!("broker shutting down: 320 {text}"),
        _ => format!("the broker closed the connection: {code} {text}"),
    }
}

fn blocked(reason: &str) -> String {
    format!("broker blocked: {}", clip(reason))
}

fn unexpected(wanted: &str, got: &Method) -> String {
    format!(
        "unexpected {} where {wanted} belongs ({HINT})",
        clip(&got.name())
    )
}

/// AMQP 0-9-1 frames: what a client sends for the handshake, and a reader
/// for the methods a broker sends during it. Pure functions over bytes, so
/// the fuzz target `brokers` can feed them anything.
pub mod frame {
    pub const PROTOCOL_HEADER: &[u8] = b"AMQP\x00\x00\x09\x01";
    /// Type, channel, size.
    pub const HEADER: usize = 7;
    const FRAME_END: u8 = 0xCE;
    /// What berth offers as its largest frame before tune (the spec's
    /// minimum every peer accepts).
    const MIN_FRAME: u32 = 4096;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Type {
        Method,
        Header,
        Body,
        Heartbeat,
    }

    /// The methods of class `connection` a broker sends.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Method {
        Start {
            mechanisms: String,
            /// "RabbitMQ 3.12.1", from the server properties.
            product: Option<String>,
        },
        Secure,
        Tune {
            channel_max: u16,
            frame_max: u32,
            heartbeat: u16,
        },
        OpenOk,
        Close {
            code: u16,
            text: String,
        },
        CloseOk,
        Blocked {
            reason: String,
        },
        Unblocked,
        ChannelOpenOk,
        ChannelClose {
            code: u16,
            text: String,
        },
        ChannelCloseOk,
        Other(u16, u16),
    }

    impl Method {
        pub fn name(&self) -> String {
            match self {
                Method::Start { .. } => "connection.start".into(),
                Method::Secure => "connection.secure".into(),
                Method::Tune { .. } => "connection.tune".into(),
                Method::OpenOk => "connection.open-ok".into(),
                Method::Close { .. } => "connection.close".into(),
                Method::CloseOk => "connection.close-ok".into(),
                Method::Blocked { .. } => "connection.blocked".into(),
                Method::Unblocked => "connection.unblocked".into(),
                Method::ChannelOpenOk => "channel.open-ok".into(),
                Method::ChannelClose { .. } => "channel.close".into(),
                Method::ChannelCloseOk => "channel.close-ok".into(),
                Method::Other(class, method) => format!("method {class}.{method}"),
            }
        }
    }

    /// The wording for a broker that answered the protocol header with
    /// another protocol's header.
    pub fn other_protocol(header: &[u8]) -> String {
        match header {
            [b'A', b'M', b'Q', b'P', 0, 1, 0, 0] => "the broker speaks AMQP 1.0, not 0-9-1".into(),
            [b'A', b'M', b'Q', b'P', id, major, minor, rev] => format!(
                "the broker speaks another AMQP version ({id}-{major}-{minor}-{rev}), not 0-9-1"
            ),
            _ => format!(
                "not an AMQP server (it sent {})",
                crate::check::tls::printable(header)
            ),
        }
    }

    /// A frame header: its type, channel and payload size.
    pub fn header(bytes: &[u8]) -> Result<(Type, u16, u32), String> {
        let [kind, c0, c1, s0, s1, s2, s3] = bytes else {
            return Err(malformed());
        };
        let kind = match kind {
            1 => Type::Method,
            2 => Type::Header,
            3 => Type::Body,
            8 => Type::Heartbeat,
            // A TLS record (alert or handshake): a TLS listener.
            21 | 22 if *c0 == 3 => {
                return Err("the server speaks TLS on this port: use amqps://".into());
            }
            _ => {
                return Err(format!(
                    "not an AMQP server (it sent {})",
                    crate::check::tls::printable(bytes)
                ));
            }
        };
        let size = u32::from_be_bytes([*s0, *s1, *s2, *s3]);
        if size as usize > super::super::wire::LIMIT {
            return Err(format!("a frame of {size} bytes ({})", super::HINT));
        }
        Ok((kind, u16::from_be_bytes([*c0, *c1]), size))
    }

    /// The payload of a frame's body (payload and frame-end octet).
    pub fn payload(body: &[u8]) -> Result<&[u8], String> {
        match body.split_last() {
            Some((&FRAME_END, payload)) => Ok(payload),
            _ => Err(malformed()),
        }
    }

    fn malformed() -> String {
        format!("malformed frame ({})", super::HINT)
    }

    /// Reads big-endian fields off the front of a payload.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if self.0.len() < n {
                return Err(malformed());
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn u8(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?[0])
        }
        fn u16(&mut self) -> Result<u16, String> {
            let b = self.take(2)?;
            Ok(u16::from_be_bytes([b[0], b[1]]))
        }
        fn u32(&mut self) -> Result<u32, String> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
        fn short(&mut self) -> Result<String, String> {
            let n = self.u8()? as usize;
            Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
        }
        fn long(&mut self) -> Result<&'a [u8], String> {
            let n = self.u32()? as usize;
            self.take(n)
        }
    }

    /// A method of class `connection` (10), or `channel` (20) open-ok
    /// and close; others by their numbers.
    pub fn method(payload: &[u8]) -> Result<Method, String> {
        let mut r = Reader(payload);
        let (class, method) = (r.u16()?, r.u16()?);
        match (class, method) {
            (20, 11) => return Ok(Method::ChannelOpenOk),
            (20, 41) => return Ok(Method::ChannelCloseOk),
            (20, 40) => {
                return Ok(Method::ChannelClose {
                    code: r.u16()?,
                    text: r.short()?,
                });
            }
            (10, _) => {}
            _ => return Ok(Method::Other(class, method)),
        }
        Ok(match method {
            10 => {
                let (_major, _minor) = (r.u8()?, r.u8()?);
                let properties = r.long()?;
                let mechanisms = String::from_utf8_lossy(r.long()?).into_owned();
                Method::Start {
                    mechanisms,
                    product: product(properties),
                }
            }
            20 => Method::Secure,
            30 => Method::Tune {
                channel_max: r.u16()?,
                frame_max: r.u32()?,
                heartbeat: r.u16()?,
            },
            41 => Method::OpenOk,
            50 => Method::Close {
                code: r.u16()?,
                text: r.short()?,
            },
            51 => Method::CloseOk,
            60 => Method::Blocked { reason: r.short()? },
            61 => Method::Unblocked,
            m => Method::Other(class, m),
        })
    }

    /// "product version" from the server properties, if both are there as
    /// strings among the fields read before any of a type not known here.
    fn product(table: &[u8]) -> Option<String> {
        let mut r = Reader(table);
        let (mut product, mut version) = (None, None);
        while !r.0.is_empty() {
            let name = r.short().ok()?;
            let size = match r.u8().ok()? {
                b'S' | b'F' | b'A' | b'x' => {
                    let value = r.long().ok()?;
                    let text = || Some(String::from_utf8_lossy(value).into_owned());
                    match name.as_str() {
                        "product" => product = text(),
                        "version" => version = text(),
                        _ => {}
                    }
                    0
                }
                b't' | b'b' | b'B' => 1,
                b's' | b'u' => 2,
                b'I' | b'i' | b'f' => 4,
                b'l' | b'L' | b'd' | b'T' => 8,
                b'D' => 5,
                b'V' => 0,
                _ => break,
            };
            r.take(size).ok()?;
        }
        match (product, version) {
            (Some(p), Some(v)) => Some(format!("{p} {v}")),
            (p, _) => p,
        }
    }

    fn short(out: &mut Vec<u8>, text: &str) {
        // Callers keep these under 256 bytes (the vhost is checked).
        let text = &text.as_bytes()[..text.len().min(255)];
        out.push(text.len() as u8);
        out.extend_from_slice(text);
    }

    fn long(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend((bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }

    fn string_field(out: &mut Vec<u8>, name: &str, value: &str) {
        short(out, name);
        out.push(b'S');
        long(out, value.as_bytes());
    }

    fn bool_field(out: &mut Vec<u8>, name: &str) {
        short(out, name);
        out.extend([b't', 1]);
    }

    /// A method frame of class `connection`, on channel 0.
    fn method_frame(method: u16, args: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame_on(
            &mut out,
            1,
            0,
            &[&10u16.to_be_bytes(), &method.to_be_bytes(), args],
        );
        out
    }

    /// Appends a frame of `kind` on `channel` whose payload is `parts`.
    fn frame_on(out: &mut Vec<u8>, kind: u8, channel: u16, parts: &[&[u8]]) {
        let size: usize = parts.iter().map(|p| p.len()).sum();
        out.push(kind);
        out.extend(channel.to_be_bytes());
        out.extend((size as u32).to_be_bytes());
        for part in parts {
            out.extend_from_slice(part);
        }
        out.push(FRAME_END);
    }

    /// channel.open on channel 1.
    pub fn channel_open() -> Vec<u8> {
        let mut out = Vec::new();
        frame_on(&mut out, 1, 1, &[&[0, 20, 0, 10], &[0]]);
        out
    }

    /// basic.publish of an empty message on channel 1 to the default
    /// exchange with an empty routing key (a queue cannot be named ""),
    /// then channel.close: the broker drops the message as unroutable.
    pub fn publish_nowhere() -> Vec<u8> {
        let mut out = Vec::new();
        // Reserved, exchange "", routing key "", mandatory and immediate off.
        frame_on(&mut out, 1, 1, &[&[0, 60, 0, 40], &[0, 0, 0, 0, 0]]);
        // Content header: class 60, weight 0, body size 0, no properties;
        // a body of size 0 has no body frame.
        frame_on(
            &mut out,
            2,
            1,
            &[&[0, 60, 0, 0], &0u64.to_be_bytes(), &[0, 0]],
        );
        // channel.close 200, no text, no failing method.
        frame_on(&mut out, 1, 1, &[&[0, 20, 0, 40, 0, 200, 0, 0, 0, 0, 0]]);
        out
    }

    /// connection.start-ok: who berth is, what it can do, the PLAIN login.
    pub fn start_ok(user: &str, password: &str) -> Vec<u8> {
        let mut capabilities = Vec::new();
        bool_field(&mut capabilities, "connection.blocked");
        bool_field(&mut capabilities, "authentication_failure_close");
        let mut properties = Vec::new();
        string_field(&mut properties, "product", "berth");
        string_field(&mut properties, "version", env!("CARGO_PKG_VERSION"));
        short(&mut properties, "capabilities");
        properties.push(b'F');
        long(&mut properties, &capabilities);

        let mut response = vec![0];
        response.extend_from_slice(user.as_bytes());
        response.push(0);
        response.extend_from_slice(password.as_bytes());

        let mut args = Vec::new();
        long(&mut args, &properties);
        short(&mut args, "PLAIN");
        long(&mut args, &response);
        short(&mut args, "en_US");
        method_frame(11, &args)
    }

    /// connection.tune-ok: the broker's limits, no heartbeats (the
    /// connection lasts one round trip).
    pub fn tune_ok(channel_max: u16, frame_max: u32) -> Vec<u8> {
        let mut args = Vec::new();
        args.extend(channel_max.to_be_bytes());
        let frame_max = match frame_max {
            0 => 1 << 17,
            n => n.max(MIN_FRAME),
        };
        args.extend(frame_max.to_be_bytes());
        args.extend(0u16.to_be_bytes());
        method_frame(31, &args)
    }

    /// connection.open on `vhost`.
    pub fn open(vhost: &str) -> Vec<u8> {
        let mut args = Vec::new();
        short(&mut args, vhost);
        short(&mut args, "");
        args.push(0);
        method_frame(40, &args)
    }

    /// connection.close: 200, a normal close.
    pub fn close() -> Vec<u8> {
        let mut args = Vec::new();
        args.extend(200u16.to_be_bytes());
        short(&mut args, "health check done");
        args.extend([0, 0, 0, 0]);
        method_frame(50, &args)
    }
}

#[cfg(test)]
mod tests {
    use super::frame::*;
    use super::*;

    fn amqp(url: &str) -> Result<Amqp, String> {
        Amqp::from_target(Target::parse(url).map_err(|e| e.to_string())?)
    }

    #[test]
    fn urls() {
        let a = amqp("amqp://h").unwrap();
        assert_eq!((a.user.as_str(), a.vhost.as_str()), ("guest", "/"));
        assert_eq!(a.password.expose(), "guest");
        let a = amqp("amqp://app:pw@h:5673/%2Fprod").unwrap();
        assert_eq!((a.user.as_str(), a.vhost.as_str()), ("app", "/prod"));
        assert_eq!(a.describe(), "amqp://app:****@h:5673/%2Fprod");
        assert_eq!(amqp("amqp://h/").unwrap().vhost, "/");
        assert_eq!(amqp("amqp://h/staging").unwrap().vhost, "staging");
        assert!(amqp("amqp://h/%FF").is_err());
        assert!(
            amqp("amqp://h#insecure").is_err(),
            "TLS settings on amqp://"
        );
        assert!(amqp("amqps://h#insecure").is_ok());
    }

    /// The frames berth sends, byte for byte where the spec fixes them.
    #[test]
    fn frames_sent() {
        assert_eq!(
            open("/"),
            [1, 0, 0, 0, 0, 0, 8, 0, 10, 0, 40, 1, b'/', 0, 0, 0xCE]
        );
        let (kind, channel, size) = header(&start_ok("u", "p")[..HEADER]).unwrap();
        assert_eq!((kind, channel), (Type::Method, 0));
        let frame = start_ok("u", "p");
        assert_eq!(frame.len(), HEADER + size as usize + 1);
        assert!(frame.windows(4).any(|w| w == b"\0u\0p"), "PLAIN response");
        assert!(frame.windows(18).any(|w| w == b"connection.blocked"));
    }

    fn start_payload(properties: &[u8], mechanisms: &str) -> Vec<u8> {
        let mut p = vec![0, 10, 0, 10, 0, 9];
        p.extend((properties.len() as u32).to_be_bytes());
        p.extend_from_slice(properties);
        p.extend((mechanisms.len() as u32).to_be_bytes());
        p.extend(mechanisms.as_bytes());
        p.extend([0, 0, 0, 5]);
        p.extend(b"en_US");
        p
    }

    #[test]
    fn methods_read() {
        let mut props = Vec::new();
        props.extend(b"\x0ccapabilities");
        props.extend(b"F\x00\x00\x00\x00");
        props.extend(b"\x07product");
        props.extend(b"S\x00\x00\x00\x08RabbitMQ");
        props.extend(b"\x07version");
        props.extend(b"S\x00\x00\x00\x063.12.1");
        assert_eq!(
            method(&start_payload(&props, "AMQPLAIN PLAIN")).unwrap(),
            Method::Start {
                mechanisms: "AMQPLAIN PLAIN".into(),
                product: Some("RabbitMQ 3.12.1".into())
            }
        );
        let close = b"\x00\x0a\x00\x32\x02\x12\x1bNOT_ALLOWED - vhost x found\x00\x0a\x00\x28";
        assert_eq!(
            method(close).unwrap(),
            Method::Close {
                code: 530,
                text: "NOT_ALLOWED - vhost x found".into()
            }
        );
        assert_eq!(
            method(b"\x00\x0a\x00\x3c\x05alarm").unwrap(),
            Method::Blocked {
                reason: "alarm".into()
            }
        );
        assert!(method(b"\x00\x0a\x00\x32\x02").is_err(), "truncated");
        assert!(
            header(b"HTTP/1.")
                .unwrap_err()
                .contains("not an AMQP server")
        );
        assert!(other_protocol(b"AMQP\x00\x01\x00\x00").contains("1.0"));
        assert!(payload(b"\x00\x01").is_err(), "no frame end");
    }
}
