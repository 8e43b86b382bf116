//! The endpoints: each reads its request, calls one store or connector operation as the
//! caller, and answers with that operation's `--json` body. No permission check here:
//! the store makes every one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_store::{AuditQuery, NewUser, Permission};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use zeroize::Zeroizing;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem, QueryParams};

pub(crate) type Answer = Result<Response, Problem>;

/// `201 Created` with `body` as JSON and, when given, where the new object is.
pub(crate) fn created(body: &impl Serialize, location: Option<String>) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `body` as JSON with its version as the `ETag`.
pub(crate) fn versioned(body: &impl Serialize, version: i64) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// The version an `If-Match: "N"` asks for: a change happens only if the object is still
/// at it (412 otherwise, as `--if-version` gives on the command line).
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::invalid(
                "If-Match",
                "give the ETag a GET answered with (a version in quotes, \"3\")",
            )
        })
}

/// `GET /api/v1/me`: the caller's own account.
#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, description = "The caller's account (the `user` JSON of `keyway user show`)", body = serde_json::Value),
              (status = 401, description = "Not signed in", body = Problem)))]
pub async fn me(State(state): State<AdminState>, caller: Caller) -> Answer {
    let user = state.inner.store.user(&caller.ctx, &caller.user).await?;
    Ok(versioned(&user, user.version))
}

/// `GET /api/v1/users`.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserPage),
    responses((status = 200, description = "A page of users by name (needs user_management); a full page has a `Link: <…>; rel=\"next\"` header", body = serde_json::Value),
              (status = 403, description = "Not permitted", body = Problem)))]
pub async fn users(
    State(state): State<AdminState>,
    caller: Caller,
    QueryParams(page): QueryParams<UserPage>,
) -> Answer {
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "give 1 to 1000"));
    }
    let users = state
        .inner
        .store
        .users_page(&caller.ctx, page.after.as_deref(), limit)
        .await?;
    let mut response = Json(&users).into_response();
    if let Some(last) = users.last().filter(|_| users.len() as i64 == limit) {
        let link = format!(
            "</api/v1/users?after={}&limit={limit}>; rel=\"next\"",
            encode(&last.name)
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// Which page of users.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserPage {
    /// At most this many, by name (1 to 1000, default 100).
    pub limit: Option<i64>,
    /// Only users after this name (the last of the page before; `Link: rel="next"`
    /// gives the next page).
    pub after: Option<String>,
}

/// A user to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUser {
    /// The login name.
    pub name: String,
    /// The name people read (default: the login name).
    pub display_name: Option<String>,
    /// A password (for sign-in and the gateway's basic auth); none: certificate only.
    pub password: Option<String>,
    /// Permissions: user_management, manage_personal_setup, manage_connectors,
    /// manage_trust, invoke:INTEGRATION.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// `POST /api/v1/users`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = AddUser,
    responses((status = 201, description = "Added", body = serde_json::Value),
              (status = 409, description = "Exists", body = Problem),
              (status = 422, description = "Invalid (the field is named)", body = Problem)))]
pub async fn add_user(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(add): JsonBody<AddUser>,
) -> Answer {
    let mut new = NewUser::new(&add.name);
    if let Some(display) = &add.display_name {
        new = new.display_name(display);
    }
    if let Some(password) = add.password {
        new = new.password(Zeroizing::new(password));
    }
    for permission in &add.permissions {
        new = new.permission(permission.parse::<Permission>()?);
    }
    let user = state.inner.store.add_user(&caller.ctx, new).await?;
    let location = format!("/api/v1/users/{}", user.name);
    let mut response = created(&user, Some(location));
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", user.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

/// `GET /api/v1/users/{name}`.
#[utoipa::path(get, path = "/api/v1/users/{name}", tag = "users",
    params(("name" = String, Path, description = "The user")),
    responses((status = 200, description = "The user; ETag is its version", body = serde_json::Value),
              (status = 403, description = "Not permitted", body = Problem),
              (status = 404, description = "No such user", body = Problem)))]
pub async fn user(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    let user = state.inner.store.user(&caller.ctx, &name).await?;
    Ok(versioned(&user, user.version))
}

/// A change to a user: any of enabled, password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeUser {
    /// Enable or disable (a disabled user's sessions and tokens stop at once).
    pub enabled: Option<bool>,
    /// A new password.
    pub password: Option<String>,
}

/// `PATCH /api/v1/users/{name}`: enable, disable, set the password. `If-Match` makes it
/// conditional on the version.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "users", request_body = ChangeUser,
    params(("name" = String, Path, description = "The user"),
           ("If-Match" = Option<String>, Header, description = "Change only at this version (ETag)")),
    responses((status = 200, description = "Changed", body = serde_json::Value),
              (status = 412, description = "Changed since it was read", body = Problem),
              (status = 422, description = "Invalid", body = Problem)))]
pub async fn change_user(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(change): JsonBody<ChangeUser>,
) -> Answer {
    let mut expected = if_match(&headers)?;
    let store = &state.inner.store;
    let mut user = store.user(&caller.ctx, &name).await?;
    if change.enabled.is_none() && change.password.is_none() {
        return Err(Problem::invalid(
            "enabled",
            "give enabled, password or both",
        ));
    }
    if let Some(enabled) = change.enabled {
        user = store
            .set_enabled(&caller.ctx, &name, enabled, expected)
            .await?;
        expected = expected.map(|_| user.version);
    }
    if let Some(password) = change.password {
        user = store
            .set_password(&caller.ctx, &name, &Zeroizing::new(password), expected)
            .await?;
    }
    Ok(versioned(&user, user.version))
}

/// `PUT /api/v1/users/{name}/permissions/{permission}`: grant.
#[utoipa::path(put, path = "/api/v1/users/{name}/permissions/{permission}", tag = "users",
    params(("name" = String, Path, description = "The user"),
           ("permission" = String, Path, description = "user_management, manage_personal_setup, manage_connectors, manage_trust or invoke:INTEGRATION")),
    responses((status = 200, description = "Granted", body = serde_json::Value),
              (status = 422, description = "Not a permission", body = Problem)))]
pub async fn grant(
    State(state): State<AdminState>,
    caller: Caller,
    Path((name, permission)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let permission: Permission = permission.parse()?;
    let user = state
        .inner
        .store
        .grant(&caller.ctx, &name, permission, if_match(&headers)?)
        .await?;
    Ok(versioned(&user, user.version))
}

/// `DELETE /api/v1/users/{name}/permissions/{permission}`: revoke.
#[utoipa::path(delete, path = "/api/v1/users/{name}/permissions/{permission}", tag = "users",
    params(("name" = String, Path, description = "The user"),
           ("permission" = String, Path, description = "The permission to take away")),
    responses((status = 200, description = "Revoked", body = serde_json::Value),
              (status = 422, description = "Not a permission", body = Problem)))]
pub async fn revoke_permission(
    State(state): State<AdminState>,
    caller: Caller,
    Path((name, permission)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let permission: Permission = permission.parse()?;
    let user = state
        .inner
        .store
        .revoke_permission(&caller.ctx, &name, permission, if_match(&headers)?)
        .await?;
    Ok(versioned(&user, user.version))
}

/// `GET /api/v1/users/{name}/certificates`: the user's certificates and pending keys.
#[utoipa::path(get, path = "/api/v1/users/{name}/certificates", tag = "certificates",
    params(("name" = String, Path, description = "The user")),
    responses((status = 200, description = "`{certificates, pending}` as `keyway user cert list --json`", body = serde_json::Value),
              (status = 403, description = "Not permitted", body = Problem)))]
pub async fn certificates(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    let store = &state.inner.store;
    let certificates = store.certificates(&caller.ctx, &name).await?;
    let pending = store.pending_keys(&caller.ctx, &name).await?;
    Ok(Json(json!({"certificates": certificates, "pending": pending})).into_response())
}

/// An API token to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Its name, unique per user (`ci`).
    pub name: String,
    /// Days until it stops working; none: until revoked.
    pub expires_in_days: Option<u32>,
}

/// `GET /api/v1/users/{name}/tokens`.
#[utoipa::path(get, path = "/api/v1/users/{name}/tokens", tag = "tokens",
    params(("name" = String, Path, description = "The user")),
    responses((status = 200, description = "The user's tokens with their last use (never the secrets)", body = serde_json::Value),
              (status = 403, description = "Another user's, without user_management", body = Problem)))]
pub async fn tokens(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    Ok(Json(state.inner.store.tokens(&caller.ctx, &name).await?).into_response())
}

/// `POST /api/v1/users/{name}/tokens`: the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/users/{name}/tokens", tag = "tokens", request_body = CreateToken,
    params(("name" = String, Path, description = "The user the token acts as")),
    responses((status = 201, description = "`{token, secret}`: send the secret as `Authorization: Bearer …`; it is not shown again", body = serde_json::Value),
              (status = 409, description = "The user has a token of that name", body = Problem)))]
pub async fn create_token(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(create): JsonBody<CreateToken>,
) -> Answer {
    let expires_at = create
        .expires_in_days
        .map(|days| OffsetDateTime::now_utc().unix_timestamp() + i64::from(days) * 86_400);
    let made = state
        .inner
        .store
        .create_token(&caller.ctx, &name, &create.name, expires_at)
        .await?;
    let body = json!({"token": made.token, "secret": made.secret.as_str()});
    Ok(created(&body, None))
}

/// `DELETE /api/v1/users/{name}/tokens/{token}`.
#[utoipa::path(delete, path = "/api/v1/users/{name}/tokens/{token}", tag = "tokens",
    params(("name" = String, Path, description = "The user"),
           ("token" = String, Path, description = "The token's name")),
    responses((status = 204, description = "Revoked: it stops working at once"),
              (status = 404, description = "No such token", body = Problem)))]
pub async fn revoke_token(
    State(state): State<AdminState>,
    caller: Caller,
    Path((name, token)): Path<(String, String)>,
) -> Answer {
    state
        .inner
        .store
        .revoke_token(&caller.ctx, &name, &token)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `value` as a query-string value (RFC 3986 unreserved characters kept).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Which audit entries.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only entries at or after this time (RFC 3339).
    pub since: Option<String>,
    /// At most this many, the newest (1 to 1000, default 100).
    pub limit: Option<i64>,
    /// Only this actor's entries.
    pub actor: Option<String>,
    /// Only this action (`user.add`); one ending in `.` is a prefix (`user.`).
    pub action: Option<String>,
    /// Only entries that ended so: ok, refused or failed.
    pub outcome: Option<String>,
    /// Only entries before this one: the `id` of the oldest entry of the page before
    /// (the `Link: rel="next"` header gives the next page).
    pub before_id: Option<i64>,
}

/// `GET /api/v1/audit-log`.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", params(AuditFilter),
    responses((status = 200, description = "Entries, oldest first (needs user_management)", body = serde_json::Value),
              (status = 422, description = "A bad filter", body = Problem)))]
pub async fn audit_log(
    State(state): State<AdminState>,
    caller: Caller,
    QueryParams(filter): QueryParams<AuditFilter>,
) -> Answer {
    let since = match &filter.since {
        Some(text) => Some(
            OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| {
                    Problem::invalid("since", "give an RFC 3339 time, 2026-12-01T00:00:00Z")
                })?
                .unix_timestamp(),
        ),
        None => None,
    };
    let limit = filter.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "give 1 to 1000"));
    }
    let outcome = filter
        .outcome
        .as_deref()
        .map(str::parse::<keyway_store::AuditOutcome>)
        .transpose()?;
    let query = AuditQuery {
        since,
        limit: Some(limit),
        actor: filter.actor.clone(),
        action: filter.action.clone(),
        outcome,
        before_id: filter.before_id,
    };
    let entries = state.inner.store.audit_log(&caller.ctx, &query).await?;
    let next = match entries.first() {
        Some(oldest) if entries.len() as i64 == limit => Some(oldest.id),
        _ => None,
    };
    let mut response = Json(&entries).into_response();
    if let Some(before) = next {
        // The same filters, one page further back.
        let mut query = vec![format!("before_id={before}"), format!("limit={limit}")];
        for (key, value) in [
            ("since", &filter.since),
            ("actor", &filter.actor),
            ("action", &filter.action),
            ("outcome", &filter.outcome),
        ] {
            if let Some(value) = value {
                query.push(format!("{key}={}", encode(value)));
            }
        }
        let link = format!("</api/v1/audit-log?{}>; rel=\"next\"", query.join("&"));
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}
