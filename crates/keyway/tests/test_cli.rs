//! `keyway test` end to end: exit codes, the JSON contract, and the --insecure flag.

use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{KeyKind, OpensslServer, RustlsServer, ServerOptions, TestChain};
use serde_json::Value;

fn keyway() -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.timeout(Duration::from_secs(60));
    cmd
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn connected_is_exit_0_with_the_negotiated_version() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("cli-partner", KeyKind::EcP256);
    chain.write_pem(dir.path());
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let url = format!("https://{}/status", server.address());
    let root = dir.path().join("root.pem");
    let out = keyway()
        .args([
            "test",
            &url,
            "--truststore",
            root.to_str().unwrap(),
            "--servername",
            "cli-partner.test",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["negotiated"]["version"], "TLS 1.3");
    assert_eq!(v["negotiated"]["http_status"], 200);
    assert_eq!(v["negotiated"]["backend"], "rustls");
    assert_eq!(v["insecure"], false);
}

#[test]
fn a_tls_1_1_server_connects_through_the_legacy_backend_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("cli-old-bank", KeyKind::EcP256);
    chain.write_pem(dir.path());
    let server = OpensslServer::start(&chain, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let root = dir.path().join("root.pem");
    let args = [
        "test",
        &server.address(),
        "--truststore",
        root.to_str().unwrap(),
        "--servername",
        "cli-old-bank.test",
        "--min-tls",
        "1.1",
    ];
    let out = keyway().args(args).arg("--json").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["negotiated"]["version"], "TLS 1.1");
    assert_eq!(v["negotiated"]["backend"], "openssl_legacy");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("TLS 1.1 is deprecated")),
        "{v}"
    );
    let out = keyway().args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("TLS 1.1, ") && text.contains("(via the OpenSSL legacy backend)"),
        "{text}"
    );
}

#[test]
fn a_diagnosed_failure_is_exit_1_with_code_summary_blame_and_remediation() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("cli-untrusted", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let other = dir.path().join("other.pem");
    std::fs::write(&other, keyway_testkit::self_signed_pem("Unrelated Root")).unwrap();
    let url = format!("https://{}/", server.address());
    let out = keyway()
        .args([
            "test",
            &url,
            "--truststore",
            other.to_str().unwrap(),
            "--servername",
            "cli-untrusted.test",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["code"], "untrusted_root");
    assert_eq!(v["blame"], "local_config");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("cli-untrusted Root CA")
    );
    assert!(
        v["remediation"][0].as_str().unwrap().contains("other.pem"),
        "{v}"
    );
    assert_eq!(v["evidence"]["server_chain"].as_array().unwrap().len(), 2);

    // --insecure connects, and says so in every output.
    let out = keyway()
        .args([
            "test",
            &url,
            "--insecure",
            "--servername",
            "cli-untrusted.test",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INSECURE") && text.contains("CONNECTED"),
        "{text}"
    );
    let out = keyway()
        .args([
            "test",
            &url,
            "--insecure",
            "--servername",
            "cli-untrusted.test",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)["insecure"], true);
}

#[test]
fn a_test_that_cannot_run_is_exit_2() {
    let jks =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample/partners.jks");
    keyway()
        .args([
            "test",
            "https://127.0.0.1:1/",
            "--truststore",
            jks.to_str().unwrap(),
            "--truststore-password",
            "wrong",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("wrong store password"));
    keyway()
        .args(["test", "http://partner.example/"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("plain http"));
    keyway()
        .args(["test", "127.0.0.1:1", "--tls-versions", "tls11,tls13"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("leaves out TLS 1.2"));
}
