//! TLS for every check that speaks it (HTTPS, PostgreSQL, Redis, gRPC):
//! rustls on a lean ring provider, trust from the system's CAs or from a
//! CA file (which replaces them, as `--cacert` does in curl), client
//! certificates, and one wording for every TLS failure whatever the
//! protocol.
//!
//! The API is two steps. `Tls::new(&TlsOptions)` reads every file once (so
//! a bad `--cacert`, `--cert` or `--key` is reported before any connection)
//! and `Tls::peer(host)` gives one connection its configuration, the name
//! to verify and `Peer::reason`, which words the failures of that
//! connection.
//!
//! No bundled root list (webpki-roots): health checks talk to services in
//! the same deployment, usually behind a private CA given with `--cacert`;
//! a list compiled into the binary would cost bytes and go stale, while an
//! image that needs public roots already has (or can COPY) a CA file.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct,
    RootCertStore, SignatureScheme, StreamOwned,
};

use super::Attempt;
use super::net::Bounded;

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

/// Everything a protocol needs to say about TLS for one target. The same
/// for every protocol; only where the values come from differs (flags, the
/// URL fragment, libpq's parameters). The default verifies against the
/// system's CAs.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// Accept any certificate (`--insecure`, `sslmode=require`): encrypted,
    /// not authenticated. Handshake signatures are still checked.
    pub insecure: bool,
    /// Verify the chain but not the name (`sslmode=verify-ca`).
    pub skip_name: bool,
    /// PEM file of trust anchors (`--cacert`, `sslrootcert`): CA
    /// certificates, or the server's own self-signed certificate.
    pub cacert: Option<String>,
    /// Trust the system's CAs (`SSL_CERT_FILE`, `SSL_CERT_DIR` or the
    /// distribution's bundle) when no CA file is given: a CA file replaces
    /// them, as `--cacert` does in curl and `sslrootcert` in libpq.
    pub system_roots: bool,
    /// Client certificate chain and its key, PEM (`--cert`, `--key`). The
    /// key may be in the certificate's file, as curl allows.
    pub cert: Option<String>,
    pub key: Option<String>,
    /// The name sent as SNI and verified in the certificate, instead of
    /// the host connected to (`--servername`).
    pub servername: Option<String>,
    /// ALPN protocols to offer (e.g. `h2` for gRPC); none by default.
    pub alpn: Vec<Vec<u8>>,
    /// How the user names these settings, for messages.
    pub names: Names,
}

/// The user's names for the TLS settings, so every message points at the
/// option that fixes it.
#[derive(Clone, Copy, Debug)]
pub struct Names {
    pub cacert: &'static str,
    pub cert: &'static str,
    pub key: &'static str,
    /// How to make an untrusted certificate acceptable.
    pub untrusted: &'static str,
    /// How to give a client certificate.
    pub client: &'static str,
}

/// `berth check http|redis|grpc` flags, and the same names in a wait URL's
/// fragment (`#cacert=...&cert=...&key=...`).
pub const FLAGS: Names = Names {
    cacert: "--cacert",
    cert: "--cert",
    key: "--key",
    untrusted: "use --cacert or --insecure",
    client: "use --cert and --key",
};

/// libpq's names (URL parameters, with PGSSL* variables behind them).
pub const LIBPQ: Names = Names {
    cacert: "sslrootcert",
    cert: "sslcert",
    key: "sslkey",
    untrusted: "use --cacert or sslrootcert, or sslmode=require",
    client: "use sslcert and sslkey",
};

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            insecure: false,
            skip_name: false,
            cacert: None,
            system_roots: true,
            cert: None,
            key: None,
            servername: None,
            alpn: Vec::new(),
            names: FLAGS,
        }
    }
}

impl TlsOptions {
    /// The settings `check http`, `check redis` and `check grpc` take as
    /// flags (`--insecure`, `--cacert`, `--cert`, `--key`, `--servername`);
    /// without `--cacert`, the system's CAs are the trust anchors.
    pub fn from_flags(
        insecure: bool,
        cacert: Option<String>,
        cert: Option<String>,
        key: Option<String>,
        servername: Option<String>,
    ) -> TlsOptions {
        TlsOptions {
            insecure,
            cacert,
            cert,
            key,
            servername,
            ..TlsOptions::default()
        }
    }
}

impl From<crate::target::TlsSettings> for TlsOptions {
    /// The one TLS flag set (`--insecure --cacert --cert --key
    /// --servername`, or the same in a URL fragment); without a CA file the
    /// system's CAs are the trust anchors.
    fn from(s: crate::target::TlsSettings) -> TlsOptions {
        TlsOptions {
            insecure: s.insecure,
            cacert: s.cacert,
            cert: s.cert,
            key: s.key,
            servername: s.servername,
            ..TlsOptions::default()
        }
    }
}

impl Default for Names {
    fn default() -> Self {
        FLAGS
    }
}

impl TlsOptions {
    /// Takes berth's TLS settings from a URL fragment:
    /// `#cacert=FILE&cert=FILE&key=FILE&servername=NAME&insecure`, how
    /// `berth wait` and `run --wait` get what `check` takes as flags. The
    /// fragment is never sent to the server. Values are percent-decoded.
    pub fn from_fragment(fragment: &str) -> Result<TlsOptions, String> {
        let mut opts = TlsOptions::default();
        for pair in fragment.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Only a known setting's name is ever echoed: after an unencoded
            // '#' in a password, the rest of the password reads as the
            // fragment (found by the urls fuzz target).
            let key = match key {
                "insecure" | "cacert" | "cert" | "key" | "servername" => key,
                _ => {
                    return Err("URL fragment: unknown TLS setting \
                         (expected cacert=, cert=, key=, servername= or insecure)"
                        .into());
                }
            };
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| format!("URL fragment: the value of {key} is not UTF-8"))?
                .into_owned();
            let need = |v: String| {
                if v.is_empty() {
                    Err(format!("URL fragment: {key} needs a value ({key}=...)"))
                } else {
                    Ok(Some(v))
                }
            };
            match key {
                "insecure" if value.is_empty() || value == "1" || value == "true" => {
                    opts.insecure = true
                }
                "cacert" => opts.cacert = need(value)?,
                "cert" => opts.cert = need(value)?,
                "key" => opts.key = need(value)?,
                "servername" => opts.servername = need(value)?,
                _ => {
                    return Err(format!(
                        "URL fragment: {key} takes no value other than 1 or true"
                    ));
                }
            }
        }
        Ok(opts)
    }

    /// Flags given on the command line win over the URL fragment.
    pub fn or(self, fragment: TlsOptions) -> TlsOptions {
        TlsOptions {
            insecure: self.insecure || fragment.insecure,
            cacert: self.cacert.or(fragment.cacert),
            cert: self.cert.or(fragment.cert),
            key: self.key.or(fragment.key),
            servername: self.servername.or(fragment.servername),
            ..self
        }
    }
}

/// TLS settings read and checked, ready for any number of connections.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    client: Option<Arc<CertifiedKey>>,
    servername: Option<ServerName<'static>>,
    names: Names,
}

impl Tls {
    pub fn new(opts: &TlsOptions) -> Result<Tls, String> {
        let names = opts.names;
        let provider = provider();
        let verifier: Arc<dyn ServerCertVerifier> = if opts.insecure {
            Arc::new(AnyCertificate(provider.signature_verification_algorithms))
        } else {
            let given = match &opts.cacert {
                Some(path) => read_pem_certs(path, names.cacert)?,
                None => Vec::new(),
            };
            let mut roots = RootCertStore::empty();
            // Certificates the user named (not the distribution's bundle)
            // may be the server's own: keep them for the exact match.
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
            let webpki = verifier(roots.clone(), &provider)?;
            Arc::new(Verifier {
                webpki,
                later: Later {
                    roots,
                    dirs,
                    provider: provider.clone(),
                    verifier: OnceLock::new(),
                },
                pinned,
                skip_name: opts.skip_name,
            })
        };
        let client = match (&opts.cert, &opts.key) {
            (Some(cert), key) => Some(client_key(cert, key.as_deref(), &provider, names)?),
            (None, Some(key)) => {
                return Err(format!(
                    "{} {key} needs {} (the certificate that goes with the key)",
                    names.key, names.cert
                ));
            }
            (None, None) => None,
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = opts.alpn.clone();
        let servername = opts
            .servername
            .as_deref()
            .map(|n| server_name(n).map_err(|e| format!("--servername: {e}")))
            .transpose()?;
        Ok(Tls {
            config: Arc::new(config),
            client,
            servername,
            names,
        })
    }

    /// One connection to `host`: the name to verify is `--servername` if
    /// given, else `host`.
    pub fn peer(&self, host: &str) -> Result<Peer, String> {
        self.peer_named(host, true)
    }

    /// As `peer`, but `--servername` applies only when `own_host` (an
    /// HTTP redirect to another host verifies that host's name).
    pub fn peer_named(&self, host: &str, own_host: bool) -> Result<Peer, String> {
        let name = match (&self.servername, own_host) {
            (Some(n), true) => n.clone(),
            _ => server_name(host)?,
        };
        let asked = Arc::new(AtomicBool::new(false));
        let mut config = (*self.config).clone();
        config.client_auth_cert_resolver = Arc::new(ClientCert {
            key: self.client.clone(),
            asked: asked.clone(),
        });
        Ok(Peer {
            shown: name.to_str().into_owned(),
            config: Arc::new(config),
            name,
            asked,
            has_cert: self.client.is_some(),
            names: self.names,
        })
    }
}

/// One connection's TLS: what rustls needs, and the words for its failures.
pub struct Peer {
    pub config: Arc<ClientConfig>,
    /// The name sent as SNI and verified in the certificate.
    pub name: ServerName<'static>,
    shown: String,
    /// Set when the server asked for a client certificate.
    asked: Arc<AtomicBool>,
    has_cert: bool,
    names: Names,
}

/// A socket a blocking handshake can run over; `first_bytes` is what the
/// peer sent first, when the socket keeps it (to tell a peer that does not
/// speak TLS at all).
pub trait Socket: Read + Write {
    fn first_bytes(&self) -> &[u8] {
        &[]
    }
}

impl Socket for TcpStream {}

impl Socket for Bounded {
    fn first_bytes(&self) -> &[u8] {
        Bounded::first_bytes(self)
    }
}

impl Peer {
    /// Runs the handshake over `sock` (whose reads and writes the caller
    /// bounds by the attempt's deadline).
    pub fn handshake<S: Socket>(
        &self,
        mut sock: S,
        attempt: &Attempt,
    ) -> Result<StreamOwned<ClientConnection, S>, String> {
        attempt.phase("during the TLS handshake");
        let mut conn = ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|e| format!("TLS setup: {e}"))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut sock) {
                return Err(self.handshake_reason(&e, sock.first_bytes()));
            }
        }
        Ok(StreamOwned::new(conn, sock))
    }

    /// Why a handshake failed. `first` is what the peer sent first, if
    /// known: a server that answers a ClientHello with anything but a TLS
    /// record (22 handshake, 21 alert, then major version 3) is not
    /// speaking TLS on that port.
    pub fn handshake_reason(&self, e: &io::Error, first: &[u8]) -> String {
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
        if let Some(r) = self.after_handshake(e) {
            return r;
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

    /// The reason for a read or write that failed once connected, if TLS
    /// explains it. In TLS 1.3 a server checks the client's certificate
    /// after the client considers the handshake done, so its refusal
    /// arrives with the first reply.
    pub fn after_handshake(&self, e: &io::Error) -> Option<String> {
        if let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(self.error_reason(tls));
        }
        let closed = super::net::is_closed(e);
        (closed && self.asked.load(Ordering::Relaxed) && !self.has_cert).then(|| self.needs_cert())
    }

    fn needs_cert(&self) -> String {
        client_cert_required(&self.names)
    }

    /// A rustls error in words, with the option that fixes it where there
    /// is one. Every protocol reports TLS failures through here.
    pub fn error_reason(&self, e: &rustls::Error) -> String {
        use rustls::Error as E;
        let host = &self.shown;
        match e {
            E::InvalidCertificate(c) => match c {
                // A self-signed certificate marked as a CA (`openssl req
                // -x509`) that is not in --cacert: untrusted, as any other.
                CertificateError::UnknownIssuer => {
                    format!("TLS: certificate not trusted ({})", self.names.untrusted)
                }
                CertificateError::Other(why)
                    if matches!(
                        why.0.downcast_ref::<webpki::Error>(),
                        Some(webpki::Error::CaUsedAsEndEntity)
                    ) =>
                {
                    format!("TLS: certificate not trusted ({})", self.names.untrusted)
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
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
                CertificateError::Other(why) => format!("TLS: bad certificate ({why})"),
                other => format!("TLS: bad certificate ({other:?})"),
            },
            E::AlertReceived(alert) => self.alert_reason(*alert),
            E::InvalidMessage(_) | E::InappropriateHandshakeMessage { .. } => {
                "TLS handshake failed: server did not speak TLS".into()
            }
            E::PeerIncompatible(why) => {
                format!("TLS handshake failed: no common protocol ({why:?})")
            }
            other => format!("TLS handshake failed: {other}"),
        }
    }

    fn alert_reason(&self, alert: AlertDescription) -> String {
        use AlertDescription as A;
        let asked = self.asked.load(Ordering::Relaxed);
        match alert {
            A::CertificateRequired => self.needs_cert(),
            // TLS 1.2 servers (OpenSSL) answer a missing certificate with
            // a plain handshake_failure.
            A::HandshakeFailure if asked && !self.has_cert => self.needs_cert(),
            A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::DecryptError
            | A::HandshakeFailure
                if self.has_cert && asked =>
            {
                format!("TLS: the server rejected the client certificate ({alert:?})")
            }
            _ => format!("TLS handshake failed: the server sent alert {alert:?}"),
        }
    }
}

/// The reason for a server that wants a client certificate and got none,
/// whether TLS says so (an alert) or the protocol after it (PostgreSQL's
/// pg_hba.conf `cert`).
pub fn client_cert_required(names: &Names) -> String {
    format!(
        "TLS: the server requires a client certificate ({})",
        names.client
    )
}

/// The client certificate, offered when the server asks; remembers that
/// it asked, so a refusal can be told from other failures.
#[derive(Debug)]
struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    asked: Arc<AtomicBool>,
}

impl ResolvesClientCert for ClientCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// The one crypto provider berth uses: ring, cut to what a client needs to
/// reach any standard server, because every algorithm is bytes in the static
/// binary. Key exchange on P-256 only (the group RFC 8446 makes mandatory;
/// its tables are needed anyway to verify P-256 signatures), AES-GCM only
/// (mandatory in TLS 1.3, universal in 1.2). Client keys: ECDSA and RSA
/// (`ClientKeys`).
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
/// PEM shapes (PKCS#8, SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`).
/// Not Ed25519: ring's Ed25519 signing brings its own tables, about 94 kB
/// of the static binary (measured), for keys few client certificates use.
#[derive(Debug)]
struct ClientKeys;

impl rustls::crypto::KeyProvider for ClientKeys {
    fn load_private_key(
        &self,
        der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        use rustls::crypto::ring::sign;
        sign::any_ecdsa_type(&der)
            .or_else(|_| Ok(Arc::new(sign::RsaSigningKey::new(&der)?) as Arc<_>))
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

fn parse_pem_certs(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "not a valid PEM file".to_string())
}

/// The client certificate chain and key, checked to belong together. The
/// key's bytes never reach a message: PEM errors are reported by kind only.
fn client_key(
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
            "{flag} {path}: unusable private key (RSA of 2048 bits or more, \
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

fn verifier(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("TLS setup: {e}"))
}

/// The name the certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|_| format!("'{host}' is not a valid TLS server name"))
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

/// The standard check (chain to a trusted anchor, name, dates), with two
/// relaxations users expect from curl and libpq:
/// - a certificate given in the CA file is trusted when it is exactly the
///   one the server presents, even if it is marked as a CA (what
///   `openssl req -x509` makes) — its name and dates are still checked;
/// - `skip_name` (verify-ca) accepts a certificate for another name.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// `SSL_CERT_DIR`, for a chain whose issuer the bundle does not know.
    later: Later,
    /// The certificates from the CA file, compared byte for byte.
    pinned: Vec<CertificateDer<'static>>,
    skip_name: bool,
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

/// The trust anchors of `SSL_CERT_DIR`, read on first need and added to the
/// bundle's.
#[derive(Debug)]
struct Later {
    roots: RootCertStore,
    dirs: Vec<std::path::PathBuf>,
    provider: Arc<CryptoProvider>,
    #[allow(clippy::type_complexity)]
    verifier: OnceLock<Option<(Arc<WebPkiServerVerifier>, Vec<CertificateDer<'static>>)>>,
}

impl Later {
    fn get(&self) -> Option<&(Arc<WebPkiServerVerifier>, Vec<CertificateDer<'static>>)> {
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

    fn peer() -> Peer {
        let tls = Tls::new(&TlsOptions {
            insecure: true,
            ..TlsOptions::default()
        })
        .unwrap();
        tls.peer("h").unwrap()
    }

    #[test]
    fn not_tls_is_recognised() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        let p = peer();
        assert_eq!(
            p.handshake_reason(&eof, b"HTTP/1.1"),
            "TLS handshake failed: server did not speak TLS (it sent 'HTTP/1.1')"
        );
        assert!(
            p.handshake_reason(&eof, b"")
                .contains("closed the connection")
        );
        assert!(
            p.handshake_reason(&eof, &[22, 3, 3])
                .contains("closed the connection")
        );
    }

    #[test]
    fn one_wording_for_a_name_mismatch() {
        let e = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert_eq!(
            peer().error_reason(&e),
            "TLS: certificate is not valid for h (name mismatch)"
        );
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

    #[test]
    fn der_times() {
        // 2025-01-02 03:04:05 UTC
        assert_eq!(time(0x17, b"250102030405Z"), Some(1_735_787_045));
        assert_eq!(time(0x18, b"20250102030405Z"), Some(1_735_787_045));
        assert_eq!(time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(time(0x17, b"2501020304Z"), None);
        assert_eq!(time(0x18, b"20250102030405+0100"), None);
    }

    #[test]
    fn fragments() {
        let o = TlsOptions::from_fragment(
            "cacert=/ca.pem&cert=%2Fc.pem&key=/k&servername=api&insecure",
        )
        .unwrap();
        assert_eq!(o.cacert.as_deref(), Some("/ca.pem"));
        assert_eq!(o.cert.as_deref(), Some("/c.pem"));
        assert_eq!(o.key.as_deref(), Some("/k"));
        assert_eq!(o.servername.as_deref(), Some("api"));
        assert!(o.insecure && o.system_roots);
        assert!(TlsOptions::from_fragment("").unwrap().cacert.is_none());
        assert!(TlsOptions::from_fragment("section").is_err());
        assert!(TlsOptions::from_fragment("cacert=").is_err());
    }
}
