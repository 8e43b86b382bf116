//! `keyway connector …` end to end with the real binary against in-process HTTPS servers
//! on 127.0.0.1: list/show without secrets, calls and their exit codes, SOAP faults,
//! connector tests that name authentication problems, a failed call diagnosed, an answer
//! that stops in the middle.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, RustlsServer, ServerOptions, TestChain};
use serde_json::Value;

fn keyway(config: &Path) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env("KEYWAY_CONFIG", config)
        .timeout(Duration::from_secs(60));
    cmd
}

/// Runs and returns (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    server: HttpsServer,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let stranger = TestChain::new("stranger", KeyKind::EcP256);
    let server = HttpsServer::start(
        &chain,
        HttpsOptions {
            basic_auth: Some(("svc-orders".into(), "s3cret-Pa55".into())),
            ..HttpsOptions::default()
        },
    );
    std::fs::write(dir.path().join("trust.pem"), &chain.root_pem).unwrap();
    std::fs::write(dir.path().join("stranger.pem"), &stranger.root_pem).unwrap();
    let config = dir.path().join("keyway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[truststores.partners]
path = "trust.pem"

[truststores.wrong]
path = "stranger.pem"

[profiles.partner]
truststores = ["partners"]
server_name = "orders.test"

[profiles.misconfigured]
truststores = ["wrong"]
server_name = "orders.test"

[connectors.orders]
kind = "rest"
url = "{url}/api"
profile = "partner"
auth = {{ username = "svc-orders", password = "s3cret-Pa55" }}

[connectors.locked]
kind = "rest"
url = "{url}"
profile = "partner"
test_path = "/auth/ping"
auth = {{ username = "svc-orders", password = "not-the-password" }}

[connectors.untrusted]
kind = "rest"
url = "{url}"
profile = "misconfigured"

[connectors.billing]
kind = "soap"
url = "{url}/soap"
profile = "partner"
"#,
            url = server.url()
        ),
    )
    .unwrap();
    Setup {
        _dir: dir,
        config,
        server,
    }
}

#[test]
fn list_and_show_describe_connectors_without_their_passwords() {
    let s = setup();
    let (code, out, err) = run(keyway(&s.config).args(["connector", "list"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    for name in ["orders", "locked", "untrusted", "billing"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(!out.contains("s3cret"), "{out}");
    let (code, out, _) = run(keyway(&s.config).args(["connector", "show", "orders", "--json"]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["user"], "svc-orders");
    assert_eq!(v["password"], "(inline, hidden)");
    assert_eq!(v["tls_versions"], serde_json::json!(["TLS 1.2", "TLS 1.3"]));
    assert!(!out.contains("s3cret"), "{out}");
    let (code, _, err) = run(keyway(&s.config).args(["connector", "show", "nope"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("no connector \"nope\"") && err.contains("orders"),
        "{err}"
    );
}

#[test]
fn calls_print_the_body_and_exit_by_status() {
    let s = setup();
    let (code, out, err) = run(keyway(&s.config).args([
        "connector",
        "call",
        "orders",
        "-X",
        "POST",
        "--path",
        "/orders?x=1",
        "--data",
        r#"{"id":7}"#,
        "-H",
        "X-Trace: abc",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with("HTTP 200 OK from "), "{err}");
    let echo: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(echo["path"], "/api/orders");
    assert_eq!(echo["body"], r#"{"id":7}"#);
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(echo["headers"]["x-trace"], "abc");

    let (code, out, _) = run(keyway(&s.config).args([
        "connector",
        "call",
        "untrusted",
        "--path",
        "/status/404",
        "--json",
    ]));
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tls"]["code"], "untrusted_root", "{out}");

    let (code, out, _) = run(keyway(&s.config).args([
        "connector",
        "call",
        "locked",
        "--path",
        "/status/404",
        "--json",
    ]));
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], 404);
    assert_eq!(v["tls"]["version"], "TLS 1.3");
    assert!(s.server.requests() >= 2);
}

#[test]
fn an_answer_that_stops_in_the_middle_is_cut_off_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("orders", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    std::fs::write(dir.path().join("trust.pem"), &chain.root_pem).unwrap();
    let config = dir.path().join("keyway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[truststores.partners]
path = "trust.pem"

[profiles.partner]
truststores = ["partners"]
server_name = "orders.test"

[connectors.stalling]
kind = "rest"
url = "https://127.0.0.1:{}"
profile = "partner"
timeout = "1s"
"#,
            server.port
        ),
    )
    .unwrap();
    // Streamed to stdout: what came is printed, then the break is named.
    let (code, out, err) =
        run(keyway(&config).args(["connector", "call", "stalling", "--path", "/stall"]));
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "part");
    assert!(
        err.contains("broke off") && err.contains("nothing within the connector's timeout"),
        "{err}"
    );
    // Read whole (--json): the failure, with the TLS diagnosis beside it.
    let (code, out, err) = run(keyway(&config).args([
        "connector",
        "call",
        "stalling",
        "--path",
        "/stall",
        "--json",
    ]));
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("stopped in the middle"),
        "{out}"
    );
}

#[test]
fn soap_faults_exit_1_and_answers_exit_0() {
    let s = setup();
    let (code, out, err) = run(keyway(&s.config).args([
        "connector",
        "soap",
        "billing",
        "--action",
        "urn:GetOrder",
        "--body",
        r#"<o:GetOrder xmlns:o="urn:orders"/>"#,
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("EchoResponse") && out.contains("urn:GetOrder"),
        "{out}"
    );
    let (code, out, _) = run(keyway(&s.config).args([
        "connector",
        "soap",
        "billing",
        "--action",
        "urn:Fail",
        "--soap",
        "1.2",
        "--json",
        "--body",
        r#"<o:Fail xmlns:o="urn:orders"/>"#,
    ]));
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["fault"]["code"], "env:Sender");
    assert_eq!(v["fault"]["reason"], "Order 42 does not exist");
}

#[test]
fn connector_test_reports_tls_then_the_http_check() {
    let s = setup();
    let (code, out, err) = run(keyway(&s.config).args(["connector", "test", "orders"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("CONNECTED") && out.contains("HTTP check"),
        "{out}"
    );

    let (code, out, _) = run(keyway(&s.config).args(["connector", "test", "locked", "--json"]));
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tls"]["ok"], true);
    assert_eq!(v["http"]["status"], 401);
    let problem = v["http"]["problem"].as_str().unwrap();
    assert!(
        problem.contains("authentication problem") && problem.contains("svc-orders"),
        "{problem}"
    );
    assert!(!out.contains("not-the-password"), "{out}");

    let (code, out, _) = run(keyway(&s.config).args(["connector", "test", "billing", "--json"]));
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["http"]["url"].as_str().unwrap().ends_with("/soap?wsdl"),
        "{out}"
    );

    let (code, out, _) = run(keyway(&s.config).args(["connector", "test", "untrusted"]));
    assert_eq!(code, 1);
    assert!(out.contains("HTTP check skipped"), "{out}");
}

#[test]
fn a_broken_configuration_exits_2_naming_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyway.toml");
    std::fs::write(
        &config,
        "[connectors.a]\nkind = \"rest\"\nurl = \"ftp://x\"\n\n[connectors.b]\nkind = \"rest\"\nurl = \"https://b.example\"\nprofile = \"missing\"\n",
    )
    .unwrap();
    let (code, _, err) = run(keyway(&config).args(["connector", "list"]));
    assert_eq!(code, 2);
    assert!(err.contains("2 problems"), "{err}");
    assert!(
        err.contains("connector \"a\", field url")
            && err.contains("connector \"b\", field profile"),
        "{err}"
    );
    let (code, _, err) = run(keyway(&dir.path().join("absent.toml")).args(["connector", "list"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("absent.toml") && err.contains("KEYWAY_CONFIG"),
        "{err}"
    );
}

#[test]
fn a_connector_whose_client_certificate_expired_is_diagnosed_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server_chain = TestChain::new("mtls-orders", KeyKind::EcP256);
    let lapsed = TestChain::with_leaf_validity("lapsed-acme", KeyKind::EcP256, -200, -1);
    let server = RustlsServer::start(
        &server_chain,
        ServerOptions {
            client_ca_pem: Some(lapsed.root_pem.clone()),
            ..ServerOptions::default()
        },
    );
    std::fs::write(dir.path().join("trust.pem"), &server_chain.root_pem).unwrap();
    keyway_testkit::client_p12(&lapsed, dir.path());
    let config = dir.path().join("keyway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[truststores.partners]
path = "trust.pem"

[keystores.acme]
path = "client.p12"
password = "changeit"

[profiles.mtls]
truststores = ["partners"]
keystore = "acme"
server_name = "mtls-orders.test"

[connectors.orders]
kind = "rest"
url = "https://{}/api"
profile = "mtls"
"#,
            server.address()
        ),
    )
    .unwrap();
    let (code, out, err) = run(keyway(&config).args(["connector", "test", "orders", "--json"]));
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tls"]["code"], "client_cert_expired", "{out}");
    assert_eq!(v["tls"]["blame"], "local_config");
    keyway_testkit::assert_plain_words(&v);
    let (code, out, _) = run(keyway(&config).args(["connector", "test", "orders"]));
    assert_eq!(code, 1);
    assert!(
        out.contains("client_cert_expired") && out.contains("lapsed-acme"),
        "{out}"
    );
}

#[test]
fn audit_checks_every_connector_worst_first_with_a_what_if_json_and_html() {
    let s = setup();
    let (code, out, err) = run(keyway(&s.config).args(["audit", "--require-min-tls", "1.3"]));
    assert_eq!(code, 1, "two connectors fail: {out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("CONNECTOR") && lines[0].contains("WHAT-IF"),
        "{out}"
    );
    let standing: Vec<(&str, &str)> = lines[1..5]
        .iter()
        .map(|l| {
            let mut words = l.split_whitespace();
            (words.next().unwrap(), words.next().unwrap())
        })
        .collect();
    assert_eq!(
        standing,
        [
            ("FAIL", "locked"),
            ("FAIL", "untrusted"),
            ("ok", "billing"),
            ("ok", "orders")
        ],
        "{out}"
    );
    assert!(
        lines[3].contains("TLS 1.3") && lines[3].contains("connects"),
        "{out}"
    );
    // Each failure with its fix under the table, and the count last.
    assert!(
        out.contains("untrusted (") && out.contains("import"),
        "{out}"
    );
    assert!(
        out.contains("svc-orders"),
        "the refused user is named: {out}"
    );
    assert!(
        out.trim_end().ends_with(
            "4 connectors: 2 pass, 2 fail, 0 would break under a policy that accepts TLS 1.3"
        ),
        "{out}"
    );
    assert!(
        !out.contains("not-the-password") && !out.contains("s3cret"),
        "{out}"
    );
    assert!(err.is_empty(), "no progress bar outside a terminal: {err}");

    let (code, out, _) = run(keyway(&s.config).args(["audit", "--json"]));
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    keyway_testkit::assert_json_kind("audit", &v);
    assert_eq!(v["connectors"][0]["code"], "http_unauthorized");
    assert_eq!(v["connectors"][1]["code"], "untrusted_root");
    assert!(v["require"].is_null() && v["connectors"][2]["what_if"].is_null());

    let (code, out, err) =
        run(keyway(&s.config).args(["audit", "--connector", "orders", "--connector", "billing"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 connectors: 2 pass, 0 fail"), "{out}");

    let page = s._dir.path().join("audit.html");
    let (code, out, _) = run(keyway(&s.config).args(["audit", "--html"]).arg(&page));
    assert_eq!(code, 1);
    assert!(out.contains("HTML report:"), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for outside in ["<script", "<link", "src=", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "self-contained: {outside} in the page"
        );
    }
    assert!(
        html.contains("untrusted_root") && html.contains("<svg"),
        "{html}"
    );
    assert!(!html.contains("not-the-password"));
    let (code, _, err) = run(keyway(&s.config).args(["audit", "--html"]).arg(&page));
    assert_eq!(code, 2);
    assert!(err.contains("--html") && err.contains("--force"), "{err}");

    for (args, says) in [
        (vec!["--connector", "nope"], "no connector \"nope\""),
        (vec!["--tag", "eu"], "has the tag eu"),
        (vec!["--require-min-tls", "1.9"], "--require-min-tls"),
        (vec!["--concurrency", "0"], "--concurrency"),
    ] {
        let (code, _, err) = run(keyway(&s.config).arg("audit").args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
