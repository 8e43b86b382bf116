//! The accept loop, the per-request decisions and the forwarding through connectors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use keyway_connect::{CallBody, CallRequest, Connector};
use keyway_store::{
    CertificateOwner, Context, GatewayDirectory, GatewayRecord, Integration, Outcome, Permission,
    Retention, Store,
};
use rustls::ServerConfig;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

use crate::GatewayError;
use crate::identity::server_identity;
use crate::limits::{ConnectionLimits, Connections};
use crate::park::{Activity, Guarded, Tracked};
use crate::password::{PasswordGate, PasswordLimits, Verdict};
use crate::path::normalize_tail;
use crate::verifier::{ClientVerifier, Trust, fingerprint};

type Body = BoxBody<Bytes, hyper::Error>;

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

/// Who holds which certificate, who may invoke what, which integrations exist: read
/// from the store at start and whenever it changes, so a request needs no query.
#[derive(Default)]
struct Directory {
    certificates: HashMap<String, CertificateOwner>,
    /// Enabled, and the integrations the user may invoke.
    users: HashMap<String, (bool, HashSet<String>)>,
    integrations: HashMap<String, Integration>,
}

impl Directory {
    fn from(found: GatewayDirectory) -> Directory {
        Directory {
            certificates: found.certificates,
            users: found
                .users
                .into_iter()
                .map(|u| {
                    let invokes = u
                        .permissions
                        .iter()
                        .filter_map(|p| match p {
                            Permission::Invoke(name) => Some(name.clone()),
                            _ => None,
                        })
                        .collect();
                    (u.name, (u.enabled, invokes))
                })
                .collect(),
            integrations: found
                .integrations
                .into_iter()
                .map(|i| (i.name.clone(), i))
                .collect(),
        }
    }
}

/// The server certificate, swapped in whole when it is renewed or replaced.
#[derive(Debug)]
struct ServerCert {
    current: std::sync::RwLock<Arc<CertifiedKey>>,
}

impl ServerCert {
    fn get(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, key: Arc<CertifiedKey>) {
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

fn certified(
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

/// Requests by integration and status, and handshakes, for `/metrics`.
#[derive(Default)]
struct Metrics {
    /// Counts by integration, then status.
    requests: std::sync::Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    latency: std::sync::Mutex<BTreeMap<String, Histogram>>,
    /// Handshakes that failed or timed out (no certificate, refused, a client gone).
    handshake_failures: std::sync::atomic::AtomicU64,
    /// Connections past their handshake, and how many of them are parked (idle).
    open: std::sync::atomic::AtomicI64,
    parked: std::sync::atomic::AtomicI64,
    /// Days left of the earliest certificates, by kind (server, CA, client).
    expiry_days: std::sync::Mutex<BTreeMap<&'static str, i64>>,
}

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A Prometheus histogram: counts per bucket (cumulative when printed), sum, count.
#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

struct State {
    store: Arc<Store>,
    verifier: Arc<ClientVerifier>,
    server_cert: Arc<ServerCert>,
    directory: std::sync::RwLock<Arc<Directory>>,
    reload: tokio::sync::Notify,
    connectors: Mutex<HashMap<String, Arc<Connector>>>,
    records: mpsc::UnboundedSender<Pending>,
    metrics: Metrics,
    max_body: usize,
    ready: AtomicBool,
    connections: Arc<Connections>,
    passwords: PasswordGate,
}

/// Who is on the other end of a connection (shared by its requests).
struct Peer {
    fingerprint: String,
    /// The caller's IP address as text, written once per connection: it goes into
    /// every request's X-Forwarded-For and audit record.
    ip: HeaderValue,
    /// `gateway IP`: the audit records' origin.
    origin: String,
}

impl Peer {
    fn new(address: SocketAddr, fingerprint: String) -> Peer {
        let ip = address.ip().to_string();
        Peer {
            fingerprint,
            origin: format!("gateway {ip}"),
            // An IP address is always a valid header value.
            ip: HeaderValue::try_from(ip).unwrap_or(HeaderValue::from_static("unknown")),
        }
    }

    fn ip(&self) -> &str {
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
        let directory = Directory::from(store.gateway_directory().await?);
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

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    options: GatewayOptions,
    connections: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let (tcp, address) = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        // Handshakes beyond their budget push out the oldest, and established
        // connections over theirs close idle ones, so a task ends soon when all are
        // taken; a connection that still finds none within a second is closed.
        let permit =
            match tokio::time::timeout(Duration::from_secs(1), connections.clone().acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => return,
                Err(_) => {
                    state
                        .connections
                        .counts
                        .refused
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
        let (acceptor, state, stopped) = (acceptor.clone(), state.clone(), stopped.clone());
        let timeouts = Timeouts {
            handshake: options.handshake_timeout,
            header: options.header_timeout,
            idle: options.idle_timeout,
            max_header: options.max_header,
        };
        // Spawned as it is: wrapped in another async block, the future would be stored
        // twice in the task (once captured, once awaited).
        tokio::spawn(serve_connection(
            tcp, address, acceptor, state, timeouts, stopped, permit,
        ));
    }
}

/// The limits one connection needs (not the whole options: they are kept per
/// connection).
#[derive(Clone, Copy)]
struct Timeouts {
    handshake: Duration,
    header: Duration,
    idle: Duration,
    max_header: usize,
}

async fn serve_connection(
    tcp: TcpStream,
    address: SocketAddr,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    timeouts: Timeouts,
    mut stopped: watch::Receiver<bool>,
    // Held until the connection ends: one of --max-connections.
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    // Small writes (session tickets, then the answer) must not wait for the client's
    // delayed ACK (Nagle): that alone caps a connection at ~25 exchanges a second.
    let _ = tcp.set_nodelay(true);
    // A client that never finishes its handshake is dropped at the timeout. Boxed, and
    // its result boxed too, so the handshake's state is not kept in the task of every
    // parked connection.
    let slot = state.connections.handshake();
    let handshake = Box::pin(handshake(&acceptor, tcp, timeouts.handshake));
    let shaken = tokio::select! {
        shaken = handshake => shaken,
        // The handshake budget is full and this is the oldest: make room.
        _ = slot.evicted() => None,
    };
    drop(slot);
    let Some(mut tls) = shaken else {
        state
            .metrics
            .handshake_failures
            .fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(fingerprint) = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|cert| fingerprint(cert))
    else {
        return;
    };
    let Some(admitted) = state.connections.admit(&fingerprint, address.ip()) else {
        // Over this client's share (or all taken) and nothing idle to close for it.
        let _ = tls.shutdown().await;
        return;
    };
    let peer = Arc::new(Peer::new(address, fingerprint));
    let _open = Gauge::up(&state.metrics.open);
    // Between requests the connection is parked: only the TLS stream is kept, and hyper
    // is made again when the client sends its next bytes (see park.rs).
    let mut leftover = Bytes::new();
    // When the client began a request it has not finished (bytes kept while parked).
    let mut partial_since: Option<tokio::time::Instant> = None;
    loop {
        let deadline = match partial_since {
            Some(since) => since + timeouts.header,
            None => tokio::time::Instant::now() + timeouts.idle,
        };
        let mut next = [0u8; 64];
        let parked = Gauge::up(&state.metrics.parked);
        admitted.set_idle(true);
        tokio::select! {
            read = tls.read(&mut next) => match read {
                Ok(n) if n > 0 => {
                    leftover = if leftover.is_empty() {
                        Bytes::copy_from_slice(&next[..n])
                    } else {
                        Bytes::from([leftover.as_ref(), &next[..n]].concat())
                    };
                }
                // The client closed, or the connection broke.
                _ => return,
            },
            _ = tokio::time::sleep_until(deadline) => {
                let _ = tls.shutdown().await;
                return;
            }
            _ = stopped.changed() => {
                let _ = tls.shutdown().await;
                return;
            }
            // Closed to make room for a new connection (see limits.rs).
            _ = admitted.evicted() => {
                let _ = tls.shutdown().await;
                return;
            }
        }
        admitted.set_idle(false);
        drop(parked);
        // Boxed: what serving needs is allocated while it runs, not while parked.
        let serving = Box::pin(serve_until_idle(
            &mut tls,
            std::mem::take(&mut leftover),
            &state,
            &peer,
            timeouts,
            &mut stopped,
        ));
        let Some(unread) = serving.await else {
            let _ = tls.shutdown().await;
            return;
        };
        leftover = unread;
        partial_since = match (leftover.is_empty(), partial_since) {
            (true, _) => None,
            (false, Some(since)) => Some(since),
            (false, None) => Some(tokio::time::Instant::now()),
        };
    }
}

/// The TLS handshake, within `timeout`. A failure is logged (at debug: without a
/// client certificate or with one the verifier refused and logged already, every
/// scanner's probe would otherwise fill the log).
async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    timeout: Duration,
) -> Option<Box<tokio_rustls::server::TlsStream<TcpStream>>> {
    let peer = tcp.peer_addr().ok();
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(Box::new(tls)),
        Ok(Err(e)) => {
            let why = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(rustls::Error::NoCertificatesPresented) => {
                    tracing::info!(
                        from = %peer.map(|p| p.ip().to_string()).unwrap_or_default(),
                        "refused a handshake: the client presented no certificate"
                    );
                    return None;
                }
                Some(inner) => keyway_tls::explain::rustls_error(inner),
                None => e.to_string(),
            };
            tracing::debug!(
                from = %peer.map(|p| p.ip().to_string()).unwrap_or_default(),
                "handshake failed: {why}"
            );
            None
        }
        Err(_) => {
            tracing::debug!(
                from = %peer.map(|p| p.ip().to_string()).unwrap_or_default(),
                "handshake not finished within {} ms",
                timeout.as_millis()
            );
            None
        }
    }
}

/// Serves requests on `tls` (after `prefix`, bytes read while parked) until the
/// connection goes idle, then hands back what hyper read and did not use yet (the start
/// of the next request). `None`: the connection is done (closed, broken, or stopped).
async fn serve_until_idle(
    tls: &mut tokio_rustls::server::TlsStream<TcpStream>,
    prefix: Bytes,
    state: &Arc<State>,
    peer: &Arc<Peer>,
    timeouts: Timeouts,
    stopped: &mut watch::Receiver<bool>,
) -> Option<Bytes> {
    let activity = Arc::new(Activity::default());
    let service = {
        let (state, peer, activity) = (state.clone(), peer.clone(), activity.clone());
        service_fn(move |request| {
            let guard = activity.enter();
            let (state, peer) = (state.clone(), peer.clone());
            Box::pin(async move {
                let response = handle(state, peer, request).await?;
                Ok::<_, Infallible>(response.map(|body| {
                    Guarded {
                        body,
                        _guard: guard,
                    }
                    .boxed()
                }))
            })
                as Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>
        })
    };
    let io = Tracked {
        stream: tls,
        prefix,
        activity: activity.clone(),
    };
    let mut connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header)
        .max_buf_size(timeouts.max_header)
        .serve_connection(TokioIo::new(io), service);
    // Polls hyper; Ready when the connection ended (true) or, with `until_idle`, when it
    // has gone idle (false), without it, when it is busy again (false).
    macro_rules! drive {
        ($until_idle:expr) => {
            std::future::poll_fn(|cx| match connection.poll_without_shutdown(cx) {
                Poll::Ready(_) => Poll::Ready(true),
                Poll::Pending if activity.idle() == $until_idle => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            })
        };
    }
    let stop = loop {
        let ended = tokio::select! {
            ended = drive!(true) => ended,
            _ = stopped.changed() => break true,
        };
        if ended {
            break false;
        }
        // Idle: parked only when no new request comes within LINGER, so a client sending
        // request after request keeps its buffers.
        tokio::select! {
            ended = drive!(false) => if ended { break false },
            _ = tokio::time::sleep(LINGER) => {
                let unread = connection.into_parts().read_buf;
                // Copied: the bytes hyper hands back keep its whole read buffer alive.
                return Some(if unread.is_empty() {
                    Bytes::new()
                } else {
                    Bytes::copy_from_slice(&unread)
                });
            }
            _ = stopped.changed() => break true,
        }
    };
    if stop {
        // Requests in flight finish; then the connection closes.
        Pin::new(&mut connection).graceful_shutdown();
        let _ = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)).await;
    }
    None
}

/// The smallest head limit hyper takes.
const MIN_HEADER: usize = 8 * 1024;

/// How long a connection stays idle before it is parked: long enough for a client
/// sending request after request to keep its buffers, short enough that few
/// connections hold them at once (a burst of new connections would otherwise leave the
/// process's heap as large as all their buffers together).
const LINGER: Duration = Duration::from_millis(10);

/// One unit of a gauge while it lives.
struct Gauge<'a>(&'a std::sync::atomic::AtomicI64);

impl<'a> Gauge<'a> {
    fn up(gauge: &'a std::sync::atomic::AtomicI64) -> Gauge<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        Gauge(gauge)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Polls the store's stamp; on a change, swaps in the new trust and forgets the
/// connectors (rebuilt on their next use).
async fn reload_loop(
    state: Arc<State>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    options: GatewayOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let mut last = state.store.gateway_stamp().await.ok();
    let mut renewal_checked = std::time::Instant::now();
    state.refresh_expiry().await;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(options.reload_every) => {}
            _ = state.reload.notified() => last = None,
        }
        // A store that hangs (a database gone without a word) is as unready as one that
        // answers with an error.
        let Ok(Ok(stamp)) = tokio::time::timeout(READY_WITHIN, state.store.gateway_stamp()).await
        else {
            state.ready.store(false, Ordering::Relaxed);
            continue;
        };
        // The server certificate: replaced in the store (another node renewed it, an
        // administrator changed it) or due for renewal (checked hourly).
        if Some(stamp) != last || renewal_checked.elapsed() > Duration::from_secs(3600) {
            renewal_checked = std::time::Instant::now();
            let keystore = options.server_keystore.as_deref();
            if let Ok((key, chain)) = server_identity(&state.store, keystore, &options.hosts).await
            {
                let current = state.server_cert.get();
                let same = current
                    .cert
                    .first()
                    .zip(chain.first())
                    .is_some_and(|(a, b)| a.as_ref() == b.der());
                if !same && let Ok(new) = certified(&key, &chain, &provider) {
                    state.server_cert.set(new);
                }
            }
            state.refresh_expiry().await;
        }
        if Some(stamp) == last {
            state.ready.store(true, Ordering::Relaxed);
            continue;
        }
        let loaded = tokio::time::timeout(
            STORE_WITHIN,
            state.load(&provider, &options.client_truststores),
        )
        .await;
        match loaded.unwrap_or_else(|_| Err(GatewayError::Setup("the store did not answer".into())))
        {
            Ok(()) => {
                state.ready.store(true, Ordering::Relaxed);
                last = Some(stamp);
            }
            Err(_) => state.ready.store(false, Ordering::Relaxed),
        }
    }
}

/// On PostgreSQL, wakes the reload loop whenever any node commits a change, so changes
/// apply in milliseconds; polling stays as the safety net when the listening connection
/// is lost.
async fn listen_loop(state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    loop {
        match state.store.changes().await {
            Ok(Some(mut changes)) => loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    next = changes.next() => match next {
                        Ok(_) => state.reload.notify_one(),
                        Err(_) => break,
                    },
                }
            },
            // SQLite: one process writes, polling sees everything.
            Ok(None) => return,
            Err(_) => {}
        }
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Applies the audit retention at start and then hourly, as the local administrator
/// from `gateway`: every pruning is an `audit.prune` entry naming what went.
async fn retention_loop(
    store: Arc<Store>,
    retention: Retention,
    mut stopped: watch::Receiver<bool>,
) {
    if retention.keep_days.is_none() && retention.max_rows.is_none() {
        return;
    }
    let ctx = Context {
        origin: "gateway".into(),
        ..Context::local_admin()
    };
    loop {
        // Failures (the store away) are tried again at the next hour.
        let _ = tokio::time::timeout(
            Duration::from_secs(600),
            store.apply_retention(&ctx, retention),
        )
        .await;
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// A decision on its way to the audit log; `written` is told once it is (refusals wait
/// for that before they are answered).
struct Pending {
    record: GatewayRecord,
    written: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How long a refusal waits for its audit record to be written before it is answered
/// anyway (the record is then written when the store allows).
const DURABLE_WITHIN: Duration = Duration::from_secs(1);

/// Writes decisions to the audit log in batches (one transaction each). Answered
/// requests do not wait for the disk: a crash loses at most the last batch interval
/// (50 ms) of them. Refusals are written before they are answered, at once.
async fn record_loop(
    store: Arc<Store>,
    mut pending: mpsc::UnboundedReceiver<Pending>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    loop {
        let stopping = tokio::select! {
            _ = stopped.changed() => true,
            received = pending.recv() => match received {
                Some(p) => {
                    batch.push(p.record);
                    waiting.extend(p.written);
                    false
                }
                None => true,
            },
        };
        while let Ok(p) = pending.try_recv() {
            batch.push(p.record);
            waiting.extend(p.written);
        }
        // Refusals are waiting on this write: no pause after it.
        let urgent = !waiting.is_empty();
        // A database gone silent must not hold the writer: the batch stays and is tried
        // again.
        let written = !batch.is_empty()
            && matches!(
                tokio::time::timeout(STORE_WITHIN, store.record_gateway(&batch)).await,
                Ok(Ok(_))
            );
        if written {
            batch.clear();
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
        // While the database cannot be written, keep at most this many (the oldest go;
        // refusals waiting on them are let go too).
        const KEPT: usize = 100_000;
        if batch.len() > KEPT {
            batch.drain(..batch.len() - KEPT);
            waiting.clear();
        }
        if stopping {
            return;
        }
        if !urgent || !written {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(
            Full::new(Bytes::from_static(body.as_bytes()))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap_or_else(|_| Response::new(empty()))
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// What a refused or failed request gets, and what is recorded about it.
struct Refusal {
    status: StatusCode,
    reason: String,
    /// Seconds a 429 or 503 asks the caller to wait.
    retry_after: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            reason: reason.into(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

async fn handle(
    state: Arc<State>,
    peer: Arc<Peer>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = std::time::Instant::now();
    // TRACE would reflect the caller's credentials back; CONNECT makes a tunnel. Neither
    // is for an integration.
    if request.method() == http::Method::TRACE || request.method() == http::Method::CONNECT {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        return Ok(response);
    }
    let path = request.uri().path().to_string();
    if path == "/whoami" {
        return Ok(whoami(&state, &peer, request.headers()).await);
    }
    if path == "/echo" || path.starts_with("/echo/") {
        return Ok(echo(&state, &peer, request).await);
    }
    let Some(rest) = path.strip_prefix("/integrations/") else {
        return Ok(text(StatusCode::NOT_FOUND, "not found\n"));
    };
    // The name, and the rest of the path from its slash on.
    let (name, tail) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    // Metric labels and audit objects name only integrations that exist: a caller
    // choosing names must not grow /metrics or the audit log with them.
    let known = state.directory().integrations.contains_key(name);
    let label = if known { name } else { UNKNOWN_INTEGRATION };
    let object = if known {
        format!("integration {name}")
    } else {
        // The name goes into the refusal's detail, shortened: one object for all the
        // names a caller makes up, so their repeats count up on one audit row.
        "integration (unknown)".to_string()
    };
    let response = match decide_and_forward(&state, &peer, name, tail, request).await {
        Ok((user, response)) => {
            let detail = format!(
                "certificate {} from {}: {}",
                peer.fingerprint,
                peer.ip(),
                response.status()
            );
            record(
                &state,
                Some(user),
                &peer,
                "gateway.invoke",
                object,
                Outcome::Ok,
                detail,
            );
            response
        }
        Err((user, refusal)) => {
            let outcome = if refusal.status.is_server_error() {
                Outcome::Failed
            } else {
                Outcome::Refused
            };
            if refusal.status.is_server_error() {
                // The reason of a 502 starts with its correlation id, the one the caller got.
                let (id, why) = match refusal.reason.split_once(": ") {
                    Some((id, why)) if refusal.status == StatusCode::BAD_GATEWAY => (id, why),
                    _ => ("-", refusal.reason.as_str()),
                };
                tracing::warn!(
                    integration = %shown(name),
                    user = user.as_deref().unwrap_or("-"),
                    certificate = %peer.fingerprint,
                    correlation_id = id,
                    "answered {}: {why}",
                    refusal.status.as_u16()
                );
            }
            let detail = format!(
                "certificate {} from {}: {} ({})",
                peer.fingerprint,
                peer.ip(),
                refusal.status.as_u16(),
                refusal.reason
            );
            let repeat = format!(
                "{} gateway.invoke {object} {}",
                peer.fingerprint,
                refusal.status.as_u16()
            );
            let written = record_durably(
                &state,
                user,
                &peer,
                ("gateway.invoke", object),
                outcome,
                detail,
                repeat,
            );
            let _ = tokio::time::timeout(DURABLE_WITHIN, written).await;
            refusal_response(&refusal)
        }
    };
    state.count(label, response.status(), started.elapsed());
    Ok(response)
}

/// The metric label of every request for an integration that does not exist.
const UNKNOWN_INTEGRATION: &str = "(unknown)";

/// A name a caller chose, fit for the audit log: control characters escaped, at most
/// 100 characters.
fn shown(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(100)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if name.chars().nth(100).is_some() {
        out.push('…');
    }
    out
}

/// What the caller's `Authorization` header says about their password.
enum Credentials {
    /// None was sent.
    Absent,
    /// Basic credentials of the certificate's user, checked.
    Verified,
}

/// Checks an `Authorization` header against `user` (the certificate's): absent is
/// fine, Basic must carry that user's password, anything else is a bad request.
async fn authenticate(
    state: &State,
    peer: &Peer,
    headers: &HeaderMap,
    user: &str,
) -> Result<Credentials, Refusal> {
    let (given, password) = match basic_auth(headers) {
        BasicAuth::Absent => return Ok(Credentials::Absent),
        BasicAuth::Malformed(why) => return Err(Refusal::new(StatusCode::BAD_REQUEST, why)),
        BasicAuth::Given(given, password) => (given, password),
    };
    if given != user {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "basic auth as \"{}\" does not match the certificate's user",
                shown(&given)
            ),
        ));
    }
    match state
        .passwords
        .check(&state.store, user, &password, &peer.fingerprint)
        .await
    {
        Verdict::Verified => Ok(Credentials::Verified),
        Verdict::Wrong => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            format!("wrong password for {user}"),
        )),
        Verdict::LockedOut(wait) => Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many wrong passwords for {user} or this certificate: locked out for {} s",
                wait.as_secs() + 1
            ),
        )
        .retry_after(wait.as_secs() + 1)),
        Verdict::Busy => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many password checks at once",
        )
        .retry_after(1)),
        Verdict::Unavailable(why) => Err(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, why)),
    }
}

/// The owner of the peer's certificate, when it is registered, not revoked and the user
/// is enabled.
fn registered<'d>(directory: &'d Directory, peer: &Peer) -> Option<&'d CertificateOwner> {
    directory
        .certificates
        .get(&peer.fingerprint)
        .filter(|owner| owner.user_enabled && owner.revoked.is_none())
}

/// `/whoami`: the user the client certificate maps to and the integrations they may
/// call; what a partner checks first. An unregistered certificate gets the generic 403.
async fn whoami(state: &State, peer: &Peer, headers: &HeaderMap) -> Response<Body> {
    let directory = state.directory();
    let Some(owner) = registered(&directory, peer) else {
        return text(StatusCode::FORBIDDEN, "forbidden\n");
    };
    if let Err(refusal) = authenticate(state, peer, headers, &owner.user).await {
        return refused(state, peer, &owner.user, "/whoami", &refusal).await;
    }
    let mut may_invoke: Vec<&String> = directory
        .users
        .get(&owner.user)
        .map(|(_, invokes)| invokes.iter().collect())
        .unwrap_or_default();
    may_invoke.sort();
    json(&serde_json::json!({
        "user": owner.user,
        "certificate_sha256": keyway_keystore::colon_hex(&peer.fingerprint),
        "may_invoke": may_invoke,
    }))
}

/// The most of a body `/echo` reads.
const ECHO_BODY: usize = 64 * 1024;

/// `/echo/…`: what the request looked like on arrival (method, path, query, headers
/// without credentials, body), for a registered certificate: the partner behind the
/// sample integration `keyway serve` sets up, and a check of what a proxy in front of
/// keyway passes on.
async fn echo(state: &State, peer: &Peer, request: Request<Incoming>) -> Response<Body> {
    let user = {
        let directory = state.directory();
        match registered(&directory, peer) {
            Some(owner) => owner.user.clone(),
            None => return text(StatusCode::FORBIDDEN, "forbidden\n"),
        }
    };
    if let Err(refusal) = authenticate(state, peer, request.headers(), &user).await {
        return refused(state, peer, &user, "/echo", &refusal).await;
    }
    // Refused before the body is read, so a client waiting for 100 Continue gets the
    // 413 instead.
    if declared_length(request.headers()).is_some_and(|n| n > ECHO_BODY as u64) {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, ECHO_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
    };
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        if name == header::AUTHORIZATION || name == header::COOKIE {
            continue;
        }
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        headers.insert(name.to_string(), values.join(", ").into());
    }
    json(&serde_json::json!({
        "echo": "keyway",
        "user": user,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

/// A refusal on `/whoami` or `/echo`: audited (written before the answer), answered.
async fn refused(
    state: &State,
    peer: &Peer,
    user: &str,
    endpoint: &str,
    refusal: &Refusal,
) -> Response<Body> {
    let detail = format!(
        "certificate {} from {}: {} ({})",
        peer.fingerprint,
        peer.ip(),
        refusal.status.as_u16(),
        refusal.reason
    );
    let outcome = if refusal.status.is_server_error() {
        Outcome::Failed
    } else {
        Outcome::Refused
    };
    let repeat = format!(
        "{} gateway.request {endpoint} {}",
        peer.fingerprint,
        refusal.status.as_u16()
    );
    let written = record_durably(
        state,
        Some(user.to_string()),
        peer,
        ("gateway.request", endpoint.to_string()),
        outcome,
        detail,
        repeat,
    );
    let _ = tokio::time::timeout(DURABLE_WITHIN, written).await;
    refusal_response(refusal)
}

fn json(value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(
            Full::new(Bytes::from(value.to_string() + "\n"))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap_or_else(|_| Response::new(empty()))
}

fn refusal_response(refusal: &Refusal) -> Response<Body> {
    let mut response = refusal_body(refusal);
    if let Some(seconds) = refusal.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn refusal_body(refusal: &Refusal) -> Response<Body> {
    match refusal.status {
        StatusCode::UNAUTHORIZED => {
            let mut response = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keyway\""),
            );
            response
        }
        StatusCode::FORBIDDEN => text(StatusCode::FORBIDDEN, "forbidden\n"),
        StatusCode::NOT_FOUND => text(StatusCode::NOT_FOUND, "not found\n"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
        }
        StatusCode::BAD_GATEWAY => {
            // The reason starts with the correlation id, which is all the caller gets.
            let id = refusal
                .reason
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string();
            Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header("x-keyway-correlation-id", id.as_str())
                .body(
                    Full::new(Bytes::from(format!(
                        "the partner could not be reached; correlation id {id}\n"
                    )))
                    .map_err(|never| match never {})
                    .boxed(),
                )
                .unwrap_or_else(|_| Response::new(empty()))
        }
        StatusCode::BAD_REQUEST => text(StatusCode::BAD_REQUEST, "bad request\n"),
        StatusCode::TOO_MANY_REQUESTS => {
            text(StatusCode::TOO_MANY_REQUESTS, "too many failed attempts\n")
        }
        _ => text(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n"),
    }
}

/// Who is calling, whether they may, and the partner's answer. `Err` carries the user
/// (when known) and why not.
async fn decide_and_forward(
    state: &State,
    peer: &Peer,
    name: &str,
    tail: &str,
    request: Request<Incoming>,
) -> Result<(String, Response<Body>), (Option<String>, Refusal)> {
    let directory = state.directory();
    let owner = directory
        .certificates
        .get(&peer.fingerprint)
        .ok_or_else(|| {
            (
                None,
                Refusal::new(
                    StatusCode::FORBIDDEN,
                    "the certificate is not registered to any user",
                ),
            )
        })?;
    let user = owner.user.clone();
    let refuse = |status, reason: String| (Some(user.clone()), Refusal::new(status, reason));
    if !owner.user_enabled {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!("user {user} is disabled"),
        ));
    }
    if owner.revoked.is_some() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "the certificate is revoked".into(),
        ));
    }
    let Some(integration) = directory.integrations.get(name) else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            format!("no integration {}", shown(name)),
        ));
    };
    // Before anything costs: a path that climbs out of the connector's base path, plain
    // or encoded, never reaches a connector.
    let tail =
        normalize_tail(tail).map_err(|why| refuse(StatusCode::BAD_REQUEST, why.reason().into()))?;
    let credentials = authenticate(state, peer, request.headers(), &user)
        .await
        .map_err(|refusal| (Some(user.clone()), refusal))?;
    if matches!(credentials, Credentials::Absent) && integration.require_password {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "the integration requires the user's password too".into(),
        ));
    }
    let allowed = directory
        .users
        .get(&user)
        .is_some_and(|(enabled, invokes)| *enabled && invokes.contains(&integration.name));
    if !allowed {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!("user {user} lacks invoke:{}", integration.name),
        ));
    }
    let connector = state
        .connector(&integration.connector)
        .await
        .map_err(|reason| (Some(user.clone()), bad_gateway(reason)))?;

    let (parts, body) = request.into_parts();
    let declared = declared_length(&parts.headers);
    if declared.is_some_and(|length| length > state.max_body as u64) {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {} bytes", state.max_body),
        ));
    }
    // Streamed to the partner as it arrives. A body without a length that runs over
    // the limit is cut off and the caller gets 413; one the caller breaks off or
    // garbles gets 400; in both cases not the partner's answer to half a body. No body
    // (a GET, say): nothing to stream or watch.
    let (body, fault) = if hyper::body::Body::is_end_stream(&body) {
        (CallBody::default(), None)
    } else {
        let fault = Arc::new(AtomicU8::new(BODY_OK));
        let seen = fault.clone();
        let body = Limited::new(body, state.max_body).map_err(move |e| {
            let kind = if e.is::<http_body_util::LengthLimitError>() {
                BODY_TOO_LARGE
            } else {
                BODY_BROKEN
            };
            seen.store(kind, Ordering::Relaxed);
            e
        });
        (CallBody::stream(body), Some(fault))
    };
    let target = match parts.uri.query() {
        Some(query) => format!("{tail}?{query}"),
        None => tail.to_string(),
    };
    let mut call = CallRequest::new(parts.method.clone(), target);
    let hop_by_hop = connection_options(&parts.headers);
    for (name, value) in &parts.headers {
        if forwarded(name) && name != X_FORWARDED_FOR && !hop_by_hop.contains(name) {
            call.headers.push((name.clone(), value.clone()));
        }
    }
    // The caller's address is appended to what earlier proxies said, as nginx's
    // $proxy_add_x_forwarded_for does: the last entry is the one keyway vouches for.
    let mut hops: Vec<&str> = parts
        .headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let forwarded_for = if hops.is_empty() {
        Some(peer.ip.clone())
    } else {
        hops.push(peer.ip());
        HeaderValue::try_from(hops.join(", ")).ok()
    };
    if let Some(value) = forwarded_for {
        call.headers.push((X_FORWARDED_FOR, value));
    }
    if let Ok(value) = HeaderValue::from_str(&user) {
        call.headers
            .push((HeaderName::from_static("x-keyway-user"), value));
    }
    call.body = body;
    let sent = connector.send(call).await;
    match fault.map_or(BODY_OK, |fault| fault.load(Ordering::Relaxed)) {
        BODY_TOO_LARGE => {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {} bytes", state.max_body),
            ));
        }
        BODY_BROKEN => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "the request body could not be read".into(),
            ));
        }
        _ => {}
    }
    let answer = sent.map_err(|e| (Some(user.clone()), bad_gateway(e.to_string())))?;
    // The partner's headers are passed on as they are, minus the ones that stop here
    // (looked for among the few it sent, not the other way round).
    let mut headers = answer.headers;
    let hop_by_hop = connection_options(&headers);
    let stopped: Vec<HeaderName> = headers
        .keys()
        .filter(|n| !forwarded(n) || hop_by_hop.contains(n))
        .cloned()
        .collect();
    for name in stopped {
        headers.remove(name);
    }
    let mut response = Response::new(answer.body.boxed());
    *response.status_mut() = answer.status;
    *response.headers_mut() = headers;
    Ok((user, response))
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// What became of a request body streamed to the partner.
const BODY_OK: u8 = 0;
const BODY_TOO_LARGE: u8 = 1;
const BODY_BROKEN: u8 = 2;

/// A 502 whose reason starts with a fresh correlation id.
fn bad_gateway(reason: String) -> Refusal {
    let mut id = [0u8; 8];
    let _ = getrandom::fill(&mut id);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    Refusal::new(StatusCode::BAD_GATEWAY, format!("{id}: {reason}"))
}

/// Whether a header travels between caller and partner: not the hop-by-hop ones, not
/// the caller's credentials for keyway, not the lengths hyper sets itself.
fn forwarded(name: &HeaderName) -> bool {
    !NOT_FORWARDED.contains(&name.as_str())
}

const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
    "x-keyway-user",
];

/// The header names a `Connection` header lists: hop-by-hop for this connection only
/// (RFC 9110 §7.6.1), so never passed on.
fn connection_options(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect()
}

/// The request's Content-Length, when it gives one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// What an `Authorization` header holds.
enum BasicAuth {
    Absent,
    /// Not Basic credentials keyway can read: why.
    Malformed(&'static str),
    Given(String, Zeroizing<String>),
}

fn basic_auth(headers: &HeaderMap) -> BasicAuth {
    use base64ct::Encoding;
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return BasicAuth::Absent;
    };
    if values.next().is_some() {
        return BasicAuth::Malformed("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return BasicAuth::Malformed("an Authorization header that is not text");
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return BasicAuth::Malformed("an Authorization header without credentials");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return BasicAuth::Malformed("an Authorization scheme other than Basic");
    }
    let Ok(decoded) = base64ct::Base64::decode_vec(encoded.trim()) else {
        return BasicAuth::Malformed("Basic credentials that are not base64");
    };
    let decoded = Zeroizing::new(decoded);
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return BasicAuth::Malformed("Basic credentials that are not UTF-8");
    };
    let Some((user, password)) = text.split_once(':') else {
        return BasicAuth::Malformed("Basic credentials without a colon");
    };
    BasicAuth::Given(user.to_string(), Zeroizing::new(password.to_string()))
}

fn record(
    state: &State,
    user: Option<String>,
    peer: &Peer,
    action: &str,
    object: String,
    outcome: Outcome,
    detail: String,
) {
    let record = GatewayRecord {
        user,
        origin: peer.origin.clone(),
        action: action.into(),
        object,
        outcome,
        detail,
        repeat_key: None,
    };
    let _ = state.records.send(Pending {
        record,
        written: None,
    });
}

/// A refusal for the audit log: the receiver completes once it is written. Repeats of
/// it (the same `repeat` key: certificate, action, object, status) count up on one row.
fn record_durably(
    state: &State,
    user: Option<String>,
    peer: &Peer,
    (action, object): (&str, String),
    outcome: Outcome,
    detail: String,
    repeat: String,
) -> tokio::sync::oneshot::Receiver<()> {
    let (done, written) = tokio::sync::oneshot::channel();
    let record = GatewayRecord {
        user,
        origin: peer.origin.clone(),
        action: action.into(),
        object,
        outcome,
        detail,
        repeat_key: Some(repeat),
    };
    let _ = state.records.send(Pending {
        record,
        written: Some(done),
    });
    written
}

impl State {
    /// Reads trust and the directory from the store and swaps them in; connectors are
    /// rebuilt on their next use.
    async fn load(
        &self,
        provider: &Arc<rustls::crypto::CryptoProvider>,
        client_truststores: &[String],
    ) -> Result<(), GatewayError> {
        let trust = self.store.gateway_trust(client_truststores).await?;
        let directory = self.store.gateway_directory().await?;
        let trust = Trust::new(trust, provider)
            .map_err(|e| GatewayError::Tls(keyway_tls::explain::rustls_error(&e)))?;
        self.verifier.replace(trust);
        self.set_directory(Directory::from(directory));
        // A password may have changed: check each again once.
        self.passwords.forget_verified();
        self.connectors.lock().await.clear();
        Ok(())
    }

    fn directory(&self) -> Arc<Directory> {
        match self.directory.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_directory(&self, directory: Directory) {
        let directory = Arc::new(directory);
        match self.directory.write() {
            Ok(mut current) => *current = directory,
            Err(poisoned) => *poisoned.into_inner() = directory,
        }
    }

    /// The connector `name`, built from the store on first use after a change.
    async fn connector(&self, name: &str) -> Result<Arc<Connector>, String> {
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

    fn count(&self, integration: &str, status: StatusCode, took: Duration) {
        // The names are copied only the first time they are seen.
        if let Ok(mut requests) = self.metrics.requests.lock() {
            let by_status = match requests.get_mut(integration) {
                Some(by_status) => by_status,
                None => requests.entry(integration.to_string()).or_default(),
            };
            *by_status.entry(status.as_u16()).or_default() += 1;
        }
        if let Ok(mut latency) = self.metrics.latency.lock() {
            match latency.get_mut(integration) {
                Some(histogram) => histogram.observe(took.as_secs_f64()),
                None => {
                    let mut histogram = Histogram::default();
                    histogram.observe(took.as_secs_f64());
                    latency.insert(integration.to_string(), histogram);
                }
            }
        }
    }

    fn metrics_text(&self) -> String {
        let counts = &self.verifier.counts;
        let mut out = String::from(
            "# HELP keyway_handshakes_total Client handshakes by outcome.\n# TYPE keyway_handshakes_total counter\n",
        );
        for (outcome, value) in [
            ("accepted", &counts.accepted),
            ("revoked", &counts.revoked),
            ("expired", &counts.expired),
            ("untrusted", &counts.untrusted),
        ] {
            out.push_str(&format!(
                "keyway_handshakes_total{{outcome=\"{outcome}\"}} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP keyway_requests_total Requests by integration and status.\n# TYPE keyway_requests_total counter\n");
        if let Ok(requests) = self.metrics.requests.lock() {
            let counts = requests.iter().flat_map(|(integration, by_status)| {
                by_status
                    .iter()
                    .map(move |(status, count)| (integration, status, count))
            });
            for (integration, status, count) in counts {
                out.push_str(&format!(
                    "keyway_requests_total{{integration=\"{integration}\",status=\"{status}\"}} {count}\n"
                ));
            }
        }
        out.push_str("# HELP keyway_request_seconds Time to answer, by integration.\n# TYPE keyway_request_seconds histogram\n");
        if let Ok(latency) = self.metrics.latency.lock() {
            for (integration, histogram) in latency.iter() {
                let mut cumulative = 0;
                for (le, count) in BUCKETS.iter().zip(histogram.buckets) {
                    cumulative += count;
                    out.push_str(&format!(
                        "keyway_request_seconds_bucket{{integration=\"{integration}\",le=\"{le}\"}} {cumulative}\n"
                    ));
                }
                out.push_str(&format!(
                    "keyway_request_seconds_bucket{{integration=\"{integration}\",le=\"+Inf\"}} {0}\nkeyway_request_seconds_count{{integration=\"{integration}\"}} {0}\nkeyway_request_seconds_sum{{integration=\"{integration}\"}} {1}\n",
                    histogram.count, histogram.sum
                ));
            }
        }
        out.push_str(&format!(
            "# HELP keyway_handshake_failures_total Handshakes that failed or timed out.\n# TYPE keyway_handshake_failures_total counter\nkeyway_handshake_failures_total {}\n",
            self.metrics.handshake_failures.load(Ordering::Relaxed)
        ));
        let (handshaking, _) = self.connections.sizes();
        out.push_str(&format!(
            "# HELP keyway_connections Client connections: in their handshake, past it (open), and parked between requests.\n# TYPE keyway_connections gauge\nkeyway_connections{{state=\"handshake\"}} {handshaking}\nkeyway_connections{{state=\"open\"}} {}\nkeyway_connections{{state=\"parked\"}} {}\n",
            self.metrics.open.load(Ordering::Relaxed),
            self.metrics.parked.load(Ordering::Relaxed)
        ));
        let limits = &self.connections.counts;
        out.push_str("# HELP keyway_connections_closed_total Connections closed to make room: the oldest handshake, an idle connection of a client over its share, an idle connection when all were taken; refused: nothing idle could make room.\n# TYPE keyway_connections_closed_total counter\n");
        for (reason, value) in [
            ("handshake_budget", &limits.handshake_evicted),
            ("client_share", &limits.share_evicted),
            ("full", &limits.full_evicted),
            ("refused", &limits.refused),
        ] {
            out.push_str(&format!(
                "keyway_connections_closed_total{{reason=\"{reason}\"}} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        let checks = &self.passwords.counts;
        out.push_str("# HELP keyway_password_checks_total Basic-auth password checks by outcome (remembered: verified earlier, no hashing; locked_out and busy: refused without hashing).\n# TYPE keyway_password_checks_total counter\n");
        for (outcome, value) in [
            ("verified", &checks.verified),
            ("remembered", &checks.remembered),
            ("wrong", &checks.wrong),
            ("locked_out", &checks.locked_out),
            ("busy", &checks.busy),
        ] {
            out.push_str(&format!(
                "keyway_password_checks_total{{outcome=\"{outcome}\"}} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP keyway_certificate_expiry_days Days until the earliest certificate of each kind ends.\n# TYPE keyway_certificate_expiry_days gauge\n");
        if let Ok(days) = self.metrics.expiry_days.lock() {
            for (kind, days) in days.iter() {
                out.push_str(&format!(
                    "keyway_certificate_expiry_days{{kind=\"{kind}\"}} {days}\n"
                ));
            }
        }
        out
    }

    /// Days left of the server certificate, keyway's CA and the earliest client
    /// certificate in use.
    async fn refresh_expiry(&self) {
        let now = time::OffsetDateTime::now_utc();
        let days = |end: time::OffsetDateTime| (end - now).whole_days();
        let mut found = BTreeMap::new();
        if let Some(leaf) = self.server_cert.get().cert.first()
            && let Ok(cert) = keyway_keystore::Certificate::from_der(leaf.to_vec(), "server")
        {
            found.insert("server", days(cert.info().not_after));
        }
        if let Ok(Some(ca)) = self.store.ca().await {
            found.insert("ca", days(ca.issuing().info().not_after));
        }
        if let Ok(Some(end)) = self.store.earliest_client_expiry().await {
            found.insert("client", (end - now.unix_timestamp()) / 86_400);
        }
        if let Ok(mut current) = self.metrics.expiry_days.lock() {
            *current = found;
        }
    }
}

/// How long a read or write of the store may take before the gateway gives up on it
/// (and tries again later): a database gone silent holds no task for longer.
pub(crate) const STORE_WITHIN: Duration = Duration::from_secs(5);

/// How long the store has to answer before the gateway calls itself not ready.
const READY_WITHIN: Duration = Duration::from_millis(800);

/// The admin listener's limits: the gateway's header timeout and head size.
#[derive(Clone, Copy)]
struct AdminLimits {
    header: Duration,
    max_header: usize,
}

/// `/readyz`: whether the store answers now (within [`READY_WITHIN`]) and the last reload
/// applied; the reason when not.
async fn readiness(state: &State) -> Response<Body> {
    let check = tokio::time::timeout(READY_WITHIN, state.store.gateway_stamp()).await;
    let problem = match check {
        Ok(Ok(_)) if state.ready.load(Ordering::Relaxed) => return text(StatusCode::OK, "ready\n"),
        Ok(Ok(_)) => "the last change in the store could not be applied".to_string(),
        Ok(Err(e)) => format!("the store cannot be read: {e}"),
        Err(_) => format!(
            "the store did not answer within {} ms",
            READY_WITHIN.as_millis()
        ),
    };
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(
            Full::new(Bytes::from(format!(
                "not ready: {problem} (requests are served from what was last read)\n"
            )))
            .map_err(|never| match never {})
            .boxed(),
        )
        .unwrap_or_else(|_| Response::new(empty()))
}

/// `/healthz`, `/readyz` and `/metrics` over plain HTTP.
async fn admin_loop(
    listener: TcpListener,
    state: Arc<State>,
    limits: AdminLimits,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let tcp = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => continue,
            },
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let state = state.clone();
                async move {
                    let response = match request.uri().path() {
                        "/healthz" => text(StatusCode::OK, "ok\n"),
                        "/readyz" => readiness(&state).await,
                        "/metrics" => Response::builder()
                            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                            .body(
                                Full::new(Bytes::from(state.metrics_text()))
                                    .map_err(|never| match never {})
                                    .boxed(),
                            )
                            .unwrap_or_else(|_| Response::new(empty())),
                        _ => text(StatusCode::NOT_FOUND, "not found\n"),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            // The gateway's limits: a half-sent request does not keep a connection.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header)
                .max_buf_size(limits.max_header)
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}
