//! One request on an established connection: `/integrations/NAME/…` decided
//! (`decide.rs`), the password checked, forwarded (`forward.rs`), audited and counted;
//! `/whoami` and `/echo` for partners checking their setup; every refusal answered with
//! its status and a body that says no more than the status.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use keyway_store::{AuditOutcome, GatewayRecord};
use zeroize::Zeroizing;

use crate::decide::{Facts, Reason, Refusal, caller, decide, password};
use crate::forward::{declared_length, forward};
use crate::password::Verdict;
use crate::record::{DURABLE_WITHIN, Pending};
use crate::respond::{Body, empty, json, text};
use crate::state::{Peer, State};

pub(crate) async fn handle(
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
    let response = match invoke(&state, &peer, name, tail, request).await {
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
                AuditOutcome::Ok,
                detail,
            );
            response
        }
        Err(refusal) => {
            if refusal.status().is_server_error() {
                tracing::warn!(
                    integration = %crate::decide::shown(name),
                    user = refusal.user.as_deref().unwrap_or("-"),
                    certificate = %peer.fingerprint,
                    correlation_id = refusal.correlation_id().unwrap_or("-"),
                    "answered {}: {}",
                    refusal.status().as_u16(),
                    match &refusal.reason {
                        Reason::PartnerUnreachable { why, .. } => why.clone(),
                        _ => refusal.to_string(),
                    }
                );
            }
            audit_refusal(&state, &peer, ("gateway.invoke", object), &refusal).await;
            refusal_response(&refusal)
        }
    };
    state
        .metrics
        .count(label, response.status(), started.elapsed());
    Ok(response)
}

/// The metric label of every request for an integration that does not exist.
const UNKNOWN_INTEGRATION: &str = "(unknown)";

/// `/integrations/NAME…`: decided, the password checked, forwarded. `Ok` carries the user
/// and the partner's answer.
async fn invoke(
    state: &State,
    peer: &Peer,
    name: &str,
    tail: &str,
    request: Request<Incoming>,
) -> Result<(String, Response<Body>), Refusal> {
    let directory = state.directory();
    let facts = Facts {
        fingerprint: &peer.fingerprint,
        integration: name,
        tail,
        headers: request.headers(),
    };
    // A use of the certificate whenever it maps to a user, refused or not.
    let route = decide(&facts, &directory).inspect_err(|refusal| {
        if refusal.user.is_some() {
            state.uses.note(&peer.fingerprint);
        }
    })?;
    state.uses.note(&peer.fingerprint);
    if let Some(password) = &route.password {
        verify(state, peer, &route.user, password).await?;
    }
    let response = forward(state, peer, &route, request).await?;
    Ok((route.user, response))
}

/// Checks `password` for `user` through the password gate (bounded, locked out after
/// repeated failures).
async fn verify(
    state: &State,
    peer: &Peer,
    user: &str,
    password: &Zeroizing<String>,
) -> Result<(), Refusal> {
    let reason = match state
        .passwords
        .check(&state.store, user, password, &peer.fingerprint)
        .await
    {
        Verdict::Verified => return Ok(()),
        Verdict::Wrong => Reason::WrongPassword,
        Verdict::LockedOut(wait) => Reason::LockedOut(wait.as_secs() + 1),
        Verdict::Busy => Reason::Busy,
        Verdict::Unavailable(why) => Reason::Unavailable(why),
    };
    Err(Refusal::new(Some(user), reason))
}

/// The user of a registered certificate, with the password checked when one was sent:
/// what `/whoami` and `/echo` need. `None`: an unregistered (or disabled, or revoked)
/// certificate, answered with the generic 403 and not audited.
async fn checked_user(
    state: &State,
    peer: &Peer,
    headers: &HeaderMap,
) -> Option<Result<String, Refusal>> {
    let user = match caller(&state.directory(), &peer.fingerprint) {
        Ok(owner) => owner.user.clone(),
        Err(_) => return None,
    };
    state.uses.note(&peer.fingerprint);
    let checked = match password(headers, &user) {
        Ok(Some(password)) => verify(state, peer, &user, &password).await,
        Ok(None) => Ok(()),
        Err(refusal) => Err(refusal),
    };
    Some(checked.map(|()| user))
}

/// `/whoami`: the user the client certificate maps to and the integrations they may
/// call; what a partner checks first. An unregistered certificate gets the generic 403.
async fn whoami(state: &State, peer: &Peer, headers: &HeaderMap) -> Response<Body> {
    let user = match checked_user(state, peer, headers).await {
        None => return text(StatusCode::FORBIDDEN, "forbidden\n"),
        Some(Err(refusal)) => return refused(state, peer, "/whoami", &refusal).await,
        Some(Ok(user)) => user,
    };
    let directory = state.directory();
    let mut may_invoke: Vec<&str> = directory
        .integrations
        .keys()
        .filter(|name| directory.may_invoke(&user, name).is_ok())
        .map(String::as_str)
        .collect();
    may_invoke.sort();
    json(&serde_json::json!({
        "user": user,
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
    let user = match checked_user(state, peer, request.headers()).await {
        None => return text(StatusCode::FORBIDDEN, "forbidden\n"),
        Some(Err(refusal)) => return refused(state, peer, "/echo", &refusal).await,
        Some(Ok(user)) => user,
    };
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
async fn refused(state: &State, peer: &Peer, endpoint: &str, refusal: &Refusal) -> Response<Body> {
    audit_refusal(
        state,
        peer,
        ("gateway.request", endpoint.to_string()),
        refusal,
    )
    .await;
    refusal_response(refusal)
}

/// Writes a refusal to the audit log and waits (at most [`DURABLE_WITHIN`]) until it is
/// written. Repeats of it (same certificate, action, object and status) count up on one
/// row.
async fn audit_refusal(
    state: &State,
    peer: &Peer,
    (action, object): (&str, String),
    refusal: &Refusal,
) {
    let status = refusal.status().as_u16();
    let detail = format!(
        "certificate {} from {}: {status} ({refusal})",
        peer.fingerprint,
        peer.ip(),
    );
    let outcome = if refusal.status().is_server_error() {
        AuditOutcome::Failed
    } else {
        AuditOutcome::Refused
    };
    let repeat = format!("{} {action} {object} {status}", peer.fingerprint);
    let written = record_durably(
        state,
        refusal.user.clone(),
        peer,
        (action, object),
        outcome,
        detail,
        repeat,
    );
    let _ = tokio::time::timeout(DURABLE_WITHIN, written).await;
}

fn refusal_response(refusal: &Refusal) -> Response<Body> {
    let mut response = refusal_body(refusal);
    if let Some(seconds) = refusal.reason.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn refusal_body(refusal: &Refusal) -> Response<Body> {
    match refusal.status() {
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
            // The correlation id is all the caller gets.
            let id = refusal.correlation_id().unwrap_or_default();
            Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header("x-keyway-correlation-id", id)
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

/// An answered request for the audit log: queued, written with the next batch.
fn record(
    state: &State,
    user: Option<String>,
    peer: &Peer,
    action: &str,
    object: String,
    outcome: AuditOutcome,
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
    outcome: AuditOutcome,
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
