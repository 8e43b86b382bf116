//! The TLS configuration both connection paths use — the connectivity test and the
//! connectors' everyday client — built from a [`Profile`]: the provider, the protocol
//! versions and cipher suites of the policy, the server-certificate verifier (webpki,
//! then keyway's checks, a certificate in the truststore trusted as pinned) that keeps the
//! chain as sent, and the client-certificate resolver that keeps what the server asked
//! for. It knows nothing of diagnosis.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::client::ResolvesClientCert;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use x509_parser::prelude::FromDer;

use crate::explain;
use crate::policy::TlsVersion;
use crate::profile::Profile;

/// What the verifier and the client-certificate resolver saw during the handshake.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The chain the server sent, DER.
    pub(crate) chain: Mutex<Vec<Vec<u8>>>,
    /// CA names from the CertificateRequest, when the server sent one.
    pub(crate) requested: Mutex<Option<Vec<String>>>,
    /// Whether a client certificate was sent.
    pub(crate) sent: Mutex<bool>,
}

#[derive(Debug)]
pub(crate) struct CapturingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    /// Every trusted root, for keyway's checks on top of webpki.
    anchors: Arc<Vec<CertificateDer<'static>>>,
    insecure: bool,
    captured: Arc<Captured>,
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.to_vec())
            .collect();
        *self
            .captured
            .chain
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = chain;
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let refused = |refusal: crate::verify::Refusal| {
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                Arc::new(refusal),
            )))
        };
        // The server's own certificate in the truststore is trusted as pinned.
        let pinned = crate::verify::is_pinned(end_entity, &self.anchors);
        let verified =
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Ok(verified) => verified,
                Err(e) if pinned && crate::verify::is_ca_as_end_entity(&e) => {
                    return crate::verify::verify_pinned(end_entity, Some(server_name), now)
                        .map(|()| ServerCertVerified::assertion())
                        .map_err(|e| match e {
                            crate::verify::Pinned::Path(e) => e,
                            crate::verify::Pinned::Refused(refusal) => refused(refusal),
                        });
                }
                Err(e) => return Err(e),
            };
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(now.as_secs());
        let anchors = crate::verify::anchors_besides(end_entity, &self.anchors);
        crate::verify::keyway_checks(end_entity, intermediates, &anchors, at).map_err(refused)?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct CapturingResolver {
    identity: Option<Arc<CertifiedKey>>,
    captured: Arc<Captured>,
}

impl ResolvesClientCert for CapturingResolver {
    fn resolve(&self, hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let names = hints
            .iter()
            .map(|h| crate::probe::distinguished_name(&as_name_der(h)))
            .collect();
        *self
            .captured
            .requested
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(names);
        *self.captured.sent.lock().unwrap_or_else(|e| e.into_inner()) = self.identity.is_some();
        self.identity.clone()
    }

    fn has_certs(&self) -> bool {
        // Always true, so that a CertificateRequest reaches `resolve` and is recorded.
        true
    }
}

/// A DistinguishedName as DER: some rustls versions hand it over with its outer SEQUENCE,
/// some without; use it as is when it is one complete SEQUENCE, else wrap it.
fn as_name_der(hint: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::X509Name;
    match X509Name::from_der(hint) {
        Ok((rest, _)) if rest.is_empty() && hint.first() == Some(&0x30) => hint.to_vec(),
        _ => wrap_sequence(hint),
    }
}

fn wrap_sequence(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    match body.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n <= 0xFF => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(body);
    out
}

pub(crate) fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

pub(crate) fn client_config(
    profile: &Profile,
    captured: &Arc<Captured>,
    http: bool,
) -> Result<ClientConfig, String> {
    let mut provider = provider();
    if let Some(names) = profile.policy.cipher_suites() {
        let ids: Vec<u16> = names
            .iter()
            .filter_map(|n| tls_parser::TlsCipherSuite::from_name(n).map(|s| s.id.0))
            .collect();
        provider
            .cipher_suites
            .retain(|s| ids.contains(&u16::from(s.suite())));
    }
    let provider = Arc::new(provider);
    let verifier = verifier(profile, captured, &provider)?;
    let mut versions = Vec::new();
    if profile.policy.accepted().contains(TlsVersion::Tls12) {
        versions.push(&rustls::version::TLS12);
    }
    if profile.policy.accepted().contains(TlsVersion::Tls13) {
        versions.push(&rustls::version::TLS13);
    }
    let identity = match &profile.identity {
        Some(id) => {
            let chain = id
                .chain
                .iter()
                .map(|c| CertificateDer::from(c.der().to_vec()))
                .collect();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key.pkcs8_der().to_vec()));
            let signer = provider.key_provider.load_private_key(key).map_err(|e| {
                format!(
                    "client key of alias \"{}\": {}",
                    id.alias,
                    explain::rustls_error(&e)
                )
            })?;
            Some(Arc::new(CertifiedKey::new(chain, signer)))
        }
        None => None,
    };
    let resolver = Arc::new(CapturingResolver {
        identity,
        captured: captured.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| explain::rustls_error(&e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(resolver);
    if http {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(config)
}

/// The server-certificate verifier both backends use: webpki over the profile's roots,
/// then keyway's own checks (`verify::keyway_checks`), capturing the chain as sent.
pub(crate) fn verifier(
    profile: &Profile,
    captured: &Arc<Captured>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<CapturingVerifier>, String> {
    let inner =
        WebPkiServerVerifier::builder_with_provider(profile.roots.clone(), provider.clone())
            .build()
            .map_err(|e| {
                use rustls::client::VerifierBuilderError as V;
                match e {
                    V::NoRootAnchors => "the truststores hold no usable trust anchor".to_string(),
                    V::InvalidCrl(_) => "a certificate revocation list is invalid".to_string(),
                    _ => "the certificate verifier could not be built".to_string(),
                }
            })?;
    Ok(Arc::new(CapturingVerifier {
        inner,
        anchors: profile.anchor_der.clone(),
        insecure: profile.insecure,
        captured: captured.clone(),
    }))
}

/// Why a name under `.invalid` has no address.
pub(crate) const PLACEHOLDER_NAME: &str =
    "names under .invalid never resolve (RFC 6761); it is a placeholder";

/// Whether `host` is under `.invalid` (RFC 6761 §6.4).
pub(crate) fn is_placeholder_name(host: &str) -> bool {
    let label = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    label.eq_ignore_ascii_case("invalid")
}
