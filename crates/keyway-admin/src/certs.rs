//! A user's client certificates (webMethods' Client certificates page): a key pair and
//! CSR for an outside CA, the upload of what it signed, a certificate from keyway's CA,
//! one certificate's details, its download as PKCS#12, JKS or PEM under a password the
//! caller gives, and revocation. Each is one store operation as the caller.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use keyway_keystore::Format;
use keyway_pki::{KeyType, Reason};
use keyway_store::{CertOrigin, Upload};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem};
use crate::routes::{Answer, created, if_match, versioned};

fn key_type(given: Option<&str>) -> Result<KeyType, Problem> {
    given
        .unwrap_or("ec-p256")
        .parse()
        .map_err(|e: String| Problem::invalid("key_type", e))
}

fn subject(given: Option<String>, user: &str) -> String {
    given.unwrap_or_else(|| format!("CN={user}"))
}

/// A key pair to make, kept sealed in the store, and the CSR to send to a CA.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsrRequest {
    /// The subject to ask for (default `CN=USER`).
    pub subject: Option<String>,
    /// Subject alternative names to ask for: `dns:NAME`, `email:ADDRESS`, `ip:ADDRESS`,
    /// `uri:URI`.
    #[serde(default)]
    pub sans: Vec<String>,
    /// ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519.
    pub key_type: Option<String>,
}

/// `POST /api/v1/users/{name}/certificates/csr`.
#[utoipa::path(post, path = "/api/v1/users/{name}/certificates/csr", tag = "certificates",
    request_body = CsrRequest, params(("name" = String, Path, description = "The user")),
    responses((status = 201, description = "The pending key pair with its CSR (PEM) to send to the CA", body = serde_json::Value),
              (status = 403, description = "Another user's, without user_management", body = Problem),
              (status = 422, description = "A bad subject or key type", body = Problem)))]
pub async fn csr(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<CsrRequest>,
) -> Answer {
    let key_type = key_type(request.key_type.as_deref())?;
    let sans = request
        .sans
        .iter()
        .map(|s| keyway_pki::San::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::invalid("sans", e.to_string()))?;
    let pending = state
        .inner
        .store
        .request_certificate(
            &caller.ctx,
            &name,
            &subject(request.subject, &name),
            &sans,
            key_type,
        )
        .await?;
    Ok(created(&pending, None))
}

/// A certificate an outside CA signed for the user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// The signed certificate, PEM; further certificates after it are taken as its chain.
    pub certificate: String,
    /// Intermediate CA certificates the CA sent with it, PEM.
    pub chain: Option<String>,
    /// The truststore holding the CA it must chain to.
    pub truststore: String,
    /// The private key is kept elsewhere: store the certificate alone.
    #[serde(default)]
    pub key_elsewhere: bool,
}

/// `POST /api/v1/users/{name}/certificates`: upload the CA-signed certificate.
#[utoipa::path(post, path = "/api/v1/users/{name}/certificates", tag = "certificates",
    request_body = UploadRequest, params(("name" = String, Path, description = "The user")),
    responses((status = 201, description = "Stored (the `client-certificate` JSON)", body = serde_json::Value),
              (status = 422, description = "Every failed check listed: not the user's pending key, no chain to the truststore, expired, not for clientAuth, …", body = Problem)))]
pub async fn upload(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<UploadRequest>,
) -> Answer {
    let read = |field: &str, pem: &str| {
        keyway_pki::read_certificates(pem.as_bytes(), None, field)
            .map_err(|e| Problem::invalid(field, e.to_string()))
    };
    let mut certs = read("certificate", &request.certificate)?;
    if certs.is_empty() {
        return Err(Problem::invalid(
            "certificate",
            "holds no certificate: give the PEM the CA sent",
        ));
    }
    let certificate = certs.remove(0);
    if let Some(chain) = &request.chain {
        certs.extend(read("chain", chain)?);
    }
    let upload = Upload {
        certificate,
        chain: certs,
        truststore: request.truststore,
        key_elsewhere: request.key_elsewhere,
    };
    let cert = state
        .inner
        .store
        .upload_certificate(&caller.ctx, &name, upload)
        .await?;
    Ok(created(&cert, None))
}

/// A certificate for the user from keyway's CA.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The subject (default `CN=USER`).
    pub subject: Option<String>,
    /// Validity in days (default 365, bounded by the CA's own).
    pub days: Option<u32>,
    /// ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519.
    pub key_type: Option<String>,
}

/// `POST /api/v1/users/{name}/certificates/issue`: the key stays sealed in the store;
/// `…/download` writes it out.
#[utoipa::path(post, path = "/api/v1/users/{name}/certificates/issue", tag = "certificates",
    request_body = IssueRequest, params(("name" = String, Path, description = "The user")),
    responses((status = 201, description = "Issued (the `client-certificate` JSON); download it next", body = serde_json::Value),
              (status = 422, description = "A bad subject or key type", body = Problem)))]
pub async fn issue(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<IssueRequest>,
) -> Answer {
    let key_type = key_type(request.key_type.as_deref())?;
    let subject = keyway_pki::parse_subject(&subject(request.subject, &name))
        .map_err(|e| Problem::invalid("subject", e.to_string()))?;
    let (cert, _) = state
        .inner
        .store
        .issue_certificate(
            &caller.ctx,
            &name,
            subject,
            key_type,
            request.days.unwrap_or(keyway_pki::DEFAULT_DAYS),
        )
        .await?;
    Ok(created(&cert, None))
}

/// `GET /api/v1/users/{name}/certificates/{fingerprint}`.
#[utoipa::path(get, path = "/api/v1/users/{name}/certificates/{fingerprint}", tag = "certificates",
    params(("name" = String, Path, description = "The user"),
           ("fingerprint" = String, Path, description = "SHA-256, any notation, or a unique prefix of 8+ hex digits")),
    responses((status = 200, description = "The certificate (`client-certificate`); ETag is its version", body = serde_json::Value),
              (status = 404, description = "No such certificate", body = Problem)))]
pub async fn show(
    State(state): State<AdminState>,
    caller: Caller,
    Path((name, fingerprint)): Path<(String, String)>,
) -> Answer {
    let cert = state
        .inner
        .store
        .certificate(&caller.ctx, &name, &fingerprint)
        .await?;
    Ok(versioned(&cert, cert.version))
}

/// How to write a download.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadRequest {
    /// pkcs12, jks or pem.
    pub format: String,
    /// The file's password (PKCS#12 and JKS need one; a PEM without one holds the key
    /// unencrypted).
    pub password: Option<String>,
    /// The entry's alias (default: the user's name).
    pub alias: Option<String>,
}

/// `POST /api/v1/users/{name}/certificates/{fingerprint}/download`: the key and chain as
/// a file, encrypted with the password given; audited.
#[utoipa::path(post, path = "/api/v1/users/{name}/certificates/{fingerprint}/download", tag = "certificates",
    request_body = DownloadRequest,
    params(("name" = String, Path, description = "The user"),
           ("fingerprint" = String, Path, description = "The certificate")),
    responses((status = 200, description = "The file, as the format asked for", content(
                  (Vec<u8> = "application/x-pkcs12"),
                  (Vec<u8> = "application/x-java-keystore"),
                  (String = "application/x-pem-file"))),
              (status = 422, description = "A bad format, a missing password, a revoked certificate or one whose key is kept elsewhere", body = Problem)))]
pub async fn download(
    State(state): State<AdminState>,
    caller: Caller,
    Path((name, fingerprint)): Path<(String, String)>,
    JsonBody(request): JsonBody<DownloadRequest>,
) -> Answer {
    let (format, media) = file_format(&request.format)?;
    let extension = match format {
        Format::Pkcs12 => "p12",
        Format::Jks => "jks",
        _ => "pem",
    };
    let password = request.password.map(zeroize::Zeroizing::new);
    if password.is_none() && format != Format::Pem {
        return Err(Problem::invalid(
            "password",
            format!("a {format} file needs a password"),
        ));
    }
    let (cert, identity) = state
        .inner
        .store
        .export_identity(&caller.ctx, &name, &fingerprint)
        .await?;
    let alias = request.alias.unwrap_or_else(|| name.clone());
    let bytes = identity.to_bytes(format, &alias, password.as_deref().map(|p| p.as_str()))?;
    let short: String = cert.sha256.replace(':', "").to_ascii_lowercase()[..16].to_string();
    let disposition = format!("attachment; filename=\"{name}-{short}.{extension}\"");
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// A key-and-chain file format asked for, and its media type.
pub(crate) fn file_format(given: &str) -> Result<(Format, &'static str), Problem> {
    match given {
        "pkcs12" => Ok((Format::Pkcs12, "application/x-pkcs12")),
        "jks" => Ok((Format::Jks, "application/x-java-keystore")),
        "pem" => Ok((Format::Pem, "application/x-pem-file")),
        _ => Err(Problem::invalid("format", "give pkcs12, jks or pem")),
    }
}

/// Why a certificate is revoked.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// RFC 5280 reason: unspecified (default), keyCompromise, cACompromise,
    /// affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn.
    pub reason: Option<String>,
}

/// `POST /api/v1/users/{name}/certificates/{fingerprint}/revoke`: the gateway refuses it
/// from then on; one keyway's CA issued is on its next CRL.
#[utoipa::path(post, path = "/api/v1/users/{name}/certificates/{fingerprint}/revoke", tag = "certificates",
    request_body = RevokeRequest,
    params(("name" = String, Path, description = "The user"),
           ("fingerprint" = String, Path, description = "The certificate"),
           ("If-Match" = Option<String>, Header, description = "Revoke only at this version")),
    responses((status = 200, description = "Revoked (the `client-certificate` JSON); `note` says what else to do", body = serde_json::Value),
              (status = 412, description = "Changed since it was read", body = Problem),
              (status = 422, description = "Already revoked, or a bad reason", body = Problem)))]
pub async fn revoke(
    State(state): State<AdminState>,
    caller: Caller,
    Path((name, fingerprint)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<RevokeRequest>,
) -> Answer {
    let reason: Reason = request
        .reason
        .as_deref()
        .unwrap_or("unspecified")
        .parse()
        .map_err(|e: String| Problem::invalid("reason", e))?;
    let cert = state
        .inner
        .store
        .revoke_certificate(
            &caller.ctx,
            &name,
            &fingerprint,
            reason,
            if_match(&headers)?,
        )
        .await?;
    let note = match cert.origin {
        CertOrigin::Issued => "on keyway's next CRL (GET the CA's CRL again to publish it)",
        CertOrigin::Uploaded => "revoked in keyway; ask the CA that issued it to revoke it too",
    };
    let mut body = serde_json::to_value(&cert).unwrap_or_default();
    body["note"] = note.into();
    Ok(versioned(&body, cert.version))
}
