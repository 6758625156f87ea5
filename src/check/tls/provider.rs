//! The one crypto provider berth uses: ring cut to what a client needs
//! (cipher suites, key exchange, the signatures it verifies, the client
//! keys it signs with), because every algorithm is bytes in the static
//! binary.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::PrivateKeyDer;

/// The one crypto provider berth uses: ring, cut to what a client needs to
/// reach any standard server, because every algorithm is bytes in the static
/// binary. Key exchange on P-256 only (the group RFC 8446 makes mandatory;
/// its tables are needed anyway to verify P-256 signatures), AES-GCM only
/// (mandatory in TLS 1.3, universal in 1.2). Client keys: ECDSA, RSA and
/// Ed25519 (`ClientKeys`).
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::{cipher_suite as cs, kx_group};
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: vec![kx_group::SECP256R1],
        signature_verification_algorithms: SIGNATURES,
        secure_random: &SystemRandom,
        key_provider: &ClientKeys,
    })
}

/// Certificate and handshake signatures berth verifies: ECDSA on P-256 and
/// P-384 (Let's Encrypt's ECDSA intermediates are P-384), Ed25519, RSA
/// PKCS#1 and PSS (2048 to 8192 bits).
static SIGNATURES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        webpki::ring::ECDSA_P256_SHA256,
        webpki::ring::ECDSA_P256_SHA384,
        webpki::ring::ECDSA_P384_SHA256,
        webpki::ring::ECDSA_P384_SHA384,
        webpki::ring::ED25519,
        webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        webpki::ring::RSA_PKCS1_2048_8192_SHA384,
        webpki::ring::RSA_PKCS1_2048_8192_SHA512,
        webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    mapping: &[
        // TLS 1.2 does not tie the curve to the scheme; TLS 1.3 does.
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[
                webpki::ring::ECDSA_P384_SHA384,
                webpki::ring::ECDSA_P256_SHA384,
            ],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[
                webpki::ring::ECDSA_P256_SHA256,
                webpki::ring::ECDSA_P384_SHA256,
            ],
        ),
        (SignatureScheme::ED25519, &[webpki::ring::ED25519]),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA512,
            &[webpki::ring::RSA_PKCS1_2048_8192_SHA512],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA384,
            &[webpki::ring::RSA_PKCS1_2048_8192_SHA384],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA256,
            &[webpki::ring::RSA_PKCS1_2048_8192_SHA256],
        ),
    ],
};

/// Client certificate keys: ECDSA (P-256, P-384) and RSA, in any of the
/// PEM shapes (PKCS#8, SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`),
/// and Ed25519 (PKCS#8, as `openssl genpkey -algorithm ED25519` writes it),
/// signed by `check::ed25519` (ring's own Ed25519 signing would bring
/// 94 kB of tables).
#[derive(Debug)]
struct ClientKeys;

impl rustls::crypto::KeyProvider for ClientKeys {
    fn load_private_key(
        &self,
        der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        use rustls::crypto::ring::sign;
        if let Some(key) = Ed25519Key::from_pkcs8(&der) {
            return Ok(Arc::new(key));
        }
        sign::any_ecdsa_type(&der)
            .or_else(|_| Ok(Arc::new(sign::RsaSigningKey::new(&der)?) as Arc<_>))
    }
}

/// The DER of an Ed25519 PKCS#8 key before its 32-byte seed, after the
/// outer SEQUENCE's header and version (RFC 8410: AlgorithmIdentifier with
/// id-Ed25519 and no parameters, then the seed as an OCTET STRING in an
/// OCTET STRING).
const ED25519_PKCS8_SEED: &[u8] = &[
    0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// SubjectPublicKeyInfo for an Ed25519 key, before its 32 bytes.
const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Clone)]
struct Ed25519Key(Arc<crate::check::ed25519::Key>);

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Key")
    }
}

impl Ed25519Key {
    /// A PKCS#8 Ed25519 key, version 1 or 2 (RFC 5958: with the public key
    /// after the seed, which is then ignored): SEQUENCE (short form), the
    /// version, then `ED25519_PKCS8_SEED` and the seed.
    fn from_pkcs8(der: &PrivateKeyDer<'_>) -> Option<Ed25519Key> {
        let PrivateKeyDer::Pkcs8(der) = der else {
            return None;
        };
        let der = der.secret_pkcs8_der();
        let body = match der {
            [0x30, len, 0x02, 0x01, 0x00 | 0x01, rest @ ..]
                if usize::from(*len) == der.len() - 2 =>
            {
                rest
            }
            _ => return None,
        };
        let seed = body.strip_prefix(ED25519_PKCS8_SEED)?.get(..32)?;
        Some(Ed25519Key(Arc::new(
            crate::check::ed25519::Key::from_secret(seed),
        )))
    }
}

impl rustls::sign::SigningKey for Ed25519Key {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        offered
            .contains(&SignatureScheme::ED25519)
            .then(|| Box::new(self.clone()) as Box<dyn rustls::sign::Signer>)
    }

    fn public_key(&self) -> Option<rustls::pki_types::SubjectPublicKeyInfoDer<'_>> {
        Some([ED25519_SPKI, &self.0.public()].concat().into())
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        rustls::SignatureAlgorithm::ED25519
    }
}

impl rustls::sign::Signer for Ed25519Key {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        Ok(self.0.sign(message).to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }
}

#[derive(Debug)]
struct SystemRandom;

impl rustls::crypto::SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivatePkcs8KeyDer;

    fn pkcs8(bytes: Vec<u8>) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bytes))
    }

    #[test]
    fn ed25519_pkcs8_keys_of_both_versions() {
        let seed = [7u8; 32];
        let public = crate::check::ed25519::Key::from_secret(&seed).public();
        // Version 1, as openssl genpkey writes it.
        let v1 = [
            &[0x30, 0x2e, 0x02, 0x01, 0x00][..],
            ED25519_PKCS8_SEED,
            &seed,
        ]
        .concat();
        // Version 2 (RFC 5958), the public key after the seed.
        let v2 = [
            &[0x30, 0x51, 0x02, 0x01, 0x01][..],
            ED25519_PKCS8_SEED,
            &seed,
            &[0x81, 0x21, 0x00],
            &public,
        ]
        .concat();
        for der in [v1.clone(), v2] {
            let key = Ed25519Key::from_pkcs8(&pkcs8(der)).expect("an Ed25519 key");
            assert_eq!(key.0.public(), public);
        }
        // X25519 (1.3.101.110) is not a signing key; a cut key is nothing.
        let mut x25519 = v1.clone();
        x25519[11] = 0x6e;
        assert!(Ed25519Key::from_pkcs8(&pkcs8(x25519)).is_none());
        assert!(Ed25519Key::from_pkcs8(&pkcs8(v1[..40].to_vec())).is_none());
    }
}
