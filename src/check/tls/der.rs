//! What berth reads of a certificate's DER itself, without a full parse:
//! the issuer and subject names (to pick a bundle's anchors by the names a
//! chain carries, compared byte for byte as webpki compares them) and the
//! validity dates (for a pinned certificate). webpki does the real parse.

/// A DER element's tag and length, and what follows its header: all the
/// rest of `input`, which may end before the element does.
fn header(input: &[u8]) -> Option<(u8, usize, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if first < 0x80 {
        return Some((tag, usize::from(first), rest));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 || rest.len() < n {
        return None;
    }
    let len = rest[..n]
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Some((tag, len, &rest[n..]))
}

/// One DER element: (tag, contents, what follows).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (tag, len, rest) = header(input)?;
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The length of the DER element `input` starts with, header included.
pub(super) fn total_len(input: &[u8]) -> Option<usize> {
    let (_, len, rest) = header(input)?;
    (input.len() - rest.len()).checked_add(len)
}

/// The parts of a certificate's TBSCertificate that berth reads itself
/// (RFC 5280 4.1): each the contents of its DER element.
pub(super) struct Fields<'a> {
    pub issuer: &'a [u8],
    pub validity: &'a [u8],
    pub subject: &'a [u8],
}

/// Finds a certificate's issuer, validity and subject, checking no more
/// of its encoding than the way there: `cert` may be the first part of a
/// certificate, as long as it reaches the end of the subject.
pub(super) fn fields(cert: &[u8]) -> Option<Fields<'_>> {
    let (_, _, cert) = header(cert)?;
    let (_, _, mut tbs) = header(cert)?;
    // [0] version, present in every v3 certificate.
    if let (0xa0, _, rest) = element(tbs)? {
        tbs = rest;
    }
    // serialNumber, signature.
    for _ in 0..2 {
        tbs = element(tbs)?.2;
    }
    let (_, issuer, rest) = element(tbs)?;
    let (_, validity, rest) = element(rest)?;
    let (_, subject, _) = element(rest)?;
    Some(Fields {
        issuer,
        validity,
        subject,
    })
}

/// A certificate's notBefore and notAfter in Unix seconds (RFC 5280
/// 4.1.2.5). webpki checks them only on the chain path it builds, so the
/// pinned path reads them here.
pub(super) fn validity(cert: &[u8]) -> Option<(u64, u64)> {
    let dates = fields(cert)?.validity;
    let (tag1, before, rest) = element(dates)?;
    let (tag2, after, _) = element(rest)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_certificate_or_its_start() {
        // SEQUENCE { SEQUENCE { [0] v3, serial, signature, issuer,
        // validity, subject, key... }, signature... }, long form lengths.
        let tbs: &[u8] = &[
            0xa0, 0x03, 0x02, 0x01, 0x02, // version
            0x02, 0x01, 0x07, // serial
            0x30, 0x00, // signature algorithm
            0x30, 0x02, b'I', b'I', // issuer
            0x30, 0x00, // validity
            0x30, 0x03, b'S', b'S', b'S', // subject
            0x30, 0x01, 0x00, // subjectPublicKeyInfo
        ];
        let mut cert = vec![0x30, 0x81, 0, 0x30, 0x81, tbs.len() as u8];
        cert.extend(tbs);
        cert.extend([0x30, 0x00, 0x03, 0x01, 0x00]);
        cert[2] = (cert.len() - 3) as u8;
        let f = fields(&cert).unwrap();
        assert_eq!(
            (f.issuer, f.validity, f.subject),
            (&b"II"[..], &b""[..], &b"SSS"[..])
        );
        assert_eq!(total_len(&cert), Some(cert.len()));
        // Any start that holds the subject will do; a shorter one, or
        // garbage, gives nothing (and never a panic).
        let subject_end = 6 + 21;
        for n in 0..cert.len() {
            assert_eq!(fields(&cert[..n]).is_some(), n >= subject_end, "{n}");
        }
        for bad in [
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x30, 0x80],
            &[0xff; 9],
        ] {
            assert!(fields(bad).is_none());
        }
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
}
