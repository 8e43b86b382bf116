//! Forwarding an allowed request to its integration's connector: the body streamed (at
//! most `--max-body`), hop-by-hop headers and the caller's credentials stopped both
//! ways, `X-Forwarded-For` and `X-Keyway-User` added, the partner's answer streamed back.
//! What may go was decided before (`decide.rs`); this only carries it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use keyway_connect::{CallBody, CallRequest};

use crate::decide::{Reason, Refusal, Route};
use crate::respond::Body;
use crate::state::{Peer, State};

/// Sends `request` through the connector of `route`'s integration; the partner's answer,
/// or why there is none.
pub(crate) async fn forward(
    state: &State,
    peer: &Peer,
    route: &Route<'_>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Refusal> {
    let user = route.user.as_str();
    let refuse = |reason| Refusal::new(Some(user), reason);
    let connector = state
        .connector(&route.integration.connector)
        .await
        .map_err(|why| refuse(Reason::partner_unreachable(why)))?;

    let (parts, body) = request.into_parts();
    let declared = declared_length(&parts.headers);
    if declared.is_some_and(|length| length > state.max_body as u64) {
        return Err(refuse(Reason::BodyTooLarge(state.max_body)));
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
        Some(query) => format!("{}?{query}", route.tail),
        None => route.tail.clone(),
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
    if let Ok(value) = HeaderValue::from_str(user) {
        call.headers
            .push((HeaderName::from_static("x-keyway-user"), value));
    }
    call.body = body;
    let sent = connector.send(call).await;
    match fault.map_or(BODY_OK, |fault| fault.load(Ordering::Relaxed)) {
        BODY_TOO_LARGE => return Err(refuse(Reason::BodyTooLarge(state.max_body))),
        BODY_BROKEN => return Err(refuse(Reason::BodyUnreadable)),
        _ => {}
    }
    let answer = sent.map_err(|e| refuse(Reason::partner_unreachable(e.to_string())))?;
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
    Ok(response)
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// What became of a request body streamed to the partner.
const BODY_OK: u8 = 0;
const BODY_TOO_LARGE: u8 = 1;
const BODY_BROKEN: u8 = 2;

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
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}
