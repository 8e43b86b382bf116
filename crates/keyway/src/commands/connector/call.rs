//! `keyway connector call|soap`: one request through a connector, with the partner's
//! answer, and the TLS diagnosis when the connection fails.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use keyway_connect::{CallError, CallRequest, Connector, SoapBody, SoapError, SoapVersion};
use keyway_tls::TestOutcome;
use serde_json::{Value, json};

use super::{CallArgs, SoapArgs, build};
use crate::exit::Exit;
use crate::output;

pub(super) fn print_tls(url: &str, outcome: &TestOutcome, insecure: bool) {
    print!(
        "{}",
        crate::commands::test::human(url, outcome, insecure, crate::output::color_wanted())
    );
}

/// A failed call without an HTTP answer: the error, then the TLS diagnosis.
async fn connection_failed(connector: &Connector, error: &CallError, json: bool) -> Result<Exit> {
    let outcome = keyway_connect::diagnose(connector).await?;
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
    Ok(Exit::Problems)
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

pub(super) async fn call(args: CallArgs) -> Result<Exit> {
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
    if output::json() {
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
                return Ok(Exit::Problems);
            }
        };
        if let Some(data) = frame.data_ref() {
            out.write_all(data)?;
        }
    }
    out.flush()?;
    Ok(exit_for(status))
}

fn exit_for(status: StatusCode) -> Exit {
    if status.is_success() {
        Exit::Ok
    } else {
        Exit::Problems
    }
}

pub(super) async fn soap(args: SoapArgs) -> Result<Exit> {
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
            return connection_failed(&connector, &e, output::json()).await;
        }
        Err(SoapError::NotSoap {
            status,
            content_type,
            why,
            excerpt,
        }) => {
            if output::json() {
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
            return Ok(Exit::Problems);
        }
        Err(e) => return Err(e.into()),
    };
    if output::json() {
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
            Exit::Ok
        } else {
            Exit::Problems
        },
    )
}
