//! Ed25519 signing (RFC 8032), for the two places berth signs: MariaDB's
//! client_ed25519 login and TLS client keys. ring signs Ed25519 only from a
//! 32-byte seed, with its own tables (about 94 kB of the binary); MariaDB's
//! key is SHA-512 of a password of any length. So the curve arithmetic is
//! curve25519-dalek's, without its precomputed tables, and SHA-512 ring's.

use curve25519_dalek::{EdwardsPoint, Scalar};
use ring::digest::{Context, SHA512};

/// A signing key: the secret scalar, the nonce prefix and the public key.
pub struct Key {
    scalar: Scalar,
    prefix: [u8; 32],
    public: [u8; 32],
}

impl Key {
    /// The key whose expanded form is SHA-512(`secret`): `secret` is an
    /// RFC 8032 private key (a 32-byte seed) or a MariaDB password.
    pub fn from_secret(secret: &[u8]) -> Key {
        let az = sha512(&[secret]);
        let mut lower = [0u8; 32];
        lower.copy_from_slice(&az[..32]);
        let scalar = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(lower));
        let mut prefix = [0u8; 32];
        prefix.copy_from_slice(&az[32..]);
        Key {
            scalar,
            prefix,
            public: EdwardsPoint::mul_base(&scalar).compress().to_bytes(),
        }
    }

    /// The public key, as a certificate carries it.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The signature R || S of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let r = Scalar::from_bytes_mod_order_wide(&sha512(&[&self.prefix, message]));
        let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let h = Scalar::from_bytes_mod_order_wide(&sha512(&[&big_r, &self.public, message]));
        let s = r + h * self.scalar;
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&big_r);
        signature[32..].copy_from_slice(s.as_bytes());
        signature
    }
}

fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut ctx = Context::new(&SHA512);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 section 7.1, tests 1 and 2: seed, public key, message,
    /// signature. (MariaDB's longer and shorter "seeds", its passwords, are
    /// checked against a real server: tests/cases/check_mysql.rs.)
    #[test]
    fn signs_as_rfc_8032() {
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, public, message, signature) in vectors {
            let key = Key::from_secret(&unhex(seed));
            assert_eq!(key.public().to_vec(), unhex(public));
            assert_eq!(key.sign(&unhex(message)).to_vec(), unhex(signature));
        }
    }
}
