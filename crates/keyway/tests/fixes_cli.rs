//! Every fix `keyway test` prints for a cause on our side, applied as printed (the flag,
//! the file it names, the command), makes the same test pass: no fix leads to another
//! failure that contradicts it. Real servers on 127.0.0.1: in-process rustls servers and
//! `openssl s_server` for TLS 1.1.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{
    KeyKind, OpensslServer, RustlsServer, ServerOptions, Signing, TestCa, TestChain, client_p12,
};
use serde_json::Value;

fn keyway() -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.timeout(Duration::from_secs(60))
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    cmd
}

/// Runs `keyway test ARGS --json`: (exit code, the report).
fn test(args: &[String]) -> (i32, Value) {
    let out = keyway()
        .arg("test")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn fix(report: &Value) -> String {
    report["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of the first `…` span in `fix` that starts with `start`.
fn quoted<'a>(fix: &'a str, start: &str) -> &'a str {
    fix.split('`')
        .skip(1)
        .step_by(2)
        .find(|span| span.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}…` in the fix:\n{fix}"))
}

/// The word after `flag` inside the fix's quoted `flag VALUE`.
fn flag_value(fix: &str, flag: &str) -> String {
    quoted(fix, flag)
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("`{flag}` without a value in:\n{fix}"))
        .to_string()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn untrusted_root_sent_by_the_server_save_the_chain_then_trust_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-root-sent", KeyKind::EcP256);
    let server = RustlsServer::start(
        &chain,
        ServerOptions {
            chain_pem: Some(vec![
                chain.leaf_pem.clone(),
                chain.intermediate_pem.clone(),
                chain.root_pem.clone(),
            ]),
            ..ServerOptions::default()
        },
    );
    let other = write(
        dir.path(),
        "other.pem",
        &keyway_testkit::self_signed_pem("Unrelated Root"),
    );
    let base = strings(&[&server.address(), "--servername", "fix-root-sent.test"]);
    let mut args = base.clone();
    args.extend(strings(&["--truststore", &other]));
    let (code, report) = test(&args);
    assert_eq!((code, report["code"].as_str()), (1, Some("untrusted_root")));
    let fix = fix(&report);
    // Step 1 as printed: --save-chain DIR.
    assert!(
        quoted(&fix, "keyway test").contains("--save-chain DIR"),
        "{fix}"
    );
    let saved = dir.path().join("presented");
    let mut save = args.clone();
    save.extend(strings(&["--save-chain", saved.to_str().unwrap()]));
    let (code, _) = test(&save);
    assert_eq!(code, 1);
    // Step 2 as printed: --truststore DIR/N-NAME.pem.
    let file = flag_value(&fix, "--truststore");
    let file = file.replace("DIR", saved.to_str().unwrap());
    assert!(Path::new(&file).exists(), "{file} was not saved");
    let mut fixed = base;
    fixed.extend(strings(&["--truststore", &file]));
    let (code, report) = test(&fixed);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn untrusted_root_left_out_ask_for_it_by_name_and_key_identifier_then_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-root-asked", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let other = write(
        dir.path(),
        "other.pem",
        &keyway_testkit::self_signed_pem("Unrelated Root"),
    );
    let base = strings(&[&server.address(), "--servername", "fix-root-asked.test"]);
    let mut args = base.clone();
    args.extend(strings(&["--truststore", &other]));
    let (code, report) = test(&args);
    assert_eq!((code, report["code"].as_str()), (1, Some("untrusted_root")));
    let fix = fix(&report);
    assert!(fix.contains("fix-root-asked Root CA"), "{fix}");
    let key_id = report["evidence"]["root_key_identifier"].as_str().unwrap();
    assert!(fix.contains(key_id), "{fix}");
    // The partner sends the root; it goes where the fix says.
    let file = flag_value(&fix, "--truststore");
    let path = write(dir.path(), &file, &chain.root_pem);
    let mut fixed = base;
    fixed.extend(strings(&["--truststore", &path]));
    let (code, report) = test(&fixed);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn self_signed_server_save_its_certificate_and_trust_it_as_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let partner = TestChain::self_signed_leaf("fix-selfie.test");
    let server = RustlsServer::start(
        &partner,
        ServerOptions {
            send_intermediate: false,
            ..ServerOptions::default()
        },
    );
    let other = write(
        dir.path(),
        "other.pem",
        &keyway_testkit::self_signed_pem("Unrelated Root"),
    );
    let base = strings(&[&server.address(), "--servername", "fix-selfie.test"]);
    let mut args = base.clone();
    args.extend(strings(&["--truststore", &other]));
    let saved = dir.path().join("presented");
    args.extend(strings(&["--save-chain", saved.to_str().unwrap()]));
    let (code, report) = test(&args);
    assert_eq!((code, report["code"].as_str()), (1, Some("self_signed")));
    let file = flag_value(&fix(&report), "--truststore").replace("DIR", saved.to_str().unwrap());
    let mut fixed = base;
    fixed.extend(strings(&["--truststore", &file]));
    let (code, report) = test(&fixed);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["evidence"]["pinned"], true);
}

#[test]
fn version_mismatch_names_min_tls_and_it_connects_through_the_legacy_backend() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-old-bank", KeyKind::EcP256);
    let server = OpensslServer::start(&chain, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let root = write(dir.path(), "root.pem", &chain.root_pem);
    let args = strings(&[
        &server.address(),
        "--truststore",
        &root,
        "--servername",
        "fix-old-bank.test",
    ]);
    let (code, report) = test(&args);
    assert_eq!(
        (code, report["code"].as_str()),
        (1, Some("version_mismatch"))
    );
    let fix = fix(&report);
    assert!(fix.contains("deprecated"), "{fix}");
    let mut fixed = args;
    fixed.extend(strings(&["--min-tls", &flag_value(&fix, "--min-tls")]));
    let (code, report) = test(&fixed);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["negotiated"]["version"], "TLS 1.1");
}

#[test]
fn a_client_certificate_required_or_rejected_then_presented_as_the_fix_says() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-mtls", KeyKind::EcP256);
    let clients = TestChain::new("fix-accepted-clients", KeyKind::EcP256);
    let stranger = TestChain::new("fix-stranger", KeyKind::EcP256);
    let server = RustlsServer::start(
        &chain,
        ServerOptions {
            client_ca_pem: Some(clients.root_pem.clone()),
            ..ServerOptions::default()
        },
    );
    let root = write(dir.path(), "root.pem", &chain.root_pem);
    let base = strings(&[
        &server.address(),
        "--truststore",
        &root,
        "--servername",
        "fix-mtls.test",
    ]);
    let accepted = client_p12(&clients, &dir.path().join("accepted").tap_dir());
    let wrong = client_p12(&stranger, &dir.path().join("wrong").tap_dir());
    let with = |p12: &Path| {
        let mut args = base.clone();
        args.extend(strings(&[
            "--keystore",
            p12.to_str().unwrap(),
            "--keystore-password",
            "changeit",
        ]));
        args
    };
    for (failing, code) in [
        (base.clone(), "client_cert_required"),
        (with(&wrong), "client_cert_rejected"),
    ] {
        let (exit, report) = test(&failing);
        assert_eq!((exit, report["code"].as_str()), (1, Some(code)));
        let fix = fix(&report);
        assert!(
            quoted(&fix, "--keystore").starts_with("--keystore"),
            "{fix}"
        );
        assert!(fix.contains("fix-accepted-clients Root CA"), "{fix}");
    }
    let (code, report) = test(&with(&accepted));
    assert_eq!(code, 0, "{report}");
}

#[test]
fn an_expired_client_certificate_renewed_by_its_ca_connects() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-strict", KeyKind::EcP256);
    let ca = TestCa::new("fix-partner-clients");
    let server = RustlsServer::start(
        &chain,
        ServerOptions {
            client_ca_pem: Some(ca.pem()),
            ..ServerOptions::default()
        },
    );
    let root = write(dir.path(), "root.pem", &chain.root_pem);
    // A key and CSR, signed by the CA once with dates already past.
    let key = dir.path().join("client.key");
    keyway_testkit::openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        dir.path().join("client.csr").to_str().unwrap(),
        "-subj",
        "/CN=fix-client",
    ]);
    let csr = std::fs::read_to_string(dir.path().join("client.csr")).unwrap();
    // An unencrypted PEM identity: key and certificate, no password to give.
    let identity = |name: &str, cert: &str| -> Vec<String> {
        let key_pem = std::fs::read_to_string(&key).unwrap();
        let pem = write(dir.path(), name, &format!("{key_pem}{cert}"));
        strings(&["--keystore", &pem])
    };
    let expired = ca.sign(
        &csr,
        &Signing {
            days: (-100, -1),
            ..Signing::default()
        },
    );
    let base = strings(&[
        &server.address(),
        "--truststore",
        &root,
        "--servername",
        "fix-strict.test",
    ]);
    let mut args = base.clone();
    args.extend(identity("expired.pem", &expired));
    let (code, report) = test(&args);
    assert_eq!(
        (code, report["code"].as_str()),
        (1, Some("client_cert_expired"))
    );
    assert!(fix(&report).contains("renew"), "{report}");
    // Renewed by the same CA, same key: connects.
    let renewed = ca.sign(&csr, &Signing::default());
    let mut args = base;
    args.extend(identity("renewed.pem", &renewed));
    let (code, report) = test(&args);
    assert_eq!(code, 0, "{report}");
}

/// `dir`, created.
trait TapDir {
    fn tap_dir(self) -> std::path::PathBuf;
}

impl TapDir for std::path::PathBuf {
    fn tap_dir(self) -> std::path::PathBuf {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// `keyway connector test NAME --json` in `dir` (its keyway.toml, or the store there).
fn connector_test(dir: &Path, name: &str) -> (i32, Value) {
    let out = keyway()
        .current_dir(dir)
        .env_remove("KEYWAY_CONFIG")
        .env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_DATA_DIR", dir.join("data"))
        .args(["connector", "test", name, "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

#[test]
fn a_keyway_toml_connector_gets_the_setting_to_change_and_changing_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-toml-bank", KeyKind::EcP256);
    let server = OpensslServer::start(
        &chain,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
    );
    write(dir.path(), "root.pem", &chain.root_pem);
    let toml = format!(
        "[truststores.partners]\npath = \"root.pem\"\n\n[profiles.legacy]\ntruststores = [\"partners\"]\nserver_name = \"fix-toml-bank.test\"\n\n[connectors.bank]\nkind = \"rest\"\nurl = \"https://{}/\"\nprofile = \"legacy\"\n",
        server.address()
    );
    let config = write(dir.path(), "keyway.toml", &toml);
    let (code, report) = connector_test(dir.path(), "bank");
    assert_eq!(code, 1);
    assert_eq!(report["tls"]["code"], "version_mismatch", "{report}");
    let fix = fix(&report["tls"]);
    let setting = "lowest_version = \"TLS 1.1\" in [profiles.legacy] of";
    assert!(
        fix.contains(setting) && fix.contains("keyway.toml"),
        "{fix}"
    );
    // As the fix says, in the file it names.
    std::fs::write(
        &config,
        toml.replace(
            "[profiles.legacy]\n",
            "[profiles.legacy]\nlowest_version = \"TLS 1.1\"\n",
        ),
    )
    .unwrap();
    let (code, report) = connector_test(dir.path(), "bank");
    assert_eq!(code, 0, "{report}");
}

#[test]
fn a_stored_connector_gets_the_commands_to_run_and_running_them_works() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-store-shop", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let run = |args: &[&str]| {
        keyway()
            .current_dir(dir.path())
            .env_remove("KEYWAY_CONFIG")
            .env_remove("KEYWAY_DATABASE_URL")
            .env("KEYWAY_DATA_DIR", dir.path().join("data"))
            .args(args)
            .assert()
            .success();
    };
    let other = write(
        dir.path(),
        "other.pem",
        &keyway_testkit::self_signed_pem("Unrelated Root"),
    );
    let url = format!("https://{}/", server.address());
    run(&["init"]);
    run(&["truststore", "add", "partners", &other]);
    let add = |extra: &[&str]| {
        let mut args = vec![
            "connector",
            "add",
            "shop",
            "--url",
            &url,
            "--truststore",
            "partners",
            "--server-name",
            "fix-store-shop.test",
        ];
        args.extend_from_slice(extra);
        run(&args);
    };
    add(&[]);
    let (code, report) = connector_test(dir.path(), "shop");
    assert_eq!(code, 1);
    assert_eq!(report["tls"]["code"], "untrusted_root", "{report}");
    let fix = fix(&report["tls"]);
    // The partner hands over its root; then the two commands the fix prints.
    let command = quoted(&fix, "keyway truststore add");
    let words: Vec<&str> = command.split_whitespace().collect();
    let (alias, file) = (words[3], words[4]);
    write(dir.path(), file, &chain.root_pem);
    run(&["truststore", "add", alias, file]);
    assert!(fix.contains(&format!("--truststore {alias}")), "{fix}");
    add(&["--truststore", alias, "--replace"]);
    let (code, report) = connector_test(dir.path(), "shop");
    assert_eq!(code, 0, "{report}");
}

#[test]
fn an_expired_root_in_the_truststore_replaced_as_the_fix_says_connects() {
    let dir = tempfile::tempdir().unwrap();
    let chain = keyway_testkit::TestChain::build(
        "fix-old-root",
        &keyway_testkit::ChainOptions {
            root_days: (-3650, -10),
            ..keyway_testkit::ChainOptions::default()
        },
    );
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let trust = dir.path().join("trust.jks");
    let root = write(dir.path(), "old-root.pem", &chain.root_pem);
    keyway()
        .args([
            "keystore",
            "import-cert",
            trust.to_str().unwrap(),
            "--alias",
            "partner-root",
        ])
        .args(["--cert", &root, "--storepass", "changeit"])
        .assert()
        .success();
    let args = strings(&[
        &server.address(),
        "--truststore",
        trust.to_str().unwrap(),
        "--truststore-storepass",
        "changeit",
        "--servername",
        "fix-old-root.test",
    ]);
    let (code, report) = test(&args);
    assert_eq!(
        (code, report["code"].as_str()),
        (1, Some("trust_anchor_unusable"))
    );
    let fix = fix(&report);
    // The partner gives the renewed root; the two commands, as printed, plus the password.
    write(dir.path(), "new-root.pem", &chain.renewed_root_pem);
    for prefix in ["keyway keystore delete", "keyway keystore import-cert"] {
        let command = quoted(&fix, prefix);
        let words: Vec<&str> = command.split_whitespace().skip(1).collect();
        keyway()
            .current_dir(dir.path())
            .args(&words)
            .args(["--storepass", "changeit"])
            .assert()
            .success();
    }
    let (code, report) = test(&args);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn a_cipher_list_the_server_refuses_removed_as_the_fix_says_connects() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("fix-ciphers", KeyKind::EcP256);
    // TLS 1.2 only, so the suite list decides.
    let server = RustlsServer::start(
        &chain,
        ServerOptions {
            versions: vec![&rustls::version::TLS12],
            ..ServerOptions::default()
        },
    );
    let root = write(dir.path(), "root.pem", &chain.root_pem);
    let base = strings(&[
        &server.address(),
        "--truststore",
        &root,
        "--servername",
        "fix-ciphers.test",
    ]);
    let mut args = base.clone();
    // An RSA suite against an ECDSA certificate: nothing in common.
    args.extend(strings(&[
        "--ciphers",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ]));
    let (code, report) = test(&args);
    assert_eq!(
        (code, report["code"].as_str()),
        (1, Some("no_shared_cipher")),
        "{report}"
    );
    assert!(fix(&report).contains("remove `--ciphers`"), "{report}");
    let (code, report) = test(&base);
    assert_eq!(code, 0, "{report}");
}
