//! URLs and addresses: whatever the input, no output of berth holds a
//! password (the URL as printed, the check's description, every error message),
//! a comma in a password does not split `BERTH_WAIT`, and host:port
//! splitting round-trips, IPv6 literals included.
//!
//! Input: `USER \x01 PASSWORD \x01 REST [\x01 AFTER]`, used three ways:
//! - the raw bytes as a URL and as HOST:PORT;
//! - SCHEME://USER:PASSWORD@REST for every scheme: PASSWORD itself must not
//!   show;
//! - a marked secret, PASSWORD + `MARKER` + AFTER (the fuzzer's bytes
//!   around a fixed word, so unencoded `@ : / ? # ,` land inside it), put in
//!   every place a scheme lets a secret hide: the user info's password, the
//!   bare user info of Redis/Valkey URLs (redis-cli reads it as the
//!   password), PostgreSQL's `?password=`; REST is the host, port, path and
//!   query, malformed or not. No output may hold the marker.

#![no_main]

use argh::FromArgs;
use berth::check;
use berth::cli::{RunArgs, WaitArgs};
use berth::options::{RunOptions, WaitOptions};
use berth::target::{self, Target};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

/// Every scheme berth accepts (README, "URL schemes").
const SCHEMES: [&str; 20] = [
    "http",
    "https",
    "http+unix",
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "redis",
    "rediss",
    "valkey",
    "valkeys",
    "grpc",
    "grpcs",
    "amqp",
    "amqps",
    "nats",
    "tls",
    "memcached",
    "tcp",
    "file",
];

/// Where the user info alone is the password (redis-cli -u, the redis crate)
/// or the token (NATS clients).
const BARE_USERINFO: [&str; 6] = ["redis", "rediss", "valkey", "valkeys", "nats", "tls"];

/// Where the query may carry `password=` (libpq's connection URIs, and
/// the MySQL URLs of the same shape).
const QUERY_PASSWORD: [&str; 4] = ["postgres", "postgresql", "mysql", "mariadb"];

/// Letters and digits only: percent-encoding, escaping for a message or
/// Debug formatting leave it as it is, so wherever the secret shows, this
/// shows. Compared without case, in case an output lowercases.
const MARKER: &str = "Zq9SECRETx7";

fuzz_target!(|data: &[u8]| {
    one_ca();
    let text = String::from_utf8_lossy(data);

    // Any text as a URL and as HOST:PORT: no panic, and a split round-trips.
    let _ = outputs(&text);
    if let Some((host, Some(port))) = target::split_host_port(&text) {
        let joined = target::join_host_port(host, port);
        assert_eq!(
            target::split_host_port(&joined),
            Some((host, Some(port))),
            "{joined}"
        );
    }

    let mut parts = text.splitn(4, '\u{1}');
    let (Some(user), Some(password), Some(rest)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let after = parts.next().unwrap_or_default();
    password_not_shown(user, password, rest);
    let secret = format!("{password}{MARKER}{after}");
    secret_not_shown(user, &secret, rest);
    wait_list_keeps(&secret);
});

/// https://, rediss:// and grpcs:// read the system's CA bundle each time a
/// check is built: parsing its ~150 certificates takes ten times as long as
/// all the rest. One certificate (fuzz/ca.pem, self-signed, its key thrown
/// away) takes the same path, and what berth prints about a URL does not
/// depend on which CAs it trusts.
fn one_ca() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/ca.pem");
        // SAFETY: the fuzz target is single-threaded; nothing else reads
        // the environment meanwhile.
        unsafe {
            std::env::set_var("SSL_CERT_FILE", ca);
            std::env::remove_var("SSL_CERT_DIR");
        }
    });
}

/// SCHEME://USER:PASSWORD@REST: PASSWORD, as written or percent-decoded,
/// appears in no output.
fn password_not_shown(user: &str, password: &str, rest: &str) {
    if !userinfo_holds(user, password) {
        return;
    }
    for scheme in SCHEMES {
        let url = format!("{scheme}://{user}:{password}@{rest}");
        let placeholder = format!("{scheme}://{user}:\u{1}@{rest}");
        let fixed = outputs(&placeholder).join("\n");
        let decoded = percent_decode_str(password)
            .decode_utf8_lossy()
            .into_owned();
        for secret in [password, decoded.as_str()] {
            // Too short to tell from the text around it, or a word that
            // berth's messages hold anyway (with no password at all).
            // Or made only of what a mask is made of ("****?****").
            let mask_like = secret.chars().all(|c| "*?&=@:#/,".contains(c));
            if secret.chars().count() < 4 || fixed.contains(secret) || mask_like {
                continue;
            }
            for out in outputs(&url) {
                // The scheme berth prints is no part of the password: a
                // password "valkey://****?" or "le://****?*" is in
                // "valkey://****?****" or "file://****?****", masks that
                // print whatever the password was.
                let out = SCHEMES
                    .iter()
                    .fold(out, |o, k| o.replace(&format!("{k}://"), "\u{2}"));
                assert!(
                    !out.contains(secret),
                    "password {secret:?} of {url:?} shown in {out:?}"
                );
            }
        }
    }
}

/// The marked `secret` in every place each scheme lets a secret hide, around
/// the fuzzer's USER and REST: the marker appears in no output.
fn secret_not_shown(user: &str, secret: &str, rest: &str) {
    // (URL, whether the marker is in the query on purpose)
    let mut urls = Vec::new();
    for scheme in SCHEMES {
        urls.push((format!("{scheme}://{user}:{secret}@{rest}"), false));
        // A ':' in the user info makes what precedes it the user name (so
        // none in the secret, nor in REST's authority if that holds an
        // '@'), and '/', '?', '#' in the secret end the authority before
        // the '@'.
        let host = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if BARE_USERINFO.contains(&scheme)
            && !secret.contains([':', '/', '?', '#'])
            && !(host.contains('@') && host.contains(':'))
        {
            urls.push((format!("{scheme}://{secret}@{rest}"), false));
        }
        // '&' and '#' end the value; after a '#' in REST, the whole query
        // is a fragment.
        if QUERY_PASSWORD.contains(&scheme) && !secret.contains(['&', '#']) && !rest.contains('#') {
            let userinfo = match user.is_empty() || user.contains(['/', '?', '#']) {
                true => String::new(),
                false => format!("{user}@"),
            };
            let sep = if rest.contains('?') { '&' } else { '?' };
            urls.push((
                format!("{scheme}://{userinfo}{rest}{sep}password={secret}"),
                true,
            ));
        }
    }
    for (url, in_query) in urls {
        // The marker must come from the secret alone, not from REST or USER
        // (or their decoding) too.
        if !once(&url) || !once(&percent_decode_str(&url).decode_utf8_lossy()) {
            continue;
        }
        if !in_query && !only_a_password(&url) {
            continue;
        }
        for out in outputs(&url) {
            assert!(!shows(&out), "the secret of {url:?} shown in {out:?}");
        }
    }
}

/// Whether every reading of `url` puts the marker in the password: the
/// authority (up to the first '/', '?' or '#', as the WHATWG URL standard
/// reads it) holds the marker before its last '@', or it has no '@' and is
/// no HOST[:PORT] either (a host name holds no ':'), so only the user's
/// intent (user info up to the last '@') makes sense of it. "u:p@HOST?q@h"
/// has a host and a query around the '@' (so the marker there is no
/// secret), as "u:80/MARKER@h" has a path; "u:p/MARKER@h" and
/// "u:p:80?MARKER@h" have nothing but a password with a '/' or a '?'.
fn only_a_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let marker = rest.to_ascii_lowercase().find(&MARKER.to_ascii_lowercase());
    match (authority.rfind('@'), marker) {
        (_, None) => false,
        (Some(at), Some(m)) => m < at,
        (None, Some(_)) if authority.starts_with('[') => false,
        (None, Some(_)) => match authority.split_once(':') {
            None => false,
            Some((_, port)) => !port.bytes().all(|b| b.is_ascii_digit()),
        },
    }
}

/// `BERTH_WAIT` holds two URLs whose passwords are `secret`, which may hold
/// commas: `berth run` and `berth wait` must read back exactly those two
/// (or refuse them: the secrets' own leaks are `secret_not_shown`'s). A
/// secret holding "://" may make a new URL begin, so it is left out.
fn wait_list_keeps(secret: &str) {
    if secret.contains("://") || secret.contains('\0') {
        return;
    }
    let urls = vec![
        format!("redis://:{secret}@cache:6379/0"),
        format!("postgres://app:{secret}@db/app"),
    ];
    // SAFETY: the fuzz target is single-threaded; nothing else reads
    // the environment meanwhile.
    unsafe { std::env::set_var("BERTH_WAIT", urls.join(",")) };
    let run = RunArgs::from_args(&["run"], &["--", "true"]).expect("`run -- true` parses");
    if let Ok(opts) = RunOptions::from_args(run) {
        assert_eq!(opts.wait, urls, "BERTH_WAIT split inside a password");
    }
    let wait = WaitArgs::from_args(&["wait"], &[]).expect("`wait` parses");
    if let Ok(opts) = WaitOptions::from_args(wait, None) {
        assert_eq!(opts.urls, urls, "BERTH_WAIT split inside a password");
    }
}

/// Whether SCHEME://USER:PASSWORD@... has PASSWORD as its password for any
/// URL parser (so that berth must hide it).
fn userinfo_holds(user: &str, password: &str) -> bool {
    // The user info ends at the first '/', '?' or '#' after "://" (RFC
    // 3986), so a user name holding one of them makes what follows no
    // password.
    if user.contains([':', '@', '/', '?', '#']) {
        return false;
    }
    // "u:8080?x@h" and "[u:...": a port after a host, or an IPv6 literal,
    // followed by a query that holds an '@'. berth prints such URLs as they
    // are (src/target.rs): masking every query with an '@' would hide real
    // addresses, and no URL parser reads a password there either.
    // "u:p@h?q@x": a password holding an '@' and after it a '?', '#' or
    // '/' reads as well as a password, a host and a query or path; berth
    // either refuses it as ambiguous or prints that host and query.
    if let Some(at) = password.find('@') {
        if password[at..].contains(['?', '#', '/']) {
            return false;
        }
    }
    let before_query = &password[..password.find(['/', '?', '#']).unwrap_or(password.len())];
    let port_like = !before_query.is_empty() && before_query.bytes().all(|b| b.is_ascii_digit());
    // "u:80/0@h" reads as host u, port 80 and a path (berth reads it so for
    // HTTP, where an '@' in a path is common).
    !((port_like || user.starts_with('[')) && password.contains(['?', '#', '/']))
}

/// Whether the marker is in `text` once, also once control characters are
/// gone (messages drop them, which may join two halves of a marker).
fn once(text: &str) -> bool {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    text.to_ascii_lowercase()
        .matches(&MARKER.to_ascii_lowercase())
        .count()
        == 1
}

fn shows(out: &str) -> bool {
    out.to_ascii_lowercase()
        .contains(&MARKER.to_ascii_lowercase())
}

/// Everything berth may print about `url`: the URL as the target prints
/// it (or the sketch that names a URL that does not parse, and the parse
/// error), the check's description or the error that refused the URL, and
/// `berth wait`'s error.
fn outputs(url: &str) -> Vec<String> {
    let mut out = vec![target::sketch(url)];
    match Target::parse(url) {
        Ok(t) => out.push(t.to_string()),
        Err(e) => out.push(e.to_string()),
    }
    match check::from_url(url) {
        Ok(probe) => out.push(probe.describe()),
        Err(e) => out.push(e),
    }
    if let Err(e) = berth::gate::wait::targets(&[url.to_string()]) {
        out.push(e.to_string());
    }
    out
}
