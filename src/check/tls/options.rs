//! What a target says about TLS: `TlsOptions`, made from the one TLS flag
//! set (`target::TlsSettings`: the flags, or a wait URL's fragment, which
//! the URL grammar reads) or from libpq's parameters (built by the
//! PostgreSQL check), and `Names`, the user's words for each setting so
//! that every message names the option that fixes it.

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

/// The mysql client's names (URL parameters), with the flags beside them.
pub const MYSQL: Names = Names {
    cacert: "ssl-ca",
    cert: "ssl-cert",
    key: "ssl-key",
    untrusted: "use --cacert or ssl-ca, or ssl-mode=REQUIRED",
    client: "use ssl-cert and ssl-key, or --cert and --key",
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
