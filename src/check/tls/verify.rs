//! How a server's certificate is judged: webpki's standard check (chain to
//! a trusted anchor, name, dates) with the relaxations users expect from
//! curl and libpq (a self-signed certificate given as its own trust anchor,
//! `sslmode=verify-ca`), and `--insecure`, which accepts any certificate
//! but still verifies handshake signatures. The anchors come from `trust`,
//! picked for each chain by the issuers it names; a pinned certificate's
//! dates from `der`, since webpki checks them only on the chain it builds.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::der::{fields, validity};
use super::trust::{Anchors, Trust};

/// The standard check (chain to a trusted anchor, name, dates), with two
/// relaxations users expect from curl and libpq:
/// - a certificate given in the CA file is trusted when it is exactly the
///   one the server presents, even if it is marked as a CA (what
///   `openssl req -x509` makes) — its name and dates are still checked;
/// - `skip_name` (verify-ca) accepts a certificate for another name.
#[derive(Debug)]
pub(super) struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
    skip_name: bool,
}

impl Verifier {
    pub fn new(trust: Trust, provider: &Arc<CryptoProvider>, skip_name: bool) -> Verifier {
        Verifier {
            trust,
            provider: provider.clone(),
            skip_name,
        }
    }

    /// webpki's verdict on the chain with these anchors.
    fn webpki(
        &self,
        roots: RootCertStore,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(format!("TLS setup: {e}")))?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The names an anchor must carry to matter to this chain: every
        // issuer it names, wherever webpki's path goes, and the server's
        // own subject for the exact match.
        let mut wanted: Vec<&[u8]> = fields(end_entity)
            .iter()
            .flat_map(|f| [f.issuer, f.subject])
            .collect();
        wanted.extend(
            intermediates
                .iter()
                .filter_map(|c| fields(c))
                .map(|f| f.issuer),
        );
        let verdict = |with_dirs| {
            let Anchors { roots, pinned } = self.trust.anchors(&wanted, with_dirs);
            let checked = self.webpki(roots, end_entity, intermediates, server_name, ocsp, now);
            (checked, pinned)
        };
        let (mut checked, mut pinned) = verdict(false);
        let unknown_issuer = matches!(
            checked,
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        );
        if unknown_issuer && self.trust.has_dirs() {
            (checked, pinned) = verdict(true);
        }
        let name_only = |e: &rustls::Error| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            )
        };
        match checked {
            Ok(v) => Ok(v),
            Err(e) if self.skip_name && name_only(&e) => Ok(ServerCertVerified::assertion()),
            Err(_) if pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                pinned_check(end_entity, server_name, now, self.skip_name)
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What is left to check of a certificate the user handed over as its own
/// trust anchor: its dates and the name.
fn pinned_check(
    cert: &CertificateDer<'_>,
    name: &ServerName<'_>,
    now: UnixTime,
    skip_name: bool,
) -> Result<ServerCertVerified, rustls::Error> {
    let bad = |e: CertificateError| rustls::Error::InvalidCertificate(e);
    let (not_before, not_after) = validity(cert).ok_or(bad(CertificateError::BadEncoding))?;
    let now = now.as_secs();
    if now < not_before {
        return Err(bad(CertificateError::NotValidYet));
    }
    if now > not_after {
        return Err(bad(CertificateError::Expired));
    }
    if !skip_name {
        webpki::EndEntityCert::try_from(cert)
            .map_err(|_| bad(CertificateError::BadEncoding))?
            .verify_is_valid_for_subject_name(name)
            .map_err(|_| bad(CertificateError::NotValidForName))?;
    }
    Ok(ServerCertVerified::assertion())
}

/// `--insecure`: any certificate for any name, but handshake signatures are
/// still verified with the provider's algorithms.
#[derive(Debug)]
pub(super) struct AnyCertificate(pub WebPkiSupportedAlgorithms);

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
