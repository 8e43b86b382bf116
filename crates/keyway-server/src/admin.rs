//! The admin listener: `/healthz`, `/readyz` with the reason when not ready, Prometheus
//! `/metrics`, and every other path handed to the admin API when one is plugged in
//! ([`AdminApi`], keyway-admin's router). Plain HTTP on a loopback address; HTTPS with the
//! gateway's server certificate on any other when the API is on.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::respond::{Body, empty, text};
use crate::state::State;

/// Errors of an admin answer's body.
pub type AdminBodyError = Box<dyn std::error::Error + Send + Sync>;
/// The body of an admin answer.
pub type AdminBody = http_body_util::combinators::UnsyncBoxBody<Bytes, AdminBodyError>;
/// What an [`AdminApi`] handler gives back.
pub type AdminFuture = Pin<Box<dyn Future<Output = Response<AdminBody>> + Send>>;

/// Who is on the other end of an admin connection.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The address it connects from.
    pub address: SocketAddr,
    /// The SHA-256 (lower-case hex, no colons) of the client certificate it presented
    /// over HTTPS, checked in the handshake as the gateway checks one; `None` without.
    pub certificate: Option<String>,
}

/// The admin API plugged into the admin listener: every request outside `/healthz`,
/// `/readyz` and `/metrics`, with who sent it. keyway-server does not know what it
/// serves (keyway-admin, above it, does).
#[derive(Clone)]
pub struct AdminApi(pub Arc<dyn Fn(Request<Incoming>, AdminCaller) -> AdminFuture + Send + Sync>);

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminApi")
    }
}

fn boxed(response: Response<Body>) -> Response<AdminBody> {
    response.map(|body| {
        body.map_err(|e| Box::new(e) as AdminBodyError)
            .boxed_unsync()
    })
}

/// How long the store has to answer before the gateway calls itself not ready.
pub(crate) const READY_WITHIN: Duration = Duration::from_millis(800);

/// The admin listener's limits: the gateway's header timeout and head size.
#[derive(Clone, Copy)]
pub(crate) struct AdminLimits {
    pub header: Duration,
    pub max_header: usize,
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

/// `/healthz`, `/readyz`, `/metrics` and the API, if any, over plain HTTP or, with `tls`,
/// HTTPS.
pub(crate) async fn admin_loop(
    listener: TcpListener,
    state: Arc<State>,
    limits: AdminLimits,
    api: Option<AdminApi>,
    tls: Option<TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        let state = state.clone();
        let api = api.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // Over HTTPS the handshake comes first: it says which certificate, if any.
            let (stream, certificate) = match tls {
                None => (Io::Plain(tcp), None),
                Some(tls) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(limits.header, tls.accept(tcp)).await
                    else {
                        return;
                    };
                    let certificate = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .map(|cert| crate::verifier::fingerprint(cert));
                    (Io::Tls(Box::new(stream)), certificate)
                }
            };
            let caller = AdminCaller {
                address: peer,
                certificate,
            };
            let service = service_fn(move |request: Request<Incoming>| {
                let state = state.clone();
                let api = api.clone();
                let caller = caller.clone();
                async move {
                    let response = match (request.uri().path(), &api) {
                        ("/healthz", _) => boxed(text(StatusCode::OK, "ok\n")),
                        ("/readyz", _) => boxed(readiness(&state).await),
                        ("/metrics", _) => boxed(
                            Response::builder()
                                .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                                .body(
                                    Full::new(Bytes::from(metrics_text(&state)))
                                        .map_err(|never| match never {})
                                        .boxed(),
                                )
                                .unwrap_or_else(|_| Response::new(empty())),
                        ),
                        (_, Some(api)) => (api.0)(request, caller).await,
                        (_, None) => boxed(text(StatusCode::NOT_FOUND, "not found\n")),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            // The gateway's limits: a half-sent request does not keep a connection.
            let mut http = http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header)
                .max_buf_size(limits.max_header);
            let _ = match stream {
                Io::Plain(tcp) => http.serve_connection(TokioIo::new(tcp), service).await,
                Io::Tls(tls) => http.serve_connection(TokioIo::new(tls), service).await,
            };
        });
    }
}

/// An admin connection: plain on loopback, or TLS.
enum Io {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

/// Everything `/metrics` shows.
fn metrics_text(state: &State) -> String {
    let (handshaking, _) = state.connections.sizes();
    state.metrics.text(
        &state.verifier.counts,
        handshaking,
        &state.connections.counts,
        &state.passwords.counts,
    )
}
