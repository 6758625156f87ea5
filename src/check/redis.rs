//! Redis: `PING` must answer `PONG`, after `AUTH` and `SELECT` when the URL
//! asks for them, and optionally the server must have a given role.
//!
//! The redis crate parses the URL, encodes the commands and decodes the
//! replies; the socket and TLS are ours, so that every phase is bounded by
//! the attempt and named in a timeout, and so `rediss://` shares the rustls
//! setup (ring, `--cacert`, `--insecure`) with the other checks instead of
//! the crate's TLS, which would bring its own root loading.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use redis::{ConnectionAddr, IntoConnectionInfo, ServerError, Value};

use super::db_tls::{self, Verify};
use super::tcp::{self, join_host_port};
use super::{Attempt, Probe};
use crate::cli::RedisArgs;
use crate::target::redact;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Master,
    Replica,
}

pub struct Redis {
    /// As given, for the report (printed redacted).
    url: String,
    host: String,
    port: u16,
    /// `rediss://`: the client configuration, built up front so a bad
    /// `--cacert` is reported before any connection.
    tls: Option<Arc<rustls::ClientConfig>>,
    username: Option<String>,
    password: Option<String>,
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
        let url = args.url.unwrap_or_else(|| DEFAULT_URL.to_string());
        let redis = Redis::parse(&url, role, args.insecure, args.cacert.as_deref())?;
        Ok((redis, args.timeout))
    }

    /// `redis://` or `rediss://`, as `berth wait` gets it.
    pub fn from_url(url: &str) -> Result<Redis, String> {
        Redis::parse(url, None, false, None)
    }

    fn parse(
        url: &str,
        role: Option<Role>,
        insecure: bool,
        cacert: Option<&str>,
    ) -> Result<Redis, String> {
        let shown = redact(url);
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("'{shown}' is not a URL: expected e.g. redis://cache:6379/0"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "redis" => false,
            "rediss" => true,
            other => {
                return Err(format!(
                    "'{other}://' is not a Redis URL scheme: use redis:// or rediss://"
                ));
            }
        };
        // The crate accepts rediss:// only with its own TLS feature, which
        // we do not use; hand it the plain form and remember the TLS.
        let info = format!("redis://{rest}")
            .as_str()
            .into_connection_info()
            .map_err(|e| {
                format!(
                    "'{shown}' is not a valid Redis URL: {}",
                    e.detail().unwrap_or("parse error")
                )
            })?;
        let (host, port) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            _ => return Err(format!("'{shown}': only TCP addresses are supported")),
        };
        let settings = info.redis_settings();
        let password = match settings.password() {
            Some(p) => Some(p.to_string()),
            None => crate::env::var("REDISCLI_AUTH").map_err(|e| e.to_string())?,
        };
        let tls = if tls {
            let verify = if insecure {
                Verify::Nothing
            } else {
                Verify::Full
            };
            Some(db_tls::client_config(verify, cacert)?)
        } else {
            None
        };
        Ok(Redis {
            url: url.to_string(),
            host,
            port,
            tls,
            username: settings.username().map(String::from),
            password,
            db: settings.db(),
            role,
        })
    }
}

/// What the replies are read from: the socket, or TLS over it.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

impl Probe for Redis {
    fn describe(&self) -> String {
        redact(&self.url)
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let tcp = tcp::connect(&self.host, self.port, attempt)?;
        // A second handle on the same socket, to renew its timeouts per phase.
        let control = tcp
            .try_clone()
            .map_err(|e| format!("socket: {}", crate::exit::io_reason(&e)))?;
        let mut stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some(config) => Box::new(self.handshake(config.clone(), tcp, &control, attempt)?),
        };

        // Everything in one write: one round trip, whatever was asked for.
        let mut request = Vec::new();
        let mut expect = Vec::new();
        if let Some(password) = &self.password {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = &self.username {
                auth.arg(user);
            }
            request.extend(auth.arg(password).get_packed_command());
            expect.push("AUTH");
        }
        if self.db != 0 {
            request.extend(redis::cmd("SELECT").arg(self.db).get_packed_command());
            expect.push("SELECT");
        }
        request.extend(redis::cmd("PING").get_packed_command());
        expect.push("PING");
        if self.role.is_some() {
            request.extend(redis::cmd("ROLE").get_packed_command());
            expect.push("ROLE");
        }

        attempt.phase("while sending the request");
        set_timeouts(&control, attempt);
        stream
            .write_all(&request)
            .and_then(|()| stream.flush())
            .map_err(|e| format!("cannot send the request: {}", crate::exit::io_reason(&e)))?;

        attempt.phase("waiting for the reply");
        let mut parser = redis::Parser::new();
        let mut role = None;
        for command in expect {
            set_timeouts(&control, attempt);
            let value = parser
                .parse_value(&mut stream)
                .map_err(|e| read_reason(&e))?;
            match (command, value) {
                (_, Value::ServerError(e)) => return Err(server_error(command, &e)),
                ("PING", Value::SimpleString(s)) if s == "PONG" => {}
                ("PING", other) => {
                    return Err(format!(
                        "not a Redis server (PING answered {})",
                        short(&other)
                    ));
                }
                ("ROLE", Value::Array(items)) => role = items.first().map(text),
                (_, _) => {}
            }
        }

        let Some(wanted) = self.role else {
            return Ok("PONG".into());
        };
        let role = role.unwrap_or_default();
        let actual = match role.as_str() {
            "master" => Some(Role::Master),
            "slave" | "replica" => Some(Role::Replica),
            _ => None,
        };
        let name = |r: Role| {
            if r == Role::Master {
                "master"
            } else {
                "replica"
            }
        };
        match actual {
            Some(r) if r == wanted => Ok(format!("PONG, role {}", name(r))),
            Some(r) => Err(format!("role is {}, expected {}", name(r), name(wanted))),
            None => Err(format!("role is '{role}', expected {}", name(wanted))),
        }
    }
}

impl Redis {
    fn handshake(
        &self,
        config: Arc<rustls::ClientConfig>,
        mut tcp: TcpStream,
        control: &TcpStream,
        attempt: &Attempt,
    ) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
        attempt.phase("during the TLS handshake");
        set_timeouts(control, attempt);
        let mut conn = rustls::ClientConnection::new(config, db_tls::server_name(&self.host)?)
            .map_err(|e| format!("TLS: {e}"))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| {
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) {
                    format!(
                        "timed out during the TLS handshake with {}",
                        join_host_port(&self.host, self.port)
                    )
                } else {
                    db_tls::reason(&e, &self.host, "use --cacert or --insecure")
                }
            })?;
        }
        Ok(rustls::StreamOwned::new(conn, tcp))
    }
}

/// Socket timeouts end at the attempt's deadline, so a silent peer cannot
/// keep the thread (and `berth wait`) past it.
fn set_timeouts(socket: &TcpStream, attempt: &Attempt) {
    let _ = socket.set_read_timeout(Some(attempt.remaining()));
    let _ = socket.set_write_timeout(Some(attempt.remaining()));
}

fn read_reason(e: &redis::RedisError) -> String {
    if e.is_timeout() {
        "timed out waiting for the reply".into()
    } else if e.is_connection_dropped() {
        "connection closed before the reply (not a Redis server?)".into()
    } else if e.is_io_error() {
        format!("cannot read the reply: {e}")
    } else {
        "not a Redis server (malformed reply)".into()
    }
}

/// The specific reason for an error reply; redis-cli would print these and
/// exit 0.
fn server_error(command: &str, e: &ServerError) -> String {
    let detail = e.details().unwrap_or("").trim();
    match e.code() {
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
        code => format!("{command} failed: {code} {}", clip(detail)),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => short(other),
    }
}

fn short(v: &Value) -> String {
    clip(&format!("{v:?}"))
}

/// Keeps a reply fragment to one short line in the report.
fn clip(s: &str) -> String {
    let line: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    line
}
