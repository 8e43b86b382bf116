//! The admin listener (plain HTTP, meant for a private address): `/healthz`, `/readyz`
//! with the reason when not ready, and Prometheus `/metrics`.

use std::convert::Infallible;
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

use crate::respond::{Body, empty, text};
use crate::state::State;

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

/// `/healthz`, `/readyz` and `/metrics` over plain HTTP.
pub(crate) async fn admin_loop(
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
                                Full::new(Bytes::from(metrics_text(&state)))
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
