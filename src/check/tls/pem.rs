//! Reading the PEM files the user names: CA certificates (`--cacert`,
//! `sslrootcert`), the client certificate chain and its key (`--cert`,
//! `--key`), each error naming the option and the file. The key's bytes
//! never reach a message.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::Names;

/// Reads the certificates of a PEM file, e.g. the one `--cacert` names.
/// `flag` names the option in error messages.
pub fn read_pem_certs(path: &str, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, flag)?;
    let certs = parse_pem_certs(&bytes).map_err(|e| format!("{flag} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{flag} {path}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

fn read(path: &str, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|e| format!("{flag} {path}: cannot read: {}", crate::exit::io_reason(&e)))
}

pub(super) fn parse_pem_certs(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "not a valid PEM file".to_string())
}

/// The client certificate chain and key, checked to belong together. The
/// key's bytes never reach a message: PEM errors are reported by kind only.
pub(super) fn client_key(
    cert: &str,
    key: Option<&str>,
    provider: &CryptoProvider,
    names: Names,
) -> Result<Arc<CertifiedKey>, String> {
    let chain = read_pem_certs(cert, names.cert)?;
    let (path, flag) = match key {
        Some(k) => (k, names.key),
        None => (cert, names.cert),
    };
    let bytes = read(path, flag)?;
    let der = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound if bytes.windows(9).any(|w| w == b"ENCRYPTED") => format!(
            "{flag} {path}: the key is encrypted; give it unencrypted \
             (openssl pkey -in KEY -out PLAIN.key)"
        ),
        pem::Error::NoItemsFound if key.is_none() => format!(
            "{} {cert}: no private key in it; give the key with {}",
            names.cert, names.key
        ),
        pem::Error::NoItemsFound => format!(
            "{flag} {path}: no private key in it (expected -----BEGIN PRIVATE KEY-----, \
             RSA PRIVATE KEY or EC PRIVATE KEY)"
        ),
        _ => format!("{flag} {path}: not a valid PEM file"),
    })?;
    let signer = provider.key_provider.load_private_key(der).map_err(|_| {
        format!(
            "{flag} {path}: unusable private key (RSA of 2048 bits or more, Ed25519, \
             or ECDSA P-256/P-384, expected)"
        )
    })?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|_| {
        format!(
            "{flag} {path}: this key does not belong to the certificate in {} {cert}",
            names.cert
        )
    })?;
    Ok(Arc::new(certified))
}

#[cfg(test)]
mod tests {
    use super::*;

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
