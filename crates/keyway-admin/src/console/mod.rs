//! The web console: server-rendered pages (maud) on the admin listener at `/`, over the
//! same store operations and permissions as the API, signed in with the API's sessions.
//! No outside script, font or style; every page works with HTML forms alone (one small
//! script of its own, `/console.js`, keeps the connector form's "accepts" line current).
//!
//! - Sign in (`/sign-in`, fields "User" and "Password") opens a session (the API's
//!   cookie); every form that changes something carries the session's CSRF token, and a
//!   POST without it is refused. Sign out ends the session.
//! - Dashboard (`/`): certificates ending within 30 days or ended, connectors failing at
//!   the watch's last check, refused gateway handshakes and requests of the last 24
//!   hours — each section
//!   shown to whom the store lets read it.
//! - Connectors (`/connectors`, `/connectors/NAME`): each with its last check, and **Test
//!   connectivity**: CONNECTED with version, cipher and chain, or the diagnosis code, whose
//!   side the fix is on, the evidence and the steps, in a live region.
//! - The connector form (`form.rs`): Save and Test connectivity on unsaved settings, with
//!   one-click fixes (trust the root the partner sent, lower the lowest version).
//! - Client certificates (`certs.rs`): key pair and CSR, upload, issue, download, revoke.
//! - Users and the audit log (`people.rs`); truststores and keystores (`stores.rs`);
//!   integrations and keyway's CA (`gateway.rs`).
//!
//! A page the user may not use is not linked and answers 404, as the API's other users'
//! objects do.

use axum::Form;
use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use keyway_keystore::CertInfo;
use keyway_store::{AuditOutcome, AuditQuery, Context, Permission, StoreError};
use keyway_tls::TestOutcome;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

mod certs;
mod form;
mod gateway;
mod people;
mod stores;

use crate::auth::{CLEAR_SESSION, SESSION_COOKIE, cookie, same, set_session_cookie};
use crate::{AdminState, Peer};

const STYLE: &str = "
*{box-sizing:border-box}body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1d3557;color:#fff;padding:.6em 1.5em;display:flex;gap:1.5em;align-items:center}
header a{color:#fff}header form{margin-left:auto}main{padding:1.5em;max-width:75em}
h1{font-size:1.4em;margin:.2em 0 .8em}h2{font-size:1.15em;margin-top:1.8em}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#eef1f5}code{font-size:.92em;word-break:break-all}
label{display:block;margin:.6em 0 .2em;font-weight:600}input[type=text],input[type=password]{padding:.4em;width:20em;max-width:100%}
button{padding:.45em 1em;font:inherit;cursor:pointer}
.bad{color:#b00020;font-weight:700}.warn{color:#8a5a00;font-weight:700}.good{color:#1b6e20;font-weight:700}
.result{border-left:5px solid #888;background:#fff;padding:.6em 1em;margin:1em 0}
.result.failed{border-color:#b00020}.result.connected{border-color:#1b6e20}
.error{color:#b00020}
";

/// The console's routes.
pub(crate) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/console.js", get(script))
        .route("/connectors", get(connectors))
        .route("/connectors/new", get(form::new_form))
        .route("/connectors/form", post(form::submit))
        .route("/connectors/{name}/edit", get(form::edit_form))
        .route("/connectors/{name}", get(connector))
        .route("/certificates", get(certs::mine))
        .route("/users", get(people::users).post(people::add))
        .route("/users/{name}/enabled", post(people::enabled))
        .route("/users/{name}/permissions", post(people::permission))
        .route("/audit-log", get(people::audit_log))
        .route(
            "/truststores",
            get(stores::truststores).post(stores::upload_truststore),
        )
        .route(
            "/truststores/{name}/remove-entry",
            post(stores::remove_entry),
        )
        .route(
            "/truststores/{name}/remove",
            post(stores::remove_truststore),
        )
        .route(
            "/keystores",
            get(stores::keystores).post(stores::upload_keystore),
        )
        .route("/keystores/{name}/remove", post(stores::remove_keystore))
        .route(
            "/integrations",
            get(gateway::integrations).post(gateway::add_integration),
        )
        .route("/integrations/remove", post(gateway::remove_integration))
        .route("/ca", get(gateway::ca))
        .route("/ca/root.pem", get(gateway::root_pem))
        .route("/ca/crl", post(gateway::crl))
        .route("/ca/revoke", post(gateway::revoke))
        .route("/crls", get(gateway::crls).post(gateway::import_crl))
        .route("/crls/remove", post(gateway::remove_crl))
        .route("/users/{name}/certificates", get(certs::list))
        .route("/users/{name}/certificates/csr", post(certs::csr))
        .route("/users/{name}/certificates/csr.pem", get(certs::csr_file))
        .route("/users/{name}/certificates/upload", post(certs::upload))
        .route("/users/{name}/certificates/issue", post(certs::issue))
        .route(
            "/users/{name}/certificates/{fingerprint}/download",
            post(certs::download),
        )
        .route(
            "/users/{name}/certificates/{fingerprint}/revoke",
            post(certs::revoke),
        )
        .route("/connectors/{name}/test", post(test_connector))
}

/// The console's one script (progressive enhancement: every page works without it):
/// keeps the connector form's "accepts" line current as the lowest version changes.
const SCRIPT: &str = r#"document.addEventListener('DOMContentLoaded', function () {
  var lowest = document.getElementById('lowest');
  var accepts = document.getElementById('accepts');
  if (!lowest || !accepts) { return; }
  var ladder = LADDER;
  lowest.addEventListener('change', function () {
    accepts.textContent = 'accepts ' + (ladder[lowest.value] || '');
  });
});
"#;

async fn script() -> Response {
    // The ladder the page shows, as the script's map: one table for both.
    let ladder: serde_json::Map<String, serde_json::Value> = form::LADDER
        .iter()
        .map(|(v, a)| (v.to_string(), (*a).into()))
        .collect();
    let text = SCRIPT.replace("LADDER", &serde_json::Value::Object(ladder).to_string());
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response
}

/// A signed-in person: the session's user, its CSRF token, and what the nav may link.
pub(crate) struct Viewer {
    ctx: Context,
    user: String,
    csrf: String,
    permissions: Vec<Permission>,
}

impl Viewer {
    fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

impl FromRequestParts<AdminState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/sign-in").into_response();
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let store = &state.inner.store;
        let session = match store.session(&secret, state.inner.policy).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => return Err(Oops::from(e).into_response()),
        };
        let origin = match parts.extensions.get::<Peer>() {
            Some(peer) => format!("ui {}", peer.address.ip()),
            None => "ui".to_string(),
        };
        let ctx = Context::user(&session.user, &origin);
        let permissions = match store.user(&ctx, &session.user).await {
            Ok(user) => user.permissions,
            Err(e) => return Err(Oops::from(e).into_response()),
        };
        Ok(Viewer {
            ctx,
            user: session.user,
            csrf: session.csrf_token,
            permissions,
        })
    }
}

/// Why a page cannot be shown, as a page.
enum Oops {
    /// Not there, or not the viewer's to see.
    NotFound,
    /// A form without its CSRF token.
    Csrf,
    /// Anything else, said as the store says it.
    Failed(StatusCode, String),
}

impl From<StoreError> for Oops {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Forbidden { .. } | StoreError::NotFound { .. } => Oops::NotFound,
            StoreError::Unavailable { .. } | StoreError::Database { .. } => {
                Oops::Failed(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            other => Oops::Failed(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
        }
    }
}

impl IntoResponse for Oops {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Oops::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such page, or it is not yours to see.".to_string(),
            ),
            Oops::Csrf => (
                StatusCode::FORBIDDEN,
                "Refused",
                "The form did not carry this session's token (it came from another page, or the session changed). Go back, reload, and try again.".to_string(),
            ),
            Oops::Failed(status, text) => (status, "It did not work", text),
        };
        let body = bare(
            title,
            html! { h1 { (title) } p.error { (text) } p { a href="/" { "Dashboard" } } },
        );
        (status, body).into_response()
    }
}

type PageResult = Result<Response, Oops>;

/// `?note=` on a page a change redirects back to.
#[derive(Deserialize, Default)]
struct Note {
    note: Option<String>,
}

/// Back to `path`, saying `note` there.
fn back(path: &str, note: &str) -> Response {
    let encoded: String = form_urlencoded::byte_serialize(note.as_bytes()).collect();
    Redirect::to(&format!("{path}?note={encoded}")).into_response()
}

/// A page with the header (navigation as the viewer may use it, sign out).
fn page(viewer: &Viewer, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — keyway" }
                style { (PreEscaped(STYLE)) }
                script src="/console.js" defer {}
            }
            body {
                header {
                    strong { "keyway" }
                    nav aria-label="Main" {
                        a href="/" { "Dashboard" }
                        " · " a href="/certificates" { "Client certificates" }
                        @if viewer.may(Permission::ManageConnectors) {
                            " · " a href="/connectors" { "Connectors" }
                            " · " a href="/integrations" { "Integrations" }
                        }
                        @if viewer.may(Permission::ManageTrust) {
                            " · " a href="/truststores" { "Truststores" }
                            " · " a href="/keystores" { "Keystores" }
                            " · " a href="/ca" { "CA" }
                            " · " a href="/crls" { "CRLs" }
                        }
                        @if viewer.may(Permission::UserManagement) {
                            " · " a href="/users" { "Users" }
                            " · " a href="/audit-log" { "Audit log" }
                        }
                    }
                    form method="post" action="/sign-out" {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        span { "Signed in as " strong { (viewer.user) } " " }
                        button type="submit" { "Sign out" }
                    }
                }
                main { (body) }
            }
        }
    };
    html_response(markup)
}

/// A page without the header (sign in, errors).
fn bare(title: &str, body: Markup) -> Response {
    html_response(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — keyway" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    })
}

fn html_response(markup: Markup) -> Response {
    let mut response = markup.into_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Nothing from outside, no framing, no script: the pages need none.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn sign_in_form(error: Option<&str>) -> Response {
    bare(
        "Sign in",
        html! {
            h1 { "Sign in to keyway" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/sign-in" {
                label for="user" { "User" }
                input id="user" name="user" type="text" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                p { button type="submit" { "Sign in" } }
            }
        },
    )
}

async fn sign_in_page() -> Response {
    sign_in_form(None)
}

#[derive(Deserialize)]
struct SignIn {
    user: String,
    password: String,
}

async fn sign_in(
    State(state): State<AdminState>,
    peer: Option<axum::Extension<Peer>>,
    Form(form): Form<SignIn>,
) -> Response {
    let address = peer.map(|p| p.0.address.ip().to_string());
    let origin = address
        .as_deref()
        .map_or("ui".into(), |a| format!("ui {a}"));
    let keys = [
        format!("user {}", form.user),
        format!("address {}", address.as_deref().unwrap_or("-")),
    ];
    if let Err(wait) = state.inner.lockout.check(&keys) {
        let mut response = sign_in_form(Some(&wait.detail));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return response;
    }
    let password = Zeroizing::new(form.password);
    match state
        .inner
        .store
        .login(&form.user, &password, &origin, state.inner.policy)
        .await
    {
        Ok(Some(opened)) => {
            state.inner.lockout.succeeded(&keys[0]);
            let mut response = Redirect::to("/").into_response();
            set_session_cookie(&state, &opened, &mut response);
            response
        }
        Ok(None) => {
            state.inner.lockout.failed(&keys);
            let mut response = sign_in_form(Some("Wrong user or password."));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
        Err(e) => Oops::from(e).into_response(),
    }
}

/// A form's CSRF token.
#[derive(Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: String,
}

fn check_csrf(viewer: &Viewer, given: &str) -> Result<(), Oops> {
    if same(given.as_bytes(), viewer.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(Oops::Csrf)
    }
}

async fn sign_out(
    State(state): State<AdminState>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    Form(form): Form<Csrf>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state
            .inner
            .store
            .logout(&secret, &viewer.ctx.origin)
            .await?;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_SESSION));
    Ok(response)
}

/// `2026-12-20` with "ended" or "N days" beside it.
fn days_badge(days: i64) -> Markup {
    html! {
        @if days < 0 {
            span.bad { "ENDED " (-days) " days ago" }
        } @else if days < 30 {
            span.warn { (days) " days left" }
        } @else {
            span.good { (days) " days left" }
        }
    }
}

/// The page a known certificate's holder has.
fn holder_page(kind: &str, holder: &str) -> String {
    match kind {
        "truststore" => format!("/truststores#ts-{holder}"),
        "identity" => format!("/keystores#ks-{holder}"),
        "user" => format!("/users/{holder}/certificates"),
        "partner" => {
            let connector = holder
                .strip_prefix("connector ")
                .and_then(|rest| rest.split(" (").next())
                .unwrap_or(holder);
            format!("/connectors/{connector}")
        }
        _ => "/ca".to_string(),
    }
}

fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// `2026-12-06 09:41 UTC`.
fn minute(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute()))
        .unwrap_or_default()
}

async fn dashboard(State(state): State<AdminState>, viewer: Viewer) -> PageResult {
    let store = &state.inner.store;
    let soon = match store
        .known_certificates(&viewer.ctx, Some(30 * 86_400))
        .await
    {
        Ok(list) => Some(list),
        Err(StoreError::Forbidden { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let failing = match store.last_checks(&viewer.ctx).await {
        Ok(checks) => Some(
            checks
                .into_iter()
                .filter(|c| c.standing == "failing")
                .collect::<Vec<_>>(),
        ),
        Err(StoreError::Forbidden { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let refused = if viewer.may(Permission::UserManagement) {
        let query = AuditQuery {
            since: Some(OffsetDateTime::now_utc().unix_timestamp() - 86_400),
            limit: Some(50),
            action: Some("gateway.".into()),
            outcome: Some(AuditOutcome::Refused),
            ..AuditQuery::default()
        };
        Some(store.audit_log(&viewer.ctx, &query).await?)
    } else {
        None
    };
    let body = html! {
        h1 { "Dashboard" }
        @if let Some(soon) = &soon {
            section aria-labelledby="expiring" {
                h2 id="expiring" { "Certificates ending within 30 days" }
                @if soon.is_empty() {
                    p { "None: every certificate keyway knows has more than 30 days left." }
                } @else {
                    table {
                        thead { tr { th { "Ends" } th { "Certificate" } th { "Kept as" } th { "Used by" } } }
                        tbody { @for c in soon {
                            tr {
                                td { (date(c.not_after)) " " (days_badge(c.days_left)) @if c.revoked { " (revoked)" } }
                                td { (c.subject) br; code { (c.sha256) } }
                                td { a href=(holder_page(c.kind, &c.holder)) { (c.kind) " " (c.holder) } }
                                td { @if c.used_by.is_empty() { "-" } @else { (c.used_by.join(", ")) } }
                            }
                        } }
                    }
                }
            }
        }
        @if let Some(failing) = &failing {
            section aria-labelledby="failing" {
                h2 id="failing" { "Connectors failing at their last check" }
                @if failing.is_empty() {
                    p { "None." }
                } @else {
                    table {
                        thead { tr { th { "Connector" } th { "Cause" } th { "Checked" } } }
                        tbody { @for c in failing {
                            tr {
                                td { a href=(format!("/connectors/{}", c.connector)) { (c.connector) } }
                                td { @if let Some(code) = &c.code { code { (code) } ": " } (c.summary) }
                                td { (date(c.checked_at)) }
                            }
                        } }
                    }
                }
            }
        }
        @if let Some(refused) = &refused {
            section aria-labelledby="refused" {
                h2 id="refused" { "Refused at the gateway (handshakes and requests), last 24 hours" }
                @if refused.is_empty() {
                    p { "None." }
                } @else {
                    table {
                        thead { tr { th { "When" } th { "Who" } th { "What" } th { "Why" } th { "Times" } } }
                        tbody { @for e in refused {
                            tr { td { (date(e.at)) } td { (e.actor) } td { a href=(format!("/audit-log?action={}", e.action)) { (e.object) } } td { (e.detail) } td { (e.count) } }
                        } }
                    }
                }
            }
        }
        @if soon.is_none() && failing.is_none() && refused.is_none() {
            p { "Your account manages your own client certificates; the other pages are for administrators." }
        }
    };
    Ok(page(&viewer, "Dashboard", body))
}

async fn connectors(State(state): State<AdminState>, viewer: Viewer) -> PageResult {
    let store = &state.inner.store;
    let list = store.connectors(&viewer.ctx).await?;
    let checks = store.last_checks(&viewer.ctx).await?;
    let body = html! {
        h1 { "Connectors" }
        p { a href="/connectors/new" { "New connector" } }
        @if list.is_empty() {
            p { "No connectors yet: `keyway connector add` or `keyway config import` adds some." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Kind" } th { "URL" } th { "Last check" } } }
                tbody { @for c in &list {
                    @let last = checks.iter().find(|k| k.connector == c.name);
                    tr {
                        td { a href=(format!("/connectors/{}", c.name)) { (c.name) } }
                        td { (c.definition.kind) }
                        td { code { (c.definition.url) } }
                        td { @match last {
                            Some(k) if k.standing == "failing" => {
                                span.bad { "FAILED" } " " (k.code.as_deref().unwrap_or("")) " · " (date(k.checked_at))
                            },
                            Some(k) => { span.good { "passed" } " · " (date(k.checked_at)) },
                            None => "not checked yet",
                        } }
                    }
                } }
            }
        }
    };
    Ok(page(&viewer, "Connectors", body))
}

async fn connector(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> PageResult {
    connector_page(&state, &viewer, &name, None).await
}

async fn connector_page(
    state: &AdminState,
    viewer: &Viewer,
    name: &str,
    result: Option<Markup>,
) -> PageResult {
    let store = &state.inner.store;
    let stored = store
        .connectors(&viewer.ctx)
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or(Oops::NotFound)?;
    let history = store.connector_checks(&viewer.ctx, name, 10).await?;
    let body = html! {
        p { a href="/connectors" { "← Connectors" } }
        h1 { "Connector " (stored.name) }
        table {
            tbody {
                tr { th scope="row" { "Kind" } td { (stored.definition.kind) } }
                tr { th scope="row" { "URL" } td { code { (stored.definition.url) } } }
                tr { th scope="row" { "Profile" } td { (stored.definition.profile.as_deref().unwrap_or("(none: system roots, TLS 1.2+)")) } }
                tr { th scope="row" { "User" } td { (stored.username.as_deref().unwrap_or("-")) } }
                @if !stored.definition.tags.is_empty() {
                    tr { th scope="row" { "Tags" } td { (stored.definition.tags.join(", ")) } }
                }
            }
        }
        (form::edit_link(&stored.name))
        form method="post" action=(format!("/connectors/{}/test", stored.name)) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            p { button type="submit" { "Test connectivity" } }
        }
        div id="result" role="status" aria-live="polite" {
            @if let Some(result) = result { (result) }
        }
        h2 { "Checks by the watch" }
        @if history.is_empty() {
            p { "Not checked yet (the watch of `keyway serve` checks every connector on its schedule)." }
        } @else {
            table {
                thead { tr { th { "When" } th { "Standing" } th { "Detail" } } }
                tbody { @for k in &history {
                    tr {
                        td { (date(k.checked_at)) }
                        td { @if k.standing == "failing" { span.bad { "failing" } } @else { (k.standing) } }
                        td { @if let Some(code) = &k.code { code { (code) } ": " } (k.summary) }
                    }
                } }
            }
        }
    };
    Ok(page(viewer, &format!("Connector {name}"), body))
}

async fn test_connector(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<Csrf>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let store = &state.inner.store;
    let config = store.connector_config(&viewer.ctx).await?;
    let def = config.connector(&name).map_err(|_| Oops::NotFound)?.clone();
    let result = match keyway_connect::Connector::new(&config, &def) {
        Err(e) => {
            html! { div.result.failed { p.bad { "The connector cannot be built" } p { (e.to_string()) } } }
        }
        Ok(connector) => match keyway_connect::check(&connector).await {
            Err(e) => {
                html! { div.result.failed { p.bad { "The test could not run" } p { (e.to_string()) } } }
            }
            Ok(checked) => check_result(&checked),
        },
    };
    connector_page(&state, &viewer, &name, Some(result)).await
}

fn chain_table(chain: &[CertInfo]) -> Markup {
    let now = OffsetDateTime::now_utc();
    html! {
        table {
            thead { tr { th { "#" } th { "Subject" } th { "Issuer" } th { "Ends" } th { "SHA-256" } } }
            tbody { @for (i, c) in chain.iter().enumerate() {
                tr {
                    td { (i + 1) }
                    td { (c.subject) }
                    td { (c.issuer) }
                    td { (c.not_after.date().to_string()) " " (days_badge((c.not_after - now).whole_days())) }
                    td { code { (c.sha256) } }
                }
            } }
        }
    }
}

/// The proxy a check went through, and whether it opened the tunnel.
fn proxy_line(evidence: &keyway_tls::Evidence) -> Markup {
    let Some(proxy) = &evidence.proxy else {
        return html! {};
    };
    html! {
        p.proxy { "Through the proxy " code { (proxy.proxy) } " (" (proxy.source) "): tunnel "
            @if proxy.tunnel_established { "established" } @else { "not established" }
            @if let Some(answer) = &proxy.answer { ", CONNECT answered " code { (answer) } } }
    }
}

/// The connector check as the result region shows it.
fn check_result(checked: &keyway_connect::ConnectorCheck) -> Markup {
    match &checked.tls {
        TestOutcome::Connected {
            negotiated,
            evidence,
            warnings,
        } => html! {
            div.result.connected {
                p { span.good { "CONNECTED" } " with " (negotiated.version) ", " code { (negotiated.cipher) }
                    " (" (negotiated.backend.to_string()) ")" }
                @if let Some(http) = &checked.http {
                    @match &http.problem {
                        None => p { "HTTP check: " (http.request.to_string()) " " code { (http.url) } " answered "
                            (http.status.map(|s| s.to_string()).unwrap_or_default()) },
                        Some(problem) => p { span.bad { "HTTP check FAILED" } ": " (problem.to_string()) },
                    }
                }
                (proxy_line(evidence))
                @for w in warnings { p.warn { "Warning: " (w) } }
                h3 { "The chain the partner presented" }
                (chain_table(&evidence.server_chain))
            }
        },
        TestOutcome::Failed(d) => html! {
            div.result.failed {
                p { span.bad { "FAILED" } " " code { (d.cause.code()) } " — the fix is on "
                    strong { (d.cause.blame().to_string()) } }
                p { (d.cause.summary()) }
                h3 { "What to do" }
                ol { @for step in d.remediation() { li { (step) } } }
                (proxy_line(&d.evidence))
                @for w in &d.warnings { p.warn { "Warning: " (w) } }
                @if !d.evidence.server_chain.is_empty() {
                    h3 { "The chain the partner presented" }
                    (chain_table(&d.evidence.server_chain))
                }
                @if let Some(probe) = &d.evidence.probe {
                    p { "The partner speaks: " (probe.supported.to_string()) }
                }
                @if d.evidence.client_cert_requested {
                    p { "It asks for a client certificate"
                        @if d.evidence.acceptable_cas.is_empty() { " (any CA)." }
                        @else { " from: " (d.evidence.acceptable_cas.join("; ")) } }
                }
            }
        },
    }
}
