//! Where the trust anchors come from: the CA file the user gives
//! (`--cacert`, `sslrootcert`), which replaces the system's as in curl and
//! libpq, or else the system's CAs: `SSL_CERT_FILE` or the distribution's
//! bundle, and `SSL_CERT_DIR`, read only when the bundle does not know the
//! server's issuer.
//!
//! No bundled root list (webpki-roots): health checks talk to services in
//! the same deployment, usually behind a private CA given with `--cacert`;
//! a list compiled into the binary would cost bytes and go stale, while an
//! image that needs public roots already has (or can COPY) a CA file.

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;

use super::TlsOptions;
use super::pem::{parse_pem_certs, read_pem_certs};
use super::verify::verifier;

/// Where distributions keep their CA bundle, tried in order when
/// `SSL_CERT_FILE` is not set (the same variable OpenSSL and curl honour).
const CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // newer RHEL
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // Alpine, BSDs
];

/// Files read from `SSL_CERT_DIR` at most: a hashed directory holds one
/// file per CA (a few hundred), anything far beyond is not a CA directory.
const MAX_DIR_FILES: usize = 4096;

/// The system's CA bundle: `SSL_CERT_FILE`, or the first bundle found in
/// the usual places. Empty in a `FROM scratch` image without one. The flag
/// says whether the user named the trust store (`SSL_CERT_FILE` or
/// `SSL_CERT_DIR` set).
pub fn system_roots() -> (Vec<CertificateDer<'static>>, bool) {
    let from_env = std::env::var_os("SSL_CERT_FILE");
    let named = from_env.is_some() || std::env::var_os("SSL_CERT_DIR").is_some();
    let candidates: Vec<std::path::PathBuf> = match from_env {
        Some(f) => vec![f.into()],
        None => CA_FILES.iter().map(Into::into).collect(),
    };
    let roots = candidates
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .and_then(|bytes| parse_pem_certs(&bytes).ok())
        .unwrap_or_default();
    (roots, named)
}

/// The directories `SSL_CERT_DIR` lists (OpenSSL's separator, ':').
fn cert_dirs() -> Vec<std::path::PathBuf> {
    std::env::var_os("SSL_CERT_DIR")
        .map(|d| std::env::split_paths(&d).collect())
        .unwrap_or_default()
}

/// Every certificate in `dirs` (each file may hold one or more), each file
/// read once however many links in the directory point at it.
fn dir_certs(dirs: &[std::path::PathBuf]) -> Vec<CertificateDer<'static>> {
    let mut seen = std::collections::HashSet::new();
    let mut certs = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten().take(MAX_DIR_FILES) {
            let Ok(path) = std::fs::canonicalize(entry.path()) else {
                continue;
            };
            if !seen.insert(path.clone()) {
                continue;
            }
            if let Some(found) = std::fs::read(&path)
                .ok()
                .and_then(|b| parse_pem_certs(&b).ok())
            {
                certs.extend(found);
            }
        }
    }
    certs
}

/// The trust anchors of `SSL_CERT_DIR`, read on first need and added to the
/// bundle's.
#[derive(Debug)]
pub(super) struct Later {
    roots: RootCertStore,
    dirs: Vec<std::path::PathBuf>,
    provider: Arc<CryptoProvider>,
    #[allow(clippy::type_complexity)]
    verifier: OnceLock<Option<(Arc<WebPkiServerVerifier>, Vec<CertificateDer<'static>>)>>,
}

impl Later {
    pub fn new(
        roots: RootCertStore,
        dirs: Vec<std::path::PathBuf>,
        provider: Arc<CryptoProvider>,
    ) -> Later {
        Later {
            roots,
            dirs,
            provider,
            verifier: OnceLock::new(),
        }
    }

    /// The verifier with the directory's anchors added, and those anchors
    /// (which may be the server's own certificate); `None` without
    /// `SSL_CERT_DIR`.
    pub fn get(&self) -> Option<&(Arc<WebPkiServerVerifier>, Vec<CertificateDer<'static>>)> {
        if self.dirs.is_empty() {
            return None;
        }
        self.verifier
            .get_or_init(|| {
                let certs = dir_certs(&self.dirs);
                let mut roots = self.roots.clone();
                roots.add_parsable_certificates(certs.iter().cloned());
                verifier(roots, &self.provider).ok().map(|v| (v, certs))
            })
            .as_ref()
    }
}

/// The trust anchors of one set of TLS options.
pub(super) struct Trust {
    pub roots: RootCertStore,
    /// Certificates the user named (not the distribution's bundle), which
    /// may be the server's own: trusted on an exact match.
    pub pinned: Vec<CertificateDer<'static>>,
    /// `SSL_CERT_DIR`, when it is to be read on need.
    pub dirs: Vec<std::path::PathBuf>,
}

impl Trust {
    /// Reads the CA file, or the system's bundle; fails when nothing could
    /// verify a certificate, before any connection.
    pub fn load(opts: &TlsOptions) -> Result<Trust, String> {
        let names = opts.names;
        let given = match &opts.cacert {
            Some(path) => read_pem_certs(path, names.cacert)?,
            None => Vec::new(),
        };
        let mut roots = RootCertStore::empty();
        let mut pinned = Vec::new();
        let mut dirs = Vec::new();
        if opts.system_roots && opts.cacert.is_none() {
            let (system, named) = system_roots();
            if named {
                pinned.extend(system.iter().cloned());
            }
            roots.add_parsable_certificates(system);
            dirs = cert_dirs();
            if roots.is_empty() {
                // Only a directory: nothing to be lazy about.
                let certs = dir_certs(&dirs);
                pinned.extend(certs.iter().cloned());
                roots.add_parsable_certificates(certs);
                dirs.clear();
            }
        }
        let (_, rejected) = roots.add_parsable_certificates(given.iter().cloned());
        pinned.extend(given);
        if rejected > 0 {
            let path = opts.cacert.as_deref().unwrap_or_default();
            return Err(format!(
                "{} {path}: {rejected} certificate(s) in it cannot be used as trust anchors",
                names.cacert
            ));
        }
        if roots.is_empty() {
            // FROM scratch: nothing to verify a certificate against.
            return Err(format!(
                "TLS: no CA certificates on this system to verify the server \
                 ({}, or SSL_CERT_FILE)",
                names.untrusted
            ));
        }
        Ok(Trust {
            roots,
            pinned,
            dirs,
        })
    }
}
