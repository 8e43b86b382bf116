//! The gateway as a whole: its options, starting it (server identity, trust, listeners,
//! background tasks), the state its tasks share, and stopping it. The parts live beside:
//! connections in `connection.rs`, requests in `request.rs` (decided in `decide.rs`,
//! forwarded in `forward.rs`), the audit trail in `record.rs`, figures in `metrics.rs`,
//! the admin listener in `admin.rs`, reloads in `reload.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::combinators::BoxBody;
use keyway_connect::Connector;
use keyway_store::{GatewayDirectory, Retention, Store};
use rustls::ServerConfig;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::GatewayError;
use crate::admin::{AdminLimits, admin_loop};
use crate::connection::{MIN_HEADER, accept_loop};
use crate::identity::server_identity;
use crate::limits::{ConnectionLimits, Connections};
use crate::metrics::Metrics;
use crate::password::{PasswordGate, PasswordLimits};
use crate::record::{Pending, record_loop, retention_loop};
use crate::reload::{listen_loop, reload_loop};
use crate::verifier::{ClientVerifier, Trust};

pub(crate) type Body = BoxBody<Bytes, hyper::Error>;

/// How the gateway runs; [`Default`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Where partners connect (default `0.0.0.0:8443`).
    pub listen: SocketAddr,
    /// Health and metrics over plain HTTP (default `127.0.0.1:9090`); `None`: off.
    pub admin: Option<SocketAddr>,
    /// The names the server certificate is for (default: localhost, 127.0.0.1 and
    /// this machine's host name).
    pub hosts: Vec<String>,
    /// A keystore in the store whose key entry is the server's identity (a certificate
    /// from a public or corporate CA); `None`: issued by keyway's CA for [`Self::hosts`]
    /// and renewed by the gateway. A named keystore is replaced by its owner (`keyway
    /// identity add NAME FILE --replace`) and served from the next handshake on.
    pub server_keystore: Option<String>,
    /// Truststores in the store whose CAs may issue client certificates, besides
    /// keyway's CA.
    pub client_truststores: Vec<String>,
    /// Time for a client to finish its TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a client to send a request's headers.
    pub header_timeout: Duration,
    /// How long a connection may stay open between requests.
    pub idle_timeout: Duration,
    /// Largest request body forwarded.
    pub max_body: usize,
    /// Largest request head (request line and headers), in bytes; at least 8 KiB. A
    /// larger one gets 431.
    pub max_header: usize,
    /// Most connections past their handshake at once. When all are taken, the oldest
    /// idle one (parked between requests) is closed for a new one.
    pub max_connections: usize,
    /// Most connections of one client certificate; over it, that certificate's oldest
    /// idle connection is closed for its new one.
    pub max_connections_per_client: usize,
    /// Most connections from one address (0: no limit, for a gateway behind a proxy that
    /// hides the callers' addresses).
    pub max_connections_per_address: usize,
    /// Most connections still in their TLS handshake; over it, the oldest is closed.
    pub max_handshakes: usize,
    /// How many Basic-auth password checks (argon2id, 19 MiB each) run and wait at once.
    pub password_checks: PasswordLimits,
    /// How much of the audit log to keep; applied at start and hourly (each pruning is
    /// itself audited). Default: 400 days and 5 million entries.
    pub audit_retention: Retention,
    /// How often the store is polled for changes (certificates, trust, connectors).
    pub reload_every: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        if let Ok(name) = std::fs::read_to_string("/etc/hostname") {
            let name = name.trim();
            if !name.is_empty() && !hosts.iter().any(|h| h == name) {
                hosts.push(name.to_string());
            }
        }
        GatewayOptions {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            admin: Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
            hosts,
            server_keystore: None,
            client_truststores: Vec::new(),
            handshake_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_body: 10 * 1024 * 1024,
            max_header: 64 * 1024,
            max_connections: 1024,
            max_connections_per_client: 64,
            max_connections_per_address: 256,
            max_handshakes: 128,
            password_checks: PasswordLimits::default(),
            audit_retention: Retention {
                keep_days: Some(400),
                max_rows: Some(5_000_000),
            },
            reload_every: Duration::from_secs(1),
        }
    }
}

/// A running gateway. [`Gateway::shutdown`] stops it gracefully; dropping it stops it
/// at once.
pub struct Gateway {
    /// Where it listens for partners.
    pub address: SocketAddr,
    /// Where health and metrics are served, if anywhere.
    pub admin_address: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    connections: Arc<Semaphore>,
    max_connections: usize,
    state: Arc<State>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    client_truststores: Vec<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("address", &self.address)
            .field("admin_address", &self.admin_address)
            .finish_non_exhaustive()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The server certificate, swapped in whole when it is renewed or replaced.
#[derive(Debug)]
pub(crate) struct ServerCert {
    current: std::sync::RwLock<Arc<CertifiedKey>>,
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

impl Gateway {
    /// Loads the server identity (issuing it with keyway's CA if needed) and what client
    /// certificates are checked against, binds, and starts serving.
    pub async fn start(
        store: Arc<Store>,
        options: GatewayOptions,
    ) -> Result<Gateway, GatewayError> {
        if options.max_header < MIN_HEADER {
            return Err(GatewayError::Setup(format!(
                "the largest request head must be at least {MIN_HEADER} bytes, not {}",
                options.max_header
            )));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (key, chain) =
            server_identity(&store, options.server_keystore.as_deref(), &options.hosts).await?;
        let trust = store.gateway_trust(&options.client_truststores).await?;
        let directory = store.gateway_directory().await?;
        let verifier = Arc::new(ClientVerifier::new(
            Trust::new(trust, &provider)
                .map_err(|e| GatewayError::Tls(keyway_tls::explain::rustls_error(&e)))?,
            provider.clone(),
        ));
        let server_cert = Arc::new(ServerCert {
            current: std::sync::RwLock::new(certified(&key, &chain, &provider)?),
        });
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| GatewayError::Tls(keyway_tls::explain::rustls_error(&e)))?
            .with_client_cert_verifier(verifier.clone())
            .with_cert_resolver(server_cert.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| GatewayError::Io {
                what: format!("listening on {}", options.listen),
                source: e,
            })?;
        let address = local(&listener, options.listen)?;
        let admin = match options.admin {
            Some(at) => Some(TcpListener::bind(at).await.map_err(|e| GatewayError::Io {
                what: format!("listening on {at} (admin)"),
                source: e,
            })?),
            None => None,
        };
        let admin_address = match (&admin, options.admin) {
            (Some(l), Some(at)) => Some(local(l, at)?),
            _ => None,
        };

        let (records, pending) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            store: store.clone(),
            verifier,
            server_cert,
            directory: std::sync::RwLock::new(Arc::new(directory)),
            reload: tokio::sync::Notify::new(),
            connectors: Mutex::new(HashMap::new()),
            records,
            metrics: Metrics::default(),
            max_body: options.max_body,
            ready: AtomicBool::new(true),
            connections: Connections::new(ConnectionLimits {
                total: options.max_connections,
                handshakes: options.max_handshakes,
                per_certificate: options.max_connections_per_client,
                per_address: options.max_connections_per_address,
            }),
            passwords: PasswordGate::new(options.password_checks),
        });
        let (stop, stopped) = watch::channel(false);
        // Every connection task holds one: shutdown waits for all of them to end.
        let max_tasks = options.max_connections + options.max_handshakes.max(1);
        let connections = Arc::new(Semaphore::new(max_tasks));
        let mut tasks = vec![
            tokio::spawn(accept_loop(
                listener,
                acceptor,
                state.clone(),
                options.clone(),
                connections.clone(),
                stopped.clone(),
            )),
            tokio::spawn(reload_loop(
                state.clone(),
                provider.clone(),
                options.clone(),
                stopped.clone(),
            )),
            tokio::spawn(retention_loop(
                store.clone(),
                options.audit_retention,
                stopped.clone(),
            )),
            tokio::spawn(record_loop(store, pending, stopped.clone())),
            tokio::spawn(listen_loop(state.clone(), stopped.clone())),
        ];
        if let Some(admin) = admin {
            let limits = AdminLimits {
                header: options.header_timeout,
                max_header: options.max_header,
            };
            tasks.push(tokio::spawn(admin_loop(
                admin,
                state.clone(),
                limits,
                stopped,
            )));
        }
        Ok(Gateway {
            address,
            admin_address,
            stop,
            tasks,
            connections,
            max_connections: max_tasks,
            state,
            provider,
            client_truststores: options.client_truststores,
        })
    }

    /// Reads the store again now instead of at the next poll (SIGHUP).
    pub fn reload(&self) {
        self.state.reload.notify_one();
    }

    /// Reads users, certificates, trust and integrations from the store and applies
    /// them before returning: for a caller that has just changed them and is about to
    /// use them (the next poll would apply them within [`GatewayOptions::reload_every`]).
    pub async fn refresh(&self) -> Result<(), GatewayError> {
        self.state
            .load(&self.provider, &self.client_truststores)
            .await
    }

    /// Stops accepting, lets requests in flight finish for up to `grace`, and stops.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(grace, self.connections.acquire_many(all)).await;
        // The audit writer flushes what is queued when it sees the stop.
        for task in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(grace, task).await;
        }
    }
}

fn local(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, GatewayError> {
    listener.local_addr().map_err(|e| GatewayError::Io {
        what: format!("listening on {asked}"),
        source: e,
    })
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

/// How long a read or write of the store may take before the gateway gives up on it
/// (and tries again later): a database gone silent holds no task for longer.
pub(crate) const STORE_WITHIN: Duration = Duration::from_secs(5);
