//! `keyway connector test`: the connector's TLS and, for an HTTP connector, one request.

use anyhow::Result;
use http::StatusCode;
use keyway_connect::{CallRequest, Connector, Kind, SoapBody, SoapError, excerpt};
use keyway_tls::Outcome as TestOutcome;
use serde_json::json;

use super::call::{diagnose, print_tls};
use super::{NameArgs, build};
use crate::exit::Outcome;
use crate::output;

/// The HTTP-level check of `connector test`.
struct HttpCheck {
    url: String,
    status: Option<u16>,
    problem: Option<String>,
    note: Option<String>,
}

async fn http_check(connector: &Connector) -> HttpCheck {
    let def = connector.def();
    let user = connector.username();
    let auth_problem = |status: StatusCode| match user {
        Some(u) => format!(
            "authentication problem: the server refused user \"{u}\" (HTTP {status}); check the user name and password of connector \"{}\"",
            def.name
        ),
        None => format!(
            "authentication problem: the server wants credentials (HTTP {status}) and connector \"{}\" sends none; add auth = {{ username = …, password = … }}",
            def.name
        ),
    };
    match (def.kind, &def.test_action) {
        (Kind::Soap, Some(action)) => {
            let path = def.test_path.clone().unwrap_or_default();
            let url = connector
                .url_for(&path)
                .map(|u| u.to_string())
                .unwrap_or_default();
            match connector.soap(&path, Some(action), None, &SoapBody::Element(String::new())).await {
                Ok(r) if matches!(r.status.as_u16(), 401 | 403) => HttpCheck { url, status: Some(r.status.as_u16()), problem: Some(auth_problem(r.status)), note: None },
                Ok(r) => HttpCheck {
                    url,
                    status: Some(r.status.as_u16()),
                    problem: None,
                    note: r.fault.map(|f| format!("the operation answered with a SOAP Fault ({}: {}): the endpoint works; the fault is about the empty test request", f.code, f.reason)),
                },
                Err(SoapError::NotSoap { status, .. }) if matches!(status.as_u16(), 401 | 403) => {
                    HttpCheck { url, status: Some(status.as_u16()), problem: Some(auth_problem(status)), note: None }
                }
                Err(SoapError::NotSoap { status, excerpt, why, .. }) => HttpCheck {
                    url,
                    status: Some(status.as_u16()),
                    problem: Some(format!("HTTP {status} without a SOAP envelope ({why}); body begins: {excerpt}")),
                    note: None,
                },
                Err(e) => HttpCheck { url, status: None, problem: Some(e.to_string()), note: None },
            }
        }
        (kind, _) => {
            let path = match (kind, &def.test_path) {
                (_, Some(p)) => p.clone(),
                (Kind::Soap, None) => "?wsdl".to_string(),
                (Kind::Rest, None) => String::new(),
            };
            let url = connector
                .url_for(&path)
                .map(|u| u.to_string())
                .unwrap_or_default();
            match connector.call(CallRequest::get(path)).await {
                Ok(r) if matches!(r.status.as_u16(), 401 | 403) => HttpCheck {
                    url,
                    status: Some(r.status.as_u16()),
                    problem: Some(auth_problem(r.status)),
                    note: None,
                },
                Ok(r) if r.status.is_client_error() || r.status.is_server_error() => HttpCheck {
                    url,
                    status: Some(r.status.as_u16()),
                    problem: Some(format!(
                        "HTTP {}; body begins: {}",
                        r.status,
                        excerpt(&r.body, 200)
                    )),
                    note: None,
                },
                Ok(r) => HttpCheck {
                    url,
                    status: Some(r.status.as_u16()),
                    problem: None,
                    note: None,
                },
                Err(e) => HttpCheck {
                    url,
                    status: None,
                    problem: Some(e.to_string()),
                    note: None,
                },
            }
        }
    }
}

pub(super) async fn test(args: NameArgs) -> Result<Outcome> {
    let connector = build(&args.config, &args.name).await?;
    let insecure = connector.profile().insecure;
    let tls = diagnose(&connector).await?;
    let tls_ok = matches!(tls, TestOutcome::Connected { .. });
    let http = if tls_ok {
        Some(http_check(&connector).await)
    } else {
        None
    };
    let ok = tls_ok && http.as_ref().is_some_and(|h| h.problem.is_none());
    if output::json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "connector": connector.def().name,
                "ok": ok,
                "tls": tls.report(insecure),
                "http": http.as_ref().map(|h| json!({
                    "url": h.url,
                    "status": h.status,
                    "user": connector.username(),
                    "problem": h.problem,
                    "note": h.note,
                })),
            }))?
        );
    } else {
        println!(
            "connector {} ({})",
            connector.def().name,
            connector.def().url
        );
        print_tls(&connector.def().url.to_string(), &tls, insecure);
        match &http {
            Some(h) => match &h.problem {
                None => {
                    println!(
                        "HTTP check: {} {} answered {}{}",
                        match (connector.def().kind, &connector.def().test_action) {
                            (Kind::Soap, Some(action)) => format!("SOAP {action} to"),
                            _ => "GET".to_string(),
                        },
                        h.url,
                        h.status.map(|s| s.to_string()).unwrap_or_default(),
                        connector
                            .username()
                            .map(|u| format!(" (as user \"{u}\")"))
                            .unwrap_or_default()
                    );
                    if let Some(note) = &h.note {
                        println!("  note: {note}");
                    }
                }
                Some(problem) => println!("HTTP check FAILED at {}: {problem}", h.url),
            },
            None => println!("HTTP check skipped: TLS failed"),
        }
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Problems })
}
