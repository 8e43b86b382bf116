//! keyway's control plane: the admin REST API under `/api/v1/`, served on the admin
//! listener beside `/healthz`, `/readyz` and `/metrics`, with its OpenAPI 3.1 document
//! at `/api/v1/openapi.json` (committed as `docs/openapi.json`).
//!
//! [`app`] is an axum [`Router`]: each endpoint reads its request, calls one operation of
//! keyway-store (or keyway-connect's connector check) as the caller, and answers with the
//! same JSON the CLI's `--json` prints. Callers sign in with a keyway user's name and
//! password (`POST /api/v1/login` → a session cookie, and a CSRF token for every change)
//! or send an API token (`Authorization: Bearer kwt_…`). Errors are RFC 9457
//! `application/problem+json`; objects carry their version as `ETag`, and `If-Match`
//! makes a change conditional.
//!
//! The same router serves the web console at `/` (`console.rs`): server-rendered pages
//! (maud) over the same operations, signed in with the same sessions, every change a
//! form carrying the session's CSRF token.
//!
//! What it leaves to others: every permission check is keyway-store's (this crate has
//! none of its own); listening, TLS and the health endpoints are keyway-server's, which
//! hands this router every other request on the admin listener with the caller's
//! address as a [`Peer`] extension.

mod auth;
mod certs;
mod config;
mod connectors;
mod console;
mod fleet;
mod integrations;
mod pki;
mod problem;
mod routes;
mod tools;
mod trust;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use keyway_store::{SessionPolicy, Store};
use utoipa::OpenApi;

pub use auth::{CSRF_HEADER, SESSION_COOKIE};
pub use problem::Problem;

/// The largest request body the API reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// Who is on the other end, which whoever serves the router puts in each request's
/// extensions: the address (the audit log names it as the origin) and, over HTTPS, the
/// client certificate the handshake verified (a sign-in of its own).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The caller's address.
    pub address: SocketAddr,
    /// The SHA-256 (lower-case hex, no colons) of its client certificate, if it sent one.
    pub certificate: Option<String>,
}

/// What the endpoints share: the store, the session policy, whether cookies are
/// `Secure`, and the failed-login counts.
#[derive(Clone)]
pub struct AdminState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    policy: SessionPolicy,
    secure_cookies: bool,
    lockout: auth::Lockout,
}

impl AdminState {
    /// The API over `store`, with the default session policy (30 minutes idle, 12 hours
    /// at most) and cookies marked `Secure` when `https`.
    pub fn new(store: Arc<Store>, https: bool) -> Self {
        Self::with_policy(store, https, SessionPolicy::default())
    }

    /// The same with another session policy.
    pub fn with_policy(store: Arc<Store>, https: bool, policy: SessionPolicy) -> Self {
        AdminState {
            inner: Arc::new(Inner {
                store,
                policy,
                secure_cookies: https,
                lockout: auth::Lockout::default(),
            }),
        }
    }
}

/// The API's routes over `state`.
pub fn app(state: AdminState) -> Router {
    use routes as r;
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/login/certificate", post(auth::login_certificate))
        .route("/api/v1/logout", post(auth::logout))
        .route("/api/v1/me", get(r::me))
        .route("/api/v1/users", get(r::users).post(r::add_user))
        .route("/api/v1/users/{name}", get(r::user).patch(r::change_user))
        .route(
            "/api/v1/users/{name}/permissions/{permission}",
            put(r::grant).delete(r::revoke_permission),
        )
        .route(
            "/api/v1/users/{name}/certificates",
            get(r::certificates).post(certs::upload),
        )
        .route("/api/v1/users/{name}/certificates/csr", post(certs::csr))
        .route(
            "/api/v1/users/{name}/certificates/issue",
            post(certs::issue),
        )
        .route(
            "/api/v1/users/{name}/certificates/{fingerprint}",
            get(certs::show),
        )
        .route(
            "/api/v1/users/{name}/certificates/{fingerprint}/download",
            post(certs::download),
        )
        .route(
            "/api/v1/users/{name}/certificates/{fingerprint}/revoke",
            post(certs::revoke),
        )
        .route(
            "/api/v1/users/{name}/tokens",
            get(r::tokens).post(r::create_token),
        )
        .route(
            "/api/v1/users/{name}/tokens/{token}",
            axum::routing::delete(r::revoke_token),
        )
        .route(
            "/api/v1/truststores",
            get(trust::truststores).post(trust::add_truststore),
        )
        .route(
            "/api/v1/truststores/{name}",
            get(trust::truststore)
                .put(trust::replace_truststore)
                .delete(trust::remove_truststore),
        )
        .route(
            "/api/v1/identities",
            get(trust::identities).post(trust::add_identity),
        )
        .route(
            "/api/v1/identities/{name}",
            get(trust::identity)
                .put(trust::replace_identity)
                .delete(trust::remove_identity),
        )
        .route(
            "/api/v1/connectors",
            get(connectors::list).post(connectors::add),
        )
        .route(
            "/api/v1/connectors/{name}",
            get(connectors::show)
                .put(connectors::replace)
                .delete(connectors::remove),
        )
        .route("/api/v1/connectors/{name}/test", post(connectors::test))
        .route(
            "/api/v1/profiles",
            get(connectors::profiles).post(connectors::add_profile),
        )
        .route(
            "/api/v1/profiles/{name}",
            put(connectors::replace_profile).delete(connectors::remove_profile),
        )
        .route(
            "/api/v1/integrations",
            get(integrations::list).post(integrations::add),
        )
        .route(
            "/api/v1/integrations/{name}",
            put(integrations::replace).delete(integrations::remove),
        )
        .route("/api/v1/ca", get(pki::ca))
        .route("/api/v1/expiry", get(pki::expiry))
        .route("/api/v1/ca/issued", get(pki::issued))
        .route("/api/v1/ca/issue", post(pki::issue))
        .route("/api/v1/ca/revoke", post(pki::revoke))
        .route("/api/v1/ca/crl", post(pki::crl))
        .route("/api/v1/crls", get(pki::crls).post(pki::import_crl))
        .route(
            "/api/v1/crls/{issuer}",
            axum::routing::delete(pki::remove_crl),
        )
        .route("/api/v1/config/import", post(config::import))
        .route("/api/v1/audit-log", get(r::audit_log))
        .route("/api/v1/test", post(tools::test))
        .route("/api/v1/probe", post(tools::probe))
        .route("/api/v1/audit", post(fleet::run))
        .route("/api/v1/checks", get(fleet::latest))
        .route("/api/v1/connectors/{name}/checks", get(fleet::history))
        .merge(console::routes())
        .fallback(|request: Request| async move {
            Problem::no_route(request.uri().path()).into_response()
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyway admin API",
        description = "Every store operation of keyway over HTTPS, with the CLI's permissions and JSON. Sign in with POST /api/v1/login (a session cookie; send its csrf_token as X-CSRF-Token on changes) or send `Authorization: Bearer TOKEN`."
    ),
    paths(
        auth::login,
        auth::login_certificate,
        auth::logout,
        routes::me,
        routes::users,
        routes::add_user,
        routes::user,
        routes::change_user,
        routes::grant,
        routes::revoke_permission,
        routes::certificates,
        routes::tokens,
        routes::create_token,
        routes::revoke_token,
        trust::truststores,
        trust::truststore,
        trust::add_truststore,
        trust::replace_truststore,
        trust::remove_truststore,
        trust::identities,
        trust::identity,
        trust::add_identity,
        trust::replace_identity,
        trust::remove_identity,
        connectors::list,
        connectors::show,
        connectors::add,
        connectors::replace,
        connectors::remove,
        connectors::test,
        connectors::profiles,
        connectors::add_profile,
        connectors::replace_profile,
        connectors::remove_profile,
        routes::audit_log,
        config::import,
        integrations::list,
        integrations::add,
        integrations::replace,
        integrations::remove,
        pki::ca,
        pki::expiry,
        pki::issued,
        pki::issue,
        pki::revoke,
        pki::crl,
        pki::crls,
        pki::import_crl,
        pki::remove_crl,
        tools::test,
        tools::probe,
        fleet::run,
        fleet::latest,
        fleet::history,
    ),
    components(schemas(Problem)),
    modifiers(&Problems)
)]
struct ApiDoc;

/// Every error answer is an RFC 9457 problem: each operation's documented error statuses
/// are served as `application/problem+json`, and any other status it may give (401 when
/// not signed in, 404 for another user's account, 412, 413, 422, 429, …) is its
/// `default` answer, a problem too.
struct Problems;

impl utoipa::Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = || {
            RefOr::from(
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                for (status, response) in responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if status.starts_with('4') || status.starts_with('5') {
                        response.content.shift_remove("application/json");
                        response
                            .content
                            .insert("application/problem+json".into(), problem());
                    }
                }
                responses.entry("default".into()).or_insert_with(|| {
                    ResponseBuilder::new()
                        .description("An error, as an RFC 9457 problem: not signed in (401), not permitted (403), not found (404, also another user's account), changed since read (412), too large (413), invalid (422, naming the field), too many failed sign-ins (429), the store unavailable (503)")
                        .content("application/problem+json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
                        .build()
                        .into()
                });
            }
        }
    }
}

/// The OpenAPI 3.1 document, as served at `/api/v1/openapi.json`.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}

async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_json(),
    )
}
