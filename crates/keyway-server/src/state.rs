//! What the gateway's tasks share: the store, the trust the verifier checks against,
//! the directory requests are decided with, the connectors, the queue to the audit log,
//! the figures and the limits; and who is on the other end of a connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use http::HeaderValue;
use keyway_connect::Connector;
use keyway_store::{GatewayDirectory, Store};
use tokio::sync::{Mutex, mpsc};

use crate::GatewayError;
use crate::identity::ServerCert;
use crate::limits::{Connections, STORE_WITHIN};
use crate::metrics::Metrics;
use crate::password::PasswordGate;
use crate::record::Pending;
use crate::verifier::{ClientVerifier, Trust};

/// What the gateway's tasks share.
pub(crate) struct State {
    pub(crate) store: Arc<Store>,
    pub(crate) verifier: Arc<ClientVerifier>,
    pub(crate) server_cert: Arc<ServerCert>,
    pub(crate) directory: std::sync::RwLock<Arc<GatewayDirectory>>,
    pub(crate) reload: tokio::sync::Notify,
    pub(crate) connectors: Mutex<HashMap<String, Arc<Connector>>>,
    pub(crate) records: mpsc::UnboundedSender<Pending>,
    pub(crate) metrics: Metrics,
    pub(crate) max_body: usize,
    pub(crate) ready: AtomicBool,
    pub(crate) connections: Arc<Connections>,
    pub(crate) passwords: PasswordGate,
    /// Certificates presented since the last write of their last use.
    pub(crate) uses: Arc<crate::uses::Uses>,
}

/// Who is on the other end of a connection (shared by its requests).
pub(crate) struct Peer {
    pub(crate) fingerprint: String,
    /// The caller's IP address as text, written once per connection: it goes into
    /// every request's X-Forwarded-For and audit record.
    pub(crate) ip: HeaderValue,
    /// `gateway IP`: the audit records' origin.
    pub(crate) origin: String,
}

impl Peer {
    pub(crate) fn new(address: SocketAddr, fingerprint: String) -> Peer {
        let ip = address.ip().to_string();
        Peer {
            fingerprint,
            origin: format!("gateway {ip}"),
            // An IP address is always a valid header value.
            ip: HeaderValue::try_from(ip).unwrap_or(HeaderValue::from_static("unknown")),
        }
    }

    pub(crate) fn ip(&self) -> &str {
        self.ip.to_str().unwrap_or("unknown")
    }
}

impl State {
    /// Reads trust and the directory from the store and swaps them in; connectors are
    /// rebuilt on their next use.
    pub(crate) async fn load(
        &self,
        provider: &Arc<rustls::crypto::CryptoProvider>,
        client_truststores: &[String],
    ) -> Result<(), GatewayError> {
        let trust = self.store.gateway_trust(client_truststores).await?;
        let directory = self.store.gateway_directory().await?;
        let trust = Trust::new(trust, provider)
            .map_err(|e| GatewayError::Tls(keyway_tls::explain::rustls_error(&e)))?;
        self.verifier.replace(trust);
        self.set_directory(directory);
        // A password may have changed: check each again once.
        self.passwords.forget_verified();
        self.connectors.lock().await.clear();
        Ok(())
    }

    pub(crate) fn directory(&self) -> Arc<GatewayDirectory> {
        match self.directory.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_directory(&self, directory: GatewayDirectory) {
        let directory = Arc::new(directory);
        match self.directory.write() {
            Ok(mut current) => *current = directory,
            Err(poisoned) => *poisoned.into_inner() = directory,
        }
    }

    /// The connector `name`, built from the store on first use after a change.
    pub(crate) async fn connector(&self, name: &str) -> Result<Arc<Connector>, String> {
        let mut cache = self.connectors.lock().await;
        if let Some(connector) = cache.get(name) {
            return Ok(connector.clone());
        }
        let config = self.store.runnable_config();
        let config = tokio::time::timeout(STORE_WITHIN, config)
            .await
            .map_err(|_| format!("reading connector {name}: the store did not answer"))?
            .map_err(|e| format!("reading connector {name}: {e}"))?;
        let def = config.connector(name)?;
        let connector = Arc::new(Connector::new(&config, def).map_err(|e| e.to_string())?);
        cache.insert(name.to_string(), connector.clone());
        Ok(connector)
    }
}
