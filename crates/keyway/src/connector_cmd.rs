//! `keyway connector list|show|test|call|soap`: a keyway.toml → connectors → calls, with
//! the TLS diagnosis when a call cannot connect.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use keyway_connect::{
    CallError, CallRequest, Config, Connector, ConnectorDef, Kind, SoapBody, SoapError,
    SoapVersion, excerpt,
};
use keyway_tls::{Outcome as TestOutcome, TestTarget};
use serde_json::{Value, json};

use crate::Outcome;
use crate::cli::connector::{CallArgs, ConfigArg, ConnectorCommand, ListArgs, NameArgs, SoapArgs};
use crate::session::{block_on, context, open};

/// Runs a connector command.
pub fn run(command: ConnectorCommand) -> Result<Outcome> {
    block_on(async {
        match command {
            ConnectorCommand::List(args) => list(args).await,
            ConnectorCommand::Show(args) => show(args).await,
            ConnectorCommand::Test(args) => test(args).await,
            ConnectorCommand::Call(args) => call(args).await,
            ConnectorCommand::Soap(args) => soap(args).await,
            ConnectorCommand::Add(args) => crate::config_cmd::connector_add(args).await,
            ConnectorCommand::Remove(args) => crate::config_cmd::connector_remove(args).await,
        }
    })
}

/// The connectors of `--config`, else of `./keyway.toml` when there is one, else of
/// keyway's store.
pub(crate) async fn load_config(arg: &ConfigArg) -> Result<Config> {
    match arg.file() {
        Some(path) => load(&path),
        None => {
            let store_args = arg.store_args();
            // Not a reason to create a store: say where connectors can come from.
            let database = store_args.data.data_dir.join(keyway_store::DATABASE_FILE);
            if store_args.database.is_none() && !database.exists() {
                bail!(
                    "no keyway.toml here and no keyway store at {}: give --config FILE (or set KEYWAY_CONFIG), or --data-dir DIR / --database URL of a store (`keyway init` makes one, `keyway config import` fills it)",
                    database.display()
                );
            }
            let store = open(&store_args).await?;
            Ok(store.connector_config(&context(&store_args)).await?)
        }
    }
}

pub(crate) fn load(path: &std::path::Path) -> Result<Config> {
    if !path.exists() {
        bail!(
            "{}: no such file or directory (give --config FILE, or set KEYWAY_CONFIG)",
            path.display()
        );
    }
    Ok(Config::load(path)?)
}

/// What `list` and `show` say about a connector, without secrets.
fn summary(config: &Config, def: &ConnectorDef) -> Value {
    let profile = def.profile.as_deref().and_then(|p| config.profile_entry(p));
    // TLS versions are always a list of names in JSON ("TLS 1.2", "TLS 1.3").
    let versions = profile
        .map(|(_, policy)| policy.accepted())
        .unwrap_or_else(|| keyway_tls::TlsPolicy::default().accepted());
    let (truststores, keystore) = match profile {
        Some((entry, _)) => (entry.truststores.clone(), entry.keystore.clone()),
        None => (Vec::new(), None),
    };
    json!({
        "name": def.name,
        "kind": def.kind,
        "url": def.url_text.trim(),
        "file": def.file.display().to_string(),
        "profile": def.profile,
        "tls_versions": versions,
        "truststores": if truststores.is_empty() { json!(["system roots"]) } else { json!(truststores) },
        "keystore": keystore,
        "user": def.auth.as_ref().map(|(u, _)| u),
        "password": def.auth.as_ref().map(|(_, p)| p.describe()),
        "headers": def.headers.iter().map(|(n, v)| (n.to_string(), Value::String(v.to_str().unwrap_or("(binary)").to_string()))).collect::<serde_json::Map<_, _>>(),
        "timeout": humantime::format_duration(def.timeout).to_string(),
        "retries": def.retries,
        "redirects": def.redirects,
        "test_path": def.test_path,
        "soap_version": (def.kind == Kind::Soap).then_some(def.soap_version),
        "test_action": def.test_action,
        "unmapped_attributes": def.extra,
    })
}

async fn list(args: ListArgs) -> Result<Outcome> {
    let config = load_config(&args.config).await?;
    let rows: Vec<Value> = config.connectors().map(|c| summary(&config, c)).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Ok);
    }
    if rows.is_empty() {
        println!("no connectors in {}", args.config.source());
        return Ok(Outcome::Ok);
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        // A list of TLS versions reads as the policy prints it: "TLS 1.2–1.3".
        Value::Array(items) => items
            .iter()
            .filter_map(|i| {
                i.as_str()
                    .and_then(|n| keyway_tls::TlsVersion::parse(n).ok())
            })
            .collect::<keyway_tls::VersionSet>()
            .to_string(),
        other => other.to_string(),
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            [
                "name",
                "kind",
                "url",
                "profile",
                "tls_versions",
                "keystore",
                "user",
            ]
            .iter()
            .map(|k| text(&r[*k]))
            .collect()
        })
        .collect();
    print!(
        "{}",
        crate::output::columns(
            &[
                "NAME",
                "KIND",
                "URL",
                "PROFILE",
                "TLS",
                "CLIENT CERT",
                "USER"
            ],
            &table
        )
    );
    Ok(Outcome::Ok)
}

async fn show(args: NameArgs) -> Result<Outcome> {
    let config = load_config(&args.config).await?;
    let def = config.connector(&args.name).map_err(anyhow::Error::msg)?;
    let s = summary(&config, def);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(Outcome::Ok);
    }
    for (key, value) in s.as_object().into_iter().flatten() {
        let shown = match value {
            Value::Null => continue,
            Value::Object(m) if m.is_empty() => continue,
            Value::String(v) => v.clone(),
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        println!("{:<20} {shown}", format!("{}:", key.replace('_', " ")));
    }
    if !def.extra.is_empty() {
        println!(
            "note: {} imported attribute(s) keyway does not use are kept: {}",
            def.extra.len(),
            def.extra.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(Outcome::Ok)
}

async fn build(args_config: &ConfigArg, name: &str) -> Result<Connector> {
    let config = load_config(args_config).await?;
    let def = config.connector(name).map_err(anyhow::Error::msg)?.clone();
    Ok(Connector::new(&config, &def)?)
}

/// The TLS test with the connector's profile, against its host and port.
async fn diagnose(connector: &Connector) -> Result<TestOutcome> {
    let url = &connector.def().url;
    let target = TestTarget {
        host: url
            .host()
            .unwrap_or("")
            .trim_matches(['[', ']'])
            .to_string(),
        port: url.port_u16().unwrap_or(443),
        http_path: None,
    };
    let profile = connector.profile().clone();
    tokio::task::spawn_blocking(move || keyway_tls::test(&target, &profile))
        .await
        .context("the TLS test stopped")?
        .map_err(Into::into)
}

fn print_tls(url: &str, outcome: &TestOutcome, insecure: bool) {
    print!(
        "{}",
        crate::test_cmd::human(url, outcome, insecure, crate::output::color_wanted())
    );
}

/// A failed call without an HTTP answer: the error, then the TLS diagnosis.
async fn connection_failed(
    connector: &Connector,
    error: &CallError,
    json: bool,
) -> Result<Outcome> {
    let outcome = diagnose(connector).await?;
    let insecure = connector.profile().insecure;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "connector": connector.def().name,
                "error": error.to_string(),
                "tls": outcome.report(insecure),
            }))?
        );
    } else {
        println!("CALL FAILED: {error}");
        println!("TLS diagnosis of {}:", connector.def().url);
        print_tls(&connector.def().url.to_string(), &outcome, insecure);
    }
    Ok(Outcome::Problems)
}

fn is_transport(e: &CallError) -> bool {
    matches!(
        e,
        CallError::Connect { .. }
            | CallError::Timeout { .. }
            | CallError::Stalled { .. }
            | CallError::Http { .. }
    )
}

fn read_data(given: &str) -> Result<Vec<u8>> {
    match given.strip_prefix('@') {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path).with_context(|| format!("{path}: cannot read it")),
        None => Ok(given.as_bytes().to_vec()),
    }
}

fn tls_json(tls: &Option<std::sync::Arc<keyway_tls::ConnectionInfo>>) -> Value {
    match tls {
        Some(t) => json!({
            "address": t.address.to_string(),
            "version": t.version.to_string(),
            "cipher": t.cipher,
            "alpn": t.alpn,
            "backend": t.backend,
            "resumed": t.resumed,
        }),
        None => Value::Null,
    }
}

fn tls_line(tls: &Option<std::sync::Arc<keyway_tls::ConnectionInfo>>) -> String {
    match tls {
        Some(t) => format!(
            "{}, {}, {} via {}",
            t.version, t.cipher, t.address, t.backend
        ),
        None => "TLS details unknown".into(),
    }
}

fn headers_json(headers: &http::HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let v = Value::String(value.to_str().unwrap_or("(binary)").to_string());
        match map.get_mut(name.as_str()) {
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => *existing = Value::Array(vec![existing.clone(), v]),
            None => {
                map.insert(name.to_string(), v);
            }
        }
    }
    Value::Object(map)
}

fn body_json(body: &[u8]) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) => match serde_json::from_str::<Value>(text) {
            Ok(v) if text.trim_start().starts_with(['{', '[']) => v,
            _ => Value::String(text.to_string()),
        },
        Err(_) => json!({ "hex": hex(body) }),
    }
}

/// Binary bodies are rare in connector traffic; hex keeps them readable in JSON.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

async fn call(args: CallArgs) -> Result<Outcome> {
    let connector = build(&args.config, &args.name).await?;
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .with_context(|| format!("-X {}: not an HTTP method", args.method))?;
    // The TLS details are printed with the answer.
    let mut request = CallRequest::new(method, args.path.clone()).with_tls_details();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("-H {h:?}: write it as 'Name: value'"))?;
        request.headers.push((
            HeaderName::from_bytes(name.trim().as_bytes())
                .with_context(|| format!("-H {h:?}: \"{}\" is not a header name", name.trim()))?,
            HeaderValue::from_str(value.trim())
                .with_context(|| format!("-H {h:?}: the value cannot be sent in a header"))?,
        ));
    }
    if let Some(data) = &args.data {
        let body = read_data(data)?;
        let content_type = match &args.content_type {
            Some(t) => t.clone(),
            None => {
                let start = body.iter().find(|b| !b.is_ascii_whitespace());
                match start {
                    Some(b'{' | b'[') => "application/json".into(),
                    Some(b'<') => "application/xml".into(),
                    _ => "text/plain; charset=utf-8".into(),
                }
            }
        };
        request.headers.push((
            http::header::CONTENT_TYPE,
            HeaderValue::from_str(&content_type)
                .with_context(|| format!("--content-type {content_type:?}"))?,
        ));
        request.body = Bytes::from(body).into();
    }
    if args.json {
        return match connector.call(request).await {
            Ok(r) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "connector": connector.def().name,
                        "url": r.url.to_string(),
                        "status": r.status.as_u16(),
                        "headers": headers_json(&r.headers),
                        "body": body_json(&r.body),
                        "attempts": r.attempts,
                        "redirects": r.redirects,
                        "tls": tls_json(&r.tls),
                    }))?
                );
                Ok(exit_for(r.status))
            }
            Err(e) if is_transport(&e) => connection_failed(&connector, &e, true).await,
            Err(e) => Err(e.into()),
        };
    }
    let response = match connector.send(request).await {
        Ok(r) => r,
        Err(e) if is_transport(&e) => return connection_failed(&connector, &e, false).await,
        Err(e) => return Err(e.into()),
    };
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "HTTP {} from {} ({})",
        response.status,
        response.url,
        tls_line(&response.tls)
    )?;
    if args.include {
        for (name, value) in &response.headers {
            writeln!(err, "{name}: {}", value.to_str().unwrap_or("(binary)"))?;
        }
    }
    drop(err);
    let status = response.status;
    let mut body = response.body;
    let mut out = std::io::stdout().lock();
    while let Some(frame) = body.frame().await {
        // The partner broke off its answer (closed, or went silent past the
        // connector's timeout): a failure at the endpoint, exit 1.
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                out.flush()?;
                eprintln!(
                    "keyway: the answer from {} broke off: {}",
                    response.url,
                    anyhow::Error::from(e)
                        .chain()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(": ")
                );
                return Ok(Outcome::Problems);
            }
        };
        if let Some(data) = frame.data_ref() {
            out.write_all(data)?;
        }
    }
    out.flush()?;
    Ok(exit_for(status))
}

fn exit_for(status: StatusCode) -> Outcome {
    if status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Problems
    }
}

async fn soap(args: SoapArgs) -> Result<Outcome> {
    let connector = build(&args.config, &args.name).await?;
    let text = String::from_utf8(read_data(&args.body)?).context("--body is not UTF-8")?;
    let body = SoapBody::from_text(&text).context("--body")?;
    let version = args
        .version
        .as_deref()
        .map(SoapVersion::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let response = match connector
        .soap(&args.path, args.action.as_deref(), version, &body)
        .await
    {
        Ok(r) => r,
        Err(SoapError::Call(e)) if is_transport(&e) => {
            return connection_failed(&connector, &e, args.json).await;
        }
        Err(SoapError::NotSoap {
            status,
            content_type,
            why,
            excerpt,
        }) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "connector": connector.def().name,
                        "status": status.as_u16(),
                        "error": format!("not a SOAP answer: {why}"),
                        "content_type": content_type,
                        "excerpt": excerpt,
                    }))?
                );
            } else {
                println!("HTTP {status}: not a SOAP answer ({why}); content-type {content_type:?}");
                println!("body begins: {excerpt}");
            }
            return Ok(Outcome::Problems);
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "connector": connector.def().name,
                "status": response.status.as_u16(),
                "soap_version": response.version,
                "fault": response.fault,
                "body": if response.fault.is_none() { Value::String(response.body.clone()) } else { Value::Null },
                "headers": headers_json(&response.headers),
                "tls": tls_json(&response.tls),
            }))?
        );
    } else {
        eprintln!(
            "HTTP {} (SOAP {}, {})",
            response.status,
            match response.version {
                SoapVersion::V11 => "1.1",
                SoapVersion::V12 => "1.2",
            },
            tls_line(&response.tls)
        );
        match &response.fault {
            Some(f) => {
                println!("SOAP FAULT {}: {}", f.code, f.reason);
                if let Some(sub) = &f.subcode {
                    println!("  subcode: {sub}");
                }
                if let Some(node) = &f.node {
                    println!("  from: {node}");
                }
                if let Some(detail) = &f.detail {
                    println!("  detail: {detail}");
                }
            }
            None => println!("{}", response.body.trim()),
        }
    }
    Ok(
        if response.fault.is_none() && response.status.is_success() {
            Outcome::Ok
        } else {
            Outcome::Problems
        },
    )
}

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

async fn test(args: NameArgs) -> Result<Outcome> {
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
    if args.json {
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
