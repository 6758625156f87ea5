//! The password scrambles of MySQL's authentication plugins. The password
//! itself never crosses a plain-text connection: `mysql_native_password`
//! and `caching_sha2_password` (its fast path) send a hash mixed with the
//! server's nonce; only over TLS or a Unix socket does berth send the
//! password as the server's full exchange asks.
//!
//! <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods.html>

use curve25519_dalek::{EdwardsPoint, Scalar};
use ring::digest::{self, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA512};

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
/// (RFC 8032 section 5.1.6 with the password where the 32-byte seed is).
/// The password never leaves berth, over TLS or not.
pub fn ed25519(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    let az = hash(&SHA512, &[password]);
    let mut lower = [0u8; 32];
    lower.copy_from_slice(&az[..32]);
    let a = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(lower));
    let public = EdwardsPoint::mul_base(&a).compress();
    let r = wide(&hash(&SHA512, &[&az[32..], nonce]));
    let big_r = EdwardsPoint::mul_base(&r).compress();
    let h = wide(&hash(
        &SHA512,
        &[big_r.as_bytes(), public.as_bytes(), nonce],
    ));
    let s = r + h * a;
    [big_r.as_bytes().as_slice(), s.as_bytes()].concat()
}

/// A 64-byte SHA-512 output as a scalar, reduced modulo the group order.
fn wide(digest: &[u8]) -> Scalar {
    let mut bytes = [0u8; 64];
    bytes.copy_from_slice(digest);
    Scalar::from_bytes_mod_order_wide(&bytes)
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

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A 32-byte password is an Ed25519 seed, so RFC 8032's test vectors
    /// 1 and 2 (section 7.1) hold as they are; longer and shorter passwords
    /// are checked against a real MariaDB (tests/cases/check_mysql.rs).
    #[test]
    fn ed25519_signs_as_rfc_8032() {
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, message, signature) in vectors {
            assert_eq!(hex(&ed25519(&unhex(seed), &unhex(message))), signature);
        }
    }
}
