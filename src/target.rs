//! The one URL grammar: every scheme berth understands, parsed the same way
//! into a [`Target`] whose `Display` cannot print a secret.
//!
//! Rules that live here and nowhere else:
//! - the scheme table ([`SCHEMES`]): `check URL`, `wait`, `run --wait`, the
//!   help text and the README follow it (tests pin the last two);
//! - where a secret may hide: the password of the user info, a bare user
//!   info where the protocol reads it as the password (redis-cli does), and
//!   query parameters that carry secrets (`password=`, libpq's);
//! - how a URL is printed: from its parsed parts, secrets as `****`, the
//!   fragment (berth's TLS settings) left out;
//! - how a URL that does not parse is named in an error ([`sketch`]): every
//!   part that could be a secret masked, so no raw URL string is ever
//!   printed;
//! - how TLS settings reach a target: one [`TlsSettings`] from the flags or
//!   the URL fragment, and one error for them on a plain-text scheme;
//! - how a list of URLs in one variable (`BERTH_WAIT`) is split ([`split_list`]).

use std::fmt;

use percent_encoding::percent_decode_str;

/// What a scheme is checked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Http,
    HttpUnix,
    Postgres,
    Mysql,
    Redis,
    Grpc,
    Amqp,
    Nats,
    Memcached,
    Tcp,
    File,
}

/// One row of the scheme table.
#[derive(Debug, PartialEq, Eq)]
pub struct Scheme {
    pub name: &'static str,
    pub kind: Kind,
    /// The scheme itself means TLS (`https`, `rediss`, `grpcs`).
    pub tls: bool,
    /// The port when the URL names none; `None`: the URL must name one.
    pub default_port: Option<u16>,
    /// TLS settings (flags, URL fragment) make sense here: a TLS scheme, or
    /// `http://`, whose redirects may lead to `https://`.
    pub takes_tls: bool,
    /// The TLS twin of a plain-text scheme, named when TLS settings are
    /// given to the plain one.
    pub tls_twin: Option<&'static str>,
    /// A user info without ':' is the password (redis-cli's reading).
    pub bare_userinfo_is_secret: bool,
    /// Several comma-separated hosts, tried in order (libpq).
    pub many_hosts: bool,
    /// The URL must name a host (`file://` has none, PostgreSQL and Redis
    /// have defaults).
    pub needs_host: bool,
}

const fn row(name: &'static str, kind: Kind) -> Scheme {
    Scheme {
        name,
        kind,
        tls: false,
        default_port: None,
        takes_tls: false,
        tls_twin: None,
        bare_userinfo_is_secret: false,
        many_hosts: false,
        needs_host: true,
    }
}

/// Every scheme `check URL...`, `wait` and `run --wait` accept.
pub const SCHEMES: &[Scheme] = &[
    Scheme {
        default_port: Some(80),
        takes_tls: true,
        ..row("http", Kind::Http)
    },
    Scheme {
        tls: true,
        default_port: Some(443),
        takes_tls: true,
        ..row("https", Kind::Http)
    },
    Scheme {
        default_port: Some(80),
        ..row("http+unix", Kind::HttpUnix)
    },
    Scheme {
        default_port: Some(5432),
        many_hosts: true,
        needs_host: false,
        ..row("postgres", Kind::Postgres)
    },
    Scheme {
        default_port: Some(5432),
        many_hosts: true,
        needs_host: false,
        ..row("postgresql", Kind::Postgres)
    },
    Scheme {
        default_port: Some(3306),
        needs_host: false,
        ..row("mysql", Kind::Mysql)
    },
    Scheme {
        default_port: Some(3306),
        needs_host: false,
        ..row("mariadb", Kind::Mysql)
    },
    Scheme {
        default_port: Some(6379),
        tls_twin: Some("rediss"),
        bare_userinfo_is_secret: true,
        needs_host: false,
        ..row("redis", Kind::Redis)
    },
    Scheme {
        tls: true,
        default_port: Some(6379),
        takes_tls: true,
        bare_userinfo_is_secret: true,
        needs_host: false,
        ..row("rediss", Kind::Redis)
    },
    Scheme {
        default_port: Some(6379),
        tls_twin: Some("valkeys"),
        bare_userinfo_is_secret: true,
        needs_host: false,
        ..row("valkey", Kind::Redis)
    },
    Scheme {
        tls: true,
        default_port: Some(6379),
        takes_tls: true,
        bare_userinfo_is_secret: true,
        needs_host: false,
        ..row("valkeys", Kind::Redis)
    },
    Scheme {
        tls_twin: Some("grpcs"),
        ..row("grpc", Kind::Grpc)
    },
    Scheme {
        tls: true,
        takes_tls: true,
        ..row("grpcs", Kind::Grpc)
    },
    Scheme {
        default_port: Some(5672),
        tls_twin: Some("amqps"),
        ..row("amqp", Kind::Amqp)
    },
    Scheme {
        tls: true,
        default_port: Some(5671),
        takes_tls: true,
        ..row("amqps", Kind::Amqp)
    },
    // A user info without ':' is a token, as NATS clients read it.
    Scheme {
        default_port: Some(4222),
        tls_twin: Some("tls"),
        bare_userinfo_is_secret: true,
        ..row("nats", Kind::Nats)
    },
    // NATS with TLS: `tls://` is the scheme NATS clients take for it.
    Scheme {
        tls: true,
        default_port: Some(4222),
        takes_tls: true,
        bare_userinfo_is_secret: true,
        ..row("tls", Kind::Nats)
    },
    Scheme {
        default_port: Some(11211),
        ..row("memcached", Kind::Memcached)
    },
    row("tcp", Kind::Tcp),
    Scheme {
        needs_host: false,
        ..row("file", Kind::File)
    },
];

/// Query parameters whose values are secrets, whatever the scheme: they
/// are printed as `****`.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "sslpassword",
    "pass",
    "passwd",
    "pwd",
    "secret",
    "token",
    "access_token",
    "auth",
    "api_key",
    "apikey",
];

/// Whether `text` is written as a URL (`SCHEME://...`), as opposed to a
/// bare address, a flag or a check's name.
pub fn looks_like_url(text: &str) -> bool {
    text.split_once("://").is_some_and(|(s, _)| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
    })
}

/// The scheme table's names, comma-separated, for messages.
pub fn scheme_names() -> String {
    let names: Vec<&str> = SCHEMES.iter().map(|s| s.name).collect();
    names.join(", ")
}

/// The row for `name` (case-insensitive).
pub fn scheme(name: &str) -> Option<&'static Scheme> {
    SCHEMES.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// A secret: its `Debug` prints `****` and it has no `Display`, so it can
/// only be printed on purpose.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(text)
    }

    /// The secret itself, to send to the server and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// One host of the authority, percent-decoded, IPv6 without brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// As written; the scheme's default applies when `None`.
    pub port: Option<u16>,
}

/// TLS settings, whether from the flags (`--insecure --cacert --cert --key
/// --servername`) or a URL fragment (`#cacert=FILE&cert=FILE&key=FILE&
/// servername=NAME&insecure`, how wait targets carry them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub insecure: bool,
    pub cacert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub servername: Option<String>,
}

impl TlsSettings {
    pub fn is_empty(&self) -> bool {
        *self == TlsSettings::default()
    }

    /// These settings, each one missing taken from `other` (flags win over
    /// the URL fragment).
    pub fn or(self, other: TlsSettings) -> TlsSettings {
        TlsSettings {
            insecure: self.insecure || other.insecure,
            cacert: self.cacert.or(other.cacert),
            cert: self.cert.or(other.cert),
            key: self.key.or(other.key),
            servername: self.servername.or(other.servername),
        }
    }

    /// The names of the settings given, for messages.
    fn given(&self) -> String {
        let mut names = Vec::new();
        for (on, name) in [
            (self.insecure, "--insecure"),
            (self.cacert.is_some(), "--cacert"),
            (self.cert.is_some(), "--cert"),
            (self.key.is_some(), "--key"),
            (self.servername.is_some(), "--servername"),
        ] {
            if on {
                names.push(name);
            }
        }
        names.join(", ")
    }

    /// Settings from a URL fragment. Only a known setting's name is ever
    /// echoed: after an unencoded '#' in a password, the rest of the
    /// password reads as the fragment.
    fn from_fragment(fragment: &str) -> Result<TlsSettings, String> {
        let mut tls = TlsSettings::default();
        for pair in fragment.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = match key {
                "insecure" | "cacert" | "cert" | "key" | "servername" => key,
                _ => {
                    return Err("unknown TLS setting after '#' \
                         (expected cacert=, cert=, key=, servername= or insecure)"
                        .into());
                }
            };
            let value = decode(value).map_err(|_| format!("the value of {key} is not UTF-8"))?;
            let need = |v: String| match v.is_empty() {
                true => Err(format!("TLS setting {key} needs a value ({key}=...)")),
                false => Ok(Some(v)),
            };
            match key {
                "insecure" if matches!(value.as_str(), "" | "1" | "true") => tls.insecure = true,
                "insecure" => {
                    return Err("TLS setting insecure takes no value but 1 or true".into());
                }
                "cacert" => tls.cacert = need(value)?,
                "cert" => tls.cert = need(value)?,
                "key" => tls.key = need(value)?,
                _ => tls.servername = need(value)?,
            }
        }
        Ok(tls)
    }
}

/// A parsed URL. Fields hold decoded text; the secret is apart, and
/// `Display` prints the URL with it (and every secret query value) masked.
#[derive(Clone, Debug)]
pub struct Target {
    pub scheme: &'static Scheme,
    /// At least one unless the scheme allows none (`needs_host`).
    pub hosts: Vec<Host>,
    pub user: Option<String>,
    secret: Option<Secret>,
    /// The user info is printed as `****` as a whole: the secret came as a
    /// bare user info (`redis://SECRET@host`), or the user name holds an
    /// unencoded '@' or '/'.
    bare_secret: bool,
    /// As written (still percent-encoded), "" or starting with '/'.
    pub path: String,
    /// As written (still percent-encoded), without the '?'.
    pub query: Option<String>,
    /// TLS settings from the fragment.
    pub tls: TlsSettings,
}

/// Why a URL did not parse. Its text never holds any part of the input
/// but the scheme's name from the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(text: impl Into<String>) -> Result<T, Error> {
    Err(Error(text.into()))
}

fn decode(text: &str) -> Result<String, std::str::Utf8Error> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|v| v.into_owned())
}

impl Target {
    /// Parses `text` by the grammar of its scheme.
    pub fn parse(text: &str) -> Result<Target, Error> {
        let Some((name, rest)) = text.split_once("://") else {
            return err(format!(
                "not a URL: expected SCHEME://..., e.g. tcp://db:5432 or http://api:8000/health (schemes: {})",
                scheme_names()
            ));
        };
        let Some(scheme) = scheme(name) else {
            // A scheme's name is no secret, if it is a plain word.
            let shown = match printable_key(name).starts_with('\'') {
                true => format!(" '{name}://'"),
                false => String::new(),
            };
            return err(format!("unknown scheme{shown} (use {})", scheme_names()));
        };
        Target::parse_rest(scheme, rest)
    }

    /// Parses `text` for a command that checks one kind of target: a URL
    /// of a scheme of that kind, or, when `bare` names a scheme, an address
    /// without a scheme (`check tcp db:5432`, `check grpc api:50051`).
    pub fn parse_for(
        text: &str,
        kinds: &[Kind],
        bare: Option<&'static str>,
    ) -> Result<Target, Error> {
        let target = match (text.contains("://"), bare.and_then(scheme)) {
            (false, Some(default)) => Target::parse_rest(default, text)?,
            _ => Target::parse(text)?,
        };
        if !kinds.contains(&target.scheme.kind) {
            let names: Vec<&str> = SCHEMES
                .iter()
                .filter(|s| kinds.contains(&s.kind))
                .map(|s| s.name)
                .collect();
            return err(format!(
                "{}:// is not for this check: use {}://",
                target.scheme.name,
                names.join("://, ")
            ));
        }
        Ok(target)
    }

    /// The URL as a client library sends it: no user info, no fragment,
    /// `host` in place of the URL's own when given (`localhost` for a Unix
    /// socket's HTTP), the scheme's default port when the URL names none.
    pub fn request_url(&self, host: Option<&str>) -> Result<String, Error> {
        let (own, port) = self.host()?;
        let scheme = match self.scheme.kind {
            Kind::HttpUnix => "http",
            _ => self.scheme.name,
        };
        let authority = match host {
            Some(h) => h.to_string(),
            None => join_host_port(own, port),
        };
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        let query = self
            .query
            .as_deref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        Ok(format!("{scheme}://{authority}{path}{query}"))
    }

    /// A target made of parts (what `check postgres` names when the
    /// environment gave them), printed like a parsed one.
    pub fn from_parts(
        scheme: &'static Scheme,
        hosts: Vec<Host>,
        user: Option<String>,
        path: String,
    ) -> Target {
        Target {
            scheme,
            hosts,
            user,
            secret: None,
            bare_secret: false,
            path,
            query: None,
            tls: TlsSettings::default(),
        }
    }

    /// Parses what follows `scheme://`.
    pub fn parse_rest(scheme: &'static Scheme, rest: &str) -> Result<Target, Error> {
        let s = scheme.name;
        let (userinfo, rest) = split_userinfo(rest, scheme)?;
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_string())),
            None => (rest, None),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));

        let (mut user, mut secret, mut bare_secret) = (None, None, false);
        if let Some(info) = userinfo {
            let not_utf8 =
                |what: &str| Error(format!("{s} URL: the {what} is not UTF-8 once decoded"));
            match info.split_once(':') {
                Some((u, p)) => {
                    user = Some(decode(u).map_err(|_| not_utf8("user name"))?);
                    secret = Some(Secret(decode(p).map_err(|_| not_utf8("password"))?));
                }
                None if scheme.bare_userinfo_is_secret => {
                    secret = Some(Secret(decode(info).map_err(|_| not_utf8("password"))?));
                    bare_secret = true;
                }
                None => user = Some(decode(info).map_err(|_| not_utf8("user name"))?),
            }
            user = user.filter(|u| !u.is_empty());
            secret = secret.filter(|p| !p.0.is_empty() || !bare_secret);
            // A user name with an unencoded '@' or '/': where the user ends
            // and the password starts is a guess, so none of it is printed.
            let raw_user = info.split_once(':').map_or(info, |(u, _)| u);
            if raw_user.contains(['@', '/']) {
                bare_secret = true;
            }
        }

        let hosts = parse_hosts(authority, scheme)?;
        let tls =
            TlsSettings::from_fragment(fragment).map_err(|e| Error(format!("{s} URL: {e}")))?;
        if !tls.is_empty() && !scheme.takes_tls {
            return Err(Error(tls_on_plain(scheme, &tls)));
        }
        let target = Target {
            scheme,
            hosts,
            user,
            secret,
            bare_secret,
            path: path.to_string(),
            query,
            tls,
        };
        Ok(target)
    }

    /// The password: from the user info, or a secret query parameter
    /// (`password=`, as libpq takes it) when the user info has none.
    pub fn secret(&self) -> Option<&Secret> {
        self.secret.as_ref()
    }

    /// Query parameters, decoded (a parameter that is not UTF-8 once
    /// decoded is an error naming its key, if the key is text).
    pub fn params(&self) -> Result<Vec<(String, String)>, Error> {
        let Some(query) = &self.query else {
            return Ok(Vec::new());
        };
        let s = self.scheme.name;
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = decode(k)
                    .map_err(|_| Error(format!("{s} URL: a parameter name is not UTF-8")))?;
                let v = decode(v).map_err(|_| {
                    Error(match SECRET_PARAMS.contains(&k.as_str()) {
                        true => format!("{s} URL: the value of a secret parameter is not UTF-8"),
                        false => {
                            format!("{s} URL: the value of {} is not UTF-8", printable_key(&k))
                        }
                    })
                })?;
                Ok((k, v))
            })
            .collect()
    }

    /// An error for parameter `key`, whose name is echoed only if it is a
    /// plain word.
    pub fn unknown_param(&self, key: &str, takes: &str) -> Error {
        Error(format!(
            "{} URL: unknown parameter {} ({takes})",
            self.scheme.name,
            printable_key(key)
        ))
    }

    /// Whether the URL names a host (and port) and nothing else: no user,
    /// secret, path or query. The rule for schemes whose protocol has no
    /// login and no path (tcp://, memcached://).
    pub fn is_host_only(&self) -> bool {
        self.path.trim_matches('/').is_empty()
            && self.query.is_none()
            && self.user.is_none()
            && self.secret().is_none()
    }

    /// The one host of a scheme that takes one, with its port (the scheme's
    /// default when the URL names none).
    pub fn host(&self) -> Result<(&str, u16), Error> {
        let s = self.scheme.name;
        match self.hosts.as_slice() {
            [h] => match h.port.or(self.scheme.default_port) {
                Some(port) => Ok((&h.name, port)),
                None => err(format!(
                    "{s} URL: no port (expected {s}://HOST:PORT, IPv6 as [::1]:PORT)"
                )),
            },
            [] => err(format!("{s} URL: no host")),
            _ => err(format!("{s} URL: one host only")),
        }
    }

    /// The settings for this target's TLS: `flags` (which win) merged with
    /// the URL fragment. `None` on a plain-text scheme, where any setting is
    /// an error naming the TLS scheme (`http://` takes them for redirects
    /// to `https://`).
    pub fn tls_settings(&self, flags: TlsSettings) -> Result<Option<TlsSettings>, Error> {
        let merged = flags.or(self.tls.clone());
        if !merged.is_empty() && !self.scheme.takes_tls {
            return Err(Error(tls_on_plain(self.scheme, &merged)));
        }
        Ok((self.scheme.tls || (self.scheme.takes_tls && !merged.is_empty())).then_some(merged))
    }
}

/// The one message for TLS settings on a scheme without TLS.
fn tls_on_plain(scheme: &Scheme, tls: &TlsSettings) -> String {
    let given = tls.given();
    match scheme.tls_twin {
        Some(twin) => format!(
            "{given}: TLS settings, but {}:// is plain text: use {twin}:// for TLS",
            scheme.name
        ),
        None if scheme.kind == Kind::Postgres => format!(
            "{given} after '#': {}:// takes TLS settings as libpq does (sslmode, sslrootcert, sslcert, sslkey parameters)",
            scheme.name
        ),
        None if scheme.kind == Kind::Mysql => format!(
            "{given} after '#': {}:// takes TLS settings as the mysql client does (ssl-mode, ssl-ca, ssl-cert, ssl-key parameters)",
            scheme.name
        ),
        None => format!("{given}: {}:// takes no TLS settings", scheme.name),
    }
}

/// A parameter name fit to echo: letters, digits, '-', '_' and '.', at most
/// 32 of them; anything else may be part of a secret.
fn printable_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 32
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    match plain {
        true => format!("'{key}'"),
        false => "(a name that is not a plain word)".into(),
    }
}

/// Splits the user info off what follows `scheme://`.
///
/// The last '@' before any '?' or '#' ends it: a password may hold '/' or
/// '@' unencoded. When there is none, but what precedes the first '/', '?'
/// or '#' is no plain HOST[:PORT] list, an unencoded '?' or '#' sits in a
/// password (`u:pa?ss@db`) and the last '@' of all ends the user info. A
/// user info without ':' before its first '/' is no user info: the '@' is
/// in the path (`http://api/users/a@b`).
fn split_userinfo<'a>(rest: &'a str, scheme: &Scheme) -> Result<(Option<&'a str>, &'a str), Error> {
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let at = match rest[..end].rfind('@') {
        Some(at) => Some(at),
        None => {
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            if !plain_hosts(authority, false) && rest[end..].contains('@') {
                // "u:pa?ss@db": a password with '?' or '#', or a query
                // that holds an '@' after a malformed host: no reading is
                // sure to keep a secret out of what is printed.
                return err(format!(
                    "{} URL: a '?' or '#' before the '@' that ends the user info; \
                     percent-encode them in the password (%3F, %23)",
                    scheme.name
                ));
            }
            None
        }
    };
    let Some(at) = at else {
        return Ok((None, rest));
    };
    let after = &rest[at + 1..];
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
    if rest[end..].contains('@')
        && (authority.is_empty() || !plain_hosts(authority, scheme.many_hosts))
    {
        // "u:p@?q@h": an '@' on both sides of the query's start, and no
        // host between: the password may run to the last one.
        return err(format!(
            "{} URL: '@' on both sides of a '?' or '#'; \
             percent-encode '@', '?' and '#' in the password (%40, %3F, %23)",
            scheme.name
        ));
    }
    if let Some(slash) = rest[..at].find('/') {
        // A password that holds a '/' unencoded may hold '@' and '?' too:
        // with an '@' after the query's start as well, no reading is sure
        // to keep a secret out of what is printed.
        if rest[..slash].contains(':') && rest[end..].contains('@') {
            return err(format!(
                "{} URL: '/', '?' and '@' around the user info; \
                 percent-encode them in the password (%2F, %3F, %40)",
                scheme.name
            ));
        }
    }
    let info = &rest[..at];
    if let Some(slash) = info.find('/') {
        let before = &info[..slash];
        // In an HTTP path an '@' is common; a password with a '/' is not.
        let in_path = match scheme.kind {
            Kind::Http => !before.contains(':') || plain_hosts(before, false),
            _ => !before.contains(':') && !scheme.bare_userinfo_is_secret,
        };
        if in_path {
            return Ok((None, rest));
        }
    }
    Ok((Some(info), &rest[at + 1..]))
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` (comma-separated, and the host
/// may be empty, where the scheme takes `many` hosts): nothing in it can be
/// a password.
fn plain_hosts(authority: &str, many: bool) -> bool {
    let port = |p: &str| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if !many && (authority.contains(',') || authority.starts_with(':')) {
        return false;
    }
    authority.split(',').all(|one| match one.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((_, "")) => true,
            Some((_, after)) => after.strip_prefix(':').is_some_and(port),
            None => false,
        },
        // A host name holds no ':' (one ':' and a port at most), and
        // only the characters of names, addresses and percent-encoding.
        None => {
            let (host, p) = one
                .split_once(':')
                .map_or((one, None), |(h, p)| (h, Some(p)));
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
                && p.is_none_or(port)
        }
    })
}

/// The hosts of an authority.
fn parse_hosts(authority: &str, scheme: &Scheme) -> Result<Vec<Host>, Error> {
    let s = scheme.name;
    if authority.is_empty() {
        return match scheme.needs_host {
            true => err(format!("{s} URL: no host")),
            false => Ok(Vec::new()),
        };
    }
    let pieces: Vec<&str> = authority.split(',').collect();
    if pieces.len() > 1 && !scheme.many_hosts {
        return err(format!("{s} URL: one host only (a ',' in the host)"));
    }
    pieces
        .iter()
        .map(|one| {
            let (host, port) = split_host_port(one).ok_or_else(|| {
                Error(format!(
                    "{s} URL: expected HOST or HOST:PORT with a port 0-65535 (IPv6 as [::1]:PORT)"
                ))
            })?;
            let name = decode(host)
                .map_err(|_| Error(format!("{s} URL: the host is not UTF-8 once decoded")))?;
            if name.is_empty() && !(scheme.many_hosts && port.is_some()) {
                return err(format!("{s} URL: empty host"));
            }
            if name.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                return err(format!(
                    "{s} URL: the host holds spaces or control characters"
                ));
            }
            Ok(Host { name, port })
        })
        .collect()
}

/// "host", "host:port", "[v6]" or "[v6]:port" into its parts; `None` when
/// the port is not a number in range, or a bare IPv6 address lacks its
/// brackets.
pub fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => return None,
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    // Brackets belong around an IPv6 literal (with its zone), nowhere else.
    let literal = |h: &str| {
        h.contains(':')
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":.%-_".contains(&b))
    };
    if text.starts_with('[') && !literal(host) || host.contains(['[', ']']) {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// `host:port`, with brackets around an IPv6 address.
pub fn join_host_port(host: &str, port: u16) -> String {
    match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    }
}

impl fmt::Display for Target {
    /// `scheme://[user[:****]@]hosts[/path][?query]`, secret query values
    /// as `****`, without the fragment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.name)?;
        match (&self.user, &self.secret, self.bare_secret) {
            (_, _, true) => f.write_str("****@")?,
            (Some(u), Some(_), _) => write!(f, "{}:****@", encode_userinfo(u))?,
            (None, Some(_), _) => f.write_str(":****@")?,
            (Some(u), None, _) => write!(f, "{}@", encode_userinfo(u))?,
            (None, None, _) => {}
        }
        for (i, h) in self.hosts.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let name = percent_encoding::utf8_percent_encode(&h.name, HOST_ESCAPES);
            match (h.name.contains(':'), h.port) {
                (true, Some(p)) => write!(f, "{sep}[{name}]:{p}")?,
                (true, None) => write!(f, "{sep}[{name}]")?,
                (false, Some(p)) => write!(f, "{sep}{name}:{p}")?,
                (false, None) => write!(f, "{sep}{name}")?,
            }
        }
        f.write_str(&self.path)?;
        if let Some(query) = &self.query {
            f.write_str("?")?;
            f.write_str(&mask_query(query))?;
        }
        Ok(())
    }
}

/// What a printed host escapes: a Unix socket's path in place of a host
/// is printed percent-encoded, as it was written.
const HOST_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b'/')
    .add(b'@')
    .add(b'?')
    .add(b'#')
    .add(b' ')
    .add(b'%');

const USERINFO_ESCAPES: &percent_encoding::AsciiSet = &HOST_ESCAPES.add(b':');

fn encode_userinfo(text: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(text, USERINFO_ESCAPES)
}

/// The query with the value of every secret parameter as `****`.
fn mask_query(query: &str) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (k, _) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(k).unwrap_or_default().to_ascii_lowercase();
            match SECRET_PARAMS.contains(&key.as_str()) {
                true => format!("{k}=****"),
                false => pair.to_string(),
            }
        })
        .collect();
    pairs.join("&")
}

/// How a text that may not parse is named in a message: everything up to
/// the last '@' (a user info, or a password with unencoded characters) and
/// every query and fragment value masked, whatever the text is.
pub fn sketch(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((s, r)) => (Some(s), r),
        // Not a URL: echoed only if it is a plain HOST[:PORT].
        None if plain_hosts(text, false) && !text.contains(['/', '?', '#', '@']) => {
            return text.chars().filter(|c| !c.is_control()).collect();
        }
        None => return "****".into(),
    };
    // Up to the first '?' or '#': the authority and path, masked up to
    // their last '@', or whole unless they are a plain HOST[:PORT] list
    // (then a password holds the '?' or '#'). What follows: each value
    // masked, or all of it when the head was.
    let many = scheme.and_then(self::scheme).is_some_and(|k| k.many_hosts);
    let (head, tail) = rest.split_at(rest.find(['?', '#']).unwrap_or(rest.len()));
    let authority = &head[..head.find('/').unwrap_or(head.len())];
    let (base, masked) = match head.rfind('@') {
        // An '@' after the '?' too: the password may reach it.
        _ if tail.contains('@') && !plain_hosts(authority, false) => ("****".to_string(), true),
        Some(at) => (format!("****@{}", &head[at + 1..]), false),
        None if plain_hosts(authority, many) => (head.to_string(), false),
        None => ("****".to_string(), true),
    };
    let (rest, fragment) = match tail.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (tail, None),
    };
    let query = rest.strip_prefix('?');
    let mask_all = |q: &str| -> String {
        if masked {
            return "****".into();
        }
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if printable_key(k).starts_with('\'') => format!("{k}=****"),
                Some(_) => "****=****".to_string(),
                None if pair == "insecure" => pair.to_string(),
                None => "****".to_string(),
            })
            .collect();
        pairs.join("&")
    };
    let mut out = String::new();
    if let Some(s) = scheme {
        match self::scheme(s) {
            Some(known) => out.push_str(known.name),
            None if printable_key(s).starts_with('\'') => out.push_str(s),
            None => out.push_str("****"),
        }
        out.push_str("://");
    }
    out.push_str(&base);
    if let Some(q) = query {
        out.push('?');
        out.push_str(&mask_all(q));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&mask_all(f));
    }
    out.chars().filter(|c| !c.is_control()).collect()
}

/// Splits a list of URLs written in one variable (`BERTH_WAIT`) at commas,
/// but only at a comma that starts another URL (`,SCHEME://`): a ',' in a
/// password or in PostgreSQL's host list stays in its URL.
pub fn split_list(text: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for piece in text.split(',') {
        let starts_url = piece.trim_start().split_once("://").is_some_and(|(s, _)| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        });
        match items.last_mut() {
            Some(last) if !starts_url => {
                last.push(',');
                last.push_str(piece);
            }
            _ => items.push(piece.to_string()),
        }
    }
    items
        .into_iter()
        // Commas that end the list, or stand between items, separate.
        .map(|i| {
            i.trim()
                .trim_end_matches([',', ' ', '\t', '\n'])
                .to_string()
        })
        .filter(|i| !i.is_empty())
        .collect()
}

/// Bytes a `Location` may carry that a URI may not: percent-encoded, as
/// curl does, rather than refused.
const NOT_IN_URI: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Where a redirect leads: `location` resolved against `base` (RFC 3986
/// section 5.2): an absolute URL, `//host/path`, `/path`, `?query` or a
/// path relative to the current one. The fragment is dropped (never sent).
pub fn resolve_redirect(base: &http::Uri, location: &[u8]) -> Result<http::Uri, String> {
    let encoded = percent_encoding::percent_encode(location, NOT_IN_URI).to_string();
    let loc = encoded.split('#').next().unwrap_or_default();
    let scheme = base.scheme_str().unwrap_or("http");
    let origin = format!("{scheme}://{}", base.authority().map_or("", |a| a.as_str()));
    let path = base.path();
    let has_scheme = loc.split_once(':').is_some_and(|(s, _)| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let url = if has_scheme {
        loc.to_string()
    } else if let Some(rest) = loc.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if loc.starts_with('/') {
        format!("{origin}{loc}")
    } else if loc.is_empty() || loc.starts_with('?') {
        let query = if loc.is_empty() {
            base.query().map(|q| format!("?{q}"))
        } else {
            None
        };
        format!("{origin}{path}{}{loc}", query.unwrap_or_default())
    } else {
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{origin}/{}{loc}", dir.trim_start_matches('/'))
    };
    let bad = || format!("redirected to a bad URL '{}'", sketch(&url));
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("redirected to an unsupported scheme '{other}://'")),
        None => return Err(bad()),
    }
    // http::Uri takes a port too large for 16 bits, and then names none.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = uri.host().unwrap_or_default();
    let after_host = host_port.get(host.len()..).unwrap_or_default();
    if host.is_empty() || !(after_host.len() <= 1 || uri.port_u16().is_some()) {
        return Err(bad());
    }
    // "/a/b/../c" is "/a/c": the server gets the path a browser would ask for.
    let clean = remove_dot_segments(uri.path());
    if clean == uri.path() {
        return Ok(uri);
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let authority = uri.authority().map_or("", |a| a.as_str());
    let scheme = uri.scheme_str().unwrap_or("http");
    format!("{scheme}://{authority}{clean}{query}")
        .parse()
        .map_err(|_| bad())
}

/// RFC 3986 section 5.2.4, for an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
        // "/a/." and "/a/b/.." end with a slash: a directory.
        if last && (*seg == "." || *seg == "..") {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        Target::parse(url).unwrap().to_string()
    }

    #[test]
    fn prints_without_secrets() {
        assert_eq!(
            shown("postgres://app:s3cret@db:5432/app"),
            "postgres://app:****@db:5432/app"
        );
        assert_eq!(
            shown("redis://:pw@cache:6379/0"),
            "redis://:****@cache:6379/0"
        );
        assert_eq!(shown("redis://pw@cache"), "redis://****@cache");
        assert_eq!(shown("http://u:p@h/x?y=1"), "http://u:****@h/x?y=1");
        assert_eq!(shown("tcp://db:5432"), "tcp://db:5432");
        assert_eq!(shown("http://user@h"), "http://user@h");
        assert_eq!(shown("postgres://a:p/w@rd@db/x"), "postgres://a:****@db/x");
        assert!(Target::parse("postgres://a:p?w#d@db/x").is_err());
        assert!(Target::parse("postgres://K::1]:6379/0?password=a@b").is_err());
        // Found by the fuzz target `urls`: '/', '@' and '?' in a password.
        assert!(Target::parse("http://:p/w@Zq9?@h").is_err());
        assert_eq!(shown("http://u:p@h/x?to=a@b"), "http://u:****@h/x?to=a@b");
        assert!(Target::parse("redis://:?pw@h").is_err());
        assert_eq!(
            shown("postgres://app@db/app?password=s3cret&sslmode=disable"),
            "postgres://app@db/app?password=****&sslmode=disable"
        );
        assert_eq!(
            shown("http://api:8000/health?to=ops@example.com"),
            "http://api:8000/health?to=ops@example.com"
        );
        assert_eq!(shown("http://api/users/a@b"), "http://api/users/a@b");
        assert_eq!(shown("http://api:80/users/a@b"), "http://api:80/users/a@b");
        assert_eq!(shown("http://[::1]:80/x?a@b"), "http://[::1]:80/x?a@b");
        assert_eq!(shown("https://h/#cacert=/ca.pem"), "https://h/");
        assert_eq!(
            shown("postgres://u:pw@h1:5432,h2:5433/db"),
            "postgres://u:****@h1:5432,h2:5433/db"
        );
        assert_eq!(
            shown("http+unix://%2Frun%2Fapp.sock/health"),
            "http+unix://%2Frun%2Fapp.sock/health"
        );
        assert_eq!(shown("file:///tmp/ready"), "file:///tmp/ready");
    }

    #[test]
    fn parts() {
        let t = Target::parse("redis://user:p%40ss/w@cache/3").unwrap();
        assert_eq!(t.user.as_deref(), Some("user"));
        assert_eq!(t.secret().unwrap().expose(), "p@ss/w");
        assert_eq!(t.host().unwrap(), ("cache", 6379));
        assert_eq!(t.path, "/3");
        let t = Target::parse("redis://s3cret@cache").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.secret().map(Secret::expose)),
            (None, Some("s3cret"))
        );
        let t = Target::parse("postgres://u@h1:1,[::1]:2,h3/db").unwrap();
        assert_eq!(
            t.hosts,
            vec![
                Host {
                    name: "h1".into(),
                    port: Some(1)
                },
                Host {
                    name: "::1".into(),
                    port: Some(2)
                },
                Host {
                    name: "h3".into(),
                    port: None
                },
            ]
        );
        let t = Target::parse("VALKEY://h:7000").unwrap();
        assert_eq!(t.scheme.kind, Kind::Redis);
        assert!(Target::parse("tcp://db").unwrap().host().is_err());
        assert!(Target::parse("tcp://a,b:1").is_err());
        assert!(Target::parse("tcp://h:99999").is_err());
        assert!(Target::parse("tcp://::1:80").is_err());
        assert!(Target::parse("ftp://h").is_err());
        assert!(Target::parse("db:5432").is_err());
        let t = Target::parse("https://h/#cacert=%2Fca.pem&insecure").unwrap();
        assert_eq!(t.tls.cacert.as_deref(), Some("/ca.pem"));
        assert!(t.tls.insecure);
    }

    #[test]
    fn tls_on_plain_text_names_the_tls_scheme() {
        let e = Target::parse("redis://h#cacert=/ca.pem").unwrap_err();
        assert_eq!(
            e.0,
            "--cacert: TLS settings, but redis:// is plain text: use rediss:// for TLS"
        );
        let t = Target::parse("grpc://h:1").unwrap();
        let flags = TlsSettings {
            insecure: true,
            ..TlsSettings::default()
        };
        assert!(
            t.tls_settings(flags.clone())
                .unwrap_err()
                .0
                .contains("use grpcs://")
        );
        let t = Target::parse("http://h").unwrap();
        assert_eq!(t.tls_settings(TlsSettings::default()).unwrap(), None);
        assert!(t.tls_settings(flags).unwrap().is_some());
        let t = Target::parse("rediss://h").unwrap();
        assert!(t.tls_settings(TlsSettings::default()).unwrap().is_some());
    }

    #[test]
    fn errors_never_echo_the_input() {
        for url in [
            "postgres://u:s3cret@h:port/db",
            "redis://s3cret@h/notanumber",
            "tcp://u:s3cret@h",
            "grpc://s3cret:x@",
            "nope://s3cret@h",
            "a:s3cret",
            "http://u:s3cret@h#s3cret",
            "postgres://h/db?y=s3cret&x=%ff",
        ] {
            if let Err(e) = Target::parse(url) {
                assert!(!e.0.contains("s3cret"), "{url}: {e}");
            }
            assert!(!sketch(url).contains("s3cret"), "{url}: {}", sketch(url));
        }
        assert_eq!(
            sketch("postgres://u:pw@db/x?password=pw&sslmode=disable"),
            "postgres://****@db/x?password=****&sslmode=****"
        );
        assert_eq!(sketch("db:5432"), "db:5432");
        // Found by the fuzz target `urls`: an '@' in a query's password.
        assert_eq!(
            sketch("postgres://h?password=p/w@Zq9?"),
            "postgres://h?password=****"
        );
        assert_eq!(sketch("redis://u:p?w@h"), "redis://****?****");
    }

    /// The help text and the README name exactly the schemes of the table.
    #[test]
    fn help_and_readme_follow_the_table() {
        use argh::FromArgs;
        let help = crate::cli::Berth::from_args(&["berth"], &["wait", "--help"])
            .expect_err("--help exits early")
            .output;
        let listed = help
            .split_once("dependencies to wait for (")
            .and_then(|(_, rest)| rest.split_once(" URLs)"))
            .expect("the help lists the schemes")
            .0
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(listed, scheme_names(), "berth wait --help");
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let list = readme
            .split_once("URL schemes pick the check")
            .expect("the README's scheme list")
            .1;
        let list = &list[..list.find("\n  - ").unwrap_or(list.len())];
        for s in SCHEMES {
            assert!(
                list.contains(&format!("`{}://`", s.name)),
                "README lacks {}://",
                s.name
            );
        }
        assert_eq!(
            list.matches("://`").count(),
            SCHEMES.len(),
            "README: {list}"
        );
    }

    #[test]
    fn lists_split_only_where_a_url_starts() {
        assert_eq!(
            split_list("postgres://u:a,b@db/x, redis://r:6379,tcp://h:1"),
            vec!["postgres://u:a,b@db/x", "redis://r:6379", "tcp://h:1"]
        );
        assert_eq!(
            split_list("postgres://h1,h2:5433/db,,"),
            vec!["postgres://h1,h2:5433/db"]
        );
    }
}
