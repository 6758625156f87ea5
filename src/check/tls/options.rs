//! What a target says about TLS, wherever it says it: `TlsOptions` from
//! `check`'s flags (`from_flags`), from a wait URL's fragment
//! (`from_fragment`, `#cacert=...&insecure`) or from libpq's parameters
//! (built by the PostgreSQL check), and `Names`, the user's words for each
//! setting so that every message names the option that fixes it.

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

#[cfg(test)]
mod tests {
    use super::*;

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
