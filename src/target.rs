//! Target addresses and URLs: parsing helpers and password redaction, in one
//! place so no output path can print a secret.

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
    let Some(at) = rest[..end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:****{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/app"), "postgres://app:****@db:5432/app");
        assert_eq!(redact("redis://:pw@cache:6379/0"), "redis://:****@cache:6379/0");
        assert_eq!(redact("http://u:p@h/x?y=1"), "http://u:****@h/x?y=1");
        assert_eq!(redact("tcp://db:5432"), "tcp://db:5432");
        assert_eq!(redact("redis://user@h"), "redis://user@h");
        assert_eq!(redact("junk"), "junk");
        assert_eq!(redact("postgres://a:p/w@rd@db/x"), "postgres://a:****@db/x");
    }
}
