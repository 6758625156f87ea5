//! PostgreSQL: by default a real login and a query (`SELECT 1`), which
//! proves more than pg_isready; `--ping` gives pg_isready's meaning, and
//! `--primary` fails on a standby.
//!
//! tokio-postgres speaks the protocol (SCRAM-SHA-256, md5) on a socket we
//! connect ourselves with `tcp::connect`, so resolution, connect reasons and
//! IPv6 literals are the same as for every other check. The SSL request is
//! ours too: tokio-postgres knows only disable/prefer/require, and doing it
//! here gives verify-ca/verify-full over rustls and precise reasons ("server
//! does not support SSL"). TLS settings come as libpq takes them: `sslmode`,
//! `sslrootcert`, `sslcert`, `sslkey` in the URL, `PGSSL*` in the
//! environment. The tokio runtime is built only when this check runs, on
//! the attempt's thread.

mod conninfo;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::net;
use super::tls::{self, Peer, Tls, TlsOptions};
use super::{Attempt, Probe};
use crate::cli::PostgresArgs;
use crate::target::{Host, Kind, Target, TlsSettings};
pub use conninfo::{ConnInfo, PgHost, SslMode, pgpass_lookup};

/// The SSLRequest message: length 8, code 1234.5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

pub struct Postgres {
    /// What the report names: the URL (printed without secrets), or the
    /// settings found in the environment.
    shown: String,
    info: ConnInfo,
    /// Read up front, so a bad CA, certificate or key file is reported
    /// before connecting.
    tls: Option<Tls>,
    query: String,
    ping: bool,
    primary: bool,
}

impl Postgres {
    pub fn from_args(args: PostgresArgs) -> Result<(Postgres, Option<String>), String> {
        let flags = args.tls();
        let target = args
            .url
            .as_deref()
            .map(|url| Target::parse_for(url, &[Kind::Postgres], None).map_err(|e| e.to_string()))
            .transpose()?;
        let mut pg = Postgres::build(target.as_ref(), &flags)?;
        pg.query = args.query.unwrap_or(pg.query);
        pg.ping = args.ping;
        pg.primary = args.primary;
        Ok((pg, args.timeout))
    }

    /// `postgres://` or `postgresql://`, as `berth wait` and `--pre-lock`
    /// get it.
    pub fn from_target(target: Target) -> Result<Postgres, String> {
        Postgres::build(Some(&target), &TlsSettings::default())
    }

    fn build(target: Option<&Target>, flags: &TlsSettings) -> Result<Postgres, String> {
        let env = |name: &str| crate::env::var(name).map_err(|e| e.to_string());
        let pgpass = conninfo::read_pgpass(&env);
        let lookup = |wanted: &str| {
            pgpass
                .as_deref()
                .and_then(|text| pgpass_lookup(text, wanted))
        };
        let info = conninfo::resolve(target, flags, &env, &lookup)?;
        let t = &info.tls;
        let tls = match info.sslmode {
            SslMode::Disable => None,
            _ => Some(Tls::new(&TlsOptions {
                insecure: !t.verify_chain,
                skip_name: !t.verify_name,
                system_roots: t.rootcert.is_none(),
                cacert: t.rootcert.clone(),
                cert: t.cert.clone(),
                key: t.key.clone(),
                servername: t.servername.clone(),
                names: tls::LIBPQ,
                ..TlsOptions::default()
            })?),
        };
        let shown = match target {
            Some(t) => t.to_string(),
            None => {
                let hosts = info
                    .hosts
                    .iter()
                    .map(|h| Host {
                        name: h.host.clone(),
                        port: Some(h.port),
                    })
                    .collect();
                let path = format!("/{}", info.dbname);
                let scheme = crate::target::scheme("postgres").expect("in the table");
                Target::from_parts(scheme, hosts, Some(info.user.clone()), path).to_string()
            }
        };
        Ok(Postgres {
            shown,
            info,
            tls,
            query: "SELECT 1".into(),
            ping: false,
            primary: false,
        })
    }
}

impl Probe for Postgres {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        Postgres::runtime()?.block_on(async {
            // Ends the thread at the deadline, so a `berth wait` retry loop
            // leaves nothing behind when a server stops answering.
            match tokio::time::timeout(attempt.remaining(), self.run(attempt)).await {
                Ok(result) => result,
                Err(_) => Err(format!("timed out {}", attempt.current_phase())),
            }
        })
    }
}

impl Postgres {
    async fn run(&self, attempt: &Attempt) -> Result<String, String> {
        let (stream, peer, host) = self.open(attempt).await?;
        self.session(stream, peer.as_ref(), host, attempt).await
    }

    /// Connects to the first host of the list that accepts, in order, and
    /// negotiates TLS as `sslmode` says; the stream is ready for the startup
    /// message. The peer, if TLS is on, words the TLS failures that come
    /// later (a refused client certificate in TLS 1.3).
    async fn open(
        &self,
        attempt: &Attempt,
    ) -> Result<(Box<dyn Stream>, Option<Peer>, &PgHost), String> {
        let hosts = &self.info.hosts;
        let mut last = String::from("no host to connect to");
        let mut i = 0;
        while i < hosts.len() {
            // libpq never uses TLS on a local socket either.
            if hosts[i].host.starts_with('/') {
                match connect_local(&hosts[i], attempt) {
                    Ok(s) => return Ok((Box::new(s), None, &hosts[i])),
                    Err(why) => last = why,
                }
                i += 1;
                continue;
            }
            // A run of TCP hosts: one connect, tried in order.
            let end = hosts[i..]
                .iter()
                .position(|h| h.host.starts_with('/'))
                .map_or(hosts.len(), |n| i + n);
            let list: Vec<(&str, u16)> = hosts[i..end]
                .iter()
                .map(|h| (h.host.as_str(), h.port))
                .collect();
            match net::connect(&list, attempt) {
                Ok((socket, k)) => {
                    let host = &hosts[i + k];
                    let (stream, peer) =
                        self.negotiate(tokio_stream(socket)?, host, attempt).await?;
                    return Ok((stream, peer, host));
                }
                Err(why) => last = why,
            }
            i = end;
        }
        Err(last)
    }

    /// The SSL request and the handshake on a connected socket.
    async fn negotiate(
        &self,
        mut socket: tokio::net::TcpStream,
        host: &PgHost,
        attempt: &Attempt,
    ) -> Result<(Box<dyn Stream>, Option<Peer>), String> {
        let Some(tls) = &self.tls else {
            return Ok((Box::new(socket), None));
        };
        let sslmode = self.info.sslmode;
        attempt.phase("waiting for the reply to the SSL request");
        let io = |e: std::io::Error| io_reason(&e);
        socket.write_all(&SSL_REQUEST).await.map_err(io)?;
        let mut answer = [0u8; 1];
        socket.read_exact(&mut answer).await.map_err(io)?;
        match answer[0] {
            b'S' => {}
            b'N' if sslmode == SslMode::Prefer => return Ok((Box::new(socket), None)),
            b'N' => {
                return Err(format!(
                    "server does not support SSL (sslmode={})",
                    sslmode.name()
                ));
            }
            // An error message instead of S/N: a server from before 7.0, or
            // one that refuses the request outright.
            b'E' => return Err("the server rejected the SSL request".into()),
            _ => {
                return Err(
                    "not a PostgreSQL server (unexpected answer to the SSL request)".into(),
                );
            }
        }

        attempt.phase("during the TLS handshake");
        let peer = tls.peer(&host.host)?;
        let connector = tokio_rustls::TlsConnector::from(peer.config.clone());
        match connector.connect(peer.name.clone(), socket).await {
            Ok(stream) => Ok((Box::new(stream), Some(peer))),
            // libpq's prefer: a failed handshake is retried without TLS.
            Err(_) if sslmode == SslMode::Prefer => {
                let socket = net::connect_one(&host.host, host.port, attempt)?;
                Ok((Box::new(tokio_stream(socket)?), None))
            }
            Err(e) => Err(peer.handshake_reason(&e, &[])),
        }
    }

    /// The startup settings: user, database, and the password unless this
    /// is a ping (sending none spares the SCRAM key derivation, and the
    /// server's demand for one is the answer).
    fn config(&self, host: &PgHost) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .user(&self.info.user)
            .dbname(&self.info.dbname)
            .application_name("berth")
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        if let (Some(password), false) = (&host.password, self.ping) {
            config.password(password.expose());
        }
        config
    }

    /// A logged-in session whose connection runs on the current (tokio)
    /// runtime: what `--pre-lock` holds its advisory lock on.
    pub async fn client(&self, attempt: &Attempt) -> Result<tokio_postgres::Client, String> {
        let (stream, peer, host) = self.open(attempt).await?;
        attempt.phase("during login");
        let (client, connection) = self
            .config(host)
            .connect_raw(stream, NoTls)
            .await
            .map_err(|e| self.error_reason(&e, peer.as_ref()))?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// A current-thread runtime with I/O and timers, built only when a
    /// PostgreSQL session is needed.
    pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| {
                format!(
                    "cannot start the I/O runtime: {}",
                    crate::exit::io_reason(&e)
                )
            })
    }

    /// Startup, authentication, then the query (unless `--ping`).
    async fn session(
        &self,
        stream: Box<dyn Stream>,
        peer: Option<&Peer>,
        host: &PgHost,
        attempt: &Attempt,
    ) -> Result<String, String> {
        attempt.phase("during login");
        let connected = self.config(host).connect_raw(stream, NoTls).await;
        if self.ping {
            return self.ping_verdict(connected.err(), peer);
        }
        let (client, connection) = connected.map_err(|e| self.error_reason(&e, peer))?;
        tokio::spawn(connection);

        attempt.phase("waiting for the query's reply");
        let messages = client
            .simple_query(&self.query)
            .await
            .map_err(|e| self.error_reason(&e, peer))?;
        let rows = messages
            .iter()
            .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
            .count();
        let mut found = format!(
            "logged in as {}, query returned {rows} row{}",
            self.info.user,
            if rows == 1 { "" } else { "s" }
        );
        if self.primary {
            let messages = client
                .simple_query("SELECT pg_is_in_recovery()")
                .await
                .map_err(|e| self.error_reason(&e, peer))?;
            let in_recovery = messages.iter().any(|m| match m {
                SimpleQueryMessage::Row(row) => row.get(0) == Some("t"),
                _ => false,
            });
            if in_recovery {
                return Err("server is a standby (in recovery), expected a primary".into());
            }
            found.push_str(", primary");
        }
        Ok(found)
    }

    /// pg_isready's reading: any answer from a server that is not starting
    /// up, shutting down or refusing connections (SQLSTATE 57P03) is "up",
    /// including a failed login.
    fn ping_verdict(
        &self,
        error: Option<tokio_postgres::Error>,
        peer: Option<&Peer>,
    ) -> Result<String, String> {
        let Some(e) = error else {
            return Ok("accepting connections".into());
        };
        if let Some(db) = e.as_db_error() {
            if db.code().code() == "57P03" {
                return Err(format!("rejecting connections: {}", with_detail(db)));
            }
            return Ok(format!("accepting connections (login: {})", db.message()));
        }
        if is_password_demand(&e) {
            return Ok("accepting connections".into());
        }
        Err(self.error_reason(&e, peer))
    }

    fn error_reason(&self, e: &tokio_postgres::Error, peer: Option<&Peer>) -> String {
        if let Some(db) = e.as_db_error() {
            return match db.code().code() {
                "28P01" => format!("authentication failed for user {}", self.info.user),
                // pg_hba.conf's cert method (or clientcert=verify-*) and no
                // certificate offered.
                "28000" if db.message().contains("requires a valid client certificate") => {
                    tls::client_cert_required(&tls::LIBPQ)
                }
                "28000" => format!("login rejected: {}", db.message()),
                "57P03" => with_detail(db),
                "3D000" | "3F000" | "53300" | "42501" => db.message().to_string(),
                code => format!("{} (SQLSTATE {code})", db.message()),
            };
        }
        if is_password_demand(e) {
            return "the server asks for a password: give it in the URL, PGPASSWORD or PGPASSWORD_FILE".into();
        }
        let text = match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        };
        if let Some(io) =
            std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>())
        {
            if let Some(reason) = peer.and_then(|p| p.after_handshake(io)) {
                return reason;
            }
            return io_reason(io);
        }
        if text.starts_with("authentication error") {
            return format!("authentication failed for user {}: {text}", self.info.user);
        }
        if text.starts_with("unexpected message") || text.starts_with("error parsing") {
            return "not a PostgreSQL server (unexpected reply)".into();
        }
        if text == "connection closed" {
            return net::closed(true, "not a PostgreSQL server?");
        }
        text
    }
}

fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        UnexpectedEof | ConnectionReset | BrokenPipe => {
            net::closed(true, "not a PostgreSQL server?")
        }
        // The protocol decoder's verdict on bytes that are not messages.
        InvalidInput | InvalidData => "not a PostgreSQL server (unexpected reply)".into(),
        // The stream ended inside what would be a message: garbage that
        // announced an impossible length.
        _ if e.to_string() == "bytes remaining on stream" => {
            "not a PostgreSQL server (unexpected reply)".into()
        }
        _ => format!("I/O error: {}", crate::exit::io_reason(e)),
    }
}

/// A connected socket for tokio.
fn tokio_stream(socket: std::net::TcpStream) -> Result<tokio::net::TcpStream, String> {
    let fail = |e: std::io::Error| format!("socket: {}", crate::exit::io_reason(&e));
    socket.set_nonblocking(true).map_err(fail)?;
    tokio::net::TcpStream::from_std(socket).map_err(fail)
}

/// The Unix-domain socket in the directory `host.host`, named by the port
/// as libpq names it.
fn connect_local(host: &PgHost, attempt: &Attempt) -> Result<tokio::net::UnixStream, String> {
    let path = format!("{}/.s.PGSQL.{}", host.host.trim_end_matches('/'), host.port);
    let socket = net::connect_unix(&path, attempt).map_err(|why| {
        match why.starts_with("no such socket") {
            true => format!("no PostgreSQL socket at {path}"),
            false => why,
        }
    })?;
    let fail = |e: std::io::Error| format!("socket: {}", crate::exit::io_reason(&e));
    socket.set_nonblocking(true).map_err(fail)?;
    tokio::net::UnixStream::from_std(socket).map_err(fail)
}

/// TCP, TLS over TCP, or a Unix-domain socket, behind one type: the
/// protocol machinery is then compiled once, not once per transport (33 kB
/// less in the static binary).
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// tokio-postgres has no error kind for it: the server asked for a
/// password and none was configured.
fn is_password_demand(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.to_string() == "password missing")
}

fn with_detail(db: &tokio_postgres::error::DbError) -> String {
    match db.detail() {
        Some(d) => format!("{} ({})", db.message(), d.trim_end_matches('.')),
        None => db.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_errors() {
        let pg = |u: &str| Postgres::from_target(Target::parse(u).unwrap());
        assert!(pg("postgres://h/db?sslmode=sometimes").is_err());
        assert!(Target::parse("postgres://h/db#cacert=/x").is_err());
        assert_eq!(
            pg("postgres://app@db/app?password=s3cret")
                .unwrap()
                .describe(),
            "postgres://app@db/app?password=****"
        );
    }
}
