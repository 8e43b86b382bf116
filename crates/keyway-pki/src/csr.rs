//! Certificate signing requests: made for an outside CA, and read (signature checked)
//! when keyway's CA signs one made elsewhere (`openssl req`, keytool `-certreq`).

use keyway_keystore::{KeyDescription, PrivateKey};
use rcgen::{CertificateParams, DistinguishedName};
use serde::Serialize;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::name::San;
use crate::{PkiError, key};

/// Makes a PEM CSR for `key`, signed by it.
pub fn create_csr(
    key: &PrivateKey,
    subject: DistinguishedName,
    sans: &[San],
) -> Result<String, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.subject_alt_names = sans.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
    let signer = key::signing_key(key)?;
    let csr = params
        .serialize_request(&signer)
        .map_err(|e| PkiError::crypto("signing the CSR", e))?;
    csr.pem()
        .map_err(|e| PkiError::crypto("encoding the CSR", e))
}

/// A CSR whose signature verified.
#[derive(Debug, Clone, Serialize)]
pub struct Csr {
    /// The subject, as x509-parser prints it (encoding order).
    pub subject: String,
    /// The SANs requested, written as the CLI takes them (`dns:…`).
    pub sans: Vec<String>,
    /// The key's algorithm and size.
    pub key: KeyDescription,
    /// The SubjectPublicKeyInfo, DER.
    #[serde(skip)]
    pub spki_der: Vec<u8>,
    /// The whole CSR, DER.
    #[serde(skip)]
    pub der: Vec<u8>,
}

/// Reads a CSR (PEM `CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`, or DER) and
/// checks its signature. `source_name` names it in errors.
pub fn read_csr(bytes: &[u8], source_name: &str) -> Result<Csr, PkiError> {
    let malformed = |problem: String| PkiError::MalformedCsr {
        source_name: source_name.to_string(),
        problem,
    };
    let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        pem_body(bytes, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]).map_err(malformed)?
    } else {
        bytes.to_vec()
    };
    let (rest, csr) =
        X509CertificationRequest::from_der(&der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes of trailing data after the request",
            rest.len()
        )));
    }
    csr.verify_signature().map_err(|e| PkiError::CsrSignature {
        source_name: source_name.to_string(),
        problem: e.to_string(),
    })?;
    let info = &csr.certification_request_info;
    let spki_der = info.subject_pki.raw.to_vec();
    let mut sans = Vec::new();
    for extension in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = extension {
            sans.extend(san.general_names.iter().filter_map(general_name));
        }
    }
    Ok(Csr {
        subject: info.subject.to_string(),
        sans,
        key: KeyDescription::from_spki_der(&spki_der)
            .ok_or_else(|| malformed("its public key cannot be parsed".into()))?,
        spki_der,
        der,
    })
}

/// A SAN as the CLI writes it; other kinds are left out.
pub(crate) fn general_name(name: &GeneralName<'_>) -> Option<String> {
    Some(match name {
        GeneralName::DNSName(n) => format!("dns:{n}"),
        GeneralName::RFC822Name(n) => format!("email:{n}"),
        GeneralName::URI(n) => format!("uri:{n}"),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => format!(
                "ip:{}",
                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).ok()?)
            ),
            16 => format!(
                "ip:{}",
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).ok()?)
            ),
            _ => return None,
        },
        _ => return None,
    })
}

/// The DER inside the first PEM block with one of `labels`.
pub(crate) fn pem_body(bytes: &[u8], labels: &[&str]) -> Result<Vec<u8>, String> {
    use base64ct::{Base64, Encoding};
    let text = String::from_utf8_lossy(bytes);
    for label in labels {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let Some(start) = text.find(&begin) else {
            continue;
        };
        let body_start = start + begin.len();
        let Some(length) = text[body_start..].find(&end) else {
            return Err(format!("the {label} block has no END line"));
        };
        let body: String = text[body_start..body_start + length]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        return Base64::decode_vec(&body)
            .map_err(|e| format!("the {label} block is not valid base64 ({e})"));
    }
    Err(format!(
        "no {} block in the PEM text",
        labels.first().copied().unwrap_or("PEM")
    ))
}
