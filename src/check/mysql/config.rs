//! What the mysql client would connect to: the URL (parsed by the one
//! grammar in `target.rs`), the TLS flags, then the environment the client
//! reads (`MYSQL_PWD`, `MYSQL_HOST`, `MYSQL_TCP_PORT`, `MYSQL_UNIX_PORT`),
//! then the defaults. A pure function of its inputs: the environment comes
//! in as a lookup, so every rule is unit-tested without a server.
//!
//! One difference from the mysql client, on purpose: the host `localhost`
//! is reached over TCP. A Unix socket is used when the URL names one
//! (`?socket=PATH`, or the host is a path, percent-encoded), or when no
//! host is given anywhere and `MYSQL_UNIX_PORT` names a socket.
//!
//! <https://dev.mysql.com/doc/refman/8.0/en/environment-variables.html>,
//! <https://dev.mysql.com/doc/refman/8.0/en/connection-options.html>

use crate::target::{Secret, Target, TlsSettings};

/// The mysql client's `--ssl-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    /// Upper or lower case, '-' or '_' (`verify-ca`, as libpq's users write).
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text.to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" | "DISABLE" | "FALSE" | "0" => SslMode::Disabled,
            "PREFERRED" | "PREFER" => SslMode::Preferred,
            "REQUIRED" | "REQUIRE" | "TRUE" | "1" => SslMode::Required,
            "VERIFY_CA" => SslMode::VerifyCa,
            "VERIFY_IDENTITY" | "VERIFY_FULL" => SslMode::VerifyIdentity,
            _ => {
                return Err("ssl-mode: expected DISABLED, PREFERRED, REQUIRED, \
                         VERIFY_CA or VERIFY_IDENTITY"
                    .into());
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disabled => "DISABLED",
            SslMode::Preferred => "PREFERRED",
            SslMode::Required => "REQUIRED",
            SslMode::VerifyCa => "VERIFY_CA",
            SslMode::VerifyIdentity => "VERIFY_IDENTITY",
        }
    }
}

/// Where the server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Tcp(String, u16),
    Socket(String),
}

/// Everything a connection needs, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub address: Address,
    pub user: String,
    pub password: Option<Secret>,
    /// The database to log in to (none: the server's default).
    pub database: Option<String>,
    pub ssl_mode: SslMode,
    /// TLS files and name: `ssl-ca` (or `--cacert`), `ssl-cert`, `ssl-key`,
    /// `--servername`; `insecure` is unused (the mode says it).
    pub tls: TlsSettings,
}

/// The default user: the official images' administrator (the mysql client
/// would take the login name, which a container rarely has).
pub const DEFAULT_USER: &str = "root";
const DEFAULT_PORT: u16 = 3306;

/// URL parameters the mysql client and common drivers know that do not
/// change what a health check does.
const IGNORED: &[&str] = &[
    "charset",
    "collation",
    "connect_timeout",
    "connecttimeout",
    "timeout",
    "readtimeout",
    "writetimeout",
    "compress",
    "parsetime",
    "loc",
    "allownativepasswords",
    "autocommit",
    "application_name",
];

/// The environment, as a lookup (`crate::env::var` in berth; a table in
/// the unit tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Result<Option<String>, String>;

/// A parameter's name as the different clients spell it, folded:
/// `ssl-mode`, `ssl_mode`, `sslMode` and `sslmode` are one.
fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Resolves a connection from `target` (None: all from the environment),
/// the TLS flags (which win over URL parameters) and the environment.
pub fn resolve(target: Option<&Target>, flags: &TlsSettings, env: Env) -> Result<Config, String> {
    let (mut host, mut port, mut user, mut password, mut database) = (None, None, None, None, None);
    let (mut socket, mut mode, mut tls) = (None, None, TlsSettings::default());
    if let Some(t) = target {
        if let Some(h) = t.hosts.first() {
            host = Some(h.name.clone());
            port = h.port;
        }
        user = t.user.clone();
        password = t.secret().cloned();
        let db = t.path.trim_start_matches('/');
        if !db.is_empty() {
            let db = percent_encoding::percent_decode_str(db)
                .decode_utf8()
                .map_err(|_| format!("{} URL: the database name is not UTF-8", t.scheme.name))?;
            database = Some(db.into_owned());
        }
        for (key, value) in t.params().map_err(|e| e.to_string())? {
            match fold(&key).as_str() {
                "password" => password = password.or(Some(Secret::new(value))),
                "user" => user = user.or(Some(value)),
                "database" | "dbname" => database = database.or(Some(value)),
                "socket" => socket = Some(value),
                "sslmode" => mode = Some(SslMode::parse(&value)?),
                // Go's driver: tls=true|false|skip-verify|preferred.
                "tls" => {
                    mode = Some(match value.as_str() {
                        "skip-verify" => SslMode::Required,
                        "true" => SslMode::VerifyIdentity,
                        other => SslMode::parse(other)?,
                    })
                }
                "ssl" => mode = Some(SslMode::parse(&value)?),
                "sslca" | "sslrootcert" => tls.cacert = Some(value),
                "sslcert" => tls.cert = Some(value),
                "sslkey" => tls.key = Some(value),
                "sslverifyservercert" if matches!(value.as_str(), "1" | "true") => {
                    mode = Some(SslMode::VerifyIdentity)
                }
                k if IGNORED.contains(&k) => {}
                _ => {
                    return Err(t
                        .unknown_param(
                            &key,
                            "the mysql client's, e.g. ssl-mode, ssl-ca, ssl-cert, ssl-key, socket",
                        )
                        .to_string());
                }
            }
        }
    }

    // The host as a path is a socket (mysql://u@%2Frun%2Fmysqld.sock/db).
    if host.as_deref().is_some_and(|h| h.starts_with('/')) {
        socket = host.take();
    }
    let env_host = match &host {
        Some(_) => None,
        None => env("MYSQL_HOST")?.filter(|h| !h.is_empty()),
    };
    if socket.is_none() && host.is_none() && env_host.is_none() {
        socket = env("MYSQL_UNIX_PORT")?.filter(|s| !s.is_empty());
    }
    let address = match socket {
        Some(path) => Address::Socket(path),
        None => {
            let port = match port {
                Some(p) => p,
                None => match env("MYSQL_TCP_PORT")? {
                    Some(p) => p
                        .trim()
                        .parse()
                        .map_err(|_| "MYSQL_TCP_PORT: not a port number (0-65535)")?,
                    None => DEFAULT_PORT,
                },
            };
            let host = host.or(env_host).unwrap_or_else(|| "127.0.0.1".into());
            Address::Tcp(host, port)
        }
    };
    if password.is_none() {
        password = env("MYSQL_PWD")?.map(Secret::new);
    }

    let tls = flags.clone().or(tls);
    // The mysql client's defaults: PREFERRED; a CA file asks for it to be
    // used (VERIFY_CA), a name to verify for VERIFY_IDENTITY, --insecure
    // for encryption without verification.
    let ssl_mode = match (mode, flags.insecure) {
        (_, true) => SslMode::Required,
        (Some(m), false) => m,
        (None, false) if tls.servername.is_some() => SslMode::VerifyIdentity,
        (None, false) if tls.cacert.is_some() => SslMode::VerifyCa,
        (None, false) => SslMode::Preferred,
    };
    let plain = matches!(ssl_mode, SslMode::Preferred | SslMode::Disabled);
    if matches!(address, Address::Socket(_)) && !plain {
        return Err(format!(
            "ssl-mode={}: berth speaks TLS over TCP only, not over a Unix socket",
            ssl_mode.name()
        ));
    }
    Ok(Config {
        address,
        user: user.unwrap_or_else(|| DEFAULT_USER.into()),
        password,
        database,
        ssl_mode,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: Option<&str>, vars: &'static [(&'static str, &'static str)]) -> Config {
        try_config(url, vars).unwrap()
    }

    fn try_config(
        url: Option<&str>,
        vars: &'static [(&'static str, &'static str)],
    ) -> Result<Config, String> {
        let target = url.map(|u| Target::parse(u).unwrap());
        resolve(
            target.as_ref(),
            &TlsSettings::default(),
            &crate::env::fixed(vars),
        )
    }

    #[test]
    fn url_then_environment_then_defaults() {
        let c = config(
            Some("mysql://app:pw@db:3307/shop"),
            &[("MYSQL_HOST", "x"), ("MYSQL_PWD", "y")],
        );
        assert_eq!(c.address, Address::Tcp("db".into(), 3307));
        assert_eq!(c.user, "app");
        assert_eq!(c.password.unwrap().expose(), "pw");
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.ssl_mode, SslMode::Preferred);
        let c = config(
            None,
            &[
                ("MYSQL_HOST", "h"),
                ("MYSQL_TCP_PORT", "3310"),
                ("MYSQL_PWD", "p"),
                ("MYSQL_UNIX_PORT", "/s"),
            ],
        );
        assert_eq!(c.address, Address::Tcp("h".into(), 3310));
        assert_eq!(
            (c.user.as_str(), c.password.unwrap().expose()),
            ("root", "p")
        );
        let c = config(Some("mariadb://"), &[]);
        assert_eq!(c.address, Address::Tcp("127.0.0.1".into(), 3306));
        assert_eq!(c.database, None);
    }

    #[test]
    fn sockets() {
        let c = config(None, &[("MYSQL_UNIX_PORT", "/run/mysqld/mysqld.sock")]);
        assert_eq!(c.address, Address::Socket("/run/mysqld/mysqld.sock".into()));
        let c = config(Some("mysql://app@localhost/db?socket=/tmp/m.sock"), &[]);
        assert_eq!(c.address, Address::Socket("/tmp/m.sock".into()));
        let c = config(Some("mysql://app@%2Ftmp%2Fm.sock/db"), &[]);
        assert_eq!(c.address, Address::Socket("/tmp/m.sock".into()));
        // A host in the URL wins over the socket variable.
        let c = config(Some("mysql://db"), &[("MYSQL_UNIX_PORT", "/s")]);
        assert_eq!(c.address, Address::Tcp("db".into(), 3306));
        assert!(try_config(Some("mysql://u@h/?socket=/s&ssl-mode=REQUIRED"), &[]).is_err());
    }

    #[test]
    fn tls_modes() {
        let c = config(
            Some("mysql://h/?ssl-mode=verify_identity&ssl-ca=/ca.pem"),
            &[],
        );
        assert_eq!(c.ssl_mode, SslMode::VerifyIdentity);
        assert_eq!(c.tls.cacert.as_deref(), Some("/ca.pem"));
        assert_eq!(
            config(Some("mysql://h/?sslmode=DISABLED"), &[]).ssl_mode,
            SslMode::Disabled
        );
        assert_eq!(
            config(Some("mysql://h/?ssl_ca=/c"), &[]).ssl_mode,
            SslMode::VerifyCa
        );
        assert_eq!(
            config(Some("mysql://h/?tls=skip-verify"), &[]).ssl_mode,
            SslMode::Required
        );
        assert!(try_config(Some("mysql://h/?ssl-mode=sometimes"), &[]).is_err());
        assert!(try_config(Some("mysql://h/?bogus=1"), &[]).is_err());
        let flags = TlsSettings {
            insecure: true,
            ..TlsSettings::default()
        };
        let t = Target::parse("mysql://h/?ssl-mode=VERIFY_CA").unwrap();
        let c = resolve(Some(&t), &flags, &crate::env::fixed(&[])).unwrap();
        assert_eq!(c.ssl_mode, SslMode::Required);
    }
}
