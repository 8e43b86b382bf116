//! Truststores (the CAs connectors and certificate uploads trust) and identities (the
//! keystores whose key and chain a connector presents): list, show, upload a JKS,
//! PKCS#12 or PEM file (its bytes as base64 in JSON), replace, remove. Keys never leave
//! through these endpoints.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64ct::{Base64, Encoding};
use keyway_store::NewKeystore;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use zeroize::Zeroizing;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem, QueryParams};
use crate::routes::{Answer, created, if_match, versioned};

fn decode(content: &str) -> Result<Vec<u8>, Problem> {
    let compact: String = content.split_whitespace().collect();
    Base64::decode_vec(&compact).map_err(|_| {
        Problem::invalid(
            "content_base64",
            "is not base64: give the file's bytes base64-encoded",
        )
    })
}

fn same_name(given: &Option<String>, path: &str) -> Result<(), Problem> {
    if given.as_ref().is_some_and(|n| n != path) {
        return Err(Problem::invalid("name", "differs from the path"));
    }
    Ok(())
}

/// A truststore file to store: PEM (one or many certificates), DER, JKS or PKCS#12.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TruststoreUpload {
    /// The name (on `POST`; the path names it otherwise).
    pub name: Option<String>,
    /// The file's bytes, base64.
    pub content_base64: String,
    /// The file's password (JKS, PKCS#12).
    pub password: Option<String>,
    /// What it was read from, for people (`partners.jks`).
    pub source: Option<String>,
}

impl TruststoreUpload {
    fn certificates(&self) -> Result<Vec<keyway_keystore::Certificate>, Problem> {
        let bytes = decode(&self.content_base64)?;
        let password = self
            .password
            .as_deref()
            .map(|p| Zeroizing::new(p.to_string()));
        keyway_pki::read_certificates(
            &bytes,
            password.as_deref().map(|p| p.as_str()),
            self.source(),
        )
        .map_err(|e| Problem::invalid("content_base64", e.to_string()))
    }

    fn source(&self) -> &str {
        self.source.as_deref().unwrap_or("upload")
    }
}

/// `GET /api/v1/truststores`.
#[utoipa::path(get, path = "/api/v1/truststores", tag = "trust",
    responses((status = 200, description = "Every truststore with its certificates' details and expiry", body = serde_json::Value),
              (status = 403, description = "Needs manage_trust or manage_connectors", body = Problem)))]
pub async fn truststores(State(state): State<AdminState>, caller: Caller) -> Answer {
    Ok(Json(state.inner.store.truststores(&caller.ctx).await?).into_response())
}

/// `GET /api/v1/truststores/{name}`.
#[utoipa::path(get, path = "/api/v1/truststores/{name}", tag = "trust",
    params(("name" = String, Path, description = "The truststore")),
    responses((status = 200, description = "The truststore; ETag is its version", body = serde_json::Value),
              (status = 404, description = "No such truststore", body = Problem)))]
pub async fn truststore(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    let truststore = state.inner.store.truststore(&caller.ctx, &name).await?;
    Ok(versioned(&truststore, truststore.version))
}

/// `POST /api/v1/truststores`.
#[utoipa::path(post, path = "/api/v1/truststores", tag = "trust", request_body = TruststoreUpload,
    responses((status = 201, description = "Stored", body = serde_json::Value),
              (status = 409, description = "The name is taken", body = Problem),
              (status = 422, description = "Not a certificate file, a wrong password, …", body = Problem)))]
pub async fn add_truststore(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(upload): JsonBody<TruststoreUpload>,
) -> Answer {
    let Some(name) = upload.name.clone() else {
        return Err(Problem::invalid("name", "give the truststore's name"));
    };
    let certificates = upload.certificates()?;
    let stored = state
        .inner
        .store
        .add_truststore(&caller.ctx, &name, certificates, upload.source())
        .await?;
    Ok(created(
        &stored,
        Some(format!("/api/v1/truststores/{name}")),
    ))
}

/// `PUT /api/v1/truststores/{name}`: replace its certificates.
#[utoipa::path(put, path = "/api/v1/truststores/{name}", tag = "trust", request_body = TruststoreUpload,
    params(("name" = String, Path, description = "The truststore"),
           ("If-Match" = Option<String>, Header, description = "Replace only at this version"),
           Force),
    responses((status = 200, description = "Replaced", body = serde_json::Value),
              (status = 409, description = "A CA left out is where working connectors' partner chains end (named); force=true to go ahead", body = Problem),
              (status = 412, description = "Changed since it was read", body = Problem)))]
pub async fn replace_truststore(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    QueryParams(force): QueryParams<Force>,
    JsonBody(upload): JsonBody<TruststoreUpload>,
) -> Answer {
    same_name(&upload.name, &name)?;
    let certificates = upload.certificates()?;
    let stored = state
        .inner
        .store
        .replace_truststore(
            &caller.ctx,
            &name,
            certificates,
            upload.source(),
            if_match(&headers)?,
            force.force,
        )
        .await?;
    Ok(versioned(&stored, stored.version))
}

/// `?force=true`: go ahead although working connectors would lose their trust.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
pub struct Force {
    /// Replace even when a CA left out is where working connectors' partner chains end.
    #[serde(default)]
    pub force: bool,
}

/// `DELETE /api/v1/truststores/{name}`.
#[utoipa::path(delete, path = "/api/v1/truststores/{name}", tag = "trust",
    params(("name" = String, Path, description = "The truststore"),
           ("If-Match" = Option<String>, Header, description = "Remove only at this version")),
    responses((status = 204, description = "Removed"),
              (status = 409, description = "A profile still uses it (named)", body = Problem)))]
pub async fn remove_truststore(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    state
        .inner
        .store
        .remove_truststore(&caller.ctx, &name, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A keystore file to store as an identity: JKS, JCEKS, PKCS#12 or PEM with a key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityUpload {
    /// The name (on `POST`; the path names it otherwise).
    pub name: Option<String>,
    /// The file's bytes, base64.
    pub content_base64: String,
    /// The store password (sealed when stored, never answered).
    pub password: Option<String>,
    /// The key password, when it differs (JKS).
    pub key_password: Option<String>,
    /// The key entry to present; may be left out when the file holds one key.
    pub alias: Option<String>,
    /// What it was read from, for people (`acme-client.p12`).
    pub source: Option<String>,
}

impl IdentityUpload {
    fn into_new(self) -> Result<NewKeystore, Problem> {
        Ok(NewKeystore {
            content: decode(&self.content_base64)?,
            format: None,
            password: Zeroizing::new(self.password.unwrap_or_default()),
            key_password: self.key_password.map(Zeroizing::new),
            alias: self.alias,
            source: self.source.unwrap_or_else(|| "upload".into()),
        })
    }
}

/// `GET /api/v1/identities`.
#[utoipa::path(get, path = "/api/v1/identities", tag = "trust",
    responses((status = 200, description = "Every identity with its entries and expiry, never a key", body = serde_json::Value),
              (status = 403, description = "Needs manage_trust or manage_connectors", body = Problem)))]
pub async fn identities(State(state): State<AdminState>, caller: Caller) -> Answer {
    Ok(Json(state.inner.store.keystores(&caller.ctx).await?).into_response())
}

/// `GET /api/v1/identities/{name}`.
#[utoipa::path(get, path = "/api/v1/identities/{name}", tag = "trust",
    params(("name" = String, Path, description = "The identity")),
    responses((status = 200, description = "The identity; ETag is its version", body = serde_json::Value),
              (status = 404, description = "No such identity", body = Problem)))]
pub async fn identity(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    let keystore = state.inner.store.keystore(&caller.ctx, &name).await?;
    Ok(versioned(&keystore, keystore.version))
}

/// `POST /api/v1/identities`.
#[utoipa::path(post, path = "/api/v1/identities", tag = "trust", request_body = IdentityUpload,
    responses((status = 201, description = "Stored, after checking it opens and holds the key to present", body = serde_json::Value),
              (status = 409, description = "The name is taken", body = Problem),
              (status = 422, description = "A wrong password, no key entry, several without an alias, …", body = Problem)))]
pub async fn add_identity(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(upload): JsonBody<IdentityUpload>,
) -> Answer {
    let Some(name) = upload.name.clone() else {
        return Err(Problem::invalid("name", "give the identity's name"));
    };
    let stored = state
        .inner
        .store
        .add_keystore(&caller.ctx, &name, upload.into_new()?)
        .await?;
    Ok(created(&stored, Some(format!("/api/v1/identities/{name}"))))
}

/// `PUT /api/v1/identities/{name}`: replace it (a renewed certificate).
#[utoipa::path(put, path = "/api/v1/identities/{name}", tag = "trust", request_body = IdentityUpload,
    params(("name" = String, Path, description = "The identity"),
           ("If-Match" = Option<String>, Header, description = "Replace only at this version")),
    responses((status = 200, description = "Replaced", body = serde_json::Value),
              (status = 412, description = "Changed since it was read", body = Problem)))]
pub async fn replace_identity(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(upload): JsonBody<IdentityUpload>,
) -> Answer {
    same_name(&upload.name, &name)?;
    let stored = state
        .inner
        .store
        .replace_keystore(&caller.ctx, &name, upload.into_new()?, if_match(&headers)?)
        .await?;
    Ok(versioned(&stored, stored.version))
}

/// `DELETE /api/v1/identities/{name}`.
#[utoipa::path(delete, path = "/api/v1/identities/{name}", tag = "trust",
    params(("name" = String, Path, description = "The identity"),
           ("If-Match" = Option<String>, Header, description = "Remove only at this version")),
    responses((status = 204, description = "Removed"),
              (status = 409, description = "A profile still uses it (named)", body = Problem)))]
pub async fn remove_identity(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    state
        .inner
        .store
        .remove_keystore(&caller.ctx, &name, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
