//! Who is calling: a login session (cookie + CSRF token on unsafe methods) or an API
//! token (`Authorization: Bearer …`), each acting as its user through the store's
//! [`Context`]; failed logins slow down per user and per address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_store::{ApiSession, Context};
use serde::Deserialize;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::problem::{JsonBody, Problem};
use crate::{AdminState, Peer};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "keyway_session";
/// The header unsafe requests made with the session cookie carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Failures before a name or address has to wait, and the longest wait.
const FREE_FAILURES: u32 = 3;
const LONGEST_WAIT: Duration = Duration::from_secs(300);
/// How many names and addresses the lockout remembers before it forgets the calm ones.
const REMEMBERED: usize = 10_000;

/// An authenticated caller: whose permissions the request acts with.
pub struct Caller {
    /// The store's view of who is acting and from where.
    pub ctx: Context,
    /// The user's name.
    pub user: String,
}

impl FromRequestParts<AdminState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Problem> {
        let origin = origin(parts);
        let store = &state.inner.store;
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    Problem::unauthenticated(
                        "the Authorization header is not `Bearer TOKEN`; make a token with `keyway token create` or POST /api/v1/users/{name}/tokens",
                    )
                })?;
            let user = store
                .token_user(token.trim(), &origin)
                .await?
                .ok_or_else(|| {
                    Problem::unauthenticated(
                        "the token is unknown, revoked or expired, or its user is disabled",
                    )
                })?;
            return Ok(Caller {
                ctx: Context::user(&user, &origin),
                user,
            });
        }
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            // A client certificate the handshake verified: its owner, as at the gateway.
            // A browser presents a certificate the user chose for this site on every
            // request to it, whoever's page sent the request: like a cookie, it is no
            // proof of intent. So it signs in read-only; changes need the CSRF token of a
            // session (`POST /api/v1/login/certificate` opens one).
            let certificate = parts
                .extensions
                .get::<Peer>()
                .and_then(|p| p.certificate.clone());
            if let Some(sha256) = certificate {
                let user = store.certificate_user(&sha256).await?.ok_or_else(|| {
                    Problem::unauthenticated(
                        "the client certificate is no enabled user's (unregistered, revoked or expired): sign in with a password or a token",
                    )
                })?;
                if !is_safe(&parts.method) {
                    return Err(Problem::new(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        "Missing CSRF token",
                        "a change made with a client certificate alone is refused: POST /api/v1/login/certificate opens a session whose csrf_token changes need",
                    ));
                }
                return Ok(Caller {
                    ctx: Context::user(&user, &origin),
                    user,
                });
            }
            return Err(Problem::unauthenticated(
                "sign in (POST /api/v1/login) or send `Authorization: Bearer TOKEN`",
            ));
        };
        let session = store
            .session(&secret, state.inner.policy)
            .await?
            .ok_or_else(|| {
                Problem::unauthenticated(
                    "the session has ended (signed out, idle, or expired); sign in again",
                )
            })?;
        if !is_safe(&parts.method) {
            check_csrf(&parts.headers, &session)?;
        }
        Ok(Caller {
            ctx: Context::user(&session.user, &origin),
            user: session.user,
        })
    }
}

/// How the audit log names where a request came from: `api ADDRESS`.
fn origin(parts: &Parts) -> String {
    match parts.extensions.get::<Peer>() {
        Some(peer) => format!("api {}", peer.address.ip()),
        None => "api".to_string(),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn check_csrf(headers: &HeaderMap, session: &ApiSession) -> Result<(), Problem> {
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if same(given.as_bytes(), session.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Missing CSRF token",
            "a change made with the session cookie needs the X-CSRF-Token header: the csrf_token the login (or GET /api/v1/me) gave",
        ))
    }
}

/// Compares in time that does not depend on where the two differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name`, if the request has it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<Zeroizing<String>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| Zeroizing::new(value.to_string()))
}

/// `POST /api/v1/login`: a user's name and password.
#[derive(Deserialize, ToSchema)]
pub struct Login {
    /// The keyway user.
    pub user: String,
    /// Their password (`keyway user password NAME`).
    pub password: String,
}

/// Signs in: sets the session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` over
/// HTTPS) and answers with the session, whose `csrf_token` every change made with the
/// cookie must carry in `X-CSRF-Token`.
#[utoipa::path(post, path = "/api/v1/login", tag = "session", request_body = Login,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = serde_json::Value),
        (status = 401, description = "Wrong user or password", body = Problem),
        (status = 429, description = "Too many failures: wait Retry-After seconds", body = Problem),
    ))]
pub async fn login(
    State(state): State<AdminState>,
    peer: Option<axum::Extension<Peer>>,
    JsonBody(login): JsonBody<Login>,
) -> Result<Response, Problem> {
    let address = peer.map(|p| p.0.address.ip().to_string());
    let origin = address
        .as_deref()
        .map_or("api".into(), |a| format!("api {a}"));
    let keys = [
        format!("user {}", login.user),
        format!("address {}", address.as_deref().unwrap_or("-")),
    ];
    state.inner.lockout.check(&keys)?;
    let password = Zeroizing::new(login.password);
    let opened = state
        .inner
        .store
        .login(&login.user, &password, &origin, state.inner.policy)
        .await?;
    let Some(opened) = opened else {
        state.inner.lockout.failed(&keys);
        return Err(Problem::unauthenticated(
            "wrong user or password (or the user is disabled or has no password: `keyway user password NAME` sets one)",
        ));
    };
    state.inner.lockout.succeeded(&keys[0]);
    Ok(session_response(&state, &opened))
}

/// The session as JSON, with its cookie set.
fn session_response(state: &AdminState, opened: &keyway_store::OpenedSession) -> Response {
    let mut response = Json(&opened.session).into_response();
    set_session_cookie(state, opened, &mut response);
    response
}

/// Sets the session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS) on `response`.
pub(crate) fn set_session_cookie(
    state: &AdminState,
    opened: &keyway_store::OpenedSession,
    response: &mut Response,
) {
    let mut cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        opened.secret.as_str(),
        state.inner.policy.absolute
    );
    if state.inner.secure_cookies {
        cookie.push_str("; Secure");
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
}

/// The header that clears the session cookie.
pub(crate) const CLEAR_SESSION: &str =
    "keyway_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Signs in with the client certificate presented in the TLS handshake (HTTPS only):
/// its registered owner gets a session, as with a password.
#[utoipa::path(post, path = "/api/v1/login/certificate", tag = "session",
    responses(
        (status = 200, description = "Signed in as the certificate's owner; the session cookie is set", body = serde_json::Value),
        (status = 401, description = "No client certificate, or none of an enabled user (unregistered, revoked, expired)", body = Problem),
    ))]
pub async fn login_certificate(
    State(state): State<AdminState>,
    peer: Option<axum::Extension<Peer>>,
) -> Result<Response, Problem> {
    let Some(axum::Extension(peer)) = peer else {
        return Err(Problem::unauthenticated(
            "no client certificate: this needs HTTPS and a certificate",
        ));
    };
    let Some(sha256) = &peer.certificate else {
        return Err(Problem::unauthenticated(
            "no client certificate was presented (the admin listener asks for one over HTTPS)",
        ));
    };
    let origin = format!("api {}", peer.address.ip());
    let opened = state
        .inner
        .store
        .login_with_certificate(sha256, &origin, state.inner.policy)
        .await?
        .ok_or_else(|| {
            Problem::unauthenticated(
                "the client certificate is no enabled user's (unregistered, revoked or expired)",
            )
        })?;
    Ok(session_response(&state, &opened))
}

/// Signs out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem),
        (status = 403, description = "No CSRF token", body = Problem),
    ))]
pub async fn logout(
    State(state): State<AdminState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state
            .inner
            .store
            .logout(&secret, &caller.ctx.origin)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_SESSION));
    Ok(response)
}

/// Slows down guessing: after [`FREE_FAILURES`] failed logins for a name or from an
/// address, each further attempt waits twice as long as the last (1 s up to 5 min).
#[derive(Default)]
pub(crate) struct Lockout {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Lockout {
    pub(crate) fn check(&self, keys: &[String]) -> Result<(), Problem> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let wait = keys
            .iter()
            .filter_map(|k| failures.get(k))
            .filter_map(|(_, until)| until.checked_duration_since(now))
            .max();
        match wait {
            Some(wait) => {
                let seconds = wait.as_secs() + 1;
                let mut problem = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "locked",
                    "Too many failed sign-ins",
                    format!(
                        "too many failed sign-ins for this user or from this address: try again in {seconds} s"
                    ),
                );
                problem.retry_after = Some(seconds);
                Err(problem)
            }
            None => Ok(()),
        }
    }

    pub(crate) fn failed(&self, keys: &[String]) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if failures.len() >= REMEMBERED {
            failures.retain(|_, (_, until)| *until > now);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert((0, now));
            entry.0 += 1;
            if entry.0 >= FREE_FAILURES {
                let doubling = (entry.0 - FREE_FAILURES).min(16);
                entry.1 = now + Duration::from_secs(1 << doubling).min(LONGEST_WAIT);
            }
        }
    }

    pub(crate) fn succeeded(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_third_failure_starts_a_doubling_wait_that_success_clears() {
        let lockout = Lockout::default();
        let keys = ["user alice".to_string(), "address 10.0.0.7".to_string()];
        lockout.failed(&keys);
        lockout.failed(&keys);
        assert!(lockout.check(&keys).is_ok(), "two failures are free");
        lockout.failed(&keys);
        let problem = lockout.check(&keys).unwrap_err();
        assert_eq!(problem.status, 429);
        assert_eq!(problem.retry_after, Some(1));
        // Another user from the same address waits too.
        let other = ["user bob".to_string(), "address 10.0.0.7".to_string()];
        assert!(lockout.check(&other).is_err());
        // A success clears the user, not the address.
        lockout.succeeded("user alice");
        assert!(lockout.check(&keys[..1]).is_ok());
        assert!(lockout.check(&keys[1..]).is_err());
    }

    #[test]
    fn cookies_are_found_among_others_and_csrf_compares_whole() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; keyway_session=abc; b=2"),
        );
        assert_eq!(
            cookie(&headers, SESSION_COOKIE)
                .as_deref()
                .map(|s| s.as_str()),
            Some("abc")
        );
        assert!(cookie(&headers, "missing").is_none());
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
