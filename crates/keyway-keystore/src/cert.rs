//! X.509 certificates as stored in keystores, and the details keyway shows about them.

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::Error;

/// One DER-encoded X.509 certificate, parsed once when it enters a store.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    info: CertInfo,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.info.subject)
            .field("sha256", &self.info.sha256)
            .finish()
    }
}

/// What a certificate says about itself, in the form keyway prints and serializes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Subject distinguished name (RFC 4514 style).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, hex with colons.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 fingerprint of the DER encoding, upper-case hex with colons (as keytool prints it).
    pub sha256: String,
    /// Public key algorithm and size.
    pub key: KeyDescription,
    /// Whether basic constraints mark it as a CA.
    pub is_ca: bool,
    /// Whether subject and issuer are the same name.
    pub self_issued: bool,
}

/// A public key's algorithm and size, e.g. RSA 2048 or EC P-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyDescription {
    /// "RSA", "EC", "Ed25519", "Ed448", "DSA" or the algorithm OID.
    pub algorithm: String,
    /// Key size in bits, where it has one.
    pub bits: Option<usize>,
    /// Named curve for EC keys ("P-256", "P-384", "P-521" or the curve OID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
}

impl std::fmt::Display for KeyDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.curve, self.bits) {
            (Some(curve), _) => write!(f, "{} {curve}", self.algorithm),
            (None, Some(bits)) if self.algorithm == "RSA" || self.algorithm == "DSA" => {
                write!(f, "{} {bits}", self.algorithm)
            }
            _ => f.write_str(&self.algorithm),
        }
    }
}

impl Certificate {
    /// Parses a DER certificate. `context` names it in errors ("alias \"x\", certificate 2 of 3").
    pub fn from_der(der: Vec<u8>, context: &str) -> Result<Self, Error> {
        let info = CertInfo::parse(&der).map_err(|detail| Error::InvalidCertificate {
            context: context.to_string(),
            detail,
        })?;
        Ok(Certificate { der, info })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed details.
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// The certificate as one PEM block.
    pub fn to_pem(&self) -> String {
        pem_block("CERTIFICATE", &self.der)
    }

    /// Whether `self` was signed by `issuer`'s key (names and signature both checked).
    pub fn is_signed_by(&self, issuer: &Certificate) -> bool {
        if self.info.issuer != issuer.info.subject {
            return false;
        }
        let (Ok((_, cert)), Ok((_, issuer))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        cert.verify_signature(Some(issuer.public_key())).is_ok()
    }

    /// The SubjectPublicKeyInfo's key bits (RSAPublicKey DER, EC point, raw Ed25519 key):
    /// what identifies the key pair, whatever certificate or CSR carries it.
    pub fn public_key_bits(&self) -> Vec<u8> {
        X509Certificate::from_der(&self.der)
            .map(|(_, c)| c.public_key().subject_public_key.data.to_vec())
            .unwrap_or_default()
    }
}

impl CertInfo {
    fn parse(der: &[u8]) -> Result<Self, String> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes of trailing data after the certificate",
                rest.len()
            ));
        }
        let subject = distinguished_name(cert.subject());
        let issuer = distinguished_name(cert.issuer());
        Ok(CertInfo {
            self_issued: subject == issuer,
            subject,
            issuer,
            // Without the sign byte DER adds (a leading 00): the serial as CAs and keyway's
            // own records write it, in the one notation of serials.
            serial: {
                let raw = cert.raw_serial();
                let first = raw
                    .iter()
                    .position(|b| *b != 0)
                    .unwrap_or(raw.len().saturating_sub(1));
                hex_colon(&raw[first.min(raw.len())..])
            },
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            sha256: fingerprint_sha256(der),
            key: KeyDescription::of(cert.public_key()),
            is_ca: cert.is_ca(),
        })
    }

    /// Days from `now` until the certificate expires; negative once expired.
    pub fn days_until_expiry(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// Whether `now` lies within the validity period.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// A distinguished name as people write it and keytool shows it: the common name first,
/// then the rest from the most specific (RFC 4514 order: the reverse of the encoding),
/// `CN=Legacy Bank Root, O=Legacy Bank, C=DE`. Attributes keyway has no short name for
/// are shown by their dotted OID; values that are not text, as `#` and hex.
pub fn distinguished_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    use x509_parser::objects::{oid_registry, oid2abbrev};
    let mut rdns: Vec<(bool, String)> =
        name.iter_rdn()
            .map(|rdn| {
                let mut common_name = false;
                let text =
                    rdn.iter()
                        .map(|attr| {
                            let oid = attr.attr_type();
                            common_name |= oid.to_id_string() == "2.5.4.3";
                            let key = oid2abbrev(oid, oid_registry())
                                .map(str::to_string)
                                .unwrap_or_else(|_| oid.to_id_string());
                            let value = attr.as_str().map(str::to_string).unwrap_or_else(|_| {
                                format!("#{}", hex_plain(attr.attr_value().data))
                            });
                            format!("{key}={value}")
                        })
                        .collect::<Vec<_>>()
                        .join(" + ");
                (common_name, text)
            })
            .collect();
    rdns.reverse();
    // Stable: the common name moves to the front, the rest keeps its order.
    rdns.sort_by_key(|(common_name, _)| !*common_name);
    rdns.into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex_plain(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `der` as upper-case hex pairs joined by colons.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    hex_colon(&Sha256::digest(der))
}

/// Hex text in any notation (`abcd01`, `AB:CD:01`) in the one keyway shows fingerprints
/// and serials in: upper-case pairs joined by colons (`AB:CD:01`).
pub fn colon_hex(text: &str) -> String {
    let digits: String = text
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits
    };
    padded
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// Serializes hex text in the [`colon_hex`] notation.
pub fn serialize_colon_hex<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&colon_hex(text))
}

/// Bytes as upper-case hex pairs joined by colons (`AB:CD:…`), as keytool prints them.
pub fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl KeyDescription {
    /// Describes a DER SubjectPublicKeyInfo, as found in a certificate or a CSR.
    pub fn from_spki_der(der: &[u8]) -> Option<Self> {
        use x509_parser::x509::SubjectPublicKeyInfo;
        SubjectPublicKeyInfo::from_der(der)
            .ok()
            .map(|(_, spki)| Self::of(&spki))
    }

    fn of(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Self {
        describe_public_key(spki)
    }
}

fn describe_public_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> KeyDescription {
    let oid = spki.algorithm.algorithm.to_id_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| curve_name(&o.to_id_string()));
    let parsed = spki.parsed().ok();
    let bits = parsed.as_ref().map(PublicKey::key_size).filter(|b| *b > 0);
    let (algorithm, curve) = match oid.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => ("RSA".to_string(), None),
        "1.2.840.10045.2.1" => ("EC".to_string(), curve),
        "1.3.101.112" => ("Ed25519".to_string(), None),
        "1.3.101.113" => ("Ed448".to_string(), None),
        "1.2.840.10040.4.1" => ("DSA".to_string(), None),
        _ => (oid, None),
    };
    KeyDescription {
        algorithm,
        bits,
        curve,
    }
}

pub(crate) fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".to_string(),
        "1.3.132.0.34" => "P-384".to_string(),
        "1.3.132.0.35" => "P-521".to_string(),
        other => other.to_string(),
    }
}

/// Encodes `der` as a PEM block with 64-column lines.
pub(crate) fn pem_block(label: &str, der: &[u8]) -> String {
    use der::pem::{LineEnding, encode_string};
    // encode_string only fails for labels it cannot write; ours are fixed ASCII.
    encode_string(label, LineEnding::LF, der).unwrap_or_default()
}
