//! One wording for every TLS failure, whatever the protocol: why a
//! handshake failed (a peer that does not speak TLS, a certificate not
//! trusted, a name mismatch, a client certificate missing or refused), each
//! with the option that fixes it. HTTP, PostgreSQL, Redis, gRPC, AMQP and
//! NATS report TLS failures only through here.

use std::io;
use std::sync::atomic::Ordering;

use rustls::{AlertDescription, CertificateError};

use super::{Names, Peer};

impl Peer {
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
        let closed = crate::check::net::is_closed(e);
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
            // a plain handshake_failure, Go's (NATS, before Go 1.21) with
            // bad_certificate.
            A::HandshakeFailure | A::BadCertificate if asked && !self.has_cert => self.needs_cert(),
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

#[cfg(test)]
mod tests {
    use super::super::{Tls, TlsOptions};
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
}
