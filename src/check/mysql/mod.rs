//! MySQL and MariaDB: by default a real login and `SELECT 1`; `--ping`
//! gives `mysqladmin ping`'s meaning (the server answers, even when it
//! refuses the login), and `--primary` fails while `read_only` or
//! `super_read_only` is on.
//!
//! The protocol is berth's own, over the one bounded socket (`net`) and
//! the one TLS module: the packets (`packet`, fuzzed), the password
//! scrambles (`auth`: mysql_native_password, caching_sha2_password with
//! its full exchange over TLS or a Unix socket), and the connection
//! settings as the mysql client reads them (`config`: `ssl-mode`,
//! `ssl-ca`, `ssl-cert`, `ssl-key`, `socket`, `MYSQL_*`). A client library
//! would cost far more bytes than these few hundred lines.

pub mod auth;
mod config;
pub mod packet;

use std::io::{self, Read, Write};
use std::time::Instant;

use rustls::{ClientConnection, StreamOwned};

use super::net::{self, Bounded};
use super::tls::{self, Peer, Tls, TlsOptions};
use super::{Attempt, Probe, clip};
use crate::cli::MysqlArgs;
use crate::target::{Kind, Target, TlsSettings};
pub use config::{Address, Config, SslMode};
use packet::{AuthReply, Greeting, Packets, QueryReply, ReadError, ServerError};

/// Authentication exchanges berth follows at most (a switch, then the
/// plugin's own steps).
const MAX_AUTH_ROUNDS: usize = 4;

pub struct Mysql {
    /// What the report names: the URL (without secrets), or the settings
    /// found in the environment.
    shown: String,
    config: Config,
    /// Read up front, so a bad CA, certificate or key file is reported
    /// before connecting; `None` when TLS is off.
    tls: Option<Tls>,
    ping: bool,
    primary: bool,
}

impl Mysql {
    pub fn from_args(args: MysqlArgs) -> Result<(Mysql, Option<String>), String> {
        let flags = args.tls();
        let target = args
            .url
            .as_deref()
            .map(|url| Target::parse_for(url, &[Kind::Mysql], None).map_err(|e| e.to_string()))
            .transpose()?;
        let mut my = Mysql::build(target.as_ref(), &flags)?;
        my.ping = args.ping;
        my.primary = args.primary;
        Ok((my, args.timeout))
    }

    /// `mysql://` or `mariadb://`, as `berth wait` and `--pre-lock` get it.
    pub fn from_target(target: Target) -> Result<Mysql, String> {
        Mysql::build(Some(&target), &TlsSettings::default())
    }

    fn build(target: Option<&Target>, flags: &TlsSettings) -> Result<Mysql, String> {
        let env = |name: &str| crate::env::var(name).map_err(|e| e.to_string());
        let config = config::resolve(target, flags, &env)?;
        let t = &config.tls;
        let tls = match (&config.address, config.ssl_mode) {
            (Address::Socket(_), _) | (_, SslMode::Disabled) => None,
            (_, mode) => Some(Tls::new(&TlsOptions {
                insecure: matches!(mode, SslMode::Preferred | SslMode::Required),
                skip_name: mode == SslMode::VerifyCa,
                system_roots: t.cacert.is_none(),
                cacert: t.cacert.clone(),
                cert: t.cert.clone(),
                key: t.key.clone(),
                servername: t.servername.clone(),
                names: tls::MYSQL,
                ..TlsOptions::default()
            })?),
        };
        let shown = match target {
            Some(t) => t.to_string(),
            None => {
                let scheme = crate::target::scheme("mysql").expect("in the table");
                let (name, port) = match &config.address {
                    Address::Tcp(h, p) => (h.clone(), Some(*p)),
                    Address::Socket(path) => (path.clone(), None),
                };
                let host = crate::target::Host { name, port };
                let path = config
                    .database
                    .as_ref()
                    .map(|d| format!("/{d}"))
                    .unwrap_or_default();
                Target::from_parts(scheme, vec![host], Some(config.user.clone()), path).to_string()
            }
        };
        Ok(Mysql {
            shown,
            config,
            tls,
            ping: false,
            primary: false,
        })
    }
}

impl Probe for Mysql {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let mut session = match self.login(attempt) {
            Ok(s) => s,
            Err(failure) if self.ping => return self.ping_verdict(failure),
            Err(failure) => return Err(failure.reason),
        };
        if self.ping {
            let found = format!("alive, {}", session.version);
            session.quit();
            return Ok(found);
        }
        attempt.phase("waiting for the query's reply");
        let rows = session.rows("SELECT 1", attempt)?;
        if rows != [vec![Some("1".to_string())]] {
            return Err("unexpected reply to SELECT 1".into());
        }
        let mut found = format!(
            "logged in as {}, SELECT 1 answered ({}{})",
            self.config.user,
            session.version,
            if session.tls { ", TLS" } else { "" }
        );
        if self.primary {
            // SHOW VARIABLES needs no privilege, and names no variable the
            // server lacks (MariaDB has no super_read_only).
            let rows = session.rows(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only')",
                attempt,
            )?;
            let on: Vec<String> = rows
                .iter()
                .filter(|r| {
                    r.get(1)
                        .and_then(|v| v.as_deref())
                        .is_some_and(|v| v.eq_ignore_ascii_case("ON") || v == "1")
                })
                .filter_map(|r| r.first().cloned().flatten())
                .collect();
            if !on.is_empty() {
                return Err(format!(
                    "server is read-only ({} on), expected a primary",
                    on.join(", ")
                ));
            }
            found.push_str(", primary (read_only off)");
        }
        session.quit();
        Ok(found)
    }
}

/// Why a login failed, and whether the server answered at all (what
/// `--ping` asks).
pub struct Failure {
    pub reason: String,
    /// The server's greeting, when it sent one.
    answered: Option<String>,
    /// The server's error, when it sent one.
    error: Option<ServerError>,
}

impl Failure {
    fn local(reason: String) -> Failure {
        Failure {
            reason,
            answered: None,
            error: None,
        }
    }
}

impl Mysql {
    /// mysqladmin ping's reading: a server that answered is alive, even
    /// if it refused the login (or asked for what berth does not speak);
    /// one that is shutting down, out of connections or blocking this host
    /// is not accepting connections, and one that stops answering midway
    /// (a timeout, a closed connection, a failed TLS handshake) is not
    /// alive either.
    fn ping_verdict(&self, failure: Failure) -> Result<String, String> {
        match (&failure.error, &failure.answered) {
            (Some(e), _) if matches!(e.code, 1040 | 1053 | 1129 | 1203) => Err(failure.reason),
            (Some(_), Some(version)) => Ok(format!("alive, {version} (login: {})", failure.reason)),
            (None, Some(version)) => Ok(format!("alive, {version} ({})", failure.reason)),
            _ => Err(failure.reason),
        }
    }

    /// Connects, negotiates TLS as `ssl-mode` says, and logs in.
    pub fn login(&self, attempt: &Attempt) -> Result<Session, Failure> {
        let (sock, host) = match &self.config.address {
            Address::Tcp(host, port) => {
                let s = net::connect_one(host, *port, attempt).map_err(Failure::local)?;
                (Bounded::new(s, attempt), Some(host.as_str()))
            }
            Address::Socket(path) => {
                let s = net::connect_unix(path, attempt).map_err(|why| {
                    Failure::local(match why.starts_with("no such socket") {
                        true => format!("no MySQL socket at {path}"),
                        false => why,
                    })
                })?;
                (Bounded::unix(s, attempt), None)
            }
        };
        let mut session = Session {
            packets: Packets::new(Conn::Plain(sock)),
            peer: None,
            version: String::new(),
            tls: false,
        };
        attempt.phase("waiting for the server's greeting");
        let greeting = session
            .packets
            .read()
            .and_then(|p| packet::parse_greeting(&p))
            .map_err(|e| {
                Failure::local(match e {
                    ReadError::Protocol(_) => "not a MySQL server (unexpected greeting)".into(),
                    ReadError::Io(e) => session.io_reason(&e, attempt),
                })
            })?;
        let hello = match greeting {
            Greeting::Handshake(h) => h,
            Greeting::Refused(e) => {
                return Err(Failure {
                    reason: self.server_reason(&e),
                    answered: Some("the server answered".into()),
                    error: Some(e),
                });
            }
        };
        session.version = product(&hello.version);
        let answered = |reason: String, error: Option<ServerError>| Failure {
            reason,
            answered: Some(product(&hello.version)),
            error,
        };

        // TLS: the SSLRequest, then the handshake on the same socket.
        let server_tls = hello.capabilities & packet::CLIENT_SSL != 0;
        let mut caps = packet::CLIENT_LONG_PASSWORD
            | packet::CLIENT_PROTOCOL_41
            | packet::CLIENT_TRANSACTIONS
            | packet::CLIENT_SECURE_CONNECTION
            | (hello.capabilities
                & (packet::CLIENT_PLUGIN_AUTH | packet::CLIENT_PLUGIN_AUTH_LENENC_DATA));
        if self.config.database.is_some() {
            caps |= packet::CLIENT_CONNECT_WITH_DB;
        }
        if let (Some(tls), Some(host)) = (&self.tls, host) {
            let mode = self.config.ssl_mode;
            if server_tls {
                caps |= packet::CLIENT_SSL;
                attempt.phase("during the TLS handshake");
                // The SSLRequest is the response's fixed part alone.
                session
                    .packets
                    .write(&fixed_part(caps))
                    .map_err(|e| Failure::local(session.io_reason(&e, attempt)))?;
                let peer = tls.peer(host).map_err(Failure::local)?;
                session = session.start_tls(peer, attempt).map_err(Failure::local)?;
            } else if mode != SslMode::Preferred {
                return Err(answered(
                    format!(
                        "the server does not support TLS (ssl-mode={}; its have_ssl is off)",
                        mode.name()
                    ),
                    None,
                ));
            }
        }
        let secure = session.tls || matches!(self.config.address, Address::Socket(_));

        attempt.phase("during login");
        let password = self
            .config
            .password
            .as_ref()
            .map_or(&b""[..], |p| p.expose().as_bytes());
        let mut plugin = match hello.plugin.as_str() {
            auth::CACHING_SHA2 => auth::CACHING_SHA2,
            _ => auth::NATIVE,
        };
        let mut nonce = hello.scramble.clone();
        let data = match plugin {
            auth::CACHING_SHA2 => auth::caching_sha2(password, &nonce),
            _ => auth::native(password, &nonce),
        };
        let mut response = fixed_part(caps);
        response.extend_from_slice(self.config.user.as_bytes());
        response.push(0);
        // A scramble is 20 or 32 bytes: its length is one byte whether
        // the server reads it length-encoded or not.
        response.push(data.len() as u8);
        response.extend_from_slice(&data);
        if let Some(db) = &self.config.database {
            response.extend_from_slice(db.as_bytes());
            response.push(0);
        }
        if caps & packet::CLIENT_PLUGIN_AUTH != 0 {
            response.extend_from_slice(plugin.as_bytes());
            response.push(0);
        }
        session
            .packets
            .write(&response)
            .map_err(|e| Failure::local(session.io_reason(&e, attempt)))?;

        for _ in 0..MAX_AUTH_ROUNDS {
            let reply = session
                .packets
                .read()
                .and_then(|p| packet::parse_auth_reply(&p))
                .map_err(|e| Failure::local(session.read_reason(e, attempt)))?;
            let send = match reply {
                AuthReply::Ok => return Ok(session),
                AuthReply::Err(e) => return Err(answered(self.server_reason(&e), Some(e))),
                AuthReply::Switch { plugin: p, data } => {
                    nonce = data;
                    match p.as_str() {
                        auth::NATIVE => {
                            plugin = auth::NATIVE;
                            auth::native(password, &nonce)
                        }
                        auth::CACHING_SHA2 => {
                            plugin = auth::CACHING_SHA2;
                            auth::caching_sha2(password, &nonce)
                        }
                        auth::CLEAR | auth::SHA256_PASSWORD if secure => auth::cleartext(password),
                        auth::CLEAR | auth::SHA256_PASSWORD => {
                            return Err(answered(
                                format!(
                                    "the server asks for the password over {p}, which berth sends only over TLS: \
                                     use ssl-mode=REQUIRED (or leave it PREFERRED with TLS on the server)"
                                ),
                                None,
                            ));
                        }
                        auth::ED25519 => {
                            plugin = auth::ED25519;
                            auth::ed25519(password, &nonce)
                        }
                        other => {
                            return Err(answered(
                                format!(
                                    "the server asks for the authentication plugin '{}', which berth does not speak",
                                    clip(other)
                                ),
                                None,
                            ));
                        }
                    }
                }
                AuthReply::More(data) if plugin == auth::CACHING_SHA2 => match data.first() {
                    Some(&auth::FAST_AUTH_OK) => continue,
                    Some(&auth::FULL_AUTH) if secure => auth::cleartext(password),
                    Some(&auth::FULL_AUTH) => {
                        return Err(answered(
                            "caching_sha2_password needs its full exchange (the server has no cached \
                             login for this user), where berth sends the password only over TLS: \
                             use ssl-mode=REQUIRED, or enable TLS on the server (berth does not do \
                             the exchange with the server's RSA key)"
                                .into(),
                            None,
                        ));
                    }
                    _ => {
                        return Err(Failure::local(
                            "unexpected reply during caching_sha2_password login".into(),
                        ));
                    }
                },
                AuthReply::More(_) => {
                    return Err(Failure::local(format!(
                        "unexpected reply during {plugin} login"
                    )));
                }
            };
            session
                .packets
                .write(&send)
                .map_err(|e| Failure::local(session.io_reason(&e, attempt)))?;
        }
        Err(Failure::local("the login did not end".into()))
    }

    /// The reason for an ERR packet, named by its code; the server's own
    /// text never holds the password.
    fn server_reason(&self, e: &ServerError) -> String {
        let msg = clip(&e.message);
        let code = e.code;
        let user = &self.config.user;
        match code {
            1045 => format!(
                "authentication failed for user {user} (wrong password or unknown user; error 1045: {msg})"
            ),
            1698 => format!("authentication failed for user {user} (error 1698: {msg})"),
            1044 => format!("access denied to the database (error 1044: {msg})"),
            1049 => format!("unknown database (error 1049: {msg})"),
            1040 => {
                "too many connections (the server's max_connections is reached; error 1040)".into()
            }
            1203 | 1226 => format!("too many connections for user {user} (error {code}: {msg})"),
            1053 => "server shutting down (error 1053)".into(),
            1129 => format!(
                "this host is blocked after too many connection errors: run mysqladmin flush-hosts (error 1129: {msg})"
            ),
            1130 => format!("this host may not connect (error 1130: {msg})"),
            3159 => format!(
                "the server requires TLS (require_secure_transport): do not set ssl-mode=DISABLED (error 3159: {msg})"
            ),
            1251 => format!("authentication method not supported (error 1251: {msg})"),
            1820 | 1862 => format!("the password of user {user} has expired (error {code}: {msg})"),
            3118 | 4151 => format!("account of user {user} is locked (error {code}: {msg})"),
            _ => format!("{msg} (error {code})"),
        }
    }
}

/// "MariaDB 10.11.6" or "MySQL 8.0.36" from the greeting's version text
/// (MariaDB's starts with "5.5.5-" for clients that read the first digit).
fn product(version: &str) -> String {
    let v = version.strip_prefix("5.5.5-").unwrap_or(version);
    let number: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let name = match v.to_ascii_lowercase().contains("mariadb") {
        true => "MariaDB",
        false => "MySQL",
    };
    clip(&format!("{name} {number}"))
}

/// The fixed start of the SSLRequest and the HandshakeResponse41:
/// capabilities, maximum packet size, character set (utf8mb4_general_ci,
/// which every server since 5.5.3 knows), 23 zero bytes.
fn fixed_part(caps: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&caps.to_le_bytes());
    out.extend_from_slice(&(packet::MAX_PAYLOAD as u32).to_le_bytes());
    out.push(45);
    out.extend_from_slice(&[0; 23]);
    out
}

/// The socket, or TLS over it.
pub enum Conn {
    Plain(Bounded),
    Tls(Box<StreamOwned<ClientConnection, Bounded>>),
}

impl Conn {
    fn sock(&mut self) -> &mut Bounded {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(t) => &mut t.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
        }
    }
}

/// A logged-in connection.
pub struct Session {
    packets: Packets<Conn>,
    /// TLS's words for failures after the handshake (a refused client
    /// certificate shows on the first read in TLS 1.3).
    peer: Option<Peer>,
    /// "MariaDB 10.11.6".
    pub version: String,
    pub tls: bool,
}

impl Session {
    fn start_tls(self, peer: Peer, attempt: &Attempt) -> Result<Session, String> {
        // The handshake response goes on numbering after the SSLRequest.
        let (conn, seq) = self.packets.into_parts();
        let Conn::Plain(mut sock) = conn else {
            return Err("TLS started twice".into());
        };
        // The greeting is not what TLS failures should be judged by.
        sock.forget_first_bytes();
        let stream = peer.handshake(sock, attempt)?;
        let packets = Packets::with_seq(Conn::Tls(Box::new(stream)), seq);
        Ok(Session {
            packets,
            peer: Some(peer),
            version: self.version,
            tls: true,
        })
    }

    /// Moves the socket's deadline (the pre-lock's session outlives one
    /// attempt).
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.packets.stream.sock().set_deadline(deadline);
    }

    fn io_reason(&self, e: &io::Error, attempt: &Attempt) -> String {
        if let Some(reason) = self.peer.as_ref().and_then(|p| p.after_handshake(e)) {
            return reason;
        }
        if net::is_timeout(e) {
            return format!("timed out {}", attempt.current_phase());
        }
        if net::is_closed(e) {
            let sent_nothing = match &self.packets.stream {
                Conn::Plain(s) => s.sent_nothing(),
                Conn::Tls(_) => false,
            };
            return net::closed(sent_nothing, "not a MySQL server?");
        }
        format!("I/O error: {}", crate::exit::io_reason(e))
    }

    fn read_reason(&self, e: ReadError, attempt: &Attempt) -> String {
        match e {
            ReadError::Io(e) => self.io_reason(&e, attempt),
            ReadError::Protocol(why) => format!("unexpected reply from the server: {why}"),
        }
    }

    /// Runs `sql` (COM_QUERY) and reads its rows; an error reply is the
    /// server's reason.
    pub fn rows(
        &mut self,
        sql: &str,
        attempt: &Attempt,
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        match self.query(sql, attempt)? {
            QueryReply::Rows(rows) => Ok(rows),
            QueryReply::Done => Ok(Vec::new()),
            QueryReply::Err(e) => Err(format!("{} (error {})", clip(&e.message), e.code)),
        }
    }

    fn query(&mut self, sql: &str, attempt: &Attempt) -> Result<QueryReply, String> {
        self.packets.reset();
        let mut command = vec![0x03];
        command.extend_from_slice(sql.as_bytes());
        self.packets
            .write(&command)
            .map_err(|e| self.io_reason(&e, attempt))?;
        packet::read_query_reply(&mut self.packets).map_err(|e| self.read_reason(e, attempt))
    }

    /// COM_QUIT: the server ends the session without logging an aborted
    /// connection. Nothing is read back.
    pub fn quit(mut self) {
        self.packets.reset();
        let _ = self.packets.write(&[0x01]);
        if let Conn::Tls(t) = &mut self.packets.stream {
            t.conn.send_close_notify();
            let _ = t.conn.write_tls(&mut t.sock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named() {
        assert_eq!(
            product("5.5.5-10.11.6-MariaDB-0+deb12u1"),
            "MariaDB 10.11.6"
        );
        assert_eq!(product("8.0.36"), "MySQL 8.0.36");
        assert_eq!(product("11.4.2-MariaDB"), "MariaDB 11.4.2");
    }

    #[test]
    fn urls_print_without_secrets() {
        let my = Mysql::from_target(Target::parse("mysql://app:s3cret@db/shop").unwrap()).unwrap();
        assert_eq!(my.describe(), "mysql://app:****@db/shop");
        let my =
            Mysql::from_target(Target::parse("mariadb://app@db/shop?password=s3cret").unwrap())
                .unwrap();
        assert_eq!(my.describe(), "mariadb://app@db/shop?password=****");
    }
}
