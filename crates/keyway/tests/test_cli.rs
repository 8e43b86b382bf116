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

/// The report, checked against its schema (docs/json: test-report, or error).
fn json(out: &std::process::Output) -> Value {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let kind = if v.get("error").is_some() {
        "error"
    } else {
        "test-report"
    };
    keyway_testkit::assert_json_kind(kind, &v);
    v
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
    // The fix names the root to ask for and the flag that trusts it.
    assert!(
        v["remediation"][0]
            .as_str()
            .unwrap()
            .contains("cli-untrusted Root CA"),
        "{v}"
    );
    assert!(
        v["remediation"][1]
            .as_str()
            .unwrap()
            .contains("`--truststore cli-untrusted-root-ca.pem`"),
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

/// Text and JSON of one `keyway test` run, checked for Debug renderings.
fn plain_outputs(args: &[&str]) -> (i32, String, Value) {
    let text = keyway().args(args).output().unwrap();
    let out = keyway().args(args).arg("--json").output().unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout).into_owned();
    for line in stdout.lines() {
        assert_eq!(keyway_testkit::debug_shape(line), None, "{stdout}");
    }
    let v = json(&out);
    keyway_testkit::assert_plain_words(&v);
    assert_eq!(text.status.code(), out.status.code());
    (out.status.code().unwrap(), stdout, v)
}

#[test]
fn causes_that_were_handshake_failed_are_named_in_text_and_json_without_debug_dumps() {
    let dir = tempfile::tempdir().unwrap();
    // A SHA-1 signed server certificate.
    let sha1 = TestChain::signed_with_digest("cli-sha1", "sha1");
    let root = dir.path().join("sha1-root.pem");
    std::fs::write(&root, &sha1.root_pem).unwrap();
    let server = RustlsServer::start(
        &sha1,
        ServerOptions {
            send_intermediate: false,
            ..ServerOptions::default()
        },
    );
    let url = format!("https://{}/", server.address());
    let (code, text, v) = plain_outputs(&[
        "test",
        &url,
        "--truststore",
        root.to_str().unwrap(),
        "--servername",
        "cli-sha1.test",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["code"], "unsupported_signature_algorithm");
    assert!(
        text.contains("FAILED: unsupported_signature_algorithm")
            && text.contains("sha1WithRSAEncryption"),
        "{text}"
    );

    // A server that refuses the name sent in SNI.
    let chain = TestChain::new("cli-served", KeyKind::EcP256);
    chain.write_pem(dir.path());
    let trust = dir.path().join("trust.pem");
    std::fs::write(
        &trust,
        format!("{}{}", chain.root_pem, chain.intermediate_pem),
    )
    .unwrap();
    let server = OpensslServer::start(
        &chain,
        &[
            "-servername",
            "cli-served.test",
            "-servername_fatal",
            "-cert2",
            "{leaf}",
            "-key2",
            "{key}",
            "-www",
        ],
    );
    let args = |name: &'static str| {
        vec![
            "test".to_string(),
            server.address(),
            "--truststore".into(),
            trust.to_str().unwrap().into(),
            "--servername".into(),
            name.into(),
        ]
    };
    let wrong = args("wrong-name.test");
    let (code, text, v) = plain_outputs(&wrong.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1);
    assert_eq!(v["code"], "unrecognized_name");
    assert_eq!(v["cause"]["served"][0], "cli-served.test");
    assert!(text.contains("--servername cli-served.test"), "{text}");
    // The printed fix, applied.
    let right = args("cli-served.test");
    keyway()
        .args(right)
        .assert()
        .code(0)
        .stdout(predicates::str::contains("CONNECTED"));
}

#[test]
fn an_expired_client_certificate_is_exit_1_with_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let server_chain = TestChain::new("cli-strict", KeyKind::EcP256);
    let lapsed = TestChain::with_leaf_validity("cli-lapsed", KeyKind::EcP256, -300, -2);
    let root = dir.path().join("root.pem");
    std::fs::write(&root, &server_chain.root_pem).unwrap();
    let p12 = keyway_testkit::client_p12(&lapsed, dir.path());
    let server = RustlsServer::start(
        &server_chain,
        ServerOptions {
            client_ca_pem: Some(lapsed.root_pem.clone()),
            ..ServerOptions::default()
        },
    );
    let (code, text, v) = plain_outputs(&[
        "test",
        &server.address(),
        "--truststore",
        root.to_str().unwrap(),
        "--servername",
        "cli-strict.test",
        "--keystore",
        p12.to_str().unwrap(),
        "--keystore-password",
        "changeit",
    ]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(v["code"], "client_cert_expired");
    assert_eq!(v["blame"], "local_config");
    assert_eq!(v["cause"]["alias"], "client");
    assert!(
        text.contains("expired on") && text.contains("cli-lapsed"),
        "{text}"
    );
}

#[test]
fn an_unencrypted_pem_identity_needs_no_password_and_no_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let server_chain = TestChain::new("cli-mtls", KeyKind::EcP256);
    let client = TestChain::new("cli-pem-client", KeyKind::EcP256);
    let root = dir.path().join("root.pem");
    std::fs::write(&root, &server_chain.root_pem).unwrap();
    let identity = dir.path().join("identity.pem");
    std::fs::write(
        &identity,
        format!("{}{}", client.leaf_key_pem, client.chain_pem()),
    )
    .unwrap();
    let server = RustlsServer::start(
        &server_chain,
        ServerOptions {
            client_ca_pem: Some(client.root_pem.clone()),
            ..ServerOptions::default()
        },
    );
    // No --keystore-password, and stdin is not a terminal: nothing to ask for.
    let out = keyway()
        .args([
            "test",
            &server.address(),
            "--truststore",
            root.to_str().unwrap(),
            "--servername",
            "cli-mtls.test",
            "--keystore",
            identity.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        json(&out)["evidence"]["client_cert_sent"]["subject"]
            .as_str()
            .unwrap()
            .contains("cli-pem-client")
    );
    // An encrypted key still needs its password, and says how to give it.
    let encrypted = dir.path().join("encrypted.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&key, &client.leaf_key_pem).unwrap();
    let sealed = keyway_testkit::openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        key.to_str().unwrap(),
        "-passout",
        "pass:secret",
    ]);
    std::fs::write(&encrypted, format!("{sealed}{}", client.chain_pem())).unwrap();
    keyway()
        .args([
            "test",
            &server.address(),
            "--keystore",
            encrypted.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--storepass"));
}
