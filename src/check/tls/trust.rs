//! Where the trust anchors come from: the CA file the user gives
//! (`--cacert`, `sslrootcert`), which replaces the system's as in curl and
//! libpq, or else the system's CAs: `SSL_CERT_FILE` or the distribution's
//! bundle, and `SSL_CERT_DIR`.
//!
//! The system's store is read on need. A bundle holds about 140 CAs and a
//! chain needs one: parsing them all into anchors cost about 2 ms of CPU
//! per check (bench/check-tls.sh). So `Trust::load` only reads the bundle's
//! bytes (and fails at once when the system has no CA at all), and at
//! verification `Trust::anchors` decodes each PEM block only as far as its
//! subject and keeps the certificates whose subject is an issuer the
//! server's chain names: the anchors webpki would have looked at, as it
//! compares names byte for byte. `SSL_CERT_DIR` is read only when neither
//! the CA file nor the bundle knows the issuer.
//!
//! No bundled root list (webpki-roots): health checks talk to services in
//! the same deployment, usually behind a private CA given with `--cacert`;
//! a list compiled into the binary would cost bytes and go stale, while an
//! image that needs public roots already has (or can COPY) a CA file.

use std::path::PathBuf;
use std::sync::OnceLock;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, Der, TrustAnchor};

use super::TlsOptions;
use super::der::{fields, total_len};
use super::pem::{parse_pem_certs, read_pem_certs};

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

/// The trust anchors of one set of TLS options.
#[derive(Debug)]
pub(super) struct Trust {
    /// Anchors read up front: the CA file's, or `SSL_CERT_DIR`'s when the
    /// system has no bundle.
    roots: RootCertStore,
    /// Certificates the user named (not the distribution's bundle), which
    /// may be the server's own: trusted on an exact match.
    pinned: Vec<CertificateDer<'static>>,
    /// The system's bundle, its anchors picked by name per chain.
    bundle: Option<Bundle>,
    /// `SSL_CERT_DIR`, read on first need.
    dirs: Dirs,
}

/// The anchors that can matter for one chain.
pub(super) struct Anchors {
    pub roots: RootCertStore,
    /// Those of them that may be the server's own certificate.
    pub pinned: Vec<CertificateDer<'static>>,
}

impl Trust {
    /// Reads the CA file, or finds the system's store; fails when nothing
    /// could verify a certificate, before any connection.
    pub fn load(opts: &TlsOptions) -> Result<Trust, String> {
        let names = opts.names;
        let given = match &opts.cacert {
            Some(path) => read_pem_certs(path, names.cacert)?,
            None => Vec::new(),
        };
        let mut roots = RootCertStore::empty();
        let mut pinned = Vec::new();
        let mut bundle = None;
        let mut dirs = Dirs::default();
        if opts.system_roots && opts.cacert.is_none() {
            bundle = Bundle::system();
            dirs = Dirs::from_env();
            if bundle.is_none() {
                // Only a directory: nothing to be lazy about.
                let certs = dirs.take();
                pinned.extend(certs.iter().cloned());
                roots.add_parsable_certificates(certs);
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
        if roots.is_empty() && bundle.is_none() {
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
            bundle,
            dirs,
        })
    }

    /// The anchors for a chain whose certificates name `wanted` as their
    /// issuers (and the server's own subject, for the exact match): those
    /// read up front, the bundle's with a wanted subject, and with
    /// `with_dirs` those of `SSL_CERT_DIR`.
    pub fn anchors(&self, wanted: &[&[u8]], with_dirs: bool) -> Anchors {
        let mut roots = self.roots.clone();
        let mut pinned = self.pinned.clone();
        if let Some(bundle) = &self.bundle {
            let found = bundle.find(wanted);
            if bundle.named {
                pinned.extend(found.iter().cloned());
            }
            roots.add_parsable_certificates(found);
        }
        if with_dirs {
            let certs = self.dirs.certs();
            roots.add_parsable_certificates(
                certs
                    .iter()
                    .filter(|c| fields(c).is_some_and(|f| wanted.contains(&f.subject)))
                    .cloned(),
            );
            pinned.extend(certs.iter().cloned());
        }
        if roots.is_empty() {
            // webpki wants at least one anchor, and checks the server's
            // certificate itself (dates, usage) before it looks for the
            // issuer: this one matches no issuer, so "unknown issuer"
            // still comes only after those.
            roots.roots.push(TrustAnchor {
                subject: Der::from_slice(&[]),
                subject_public_key_info: Der::from_slice(&[]),
                name_constraints: None,
            });
        }
        Anchors { roots, pinned }
    }

    /// Whether `SSL_CERT_DIR` is still to be read.
    pub fn has_dirs(&self) -> bool {
        !self.dirs.paths.is_empty()
    }
}

/// A CA bundle's bytes, PEM, as read from disk.
#[derive(Debug)]
struct Bundle {
    pem: Vec<u8>,
    /// The user named the trust store (`SSL_CERT_FILE` or `SSL_CERT_DIR`
    /// set): it may hold the server's own certificate.
    named: bool,
}

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";

impl Bundle {
    /// `SSL_CERT_FILE`, or the first bundle found in the usual places;
    /// `None` when there is none or it holds no certificate (a `FROM
    /// scratch` image).
    fn system() -> Option<Bundle> {
        let from_env = std::env::var_os("SSL_CERT_FILE");
        let named = from_env.is_some() || std::env::var_os("SSL_CERT_DIR").is_some();
        let candidates: Vec<PathBuf> = match from_env {
            Some(f) => vec![f.into()],
            None => CA_FILES.iter().map(Into::into).collect(),
        };
        let pem = candidates
            .iter()
            .find_map(|path| std::fs::read(path).ok())?;
        find(&pem, BEGIN).map(|_| Bundle { pem, named })
    }

    /// The certificates whose subject is in `wanted`. Each is decoded only
    /// as far as its subject (a few hundred bytes), and the rest of its
    /// text skipped by the length its DER header gives.
    fn find(&self, wanted: &[&[u8]]) -> Vec<CertificateDer<'static>> {
        let mut found = Vec::new();
        let mut der = Vec::new();
        let mut rest = &self.pem[..];
        while let Some(at) = find(rest, BEGIN) {
            rest = &rest[at + BEGIN.len()..];
            der.clear();
            let mut body = rest;
            let matched = loop {
                let until = der.len() + STEP;
                body = decode(body, until, &mut der);
                if let Some(f) = fields(&der) {
                    break Some(wanted.contains(&f.subject));
                }
                if der.len() < until {
                    break None; // the END line came first: not a certificate
                }
            };
            let (Some(matched), Some(len)) = (matched, total_len(&der)) else {
                continue;
            };
            if matched {
                rest = decode(body, usize::MAX, &mut der);
                if der.len() == len {
                    found.push(CertificateDer::from(der.clone()));
                }
                continue;
            }
            // At least this many characters of base64 remain before the
            // END line, whatever the line breaks. (A block shorter than its
            // DER header says is no certificate webpki would take; skipping
            // past it may skip the next one too.)
            let ahead = (len - der.len().min(len)).div_ceil(3).saturating_mul(4);
            rest = &body[ahead.min(body.len())..];
        }
        found
    }
}

/// Bytes of DER decoded at a time (one 64-character line of PEM) before
/// looking for the subject again; most CAs' subjects end within 300 bytes.
const STEP: usize = 48;

/// Decodes the base64 at the start of `body` onto `der`, skipping line
/// breaks, until `der` holds at least `until` bytes (at the end of a 4
/// character group, so decoding can resume) or something else than base64
/// comes: padding, or the END line. Gives what is left of `body`.
///
/// Not the base64 crate's decoder: it wants the text without line breaks,
/// a second pass, and at opt-level "z" it took 3 times as long and 2 kB
/// more of the binary (measured). Nothing here needs to be strict or
/// constant-time: the bundle is public data, and what is decoded is only
/// a filter, webpki parses the anchors it picks.
fn decode<'a>(body: &'a [u8], until: usize, der: &mut Vec<u8>) -> &'a [u8] {
    let (mut bits, mut held) = (0u32, 0u32);
    for (i, &c) in body.iter().enumerate() {
        if held == 0 && der.len() >= until {
            return &body[i..];
        }
        match BASE64[usize::from(c)] {
            SKIP => continue,
            STOP => return &body[i..],
            value => bits = bits << 6 | u32::from(value),
        }
        held += 6;
        if held >= 8 {
            held -= 8;
            der.push((bits >> held) as u8);
        }
    }
    &[]
}

/// Each byte's 6-bit value in base64 (RFC 4648 section 4), `SKIP` for the
/// white space between lines, `STOP` for anything else.
const BASE64: [u8; 256] = {
    let mut table = [STOP; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u8;
        table[b'a' as usize + i] = 26 + i as u8;
        if i < 10 {
            table[b'0' as usize + i] = 52 + i as u8;
        }
        i += 1;
    }
    table[b'+' as usize] = 62;
    table[b'/' as usize] = 63;
    table[b'\n' as usize] = SKIP;
    table[b'\r' as usize] = SKIP;
    table[b' ' as usize] = SKIP;
    table[b'\t' as usize] = SKIP;
    table
};
const SKIP: u8 = 0x40;
const STOP: u8 = 0x80;

/// Where `marker` starts in `text`: at a '-', which base64 never holds,
/// so a block's body is skipped in one pass.
fn find(text: &[u8], marker: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + text[from..].iter().position(|&b| b == b'-')?;
        if text[at..].starts_with(marker) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// The system's CA bundle, every certificate in it: `SSL_CERT_FILE`, or
/// the first bundle found in the usual places. Empty in a `FROM scratch`
/// image without one. The flag says whether the user named the trust
/// store (`SSL_CERT_FILE` or `SSL_CERT_DIR` set).
pub fn system_roots() -> (Vec<CertificateDer<'static>>, bool) {
    let named =
        std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some();
    let roots = Bundle::system()
        .and_then(|b| parse_pem_certs(&b.pem).ok())
        .unwrap_or_default();
    (roots, named)
}

/// The directories `SSL_CERT_DIR` lists (OpenSSL's separator, ':'), their
/// certificates read once, on first need.
#[derive(Debug, Default)]
struct Dirs {
    paths: Vec<PathBuf>,
    certs: OnceLock<Vec<CertificateDer<'static>>>,
}

impl Dirs {
    fn from_env() -> Dirs {
        Dirs {
            paths: std::env::var_os("SSL_CERT_DIR")
                .map(|d| std::env::split_paths(&d).collect())
                .unwrap_or_default(),
            certs: OnceLock::new(),
        }
    }

    fn certs(&self) -> &[CertificateDer<'static>] {
        self.certs.get_or_init(|| dir_certs(&self.paths))
    }

    /// Reads the directories now, and leaves nothing to read later.
    fn take(&mut self) -> Vec<CertificateDer<'static>> {
        let certs = dir_certs(&self.paths);
        self.paths.clear();
        certs
    }
}

/// Every certificate in `dirs` (each file may hold one or more), each file
/// read once however many links in the directory point at it.
fn dir_certs(dirs: &[PathBuf]) -> Vec<CertificateDer<'static>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// A DER element.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n @ 0..0x80 => out.push(n as u8),
            n @ 0x80..0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend(content);
        out
    }

    /// What `fields` reads of a certificate, and `tail` bytes after it,
    /// a signature's worth.
    fn cert(subject: &[u8], serial: u8, tail: usize) -> Vec<u8> {
        let tbs = [
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[serial]),
            tlv(0x30, &[]),
            tlv(0x30, b"issuer"),
            tlv(0x30, &[]),
            tlv(0x30, subject),
        ]
        .concat();
        tlv(0x30, &[tlv(0x30, &tbs), vec![0x5a; tail]].concat())
    }

    fn pem(label: &str, der: &[u8], width: usize, eol: &str) -> String {
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(width)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----{eol}{}{eol}-----END {label}-----{eol}",
            lines.join(eol)
        )
    }

    #[test]
    fn a_bundle_gives_the_certificates_of_a_name() {
        let a1 = cert(b"A", 1, 300);
        let a2 = cert(b"A", 2, 40);
        let b = cert(b"B", 3, 1000);
        // A subject that ends far beyond the first steps.
        let long_name = [b'L'; 700];
        let long = cert(&long_name, 4, 200);
        let text = [
            "# a comment, with - dashes -----\n".to_string(),
            pem("CERTIFICATE", &a1, 64, "\n"),
            pem("TRUSTED CERTIFICATE", &cert(b"A", 9, 10), 64, "\n"),
            pem("CERTIFICATE", &b, 76, "\r\n"),
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".into(),
            pem("CERTIFICATE", &long, 64, "\n"),
            pem("CERTIFICATE", &a2, 17, "\n"),
        ]
        .concat();
        let bundle = Bundle {
            pem: text.into_bytes(),
            named: false,
        };
        let found = |names: &[&[u8]]| -> Vec<Vec<u8>> {
            bundle.find(names).iter().map(|c| c.to_vec()).collect()
        };
        assert_eq!(found(&[b"A"]), [a1.clone(), a2.clone()]);
        assert_eq!(found(&[b"B", b"X"]), std::slice::from_ref(&b));
        assert_eq!(found(&[&long_name]), std::slice::from_ref(&long));
        assert_eq!(found(&[b"A", b"B", &long_name]), [a1, b, long, a2]);
        assert!(found(&[b"C", b"issuer"]).is_empty());
    }

    #[test]
    fn base64_across_line_breaks() {
        let mut der = Vec::new();
        let rest = decode(b"Zm9v\r\nYmFy\nYg==\n-----END", usize::MAX, &mut der);
        assert_eq!(der, b"foobarb");
        assert_eq!(rest, b"==\n-----END");
        // Stops at a group's end once it has enough, and resumes there.
        der.clear();
        let rest = decode(b"Zm9v\nYmFy", 2, &mut der);
        assert_eq!((&der[..], rest), (&b"foo"[..], &b"\nYmFy"[..]));
        decode(rest, usize::MAX, &mut der);
        assert_eq!(der, b"foobar");
    }
}
