//! Redis: `PING` must answer `PONG`, after `AUTH` and `SELECT` when the URL
//! asks for them, and optionally the server must have a given role.
//!
//! Everything here is berth's own: the URL parsing, the three commands, and
//! a small RESP reply reader (the redis crate would cost about 140 kB of
//! the binary for them; it stays the reference the reader is fuzzed
//! against). The socket and TLS are ours too, so that every phase is bounded
//! by the attempt and named in a timeout, and `rediss://` shares the TLS
//! module (trust, client certificates, reasons) with the other checks. TLS
//! settings come from the flags or, for wait targets, from the URL fragment
//! (`#cacert=...&cert=...&key=...`).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use resp::Reply;

use super::net::{self, Bounded};
use super::tls::{Peer, Tls, TlsOptions};
use super::{Attempt, Probe};
use crate::cli::RedisArgs;
use crate::target::{Kind, Secret, Target, TlsSettings};

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Master,
    Replica,
}

pub struct Redis {
    target: Target,
    /// `rediss://`: the TLS settings, read up front so a bad `--cacert`,
    /// `--cert` or `--key` is reported before any connection.
    tls: Option<Tls>,
    password: Option<Secret>,
    db: i64,
    role: Option<Role>,
}

impl Redis {
    pub fn from_args(args: RedisArgs) -> Result<(Redis, Option<String>), String> {
        let role = match args.role.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("master" | "primary") => Some(Role::Master),
            Some("replica" | "slave") => Some(Role::Replica),
            Some(other) => return Err(format!("--role '{other}': expected master or replica")),
        };
        let flags = args.tls();
        let url = args.url.unwrap_or_else(|| DEFAULT_URL.to_string());
        let target = Target::parse_for(&url, &[Kind::Redis], None).map_err(|e| e.to_string())?;
        let mut redis = Redis::build(target, flags)?;
        redis.role = role;
        Ok((redis, args.timeout))
    }

    /// `redis[s]://` or `valkey[s]://`, as `berth wait` gets it.
    pub fn from_target(target: Target) -> Result<Redis, String> {
        Redis::build(target, TlsSettings::default())
    }

    /// `redis[s]://[[user]:password@]host[:port][/db]`, as redis-cli reads
    /// it (a user info without ':' is the password); query parameters
    /// (`protocol=resp3`) do not change what PING proves.
    fn build(target: Target, flags: TlsSettings) -> Result<Redis, String> {
        let s = target.scheme.name;
        if target.hosts.len() > 1 {
            return Err(format!("{s} URL: one host only"));
        }
        let db = match target.path.trim_matches('/') {
            "" => 0,
            n => n
                .parse()
                .map_err(|_| format!("{s} URL: the database after '/' is not a number"))?,
        };
        let password = match target.secret() {
            Some(p) => Some(p.clone()),
            None => crate::env::var("REDISCLI_AUTH")
                .map_err(|e| e.to_string())?
                .map(Secret::new),
        };
        let tls = match target.tls_settings(flags).map_err(|e| e.to_string())? {
            Some(settings) => Some(Tls::new(&TlsOptions::from(settings))?),
            None => None,
        };
        Ok(Redis {
            target,
            tls,
            password,
            db,
            role: None,
        })
    }

    fn address(&self) -> (&str, u16) {
        match self.target.hosts.first() {
            Some(h) => (&h.name, h.port.unwrap_or(6379)),
            None => ("127.0.0.1", 6379),
        }
    }
}

/// What the replies are read from: the socket, or TLS over it.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

impl Probe for Redis {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    /// Connect, send every command in one write, read the replies, judge.
    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let (stream, tls_failure) = self.connect(attempt)?;
        // Why TLS failed a read or write, once connected: a TLS 1.3 server
        // refuses a client certificate with its first reply.
        let why = |reason: String| {
            tls_failure
                .lock()
                .ok()
                .and_then(|mut f| f.take())
                .unwrap_or(reason)
        };
        let (request, expect) = self.request();
        attempt.phase("while sending the request");
        let mut stream = std::io::BufReader::new(stream);
        send(stream.get_mut(), &request).map_err(why)?;

        attempt.phase("waiting for the reply");
        let mut role = None;
        for command in expect {
            let reply = resp::read(&mut stream).map_err(why)?;
            if let Some(found) = reply_verdict(command, reply, &mut stream)? {
                role = Some(found);
            }
        }
        match self.role {
            None => Ok("PONG".into()),
            Some(wanted) => role_verdict(wanted, &role.unwrap_or_default()),
        }
    }
}

impl Redis {
    /// The socket, or TLS over it, bounded by the attempt's deadline; and
    /// where a TLS failure's reason is kept.
    fn connect(&self, attempt: &Attempt) -> Result<(Box<dyn Stream>, TlsFailure), String> {
        let (host, port) = self.address();
        let sock = Bounded::new(net::connect_one(host, port, attempt)?, attempt);
        let failure = TlsFailure::default();
        let stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(sock),
            Some(tls) => {
                let peer = tls.peer(host)?;
                let stream = peer.handshake(sock, attempt)?;
                Box::new(Watched {
                    stream,
                    peer,
                    failure: failure.clone(),
                })
            }
        };
        Ok((stream, failure))
    }

    /// Every command in one buffer (one round trip, whatever was asked
    /// for), and the replies expected, in order.
    fn request(&self) -> (Vec<u8>, Vec<&'static str>) {
        let mut request = Vec::new();
        let mut expect = Vec::new();
        if let Some(password) = &self.password {
            match &self.target.user {
                Some(user) => resp::command(&mut request, &["AUTH", user, password.expose()]),
                None => resp::command(&mut request, &["AUTH", password.expose()]),
            }
            expect.push("AUTH");
        }
        if self.db != 0 {
            resp::command(&mut request, &["SELECT", &self.db.to_string()]);
            expect.push("SELECT");
        }
        resp::command(&mut request, &["PING"]);
        expect.push("PING");
        if self.role.is_some() {
            resp::command(&mut request, &["ROLE"]);
            expect.push("ROLE");
        }
        (request, expect)
    }
}

type TlsFailure = Arc<Mutex<Option<String>>>;

/// The verdict on one reply to `command`; the server's role when the reply
/// says it. An ACL user may lack ROLE: then INFO replication says it.
fn reply_verdict(
    command: &str,
    reply: Reply,
    stream: &mut std::io::BufReader<Box<dyn Stream>>,
) -> Result<Option<String>, String> {
    match (command, reply) {
        ("ROLE", Reply::Error(e)) if e.starts_with("NOPERM") => {
            let mut request = Vec::new();
            resp::command(&mut request, &["INFO", "replication"]);
            send(stream.get_mut(), &request)?;
            match resp::read(stream)? {
                Reply::Bulk(info) => Ok(String::from_utf8_lossy(&info)
                    .lines()
                    .find_map(|l| l.strip_prefix("role:").map(str::to_string))),
                Reply::Error(e) => Err(server_error("INFO", &e)),
                other => Err(format!(
                    "unexpected reply to INFO: {}",
                    super::clip(&format!("{other:?}"))
                )),
            }
        }
        (_, Reply::Error(e)) => Err(server_error(command, &e)),
        ("PING", Reply::Simple(s)) if s == "PONG" => Ok(None),
        ("PING", other) => Err(format!(
            "not a Redis server (PING answered {})",
            super::clip(&format!("{other:?}"))
        )),
        ("ROLE", Reply::Array(items)) => Ok(match items.first() {
            Some(Reply::Bulk(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }),
        (_, _) => Ok(None),
    }
}

/// `--role`: the role the server reported against the one wanted.
fn role_verdict(wanted: Role, role: &str) -> Result<String, String> {
    let actual = match role {
        "master" => Some(Role::Master),
        "slave" | "replica" => Some(Role::Replica),
        _ => None,
    };
    let name = |r: Role| match r {
        Role::Master => "master",
        Role::Replica => "replica",
    };
    match actual {
        Some(r) if r == wanted => Ok(format!("PONG, role {}", name(r))),
        Some(r) => Err(format!("role is {}, expected {}", name(r), name(wanted))),
        None => Err(format!(
            "role is '{}', expected {}",
            super::clip(role),
            name(wanted)
        )),
    }
}

/// A TLS stream that keeps the reason TLS gives for a failed read or write.
struct Watched<S> {
    stream: S,
    peer: Peer,
    failure: Arc<Mutex<Option<String>>>,
}

impl<S> Watched<S> {
    fn note<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            if let (Some(reason), Ok(mut f)) = (self.peer.after_handshake(e), self.failure.lock()) {
                f.get_or_insert(reason);
            }
        }
        result
    }
}

impl<S: Read> Read for Watched<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.stream.read(buf);
        self.note(r)
    }
}

impl<S: Write> Write for Watched<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.stream.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.stream.flush();
        self.note(r)
    }
}

fn send(stream: &mut dyn Stream, request: &[u8]) -> Result<(), String> {
    stream
        .write_all(request)
        .and_then(|()| stream.flush())
        .map_err(|e| format!("cannot send the request: {}", crate::exit::io_reason(&e)))
}

/// The specific reason for an error reply; redis-cli would print these and
/// exit 0.
fn server_error(command: &str, e: &str) -> String {
    let (code, detail) = e.split_once(' ').unwrap_or((e, ""));
    match code {
        "NOAUTH" => {
            "authentication required (NOAUTH): give the password in the URL or REDISCLI_AUTH".into()
        }
        "WRONGPASS" => "authentication failed (WRONGPASS)".into(),
        "LOADING" => "LOADING: dataset not loaded yet".into(),
        "MASTERDOWN" => "MASTERDOWN: the replica's link with its master is down".into(),
        // Before ACLs (Redis < 6) a bad password was a plain error.
        "ERR" if command == "AUTH" && detail.contains("invalid password") => {
            "authentication failed (invalid password)".into()
        }
        code => format!("{command} failed: {code} {}", super::clip(detail)),
    }
}

/// The little of RESP2 a health check needs: encode a command, read one
/// reply. (The redis crate's codec is built on a parser-combinator library
/// and costs about 100 kB in the static binary; PING, AUTH, SELECT and ROLE
/// need a few dozen lines.) <https://redis.io/docs/latest/develop/reference/protocol-spec/>
pub mod resp {
    use std::io::{BufRead, Read};

    /// Longest line or bulk string accepted: replies here are short, and a
    /// peer that is not Redis must not make us buffer without end.
    const LIMIT: u64 = 1 << 20;

    #[derive(Debug)]
    pub enum Reply {
        Simple(String),
        Error(String),
        Int(#[allow(dead_code)] i64),
        Bulk(Vec<u8>),
        Nil,
        Array(Vec<Reply>),
    }

    pub fn command(out: &mut Vec<u8>, args: &[&str]) {
        out.extend(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            out.extend(format!("${}\r\n", arg.len()).as_bytes());
            out.extend(arg.as_bytes());
            out.extend(b"\r\n");
        }
    }

    pub fn read(r: &mut impl BufRead) -> Result<Reply, String> {
        read_nested(r, 0)
    }

    fn read_nested(r: &mut impl BufRead, depth: u32) -> Result<Reply, String> {
        let line = read_line(r)?;
        let (kind, rest) = line.split_at_checked(1).ok_or_else(malformed)?;
        let number = || rest.parse::<i64>().map_err(|_| malformed());
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(number()?),
            "$" => match number()? {
                -1 => Reply::Nil,
                n if n < 0 || n as u64 > LIMIT => return Err(malformed()),
                n => {
                    let mut data = vec![0; n as usize + 2];
                    r.read_exact(&mut data).map_err(|e| io_reason(&e))?;
                    if !data.ends_with(b"\r\n") {
                        return Err(malformed());
                    }
                    data.truncate(n as usize);
                    Reply::Bulk(data)
                }
            },
            "*" if depth < 4 => match number()? {
                -1 => Reply::Nil,
                n if !(0..=1024).contains(&n) => return Err(malformed()),
                n => Reply::Array(
                    (0..n)
                        .map(|_| read_nested(r, depth + 1))
                        .collect::<Result<_, _>>()?,
                ),
            },
            _ => return Err(malformed()),
        })
    }

    fn read_line(r: &mut impl BufRead) -> Result<String, String> {
        let mut line = Vec::new();
        r.take(LIMIT)
            .read_until(b'\n', &mut line)
            .map_err(|e| io_reason(&e))?;
        if line.is_empty() {
            return Err(crate::check::net::closed(true, "not a Redis server?"));
        }
        let line = line.strip_suffix(b"\r\n").ok_or_else(malformed)?;
        String::from_utf8(line.to_vec()).map_err(|_| malformed())
    }

    fn malformed() -> String {
        "not a Redis server (malformed reply)".into()
    }

    fn io_reason(e: &std::io::Error) -> String {
        use std::io::ErrorKind::*;
        match e.kind() {
            WouldBlock | TimedOut => "timed out waiting for the reply".into(),
            UnexpectedEof | ConnectionReset | BrokenPipe => {
                crate::check::net::closed(true, "not a Redis server?")
            }
            _ => format!("cannot read the reply: {}", crate::exit::io_reason(e)),
        }
    }
}
