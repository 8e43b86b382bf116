//! REST calls through connectors against real HTTPS servers on 127.0.0.1: an in-process
//! hyper server over rustls (with and without client certificates) and `openssl s_server`
//! for a TLS 1.1-only partner.

use std::path::Path;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use keyway_connect::{CallBody, CallError, CallRequest, Config, Connector};
use keyway_testkit::{
    HttpsOptions, HttpsServer, KeyKind, OpensslServer, RustlsServer, ServerOptions, TestChain,
    client_p12,
};

/// Writes `keyway.toml` (and the root as `trust.pem`) into `dir` and loads it.
fn config(dir: &Path, chain: &TestChain, toml: &str) -> Config {
    std::fs::write(dir.join("trust.pem"), &chain.root_pem).unwrap();
    let path = dir.join("keyway.toml");
    std::fs::write(&path, toml).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn connector(config: &Config, name: &str) -> Connector {
    Connector::new(config, config.connector(name).unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

fn profile(name: &str) -> String {
    format!(
        r#"
[truststores.partners]
path = "trust.pem"

[profiles.partner]
truststores = ["partners"]
server_name = "{name}"
"#
    )
}

/// A fresh partner server and a connector to it (profile `partner`) with `settings`
/// (TOML lines) added.
fn partner(settings: &str) -> (tempfile::TempDir, HttpsServer, Connector) {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let orders = orders_at(dir.path(), &chain, &server.url(), settings);
    (dir, server, orders)
}

/// The same with the odd partner, [`RustlsServer`] (stalls, trickles, closes).
fn rustls_partner(settings: &str) -> (tempfile::TempDir, RustlsServer, Connector) {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let url = format!("https://127.0.0.1:{}", server.port);
    let orders = orders_at(dir.path(), &chain, &url, settings);
    (dir, server, orders)
}

/// Connector `orders` to `url` over profile `partner`, with `settings` added.
fn orders_at(dir: &Path, chain: &TestChain, url: &str, settings: &str) -> Connector {
    let config = config(
        dir,
        chain,
        &format!(
            "{}\n[connectors.orders]\nkind = \"rest\"\nurl = \"{url}\"\nprofile = \"partner\"\n{settings}\n",
            profile("orders.test"),
        ),
    );
    connector(&config, "orders")
}

fn echo(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn methods_bodies_and_default_headers_reach_the_partner() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let config = config(
        dir.path(),
        &chain,
        &format!(
            r#"{}
[connectors.orders]
kind = "rest"
url = "{}/api"
profile = "partner"
headers = {{ "X-Tenant" = "acme" }}
"#,
            profile("orders.test"),
            server.url()
        ),
    );
    let orders = connector(&config, "orders");

    let r = orders
        .call(CallRequest::get("/orders?status=open").with_tls_details())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let e = echo(&r.body);
    assert_eq!(
        (
            e["method"].as_str(),
            e["path"].as_str(),
            e["query"].as_str()
        ),
        (Some("GET"), Some("/api/orders"), Some("status=open"))
    );
    assert_eq!(e["headers"]["x-tenant"], "acme");
    let tls = r.tls.expect("TLS details");
    assert_eq!(
        tls.alpn.as_deref(),
        None,
        "the test server does not do ALPN"
    );
    assert_eq!(tls.backend, keyway_tls::TlsBackend::Rustls);

    for (method, content_type, body) in [
        (Method::POST, "application/json", r#"{"id":42}"#),
        (Method::PUT, "application/xml", "<order id=\"42\"/>"),
        (
            Method::PATCH,
            "application/x-www-form-urlencoded",
            "status=shipped&by=me",
        ),
        (Method::DELETE, "text/plain", ""),
    ] {
        let r = orders
            .call(
                CallRequest::new(method.clone(), "/orders/42")
                    .body(content_type, body)
                    .header(
                        HeaderName::from_static("x-tenant"),
                        HeaderValue::from_static("override"),
                    ),
            )
            .await
            .unwrap();
        let e = echo(&r.body);
        assert_eq!(e["method"], method.as_str());
        assert_eq!(e["body"], body);
        assert_eq!(e["headers"]["content-type"], content_type);
        assert_eq!(
            e["headers"]["x-tenant"], "override",
            "a request header replaces the default"
        );
    }
}

#[tokio::test]
async fn errors_timeouts_and_retries() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let config = config(
        dir.path(),
        &chain,
        &format!(
            r#"{}
[connectors.plain]
kind = "rest"
url = "{url}"
profile = "partner"
timeout = "300ms"

[connectors.patient]
kind = "rest"
url = "{url}"
profile = "partner"
retries = 2
"#,
            profile("orders.test"),
            url = server.url()
        ),
    );
    let plain = connector(&config, "plain");
    let r = plain.call(CallRequest::get("/status/500")).await.unwrap();
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&r.body).contains("order-service says no"));

    let e = plain
        .call(CallRequest::get("/slow/3000"))
        .await
        .unwrap_err();
    assert!(matches!(e, CallError::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("no response within 300 ms"), "{e}");

    // A POST is never retried; a GET is, after a 503.
    let patient = connector(&config, "patient");
    let r = patient
        .call(CallRequest::new(Method::POST, "/flaky").body("text/plain", "x"))
        .await
        .unwrap();
    assert_eq!((r.status, r.attempts), (StatusCode::SERVICE_UNAVAILABLE, 1));
    let r = patient.call(CallRequest::get("/flaky")).await.unwrap();
    assert_eq!(
        (r.status, r.attempts),
        (StatusCode::OK, 1),
        "the flaky endpoint failed once already"
    );
}

#[tokio::test]
async fn the_timeout_runs_per_request_on_a_reused_connection() {
    let (_dir, server, orders) = partner(r#"timeout = "1s""#);
    // Two answers of 0.6 s back to back on one connection: the second is still waiting
    // when the first one's deadline passes, and must not be cut off by it.
    for _ in 0..2 {
        let r = orders.call(CallRequest::get("/slow/600")).await.unwrap();
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!((server.full_handshakes(), server.requests()), (1, 2));
    // A late answer on that connection is a timeout, and not before its own second.
    let start = std::time::Instant::now();
    let e = orders
        .call(CallRequest::get("/slow/5000"))
        .await
        .unwrap_err();
    assert!(matches!(e, CallError::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("no response within 1000 ms"), "{e}");
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));
    // The late connection is closed; the next call gets a new one and its answer.
    let r = orders.call(CallRequest::get("/after")).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(server.resumed_handshakes(), 1);
}

#[tokio::test]
async fn an_answer_that_stops_coming_is_cut_off_one_that_trickles_is_not() {
    let (_dir, _server, orders) = rustls_partner(r#"timeout = "1s""#);
    // 25 bytes over 2.5 s: longer than two timeouts, but never a second without one.
    let r = orders.call(CallRequest::get("/trickle")).await.unwrap();
    assert_eq!(r.body, "........................."[..]);
    // The head and 4 bytes, then silence: cut off, not left waiting for the partner to
    // close 5 s later (which would be an HTTP error, not this).
    let e = orders.call(CallRequest::get("/stall")).await.unwrap_err();
    assert!(matches!(e, CallError::Stalled { .. }), "{e}");
    assert!(e.to_string().contains("stopped in the middle"), "{e}");
}

#[tokio::test]
async fn a_kept_connection_the_partner_closes_under_a_request_is_replaced_unseen() {
    // RustlsServer's /once answers, keeps the connection, and closes it unanswered when
    // the next request comes: what a client sees when a partner closes a kept
    // connection just as it is used again (idle timeouts; servers that close after an
    // answer without saying so, the close arriving after the client sent). The request
    // must go again on a new connection, with no retry configured and whatever its
    // method, and not count as an attempt.
    let (_dir, _server, orders) = rustls_partner("");
    for i in 0..20 {
        let request = match i % 2 {
            0 => CallRequest::get("/once"),
            _ => CallRequest::new(Method::POST, "/once").body("text/plain", "order"),
        };
        let r = orders
            .call(request)
            .await
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!((r.status, r.attempts), (StatusCode::OK, 1), "call {i}");
        assert_eq!(r.body, "ok");
    }
}

#[tokio::test]
async fn a_timeout_too_long_to_count_is_no_timeout_not_a_panic() {
    // humantime reads this (about 1.6e19 s); added to a clock reading it overflows.
    let (_dir, _server, orders) = partner(r#"timeout = "500000000000y""#);
    let r = orders.call(CallRequest::get("/status/200")).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let r = orders.call(CallRequest::get("/slow/10")).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
}

/// A body that sends one piece and then nothing, never ending.
struct OnePieceThenSilence(bool);

impl hyper::body::Body for OnePieceThenSilence {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Pending; // never woken: a caller gone quiet
        }
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from_static(
            b"first piece",
        )))))
    }
}

#[tokio::test]
async fn an_upload_whose_source_goes_quiet_times_out() {
    let (_dir, server, orders) = partner(r#"timeout = "300ms""#);
    // A gateway passing on a caller's upload when the caller stops sending: the partner
    // waits for the rest, nothing moves on the connection, and the call still ends.
    let mut upload = CallRequest::new(Method::POST, "/orders");
    upload.body = CallBody::stream(OnePieceThenSilence(false));
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), orders.call(upload))
        .await
        .expect("the call ends")
        .unwrap_err();
    assert!(matches!(e, CallError::Timeout { .. }), "{e}");
    assert_eq!(server.requests(), 1, "the partner had the request");
}

/// A body that never ends.
struct Endless;

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from_static(
            &CHUNK,
        )))))
    }
}

#[tokio::test]
async fn an_upload_the_partner_stops_reading_times_out() {
    let (_dir, server, orders) = partner(r#"timeout = "300ms""#);
    // The partner answers after 5 s without reading: the upload stalls once the socket
    // buffers are full, and the stalled write runs into the timeout (without the check on
    // writes, the call would end with the partner's 200).
    let mut upload = CallRequest::new(Method::POST, "/hold/5000");
    upload.body = CallBody::stream(Endless);
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), orders.call(upload))
        .await
        .expect("the call ends")
        .unwrap_err();
    assert!(matches!(e, CallError::Timeout { .. }), "{e}");
    assert_eq!(server.requests(), 1, "the partner had the request");
}

#[tokio::test]
async fn a_streamed_body_is_sent_once_even_when_a_retry_is_allowed() {
    let (_dir, server, patient) = partner("retries = 2");
    // A streamed body is gone once sent: even an idempotent PUT is not tried again.
    let mut put = CallRequest::new(Method::PUT, "/flaky");
    put.body = CallBody::stream(Full::new(Bytes::from_static(b"once")));
    let r = patient.call(put).await.unwrap();
    assert_eq!((r.status, r.attempts), (StatusCode::SERVICE_UNAVAILABLE, 1));
    assert_eq!(server.requests(), 1);
    // Bytes in hand are sent again.
    let r = patient.call(CallRequest::get("/flaky")).await.unwrap();
    assert_eq!((r.status, r.attempts), (StatusCode::OK, 1));
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn a_get_after_a_503_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let config = config(
        dir.path(),
        &chain,
        &format!(
            "{}\n[connectors.patient]\nkind = \"rest\"\nurl = \"{}\"\nprofile = \"partner\"\nretries = 2\n",
            profile("orders.test"),
            server.url()
        ),
    );
    let r = connector(&config, "patient")
        .call(CallRequest::get("/flaky"))
        .await
        .unwrap();
    assert_eq!((r.status, r.attempts), (StatusCode::OK, 2));
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn basic_auth_is_sent_and_a_wrong_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = HttpsServer::start(
        &chain,
        HttpsOptions {
            basic_auth: Some(("svc-orders".into(), "s3cret!".into())),
            ..HttpsOptions::default()
        },
    );
    std::fs::write(dir.path().join("good.pass"), "s3cret!\n").unwrap();
    let config = config(
        dir.path(),
        &chain,
        &format!(
            r#"{}
[connectors.good]
kind = "rest"
url = "{url}"
profile = "partner"
auth = {{ username = "svc-orders", password = {{ file = "good.pass" }} }}

[connectors.bad]
kind = "rest"
url = "{url}"
profile = "partner"
auth = {{ username = "svc-orders", password = "wrong" }}

[connectors.unset]
kind = "rest"
url = "{url}"
auth = {{ username = "svc-orders", password = {{ env = "KEYWAY_TEST_UNSET_PASSWORD_VARIABLE" }} }}
"#,
            profile("orders.test"),
            url = server.url()
        ),
    );
    let r = connector(&config, "good")
        .call(CallRequest::get("/auth/me"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        echo(&r.body)["headers"]["authorization"]
            .as_str()
            .unwrap()
            .starts_with("Basic ")
    );
    let bad = connector(&config, "bad");
    let r = bad.call(CallRequest::get("/auth/me")).await.unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        !format!("{bad:?}").contains("wrong"),
        "no password in Debug"
    );
    let e = Connector::new(&config, config.connector("unset").unwrap()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("keyway.toml")
            && text.contains("connector \"unset\"")
            && text.contains("auth.password")
            && text.contains("KEYWAY_TEST_UNSET_PASSWORD_VARIABLE is not set"),
        "{text}"
    );
}

#[tokio::test]
async fn a_stream_of_calls_shares_one_connection_and_a_new_one_resumes_the_session() {
    let (_dir, server, orders) = partner("");
    for i in 0..20 {
        let r = orders
            .call(CallRequest::get(format!("/orders/{i}")))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(
        (
            server.full_handshakes(),
            server.resumed_handshakes(),
            server.requests()
        ),
        (1, 0, 20)
    );

    // The server closes after this answer; the next call opens a connection and resumes.
    orders
        .call(
            CallRequest::get("/bye")
                .header(http::header::CONNECTION, HeaderValue::from_static("close")),
        )
        .await
        .unwrap();
    let r = orders
        .call(CallRequest::get("/again").with_tls_details())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (server.full_handshakes(), server.resumed_handshakes()),
        (1, 1)
    );
    assert!(r.tls.unwrap().resumed);
    // Calls that ask for TLS details and calls that do not share the connections; only
    // the ones that ask carry them.
    let r = orders
        .call(CallRequest::get("/again").with_tls_details())
        .await
        .unwrap();
    assert!(r.tls.is_some_and(|tls| tls.resumed));
    let r = orders.call(CallRequest::get("/plain")).await.unwrap();
    assert!(r.tls.is_none(), "{:?}", r.tls);
    assert_eq!(
        (
            server.full_handshakes(),
            server.resumed_handshakes(),
            server.requests()
        ),
        (1, 1, 24),
        "the connection opened after /bye serves the plain call too"
    );
}

#[tokio::test]
async fn a_connection_is_lent_again_only_after_its_answer_was_read_to_the_end() {
    let (_dir, server, orders) = partner("");
    let counts = || (server.full_handshakes(), server.resumed_handshakes());
    // The request line has the path (origin form) and Host the partner's origin.
    let r = orders
        .call(CallRequest::get("/orders?open=1"))
        .await
        .unwrap();
    let seen = echo(&r.body);
    assert_eq!(seen["target"], "/orders?open=1", "{seen}");
    let origin = server.url();
    let origin = origin.trim_start_matches("https://").trim_end_matches('/');
    assert_eq!(seen["headers"]["host"], origin, "{seen}");
    // A Host the call sets itself (a virtual host behind the address) is kept.
    let r = orders
        .call(CallRequest::get("/vhost").header(
            http::header::HOST,
            HeaderValue::from_static("api.orders.test"),
        ))
        .await
        .unwrap();
    assert_eq!(echo(&r.body)["headers"]["host"], "api.orders.test");
    assert_eq!(counts(), (1, 0));

    // An answer dropped unread takes its connection with it: the next call resumes
    // the session on a new one.
    let unread = orders.send(CallRequest::get("/orders/1")).await.unwrap();
    drop(unread);
    let r = orders.call(CallRequest::get("/orders/2")).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(counts(), (1, 1));
    // Read to its end, it comes back and serves the next call.
    let mut read = orders.send(CallRequest::get("/orders/3")).await.unwrap();
    while read.body.frame().await.is_some() {}
    let r = orders.call(CallRequest::get("/orders/4")).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(counts(), (1, 1));
    assert_eq!(server.requests(), 6);
}

#[tokio::test]
async fn redirects_stay_within_the_origin_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let same = format!("{}/moved-here", server.url());
    // Same server, another authority: a different origin ("localhost" may resolve to ::1
    // first; the client tries each address in turn).
    let other = format!("https://localhost:{}/elsewhere", server.port);
    let config = config(
        dir.path(),
        &chain,
        &format!(
            r#"{}
[connectors.strict]
kind = "rest"
url = "{url}"
profile = "partner"
auth = {{ username = "u", password = "p" }}

[connectors.open]
kind = "rest"
url = "{url}"
profile = "partner"
redirects = "any"
auth = {{ username = "u", password = "p" }}

[connectors.none]
kind = "rest"
url = "{url}"
profile = "partner"
redirects = "none"
"#,
            profile("orders.test"),
            url = server.url()
        ),
    );
    let strict = connector(&config, "strict");
    let r = strict
        .call(CallRequest::get(format!("/redirect?to={same}")))
        .await
        .unwrap();
    assert_eq!(echo(&r.body)["path"], "/moved-here");
    assert_eq!(r.redirects, vec![same.clone()]);
    let r = strict
        .call(
            CallRequest::new(Method::POST, format!("/redirect307?to={same}"))
                .body("text/plain", "keep me"),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            echo(&r.body)["method"].as_str(),
            echo(&r.body)["body"].as_str()
        ),
        (Some("POST"), Some("keep me"))
    );
    // A streamed body cannot be sent twice: the 307 itself is the answer.
    let mut streamed = CallRequest::new(Method::POST, format!("/redirect307?to={same}"));
    streamed.body = CallBody::stream(Full::new(Bytes::from_static(b"keep me")));
    let r = strict.call(streamed).await.unwrap();
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT);
    assert!(r.redirects.is_empty());
    let e = strict
        .call(CallRequest::get(format!("/redirect?to={other}")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("redirects = \"any\""), "{e}");

    let r = connector(&config, "open")
        .call(CallRequest::get(format!("/redirect?to={other}")))
        .await
        .unwrap();
    let e = echo(&r.body);
    assert_eq!(e["path"], "/elsewhere");
    assert!(
        e["headers"].get("authorization").is_none(),
        "credentials stay with their origin: {e}"
    );

    let r = connector(&config, "none")
        .call(CallRequest::get(format!("/redirect?to={same}")))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::FOUND);
}

#[tokio::test]
async fn two_way_tls_presents_the_keystore_identity() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let client_chain = TestChain::new("acme-client", KeyKind::EcP256);
    let server = HttpsServer::start(
        &chain,
        HttpsOptions {
            tls: ServerOptions {
                client_ca_pem: Some(client_chain.root_pem.clone()),
                ..ServerOptions::default()
            },
            ..HttpsOptions::default()
        },
    );
    let p12 = client_p12(&client_chain, dir.path());
    let config = config(
        dir.path(),
        &chain,
        &format!(
            r#"{}
[keystores.acme]
path = "{p12}"
password = "changeit"

[profiles.mtls]
truststores = ["partners"]
keystore = "acme"
server_name = "orders.test"

[connectors.with-cert]
kind = "rest"
url = "{url}"
profile = "mtls"

[connectors.without-cert]
kind = "rest"
url = "{url}"
profile = "partner"
"#,
            profile("orders.test"),
            p12 = p12.display(),
            url = server.url()
        ),
    );
    let r = connector(&config, "with-cert")
        .call(CallRequest::get("/"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    // TLS 1.3: the server refuses after the handshake, so the failure shows on the read.
    let e = connector(&config, "without-cert")
        .call(CallRequest::get("/"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, CallError::Http { .. } | CallError::Connect { .. }),
        "{e}"
    );
}

#[tokio::test]
async fn a_tls_1_1_partner_is_called_through_the_legacy_backend() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("old-bank", KeyKind::EcP256);
    let server = OpensslServer::start(
        &chain,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
    );
    let config = config(
        dir.path(),
        &chain,
        &format!(
            r#"
[truststores.bank]
path = "trust.pem"

[profiles.legacy]
truststores = ["bank"]
server_name = "old-bank.test"
versions = ["TLS 1.0", "TLS 1.1"]

[connectors.bank]
kind = "rest"
url = "https://127.0.0.1:{}"
profile = "legacy"
"#,
            server.port
        ),
    );
    let r = connector(&config, "bank")
        .call(CallRequest::get("/").with_tls_details())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let tls = r.tls.unwrap();
    assert_eq!(
        (tls.backend, tls.version),
        (
            keyway_tls::TlsBackend::OpensslLegacy,
            keyway_tls::TlsVersion::Tls11
        )
    );
}

#[test]
fn every_configuration_problem_is_named_with_file_item_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyway.toml");
    std::fs::write(
        &path,
        r#"
[truststores.partners]
path = "trust.pem"
format = "zip"

[profiles.p]
truststores = ["partners", "missing"]
lowest_version = "TLS 0.9"
handshake_timeout = "soon"

[connectors.a]
kind = "ftp"
url = "http://partner.example"
profile = "nope"

[connectors.b]
kind = "rest"
url = "https://user:pw@partner.example/api"
headers = { "Bad Header" = "x" }
"#,
    )
    .unwrap();
    let errors = Config::load(&path).unwrap_err();
    let text = errors.to_string();
    for expected in [
        "truststore \"partners\", field format: unknown store type \"zip\"",
        "profile \"p\", field lowest_version",
        "profile \"p\", field handshake_timeout: \"soon\" is not a duration",
        "profile \"p\", field truststores: no truststore \"missing\" is defined; defined: partners",
        "connector \"a\", field kind: \"ftp\" is not a connector kind",
        "connector \"a\", field url: \"http://partner.example\" is plain http",
        "connector \"a\", field profile: no profile \"nope\"",
        "connector \"b\", field url: \"partner.example\": credentials do not belong in the URL",
        "connector \"b\", field headers: \"Bad Header\" is not a valid header name",
    ] {
        assert!(text.contains(expected), "missing «{expected}» in:\n{text}");
    }
    assert!(
        !text.contains("pw@"),
        "the URL's password is not echoed: {text}"
    );
    assert!(errors.0.iter().all(|e| e.file == path));

    // Syntax and unknown fields: the file and the line.
    std::fs::write(
        &path,
        "[connectors.a]\nkind = \"rest\"\nurl = \"https://x.example\"\nretry = 3\n",
    )
    .unwrap();
    let text = Config::load(&path).unwrap_err().to_string();
    assert!(
        text.contains("keyway.toml")
            && text.contains("unknown field `retry`")
            && text.contains("line 4"),
        "{text}"
    );

    // A directory of files: names are unique across them.
    let d = dir.path().join("conf.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(
        d.join("a.toml"),
        "[connectors.x]\nkind = \"rest\"\nurl = \"https://a.example\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("b.toml"),
        "[connectors.x]\nkind = \"rest\"\nurl = \"https://b.example\"\n",
    )
    .unwrap();
    let text = Config::load(&d).unwrap_err().to_string();
    assert!(
        text.contains("b.toml: connector \"x\"")
            && text.contains("already defined in")
            && text.contains("a.toml"),
        "{text}"
    );
    std::fs::remove_file(d.join("b.toml")).unwrap();
    std::fs::write(
        d.join("b.toml"),
        "[connectors.y]\nkind = \"soap\"\nurl = \"https://b.example/ws\"\nsoap_version = \"1.2\"\n",
    )
    .unwrap();
    let config = Config::load(&d).unwrap();
    assert_eq!(
        config
            .connectors()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["x", "y"]
    );
}
