//! The checks on a certificate an outside CA sends back, before keyway uses it as a
//! client identity: it is for our key, it chains to a CA the user names, it is valid
//! now, it is an end-entity certificate and it allows client authentication.

use keyway_keystore::{Certificate, PrivateKey};
use time::OffsetDateTime;

use crate::{CertDetails, Csr, IssueProfile, PkiError};

/// What the certificate must belong to.
#[derive(Debug, Clone, Copy)]
pub enum Pending<'a> {
    /// The private key generated for it.
    Key(&'a PrivateKey),
    /// The CSR sent to the CA.
    Csr(&'a Csr),
}

/// A certificate that passed every check, with its chain (leaf first).
#[derive(Debug, Clone)]
pub struct UploadCheck {
    /// Leaf, intermediates, and the CA it chains to.
    pub chain: Vec<Certificate>,
    /// The leaf's details.
    pub details: CertDetails,
}

/// Checks `cert` against `pending` and the CA certificates the user trusts for it
/// (`cas`: roots and intermediates, any order), for use as `purpose`. Every failed check
/// is reported.
pub fn check_upload(
    cert: &Certificate,
    pending: Option<Pending<'_>>,
    cas: &[Certificate],
    purpose: IssueProfile,
    now: OffsetDateTime,
) -> Result<UploadCheck, PkiError> {
    let details = CertDetails::of(cert)?;
    let info = cert.info();
    let mut problems = Vec::new();
    if info.is_ca {
        problems.push(format!(
            "it is a CA certificate (basic constraints CA:TRUE), not a client certificate; upload the certificate the CA issued for your key, issued by {}",
            info.issuer
        ));
    }
    match pending {
        Some(Pending::Key(key)) if key.matches(cert) == Some(false) => problems.push(
            "its public key does not match the private key given: the CA signed a request made with another key, or this certificate belongs to someone else".into(),
        ),
        Some(Pending::Csr(csr)) if !same_public_key(cert, &csr.spki_der) => problems.push(
            "its public key is not the CSR's: the CA signed a different request".into(),
        ),
        _ => {}
    }
    if now > info.not_after {
        problems.push(format!("it expired on {}", info.not_after.date()));
    } else if now < info.not_before {
        problems.push(format!(
            "it is not valid until {} (check this machine's clock)",
            info.not_before
        ));
    }
    let (allowed, eku) = match purpose {
        IssueProfile::Client => (details.allows("clientAuth"), "clientAuth"),
        IssueProfile::Server => (details.allows("serverAuth"), "serverAuth"),
    };
    if !allowed {
        problems.push(format!(
            "its extended key usage ({}) does not include {eku}; ask the CA for a {purpose} certificate",
            details.extended_key_usage.join(", ")
        ));
    }
    let chain = match build_chain(cert, cas) {
        Ok(chain) => chain,
        Err(missing) => {
            problems.push(missing);
            Vec::new()
        }
    };
    if problems.is_empty() {
        Ok(UploadCheck { chain, details })
    } else {
        Err(PkiError::Upload {
            subject: info.subject.clone(),
            problems,
        })
    }
}

/// Leaf first, up to a certificate of `cas` that is self-issued or the last one found.
/// A self-signed certificate that is itself among `cas` is pinned: its chain is itself.
fn build_chain(cert: &Certificate, cas: &[Certificate]) -> Result<Vec<Certificate>, String> {
    if cert.info().self_issued
        && cert.is_signed_by(cert)
        && cas.iter().any(|ca| ca.der() == cert.der())
    {
        return Ok(vec![cert.clone()]);
    }
    let mut chain = vec![cert.clone()];
    loop {
        let last = chain.last().expect("never empty").clone();
        if last.info().self_issued && chain.len() > 1 {
            return Ok(chain);
        }
        match cas
            .iter()
            .find(|ca| !chain.iter().any(|c| c.der() == ca.der()) && last.is_signed_by(ca))
        {
            Some(ca) => chain.push(ca.clone()),
            None if chain.len() > 1 => return Ok(chain),
            None => {
                let given: Vec<&str> = cas.iter().map(|c| c.info().subject.as_str()).collect();
                return Err(format!(
                    "it is issued by {}, which is not among the CA certificates it is checked against ({}); add that CA's certificate to them (the truststore, or --ca FILE)",
                    last.info().issuer,
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        given.join("; ")
                    }
                ));
            }
        }
    }
}

fn same_public_key(cert: &Certificate, spki_der: &[u8]) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(cert.der())
        .map(|(_, c)| c.public_key().raw == spki_der)
        .unwrap_or(false)
}
