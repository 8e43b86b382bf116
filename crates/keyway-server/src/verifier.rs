//! The gateway's client-certificate check, run inside every handshake: refused when
//! revoked (by keyway, or on an imported CRL of its CA); accepted when it chains to a
//! trusted client CA, or when it is exactly a registered certificate (a partner's pinned
//! self-signed one) that is valid now.
//!
//! What it is checked against is a [`Trust`] snapshot swapped in whole when the store
//! changes, so a revocation applies to the next handshake without a restart.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use keyway_keystore::{Certificate, fingerprint_sha256};
use keyway_store::GatewayTrust;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};

/// What handshakes are checked against, built from the store's [`GatewayTrust`].
pub(crate) struct Trust {
    chained: Option<Arc<dyn ClientCertVerifier>>,
    registered: HashSet<String>,
    revoked: HashSet<String>,
}

impl Trust {
    pub(crate) fn new(
        from: GatewayTrust,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Trust, rustls::Error> {
        let mut roots = RootCertStore::empty();
        for cert in &from.client_cas {
            // A certificate that is not a usable anchor is skipped, not fatal.
            let _ = roots.add(CertificateDer::from(cert.der().to_vec()));
        }
        let chained = if roots.is_empty() {
            None
        } else {
            let crls = from
                .crls
                .into_iter()
                .map(CertificateRevocationListDer::from)
                .collect::<Vec<_>>();
            // A CA without an imported CRL is not a reason to refuse its certificates;
            // a CRL past its next update is still what is known (not a reason either).
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .with_crls(crls)
                    .allow_unknown_revocation_status()
                    .build()
                    .map_err(|e| rustls::Error::General(e.to_string()))?;
            Some(verifier)
        };
        Ok(Trust {
            chained,
            registered: from.registered,
            revoked: from.revoked,
        })
    }
}

/// Handshake outcomes, for the metrics.
#[derive(Debug, Default)]
pub(crate) struct HandshakeCounts {
    pub accepted: AtomicU64,
    pub revoked: AtomicU64,
    pub expired: AtomicU64,
    pub untrusted: AtomicU64,
}

/// The verifier rustls calls; [`ClientVerifier::replace`] swaps what it checks against.
pub(crate) struct ClientVerifier {
    trust: RwLock<Arc<Trust>>,
    provider: Arc<CryptoProvider>,
    pub(crate) counts: HandshakeCounts,
}

impl std::fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientVerifier").finish_non_exhaustive()
    }
}

impl ClientVerifier {
    pub(crate) fn new(trust: Trust, provider: Arc<CryptoProvider>) -> Self {
        ClientVerifier {
            trust: RwLock::new(Arc::new(trust)),
            provider,
            counts: HandshakeCounts::default(),
        }
    }

    /// Checks from the next handshake on against `trust`.
    pub(crate) fn replace(&self, trust: Trust) {
        let trust = Arc::new(trust);
        match self.trust.write() {
            Ok(mut current) => *current = trust,
            Err(poisoned) => *poisoned.into_inner() = trust,
        }
    }

    fn current(&self) -> Arc<Trust> {
        match self.trust.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn refuse(&self, fingerprint: &str, error: CertificateError) -> Error {
        tracing::warn!(
            certificate = %fingerprint,
            "refused a client certificate in the handshake: {}",
            keyway_tls::explain::certificate_error(&error)
        );
        let counter = match error {
            CertificateError::Revoked => &self.counts.revoked,
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => &self.counts.expired,
            _ => &self.counts.untrusted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Error::InvalidCertificate(error)
    }
}

/// The database's notation of a certificate's SHA-256: lower-case hex, no colons.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    fingerprint_sha256(der)
        .replace(':', "")
        .to_ascii_lowercase()
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The accepted CAs change at run time; clients send their configured certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let trust = self.current();
        let fp = fingerprint(end_entity);
        if trust.revoked.contains(&fp) {
            return Err(self.refuse(&fp, CertificateError::Revoked));
        }
        let chained = match &trust.chained {
            Some(verifier) => verifier.verify_client_cert(end_entity, intermediates, now),
            None => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        };
        match chained {
            Ok(verified) => {
                self.counts.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(verified)
            }
            // Not from a trusted CA, but exactly a registered certificate: pinned.
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
                if trust.registered.contains(&fp) =>
            {
                let cert = Certificate::from_der(end_entity.to_vec(), "client certificate")
                    .map_err(|_| self.refuse(&fp, CertificateError::BadEncoding))?;
                let info = cert.info();
                let now = now.as_secs() as i64;
                if now > info.not_after.unix_timestamp() {
                    return Err(self.refuse(&fp, CertificateError::Expired));
                }
                if now < info.not_before.unix_timestamp() {
                    return Err(self.refuse(&fp, CertificateError::NotValidYet));
                }
                self.counts.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(ClientCertVerified::assertion())
            }
            Err(Error::InvalidCertificate(e)) => Err(self.refuse(&fp, e)),
            Err(e) => {
                tracing::warn!(
                    certificate = %fp,
                    "refused a client certificate in the handshake: {}",
                    keyway_tls::explain::rustls_error(&e)
                );
                self.counts.untrusted.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The gateway's check made optional, for the admin listener: a client that sends a
/// certificate has it checked exactly as the gateway does (a refused one fails the
/// handshake); one that sends none signs in otherwise (password, token).
#[derive(Debug)]
pub(crate) struct Optional(pub Arc<ClientVerifier>);

impl ClientCertVerifier for Optional {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.0.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
