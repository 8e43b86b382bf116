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

use keyway_store::Store;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::GatewayError;
use crate::admin::{AdminLimits, admin_loop};
use crate::connection::{MIN_HEADER, accept_loop};
use crate::identity::{ServerCert, certified, server_identity};
use crate::limits::{ConnectionLimits, Connections};
use crate::metrics::Metrics;
use crate::options::GatewayOptions;
use crate::password::PasswordGate;
use crate::record::{record_loop, retention_loop};
use crate::reload::{listen_loop, reload_loop};
use crate::state::State;
use crate::verifier::{ClientVerifier, Optional, Trust};

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
        // The admin listener's HTTPS: its own certificate when one is named (read now, so
        // a missing one stops the start); else the gateway's, renewed with it.
        let admin_cert = match &options.admin_keystore {
            Some(name) => {
                let (key, chain) = server_identity(&store, Some(name), &options.hosts).await?;
                Arc::new(ServerCert {
                    current: std::sync::RwLock::new(certified(&key, &chain, &provider)?),
                })
            }
            None => server_cert.clone(),
        };
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
            verifier: verifier.clone(),
            server_cert: server_cert.clone(),
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
            uses: Arc::default(),
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
            tokio::spawn(crate::uses::uses_loop(
                store.clone(),
                state.uses.clone(),
                options.node.clone(),
                stopped.clone(),
            )),
            tokio::spawn(record_loop(state.clone(), pending, stopped.clone())),
            tokio::spawn(listen_loop(state.clone(), stopped.clone())),
        ];
        if let Some(watch) = options.watch.clone() {
            tasks.push(tokio::spawn(crate::watch::watch_loop(
                state.clone(),
                watch,
                stopped.clone(),
            )));
        }
        if let Some(admin) = admin {
            let limits = AdminLimits {
                header: options.header_timeout,
                max_header: options.max_header,
            };
            // The API off loopback: HTTPS only, with the gateway's own certificate.
            // Never plain HTTP off loopback (sign-ins, tokens, metrics): HTTPS there.
            let tls = match admin_address {
                Some(at) if options.admin_https || !at.ip().is_loopback() => {
                    let resolver = admin_cert.clone();
                    let mut config = ServerConfig::builder_with_provider(provider.clone())
                        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                        .map_err(|e| GatewayError::Tls(keyway_tls::explain::rustls_error(&e)))?
                        .with_client_cert_verifier(Arc::new(Optional(verifier.clone())))
                        .with_cert_resolver(resolver);
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    Some(TlsAcceptor::from(Arc::new(config)))
                }
                _ => None,
            };
            tasks.push(tokio::spawn(admin_loop(
                admin,
                state.clone(),
                limits,
                options.admin_api.clone(),
                tls,
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
