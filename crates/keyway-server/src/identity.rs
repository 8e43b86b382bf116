//! The gateway's own certificate: issued by keyway's CA for the host names it serves,
//! kept in the store as keystore `gateway` (so every node of a shared database serves
//! the same one), and issued again when it nears its end or the names change; or the
//! key entry of a keystore the administrator names (a certificate from a public or
//! corporate CA), which is theirs to renew.

use std::sync::Arc;

use keyway_keystore::{Certificate, PrivateKey};
use keyway_pki::{IssueProfile, IssueRequest, KeyType, San, parse_subject};
use keyway_store::{CaRequest, Context, NewKeystore, Store};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::GatewayError;

/// The keystore the gateway's certificate is kept in.
pub const KEYSTORE: &str = keyway_store::GATEWAY_KEYSTORE;
/// How long an issued server certificate is valid.
const DAYS: u32 = 90;
/// Issued again when fewer days than this are left.
const RENEW_DAYS: i64 = 30;

/// The gateway's key and chain (leaf first): from the named keystore, or issued by
/// keyway's CA for `hosts` when needed.
pub(crate) async fn server_identity(
    store: &Store,
    keystore: Option<&str>,
    hosts: &[String],
) -> Result<(PrivateKey, Vec<Certificate>), GatewayError> {
    match keystore {
        Some(name) => named(store, name).await,
        None => issued(store, hosts).await,
    }
}

/// The presented key entry of keystore `name`, refused when its certificate has ended.
async fn named(store: &Store, name: &str) -> Result<(PrivateKey, Vec<Certificate>), GatewayError> {
    let secrets = match store.keystore_secrets(name).await {
        Ok(secrets) => secrets,
        Err(keyway_store::StoreError::NotFound { .. }) => {
            return Err(GatewayError::Setup(format!(
                "server keystore \"{name}\": no keystore of that name in the store; store the server's key and certificate first: keyway identity add {name} server.p12 --storepass …"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let (key, chain) = secrets.identity()?;
    let Some(leaf) = chain.first() else {
        return Err(GatewayError::Setup(format!(
            "server keystore \"{name}\": its key entry has no certificate"
        )));
    };
    let info = leaf.info();
    if info.not_after < time::OffsetDateTime::now_utc() {
        return Err(GatewayError::Setup(format!(
            "server keystore \"{name}\": its certificate {} ended on {}; replace it: keyway identity add {name} FILE --replace",
            info.subject,
            info.not_after.date()
        )));
    }
    Ok((key, chain))
}

async fn issued(
    store: &Store,
    hosts: &[String],
) -> Result<(PrivateKey, Vec<Certificate>), GatewayError> {
    let wanted = source(hosts);
    if let Ok(stored) = store.keystore(&admin(), KEYSTORE).await {
        let fresh = stored
            .key_entry()
            .and_then(|e| e.chain.first())
            .is_some_and(|leaf| {
                let left = leaf.info().not_after - time::OffsetDateTime::now_utc();
                left.whole_days() > RENEW_DAYS
            });
        if fresh && stored.source == wanted {
            return Ok(store.keystore_secrets(KEYSTORE).await?.identity()?);
        }
        return issue(store, hosts, Some(stored.version)).await;
    }
    issue(store, hosts, None).await
}

fn admin() -> Context {
    Context {
        origin: "keyway serve".into(),
        ..Context::local_admin()
    }
}

/// What the keystore's source says: the names it was issued for.
fn source(hosts: &[String]) -> String {
    format!("issued by keyway's CA for {}", hosts.join(", "))
}

async fn issue(
    store: &Store,
    hosts: &[String],
    replace: Option<i64>,
) -> Result<(PrivateKey, Vec<Certificate>), GatewayError> {
    let sans = hosts
        .iter()
        .map(|h| {
            let kind = if h.parse::<std::net::IpAddr>().is_ok() {
                "ip"
            } else {
                "dns"
            };
            San::parse(&format!("{kind}:{h}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(keyway_store::StoreError::from)?;
    let first = hosts.first().map(String::as_str).unwrap_or("localhost");
    let subject = parse_subject(&format!("CN={first}")).map_err(keyway_store::StoreError::from)?;
    let request = IssueRequest {
        profile: IssueProfile::Server,
        days: DAYS,
        owner: None,
    };
    let what = CaRequest::NewKey {
        key_type: KeyType::EcP256,
        subject,
        sans,
    };
    let (key, issued) = store.ca_issue(&admin(), what, &request).await?;
    let key = key.ok_or_else(|| GatewayError::Setup("keyway's CA returned no key".into()))?;
    let chain = issued.full_chain();
    let keystore = NewKeystore::from_identity("gateway", &key, &chain, &source(hosts))?;
    match replace {
        Some(version) => {
            store
                .replace_keystore(&admin(), KEYSTORE, keystore, Some(version))
                .await?;
        }
        None => {
            store.add_keystore(&admin(), KEYSTORE, keystore).await?;
        }
    }
    Ok((key, chain))
}

/// The server certificate, swapped in whole when it is renewed or replaced.
#[derive(Debug)]
pub(crate) struct ServerCert {
    pub(crate) current: std::sync::RwLock<Arc<CertifiedKey>>,
}

impl ServerCert {
    pub(crate) fn get(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn set(&self, key: Arc<CertifiedKey>) {
        match self.current.write() {
            Ok(mut current) => *current = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
    }
}

impl rustls::server::ResolvesServerCert for ServerCert {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

pub(crate) fn certified(
    key: &keyway_keystore::PrivateKey,
    chain: &[keyway_keystore::Certificate],
    provider: &rustls::crypto::CryptoProvider,
) -> Result<Arc<CertifiedKey>, GatewayError> {
    CertifiedKey::from_der(
        chain
            .iter()
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec())),
        provider,
    )
    .map(Arc::new)
    .map_err(|e| GatewayError::Tls(keyway_tls::explain::rustls_error(&e)))
}
