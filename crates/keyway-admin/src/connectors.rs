//! Connectors and their TLS profiles (Pega's Connect-REST rule form): list, show, add,
//! replace, remove, and Test connectivity on the saved connector or on a draft the form
//! holds (nothing stored). Each is one store or connector-check operation as the caller.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use keyway_connect::{Config, ConnectorEntry, ProfileEntry};
use keyway_store::{Draft, NewConnector, Save};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem};
use crate::routes::{Answer, created, if_match, versioned};

fn no_connector(name: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("connector \"{name}\" not found: GET /api/v1/connectors lists them"),
    )
}

/// Basic auth of a connector.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The user name sent.
    pub username: String,
    /// The password (sealed when stored, never answered). Omitted in a test of a draft:
    /// the stored connector's.
    pub password: Option<String>,
}

/// A connector: what `[connectors.NAME]` in a keyway.toml says, and its basic auth.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorBody {
    /// The name (on `POST /api/v1/connectors`; the path names it otherwise).
    pub name: Option<String>,
    /// kind ("rest" or "soap"), url, profile, headers, timeout, retries, redirects,
    /// test_path, soap_version, test_action, tags: as in keyway.toml.
    #[schema(value_type = Object)]
    pub definition: ConnectorEntry,
    /// Basic auth; none: no Authorization header.
    pub auth: Option<Auth>,
}

impl ConnectorBody {
    fn into_new(self) -> Result<NewConnector, Problem> {
        let auth = match self.auth {
            None => None,
            Some(Auth {
                username,
                password: Some(password),
            }) => Some((username, Zeroizing::new(password))),
            Some(Auth { password: None, .. }) => {
                return Err(Problem::invalid(
                    "auth.password",
                    "a stored connector with basic auth needs its password",
                ));
            }
        };
        Ok(NewConnector {
            definition: self.definition,
            auth,
        })
    }
}

/// `GET /api/v1/connectors`.
#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors",
    responses((status = 200, description = "Every connector (never its password)", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem)))]
pub async fn list(State(state): State<AdminState>, caller: Caller) -> Answer {
    Ok(Json(state.inner.store.connectors(&caller.ctx).await?).into_response())
}

/// `GET /api/v1/connectors/{name}`.
#[utoipa::path(get, path = "/api/v1/connectors/{name}", tag = "connectors",
    params(("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "The connector; ETag is its version", body = serde_json::Value),
              (status = 404, description = "No such connector", body = Problem)))]
pub async fn show(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    let connector = state
        .inner
        .store
        .connectors(&caller.ctx)
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| no_connector(&name))?;
    Ok(versioned(&connector, connector.version))
}

/// `POST /api/v1/connectors`: add, checked as a keyway.toml connector over the store's
/// profiles.
#[utoipa::path(post, path = "/api/v1/connectors", tag = "connectors", request_body = ConnectorBody,
    responses((status = 201, description = "Added", body = serde_json::Value),
              (status = 409, description = "The name is taken", body = Problem),
              (status = 422, description = "Every problem of the definition, each naming its field", body = Problem)))]
pub async fn add(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(body): JsonBody<ConnectorBody>,
) -> Answer {
    let Some(name) = body.name.clone() else {
        return Err(Problem::invalid("name", "give the connector's name"));
    };
    let stored = state
        .inner
        .store
        .save_connector(&caller.ctx, &name, body.into_new()?, Save::Add)
        .await?;
    Ok(created(&stored, Some(format!("/api/v1/connectors/{name}"))))
}

/// `PUT /api/v1/connectors/{name}`: replace (`If-Match`: only at that version).
#[utoipa::path(put, path = "/api/v1/connectors/{name}", tag = "connectors", request_body = ConnectorBody,
    params(("name" = String, Path, description = "The connector"),
           ("If-Match" = Option<String>, Header, description = "Replace only at this version")),
    responses((status = 200, description = "Replaced", body = serde_json::Value),
              (status = 412, description = "Changed since it was read", body = Problem),
              (status = 422, description = "Every problem of the definition", body = Problem)))]
pub async fn replace(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ConnectorBody>,
) -> Answer {
    if body.name.as_ref().is_some_and(|n| *n != name) {
        return Err(Problem::invalid(
            "name",
            "differs from the path: a connector is renamed by adding the new one and removing the old",
        ));
    }
    let stored = state
        .inner
        .store
        .save_connector(
            &caller.ctx,
            &name,
            body.into_new()?,
            Save::Replace(if_match(&headers)?),
        )
        .await?;
    Ok(versioned(&stored, stored.version))
}

/// `DELETE /api/v1/connectors/{name}`.
#[utoipa::path(delete, path = "/api/v1/connectors/{name}", tag = "connectors",
    params(("name" = String, Path, description = "The connector"),
           ("If-Match" = Option<String>, Header, description = "Remove only at this version")),
    responses((status = 204, description = "Removed"),
              (status = 409, description = "An integration still uses it (named)", body = Problem),
              (status = 412, description = "Changed since it was read", body = Problem)))]
pub async fn remove(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    state
        .inner
        .store
        .remove_definition(&caller.ctx, "connector", &name, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A draft to test: the connector and, if the form edits it, its profile.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    /// The connector as the form holds it.
    #[schema(value_type = Object)]
    pub definition: ConnectorEntry,
    /// Basic auth; a missing password keeps the stored one.
    pub auth: Option<Auth>,
    /// The TLS profile as the form holds it: truststores, keystore, lowest_version or
    /// versions, server_name, …; stored under `definition.profile`'s name for the test.
    #[schema(value_type = Option<Object>)]
    pub profile: Option<ProfileEntry>,
}

/// `POST /api/v1/connectors/{name}/test`: Test connectivity. Without a body, the saved
/// connector; with one, the draft it holds (saved or not; nothing is stored).
#[utoipa::path(post, path = "/api/v1/connectors/{name}/test", tag = "connectors",
    request_body(content = Option<DraftBody>, description = "A draft to test instead of the saved connector"),
    params(("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "What `keyway connector test --json` prints: the TLS result (negotiated details or the diagnosis with code, blame, evidence and remediation) and the HTTP check. A failed test is a result, not an error", body = serde_json::Value),
              (status = 404, description = "No such connector (and no draft given)", body = Problem),
              (status = 422, description = "A draft that does not check out, each problem named", body = Problem)))]
pub async fn test(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    let store = &state.inner.store;
    let draft: Option<DraftBody> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|e| {
            crate::problem::body_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the draft: {e}"),
            )
        })?)
    };
    let config: Config = match draft {
        None => store.connector_config(&caller.ctx).await?,
        Some(draft) => {
            let profile = match (draft.profile, &draft.definition.profile) {
                (Some(profile), Some(profile_name)) => Some((profile_name.clone(), profile)),
                (Some(_), None) => {
                    return Err(Problem::invalid(
                        "definition.profile",
                        "name the profile the draft's profile is tested as",
                    ));
                }
                (None, _) => None,
            };
            let draft = Draft {
                connector: name.clone(),
                definition: draft.definition,
                auth: draft
                    .auth
                    .map(|a| (a.username, a.password.map(Zeroizing::new))),
                profile,
            };
            store.draft_config(&caller.ctx, &draft).await?
        }
    };
    let def = config
        .connector(&name)
        .map_err(|_| no_connector(&name))?
        .clone();
    let connector = keyway_connect::Connector::new(&config, &def).map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Connector cannot be built",
            e.to_string(),
        )
    })?;
    let checked = keyway_connect::check(&connector)
        .await
        .map_err(|e| Problem::untestable(e.to_string()))?;
    Ok(Json(serde_json::to_value(&checked).unwrap_or(Value::Null)).into_response())
}

/// A TLS profile: what `[profiles.NAME]` in a keyway.toml says.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    /// The name (on `POST /api/v1/profiles`; the path names it otherwise).
    pub name: Option<String>,
    /// truststores, system_roots, keystore, lowest_version (SSLv3, TLS 1.0 … TLS 1.3)
    /// or versions, max_version, cipher_suites, server_name, insecure, timeouts.
    #[schema(value_type = Object)]
    pub definition: ProfileEntry,
}

/// `GET /api/v1/profiles`.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "connectors",
    responses((status = 200, description = "Every TLS profile", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem)))]
pub async fn profiles(State(state): State<AdminState>, caller: Caller) -> Answer {
    Ok(Json(state.inner.store.profiles(&caller.ctx).await?).into_response())
}

/// `POST /api/v1/profiles`.
#[utoipa::path(post, path = "/api/v1/profiles", tag = "connectors", request_body = ProfileBody,
    responses((status = 201, description = "Added", body = serde_json::Value),
              (status = 409, description = "The name is taken", body = Problem),
              (status = 422, description = "Every problem, each naming its field", body = Problem)))]
pub async fn add_profile(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(body): JsonBody<ProfileBody>,
) -> Answer {
    let Some(name) = body.name else {
        return Err(Problem::invalid("name", "give the profile's name"));
    };
    let stored = state
        .inner
        .store
        .save_profile(&caller.ctx, &name, body.definition, Save::Add)
        .await?;
    Ok(created(&stored, Some(format!("/api/v1/profiles/{name}"))))
}

/// `PUT /api/v1/profiles/{name}`.
#[utoipa::path(put, path = "/api/v1/profiles/{name}", tag = "connectors", request_body = ProfileBody,
    params(("name" = String, Path, description = "The profile"),
           ("If-Match" = Option<String>, Header, description = "Replace only at this version")),
    responses((status = 200, description = "Replaced", body = serde_json::Value),
              (status = 412, description = "Changed since it was read", body = Problem)))]
pub async fn replace_profile(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ProfileBody>,
) -> Answer {
    if body.name.as_ref().is_some_and(|n| *n != name) {
        return Err(Problem::invalid("name", "differs from the path"));
    }
    let stored = state
        .inner
        .store
        .save_profile(
            &caller.ctx,
            &name,
            body.definition,
            Save::Replace(if_match(&headers)?),
        )
        .await?;
    Ok(versioned(&stored, stored.version))
}

/// `DELETE /api/v1/profiles/{name}`.
#[utoipa::path(delete, path = "/api/v1/profiles/{name}", tag = "connectors",
    params(("name" = String, Path, description = "The profile"),
           ("If-Match" = Option<String>, Header, description = "Remove only at this version")),
    responses((status = 204, description = "Removed"),
              (status = 409, description = "A connector still uses it (named)", body = Problem)))]
pub async fn remove_profile(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    state
        .inner
        .store
        .remove_definition(&caller.ctx, "profile", &name, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
