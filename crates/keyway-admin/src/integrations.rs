//! Integrations: what partners call on the gateway (`/integrations/NAME/…`), each run
//! through a connector. Listed, added, replaced and removed as the caller.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use keyway_store::{NewIntegration, Save};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem};
use crate::routes::{Answer, created, if_match, versioned};

/// An integration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    /// The name (on `POST`; the path names it otherwise). Callers need `invoke:NAME`.
    pub name: Option<String>,
    /// The connector it calls.
    pub connector: String,
    /// For people.
    #[serde(default)]
    pub description: String,
    /// Require basic auth on top of the client certificate.
    #[serde(default)]
    pub require_password: bool,
}

impl IntegrationBody {
    fn into_new(self) -> NewIntegration {
        NewIntegration {
            connector: self.connector,
            description: self.description,
            require_password: self.require_password,
        }
    }
}

/// `GET /api/v1/integrations`.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations",
    responses((status = 200, description = "Every integration", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem)))]
pub async fn list(State(state): State<AdminState>, caller: Caller) -> Answer {
    Ok(Json(state.inner.store.integrations(&caller.ctx).await?).into_response())
}

/// `POST /api/v1/integrations`.
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations", request_body = IntegrationBody,
    responses((status = 201, description = "Added", body = serde_json::Value),
              (status = 409, description = "The name is taken", body = Problem),
              (status = 422, description = "No such connector, a bad name", body = Problem)))]
pub async fn add(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> Answer {
    let Some(name) = body.name.clone() else {
        return Err(Problem::invalid("name", "give the integration's name"));
    };
    let stored = state
        .inner
        .store
        .save_integration(&caller.ctx, &name, body.into_new(), Save::Add)
        .await?;
    Ok(created(
        &stored,
        Some(format!("/api/v1/integrations/{name}")),
    ))
}

/// `PUT /api/v1/integrations/{name}`.
#[utoipa::path(put, path = "/api/v1/integrations/{name}", tag = "integrations", request_body = IntegrationBody,
    params(("name" = String, Path, description = "The integration"),
           ("If-Match" = Option<String>, Header, description = "Replace only at this version")),
    responses((status = 200, description = "Replaced", body = serde_json::Value),
              (status = 412, description = "Changed since it was read", body = Problem)))]
pub async fn replace(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> Answer {
    if body.name.as_ref().is_some_and(|n| *n != name) {
        return Err(Problem::invalid("name", "differs from the path"));
    }
    let stored = state
        .inner
        .store
        .save_integration(
            &caller.ctx,
            &name,
            body.into_new(),
            Save::Replace(if_match(&headers)?),
        )
        .await?;
    Ok(versioned(&stored, stored.version))
}

/// `DELETE /api/v1/integrations/{name}`.
#[utoipa::path(delete, path = "/api/v1/integrations/{name}", tag = "integrations",
    params(("name" = String, Path, description = "The integration"),
           ("If-Match" = Option<String>, Header, description = "Remove only at this version")),
    responses((status = 204, description = "Removed: the gateway answers 404 for it from the next reload"),
              (status = 404, description = "No such integration", body = Problem)))]
pub async fn remove(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    state
        .inner
        .store
        .remove_definition(&caller.ctx, "integration", &name, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
