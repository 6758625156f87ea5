//! The password scrambles of MySQL's authentication plugins. The password
//! itself never crosses a plain-text connection: `mysql_native_password`
//! and `caching_sha2_password` (its fast path) send a hash mixed with the
//! server's nonce; only over TLS or a Unix socket does berth send the
//! password as the server's full exchange asks.
//!
//! <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods.html>

use ring::digest::{self, SHA1_FOR_LEGACY_USE_ONLY, SHA256};

/// The plugins berth speaks.
pub const NATIVE: &str = "mysql_native_password";
pub const CACHING_SHA2: &str = "caching_sha2_password";
pub const SHA256_PASSWORD: &str = "sha256_password";
pub const CLEAR: &str = "mysql_clear_password";
pub const ED25519: &str = "client_ed25519";

/// caching_sha2_password's AuthMoreData: the scramble matched the
/// server's cache (an OK follows), or the full exchange is needed.
pub const FAST_AUTH_OK: u8 = 3;
pub const FULL_AUTH: u8 = 4;

fn hash(alg: &'static digest::Algorithm, parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = digest::Context::new(alg);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))).
pub fn native(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = hash(&SHA1_FOR_LEGACY_USE_ONLY, &[password]);
    let stage2 = hash(&SHA1_FOR_LEGACY_USE_ONLY, &[&stage1]);
    xor(
        &stage1,
        &hash(
            &SHA1_FOR_LEGACY_USE_ONLY,
            &[&nonce[..nonce.len().min(20)], &stage2],
        ),
    )
}

/// caching_sha2_password's fast path: SHA256(pw) XOR
/// SHA256(SHA256(SHA256(pw)) + nonce).
pub fn caching_sha2(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = hash(&SHA256, &[password]);
    let stage2 = hash(&SHA256, &[&stage1]);
    xor(
        &stage1,
        &hash(&SHA256, &[&stage2, &nonce[..nonce.len().min(20)]]),
    )
}

/// MariaDB's client_ed25519: the Ed25519 signature (R || S, 64 bytes) of
/// the server's nonce, with SHA-512(password) as the expanded secret key
/// (RFC 8032 with the password where the 32-byte seed is). The password
/// never leaves berth, over TLS or not.
pub fn ed25519(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    crate::check::ed25519::Key::from_secret(password)
        .sign(nonce)
        .to_vec()
}

/// The password as sent over a secure channel: its bytes and a NUL.
pub fn cleartext(password: &[u8]) -> Vec<u8> {
    let mut out = password.to_vec();
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Values computed independently (Python's hashlib) for the password
    /// "secret" and the nonce 0x01..0x14.
    #[test]
    fn scrambles_match_the_documented_formulas() {
        let nonce: Vec<u8> = (1..=20).collect();
        assert_eq!(
            hex(&native(b"secret", &nonce)),
            "b32bb3a583e1340c0a1108d58b1be49781ad8c2f"
        );
        assert_eq!(
            hex(&caching_sha2(b"secret", &nonce)),
            "746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9"
        );
        assert!(native(b"", &nonce).is_empty());
        assert!(caching_sha2(b"", &nonce).is_empty());
    }
}
