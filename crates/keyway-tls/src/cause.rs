//! The cause of a refused certificate chain, found from the chain as sent — which
//! certificate, which algorithm, which names — rather than from an error's text: for
//! the connectivity test and for `cert verify` alike ([`chain_cause`]).

use std::net::IpAddr;

use keyway_keystore::Certificate;
use rustls::CertificateError;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::diagnosis::{Cause, Stage};
use crate::explain;
use crate::verify::Refusal;

/// The cause of a chain [`crate::verify_chain`] refused, found as `keyway test` finds it
/// (`incomplete_chain` naming the missing issuer, `hostname_mismatch` with the
/// certificate's names, `certificate_expired` with its dates…): `chain` is the leaf and
/// the intermediates as given, `truststore` the file the `anchors` come from. `None`
/// when the refusal is not about the chain (a bad CRL, a bad name).
pub fn chain_cause(
    error: &crate::verify::VerifyError,
    chain: &[Certificate],
    name: Option<&str>,
    truststore: &str,
    anchors: &[Certificate],
) -> Option<Cause> {
    let infos: Vec<keyway_keystore::CertInfo> = chain.iter().map(|c| c.info().clone()).collect();
    let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der().to_vec()).collect();
    let anchors: Vec<crate::profile::TrustAnchor> = anchors
        .iter()
        .map(|cert| crate::profile::TrustAnchor {
            cert: cert.clone(),
            store: truststore.to_string(),
            alias: None,
        })
        .collect();
    let facts = ChainFacts {
        chain: &infos,
        chain_der: &ders,
        name: name.unwrap_or_default(),
        truststores: vec![truststore.to_string()],
        anchors: &anchors,
    };
    match error {
        crate::verify::VerifyError::Path(rustls::Error::InvalidCertificate(e)) => {
            Some(certificate_cause(&facts, e))
        }
        crate::verify::VerifyError::Refused(refusal) => refusal_cause(&facts, refusal),
        _ => None,
    }
}

/// What the cause of a refused chain is found from: the chain as sent, the name it was
/// checked against, and the trust it was checked against.
pub(crate) struct ChainFacts<'a> {
    /// The chain as sent, parsed.
    pub chain: &'a [keyway_keystore::CertInfo],
    /// The same, DER.
    pub chain_der: &'a [Vec<u8>],
    /// The name checked.
    pub name: &'a str,
    /// The truststores, for the fix.
    pub truststores: Vec<String>,
    /// The anchors from truststore files, to name the one at fault.
    pub anchors: &'a [crate::profile::TrustAnchor],
}

/// Tells certificate failures apart using the chain the server actually sent.
pub(crate) fn certificate_cause(facts: &ChainFacts<'_>, error: &CertificateError) -> Cause {
    let chain = &facts.chain;
    let now = OffsetDateTime::now_utc();
    let detail = || Cause::HandshakeFailed {
        detail: format!(
            "keyway refused the server's certificate: {}",
            explain::certificate_error(error)
        ),
        stage: Stage::Handshake,
        alert: None,
    };
    match error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => chain
            .iter()
            .find(|c| c.not_after < now)
            .map(|c| Cause::CertificateExpired { cert: c.clone() })
            .unwrap_or_else(detail),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => chain
            .iter()
            .find(|c| c.not_before > now)
            .map(|c| Cause::CertificateNotYetValid { cert: c.clone() })
            .unwrap_or_else(detail),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            Cause::HostnameMismatch {
                requested: facts.name.to_string(),
                presented: leaf_names(facts),
            }
        }
        CertificateError::UnsupportedSignatureAlgorithmContext {
            signature_algorithm_id,
            ..
        }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
            signature_algorithm_id,
            ..
        } => signature_cause(facts, signature_algorithm_id, error).unwrap_or_else(detail),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            match chain.first() {
                Some(leaf) => Cause::WrongCertificatePurpose {
                    cert: leaf.clone(),
                    required: "serverAuth".into(),
                    presented: facts
                        .chain_der
                        .first()
                        .map(|der| extended_key_usages(der))
                        .unwrap_or_default(),
                },
                None => detail(),
            }
        }
        CertificateError::UnknownIssuer => {
            let truststores = facts.truststores.clone();
            match (chain.first(), chain.last()) {
                (Some(leaf), _) if chain.len() == 1 && leaf.self_issued => Cause::SelfSigned {
                    cert: leaf.clone(),
                    truststores,
                },
                (_, Some(last)) if last.self_issued => Cause::UntrustedRoot {
                    root_subject: last.subject.clone(),
                    root: Some(last.clone()),
                    truststores,
                },
                // Servers usually leave their root out: a chain ending at a CA names the root.
                (_, Some(last)) if last.is_ca => Cause::UntrustedRoot {
                    root_subject: last.issuer.clone(),
                    root: None,
                    truststores,
                },
                // A chain that stops at a leaf lacks the intermediate that issued it.
                (_, Some(last)) => Cause::IncompleteChain {
                    last: last.clone(),
                    missing_issuer: last.issuer.clone(),
                },
                _ => detail(),
            }
        }
        CertificateError::BadSignature => rekeyed_anchor(facts).unwrap_or_else(detail),
        CertificateError::Other(other) => match other.0.downcast_ref::<Refusal>() {
            // keyway's own checks on top of webpki say what they refused.
            Some(refusal) => refusal_cause(facts, refusal).unwrap_or_else(detail),
            // webpki reports a CA used as a server certificate as an opaque "other"
            // error; the captured leaf says what it is.
            None => match chain.first() {
                // A self-signed CA certificate (`openssl req -x509` makes them) is what
                // JSSE users pin: importing it is the fix, as for any self-signed one.
                Some(leaf) if leaf.is_ca && leaf.self_issued && chain.len() == 1 => {
                    Cause::SelfSigned {
                        cert: leaf.clone(),
                        truststores: facts.truststores.clone(),
                    }
                }
                Some(leaf) if leaf.is_ca => Cause::CaAsServerCertificate { cert: leaf.clone() },
                _ => detail(),
            },
        },
        _ => detail(),
    }
}

/// A signature that does not verify at the top of the chain, where a truststore holds a
/// CA of the issuer's name: that CA has another key than the one that signed the chain
/// (the partner renewed its CA with a new key, or another CA took the same name). The
/// anchor is what must be replaced.
fn rekeyed_anchor(facts: &ChainFacts<'_>) -> Option<Cause> {
    let top_der = facts.chain_der.last()?;
    let top = keyway_keystore::Certificate::from_der(top_der.clone(), "the server's chain").ok()?;
    let anchor = facts.anchors.iter().find(|a| {
        a.cert.info().subject == top.info().issuer
            && a.cert.der() != top.der()
            && !top.is_signed_by(&a.cert)
    })?;
    Some(Cause::TrustAnchorUnusable {
        anchor: anchor.cert.info().clone(),
        store: anchor.store.clone(),
        alias: anchor.alias.clone(),
        detail: format!(
            "it has the name of the CA that signed {} but another key: the partner's CA was renewed with a new key, or another CA took the same name",
            top.info().subject
        ),
    })
}

/// The certificate of the chain signed with the algorithm webpki refused, and why.
fn signature_cause(
    facts: &ChainFacts<'_>,
    algorithm_id: &[u8],
    error: &CertificateError,
) -> Option<Cause> {
    use x509_parser::der_parser::ber::parse_ber_oid;
    let oid = parse_ber_oid(algorithm_id).ok()?.1.as_oid_val().ok()?;
    // The first certificate from the leaf up whose signature uses it (a root the server
    // sends along is never checked, so it cannot be the one).
    let position = facts.chain_der.iter().position(|der| {
        X509Certificate::from_der(der).is_ok_and(|(_, c)| c.signature_algorithm.algorithm == oid)
    })?;
    let cert = facts.chain.get(position)?.clone();
    let algorithm = explain::algorithm_name(&oid);
    const SUPPORTED: &str = "keyway (rustls-webpki) verifies RSA (PKCS#1 v1.5 and PSS) and ECDSA on P-256, P-384 and P-521 with SHA-256/384/512, and Ed25519";
    let reason = match (explain::weakness(&oid), error) {
        (Some(weak), _) => weak.to_string(),
        (
            None,
            CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                public_key_algorithm_id,
                ..
            },
        ) => format!(
            "its issuer's key is {}, which keyway cannot verify: {SUPPORTED}",
            explain::algorithm_identifier_name(public_key_algorithm_id)
        ),
        (None, _) => format!("{SUPPORTED}; nothing else"),
    };
    Some(Cause::UnsupportedSignatureAlgorithm {
        cert,
        algorithm,
        reason,
    })
}

/// The extended key usages of a DER certificate by name (empty: none, or no extension).
fn extended_key_usages(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let Ok(Some(eku)) = cert.extended_key_usage() else {
        return Vec::new();
    };
    let eku = eku.value;
    let mut names = Vec::new();
    for (known, name) in [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ] {
        if known {
            names.push(name.to_string());
        }
    }
    names.extend(eku.other.iter().map(|oid| {
        let dotted = oid.to_id_string();
        explain::eku_name(&dotted)
            .map(str::to_string)
            .unwrap_or(dotted)
    }));
    names
}

/// The cause for a chain webpki accepted and keyway's own checks refused.
pub(crate) fn refusal_cause(facts: &ChainFacts<'_>, refusal: &Refusal) -> Option<Cause> {
    Some(match refusal {
        Refusal::WeakKey { detail, .. } => Cause::WeakServerKey {
            cert: facts.chain.first()?.clone(),
            detail: detail.clone(),
        },
        Refusal::Malformed { subject, detail } => Cause::MalformedCertificate {
            subject: subject.clone(),
            detail: detail.clone(),
        },
        Refusal::AnchorUnusable { detail, der, .. } => {
            let from_file = facts.anchors.iter().find(|a| a.cert.der() == der);
            let (anchor, store, alias) = match from_file {
                Some(a) => (a.cert.info().clone(), a.store.clone(), a.alias.clone()),
                None => (
                    keyway_keystore::Certificate::from_der(der.clone(), "trust anchor")
                        .ok()?
                        .info()
                        .clone(),
                    "the system roots".to_string(),
                    None,
                ),
            };
            Cause::TrustAnchorUnusable {
                anchor,
                store,
                alias,
                detail: detail.clone(),
            }
        }
    })
}

/// The names the leaf is valid for: its SANs, or its CN when it has none.
fn leaf_names(facts: &ChainFacts<'_>) -> Vec<String> {
    facts
        .chain_der
        .first()
        .map(|der| cert_names(der))
        .unwrap_or_default()
}

/// The names a DER certificate is valid for: its SANs, or its CN when it has none.
pub(crate) fn cert_names(der: &[u8]) -> Vec<String> {
    let names = subject_alt_names(der);
    if !names.is_empty() {
        return names;
    }
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    cert.subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect()
}

/// Warnings about a chain that verified but is sent badly: out of order, or with a
/// certificate that belongs to no path. keyway and browsers cope; older clients do not.
pub(crate) fn chain_warnings(chain: &[keyway_keystore::CertInfo]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (i, cert) in chain.iter().enumerate().skip(1) {
        let issues_another = chain
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other.issuer == cert.subject);
        if !issues_another {
            warnings.push(format!(
                "the server sends {} (certificate {} of {}), which issued nothing in its chain: keyway ignores it, but some clients fail on it; ask the partner to remove it",
                cert.subject,
                i + 1,
                chain.len()
            ));
        }
    }
    for pair in chain.windows(2) {
        let (cert, next) = (&pair[0], &pair[1]);
        if !cert.self_issued
            && next.subject != cert.issuer
            && chain.iter().any(|c| c.subject == cert.issuer)
        {
            warnings.push(format!(
                "the server sends its chain out of order ({} does not follow {}, which it issued): keyway and browsers reorder it, older Java and .NET clients may not; ask the partner to send the leaf first, then each issuer in turn",
                cert.issuer, cert.subject
            ));
            break;
        }
    }
    warnings
}

/// Subject alternative names (DNS names and IP addresses) of a DER certificate.
fn subject_alt_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => Some(IpAddr::from(<[u8; 4]>::try_from(*ip).ok()?).to_string()),
                16 => Some(IpAddr::from(<[u8; 16]>::try_from(*ip).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
