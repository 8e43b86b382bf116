//! The real `keyway` binary, end to end: output, exit codes, files written, and the
//! outside tools reading what it wrote.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{KeyKind, TestChain, keytool, openssl};
use serde_json::Value;

fn keyway() -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    // Never inherit a password from the developer's shell; never hang on a prompt.
    cmd.env_remove("KEYWAY_STOREPASS")
        .env_remove("KEYWAY_KEYPASS")
        .timeout(Duration::from_secs(60));
    cmd
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample/partners.jks")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn quick_start_lists_the_sample_store() {
    let out = keyway()
        .args(["keystore", "list", s(&sample()), "--storepass", "changeit"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("JKS, 3 entries (integrity verified)"),
        "{text}"
    );
    assert!(
        text.contains("acme-client") && text.contains("PrivateKeyEntry"),
        "{text}"
    );
    assert!(
        text.contains("partner-root") && text.contains("trustedCertEntry"),
        "{text}"
    );
    assert!(text.contains("expires in"), "{text}");

    let out = keyway()
        .args([
            "keystore",
            "list",
            s(&sample()),
            "--storepass",
            "changeit",
            "--json",
        ])
        .output()
        .unwrap();
    let json = stdout_json(&out);
    assert_eq!(json["format"], "jks");
    let aliases: Vec<&str> = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    assert_eq!(aliases, ["acme-client", "partner-root", "legacy-bank"]);
    assert_eq!(json["entries"][0]["chain_length"], 2);
    assert_eq!(json["entries"][1]["certificate"]["key"]["algorithm"], "RSA");
}

#[test]
fn wrong_store_password_is_exit_2_names_the_file_and_does_not_echo_the_password() {
    let out = keyway()
        .args([
            "keystore",
            "list",
            s(&sample()),
            "--storepass",
            "hunter2-secret",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("partners.jks") && err.contains("wrong store password"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2-secret"),
        "the password leaked: {err}"
    );
}

#[test]
fn no_password_and_no_terminal_is_an_error_not_a_hang() {
    let out = keyway()
        .args(["keystore", "list", s(&sample())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no terminal to ask on"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn passwords_come_from_env_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "changeit\n").unwrap();
    let by_file = format!("file:{}", pw.display());
    keyway()
        .args(["keystore", "list", s(&sample()), "--storepass", &by_file])
        .assert()
        .success();
    keyway()
        .env("SAMPLE_PASS", "changeit")
        .args([
            "keystore",
            "list",
            s(&sample()),
            "--storepass",
            "env:SAMPLE_PASS",
        ])
        .assert()
        .success();
    keyway()
        .env("KEYWAY_STOREPASS", "changeit")
        .args(["keystore", "list", s(&sample())])
        .assert()
        .success();
}

#[test]
fn bad_files_get_clear_errors_and_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read(sample()).unwrap();
    let mut huge_length = real[..12].to_vec(); // magic, version, count = 3
    huge_length.extend_from_slice(&2u32.to_be_bytes()); // trusted cert tag
    huge_length.extend_from_slice(&[0, 1, b'a']); // alias "a"
    huge_length.extend_from_slice(&0u64.to_be_bytes());
    huge_length.extend_from_slice(&[0, 5, b'X', b'.', b'5', b'0', b'9']);
    huge_length.extend_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.jks", vec![], "the file is empty"),
        (
            "garbage.p12",
            b"this is not a keystore at all".to_vec(),
            "text without any -----BEGIN",
        ),
        (
            "truncated.jks",
            real[..real.len() / 2].to_vec(),
            "truncated",
        ),
        ("huge.jks", huge_length, "needs 4294967280 bytes"),
        (
            "archive.jks",
            b"PK\x03\x04rest of a zip".to_vec(),
            "ZIP archive",
        ),
        (
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n".to_vec(),
            "no \"-----END CERTIFICATE-----\" line",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = keyway()
            .args(["keystore", "list", s(&path), "--storepass", "changeit"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name), "{name}: the file is not named: {err}");
        assert!(
            err.contains(expected),
            "{name}: expected \"{expected}\" in: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let out = keyway()
        .args(["keystore", "list", s(dir.path())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
    let out = keyway()
        .args([
            "keystore",
            "list",
            s(&sample()),
            "--storepass",
            "changeit",
            "--storetype",
            "pkcs12",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the data is JKS, not PKCS#12"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn import_cert_creates_a_truststore_refuses_duplicates_and_keytool_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("trust.jks");
    let chain = TestChain::new("partner-b", KeyKind::EcP256);
    chain.write_pem(dir.path());
    let root = dir.path().join("root.pem");
    keyway()
        .args([
            "keystore",
            "import-cert",
            s(&store),
            "--alias",
            "partner-b-root",
            "--cert",
            s(&root),
            "--storepass",
            "changeit",
        ])
        .assert()
        .success();
    let out = keyway()
        .args([
            "keystore",
            "import-cert",
            s(&store),
            "--alias",
            "PARTNER-B-ROOT",
            "--cert",
            s(&root),
            "--storepass",
            "changeit",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));

    // A bundle needs --all, then lands as alias-1..n.
    let bundle = dir.path().join("chain.pem");
    let out = keyway()
        .args([
            "keystore",
            "import-cert",
            s(&store),
            "--alias",
            "bundle",
            "--cert",
            s(&bundle),
            "--storepass",
            "changeit",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds 3 certificates"),
        "{}",
        stderr(&out)
    );
    keyway()
        .args([
            "keystore",
            "import-cert",
            s(&store),
            "--alias",
            "bundle",
            "--cert",
            s(&bundle),
            "--all",
            "--storepass",
            "changeit",
        ])
        .assert()
        .success();

    let listing = keytool(&["-list", "-keystore", s(&store), "-storepass", "changeit"]);
    assert!(
        listing.contains("Your keystore contains 4 entries"),
        "{listing}"
    );
    assert!(
        listing.contains("partner-b-root") && listing.contains("bundle-3"),
        "{listing}"
    );
}

#[test]
fn import_key_with_its_own_password_then_inspect_check_and_keytool_agree() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("client-c", KeyKind::Rsa2048);
    chain.write_pem(dir.path());
    let store = dir.path().join("client.jks");
    // The key file is encrypted; the chain comes root first.
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        s(&dir.path().join("key.pem")),
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:file-pass",
        "-out",
        s(&dir.path().join("enc.key")),
    ]);
    let reversed = dir.path().join("reversed.pem");
    std::fs::write(
        &reversed,
        format!(
            "{}{}{}",
            chain.root_pem, chain.intermediate_pem, chain.leaf_pem
        ),
    )
    .unwrap();
    keyway()
        .args([
            "keystore",
            "import-key",
            s(&store),
            "--alias",
            "client-c",
            "--key",
            s(&dir.path().join("enc.key")),
            "--key-passphrase",
            "file-pass",
            "--cert",
            s(&reversed),
            "--storepass",
            "store-pass",
            "--keypass",
            "key-pass",
        ])
        .assert()
        .success();

    let out = keyway()
        .args([
            "keystore",
            "inspect",
            s(&store),
            "--alias",
            "client-c",
            "--storepass",
            "store-pass",
            "--keypass",
            "key-pass",
            "--check",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout_json(&out);
    assert_eq!(json["problems"], 0);
    assert_eq!(json["chain"].as_array().unwrap().len(), 3);
    assert!(
        json["chain"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("client-c"),
        "leaf first: {json}"
    );
    assert_eq!(json["private_key"]["algorithm"], "RSA");

    // The store password does not open this key: exit 2, naming the alias.
    let out = keyway()
        .args([
            "keystore",
            "inspect",
            s(&store),
            "--alias",
            "client-c",
            "--storepass",
            "store-pass",
            "--check",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("wrong key password for alias \"client-c\""),
        "{}",
        stderr(&out)
    );

    let listing = keytool(&[
        "-list",
        "-v",
        "-keystore",
        s(&store),
        "-storepass",
        "store-pass",
    ]);
    assert!(listing.contains("Certificate chain length: 3"), "{listing}");

    // A key that belongs to another certificate is refused, and the store is left as it was.
    let other = TestChain::new("someone-else", KeyKind::EcP256);
    std::fs::write(dir.path().join("other.key"), &other.leaf_key_pem).unwrap();
    let before = std::fs::read(&store).unwrap();
    let out = keyway()
        .args([
            "keystore",
            "import-key",
            s(&store),
            "--alias",
            "mismatch",
            "--key",
            s(&dir.path().join("other.key")),
            "--cert",
            s(&reversed),
            "--storepass",
            "store-pass",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not match the certificate"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "a refused import must not touch the store"
    );
}

#[test]
fn inspect_check_fails_with_exit_1_on_an_expired_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let expired = TestChain::with_leaf_validity("expired-partner", KeyKind::EcP256, -400, -35);
    let leaf = dir.path().join("leaf.pem");
    std::fs::write(&leaf, &expired.leaf_pem).unwrap();
    let store = dir.path().join("trust.p12");
    keyway()
        .args([
            "keystore",
            "import-cert",
            s(&store),
            "--alias",
            "old",
            "--cert",
            s(&leaf),
            "--storepass",
            "pw",
        ])
        .assert()
        .success();
    let out = keyway()
        .args([
            "keystore",
            "inspect",
            s(&store),
            "--alias",
            "old",
            "--storepass",
            "pw",
            "--check",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("expired 35 days ago"),
        "{text}"
    );
    let out = keyway()
        .args([
            "keystore",
            "inspect",
            s(&store),
            "--alias",
            "old",
            "--storepass",
            "pw",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "without --check, inspect only shows"
    );
    let list = keyway()
        .args(["keystore", "list", s(&store), "--storepass", "pw"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("expired 35 days ago"));
}

#[test]
fn delete_rename_and_passwd_change_the_file_and_keytool_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("copy.jks");
    std::fs::copy(sample(), &store).unwrap();
    keyway()
        .args([
            "keystore",
            "delete",
            s(&store),
            "--alias",
            "legacy-bank",
            "--storepass",
            "changeit",
        ])
        .assert()
        .success();
    keyway()
        .args([
            "keystore",
            "rename",
            s(&store),
            "--alias",
            "partner-root",
            "--to",
            "partner-2026",
            "--storepass",
            "changeit",
        ])
        .assert()
        .success();
    keyway()
        .args([
            "keystore",
            "passwd",
            s(&store),
            "--storepass",
            "changeit",
            "--new-storepass",
            "n3w-pass",
        ])
        .assert()
        .success();
    keyway()
        .args(["keystore", "list", s(&store), "--storepass", "changeit"])
        .assert()
        .code(2);
    let listing = keytool(&["-list", "-keystore", s(&store), "-storepass", "n3w-pass"]);
    assert!(
        listing.contains("Your keystore contains 2 entries"),
        "{listing}"
    );
    assert!(
        listing.contains("partner-2026") && !listing.contains("legacy-bank"),
        "{listing}"
    );

    // Key password of one entry: the old one stops working, the new one works.
    keyway()
        .args([
            "keystore",
            "passwd",
            s(&store),
            "--storepass",
            "n3w-pass",
            "--alias",
            "acme-client",
            "--keypass",
            "changeit",
            "--new-keypass",
            "k3y-pass",
        ])
        .assert()
        .success();
    let check = |keypass: &str| {
        keyway()
            .args([
                "keystore",
                "inspect",
                s(&store),
                "--alias",
                "acme-client",
                "--storepass",
                "n3w-pass",
                "--keypass",
                keypass,
                "--check",
            ])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(check("k3y-pass"), Some(0));
    assert_eq!(check("changeit"), Some(2));
}

#[test]
fn export_certificates_and_identities_that_openssl_reads() {
    let dir = tempfile::tempdir().unwrap();
    let der = dir.path().join("root.cer");
    keyway()
        .args([
            "keystore",
            "export",
            s(&sample()),
            "--alias",
            "partner-root",
            "--out",
            s(&der),
            "--format",
            "der",
            "--storepass",
            "changeit",
        ])
        .assert()
        .success();
    let subject = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        s(&der),
        "-noout",
        "-subject",
    ]);
    assert!(subject.contains("Partner Root CA"), "{subject}");
    // An existing output is not replaced without --force.
    keyway()
        .args([
            "keystore",
            "export",
            s(&sample()),
            "--alias",
            "partner-root",
            "--out",
            s(&der),
            "--storepass",
            "changeit",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already exists"));

    let p12 = dir.path().join("client.p12");
    keyway()
        .args([
            "keystore",
            "export",
            s(&sample()),
            "--alias",
            "acme-client",
            "--identity",
            "--out",
            s(&p12),
            "--out-type",
            "pkcs12",
            "--storepass",
            "changeit",
            "--out-storepass",
            "exp0rt",
        ])
        .assert()
        .success();
    let dumped = openssl(&["pkcs12", "-in", s(&p12), "-passin", "pass:exp0rt", "-noenc"]);
    assert!(
        dumped.contains("BEGIN PRIVATE KEY") && dumped.contains("acme-connector"),
        "{dumped}"
    );

    let pem = dir.path().join("client.pem");
    keyway()
        .args([
            "keystore",
            "export",
            s(&sample()),
            "--alias",
            "acme-client",
            "--identity",
            "--out",
            s(&pem),
            "--out-type",
            "pem",
            "--storepass",
            "changeit",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--unencrypted-key"));
}

#[test]
fn convert_between_formats_keeps_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let p12 = dir.path().join("all.p12");
    keyway()
        .args([
            "keystore",
            "convert",
            s(&sample()),
            "--storepass",
            "changeit",
            "--out",
            s(&p12),
            "--out-type",
            "pkcs12",
        ])
        .assert()
        .success();
    let listing = keytool(&["-list", "-keystore", s(&p12), "-storepass", "changeit"]);
    assert!(
        listing.contains("Your keystore contains 3 entries"),
        "{listing}"
    );

    let pem = dir.path().join("all.pem");
    keyway()
        .args([
            "keystore",
            "convert",
            s(&p12),
            "--storepass",
            "changeit",
            "--out",
            s(&pem),
            "--out-type",
            "pem",
            "--out-keypass",
            "pem-pass",
        ])
        .assert()
        .success();
    let key = openssl(&[
        "pkey",
        "-in",
        s(&pem),
        "-passin",
        "pass:pem-pass",
        "-noout",
        "-text",
    ]);
    assert!(key.contains("ASN1 OID: prime256v1"), "{key}");

    let back = dir.path().join("back.jks");
    let out = keyway()
        .args([
            "keystore",
            "convert",
            s(&pem),
            "--keypass",
            "pem-pass",
            "--out",
            s(&back),
            "--out-type",
            "jks",
            "--out-storepass",
            "again",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["entries"], 3);
    let listing = keytool(&["-list", "-keystore", s(&back), "-storepass", "again"]);
    assert!(
        listing.contains("acme-client")
            && listing.contains("partner-root")
            && listing.contains("legacy-bank"),
        "{listing}"
    );
}

#[test]
fn a_legacy_pkcs12_stays_legacy_after_an_import() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("old-consumer", KeyKind::Rsa2048);
    chain.write_pem(dir.path());
    let p12 = dir.path().join("legacy.p12");
    openssl(&[
        "pkcs12",
        "-export",
        "-legacy",
        "-inkey",
        s(&dir.path().join("key.pem")),
        "-in",
        s(&dir.path().join("leaf.pem")),
        "-passout",
        "pass:old",
        "-out",
        s(&p12),
        "-name",
        "old",
    ]);
    keyway()
        .args([
            "keystore",
            "import-cert",
            s(&p12),
            "--alias",
            "root",
            "--cert",
            s(&dir.path().join("root.pem")),
            "--storepass",
            "old",
        ])
        .assert()
        .success();
    let store = keyway_keystore::file::load(&p12, None, Some("old")).unwrap();
    assert!(
        store.pkcs12_legacy(),
        "rewritten with modern encryption: old consumers could no longer read it"
    );
    assert_eq!(store.entries().len(), 2);
}

#[test]
fn json_errors_and_help_with_examples() {
    let out = keyway()
        .args([
            "keystore",
            "list",
            "/nonexistent/store.jks",
            "--storepass",
            "x",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json = stdout_json(&out);
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/store.jks"),
        "{json}"
    );

    for command in [
        "list",
        "inspect",
        "import-cert",
        "import-key",
        "delete",
        "rename",
        "passwd",
        "export",
        "convert",
    ] {
        let out = keyway()
            .args(["keystore", command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Examples:") && help.contains("keyway keystore"),
            "{command}: {help}"
        );
        assert!(help.contains("Exit codes:"), "{command}: {help}");
        assert!(help.contains("env:VAR"), "{command}: {help}");
    }
    keyway().args(["keystore", "list"]).assert().code(2);
}

/// Runs keyway on a real pseudo-terminal (util-linux `script`), answers the password
/// prompt once it appears, and returns everything the terminal showed and the exit code.
fn on_terminal(args: &str, answer: &str) -> (String, Option<i32>) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let bin = assert_cmd::cargo::cargo_bin("keyway");
    let mut child = std::process::Command::new(keyway_testkit::tool("script"))
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .env_remove("KEYWAY_STOREPASS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    // Wait for the prompt: typing before it would reach a terminal that still echoes.
    while !String::from_utf8_lossy(&seen).contains("password for") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "keyway ended without prompting: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    (String::from_utf8_lossy(&seen).into_owned(), status.code())
}

#[test]
fn prompts_on_a_terminal_without_echoing_the_password() {
    let (screen, code) = on_terminal(&format!("keystore list {}", s(&sample())), "changeit");
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("Store password for") && screen.contains("3 entries"),
        "{screen}"
    );
    assert!(
        !screen.contains("changeit"),
        "the password was echoed: {screen}"
    );

    let (screen, code) = on_terminal(
        &format!("keystore list {}", s(&sample())),
        "not-the-password",
    );
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains("wrong store password") && !screen.contains("not-the-password"),
        "{screen}"
    );
}

#[test]
fn hostile_aliases_neither_panic_the_table_nor_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("alias-test", KeyKind::EcP256);
    let huge = "a".repeat(70_000);
    let bundle = format!(
        "Bag Attributes\n    friendlyName: {huge}\n{}Bag Attributes\n    friendlyName: evil\u{1b}[2Jname\n{}",
        chain.leaf_pem, chain.root_pem
    );
    let path = dir.path().join("hostile.pem");
    std::fs::write(&path, bundle).unwrap();
    for verbose in [false, true] {
        let mut cmd = keyway();
        cmd.args(["keystore", "list", s(&path)]);
        if verbose {
            cmd.arg("-v");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains('\u{1b}'),
            "a raw escape reached the terminal"
        );
        assert!(text.contains("evil\\u{1b}[2Jname"), "{text}");
        // The table cuts the long alias; the detail view (-v) shows it whole.
        if !verbose {
            assert!(text.len() < 20_000, "{} bytes", text.len());
        }
    }
    // --json keeps them whole (JSON escapes the control character itself).
    let out = keyway()
        .args(["keystore", "list", s(&path), "--json"])
        .output()
        .unwrap();
    let v = stdout_json(&out);
    let aliases: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    assert!(aliases.contains(&huge.as_str()));
}
