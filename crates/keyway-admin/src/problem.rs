//! Errors as RFC 9457 `application/problem+json`: a stable `type` per kind, the status,
//! a title, the store's own message as `detail` (it names the object and the fix and never
//! holds a secret), and the field at fault where there is one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An API error (RFC 9457).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable per kind: `urn:keyway:problem:not-found`, `…:forbidden`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind in words.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What is wrong and how to fix it.
    pub detail: String,
    /// The request field at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before trying again (429).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of `kind` (`not-found`) with `status`, `title` and `detail`.
    pub fn new(
        status: StatusCode,
        kind: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            kind: format!("urn:keyway:problem:{kind}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }

    /// The same, naming the field at fault.
    pub fn field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    /// No valid session cookie or token.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Not signed in",
            detail,
        )
    }

    /// A request body or parameter that is not what the operation takes.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Invalid request",
            detail,
        )
        .field(field)
    }

    /// Work that stopped unexpectedly (a task that panicked): nothing more to say.
    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }

    /// A connectivity test that could not run (as opposed to one that ran and failed).
    pub fn untestable(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "untestable",
            "The test could not run",
            detail,
        )
    }

    /// Nothing at this path.
    pub fn no_route(path: &str) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "no-route",
            "No such endpoint",
            format!("{path}: no such endpoint; /api/v1/openapi.json lists them"),
        )
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        if let StoreError::Forbidden { conceals: true, .. } = &error {
            return Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                "no such user among those you may see (you may reach your own account only)",
            );
        }
        let detail = error.to_string();
        let (status, kind, title, field) = match &error {
            StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found", "Not found", None),
            StoreError::Duplicate { .. } | StoreError::Exist { .. } => {
                (StatusCode::CONFLICT, "exists", "Already exists", None)
            }
            StoreError::Conflict { .. } => (
                StatusCode::PRECONDITION_FAILED,
                "changed",
                "Changed by someone else",
                None,
            ),
            StoreError::InUse { .. } => (StatusCode::CONFLICT, "in-use", "Still in use", None),
            StoreError::WouldBreak { .. } => (
                StatusCode::CONFLICT,
                "would-break",
                "Working connectors would lose their trust",
                None,
            ),
            StoreError::Forbidden { .. } => {
                (StatusCode::FORBIDDEN, "forbidden", "Not permitted", None)
            }
            StoreError::Invalid { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid request",
                Some(field.to_string()),
            ),
            StoreError::WeakPassword(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak-password",
                "Password too weak",
                Some("password".to_string()),
            ),
            StoreError::Pki(_) | StoreError::Config(_) | StoreError::File { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid request",
                None,
            ),
            StoreError::Unavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Store unavailable",
                None,
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "store",
                "Store error",
                None,
            ),
        };
        let mut problem = Problem::new(status, kind, title, detail);
        problem.field = field;
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"keyway\""),
            );
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// A JSON request body whose rejections are problems too: a body that is not JSON, has
/// a wrong or unknown field, or is too large is answered in RFC 9457 form, naming what
/// is wrong.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(body_problem(rejection.status(), rejection.body_text())),
        }
    }
}

/// A request body that could not be read as the operation's JSON.
pub(crate) fn body_problem(status: StatusCode, detail: String) -> Problem {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            status,
            "too-large",
            "Request body too large",
            format!("the body is larger than {} bytes", crate::MAX_BODY),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::new(
            status,
            "media-type",
            "Not JSON",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        _ => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Invalid request",
            detail,
        )
        .field("body"),
    }
}

/// Query parameters whose rejections are problems too (a number out of range, a value
/// of the wrong type), naming the query as the field.
pub struct QueryParams<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for QueryParams<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(Problem::invalid("query", rejection.body_text())),
        }
    }
}
