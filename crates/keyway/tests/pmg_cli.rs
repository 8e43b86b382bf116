//! `keyway import pmg` / `keyway export pmg` end to end with the real binary: a scenario
//! file with a modern endpoint (in-process rustls HTTPS server with basic auth) and a
//! TLS 1.0/1.1-only one (`openssl s_server -tls1_1`) becomes connectors that really
//! connect, trusting the system roots through SSL_CERT_FILE; the export gives the file
//! back; bad files are refused with every problem named and no password shown.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{
    ChainOptions, HttpsOptions, HttpsServer, KeyKind, OpensslServer, TestChain, snapshot,
};
use serde_json::Value;

const PASSWORD: &str = "Pa55&\"word";

/// keyway with the system roots replaced by `roots` (SSL_CERT_DIR emptied so only the
/// file counts).
fn keyway(dir: &Path, roots: &Path) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.current_dir(dir)
        .env_remove("KEYWAY_CONFIG")
        .env("SSL_CERT_FILE", roots)
        .env("SSL_CERT_DIR", dir.join("no-cert-dir"))
        .timeout(Duration::from_secs(60));
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn localhost_chain(name: &str) -> TestChain {
    TestChain::build(
        name,
        &ChainOptions {
            kind: KeyKind::EcP256,
            extra_names: vec!["localhost".into()],
            ..ChainOptions::default()
        },
    )
}

/// Written the way `export pmg` writes, so the round trip can compare bytes.
fn scenario_file(modern_port: u16, legacy_port: u16) -> String {
    let escaped = PASSWORD.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<scenarios>
  <scenario name="PMG_Test" adminport="48989" domain="TESTDOMAIN" password="{escaped}" username="user@example" baseurl="https://localhost:{modern_port}/auth" locale="online" tls="false" tls11="false" tls12="true" ssl3="false"/>
  <scenario name="PMG_Legacy" adminport="48990" domain="TESTDOMAIN" password="legacy-pw" username="legacy@example" baseurl="https://localhost:{legacy_port}" locale="online" tls="true" tls11="true" tls12="false" ssl3="false" tenant="north"/>
  <scenario name="PMG_Open" baseurl="https://localhost:{modern_port}/status/200" tls="false" tls11="false" tls12="true" ssl3="false"/>
</scenarios>
"#
    )
}

#[test]
fn imported_scenarios_connect_modern_and_legacy_and_export_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let modern_chain = localhost_chain("modern");
    let legacy_chain = localhost_chain("legacy");
    let modern = HttpsServer::start(
        &modern_chain,
        HttpsOptions {
            basic_auth: Some(("user@example".into(), PASSWORD.into())),
            ..HttpsOptions::default()
        },
    );
    let legacy = OpensslServer::start(
        &legacy_chain,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
    );
    let roots = dir.path().join("roots.pem");
    std::fs::write(
        &roots,
        format!("{}{}", modern_chain.root_pem, legacy_chain.root_pem),
    )
    .unwrap();
    let source = scenario_file(modern.port, legacy.port);
    std::fs::write(dir.path().join("scenarios.xml"), &source).unwrap();

    let (code, out, err) = run(keyway(dir.path(), &roots).args(["import", "pmg", "scenarios.xml"]));
    assert_eq!(code, 0, "{out}{err}");
    for expected in [
        "Imported 3 connectors",
        "PMG_Legacy",
        "TLS 1.0, TLS 1.1",
        "PMG_Legacy: adminport, domain, locale, tenant",
        "not shown",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from\n{out}");
    }
    assert!(!out.contains("Pa55") && !err.contains("Pa55"), "{out}{err}");
    assert!(!out.contains("legacy-pw"), "{out}");
    let config = dir.path().join("keyway.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the file holds passwords");
    }

    // `show` keeps the password hidden and lists the kept attributes.
    let (code, out, _) =
        run(keyway(dir.path(), &roots).args(["connector", "show", "PMG_Legacy", "--json"]));
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tls_versions"], serde_json::json!(["TLS 1.0", "TLS 1.1"]));
    assert_eq!(v["unmapped_attributes"]["tenant"], "north");
    assert!(!out.contains("legacy-pw"), "{out}");

    // The modern scenario: rustls, system roots from SSL_CERT_FILE, basic auth accepted.
    let (code, out, err) = run(keyway(dir.path(), &roots).args([
        "connector",
        "call",
        "PMG_Test",
        "--path",
        "/ping",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], 200, "{out}");
    assert_eq!(v["tls"]["version"], "TLS 1.2");
    assert_eq!(v["tls"]["backend"], "rustls");

    // The TLS 1.0/1.1-only scenario goes through the legacy backend, same command.
    let (code, out, err) =
        run(keyway(dir.path(), &roots).args(["connector", "call", "PMG_Legacy", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], 200, "{out}");
    assert_eq!(v["tls"]["version"], "TLS 1.1", "{out}");
    assert_eq!(v["tls"]["backend"], "openssl_legacy", "{out}");

    // Without the partner's root among the system roots, the call is diagnosed.
    let stranger = dir.path().join("stranger.pem");
    std::fs::write(
        &stranger,
        TestChain::new("stranger", KeyKind::EcP256).root_pem,
    )
    .unwrap();
    for name in ["PMG_Test", "PMG_Legacy"] {
        let (code, out, err) =
            run(keyway(dir.path(), &stranger).args(["connector", "call", name, "--json"]));
        assert_eq!(code, 1, "{name}: {out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["tls"]["code"], "untrusted_root", "{name}: {out}");
    }
    // SSL_CERT_DIR counts too: the roots under their subject hashes, as c_rehash names them.
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    for (i, root) in [&modern_chain.root_pem, &legacy_chain.root_pem]
        .into_iter()
        .enumerate()
    {
        let file = dir.path().join(format!("root{i}.pem"));
        std::fs::write(&file, root).unwrap();
        let hash =
            keyway_testkit::openssl(&["x509", "-hash", "-noout", "-in", file.to_str().unwrap()]);
        std::fs::write(certs.join(format!("{}.0", hash.trim())), root).unwrap();
    }
    for name in ["PMG_Test", "PMG_Legacy"] {
        let (code, out, err) = run(keyway(dir.path(), &stranger)
            .env("SSL_CERT_DIR", &certs)
            .args(["connector", "call", name, "--json"]));
        assert_eq!(code, 0, "{name} with SSL_CERT_DIR: {out}{err}");
    }

    // Export gives the same file back, and refuses to overwrite without --force.
    let (code, out, err) =
        run(keyway(dir.path(), &roots).args(["export", "pmg", "--out", "back.xml"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Exported 3 connectors"), "{out}");
    assert!(!out.contains("Pa55"), "{out}");
    let back = std::fs::read_to_string(dir.path().join("back.xml")).unwrap();
    assert_eq!(back, source);
    std::fs::write(dir.path().join("back.xml"), "keep me").unwrap();
    let (code, _, err) = run(keyway(dir.path(), &roots).args([
        "export",
        "pmg",
        "--out",
        "back.xml",
        "--connector",
        "PMG_Open",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("back.xml")).unwrap(),
        "keep me"
    );
    let (code, _, err) = run(keyway(dir.path(), &roots).args([
        "export",
        "pmg",
        "--out",
        "back.xml",
        "--connector",
        "PMG_Open",
        "--force",
    ]));
    assert_eq!(code, 0, "{err}");
    let one = std::fs::read_to_string(dir.path().join("back.xml")).unwrap();
    assert_eq!(one.matches("<scenario ").count(), 1, "{one}");
    assert!(one.contains("name=\"PMG_Open\""), "{one}");
}

#[test]
fn a_bad_scenario_file_is_refused_whole_with_every_problem_named() {
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, TestChain::new("r", KeyKind::EcP256).root_pem).unwrap();
    std::fs::write(
        dir.path().join("bad.xml"),
        r#"<scenarios>
  <scenario name="Plain" username="u" password="hunter2" baseurl="http://plain.example" tls12="true"/>
  <scenario name="Flags" baseurl="https://x.example" tls11="sometimes"/>
</scenarios>"#,
    )
    .unwrap();
    let before = snapshot(dir.path());
    let (code, out, err) = run(keyway(dir.path(), &roots).args(["import", "pmg", "bad.xml"]));
    assert_eq!(code, 2, "{out}{err}");
    for expected in [
        "bad.xml",
        "scenario \"Plain\"",
        "baseurl",
        "plain http",
        "scenario \"Flags\"",
        "tls11",
        "\"sometimes\"",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from\n{err}");
    }
    assert!(
        !err.contains("hunter2") && !out.contains("hunter2"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before, "nothing may be written");

    let (code, _, err) = run(keyway(dir.path(), &roots).args(["import", "pmg", "missing.xml"]));
    assert_eq!(code, 2);
    assert!(err.contains("missing.xml"), "{err}");
}

#[test]
fn scenario_names_follow_the_one_naming_rule_and_never_panic_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, TestChain::new("r", KeyKind::EcP256).root_pem).unwrap();
    let huge = "n".repeat(100_000);
    for (name, expected) in [
        ("../../etc/x", "must start with a letter or digit"),
        ("a/../../etc/x", "contains '/'"),
        ("two&#10;lines", "contains '\\n'"),
        ("esc&#27;[2Jape", "contains '\\u{1b}'"),
        (huge.as_str(), "longer than 64 characters"),
    ] {
        std::fs::write(
            dir.path().join("names.xml"),
            format!(r#"<scenarios><scenario name="{name}" baseurl="https://x.example/api"/></scenarios>"#),
        )
        .unwrap();
        let before = snapshot(dir.path());
        let (code, out, err) = run(keyway(dir.path(), &roots).args(["import", "pmg", "names.xml"]));
        assert_eq!(code, 2, "{name:.40}: {out}{err}");
        assert!(
            err.contains(expected),
            "{expected:?} missing from\n{err:.2000}"
        );
        assert!(!err.contains('\u{1b}') && !out.contains('\u{1b}'));
        assert!(err.len() < 4000, "{} bytes of error", err.len());
        assert_eq!(snapshot(dir.path()), before, "nothing may be written");
    }
}
