//! A profile is what a connector's TLS is made of: where its trust comes from, the client
//! identity it presents, its policy, and its timeouts. Loading one checks everything that
//! can be checked without the network, so a wrong password, a missing alias or a key
//! that does not match its certificate is an error before any connection is made.
//!
//! A client certificate outside its validity is not such an error: like an expired trust
//! anchor, it matters only when the server asks for it, so the connectivity test
//! diagnoses it (`client_cert_expired`, `client_cert_not_yet_valid`) and otherwise warns.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keyway_keystore::{Certificate, EntryType, FileError, Format, Keystore, PrivateKey, file};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::policy::TlsPolicy;
use crate::proxy::{Proxy, ProxyError, ProxySetting};

/// Where trust anchors come from.
#[derive(Debug, Clone)]
pub enum TrustSource {
    /// A truststore file of any format keyway reads.
    File {
        /// The file.
        path: PathBuf,
        /// Expected format (detected when `None`).
        format: Option<Format>,
        /// Its password (JKS and PKCS#12; JKS may be read without).
        password: Option<String>,
    },
    /// Certificates already read (a truststore kept in keyway's store); `name` says where
    /// they come from in messages (`truststore partners`).
    Certificates {
        /// Where they come from.
        name: String,
        /// The trust anchors.
        certificates: Vec<Certificate>,
    },
    /// The operating system's roots (honours `SSL_CERT_FILE` and `SSL_CERT_DIR`).
    System,
}

/// The client identity to present when a server asks for one.
#[derive(Debug, Clone)]
pub struct IdentitySpec {
    /// The keystore file (with `content`: what messages call it, e.g. `keystore acme`).
    pub path: PathBuf,
    /// The keystore's bytes, when they are not read from `path` (a keystore kept in
    /// keyway's store).
    pub content: Option<Vec<u8>>,
    /// Expected format (detected when `None`).
    pub format: Option<Format>,
    /// Store password.
    pub store_password: Option<String>,
    /// Alias of the key entry; may be left out when the store holds exactly one key.
    pub alias: Option<String>,
    /// Key password (default: the store password).
    pub key_password: Option<String>,
}

/// What a profile is made of, before it is checked.
#[derive(Debug, Clone)]
pub struct ProfileSpec {
    /// Trust anchors; empty means the system roots.
    pub trust: Vec<TrustSource>,
    /// The client identity, if any.
    pub identity: Option<IdentitySpec>,
    /// Versions and cipher suites.
    pub policy: TlsPolicy,
    /// Name to send as SNI and to verify the certificate against, instead of the URL's host.
    pub server_name: Option<String>,
    /// Accept any server certificate (dangerous; every output says so).
    pub insecure: bool,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time for the TLS handshake and the first response.
    pub handshake_timeout: Duration,
    /// Where these settings are made, for the fixes a diagnosis names.
    pub settings: crate::diagnosis::Settings,
    /// How partners are reached: the environment's proxy (the default), straight, or
    /// through a given proxy.
    pub proxy: ProxySetting,
}

impl Default for ProfileSpec {
    fn default() -> Self {
        ProfileSpec {
            trust: Vec::new(),
            identity: None,
            policy: TlsPolicy::default(),
            server_name: None,
            insecure: false,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            settings: crate::diagnosis::Settings::default(),
            proxy: ProxySetting::Environment,
        }
    }
}

/// Why a profile cannot be used; found before any network traffic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A store file could not be read or opened.
    #[error(transparent)]
    Store(#[from] FileError),
    /// A truststore holds no certificates.
    #[error("{path}: the truststore holds no certificates, so it can trust nothing")]
    EmptyTruststore {
        /// The file.
        path: PathBuf,
    },
    /// The system roots could not be loaded.
    #[error(
        "cannot load the system's trusted roots: {error} (set SSL_CERT_FILE, or give --truststore)"
    )]
    SystemRoots {
        /// Why.
        error: String,
    },
    /// The proxy setting (or the environment's HTTPS_PROXY) cannot be used.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The keystore has no usable key entry, or several and no alias was chosen.
    #[error("{path}: {problem}")]
    Identity {
        /// The keystore.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// A trust anchor and where it came from.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    /// The certificate.
    pub cert: Certificate,
    /// The store it came from (file path, or "system roots").
    pub store: String,
    /// Its alias in a truststore file, when it has one.
    pub alias: Option<String>,
}

/// The identity a profile presents.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The keystore file.
    pub store: PathBuf,
    /// The alias.
    pub alias: String,
    /// Leaf first.
    pub chain: Vec<Certificate>,
    pub(crate) key: PrivateKey,
}

/// Where a client certificate stands against its validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Within its dates.
    Valid,
    /// Past its end date.
    Expired,
    /// Before its start date.
    NotYetValid,
}

impl Identity {
    /// Whether the leaf certificate is within its validity at `now`.
    pub fn validity(&self, now: OffsetDateTime) -> Validity {
        match self.chain.first().map(Certificate::info) {
            Some(info) if now > info.not_after => Validity::Expired,
            Some(info) if now < info.not_before => Validity::NotYetValid,
            _ => Validity::Valid,
        }
    }
}

/// A checked profile, ready to connect.
#[derive(Debug, Clone)]
pub struct Profile {
    pub(crate) roots: Arc<RootCertStore>,
    /// Every trusted root as DER, system roots included, for keyway's own chain checks.
    pub(crate) anchor_der: Arc<Vec<CertificateDer<'static>>>,
    /// The anchors from truststore files (system roots are not listed one by one).
    pub anchors: Vec<TrustAnchor>,
    /// Whether the system roots are trusted too.
    pub uses_system_roots: bool,
    /// The client identity.
    pub identity: Option<Identity>,
    /// The policy.
    pub policy: TlsPolicy,
    /// SNI / expected name override.
    pub server_name: Option<String>,
    /// Whether server certificates go unchecked.
    pub insecure: bool,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Handshake timeout.
    pub handshake_timeout: Duration,
    /// Where these settings are made.
    pub settings: crate::diagnosis::Settings,
    /// How partners are reached (the environment already read: never
    /// [`ProxySetting::Environment`]).
    pub proxy: ProxySetting,
}

impl Profile {
    /// Loads and checks a profile.
    pub fn load(spec: &ProfileSpec) -> Result<Profile, ProfileError> {
        let mut roots = RootCertStore::empty();
        let mut anchor_der = Vec::new();
        let mut anchors = Vec::new();
        let sources = if spec.trust.is_empty() {
            vec![TrustSource::System]
        } else {
            spec.trust.clone()
        };
        let mut uses_system_roots = false;
        for source in &sources {
            match source {
                TrustSource::File {
                    path,
                    format,
                    password,
                } => {
                    let store = file::load(path, *format, password.as_deref())?;
                    let before = anchors.len();
                    for entry in store.entries() {
                        // A truststore's anchors are its trusted entries; a key entry's
                        // chain is an identity, not a statement of trust.
                        if entry.entry_type() == EntryType::TrustedCertificate {
                            for cert in entry.chain() {
                                let der = CertificateDer::from(cert.der().to_vec());
                                anchor_der.push(der.clone());
                                let _ = roots.add(der);
                                anchors.push(TrustAnchor {
                                    cert: cert.clone(),
                                    store: path.display().to_string(),
                                    alias: Some(entry.alias.clone()),
                                });
                            }
                        }
                    }
                    if anchors.len() == before {
                        return Err(ProfileError::EmptyTruststore { path: path.clone() });
                    }
                }
                TrustSource::Certificates { name, certificates } => {
                    if certificates.is_empty() {
                        return Err(ProfileError::EmptyTruststore { path: name.into() });
                    }
                    for cert in certificates {
                        let der = CertificateDer::from(cert.der().to_vec());
                        anchor_der.push(der.clone());
                        let _ = roots.add(der);
                        anchors.push(TrustAnchor {
                            cert: cert.clone(),
                            store: name.clone(),
                            alias: None,
                        });
                    }
                }
                TrustSource::System => {
                    uses_system_roots = true;
                    let loaded = rustls_native_certs::load_native_certs();
                    if loaded.certs.is_empty() {
                        let error = loaded
                            .errors
                            .first()
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "none found".into());
                        return Err(ProfileError::SystemRoots { error });
                    }
                    anchor_der.extend(loaded.certs.iter().cloned());
                    roots.add_parsable_certificates(loaded.certs);
                }
            }
        }
        let identity = spec.identity.as_ref().map(load_identity).transpose()?;
        let proxy = spec.proxy.resolve()?;
        Ok(Profile {
            roots: Arc::new(roots),
            anchor_der: Arc::new(anchor_der),
            anchors,
            uses_system_roots,
            identity,
            policy: spec.policy.clone(),
            server_name: spec.server_name.clone(),
            insecure: spec.insecure,
            connect_timeout: spec.connect_timeout,
            handshake_timeout: spec.handshake_timeout,
            settings: spec.settings.clone(),
            proxy,
        })
    }

    /// The proxy to reach `host` through, if any.
    pub fn proxy_for(&self, host: &str) -> Option<&Proxy> {
        self.proxy.for_host(host)
    }

    /// The truststore names, for remediation steps.
    pub fn truststore_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.anchors.iter().map(|a| a.store.clone()).collect();
        names.dedup();
        if self.uses_system_roots {
            names.push("the system roots".into());
        }
        names
    }
}

fn load_identity(spec: &IdentitySpec) -> Result<Identity, ProfileError> {
    let problem = |problem: String| ProfileError::Identity {
        path: spec.path.clone(),
        problem,
    };
    let store = match &spec.content {
        Some(content) => Keystore::from_bytes(content, spec.format, spec.store_password.as_deref())
            .map_err(|e| file::in_file(&spec.path, e))?,
        None => file::load(&spec.path, spec.format, spec.store_password.as_deref())?,
    };
    let entry = match &spec.alias {
        Some(alias) => store
            .entry(alias)
            .map_err(|e| file::in_file(&spec.path, e))?,
        None => {
            let keys: Vec<_> = store
                .entries()
                .iter()
                .filter(|e| e.entry_type() == EntryType::PrivateKey)
                .collect();
            match keys.as_slice() {
                [one] => *one,
                [] => {
                    return Err(problem(
                        "the keystore holds no private key to present as a client certificate"
                            .into(),
                    ));
                }
                many => {
                    let aliases: Vec<&str> = many.iter().map(|e| e.alias.as_str()).collect();
                    return Err(problem(format!(
                        "the keystore holds {} private keys ({}): choose one with --alias",
                        many.len(),
                        aliases.join(", ")
                    )));
                }
            }
        }
    };
    let key_password = spec
        .key_password
        .as_deref()
        .or(spec.store_password.as_deref());
    let key = entry
        .private_key(key_password)
        .map_err(|e| file::in_file(&spec.path, e))?;
    let chain = entry.chain().to_vec();
    let leaf = chain.first().ok_or_else(|| {
        problem(format!(
            "alias \"{}\" has no certificate to present",
            entry.alias
        ))
    })?;
    if key.matches(leaf) == Some(false) {
        return Err(problem(format!(
            "the private key of alias \"{}\" does not match its certificate {}",
            entry.alias,
            leaf.info().subject
        )));
    }
    Ok(Identity {
        store: spec.path.clone(),
        alias: entry.alias.clone(),
        chain,
        key,
    })
}
