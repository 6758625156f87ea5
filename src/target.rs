//! Password redaction for every URL berth prints, in one place so no output
//! path can print a secret.

/// The URL with any password replaced by `****`. Works on malformed input
/// too: everything between "://" and the last '@' of the authority that
/// follows a ':' is masked.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The last '@' before any query or fragment ends the user info. A
    // password may hold '/' or '@' unencoded, so look no further than that:
    // masking too much is harmless, too little leaks a secret.
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let at = match rest[..end].rfind('@') {
        Some(at) => at,
        // No '@' before the query: a password holding an unencoded '?' or
        // '#' ("u:pa?ss@db") reads as host "u" and port "pa?ss..." to a URL
        // parser, yet it is the user's password. Unless what precedes is a
        // plain host or host:port, mask up to the last '@' of all.
        None if !plain_authority(&rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())]) => {
            match rest.rfind('@') {
                Some(at) => at,
                None => return url.to_string(),
            }
        }
        None => return url.to_string(),
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:****{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// `host`, `host:port` or `[v6]` with an optional `:port`: nothing there
/// can be a password.
fn plain_authority(authority: &str) -> bool {
    let host_end = match authority.starts_with('[') {
        true => authority.find(']').unwrap_or(0),
        false => 0,
    };
    match authority[host_end..].rsplit_once(':') {
        None => true,
        Some((_, port)) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/app"),
            "postgres://app:****@db:5432/app"
        );
        assert_eq!(
            redact("redis://:pw@cache:6379/0"),
            "redis://:****@cache:6379/0"
        );
        assert_eq!(redact("http://u:p@h/x?y=1"), "http://u:****@h/x?y=1");
        assert_eq!(redact("tcp://db:5432"), "tcp://db:5432");
        assert_eq!(redact("redis://user@h"), "redis://user@h");
        assert_eq!(redact("junk"), "junk");
        assert_eq!(redact("postgres://a:p/w@rd@db/x"), "postgres://a:****@db/x");
        // Found by the fuzz target `urls`: '?' or '#' in a password.
        assert_eq!(redact("postgres://a:p?w#d@db/x"), "postgres://a:****@db/x");
        assert_eq!(redact("redis://:?pw@h"), "redis://:****@h");
        assert_eq!(
            redact("http://api:8000/health?to=ops@example.com"),
            "http://api:8000/health?to=ops@example.com"
        );
        assert_eq!(redact("http://[::1]/x?a@b"), "http://[::1]/x?a@b");
        assert_eq!(redact("http://[::1]:80?a@b"), "http://[::1]:80?a@b");
    }
}
