//! TLS for the database checks (PostgreSQL `sslmode`, `rediss://`), on the
//! same lean provider, roots and `--insecure` verifier as HTTPS (`tls.rs`),
//! plus what only they need: verify-ca (chain without the name), a CA file
//! that replaces the system's rather than adding to it (libpq's
//! `sslrootcert`), and hints naming their own options.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::tls;

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Encrypt only: `sslmode=require`/`prefer`, `--insecure`.
    Nothing,
    /// The chain up to a trusted CA, any host name: `sslmode=verify-ca`.
    Chain,
    /// Chain and host name: `sslmode=verify-full`, `rediss://`.
    Full,
}

pub fn client_config(verify: Verify, cacert: Option<&str>) -> Result<Arc<ClientConfig>, String> {
    let provider = tls::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let config = if verify == Verify::Nothing {
        builder
            .dangerous()
            .with_custom_certificate_verifier(tls::insecure_verifier(&provider))
            .with_no_client_auth()
    } else {
        let roots = roots(cacert)?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("TLS: {e}"))?;
        if verify == Verify::Chain {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                .with_no_client_auth()
        } else {
            builder.with_webpki_verifier(webpki).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// The name the certificate must carry; IP literals become IP names.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("'{host}' is not a valid TLS server name"))
}

/// The trust anchors: the given CA file alone (as libpq's `sslrootcert`),
/// else the system's bundle.
fn roots(cacert: Option<&str>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match cacert {
        Some(path) => {
            let (_, rejected) =
                roots.add_parsable_certificates(tls::read_pem_certs(path, "CA file")?);
            if rejected > 0 {
                return Err(format!("CA file {path}: not a usable CA certificate"));
            }
        }
        None => {
            roots.add_parsable_certificates(tls::system_roots());
            if roots.is_empty() {
                // FROM scratch: nothing to verify a certificate against.
                return Err(
                    "TLS: no CA certificates on this system to verify the server; give one with --cacert"
                        .into(),
                );
            }
        }
    }
    Ok(roots)
}

/// A one-line reason for a failed handshake. `hint` says which option makes
/// an untrusted certificate acceptable ("use --cacert or --insecure").
pub fn reason(e: &std::io::Error, host: &str, hint: &str) -> String {
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls_reason(tls, host, hint);
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
            "TLS: the server closed the connection during the handshake".into()
        }
        _ => format!("TLS: {}", crate::exit::io_reason(e)),
    }
}

fn tls_reason(e: &rustls::Error, host: &str, hint: &str) -> String {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => format!("TLS: certificate not trusted ({hint})"),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("TLS: certificate is not valid for the name {host}")
            }
            C::Expired | C::ExpiredContext { .. } => "TLS: certificate expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "TLS: certificate not valid yet".into()
            }
            other => format!("TLS: bad certificate ({other:?})"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateHandshakeMessage { .. } => {
            "TLS: the server does not speak TLS on this port".into()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("TLS: the server refused the handshake ({alert:?})")
        }
        other => format!("TLS: {other}"),
    }
}

/// `sslmode=verify-ca`: libpq checks the chain but not the host name, for
/// servers reached by an address their certificate does not list.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
