//! An in-process HTTPS server (hyper over tokio-rustls) on 127.0.0.1 for connector tests:
//! REST echo, status codes, slow answers, redirects, basic auth, a flaky endpoint, SOAP
//! 1.1/1.2 with faults and a WSDL; it counts full and resumed handshakes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::{ServerOptions, TestChain};

/// What the HTTPS server does beyond its TLS options.
#[derive(Clone, Default)]
pub struct HttpsOptions {
    /// TLS: versions, intermediate, client CA.
    pub tls: ServerOptions,
    /// The user name and password `/auth/…` paths require.
    pub basic_auth: Option<(String, String)>,
}

/// Handshakes and requests the server has seen.
#[derive(Debug, Default)]
pub struct Counters {
    /// Full TLS handshakes.
    pub full_handshakes: AtomicUsize,
    /// Resumed TLS handshakes.
    pub resumed_handshakes: AtomicUsize,
    /// HTTP requests.
    pub requests: AtomicUsize,
    /// Requests to `/flaky` so far.
    flaky: AtomicUsize,
}

/// The server; stops when dropped.
///
/// Routes: `/status/NNN` answers NNN; `…/slow/MS` waits MS milliseconds, then 200;
/// `…/hold/MS` does too without reading the request body (a partner that stops reading);
/// `/redirect?to=URL` (302) and `/redirect307?to=URL` (307) redirect; `/auth/…` needs
/// the configured basic credentials (401 with a challenge otherwise); `/flaky` answers
/// 503 to its first request and 200 after; `/soap` is a SOAP endpoint (1.1 or 1.2 by
/// Content-Type) that answers a Fault when the body has a `Fail` element, and its WSDL for
/// `GET ?wsdl`; anything else echoes the request as JSON (method, path, query, headers,
/// body).
pub struct HttpsServer {
    /// The port.
    pub port: u16,
    /// What it has seen.
    pub counters: Arc<Counters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpsServer {
    /// Starts a server presenting `chain`'s leaf.
    pub fn start(chain: &TestChain, options: HttpsOptions) -> Self {
        let config = Arc::new(crate::server_config(chain, &options.tls));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local address").port();
        let counters = Arc::new(Counters::default());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = counters.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                let options = Arc::new(options);
                loop {
                    let tcp = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok((tcp, _)) => tcp,
                            Err(_) => continue,
                        },
                    };
                    let acceptor = acceptor.clone();
                    let counters = shared.clone();
                    let options = options.clone();
                    // As real servers do; without it the handshake's last flight waits for
                    // the client's delayed ACK (40 ms on Linux).
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let kind = tls.get_ref().1.handshake_kind();
                        if kind == Some(rustls::HandshakeKind::Resumed) {
                            counters.resumed_handshakes.fetch_add(1, Ordering::SeqCst);
                        } else {
                            counters.full_handshakes.fetch_add(1, Ordering::SeqCst);
                        }
                        let service = hyper::service::service_fn(move |request| {
                            handle(request, counters.clone(), options.clone())
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
            runtime.shutdown_timeout(Duration::from_millis(100));
        });
        HttpsServer {
            port,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Full handshakes so far.
    pub fn full_handshakes(&self) -> usize {
        self.counters.full_handshakes.load(Ordering::SeqCst)
    }

    /// Resumed handshakes so far.
    pub fn resumed_handshakes(&self) -> usize {
        self.counters.resumed_handshakes.load(Ordering::SeqCst)
    }

    /// Requests so far.
    pub fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("response")
}

async fn handle(
    request: Request<Incoming>,
    counters: Arc<Counters>,
    options: Arc<HttpsOptions>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    if let Some((_, ms)) = parts.uri.path().split_once("/hold/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1000))).await;
        return Ok(reply(200, "text/plain", "held"));
    }
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let params: HashMap<&str, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k, percent_decode(v)))
        .collect();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };

    if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(500);
        return Ok(reply(
            code,
            "text/html",
            format!("<html><body><h1>Error {code}</h1><p>order-service says no</p></body></html>"),
        ));
    }
    // Under any prefix, so a connector whose base URL has a path reaches it too.
    if let Some((_, ms)) = path.split_once("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1000))).await;
        return Ok(reply(200, "text/plain", "slow"));
    }
    if path == "/redirect" || path == "/redirect307" {
        let status = if path == "/redirect" { 302 } else { 307 };
        return Ok(Response::builder()
            .status(status)
            .header("location", params.get("to").cloned().unwrap_or_default())
            .body(Full::new(Bytes::new()))
            .expect("response"));
    }
    if path.starts_with("/auth/") {
        use base64ct::Encoding;
        let wanted = options.basic_auth.as_ref().map(|(user, password)| {
            format!(
                "Basic {}",
                base64ct::Base64::encode_string(format!("{user}:{password}").as_bytes())
            )
        });
        if wanted.as_deref() != Some(header("authorization").as_str()) {
            return Ok(Response::builder()
                .status(401)
                .header("www-authenticate", "Basic realm=\"partner-api\"")
                .body(Full::new(Bytes::from_static(b"who are you?")))
                .expect("response"));
        }
    }
    // Under any prefix: an answer with an end-to-end header, two repeated ones, and
    // headers a proxy must not pass on.
    if path.ends_with("/headers-out") {
        return Ok(Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .header("x-partner-trace", "abc123")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .header("keep-alive", "timeout=5")
            .header("proxy-authenticate", "Basic realm=\"partner-proxy\"")
            .header("x-keyway-user", "mallory")
            .body(Full::new(Bytes::from_static(b"headers")))
            .expect("response"));
    }
    if path == "/flaky" && counters.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
        return Ok(reply(503, "text/plain", "try again"));
    }
    if path == "/soap" {
        return Ok(soap(&parts, &query, &body));
    }
    // A header sent several times shows as its values joined with ", ".
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .keys()
        .map(|k| {
            let values: Vec<&str> = parts
                .headers
                .get_all(k)
                .iter()
                .map(|v| v.to_str().unwrap_or(""))
                .collect();
            (
                k.as_str().to_string(),
                serde_json::Value::String(values.join(", ")),
            )
        })
        .collect();
    let echo = serde_json::json!({
        "method": parts.method.as_str(),
        // The request line's target as sent: "/a?b" (origin form) or a whole URL.
        "target": parts.uri.to_string(),
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    Ok(reply(200, "application/json", echo.to_string()))
}

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

fn soap(parts: &hyper::http::request::Parts, query: &str, body: &[u8]) -> Response<Full<Bytes>> {
    if parts.method == hyper::Method::GET && query.eq_ignore_ascii_case("wsdl") {
        return reply(
            200,
            "text/xml",
            r#"<?xml version="1.0"?><definitions xmlns="http://schemas.xmlsoap.org/wsdl/" name="OrderService"/>"#,
        );
    }
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let action = parts
        .headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(|a| a.trim_matches('"').to_string())
        .or_else(|| {
            content_type
                .split(';')
                .find_map(|p| p.trim().strip_prefix("action="))
                .map(|a| a.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    let v12 = content_type.starts_with("application/soap+xml");
    let (ns, ct) = if v12 {
        (SOAP12, "application/soap+xml; charset=utf-8")
    } else {
        (SOAP11, "text/xml; charset=utf-8")
    };
    let text = String::from_utf8_lossy(body);
    if !text.contains(ns) {
        return reply(
            400,
            "text/plain",
            format!("not a SOAP {} envelope", if v12 { "1.2" } else { "1.1" }),
        );
    }
    if text.contains("<Fail") || text.contains(":Fail") {
        let fault = if v12 {
            format!(
                r#"<env:Envelope xmlns:env="{ns}"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text xml:lang="en">Order 42 does not exist</env:Text></env:Reason><env:Detail><e:OrderError xmlns:e="urn:orders">unknown order 42</e:OrderError></env:Detail></env:Fault></env:Body></env:Envelope>"#
            )
        } else {
            format!(
                r#"<soap:Envelope xmlns:soap="{ns}"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Order 42 does not exist</faultstring><detail><e:OrderError xmlns:e="urn:orders">unknown order 42</e:OrderError></detail></soap:Fault></soap:Body></soap:Envelope>"#
            )
        };
        return reply(500, ct, fault);
    }
    reply(
        200,
        ct,
        format!(
            r#"<?xml version="1.0"?><s:Envelope xmlns:s="{ns}"><s:Body><o:EchoResponse xmlns:o="urn:orders"><o:Action>{action}</o:Action><o:Length>{}</o:Length></o:EchoResponse></s:Body></s:Envelope>"#,
            body.len()
        ),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
