//! One client connection: accepted within the connection budget, the TLS handshake
//! (timed, evictable), then requests served until the connection goes idle, when it is
//! parked with only its TLS stream kept (`park.rs`) until the client sends again.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::options::GatewayOptions;
use crate::park::{Activity, Guarded, Tracked};
use crate::request::handle;
use crate::respond::Body;
use crate::state::{Peer, State};
use crate::verifier::fingerprint;

pub(crate) async fn accept_loop(
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
    let handshake = Box::pin(handshake(&acceptor, tcp, timeouts.handshake, &state));
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
    state: &State,
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
                    record_refusal(state, peer, "the client presented no certificate");
                    return None;
                }
                Some(inner @ rustls::Error::InvalidCertificate(_)) => {
                    // The verifier logged the certificate and why; the audit log gets
                    // the refusal too, for the dashboard (repeats count up on one row).
                    let why = keyway_tls::explain::rustls_error(inner);
                    record_refusal(state, peer, &why);
                    why
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
pub(crate) const MIN_HEADER: usize = 8 * 1024;

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

/// A handshake refused for its client certificate, for the audit log: from where and
/// why. Repeats from one address for one reason count up on one row (per
/// [`keyway_store::REPEAT_WINDOW`]), so a scanner's probes cannot flood the log.
fn record_refusal(state: &State, peer: Option<SocketAddr>, why: &str) {
    let from = peer
        .map(|p| p.ip().to_string())
        .unwrap_or_else(|| "-".into());
    let record = keyway_store::GatewayRecord {
        user: None,
        origin: format!("gateway {from}"),
        action: "gateway.handshake".into(),
        object: format!("client at {from}"),
        outcome: keyway_store::AuditOutcome::Refused,
        detail: why.to_string(),
        repeat_key: Some(format!("handshake|{from}|{why}")),
    };
    let _ = state.records.send(crate::record::Pending {
        record,
        written: None,
    });
}
