//! keyway's CA (its certificates, what it issued, revocation, a new CRL) and the CRLs of
//! outside CAs whose client certificates the gateway accepts. Each is one store
//! operation as the caller.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use base64ct::{Base64, Encoding};
use keyway_pki::Reason;
use keyway_store::CrlImport;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem, QueryParams};
use crate::routes::Answer;

/// `GET /api/v1/ca`: keyway's CA. Its certificates are public: any signed-in user.
#[utoipa::path(get, path = "/api/v1/ca", tag = "ca",
    responses((status = 200, description = "The root (and intermediate) details, and the root as PEM for clients to trust", body = serde_json::Value),
              (status = 404, description = "No CA yet (`keyway init` makes one)", body = Problem)))]
pub async fn ca(State(state): State<AdminState>, _caller: Caller) -> Answer {
    let ca = state.inner.store.ca().await?.ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "keyway has no CA yet: `keyway init` (or the first `keyway serve`) makes one",
        )
    })?;
    let mut body = serde_json::to_value(&ca).unwrap_or_default();
    body["root_pem"] = ca.root.to_pem().into();
    Ok(Json(body).into_response())
}

/// `GET /api/v1/ca/issued`: every certificate keyway's CA issued, with its state.
#[utoipa::path(get, path = "/api/v1/ca/issued", tag = "ca",
    responses((status = 200, description = "As `keyway ca list --json`", body = serde_json::Value),
              (status = 403, description = "Needs manage_trust", body = Problem)))]
pub async fn issued(State(state): State<AdminState>, caller: Caller) -> Answer {
    let issued = state.inner.store.ca_issued(&caller.ctx).await?;
    let issued: Vec<_> = issued.iter().map(keyway_store::issued_json).collect();
    Ok(Json(json!({"certificates": issued})).into_response())
}

/// A certificate of keyway's CA to revoke.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaRevokeRequest {
    /// The serial (hex, colons and case do not matter; a unique prefix of 8+ digits).
    pub serial: String,
    /// RFC 5280 reason (default unspecified).
    pub reason: Option<String>,
}

/// `POST /api/v1/ca/revoke`: on the next CRL; a user's client certificate is refused by
/// the gateway from then on.
#[utoipa::path(post, path = "/api/v1/ca/revoke", tag = "ca", request_body = CaRevokeRequest,
    responses((status = 200, description = "The record, now revoked", body = serde_json::Value),
              (status = 404, description = "No such serial", body = Problem),
              (status = 422, description = "Already revoked, or a bad reason", body = Problem)))]
pub async fn revoke(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(request): JsonBody<CaRevokeRequest>,
) -> Answer {
    let reason: Reason = request
        .reason
        .as_deref()
        .unwrap_or("unspecified")
        .parse()
        .map_err(|e: String| Problem::invalid("reason", e))?;
    let record = state
        .inner
        .store
        .ca_revoke(&caller.ctx, &request.serial, reason)
        .await?;
    Ok(Json(keyway_store::issued_json(&record)).into_response())
}

/// `POST /api/v1/ca/crl?days=N`: a new CRL signed by keyway's CA (each gets the next
/// number), as PEM.
#[utoipa::path(post, path = "/api/v1/ca/crl", tag = "ca",
    params(("days" = Option<u32>, Query, description = "Valid for this many days (1 to 366, default 7)")),
    responses((status = 200, description = "The CRL, PEM", body = String, content_type = "application/x-pem-file"),
              (status = 403, description = "Needs manage_trust", body = Problem)))]
pub async fn crl(
    State(state): State<AdminState>,
    caller: Caller,
    QueryParams(query): QueryParams<DaysQuery>,
) -> Answer {
    let days = query.days.unwrap_or(7);
    if !(1..=366).contains(&days) {
        return Err(Problem::invalid("days", "give 1 to 366"));
    }
    let crl = state.inner.store.ca_crl(&caller.ctx, days).await?;
    let mut response = crl.pem.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    Ok(response)
}

/// How long a new CRL is valid.
#[derive(Deserialize)]
pub struct DaysQuery {
    days: Option<u32>,
}

/// `GET /api/v1/crls`: the outside CAs' CRLs the gateway checks.
#[utoipa::path(get, path = "/api/v1/crls", tag = "ca",
    responses((status = 200, description = "As `keyway crl list --json`", body = serde_json::Value),
              (status = 403, description = "Needs manage_trust or manage_connectors", body = Problem)))]
pub async fn crls(State(state): State<AdminState>, caller: Caller) -> Answer {
    Ok(Json(state.inner.store.crls(&caller.ctx).await?).into_response())
}

/// An outside CA's CRL to import.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrlUpload {
    /// The CRL, PEM or DER, base64.
    pub content_base64: String,
    /// Where it came from, for people (`partner-ca.crl`).
    pub source: Option<String>,
}

/// `POST /api/v1/crls`: checked against the issuer's certificate in a client truststore;
/// replaces an older CRL of the same issuer, refuses an older one.
#[utoipa::path(post, path = "/api/v1/crls", tag = "ca", request_body = CrlUpload,
    responses((status = 201, description = "`{crl, import}` as `keyway crl import --json`: the first of its issuer", body = serde_json::Value),
              (status = 200, description = "`{crl, import}`: it replaced an older one, or was stored already", body = serde_json::Value),
              (status = 422, description = "Not a CRL, no issuer known, a bad signature, older than the stored one", body = Problem)))]
pub async fn import_crl(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(upload): JsonBody<CrlUpload>,
) -> Answer {
    let compact: String = upload.content_base64.split_whitespace().collect();
    let bytes = Base64::decode_vec(&compact)
        .map_err(|_| Problem::invalid("content_base64", "is not base64"))?;
    let source = upload.source.unwrap_or_else(|| "upload".into());
    let (crl, outcome) = state
        .inner
        .store
        .import_crl(&caller.ctx, &bytes, &source)
        .await?;
    let status = match outcome {
        CrlImport::Added => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(json!({"crl": crl, "import": outcome}))).into_response())
}

/// `DELETE /api/v1/crls/{issuer}`: stop checking that CA's CRL.
#[utoipa::path(delete, path = "/api/v1/crls/{issuer}", tag = "ca",
    params(("issuer" = String, Path, description = "The issuer's name as listed")),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No CRL of that issuer", body = Problem)))]
pub async fn remove_crl(
    State(state): State<AdminState>,
    caller: Caller,
    Path(issuer): Path<String>,
) -> Answer {
    state.inner.store.remove_crl(&caller.ctx, &issuer).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
