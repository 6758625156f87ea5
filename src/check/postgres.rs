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

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_postgres::config::Host;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::tcp::{self, join_host_port};
use super::tls::{self, Peer, Tls, TlsOptions};
use super::{Attempt, Probe};
use crate::cli::PostgresArgs;
use crate::target::redact;

/// The SSLRequest message: length 8, code 1234.5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str, source: &str) -> Result<SslMode, String> {
        Ok(match text {
            // "allow" tries a plain connection first; that is all we try.
            "disable" | "allow" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "{source} '{other}': expected disable, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

pub struct Postgres {
    /// What the report names: the URL redacted, or the settings found in
    /// the environment.
    shown: String,
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: SslMode,
    /// Read up front, so a bad CA, certificate or key file is reported
    /// before connecting.
    tls: Option<Tls>,
    query: String,
    ping: bool,
    primary: bool,
}

/// Settings from the command line that are not in the URL.
#[derive(Default)]
struct Flags {
    query: Option<String>,
    ping: bool,
    primary: bool,
    cacert: Option<String>,
}

impl Postgres {
    pub fn from_args(args: PostgresArgs) -> Result<(Postgres, Option<String>), String> {
        let flags = Flags {
            query: args.query,
            ping: args.ping,
            primary: args.primary,
            cacert: args.cacert,
        };
        Ok((Postgres::build(args.url.as_deref(), flags)?, args.timeout))
    }

    /// `postgres://` or `postgresql://`, as `berth wait` gets it.
    pub fn from_url(url: &str) -> Result<Postgres, String> {
        Postgres::build(Some(url), Flags::default())
    }

    fn build(url: Option<&str>, flags: Flags) -> Result<Postgres, String> {
        let env = |name: &str| crate::env::var(name).map_err(|e| e.to_string());
        let shown_url = url.map(redact);
        let mut sslmode = None;
        let mut ssl = SslParams::default();
        let config = match url {
            None => tokio_postgres::Config::new(),
            Some(url) => {
                let shown = shown_url.as_deref().unwrap_or_default();
                if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                    return Err(format!(
                        "'{shown}' is not a postgres:// or postgresql:// URL"
                    ));
                }
                let (url, params) = take_ssl_params(url)?;
                if let Some(mode) = &params.mode {
                    sslmode = Some(SslMode::parse(mode, "sslmode")?);
                }
                ssl = params;
                url.parse::<tokio_postgres::Config>()
                    .map_err(|e| format!("'{shown}' is not a valid PostgreSQL URL: {e}"))?
            }
        };

        // Parts the URL leaves out come from the libpq environment.
        // A host that starts with '/' is the directory of a Unix-domain
        // socket, as in libpq.
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(dir)) => dir.to_string_lossy().into_owned(),
            None => env("PGHOST")?
                .and_then(|h| h.split(',').next().map(str::to_string))
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "localhost".into()),
        };
        let port = match config.get_ports().first() {
            Some(p) => *p,
            None => match env("PGPORT")? {
                Some(p) => p
                    .trim()
                    .parse()
                    .map_err(|_| format!("PGPORT '{p}' is not a port number"))?,
                None => 5432,
            },
        };
        // libpq falls back to the OS user name; a container often has no
        // passwd entry, and "postgres" is the official image's superuser.
        let user = match config.get_user() {
            Some(u) => u.to_string(),
            None => env("PGUSER")?.unwrap_or_else(|| "postgres".into()),
        };
        let password = match config.get_password() {
            Some(p) => Some(
                String::from_utf8(p.to_vec())
                    .map_err(|_| "the password is not UTF-8".to_string())?,
            ),
            None => env("PGPASSWORD")?,
        };
        let dbname = match config.get_dbname() {
            Some(d) => Some(d.to_string()),
            None => env("PGDATABASE")?,
        };
        let rootcert = match (flags.cacert, ssl.rootcert) {
            (Some(c), _) | (None, Some(c)) => Some(c),
            (None, None) => env("PGSSLROOTCERT")?,
        };
        // "system" is libpq's word (16+) for the system's trusted roots; it
        // makes verify-full the default and refuses weaker modes.
        let system = rootcert.as_deref() == Some("system");
        let sslmode = match sslmode {
            Some(m) => m,
            None => match env("PGSSLMODE")? {
                Some(m) => SslMode::parse(&m, "PGSSLMODE")?,
                None if system => SslMode::VerifyFull,
                None => SslMode::Prefer,
            },
        };
        if system && sslmode != SslMode::VerifyFull && sslmode != SslMode::Disable {
            return Err(format!(
                "sslmode={} may not be used with sslrootcert=system (use verify-full)",
                sslmode.name()
            ));
        }
        let cacert = rootcert.filter(|_| !system);
        let cert = match ssl.cert {
            Some(c) => Some(c),
            None => env("PGSSLCERT")?,
        };
        let key = match ssl.key {
            Some(k) => Some(k),
            None => env("PGSSLKEY")?,
        };
        // libpq: with a root certificate file, require checks the chain as
        // verify-ca does (kept for compatibility with old servers' setups).
        let verify_chain = match sslmode {
            SslMode::Disable | SslMode::Prefer => false,
            SslMode::Require => cacert.is_some(),
            SslMode::VerifyCa | SslMode::VerifyFull => true,
        };
        let tls = match sslmode {
            SslMode::Disable => None,
            _ => Some(Tls::new(&TlsOptions {
                insecure: !verify_chain,
                skip_name: sslmode != SslMode::VerifyFull,
                system_roots: cacert.is_none(),
                cacert,
                cert,
                key,
                names: tls::LIBPQ,
                ..TlsOptions::default()
            })?),
        };

        let shown = shown_url.unwrap_or_else(|| {
            format!(
                "postgres://{user}@{}/{}",
                join_host_port(&host, port),
                dbname.as_deref().unwrap_or(&user)
            )
        });
        Ok(Postgres {
            shown,
            host,
            port,
            user,
            password,
            dbname,
            sslmode,
            tls,
            query: flags.query.unwrap_or_else(|| "SELECT 1".into()),
            ping: flags.ping,
            primary: flags.primary,
        })
    }
}

/// libpq URL parameters tokio-postgres does not know.
#[derive(Default)]
struct SslParams {
    mode: Option<String>,
    rootcert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// Takes the TLS parameters out of the URL's query: tokio-postgres rejects
/// verify-ca/verify-full and the file parameters, and they are ours to handle.
fn take_ssl_params(url: &str) -> Result<(String, SslParams), String> {
    let mut params = SslParams::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), params));
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || {
            percent_decode_str(value)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| format!("URL parameter {key} is not UTF-8"))
        };
        match key {
            "sslmode" => params.mode = Some(decoded()?),
            "sslrootcert" => params.rootcert = Some(decoded()?),
            "sslcert" => params.cert = Some(decoded()?),
            "sslkey" => params.key = Some(decoded()?),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, params))
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
        let (stream, peer) = self.open(attempt).await?;
        self.session(stream, peer.as_ref(), attempt).await
    }

    /// Connects and negotiates TLS as `sslmode` says; the stream is ready
    /// for the startup message. The peer, if TLS is on, words the TLS
    /// failures that come later (a refused client certificate in TLS 1.3).
    async fn open(&self, attempt: &Attempt) -> Result<(Box<dyn Stream>, Option<Peer>), String> {
        if self.host.starts_with('/') {
            // libpq never uses TLS on a local socket either.
            return Ok((Box::new(self.connect_local(attempt)?), None));
        }
        let mut socket = self.connect(attempt)?;
        let Some(tls) = &self.tls else {
            return Ok((Box::new(socket), None));
        };

        attempt.phase("waiting for the reply to the SSL request");
        let io = |e: std::io::Error| self.io_reason(&e);
        socket.write_all(&SSL_REQUEST).await.map_err(io)?;
        let mut answer = [0u8; 1];
        socket.read_exact(&mut answer).await.map_err(io)?;
        match answer[0] {
            b'S' => {}
            b'N' if self.sslmode == SslMode::Prefer => return Ok((Box::new(socket), None)),
            b'N' => {
                return Err(format!(
                    "server does not support SSL (sslmode={})",
                    self.sslmode.name()
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
        let peer = tls.peer(&self.host)?;
        let connector = tokio_rustls::TlsConnector::from(peer.config.clone());
        match connector.connect(peer.name.clone(), socket).await {
            Ok(stream) => Ok((Box::new(stream), Some(peer))),
            // libpq's prefer: a failed handshake is retried without TLS.
            Err(_) if self.sslmode == SslMode::Prefer => {
                Ok((Box::new(self.connect(attempt)?), None))
            }
            Err(e) => Err(peer.handshake_reason(&e, &[])),
        }
    }

    fn connect(&self, attempt: &Attempt) -> Result<tokio::net::TcpStream, String> {
        let socket = tcp::connect(&self.host, self.port, attempt)?;
        let fail = |e: std::io::Error| format!("socket: {}", crate::exit::io_reason(&e));
        socket.set_nonblocking(true).map_err(fail)?;
        tokio::net::TcpStream::from_std(socket).map_err(fail)
    }

    fn connect_local(&self, attempt: &Attempt) -> Result<tokio::net::UnixStream, String> {
        attempt.phase("while connecting");
        let path = format!("{}/.s.PGSQL.{}", self.host.trim_end_matches('/'), self.port);
        let socket =
            std::os::unix::net::UnixStream::connect(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!("no PostgreSQL socket at {path}"),
                std::io::ErrorKind::ConnectionRefused => format!("connection refused by {path}"),
                _ => format!("cannot connect to {path}: {}", crate::exit::io_reason(&e)),
            })?;
        let fail = |e: std::io::Error| format!("socket: {}", crate::exit::io_reason(&e));
        socket.set_nonblocking(true).map_err(fail)?;
        tokio::net::UnixStream::from_std(socket).map_err(fail)
    }

    /// The startup settings: user, database, and the password unless this
    /// is a ping (sending none spares the SCRAM key derivation, and the
    /// server's demand for one is the answer).
    fn config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .user(&self.user)
            .application_name("berth")
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        if let Some(db) = &self.dbname {
            config.dbname(db);
        }
        if let (Some(password), false) = (&self.password, self.ping) {
            config.password(password);
        }
        config
    }

    /// A logged-in session whose connection runs on the current (tokio)
    /// runtime: what `--pre-lock` holds its advisory lock on.
    pub async fn client(&self, attempt: &Attempt) -> Result<tokio_postgres::Client, String> {
        let (stream, peer) = self.open(attempt).await?;
        attempt.phase("during login");
        let (client, connection) = self
            .config()
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
        attempt: &Attempt,
    ) -> Result<String, String> {
        attempt.phase("during login");
        let connected = self.config().connect_raw(stream, NoTls).await;
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
            self.user,
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
                "28P01" => format!("authentication failed for user {}", self.user),
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
            return self.io_reason(io);
        }
        if text.starts_with("authentication error") {
            return format!("authentication failed for user {}: {text}", self.user);
        }
        if text.starts_with("unexpected message") || text.starts_with("error parsing") {
            return "not a PostgreSQL server (unexpected reply)".into();
        }
        if text == "connection closed" {
            return "connection closed by the server (not a PostgreSQL server?)".into();
        }
        text
    }

    fn io_reason(&self, e: &std::io::Error) -> String {
        use std::io::ErrorKind::*;
        match e.kind() {
            UnexpectedEof | ConnectionReset | BrokenPipe => {
                "connection closed by the server (not a PostgreSQL server?)".into()
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
    fn ssl_params_leave_the_url() {
        let (url, p) =
            take_ssl_params("postgres://a@h/db?sslmode=verify-full&sslrootcert=%2Fca.pem&x=1")
                .unwrap();
        assert_eq!(url, "postgres://a@h/db?x=1");
        assert_eq!(p.mode.as_deref(), Some("verify-full"));
        assert_eq!(p.rootcert.as_deref(), Some("/ca.pem"));
        let (url, p) = take_ssl_params("postgres://h?sslmode=disable").unwrap();
        assert_eq!(url, "postgres://h");
        assert_eq!(p.mode.as_deref(), Some("disable"));
    }

    #[test]
    fn bad_sslmode_is_an_error() {
        assert!(Postgres::from_url("postgres://h/db?sslmode=sometimes").is_err());
        assert!(Postgres::from_url("mysql://h/db").is_err());
    }
}
