//! Certificate path validation as keyway does it: rustls-webpki over the given trust
//! anchors, with CRLs, plus checks webpki leaves out that matter for connectors: CRLs
//! that RFC 5280 says must not be used, expired or non-CA trust anchors, weak
//! end-entity keys, malformed serial numbers, a leaf with CA powers.
//!
//! `test()` runs the same checks ([`keyway_checks`]) after webpki on both backends; a
//! refusal becomes its own diagnosis code (`weak_server_key`, `malformed_certificate`,
//! `trust_anchor_unusable`).
//!
//! The x509-limbo conformance test runs every vector through [`verify_chain`]; its
//! results and every remaining difference are listed in `docs/x509-limbo.md`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// Which side's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A server certificate (EKU serverAuth), checked against a name.
    Server,
    /// A client certificate (EKU clientAuth).
    Client,
}

/// One path-validation question.
#[derive(Debug, Clone)]
pub struct ChainCheck<'a> {
    /// Trusted roots (DER).
    pub anchors: &'a [CertificateDer<'a>],
    /// Intermediates the peer sent (DER), in any order.
    pub intermediates: &'a [CertificateDer<'a>],
    /// The peer's certificate (DER).
    pub leaf: &'a CertificateDer<'a>,
    /// CRLs to check revocation against (DER); certificates no CRL covers are accepted.
    pub crls: &'a [CertificateRevocationListDer<'a>],
    /// The name the server certificate must be valid for (server purpose only).
    pub name: Option<&'a str>,
    /// What the certificate is for.
    pub purpose: Purpose,
    /// The time to validate at.
    pub at: SystemTime,
}

/// Why a chain was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No trust anchor could be used.
    #[error("no usable trust anchor: {0}")]
    Anchors(String),
    /// A CRL that must not be relied on.
    #[error("CRL {index} is unusable: {why}")]
    BadCrl {
        /// Its position in the list, from 1.
        index: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The server name is not a valid DNS name or IP address.
    #[error("\"{0}\" is not a valid server name")]
    BadName(String),
    /// The path validation failed.
    #[error("{}", crate::explain::rustls_error(.0))]
    Path(rustls::Error),
    /// webpki accepted the path, but keyway's own checks refuse it.
    #[error("{0}")]
    Refused(Refusal),
}

/// What keyway's own checks refuse in a chain that webpki accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The end-entity key is too weak for TLS today.
    #[error("{subject} has {detail}")]
    WeakKey {
        /// The certificate's subject.
        subject: String,
        /// What is weak about it.
        detail: String,
    },
    /// A certificate of the path breaks RFC 5280 in a way that matters.
    #[error("{subject} {detail}")]
    Malformed {
        /// The certificate's subject.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// The trust anchor that issued the path cannot be relied on.
    #[error("the trust anchor {subject} {detail}")]
    AnchorUnusable {
        /// The anchor's subject.
        subject: String,
        /// Why.
        detail: String,
        /// The anchor (DER), to find the store it came from.
        der: Vec<u8>,
    },
}

/// Validates `check.leaf` up to one of `check.anchors`. A leaf that is itself one of the
/// anchors is trusted as pinned, as JSSE trusts a truststore entry that is the peer's own
/// certificate: its dates, name, key and serial still checked.
pub fn verify_chain(check: &ChainCheck<'_>) -> Result<(), VerifyError> {
    for (n, crl) in check.crls.iter().enumerate() {
        crl_usable(crl, check).map_err(|why| VerifyError::BadCrl { index: n + 1, why })?;
    }

    let mut roots = RootCertStore::empty();
    let (_, rejected) = roots.add_parsable_certificates(check.anchors.iter().cloned());
    if roots.is_empty() {
        return Err(VerifyError::Anchors(format!(
            "{rejected} trust anchor(s) could not be parsed"
        )));
    }
    let roots = Arc::new(roots);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let crls: Vec<CertificateRevocationListDer<'static>> = check
        .crls
        .iter()
        .map(|c| CertificateRevocationListDer::from(c.as_ref().to_vec()))
        .collect();
    let now = UnixTime::since_unix_epoch(
        check
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    );
    match check.purpose {
        Purpose::Server => {
            let given = check.name.unwrap_or_default();
            let name = ServerName::try_from(given.to_string())
                .map_err(|_| VerifyError::BadName(given.to_string()))?;
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .with_crls(crls)
                .allow_unknown_revocation_status()
                .build()
                .map_err(|e| VerifyError::Anchors(e.to_string()))?;
            match verifier.verify_server_cert(check.leaf, check.intermediates, &name, &[], now) {
                Ok(_) => {}
                // A CA certificate that is itself in the truststore: pinned, as JSSE
                // trusts it; webpki refuses any CA as an end entity.
                Err(e) if is_pinned(check.leaf, check.anchors) && is_ca_as_end_entity(&e) => {
                    return verify_pinned(check.leaf, Some(&name), now).map_err(|e| match e {
                        Pinned::Path(e) => VerifyError::Path(e),
                        Pinned::Refused(r) => VerifyError::Refused(r),
                    });
                }
                Err(e) => return Err(VerifyError::Path(e)),
            }
        }
        Purpose::Client => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .with_crls(crls)
                .allow_unknown_revocation_status()
                .build()
                .map_err(|e| VerifyError::Anchors(e.to_string()))?;
            verifier
                .verify_client_cert(check.leaf, check.intermediates, now)
                .map_err(VerifyError::Path)?;
        }
    }
    keyway_checks(
        check.leaf,
        check.intermediates,
        &anchors_besides(check.leaf, check.anchors),
        check.at,
    )
    .map_err(VerifyError::Refused)
}

/// Whether `leaf` is itself one of the `anchors` (the same DER): a certificate trusted
/// as pinned, as JSSE and .NET trust a truststore entry that is the peer's certificate.
pub fn is_pinned(leaf: &CertificateDer<'_>, anchors: &[CertificateDer<'_>]) -> bool {
    anchors.iter().any(|a| a.as_ref() == leaf.as_ref())
}

/// `anchors` without `leaf` itself: a pinned certificate is trusted as itself, not as a
/// CA, so the checks on the anchors that issued a path do not apply to it.
pub(crate) fn anchors_besides<'a>(
    leaf: &CertificateDer<'_>,
    anchors: &[CertificateDer<'a>],
) -> Vec<CertificateDer<'a>> {
    anchors
        .iter()
        .filter(|a| a.as_ref() != leaf.as_ref())
        .cloned()
        .collect()
}

/// Whether webpki refused a CA certificate as an end entity.
pub(crate) fn is_ca_as_end_entity(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
            if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

/// Why a pinned certificate was refused.
#[derive(Debug)]
pub(crate) enum Pinned {
    /// Its dates or name, as webpki would report them for a chain.
    Path(rustls::Error),
    /// keyway's own checks.
    Refused(Refusal),
}

/// A CA certificate that is itself in the truststore, which webpki refuses as an end
/// entity: trusted as pinned (JSSE does, and trusting it was the administrator's
/// explicit choice), with its dates, the name (when one is given), and keyway's checks
/// on its key and serial. A pinned CA:FALSE certificate needs none of this: webpki
/// accepts it as its own trust anchor.
pub(crate) fn verify_pinned(
    leaf: &CertificateDer<'_>,
    name: Option<&ServerName<'_>>,
    now: UnixTime,
) -> Result<(), Pinned> {
    use rustls::CertificateError as C;
    let invalid = |e: C| Pinned::Path(rustls::Error::InvalidCertificate(e));
    let (_, cert) =
        X509Certificate::from_der(leaf.as_ref()).map_err(|_| invalid(C::BadEncoding))?;
    let validity = cert.validity();
    let seconds = |t: i64| UnixTime::since_unix_epoch(Duration::from_secs(t.max(0) as u64));
    let at = now.as_secs() as i64;
    if at > validity.not_after.timestamp() {
        return Err(invalid(C::ExpiredContext {
            time: now,
            not_after: seconds(validity.not_after.timestamp()),
        }));
    }
    if at < validity.not_before.timestamp() {
        return Err(invalid(C::NotValidYetContext {
            time: now,
            not_before: seconds(validity.not_before.timestamp()),
        }));
    }
    if let Some(name) = name {
        let end_entity =
            webpki::EndEntityCert::try_from(leaf).map_err(|_| invalid(C::BadEncoding))?;
        end_entity
            .verify_is_valid_for_subject_name(name)
            .map_err(|_| invalid(C::NotValidForName))?;
    }
    strong_key(&cert).map_err(|detail| {
        Pinned::Refused(Refusal::WeakKey {
            subject: keyway_keystore::distinguished_name(cert.subject()),
            detail,
        })
    })?;
    serial_ok(&cert).map_err(Pinned::Refused)
}

/// RFC 5280 §4.1.2.2: a serial is positive (not 0, not negative) and at most 20 octets.
fn serial_ok(cert: &X509Certificate<'_>) -> Result<(), Refusal> {
    let serial = cert.raw_serial();
    if serial.iter().all(|b| *b == 0) {
        return Err(Refusal::Malformed {
            subject: keyway_keystore::distinguished_name(cert.subject()),
            detail: "has serial number 0 (RFC 5280 §4.1.2.2)".into(),
        });
    }
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(Refusal::Malformed {
            subject: keyway_keystore::distinguished_name(cert.subject()),
            detail: "has a negative serial number (RFC 5280 §4.1.2.2)".into(),
        });
    }
    if serial.len() > 20 {
        return Err(Refusal::Malformed {
            subject: keyway_keystore::distinguished_name(cert.subject()),
            detail: format!(
                "has a serial number of {} octets; RFC 5280 §4.1.2.2 allows 20",
                serial.len()
            ),
        });
    }
    Ok(())
}

/// What keyway adds to webpki for connectors, on a path webpki accepted: usable trust
/// anchors, strong end-entity keys, well-formed serials, and no CA powers in a leaf.
/// `anchors` may hold every trusted root; only those that issued something in the path
/// are looked at.
pub fn keyway_checks(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    anchors: &[CertificateDer<'_>],
    at: SystemTime,
) -> Result<(), Refusal> {
    let (_, leaf) = X509Certificate::from_der(leaf.as_ref()).map_err(|e| Refusal::Malformed {
        subject: "the end-entity certificate".into(),
        detail: format!("cannot be parsed: {e}"),
    })?;
    let subject = |c: &X509Certificate<'_>| keyway_keystore::distinguished_name(c.subject());
    strong_key(&leaf).map_err(|detail| Refusal::WeakKey {
        subject: subject(&leaf),
        detail,
    })?;
    if let Ok(Some(ku)) = leaf.key_usage()
        && ku.value.key_cert_sign()
        && !leaf.is_ca()
    {
        return Err(Refusal::Malformed {
            subject: subject(&leaf),
            detail: "is an end-entity certificate that may sign certificates (keyCertSign) without being a CA".into(),
        });
    }
    let intermediates: Vec<X509Certificate<'_>> = intermediates
        .iter()
        .filter_map(|d| X509Certificate::from_der(d.as_ref()).ok().map(|(_, c)| c))
        .collect();
    for cert in std::iter::once(&leaf).chain(&intermediates) {
        serial_ok(cert)?;
    }
    // The anchors that can have issued something in this path.
    let issuers: Vec<_> = std::iter::once(&leaf)
        .chain(&intermediates)
        .map(|c| c.issuer().as_raw().to_vec())
        .collect();
    let anchors: Vec<(&[u8], X509Certificate<'_>)> = anchors
        .iter()
        .filter_map(|d| {
            X509Certificate::from_der(d.as_ref())
                .ok()
                .map(|(_, c)| (d.as_ref(), c))
        })
        .filter(|(_, a)| issuers.contains(&a.subject().as_raw().to_vec()))
        .collect();
    if anchors.is_empty() {
        return Ok(());
    }
    let at = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let unusable =
        |(der, a): &(&[u8], X509Certificate<'_>), detail: String| Refusal::AnchorUnusable {
            subject: subject(a),
            detail,
            der: der.to_vec(),
        };
    if anchors.iter().all(|(_, a)| {
        let v = a.validity();
        at > v.not_after.timestamp() || at < v.not_before.timestamp()
    }) {
        let v = anchors[0].1.validity();
        return Err(unusable(
            &anchors[0],
            format!(
                "is outside its validity ({} to {})",
                v.not_before, v.not_after
            ),
        ));
    }
    if anchors.iter().all(|(_, a)| !a.is_ca()) {
        return Err(unusable(
            &anchors[0],
            "is not a CA (no basic constraints with CA:TRUE) yet issued a certificate in the path"
                .into(),
        ));
    }
    for anchor in &anchors {
        if let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = anchor.1.public_key().parsed()
            && !rsa_bits(rsa.modulus).is_multiple_of(8)
        {
            return Err(unusable(
                anchor,
                format!(
                    "has an RSA modulus of {} bits, not a whole number of bytes",
                    rsa_bits(rsa.modulus)
                ),
            ));
        }
    }
    Ok(())
}

/// RSA of at least 2048 bits (a whole number of bytes), EC of at least 256 bits, Ed25519.
fn strong_key(cert: &X509Certificate<'_>) -> Result<(), String> {
    use x509_parser::public_key::PublicKey;
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa_bits(rsa.modulus);
            if bits < 2048 {
                Err(format!("a weak RSA key of {bits} bits (2048 at least)"))
            } else if !bits.is_multiple_of(8) {
                Err(format!(
                    "an RSA modulus of {bits} bits, not a whole number of bytes"
                ))
            } else {
                Ok(())
            }
        }
        Ok(PublicKey::EC(ec)) if ec.key_size() < 256 => Err(format!(
            "a weak EC key of {} bits (P-256 at least)",
            ec.key_size()
        )),
        Ok(PublicKey::DSA(_)) => Err("a DSA key, which TLS no longer allows".into()),
        _ => Ok(()),
    }
}

/// The exact size of an RSA modulus in bits.
fn rsa_bits(modulus: &[u8]) -> usize {
    let trimmed: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    8 * (trimmed.len() - 1) + (8 - trimmed[0].leading_zeros() as usize)
}

/// RFC 5280 §5: a CRL must carry a non-critical CRL number, and its issuer, when it
/// restricts its key usage, must be allowed to sign CRLs. webpki checks neither; a CRL
/// that breaks them is refused rather than trusted to say who is *not* revoked.
fn crl_usable(
    der: &CertificateRevocationListDer<'_>,
    check: &ChainCheck<'_>,
) -> Result<(), String> {
    let (_, crl) = CertificateRevocationList::from_der(der.as_ref())
        .map_err(|e| format!("not a parsable CRL ({e})"))?;
    let number = crl
        .extensions()
        .iter()
        .find(|e| e.oid == x509_parser::oid_registry::OID_X509_EXT_CRL_NUMBER);
    match number {
        None => return Err("it has no CRL number (RFC 5280 §5.2.3 requires one)".into()),
        Some(ext) if ext.critical => {
            return Err("its CRL number is marked critical (RFC 5280 §5.2.3 forbids it)".into());
        }
        Some(_) => {}
    }
    let issuer_name = crl.issuer();
    let candidates = check.anchors.iter().chain(check.intermediates);
    for cert in candidates {
        let Ok((_, cert)) = X509Certificate::from_der(cert.as_ref()) else {
            continue;
        };
        if cert.subject() != issuer_name {
            continue;
        }
        if let Ok(Some(ku)) = cert.key_usage()
            && !ku.value.crl_sign()
        {
            return Err(format!(
                "its issuer {} may not sign CRLs (key usage without cRLSign)",
                cert.subject()
            ));
        }
    }
    Ok(())
}
