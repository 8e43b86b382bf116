//! `POST /api/v1/test` and `POST /api/v1/probe`: `keyway test` and `keyway probe` over
//! the API, on an endpoint that is no connector yet. The test's profile names the
//! store's truststores and identities, as a connector's would. Both need what the store
//! says reaching an endpoint needs (`manage_connectors`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use keyway_connect::{ConnectorEntry, ProfileEntry};
use keyway_store::Draft;
use keyway_tls::{ProbeTarget, Profile, TestTarget};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::problem::{JsonBody, Problem};
use crate::routes::Answer;

/// The name the test's draft connector and profile go by (never stored).
const ADHOC: &str = "adhoc-test";

/// What to test.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `https://host[:port]/path` or `HOST:PORT`.
    pub url: String,
    /// The TLS profile: truststores and keystore by their names in the store,
    /// lowest_version or versions, server_name, …; none: the system roots, TLS 1.2+.
    #[schema(value_type = Option<Object>)]
    pub profile: Option<ProfileEntry>,
}

/// `POST /api/v1/test`: what `keyway test --json` prints.
#[utoipa::path(post, path = "/api/v1/test", tag = "tools", request_body = TestRequest,
    responses((status = 200, description = "The `test-report`: negotiated details, or the diagnosis with code, blame, evidence and remediation (a failure is a result)", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem),
              (status = 422, description = "A bad URL or profile, each problem named", body = Problem)))]
pub async fn test(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(request): JsonBody<TestRequest>,
) -> Answer {
    let target =
        TestTarget::parse(&request.url).map_err(|e| Problem::invalid("url", e.to_string()))?;
    let store = &state.inner.store;
    store.may_reach(&caller.ctx, &request.url).await?;
    let url = if request.url.contains("://") {
        request.url.clone()
    } else {
        format!("https://{}/", request.url)
    };
    let draft = Draft {
        connector: ADHOC.into(),
        definition: ConnectorEntry {
            kind: "rest".into(),
            url,
            profile: request.profile.as_ref().map(|_| ADHOC.to_string()),
            ..ConnectorEntry::default()
        },
        auth: None,
        profile: request.profile.map(|p| (ADHOC.to_string(), p)),
    };
    let config = store.draft_config(&caller.ctx, &draft).await?;
    let def = config
        .connector(ADHOC)
        .map_err(|e| Problem::invalid("url", e.to_string()))?
        .clone();
    let spec = config
        .profile_spec(&def)
        .map_err(|e| Problem::invalid("profile", e.to_string()))?;
    let report = tokio::task::spawn_blocking(move || {
        let profile =
            Profile::load(&spec).map_err(|e| Problem::invalid("profile", e.to_string()))?;
        let outcome =
            keyway_tls::test(&target, &profile).map_err(|e| Problem::untestable(e.to_string()))?;
        Ok::<_, Problem>(serde_json::to_value(outcome.report(profile.insecure)).unwrap_or_default())
    })
    .await
    .map_err(|_| Problem::internal("the test stopped unexpectedly"))??;
    Ok(Json(report).into_response())
}

/// What to probe.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    /// `HOST:PORT`.
    pub target: String,
    /// The SNI to send (default: the host, when it is a name).
    pub server_name: Option<String>,
    /// Seconds per version (1 to 30, default 5).
    pub timeout_seconds: Option<u64>,
}

/// `POST /api/v1/probe`: which TLS versions the endpoint speaks, as `keyway probe --json`.
#[utoipa::path(post, path = "/api/v1/probe", tag = "tools", request_body = ProbeRequest,
    responses((status = 200, description = "The `probe-report`", body = serde_json::Value),
              (status = 403, description = "Needs manage_connectors", body = Problem),
              (status = 422, description = "A bad target", body = Problem)))]
pub async fn probe(
    State(state): State<AdminState>,
    caller: Caller,
    JsonBody(request): JsonBody<ProbeRequest>,
) -> Answer {
    let seconds = request.timeout_seconds.unwrap_or(5);
    if !(1..=30).contains(&seconds) {
        return Err(Problem::invalid("timeout_seconds", "give 1 to 30"));
    }
    let mut target = ProbeTarget::parse(&request.target, Duration::from_secs(seconds))
        .map_err(|e| Problem::invalid("target", e.to_string()))?;
    target.server_name = request.server_name;
    // Through the server's proxy, as `keyway test` here would go (HTTPS_PROXY, NO_PROXY).
    target.proxy = keyway_tls::ProxySetting::Environment
        .resolve()
        .map_err(|e| Problem::internal(format!("the server's proxy setting: {e}")))?
        .for_host(&target.host)
        .cloned();
    state
        .inner
        .store
        .may_reach(&caller.ctx, &request.target)
        .await?;
    let report = tokio::task::spawn_blocking(move || keyway_tls::probe(&target))
        .await
        .map_err(|_| Problem::internal("the probe stopped unexpectedly"))?
        .map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unreachable",
                "The probe could not run",
                e.to_string(),
            )
        })?;
    Ok(Json(report).into_response())
}
