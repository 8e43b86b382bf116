//! What a certificate says, in full: the details `keyway cert inspect` prints.

use keyway_keystore::{CertInfo, Certificate, Keystore};
use serde::Serialize;
use sha1::Sha1;
use sha2::Digest;
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::PkiError;

/// Everything keyway shows about a certificate: the keystore's [`CertInfo`] (subject,
/// issuer, serial, validity, SHA-256, key, CA-ness) and the extensions on top.
#[derive(Debug, Clone, Serialize)]
pub struct CertDetails {
    /// What every keyway listing shows.
    #[serde(flatten)]
    pub info: CertInfo,
    /// Days until it expires (negative once expired).
    pub days_left: i64,
    /// Subject alternative names (`dns:…`, `ip:…`, `email:…`, `uri:…`).
    pub sans: Vec<String>,
    /// Key usage bits by name (`digitalSignature`, `keyCertSign`, …).
    pub key_usage: Vec<String>,
    /// Extended key usages by name (`serverAuth`, `clientAuth`, or the OID).
    pub extended_key_usage: Vec<String>,
    /// Path length constraint, for CAs that have one.
    pub path_len: Option<u32>,
    /// Signature algorithm, e.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// SHA-1 fingerprint, as older tools (keytool, Windows) show it.
    pub sha1: String,
}

impl CertDetails {
    /// Reads the details of one certificate.
    pub fn of(cert: &Certificate) -> Result<CertDetails, PkiError> {
        let (_, x509) =
            X509Certificate::from_der(cert.der()).map_err(|e| PkiError::MalformedCertificate {
                source_name: cert.info().subject.clone(),
                problem: e.to_string(),
            })?;
        let mut details = CertDetails {
            info: cert.info().clone(),
            days_left: cert.info().days_until_expiry(OffsetDateTime::now_utc()),
            sans: Vec::new(),
            key_usage: Vec::new(),
            extended_key_usage: Vec::new(),
            path_len: None,
            signature_algorithm: signature_name(&x509),
            sha1: hex_colon(&Sha1::digest(cert.der())),
        };
        for extension in x509.extensions() {
            match extension.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => details.sans.extend(
                    san.general_names
                        .iter()
                        .filter_map(crate::csr::general_name),
                ),
                ParsedExtension::KeyUsage(ku) => {
                    details.key_usage = key_usage_names(ku.flags);
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    let mut names = Vec::new();
                    for (set, name) in [
                        (eku.any, "any"),
                        (eku.server_auth, "serverAuth"),
                        (eku.client_auth, "clientAuth"),
                        (eku.code_signing, "codeSigning"),
                        (eku.email_protection, "emailProtection"),
                        (eku.time_stamping, "timeStamping"),
                        (eku.ocsp_signing, "OCSPSigning"),
                    ] {
                        if set {
                            names.push(name.to_string());
                        }
                    }
                    names.extend(eku.other.iter().map(|o| o.to_id_string()));
                    details.extended_key_usage = names;
                }
                ParsedExtension::BasicConstraints(bc) => details.path_len = bc.path_len_constraint,
                _ => {}
            }
        }
        Ok(details)
    }

    /// Whether the certificate may be used for `usage` (`clientAuth`, `serverAuth`): no
    /// EKU at all, or one that lists it (or any).
    pub fn allows(&self, usage: &str) -> bool {
        self.extended_key_usage.is_empty()
            || self
                .extended_key_usage
                .iter()
                .any(|e| e == usage || e == "any")
    }
}

/// Every certificate in a file: PEM (one or many), DER, or a keystore (JKS and PKCS#12
/// need `password`). `source_name` names the file in errors.
pub fn read_certificates(
    bytes: &[u8],
    password: Option<&str>,
    source_name: &str,
) -> Result<Vec<Certificate>, PkiError> {
    let store = Keystore::from_bytes(bytes, None, password).map_err(|e| match e {
        keyway_keystore::Error::WrongStorePassword { .. }
        | keyway_keystore::Error::StorePasswordRequired { .. } => PkiError::LockedStore {
            source_name: source_name.to_string(),
            problem: e.to_string(),
        },
        other => PkiError::MalformedCertificate {
            source_name: source_name.to_string(),
            problem: other.to_string(),
        },
    })?;
    let mut certs: Vec<Certificate> = Vec::new();
    for entry in store.entries() {
        for cert in entry.chain() {
            if !certs.iter().any(|c| c.der() == cert.der()) {
                certs.push(cert.clone());
            }
        }
    }
    if certs.is_empty() {
        return Err(PkiError::MalformedCertificate {
            source_name: source_name.to_string(),
            problem: "it holds no certificate".into(),
        });
    }
    Ok(certs)
}

fn key_usage_names(flags: u16) -> Vec<String> {
    const NAMES: [&str; 9] = [
        "digitalSignature",
        "nonRepudiation",
        "keyEncipherment",
        "dataEncipherment",
        "keyAgreement",
        "keyCertSign",
        "cRLSign",
        "encipherOnly",
        "decipherOnly",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| flags & (1 << bit) != 0)
        .map(|(_, name)| name.to_string())
        .collect()
}

fn signature_name(cert: &X509Certificate<'_>) -> String {
    let oid = &cert.signature_algorithm.algorithm;
    x509_parser::oid_registry::OidRegistry::default()
        .with_crypto()
        .with_x509()
        .get(oid)
        .map(|e| e.sn().to_string())
        .unwrap_or_else(|| oid.to_id_string())
}

fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
