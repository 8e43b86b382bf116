//! The connector check, what `keyway connector test` and the console's *Test
//! connectivity* run: the connector's TLS tested with its exact profile (the cause named
//! when it fails), then, when TLS works, one request as the connector would send it: a
//! GET of its `test_path` (`?wsdl` for a SOAP connector without one) or, when it names a
//! `test_action`, that SOAP operation with an empty body. The result is typed and
//! serializes to the `connector-test` JSON kind.

use std::fmt;

use http::StatusCode;
use keyway_tls::{TestError, TestOutcome};
use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::{CallRequest, Connector, Kind, SoapBody, SoapError, excerpt};

/// What checking a connector found.
#[derive(Debug)]
pub struct ConnectorCheck {
    /// The connector's name.
    pub connector: String,
    /// Whether its profile skips certificate verification (flagged in every report).
    pub insecure: bool,
    /// The TLS test against the connector's host and port.
    pub tls: TestOutcome,
    /// The request after a working handshake; `None` when TLS failed.
    pub http: Option<HttpCheck>,
}

impl ConnectorCheck {
    /// TLS connected and the request found no problem.
    pub fn ok(&self) -> bool {
        matches!(self.tls, TestOutcome::Connected { .. })
            && self.http.as_ref().is_some_and(|h| h.problem.is_none())
    }
}

impl Serialize for ConnectorCheck {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ConnectorCheck", 4)?;
        s.serialize_field("connector", &self.connector)?;
        s.serialize_field("ok", &self.ok())?;
        s.serialize_field("tls", &self.tls.report(self.insecure))?;
        s.serialize_field("http", &self.http)?;
        s.end()
    }
}

/// The request of a connector check and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct HttpCheck {
    /// What was sent.
    #[serde(skip)]
    pub request: CheckRequest,
    /// Where it went.
    pub url: String,
    /// The status the server answered with, if it answered.
    pub status: Option<u16>,
    /// The user the connector sends as (basic auth), if any.
    pub user: Option<String>,
    /// Why the check failed; `None`: it passed.
    pub problem: Option<HttpProblem>,
    /// Something worth knowing that is not a failure (a SOAP Fault to the empty test
    /// request: the endpoint works).
    pub note: Option<String>,
}

/// What a connector check sends after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckRequest {
    /// A GET of the test path.
    Get,
    /// The SOAP operation `test_action`, with an empty body.
    SoapAction(String),
}

impl fmt::Display for CheckRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckRequest::Get => f.write_str("GET"),
            CheckRequest::SoapAction(action) => write!(f, "SOAP {action} to"),
        }
    }
}

/// Why the request of a connector check failed. Serializes as its sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpProblem {
    /// 401 or 403: the server refused the connector's credentials, or wants some and the
    /// connector sends none.
    Unauthorized {
        /// The connector.
        connector: String,
        /// 401 or 403.
        status: u16,
        /// The user the connector sent, if it sent one.
        user: Option<String>,
    },
    /// Another 4xx or 5xx.
    HttpError {
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A SOAP operation answered without a SOAP envelope.
    NotSoap {
        /// The status.
        status: u16,
        /// Why it is not SOAP.
        why: String,
        /// The start of the body.
        body: String,
    },
    /// No answer: the request failed (why, in words).
    Failed(String),
}

impl fmt::Display for HttpProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpProblem::Unauthorized {
                connector,
                status,
                user: Some(user),
            } => write!(
                f,
                "authentication problem: the server refused user \"{user}\" (HTTP {}); check the user name and password of connector \"{connector}\"",
                status_text(*status)
            ),
            HttpProblem::Unauthorized {
                connector,
                status,
                user: None,
            } => write!(
                f,
                "authentication problem: the server wants credentials (HTTP {}) and connector \"{connector}\" sends none; add auth = {{ username = …, password = … }}",
                status_text(*status)
            ),
            HttpProblem::HttpError { status, body } => {
                write!(f, "HTTP {}; body begins: {body}", status_text(*status))
            }
            HttpProblem::NotSoap { status, why, body } => write!(
                f,
                "HTTP {} without a SOAP envelope ({why}); body begins: {body}",
                status_text(*status)
            ),
            HttpProblem::Failed(why) => f.write_str(why),
        }
    }
}

impl Serialize for HttpProblem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `401 Unauthorized`, as `http` writes a status.
fn status_text(status: u16) -> String {
    StatusCode::from_u16(status)
        .map(|s| s.to_string())
        .unwrap_or_else(|_| status.to_string())
}

/// Checks `connector`: its TLS, then (when that works) one request. `Err` only when the
/// TLS test could not run at all.
pub async fn check(connector: &Connector) -> Result<ConnectorCheck, TestError> {
    let tls = diagnose(connector).await?;
    let http = match tls {
        TestOutcome::Connected { .. } => Some(http_check(connector).await),
        _ => None,
    };
    Ok(ConnectorCheck {
        connector: connector.def().name.clone(),
        insecure: connector.profile().insecure,
        tls,
        http,
    })
}

/// The TLS test with the connector's profile, against its host and port (what to show
/// when a call fails without an answer).
pub async fn diagnose(connector: &Connector) -> Result<TestOutcome, TestError> {
    let target = crate::audit::test_target(connector);
    let profile = connector.profile().clone();
    // The test blocks (it may drive OpenSSL for a legacy server).
    match tokio::task::spawn_blocking(move || keyway_tls::test(&target, &profile)).await {
        Ok(result) => result,
        Err(stopped) => std::panic::resume_unwind(stopped.into_panic()),
    }
}

async fn http_check(connector: &Connector) -> HttpCheck {
    let def = connector.def();
    let user = connector.username().map(str::to_string);
    let unauthorized = |status: StatusCode| HttpProblem::Unauthorized {
        connector: def.name.clone(),
        status: status.as_u16(),
        user: user.clone(),
    };
    let (request, path) = match (def.kind, &def.test_action, &def.test_path) {
        (Kind::Soap, Some(action), path) => (
            CheckRequest::SoapAction(action.clone()),
            path.clone().unwrap_or_default(),
        ),
        (_, _, Some(path)) => (CheckRequest::Get, path.clone()),
        (Kind::Soap, None, None) => (CheckRequest::Get, "?wsdl".to_string()),
        (Kind::Rest, _, None) => (CheckRequest::Get, String::new()),
    };
    let url = connector
        .url_for(&path)
        .map(|u| u.to_string())
        .unwrap_or_default();
    let (status, problem, note) = match &request {
        CheckRequest::SoapAction(action) => {
            let empty = SoapBody::Element(String::new());
            match connector.soap(&path, Some(action), None, &empty).await {
                Ok(r) if matches!(r.status.as_u16(), 401 | 403) => {
                    (Some(r.status), Some(unauthorized(r.status)), None)
                }
                Ok(r) => (
                    Some(r.status),
                    None,
                    r.fault.map(|f| {
                        format!(
                            "the operation answered with a SOAP Fault ({}: {}): the endpoint works; the fault is about the empty test request",
                            f.code, f.reason
                        )
                    }),
                ),
                Err(SoapError::NotSoap { status, .. }) if matches!(status.as_u16(), 401 | 403) => {
                    (Some(status), Some(unauthorized(status)), None)
                }
                Err(SoapError::NotSoap {
                    status,
                    excerpt,
                    why,
                    ..
                }) => (
                    Some(status),
                    Some(HttpProblem::NotSoap {
                        status: status.as_u16(),
                        why: why.to_string(),
                        body: excerpt,
                    }),
                    None,
                ),
                Err(e) => (None, Some(HttpProblem::Failed(e.to_string())), None),
            }
        }
        CheckRequest::Get => match connector.call(CallRequest::get(path)).await {
            Ok(r) if matches!(r.status.as_u16(), 401 | 403) => {
                (Some(r.status), Some(unauthorized(r.status)), None)
            }
            Ok(r) if r.status.is_client_error() || r.status.is_server_error() => (
                Some(r.status),
                Some(HttpProblem::HttpError {
                    status: r.status.as_u16(),
                    body: excerpt(&r.body, 200),
                }),
                None,
            ),
            Ok(r) => (Some(r.status), None, None),
            Err(e) => (None, Some(HttpProblem::Failed(e.to_string())), None),
        },
    };
    HttpCheck {
        request,
        url,
        status: status.map(|s| s.as_u16()),
        user,
        problem,
        note,
    }
}
