//! Certificate revocation lists from outside CAs (a partner CA that issues the client
//! certificates keyway accepts): read from PEM or DER, described, and checked against
//! the CA certificate that is supposed to have signed them.

use keyway_keystore::Certificate;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::PkiError;

/// A CRL as read: its DER and what it says.
#[derive(Debug, Clone)]
pub struct CrlFile {
    /// DER.
    pub der: Vec<u8>,
    /// The issuer's name, as printed (`CN=Partner CA, O=Acme`).
    pub issuer: String,
    /// The issuer's name in DER, to compare with certificate subjects exactly.
    pub issuer_der: Vec<u8>,
    /// The CRL number (RFC 5280 §5.2.3), as an unsigned big-endian integer; `None` when
    /// the CRL carries none.
    pub number: Option<Vec<u8>>,
    /// When it was issued (thisUpdate).
    pub this_update: OffsetDateTime,
    /// When the next one is due (nextUpdate), if it says.
    pub next_update: Option<OffsetDateTime>,
    /// Serial numbers of the certificates it revokes (lower-case hex, leading zero octets removed).
    pub revoked: Vec<String>,
}

/// Reads a CRL from `bytes` (PEM `X509 CRL` or DER); `source` names it in errors.
pub fn read_crl(bytes: &[u8], source: &str) -> Result<CrlFile, PkiError> {
    let malformed = |problem: String| PkiError::MalformedCrl {
        source_name: source.to_string(),
        problem,
    };
    let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(bytes)
            .map_err(|e| malformed(format!("unreadable PEM ({e})")))?;
        if pem.label != "X509 CRL" {
            return Err(malformed(format!(
                "the PEM block is \"{}\", not \"X509 CRL\"",
                pem.label
            )));
        }
        pem.contents
    } else {
        bytes.to_vec()
    };
    let (rest, crl) = CertificateRevocationList::from_der(&der)
        .map_err(|e| malformed(format!("not a DER CRL ({e})")))?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes follow the CRL; is it two files in one?",
            rest.len()
        )));
    }
    let time = |t: x509_parser::time::ASN1Time| {
        OffsetDateTime::from_unix_timestamp(t.timestamp())
            .map_err(|e| malformed(format!("a date out of range ({e})")))
    };
    let file = CrlFile {
        issuer: keyway_keystore::distinguished_name(crl.issuer()),
        issuer_der: crl.issuer().as_raw().to_vec(),
        number: crl.crl_number().map(|n| n.to_bytes_be()),
        this_update: time(crl.last_update())?,
        next_update: crl.next_update().map(time).transpose()?,
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| crate::normalize_serial(&hex(r.raw_serial())))
            .collect(),
        der: Vec::new(),
    };
    Ok(CrlFile { der, ..file })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl CrlFile {
    /// Its CRL number in hex, or `-` when it has none.
    pub fn number_text(&self) -> String {
        match &self.number {
            Some(n) if n.iter().all(|b| *b == 0) => "0".into(),
            Some(n) => hex(n).trim_start_matches('0').to_string(),
            None => "-".into(),
        }
    }

    /// Whether it is newer than `other` by CRL number (then by issue date when neither
    /// or only one has a number).
    pub fn is_newer_than(&self, other: &CrlFile) -> bool {
        let trimmed = |n: &[u8]| -> Vec<u8> {
            n.iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect::<Vec<u8>>()
        };
        match (&self.number, &other.number) {
            (Some(a), Some(b)) => {
                let (a, b) = (trimmed(a), trimmed(b));
                (a.len(), a) > (b.len(), b)
            }
            _ => self.this_update > other.this_update,
        }
    }

    /// Whether `cert`'s subject is exactly this CRL's issuer.
    pub fn names_as_issuer(&self, cert: &Certificate) -> bool {
        X509Certificate::from_der(cert.der())
            .is_ok_and(|(_, c)| c.subject().as_raw() == self.issuer_der.as_slice())
    }

    /// Checks that `ca` signed it: the subject is the CRL's issuer, the key verifies the
    /// signature, and a key usage, when present, allows signing CRLs. `Err` says which
    /// failed.
    pub fn check_issued_by(&self, ca: &Certificate) -> Result<(), String> {
        let (_, cert) = X509Certificate::from_der(ca.der())
            .map_err(|e| format!("the CA certificate cannot be parsed ({e})"))?;
        if cert.subject().as_raw() != self.issuer_der.as_slice() {
            return Err(format!(
                "the CA is {}, the CRL's issuer is {}",
                cert.subject(),
                self.issuer
            ));
        }
        if let Ok(Some(ku)) = cert.key_usage()
            && !ku.value.crl_sign()
        {
            return Err(format!(
                "{} may not sign CRLs (its key usage lacks cRLSign)",
                cert.subject()
            ));
        }
        let (_, crl) = CertificateRevocationList::from_der(&self.der)
            .map_err(|e| format!("the CRL cannot be parsed ({e})"))?;
        crl.verify_signature(cert.public_key()).map_err(|e| {
            format!(
                "its signature does not verify with the key of {} ({e})",
                cert.subject()
            )
        })
    }
}
