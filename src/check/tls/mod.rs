//! TLS for every check that speaks it (HTTPS, PostgreSQL, MySQL, Redis,
//! gRPC, AMQP, NATS): rustls on a lean ring provider, trust from the
//! system's CAs or from a CA file (which replaces them, as `--cacert` does
//! in curl), client certificates, and one wording for every TLS failure
//! whatever the protocol.
//!
//! The API is two steps. `Tls::new(&TlsOptions)` reads every file once (so
//! a bad `--cacert`, `--cert` or `--key` is reported before any connection)
//! and `Tls::peer(host)` gives one connection its configuration, the name
//! to verify and the words for its failures (`Peer::handshake_reason`,
//! `Peer::after_handshake`).
//!
//! One file per concern:
//! - `options`: `TlsOptions` and `Names`, from flags, a URL fragment or
//!   libpq's or the mysql client's parameters;
//! - `pem`: reading the CA, certificate and key files, with their errors;
//! - `trust`: the trust anchors, from the CA file or the system's store,
//!   whose bundle is decoded only as far as a chain needs;
//! - `verify`: judging the server's certificate (pinned self-signed
//!   certificates, verify-ca, `--insecure`);
//! - `der`: what berth reads of a certificate itself (names, dates);
//! - `reasons`: one wording for every TLS failure;
//! - `provider`: the cut-down ring crypto provider.

mod der;
mod options;
mod pem;
mod provider;
mod reasons;
mod trust;
mod verify;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::ResolvesClientCert;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ClientConnection, SignatureScheme, StreamOwned};

pub use options::{FLAGS, LIBPQ, MYSQL, Names, TlsOptions};
pub use pem::read_pem_certs;
pub use provider::provider;
pub use reasons::{client_cert_required, printable};
pub use trust::system_roots;

use super::Attempt;
use super::net::Bounded;
use pem::client_key;
use trust::Trust;
use verify::{AnyCertificate, Verifier};

/// TLS settings read and checked, ready for any number of connections.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    client: Option<Arc<CertifiedKey>>,
    servername: Option<ServerName<'static>>,
    names: Names,
}

impl Tls {
    /// Reads and checks every file the options name and finds the trust
    /// store, so that a bad file, or no CA at all, is reported before any
    /// connection.
    pub fn new(opts: &TlsOptions) -> Result<Tls, String> {
        let names = opts.names;
        let provider = provider();
        let verifier: Arc<dyn ServerCertVerifier> = if opts.insecure {
            Arc::new(AnyCertificate(provider.signature_verification_algorithms))
        } else {
            let trust = Trust::load(opts)?;
            Arc::new(Verifier::new(trust, &provider, opts.skip_name))
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

/// The name the certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|_| format!("'{host}' is not a valid TLS server name"))
}
