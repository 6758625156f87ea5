//! How a server's certificate is judged: webpki's standard check (chain to
//! a trusted anchor, name, dates) with the relaxations users expect from
//! curl and libpq (a self-signed certificate given as its own trust anchor,
//! `sslmode=verify-ca`), and `--insecure`, which accepts any certificate
//! but still verifies handshake signatures. The dates of a pinned
//! certificate are read from its DER here, since webpki checks them only
//! on the chain it builds.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::trust::{Later, Trust};

/// webpki's verifier for these anchors.
pub(super) fn verifier(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("TLS setup: {e}"))
}

/// The standard check (chain to a trusted anchor, name, dates), with two
/// relaxations users expect from curl and libpq:
/// - a certificate given in the CA file is trusted when it is exactly the
///   one the server presents, even if it is marked as a CA (what
///   `openssl req -x509` makes) — its name and dates are still checked;
/// - `skip_name` (verify-ca) accepts a certificate for another name.
#[derive(Debug)]
pub(super) struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// `SSL_CERT_DIR`, for a chain whose issuer the bundle does not know.
    later: Later,
    /// The certificates from the CA file, compared byte for byte.
    pinned: Vec<CertificateDer<'static>>,
    skip_name: bool,
}

impl Verifier {
    pub fn new(
        trust: Trust,
        provider: &Arc<CryptoProvider>,
        skip_name: bool,
    ) -> Result<Verifier, String> {
        Ok(Verifier {
            webpki: verifier(trust.roots.clone(), provider)?,
            later: Later::new(trust.roots, trust.dirs, provider.clone()),
            pinned: trust.pinned,
            skip_name,
        })
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
        let mut checked =
            self.webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        let unknown_issuer = matches!(
            checked,
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        );
        let mut from_dirs: &[CertificateDer<'static>] = &[];
        if unknown_issuer && let Some((webpki, certs)) = self.later.get() {
            checked = webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
            from_dirs = certs;
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
            Err(_)
                if self
                    .pinned
                    .iter()
                    .chain(from_dirs)
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
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
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
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

/// One DER element: (tag, contents, what follows).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A certificate's notBefore and notAfter in Unix seconds (RFC 5280
/// 4.1.2.5). webpki checks them only on the chain path it builds, so the
/// pinned path reads them here.
fn validity(cert: &[u8]) -> Option<(u64, u64)> {
    let (_, cert, _) = der(cert)?;
    let (_, mut tbs, _) = der(cert)?;
    // [0] version, present in every v3 certificate.
    if let (0xa0, _, rest) = der(tbs)? {
        tbs = rest;
    }
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        tbs = der(tbs)?.2;
    }
    let (_, dates, _) = der(tbs)?;
    let (tag1, before, rest) = der(dates)?;
    let (tag2, after, _) = der(rest)?;
    Some((time(tag1, before)?, time(tag2, after)?))
}

/// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as
/// RFC 5280 requires them, in Unix seconds.
fn time(tag: u8, text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let num = |s: Option<&str>| s?.parse::<i64>().ok();
    let (year, rest) = match tag {
        0x17 => {
            let yy = num(text.get(..2))?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (num(text.get(..4))?, text.get(4..)?),
        _ => return None,
    };
    if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| num(rest.get(i..i + 2));
    let (month, day) = (field(0)?, field(2)?);
    let secs = field(4)? * 3600 + field(6)? * 60 + field(8)?;
    // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + secs).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_times() {
        // 2025-01-02 03:04:05 UTC
        assert_eq!(time(0x17, b"250102030405Z"), Some(1_735_787_045));
        assert_eq!(time(0x18, b"20250102030405Z"), Some(1_735_787_045));
        assert_eq!(time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(time(0x17, b"2501020304Z"), None);
        assert_eq!(time(0x18, b"20250102030405+0100"), None);
    }
}
