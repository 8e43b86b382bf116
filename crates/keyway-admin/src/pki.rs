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

/// A certificate for keyway's CA to issue: for a CSR made elsewhere (the key stays with
/// whoever made it), or with a key keyway makes, written as a file under the password
/// given.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaIssueRequest {
    /// client or server.
    pub profile: String,
    /// Validity in days (default 365, bounded by the CA's own).
    pub days: Option<u32>,
    /// A keyway user it is for: it is then that user's certificate (the gateway maps it
    /// to them).
    pub owner: Option<String>,
    /// A CSR, PEM. Without one, keyway makes the key: give subject (and sans for a
    /// server), format and password.
    pub csr: Option<String>,
    /// The subject, `CN=…,O=…`.
    pub subject: Option<String>,
    /// Subject alternative names: `dns:host`, `ip:10.0.0.1`, … (a server needs one).
    #[serde(default)]
    pub sans: Vec<String>,
    /// ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519.
    pub key_type: Option<String>,
    /// pkcs12, jks or pem: how the new key and chain are written.
    pub format: Option<String>,
    /// The file's password (PKCS#12 and JKS need one).
    pub password: Option<String>,
}

/// `POST /api/v1/ca/issue`: for a CSR, the certificate and its chain as JSON; with a new
/// key, the key and chain as a file in the format asked for (`X-Keyway-Serial` names
/// it), encrypted with the password given.
#[utoipa::path(post, path = "/api/v1/ca/issue", tag = "ca", request_body = CaIssueRequest,
    responses((status = 200, description = "For a CSR: the issued record with `certificate_pem` and `chain_pem`; with a new key: the file", content(
                  (serde_json::Value = "application/json"),
                  (Vec<u8> = "application/x-pkcs12"),
                  (Vec<u8> = "application/x-java-keystore"),
                  (String = "application/x-pem-file"))),
              (status = 422, description = "A bad profile, subject, SAN, CSR or format; a server without SANs", body = Problem)))]
pub async fn issue(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(request): JsonBody<CaIssueRequest>,
) -> Answer {
    let profile: keyway_pki::IssueProfile = request
        .profile
        .parse()
        .map_err(|e: String| Problem::invalid("profile", e))?;
    let issue = keyway_pki::IssueRequest {
        profile,
        days: request.days.unwrap_or(keyway_pki::DEFAULT_DAYS),
        owner: request.owner.clone(),
    };
    let store = &state.inner.store;
    if let Some(csr) = &request.csr {
        let csr = keyway_pki::read_csr(csr.as_bytes(), "csr")
            .map_err(|e| Problem::invalid("csr", e.to_string()))?;
        let (_, issued) = store
            .ca_issue(&caller.ctx, keyway_store::CaRequest::Csr(csr), &issue)
            .await?;
        let mut body = keyway_store::issued_json(&issued.record);
        body["certificate_pem"] = issued.certificate.to_pem().into();
        body["chain_pem"] = issued
            .chain
            .iter()
            .map(|c| c.to_pem())
            .collect::<String>()
            .into();
        return Ok(Json(body).into_response());
    }
    let subject = request
        .subject
        .as_deref()
        .ok_or_else(|| Problem::invalid("subject", "give a subject, or a csr"))?;
    let subject = keyway_pki::parse_subject(subject)
        .map_err(|e| Problem::invalid("subject", e.to_string()))?;
    let sans = request
        .sans
        .iter()
        .map(|s| keyway_pki::San::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::invalid("sans", e.to_string()))?;
    let key_type: keyway_pki::KeyType = request
        .key_type
        .as_deref()
        .unwrap_or("ec-p256")
        .parse()
        .map_err(|e: String| Problem::invalid("key_type", e))?;
    let (format, media) = crate::certs::file_format(request.format.as_deref().unwrap_or(""))?;
    if request.password.is_none() && format != keyway_keystore::Format::Pem {
        return Err(Problem::invalid(
            "password",
            format!("a {format} file needs a password"),
        ));
    }
    let (key, issued) = store
        .ca_issue(
            &caller.ctx,
            keyway_store::CaRequest::NewKey {
                key_type,
                subject,
                sans,
            },
            &issue,
        )
        .await?;
    let Some(key) = key else {
        return Err(Problem::invalid("csr", "no key was made"));
    };
    let mut chain = vec![issued.certificate.clone()];
    chain.extend(issued.chain.iter().cloned());
    let identity = keyway_store::KeyAndChain { key, chain };
    let password = request.password.map(zeroize::Zeroizing::new);
    let bytes = identity.to_bytes(format, "key", password.as_deref().map(|p| p.as_str()))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(serial) = HeaderValue::from_str(&keyway_keystore::colon_hex(&issued.record.serial)) {
        headers.insert("x-keyway-serial", serial);
    }
    Ok(response)
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

/// Which certificates to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpiryQuery {
    /// Only those ending within this many days (the expired ones included).
    pub within_days: Option<u32>,
}

/// `GET /api/v1/expiry`: every certificate keyway knows with the time it has left,
/// soonest end first, as `keyway expiry --json`.
#[utoipa::path(get, path = "/api/v1/expiry", tag = "ca", params(ExpiryQuery),
    responses((status = 200, description = "The `expiry` list: kind, holder, subject, dates, days and share of lifetime left", body = serde_json::Value),
              (status = 403, description = "Needs manage_trust", body = Problem)))]
pub async fn expiry(
    State(state): State<AdminState>,
    caller: Caller,
    QueryParams(query): QueryParams<ExpiryQuery>,
) -> Answer {
    let within = query.within_days.map(|d| i64::from(d) * 86_400);
    let known = state
        .inner
        .store
        .known_certificates(&caller.ctx, within)
        .await?;
    Ok(Json(known).into_response())
}
