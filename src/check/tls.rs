//! TLS for every check that speaks it (HTTPS, and later PostgreSQL and
//! Redis): rustls with the ring provider, trust from the system's CA file
//! plus `--cacert`, an `--insecure` mode, and failure reasons a user can act on.
//!
//! No bundled root list (webpki-roots): health checks talk to services in
//! the same deployment, usually behind a private CA given with `--cacert`;
//! a list compiled into the binary would cost bytes and go stale, while an
//! image that needs public roots already has (or can COPY) a CA file.

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};

use super::Attempt;
use super::tcp::Bounded;

/// Where distributions keep their CA bundle, tried in order when
/// `SSL_CERT_FILE` is not set (the same variable OpenSSL and curl honour).
const CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // newer RHEL
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // Alpine, BSDs
];

/// How the server's certificate is checked.
#[derive(Clone, Debug)]
pub enum Trust {
    /// Verify the chain and the name against the system's CAs plus these
    /// (from `--cacert`).
    Verify(Vec<CertificateDer<'static>>),
    /// Accept any certificate (`--insecure`); the handshake's signatures
    /// are still checked, so the connection is encrypted, just not
    /// authenticated.
    Insecure,
}

/// The one crypto provider berth uses: ring, cut to what a client needs to
/// reach any standard server, because every algorithm is bytes in the static
/// binary. Key exchange on P-256 only (the group RFC 8446 makes mandatory;
/// its tables are needed anyway to verify P-256 signatures), AES-GCM only
/// (mandatory in TLS 1.3, universal in 1.2), no client certificates.
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
        key_provider: &NoClientKeys,
    })
}

/// Certificate and handshake signatures berth verifies: ECDSA on P-256 and
/// P-384 (Let's Encrypt's ECDSA intermediates are P-384), RSA PKCS#1 and PSS.
static SIGNATURES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        webpki::ring::ECDSA_P256_SHA256,
        webpki::ring::ECDSA_P256_SHA384,
        webpki::ring::ECDSA_P384_SHA256,
        webpki::ring::ECDSA_P384_SHA384,
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

/// Loading private keys is only for client certificates, which no check
/// offers; leaving it out keeps ring's signing code out of the binary.
#[derive(Debug)]
struct NoClientKeys;

impl rustls::crypto::KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "client certificates are not supported".into(),
        ))
    }
}

/// Reads the certificates of a PEM file, e.g. the one `--cacert` names.
/// `flag` names the option in error messages.
pub fn read_pem_certs(path: &str, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("{flag} {path}: cannot read: {}", crate::exit::io_reason(&e)))?;
    let certs = parse_pem_certs(&bytes).map_err(|e| format!("{flag} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{flag} {path}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

fn parse_pem_certs(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a valid PEM file ({e:?})"))
}

/// The system's CA certificates: `SSL_CERT_FILE`, or the first bundle found
/// in the usual places. Empty in a `FROM scratch` image without one.
pub fn system_roots() -> Vec<CertificateDer<'static>> {
    let from_env = std::env::var_os("SSL_CERT_FILE");
    let candidates: Vec<std::path::PathBuf> = match from_env {
        Some(f) => vec![f.into()],
        None => CA_FILES.iter().map(Into::into).collect(),
    };
    candidates
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .and_then(|bytes| parse_pem_certs(&bytes).ok())
        .unwrap_or_default()
}

/// A client configuration for `trust`, ready for any number of connections.
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(insecure_verifier(&provider))
            .with_no_client_auth(),
        Trust::Verify(extra) => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(system_roots());
            let (_, rejected) = roots.add_parsable_certificates(extra.iter().cloned());
            if rejected > 0 {
                return Err(format!(
                    "{rejected} CA certificate(s) given with --cacert are not usable as trust anchors"
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// The name the certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|_| format!("'{host}' is not a valid TLS server name"))
}

/// Runs the TLS handshake over `sock` within the attempt's deadline.
pub fn handshake(
    mut sock: Bounded,
    host: &str,
    config: Arc<ClientConfig>,
    attempt: &Attempt,
) -> Result<StreamOwned<ClientConnection, Bounded>, String> {
    attempt.phase("during the TLS handshake");
    let mut conn =
        ClientConnection::new(config, server_name(host)?).map_err(|e| format!("TLS setup: {e}"))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            return Err(handshake_reason(&e, sock.first_bytes(), host));
        }
    }
    Ok(StreamOwned::new(conn, sock))
}

/// Why a handshake failed. `first` is what the peer sent first: a server
/// that answers a ClientHello with anything but a TLS record (22 handshake,
/// 21 alert, then major version 3) is not speaking TLS on that port.
pub fn handshake_reason(e: &io::Error, first: &[u8], host: &str) -> String {
    let speaks_tls = match first {
        [] => None,
        [21 | 22] | [21 | 22, 3, ..] => Some(true),
        _ => Some(false),
    };
    if speaks_tls == Some(false) {
        return format!(
            "TLS handshake failed: server did not speak TLS (it sent {})",
            printable(first)
        );
    }
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return error_reason(tls, host);
    }
    use io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => "timed out during the TLS handshake".into(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
            "TLS handshake failed: the server closed the connection".into()
        }
        _ => format!("TLS handshake failed: {}", crate::exit::io_reason(e)),
    }
}

/// A rustls error in words, with the flag that fixes it where there is one.
pub fn error_reason(e: &rustls::Error, host: &str) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "TLS: certificate not trusted (use --cacert or --insecure)".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("TLS: certificate is not valid for {host} (name mismatch)")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "TLS: certificate expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "TLS: certificate not valid yet (check the clock)".into()
            }
            CertificateError::Revoked => "TLS: certificate revoked".into(),
            CertificateError::BadSignature => "TLS: bad certificate signature".into(),
            // webpki's own reasons, e.g. CaUsedAsEndEntity for a
            // self-signed CA certificate served as the server's.
            CertificateError::Other(why) => format!("TLS: bad certificate ({why})"),
            other => format!("TLS: bad certificate ({other:?})"),
        },
        E::AlertReceived(alert) => format!("TLS handshake failed: the server sent alert {alert:?}"),
        E::InvalidMessage(_) => "TLS handshake failed: server did not speak TLS".into(),
        E::PeerIncompatible(why) => format!("TLS handshake failed: no common protocol ({why:?})"),
        other => format!("TLS handshake failed: {other}"),
    }
}

/// Up to 8 bytes as text for a message: "'HTTP/1.1'" or hex when binary.
pub fn printable(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("'{}'", String::from_utf8_lossy(bytes))
    } else {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The `--insecure` verifier (also `sslmode=require`).
pub fn insecure_verifier(provider: &CryptoProvider) -> Arc<dyn ServerCertVerifier> {
    Arc::new(AnyCertificate(provider.signature_verification_algorithms))
}

/// `--insecure`: any certificate for any name, but handshake signatures are
/// still verified with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_tls_is_recognised() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            handshake_reason(&eof, b"HTTP/1.1", "h"),
            "TLS handshake failed: server did not speak TLS (it sent 'HTTP/1.1')"
        );
        assert!(handshake_reason(&eof, b"", "h").contains("closed the connection"));
        assert!(handshake_reason(&eof, &[22, 3, 3], "h").contains("closed the connection"));
    }

    #[test]
    fn bad_pem_file() {
        let e = read_pem_certs("/nonexistent/ca.pem", "--cacert").unwrap_err();
        assert!(
            e.contains("--cacert /nonexistent/ca.pem: cannot read"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("berth-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("empty.pem");
        std::fs::write(&f, "hello").unwrap();
        let e = read_pem_certs(f.to_str().unwrap(), "--cacert").unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
