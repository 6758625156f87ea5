//! URLs and addresses: whatever the input, no output of berth holds the
//! password (redacted URL, the check's description, every error message),
//! and host:port splitting round-trips, IPv6 literals included.
//!
//! Input: `USER \x01 PASSWORD \x01 REST`, made into SCHEME://USER:PASSWORD@REST
//! for every scheme berth knows; the raw bytes are also tried as a URL and
//! as HOST:PORT.

#![no_main]

use berth::check::{self, tcp};
use berth::target::redact;
use libfuzzer_sys::fuzz_target;

const SCHEMES: [&str; 7] = [
    "http",
    "https",
    "postgres",
    "postgresql",
    "redis",
    "rediss",
    "tcp",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // Any text as a URL and as HOST:PORT: no panic, and a split round-trips.
    let _ = outputs(&text);
    if let Some((host, port)) = tcp::split_host_port(&text) {
        let joined = tcp::join_host_port(&host, port);
        assert_eq!(
            tcp::split_host_port(&joined),
            Some((host, port)),
            "{joined}"
        );
    }

    let mut parts = text.splitn(3, '\u{1}');
    let (Some(user), Some(password), Some(rest)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    // The user info ends at the first '/', '?' or '#' after "://" (RFC 3986),
    // so a user name holding one of them makes what follows no password.
    if user.contains([':', '@', '/', '?', '#']) || password.contains('\u{1}') {
        return;
    }
    // "u:8080?x@h" and "[u:...": a port after a host, or an IPv6 literal,
    // followed by a query that holds an '@'. berth prints such URLs as they
    // are (src/target.rs): masking every query with an '@' would hide real
    // addresses, and no URL parser reads a password there either.
    let before_query = &password[..password.find(['/', '?', '#']).unwrap_or(password.len())];
    let port_like = !before_query.is_empty() && before_query.bytes().all(|b| b.is_ascii_digit());
    if (port_like || user.starts_with('[')) && password.contains(['?', '#']) {
        return;
    }
    for scheme in SCHEMES {
        let url = format!("{scheme}://{user}:{password}@{rest}");
        let placeholder = format!("{scheme}://{user}:\u{1}@{rest}");
        let fixed = outputs(&placeholder).join("\n");
        let decoded = percent_encoding::percent_decode_str(password)
            .decode_utf8_lossy()
            .into_owned();
        for secret in [password, decoded.as_str()] {
            // Too short to tell from the text around it, or a word that
            // berth's messages hold anyway (with no password at all).
            if secret.chars().count() < 4 || fixed.contains(secret) {
                continue;
            }
            for out in outputs(&url) {
                assert!(
                    !out.contains(secret),
                    "password {secret:?} of {url:?} shown in {out:?}"
                );
            }
        }
    }
});

/// Everything berth may print about `url`.
fn outputs(url: &str) -> Vec<String> {
    let mut out = vec![redact(url)];
    match check::from_url(url) {
        Ok(probe) => out.push(probe.describe()),
        Err(e) => out.push(e),
    }
    if let Err(e) = berth::gate::wait::targets(&[url.to_string()]) {
        out.push(e.to_string());
    }
    out
}
