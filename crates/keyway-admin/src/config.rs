//! `POST /api/v1/config/import`: a keyway.toml and the files it names, into the store
//! in one transaction ([`keyway_store::ConfigImport::read_upload`], then
//! [`keyway_store::Store::import_config`]). Export stays on the command line
//! (`keyway config export`): it writes keys and passwords, which the API never answers.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use base64ct::{Base64, Encoding};
use keyway_store::ConfigImport;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem};
use crate::routes::Answer;

/// One file of the upload.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadedFile {
    /// Its path relative to keyway.toml (`keyway.toml`, `truststores/partners.pem`).
    pub path: String,
    /// Its bytes, base64.
    pub content_base64: String,
}

/// A configuration to import.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigUpload {
    /// `keyway.toml` and every file it names (passwords inline or in files sent here;
    /// never from the server's environment).
    pub files: Vec<UploadedFile>,
    /// Replace objects of the same names (else a taken name stops the import).
    #[serde(default)]
    pub replace: bool,
}

/// `POST /api/v1/config/import`.
#[utoipa::path(post, path = "/api/v1/config/import", tag = "config", request_body = ConfigUpload,
    responses((status = 200, description = "What was stored, as `keyway config import --json`", body = serde_json::Value),
              (status = 409, description = "Names taken (without replace); nothing was imported", body = Problem),
              (status = 422, description = "A file or definition that does not check out, named; nothing was imported", body = Problem)))]
pub async fn import(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(upload): JsonBody<ConfigUpload>,
) -> Answer {
    let mut files = Vec::with_capacity(upload.files.len());
    for file in upload.files {
        let compact: String = file.content_base64.split_whitespace().collect();
        let bytes = Base64::decode_vec(&compact).map_err(|_| {
            Problem::invalid(
                "files",
                format!("{}: content_base64 is not base64", file.path),
            )
        })?;
        files.push((file.path, bytes));
    }
    let import = tokio::task::spawn_blocking(move || ConfigImport::read_upload(&files))
        .await
        .map_err(|_| Problem::internal("reading the upload stopped unexpectedly"))??;
    let imported = state
        .inner
        .store
        .import_config(&caller.ctx, &import, upload.replace)
        .await?;
    let mut body = serde_json::to_value(&imported).unwrap_or_default();
    body["from"] = "upload".into();
    Ok(Json(body).into_response())
}
