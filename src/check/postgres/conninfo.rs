//! What libpq would connect to: the URL (parsed by the one grammar in
//! `target.rs`), then the environment (`PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, `PGDATABASE`, `PGSSL*`), then the password file
//! (`PGPASSFILE` or `~/.pgpass`), then the defaults. A pure function of its
//! inputs: the environment comes in as a lookup, so every rule is
//! unit-tested without a server.
//!
//! <https://www.postgresql.org/docs/current/libpq-connect.html>,
//! <https://www.postgresql.org/docs/current/libpq-pgpass.html>

use crate::target::{Secret, Target, TlsSettings};

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
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
            _ => {
                return Err(format!(
                    "{source}: expected disable, allow, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// One host of the list: a name or address, or a Unix socket's directory
/// (starts with '/'), with its port and its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgHost {
    pub host: String,
    pub port: u16,
    /// From the URL, PGPASSWORD, or the password file's line for this host.
    pub password: Option<Secret>,
}

/// TLS as libpq resolves it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PgTls {
    /// Verify the chain (verify-ca, verify-full, or require with a root
    /// certificate file).
    pub verify_chain: bool,
    /// Verify the name too (verify-full).
    pub verify_name: bool,
    /// `sslrootcert` (None: the system's CAs).
    pub rootcert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    /// The name to verify instead of the host (`--servername`).
    pub servername: Option<String>,
}

/// Everything a connection needs, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// Tried in order.
    pub hosts: Vec<PgHost>,
    pub user: String,
    pub dbname: String,
    pub sslmode: SslMode,
    pub tls: PgTls,
}

/// URL parameters libpq knows that do not change what a health check does
/// (accepted and ignored, as tokio-postgres would refuse them).
const IGNORED: &[&str] = &[
    "application_name",
    "fallback_application_name",
    "connect_timeout",
    "client_encoding",
    "options",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "load_balance_hosts",
    "channel_binding",
    "gssencmode",
    "sslcompression",
    "sslsni",
    "sslcrl",
    "sslcrldir",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslnegotiation",
    "krbsrvname",
    "gsslib",
    "requirepeer",
    "replication",
    "service",
];

/// The environment, as a lookup (`crate::env::var` in berth; a table in
/// the unit tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Result<Option<String>, String>;

/// Resolves a connection as libpq does from `target` (None: everything
/// from the environment), the TLS flags (which win over URL parameters and
/// variables) and the environment. `pgpass` reads the password file
/// (PGPASSFILE or `$HOME/.pgpass`) when a password is still missing.
pub fn resolve(
    target: Option<&Target>,
    flags: &TlsSettings,
    env: Env,
    pgpass: &dyn Fn(&str) -> Option<String>,
) -> Result<ConnInfo, String> {
    let mut host_list: Vec<(String, Option<u16>)> = Vec::new();
    let (mut user, mut password, mut dbname) = (None, None, None);
    let mut params = Params::default();
    if let Some(t) = target {
        host_list = t.hosts.iter().map(|h| (h.name.clone(), h.port)).collect();
        user = t.user.clone();
        password = t.secret().cloned();
        let db = t.path.trim_start_matches('/');
        if !db.is_empty() {
            let db = percent_encoding::percent_decode_str(db)
                .decode_utf8()
                .map_err(|_| "postgres URL: the database name is not UTF-8 once decoded")?;
            dbname = Some(db.into_owned());
        }
        for (key, value) in t.params().map_err(|e| e.to_string())? {
            match key.as_str() {
                "password" => password = password.or(Some(Secret::new(value))),
                "user" => user = user.or(Some(value)),
                "dbname" => dbname = dbname.or(Some(value)),
                "host" => params.host = Some(value),
                "hostaddr" => params.host = params.host.or(Some(value)),
                "port" => params.port = Some(value),
                "sslmode" => params.sslmode = Some(value),
                "sslrootcert" => params.rootcert = Some(value),
                "sslcert" => params.cert = Some(value),
                "sslkey" => params.key = Some(value),
                k if IGNORED.contains(&k) => {}
                k => {
                    return Err(t
                        .unknown_param(k, "libpq's, e.g. sslmode, sslrootcert, password")
                        .to_string());
                }
            }
        }
    }

    // Hosts: the URL's authority, else ?host=, else PGHOST, else localhost.
    let listed = |text: &str| -> Vec<(String, Option<u16>)> {
        text.split(',')
            .map(|h| (h.trim().to_string(), None))
            .collect()
    };
    if host_list.iter().all(|(h, _)| h.is_empty()) {
        let from = match params.host.take() {
            Some(h) => Some(h),
            None => env("PGHOST")?,
        };
        if let Some(text) = from.filter(|h| !h.is_empty()) {
            let ports: Vec<Option<u16>> = host_list.iter().map(|h| h.1).collect();
            host_list = listed(&text);
            if ports.len() == host_list.len() {
                for (h, p) in host_list.iter_mut().zip(ports) {
                    h.1 = p;
                }
            }
        }
    }
    if host_list.is_empty() {
        host_list.push((String::new(), None));
    }
    // Ports: each host's own, else ?port= or PGPORT (one for all, or one
    // per host), else 5432.
    let port_text = match params.port.take() {
        Some(p) => Some((p, "port")),
        None => env("PGPORT")?.map(|p| (p, "PGPORT")),
    };
    let ports: Vec<u16> = match &port_text {
        None => Vec::new(),
        Some((text, source)) => text
            .split(',')
            .map(|p| {
                p.trim()
                    .parse()
                    .map_err(|_| format!("{source}: not a port number (0-65535)"))
            })
            .collect::<Result<_, _>>()?,
    };
    if ports.len() > 1 && ports.len() != host_list.len() {
        return Err(format!(
            "{} ports for {} hosts: give one port, or one per host",
            ports.len(),
            host_list.len()
        ));
    }

    // libpq falls back to the OS user name; a container often has no
    // passwd entry, and "postgres" is the official image's superuser.
    let user = match user {
        Some(u) => u,
        None => env("PGUSER")?.unwrap_or_else(|| "postgres".into()),
    };
    let dbname = match dbname {
        Some(d) => d,
        None => env("PGDATABASE")?.unwrap_or_else(|| user.clone()),
    };
    if password.is_none() {
        password = env("PGPASSWORD")?.map(Secret::new);
    }

    let mut hosts = Vec::new();
    for (i, (host, port)) in host_list.into_iter().enumerate() {
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        let port = port
            .or_else(|| match ports.len() {
                0 => None,
                1 => Some(ports[0]),
                _ => Some(ports[i]),
            })
            .unwrap_or(5432);
        let password = password.clone().or_else(|| {
            // The password file names a socket directory's host "localhost".
            let name = if host.starts_with('/') {
                "localhost"
            } else {
                &host
            };
            pgpass(&format!("{name}\n{port}\n{dbname}\n{user}")).map(Secret::new)
        });
        hosts.push(PgHost {
            host,
            port,
            password,
        });
    }

    let tls = tls(&params, flags, env)?;
    Ok(ConnInfo {
        hosts,
        user,
        dbname,
        sslmode: tls.0,
        tls: tls.1,
    })
}

/// URL parameters that need the environment's counterparts beside them.
#[derive(Default)]
struct Params {
    host: Option<String>,
    port: Option<String>,
    sslmode: Option<String>,
    rootcert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// libpq's TLS: `sslmode`, `sslrootcert`, `sslcert`, `sslkey` from the flags
/// (`--insecure` is sslmode=require, `--cacert` sslrootcert, `--cert`
/// sslcert, `--key` sslkey), the URL, or `PGSSL*`.
fn tls(params: &Params, flags: &TlsSettings, env: Env) -> Result<(SslMode, PgTls), String> {
    let or_env = |given: Option<String>, var: &str| match given {
        Some(v) => Ok(Some(v)),
        None => env(var),
    };
    let rootcert = or_env(
        flags.cacert.clone().or(params.rootcert.clone()),
        "PGSSLROOTCERT",
    )?;
    // "system" is libpq's word (16+) for the system's trusted roots; it
    // makes verify-full the default and refuses weaker modes.
    let system = rootcert.as_deref() == Some("system");
    let sslmode = match (&params.sslmode, flags.insecure) {
        (_, true) => SslMode::Require,
        (Some(m), false) => SslMode::parse(m, "sslmode")?,
        (None, false) => match env("PGSSLMODE")? {
            Some(m) => SslMode::parse(&m, "PGSSLMODE")?,
            None if system => SslMode::VerifyFull,
            None if flags.servername.is_some() => SslMode::VerifyFull,
            None => SslMode::Prefer,
        },
    };
    if system && !matches!(sslmode, SslMode::VerifyFull | SslMode::Disable) {
        return Err(format!(
            "sslmode={} may not be used with sslrootcert=system (use verify-full)",
            sslmode.name()
        ));
    }
    let rootcert = rootcert.filter(|_| !system);
    // libpq: with a root certificate file, require checks the chain as
    // verify-ca does (kept for compatibility with old servers' setups).
    let verify_chain = match sslmode {
        SslMode::Disable | SslMode::Prefer => false,
        SslMode::Require => rootcert.is_some() && !flags.insecure,
        SslMode::VerifyCa | SslMode::VerifyFull => true,
    };
    Ok((
        sslmode,
        PgTls {
            verify_chain,
            verify_name: sslmode == SslMode::VerifyFull,
            rootcert,
            cert: or_env(flags.cert.clone().or(params.cert.clone()), "PGSSLCERT")?,
            key: or_env(flags.key.clone().or(params.key.clone()), "PGSSLKEY")?,
            servername: flags.servername.clone(),
        },
    ))
}

/// The password for `host`, `port`, `db` and `user` (given as one string,
/// newline-separated) from a password file's text: the first line whose
/// fields all match, `*` matching anything; `\` escapes ':' and '\'.
pub fn pgpass_lookup(text: &str, wanted: &str) -> Option<String> {
    let wanted: Vec<&str> = wanted.split('\n').collect();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(&wanted)
            .all(|(f, w)| f == "*" || f == w);
        if matches {
            return Some(fields[4].clone());
        }
    }
    None
}

/// A password-file line split at unescaped ':' (the password, last, keeps
/// any further ':').
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap_or(&mut String::new()).push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

/// The password file's text: `PGPASSFILE`, or `$HOME/.pgpass`. libpq
/// ignores a file that others may read (mode beyond 0600), and so do we.
pub fn read_pgpass(env: Env) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = match env("PGPASSFILE").ok().flatten() {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::Path::new(&env("HOME").ok().flatten()?).join(".pgpass"),
    };
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    std::fs::read_to_string(&path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        url: Option<&str>,
        vars: &'static [(&'static str, &'static str)],
        pgpass: &str,
    ) -> Result<ConnInfo, String> {
        let target = url.map(|u| Target::parse(u).unwrap());
        let env = crate::env::fixed(vars);
        let pass = |wanted: &str| pgpass_lookup(pgpass, wanted);
        resolve(target.as_ref(), &TlsSettings::default(), &env, &pass)
    }

    fn hosts(i: &ConnInfo) -> Vec<(String, u16, Option<String>)> {
        i.hosts
            .iter()
            .map(|h| {
                (
                    h.host.clone(),
                    h.port,
                    h.password.as_ref().map(|p| p.expose().to_string()),
                )
            })
            .collect()
    }

    #[test]
    fn url_then_environment_then_defaults() {
        let i = info(
            Some("postgres://app:pw@db:6000/shop"),
            &[("PGHOST", "x"), ("PGUSER", "y")],
            "",
        )
        .unwrap();
        assert_eq!(hosts(&i), vec![("db".into(), 6000, Some("pw".into()))]);
        assert_eq!(
            (i.user.as_str(), i.dbname.as_str(), i.sslmode),
            ("app", "shop", SslMode::Prefer)
        );
        let i = info(
            None,
            &[
                ("PGHOST", "h"),
                ("PGPORT", "7000"),
                ("PGUSER", "u"),
                ("PGPASSWORD", "p"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(hosts(&i), vec![("h".into(), 7000, Some("p".into()))]);
        assert_eq!(i.dbname, "u");
        let i = info(Some("postgres://"), &[], "").unwrap();
        assert_eq!(hosts(&i), vec![("localhost".into(), 5432, None)]);
        assert_eq!(
            (i.user.as_str(), i.dbname.as_str()),
            ("postgres", "postgres")
        );
    }

    #[test]
    fn password_in_the_query() {
        let i = info(
            Some("postgres://app@db/shop?password=s%3Acret&sslmode=disable"),
            &[],
            "",
        )
        .unwrap();
        assert_eq!(hosts(&i)[0].2.as_deref(), Some("s:cret"));
        assert_eq!(i.sslmode, SslMode::Disable);
    }

    #[test]
    fn several_hosts_in_order() {
        let i = info(
            Some("postgres://u@h1:1,h2,[::1]:3/db"),
            &[("PGPORT", "9")],
            "",
        )
        .unwrap();
        let ports: Vec<(String, u16)> = i.hosts.iter().map(|h| (h.host.clone(), h.port)).collect();
        assert_eq!(
            ports,
            vec![("h1".into(), 1), ("h2".into(), 9), ("::1".into(), 3)]
        );
        let i = info(None, &[("PGHOST", "a,b"), ("PGPORT", "1,2")], "").unwrap();
        let ports: Vec<u16> = i.hosts.iter().map(|h| h.port).collect();
        assert_eq!(ports, vec![1, 2]);
        assert!(info(None, &[("PGHOST", "a,b"), ("PGPORT", "1,2,3")], "").is_err());
        let i = info(Some("postgres:///db?host=/run/pg&port=6432"), &[], "").unwrap();
        assert_eq!(hosts(&i), vec![("/run/pg".into(), 6432, None)]);
    }

    #[test]
    fn password_file() {
        let file = "# comment\nother:*:*:*:no\ndb:5432:shop:app:a\\:b\\\\c:d\n*:*:*:app:fallback\n";
        let i = info(Some("postgres://app@db/shop"), &[], file).unwrap();
        assert_eq!(hosts(&i)[0].2.as_deref(), Some("a:b\\c:d"));
        let i = info(Some("postgres://app@elsewhere/shop"), &[], file).unwrap();
        assert_eq!(hosts(&i)[0].2.as_deref(), Some("fallback"));
        // The URL's or PGPASSWORD's password wins.
        let i = info(
            Some("postgres://app@db/shop"),
            &[("PGPASSWORD", "env")],
            file,
        )
        .unwrap();
        assert_eq!(hosts(&i)[0].2.as_deref(), Some("env"));
        // A socket directory is "localhost" in the file.
        let i = info(
            Some("postgres://app@%2Frun%2Fpg/x"),
            &[],
            "localhost:5432:x:app:sock\n",
        )
        .unwrap();
        assert_eq!(hosts(&i)[0].2.as_deref(), Some("sock"));
    }

    #[test]
    fn tls_modes() {
        let i = info(
            Some("postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem"),
            &[],
            "",
        )
        .unwrap();
        assert!(i.tls.verify_chain && i.tls.verify_name);
        assert_eq!(i.tls.rootcert.as_deref(), Some("/ca.pem"));
        let i = info(
            Some("postgres://h/db?sslmode=require"),
            &[("PGSSLROOTCERT", "/ca.pem")],
            "",
        )
        .unwrap();
        assert!(i.tls.verify_chain && !i.tls.verify_name);
        let i = info(Some("postgres://h/db?sslrootcert=system"), &[], "").unwrap();
        assert_eq!(i.sslmode, SslMode::VerifyFull);
        assert!(
            info(
                Some("postgres://h/db?sslrootcert=system&sslmode=require"),
                &[],
                ""
            )
            .is_err()
        );
        assert!(info(Some("postgres://h/db?sslmode=sometimes"), &[], "").is_err());
        assert!(info(Some("postgres://h/db?bogus=1"), &[], "").is_err());
        let i = info(
            Some("postgres://h/db?application_name=x&connect_timeout=3"),
            &[],
            "",
        )
        .unwrap();
        assert_eq!(i.sslmode, SslMode::Prefer);
    }
}
