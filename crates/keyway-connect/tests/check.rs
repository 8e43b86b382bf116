//! The connector check (`keyway connector test`, the console's Test connectivity) against
//! real HTTPS servers on 127.0.0.1: what it reports for a working connector, a refused
//! login, an HTTP error, a SOAP operation, and a TLS failure, and the JSON it becomes.

use std::path::Path;

use keyway_connect::{CheckRequest, Config, Connector, HttpProblem, check};
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, TestChain};
use keyway_tls::TestOutcome;

/// Connector `partner` (kind, URL and extra lines given) trusting `chain`'s root.
fn connector(dir: &Path, chain: &TestChain, kind: &str, url: &str, extra: &str) -> Connector {
    std::fs::write(dir.join("trust.pem"), &chain.root_pem).unwrap();
    let toml = format!(
        r#"
[truststores.partners]
path = "trust.pem"

[profiles.partner]
truststores = ["partners"]
server_name = "partner.test"

[connectors.partner]
kind = "{kind}"
url = "{url}"
profile = "partner"
{extra}
"#
    );
    let path = dir.join("keyway.toml");
    std::fs::write(&path, toml).unwrap();
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    Connector::new(&config, config.connector("partner").unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

fn server(options: HttpsOptions) -> (tempfile::TempDir, TestChain, HttpsServer) {
    let chain = TestChain::new("partner", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, options);
    (tempfile::tempdir().unwrap(), chain, server)
}

#[tokio::test]
async fn a_working_connector_passes_with_what_was_sent_and_answered() {
    let (dir, chain, server) = server(HttpsOptions::default());
    let url = format!("{}/api", server.url());
    let partner = connector(dir.path(), &chain, "rest", &url, "test_path = \"/ping\"");
    let checked = check(&partner).await.unwrap();
    assert!(checked.ok(), "{}", serde_json::to_string(&checked).unwrap());
    assert!(matches!(checked.tls, TestOutcome::Connected { .. }));
    let http = checked.http.as_ref().unwrap();
    assert_eq!(http.request, CheckRequest::Get);
    assert_eq!(http.status, Some(200));
    assert!(http.url.ends_with("/api/ping"), "{}", http.url);
    let json = serde_json::to_value(&checked).unwrap();
    assert_eq!(json["connector"], "partner");
    assert_eq!(json["ok"], true);
    assert_eq!(json["http"]["status"], 200);
    assert!(json["http"]["problem"].is_null());
    assert!(json["tls"].is_object(), "{json}");
}

#[tokio::test]
async fn a_refused_login_names_the_user_and_the_connector() {
    let options = HttpsOptions {
        basic_auth: Some(("svc".into(), "right".into())),
        ..HttpsOptions::default()
    };
    let (dir, chain, server) = server(options);
    let url = format!("{}/auth", server.url());
    let extra = "test_path = \"/orders\"\nauth = { username = \"svc\", password = \"wrong\" }";
    let partner = connector(dir.path(), &chain, "rest", &url, extra);
    let checked = check(&partner).await.unwrap();
    assert!(!checked.ok());
    let problem = checked.http.as_ref().unwrap().problem.clone().unwrap();
    assert_eq!(
        problem,
        HttpProblem::Unauthorized {
            connector: "partner".into(),
            status: 401,
            user: Some("svc".into()),
        }
    );
    let text = problem.to_string();
    assert!(text.contains("refused user \"svc\""), "{text}");
    assert!(
        !text.contains("wrong"),
        "the password must not show: {text}"
    );
    // Without credentials: it says to add them.
    let partner = connector(dir.path(), &chain, "rest", &url, "test_path = \"/orders\"");
    let checked = check(&partner).await.unwrap();
    let problem = checked.http.unwrap().problem.unwrap().to_string();
    assert!(problem.contains("sends none; add auth"), "{problem}");
}

#[tokio::test]
async fn an_http_error_is_a_problem_with_the_start_of_the_body() {
    let (dir, chain, server) = server(HttpsOptions::default());
    let url = server.url();
    let partner = connector(
        dir.path(),
        &chain,
        "rest",
        &url,
        "test_path = \"/status/503\"",
    );
    let checked = check(&partner).await.unwrap();
    assert!(!checked.ok());
    let http = checked.http.as_ref().unwrap();
    assert_eq!(http.status, Some(503));
    assert!(matches!(
        http.problem,
        Some(HttpProblem::HttpError { status: 503, .. })
    ));
    let json = serde_json::to_value(&checked).unwrap();
    let problem = json["http"]["problem"].as_str().unwrap();
    assert!(
        problem.starts_with("HTTP 503 Service Unavailable"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_soap_connector_gets_its_wsdl_or_runs_its_test_action() {
    let (dir, chain, server) = server(HttpsOptions::default());
    let url = format!("{}/soap", server.url());
    let partner = connector(dir.path(), &chain, "soap", &url, "");
    let checked = check(&partner).await.unwrap();
    assert!(checked.ok(), "{}", serde_json::to_string(&checked).unwrap());
    assert!(checked.http.as_ref().unwrap().url.ends_with("?wsdl"));
    let partner = connector(
        dir.path(),
        &chain,
        "soap",
        &url,
        "test_action = \"urn:Ping\"",
    );
    let checked = check(&partner).await.unwrap();
    let http = checked.http.as_ref().unwrap();
    assert_eq!(http.request, CheckRequest::SoapAction("urn:Ping".into()));
    assert!(checked.ok(), "{}", serde_json::to_string(&checked).unwrap());
    // An operation at an address that is not SOAP.
    let plain = format!("{}/status/500", server.url());
    let partner = connector(
        dir.path(),
        &chain,
        "soap",
        &plain,
        "test_action = \"urn:Ping\"",
    );
    let checked = check(&partner).await.unwrap();
    assert!(
        matches!(
            checked.http.unwrap().problem,
            Some(HttpProblem::NotSoap { status: 500, .. })
        ),
        "a 500 without an envelope is named as such"
    );
}

/// The check of a connector whose truststore holds `trusted`'s root, against a server
/// with another chain: the TLS outcome and the number of requests the server saw.
async fn check_with_trust(trusted: &TestChain) -> (keyway_connect::ConnectorCheck, usize) {
    let (dir, _, server) = server(HttpsOptions::default());
    let partner = connector(dir.path(), trusted, "rest", &server.url(), "");
    let checked = check(&partner).await.unwrap();
    let requests = server
        .counters
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    (checked, requests)
}

#[tokio::test]
async fn a_tls_failure_is_diagnosed_and_no_request_is_sent() {
    let stranger = TestChain::new("stranger", KeyKind::EcP256);
    let (checked, requests) = check_with_trust(&stranger).await;
    assert!(!checked.ok());
    let TestOutcome::Failed(diagnosis) = &checked.tls else {
        panic!("connected");
    };
    assert_eq!(diagnosis.cause.code(), "untrusted_root");
    assert!(checked.http.is_none());
    assert_eq!(requests, 0, "no request after a failed handshake");
    let json = serde_json::to_value(&checked).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["tls"]["code"], "untrusted_root");
    assert!(json["http"].is_null());
}

/// The partner renewed its CA with a new key under the same name; the truststore still
/// holds the old one. Before, this came out as `handshake_failed` ("its signature does
/// not verify"): the anchor to replace is now named.
#[tokio::test]
async fn a_ca_of_the_same_name_with_another_key_is_named_as_the_anchor_to_replace() {
    let old = TestChain::new("partner", KeyKind::EcP256);
    let (checked, _) = check_with_trust(&old).await;
    let TestOutcome::Failed(diagnosis) = &checked.tls else {
        panic!("connected");
    };
    assert_eq!(diagnosis.cause.code(), "trust_anchor_unusable");
    let report = serde_json::to_value(checked.tls.report(false)).unwrap();
    assert_eq!(
        report["cause"]["anchor"]["subject"],
        "CN=partner Root CA, O=keyway tests"
    );
    let detail = report["cause"]["detail"].as_str().unwrap();
    assert!(detail.contains("another key"), "{detail}");
    let steps = diagnosis.remediation().join("\n");
    assert!(steps.contains("trust.pem"), "names the truststore: {steps}");
    let old_root = keyway_keystore::Certificate::from_der(old.root_der.clone(), "root").unwrap();
    assert!(
        steps.contains(&old_root.info().sha256),
        "names the old root: {steps}"
    );
}
