//! The fleet audit and the watch's results over the API: `POST /api/v1/audit` runs
//! `keyway audit` on the store's connectors (nothing is changed or kept: the watch keeps
//! its own runs), `GET /api/v1/checks` is each connector's last check by the watch, and
//! `GET /api/v1/connectors/{name}/checks` a connector's history. All need
//! `manage_connectors`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use keyway_connect::audit::{AuditOptions, audit, choose};
use keyway_tls::{TlsPolicy, TlsVersion};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem, QueryParams};
use crate::routes::Answer;

/// What to audit.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditRequest {
    /// Only these connectors (default: every one).
    #[serde(default)]
    pub connectors: Vec<String>,
    /// Only connectors with any of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The what-if: the lowest version a policy would allow ("1.2", "TLS 1.3").
    pub require_min_tls: Option<String>,
    /// Connectors checked at once (1 to 64, default 16).
    pub concurrency: Option<usize>,
}

/// `POST /api/v1/audit`: the fleet audit, as `keyway audit --json`.
#[utoipa::path(post, path = "/api/v1/audit", tag = "connectors", request_body = AuditRequest,
    responses((status = 200, description = "The `audit`: every connector chosen, worst first, with the what-if when asked (a failing connector is a result, not an error)", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem),
              (status = 422, description = "An unknown connector, a bad tag or version", body = Problem)))]
pub async fn run(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(request): JsonBody<AuditRequest>,
) -> Answer {
    let require = match &request.require_min_tls {
        Some(version) => Some(TlsPolicy::lowest_allowable(
            TlsVersion::parse(version)
                .map_err(|e| Problem::invalid("require_min_tls", e.to_string()))?,
        )),
        None => None,
    };
    let concurrency = request.concurrency.unwrap_or(16);
    if !(1..=64).contains(&concurrency) {
        return Err(Problem::invalid("concurrency", "give 1 to 64"));
    }
    let config = state.inner.store.connector_config(&caller.ctx).await?;
    let field = if request.tags.is_empty() {
        "connectors"
    } else {
        "tags"
    };
    let names = choose(&config, &request.connectors, &request.tags)
        .map_err(|e| Problem::invalid(field, e))?;
    let options = AuditOptions {
        concurrency,
        require,
        ..AuditOptions::default()
    };
    let mut report = audit(&config, &names, &options, |_| {}).await;
    let last = state.inner.store.latest_checks().await?;
    report.compare(|name| {
        last.iter()
            .find(|c| c.connector == name)
            .and_then(|c| Some((c.server_sha256.clone()?, c.server_issuer.clone())))
    });
    Ok(Json(report).into_response())
}

/// `GET /api/v1/checks`: each connector's last check by the watch of `keyway serve`.
#[utoipa::path(get, path = "/api/v1/checks", tag = "connectors",
    responses((status = 200, description = "One record per connector: when, standing, code, summary, the partner's certificate, and the connector's row of the audit", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem)))]
pub async fn latest(State(state): State<AdminState>, caller: Caller) -> Answer {
    let checks = state.inner.store.last_checks(&caller.ctx).await?;
    Ok(Json(checks).into_response())
}

/// How many of a connector's checks.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// At most this many, newest first (1 to 1000, default 50).
    pub limit: Option<i64>,
}

/// `GET /api/v1/connectors/{name}/checks`: the connector's checks by the watch, newest
/// first: when it started failing, when its partner's certificate changed.
#[utoipa::path(get, path = "/api/v1/connectors/{name}/checks", tag = "connectors",
    params(("name" = String, Path, description = "The connector"), HistoryQuery),
    responses((status = 200, description = "The connector's checks, newest first", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem),
              (status = 422, description = "A bad limit", body = Problem)))]
pub async fn history(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Answer {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "give 1 to 1000"));
    }
    let checks = state
        .inner
        .store
        .connector_checks(&caller.ctx, &name, limit)
        .await?;
    Ok(Json(checks).into_response())
}
