//! `keyway key|csr|ca|cert` end to end with the real binary: the two ways to get a client
//! certificate, checked by openssl and keytool, and the errors users meet on the way.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{keytool, openssl};
use serde_json::Value;

fn keyway(data: &Path) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env_remove("KEYWAY_MASTER_KEY")
        .env("KEYWAY_DATA_DIR", data)
        .timeout(Duration::from_secs(60));
    cmd
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn outside_ca_flow_key_csr_signed_bundle_verify_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = |name: &str| dir.path().join(name);
    ok(keyway(&data).args([
        "ca",
        "init",
        "--with-intermediate",
        "--subject",
        "CN=Acme keyway CA,O=Acme",
    ]));

    // 1. The user makes a key and a CSR and sends the CSR to "the CA" (here keyway's).
    ok(keyway(&data)
        .args([
            "key",
            "generate",
            "--out",
            s(&p("client.key")),
            "--passphrase",
            "env:KEY_PASS",
        ])
        .env("KEY_PASS", "k3y-pass"));
    let mode = std::fs::metadata(p("client.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    ok(keyway(&data).args([
        "csr",
        "create",
        "--key",
        s(&p("client.key")),
        "--key-passphrase",
        "k3y-pass",
        "--subject",
        "CN=partner-a,O=Acme,C=DE",
        "--out",
        s(&p("client.csr")),
    ]));
    openssl(&["req", "-in", s(&p("client.csr")), "-verify", "-noout"]);
    let shown = ok(keyway(&data).args(["csr", "show", s(&p("client.csr"))]));
    assert!(shown.contains("Signature: verified"), "{shown}");

    // 2. The CA signs it, for keyway user alice.
    ok(keyway(&data).args(["user", "add", "alice"]));
    let signed = ok(keyway(&data).args([
        "ca",
        "sign",
        s(&p("client.csr")),
        "--profile",
        "client",
        "--owner",
        "alice",
        "--out",
        s(&p("client.pem")),
        "--json",
    ]));
    let signed: Value = serde_json::from_str(&signed).unwrap();
    let serial = signed["serial"].as_str().unwrap().to_string();
    assert_eq!(signed["owner"], "alice");

    // 3. The user uploads the signed certificate: checked, bundled, read by Java and OpenSSL.
    ok(keyway(&data).args(["ca", "cert", "--out", s(&p("ca.pem"))]));
    ok(keyway(&data).args([
        "cert",
        "bundle",
        "--key",
        s(&p("client.key")),
        "--key-passphrase",
        "k3y-pass",
        "--cert",
        s(&p("client.pem")),
        "--ca",
        s(&p("ca.pem")),
        "--out",
        s(&p("client.p12")),
        "--password",
        "p12-pass",
        "--alias",
        "partner-a",
    ]));
    let listing = keytool(&[
        "-list",
        "-v",
        "-keystore",
        s(&p("client.p12")),
        "-storepass",
        "p12-pass",
    ]);
    assert!(
        listing.contains("Alias name: partner-a")
            && listing.contains("Certificate chain length: 3"),
        "{listing}"
    );
    openssl(&[
        "pkcs12",
        "-in",
        s(&p("client.p12")),
        "-passin",
        "pass:p12-pass",
        "-noout",
    ]);
    let out = ok(keyway(&data).args([
        "cert",
        "verify",
        s(&p("client.pem")),
        "--truststore",
        s(&p("ca.pem")),
    ]));
    assert!(out.contains("valid for client use"), "{out}");

    // A certificate for another key is refused, and nothing is written.
    ok(keyway(&data).args([
        "key",
        "generate",
        "--out",
        s(&p("other.key")),
        "--no-passphrase",
    ]));
    let e = fails(
        keyway(&data).args([
            "cert",
            "bundle",
            "--key",
            s(&p("other.key")),
            "--no-key-passphrase",
            "--cert",
            s(&p("client.pem")),
            "--ca",
            s(&p("ca.pem")),
            "--out",
            s(&p("wrong.p12")),
            "--password",
            "x",
        ]),
        2,
    );
    assert!(e.contains("another key"), "{e}");
    assert!(!p("wrong.p12").exists());

    // 4. Revocation: the CRL makes `cert verify` fail.
    ok(keyway(&data).args(["ca", "revoke", &serial, "--reason", "keyCompromise"]));
    ok(keyway(&data).args(["ca", "crl", "--out", s(&p("ca.crl"))]));
    let out = fails(
        keyway(&data).args([
            "cert",
            "verify",
            s(&p("client.pem")),
            "--truststore",
            s(&p("ca.pem")),
            "--crl",
            s(&p("ca.crl")),
        ]),
        1,
    );
    assert!(out.to_lowercase().contains("revoked"), "{out}");
    let list: Value =
        serde_json::from_str(&ok(keyway(&data).args(["ca", "list", "--json"]))).unwrap();
    assert_eq!(list["certificates"][0]["status"], "revoked");
    assert_eq!(list["certificates"][0]["reason"], "keyCompromise");
}

#[test]
fn keyway_ca_issues_identities_java_and_openssl_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = |name: &str| dir.path().join(name);
    ok(keyway(&data).args(["ca", "init"]));
    ok(keyway(&data).args([
        "ca",
        "issue",
        "--subject",
        "CN=java-client",
        "--out",
        s(&p("client.jks")),
        "--password",
        "changeit",
    ]));
    let listing = keytool(&[
        "-list",
        "-keystore",
        s(&p("client.jks")),
        "-storepass",
        "changeit",
    ]);
    assert!(
        listing.contains("client, ") && listing.contains("PrivateKeyEntry"),
        "{listing}"
    );
    ok(keyway(&data).args([
        "ca",
        "issue",
        "--subject",
        "CN=curl-client",
        "--key-type",
        "rsa2048",
        "--out",
        s(&p("curl.pem")),
        "--no-passphrase",
    ]));
    let pem = std::fs::read_to_string(p("curl.pem")).unwrap();
    assert!(pem.contains("BEGIN PRIVATE KEY") && pem.contains("BEGIN CERTIFICATE"));
    openssl(&["x509", "-in", s(&p("curl.pem")), "-noout"]);
    let inspected = ok(keyway(&data).args(["cert", "inspect", s(&p("curl.pem")), "--json"]));
    let inspected: Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(
        inspected["certificates"][0]["extended_key_usage"][0],
        "clientAuth"
    );
    assert_eq!(inspected["certificates"][0]["key"]["bits"], 2048);
    let fp = ok(keyway(&data).args(["cert", "fingerprint", s(&p("curl.pem"))]));
    let expected = openssl(&[
        "x509",
        "-in",
        s(&p("curl.pem")),
        "-noout",
        "-fingerprint",
        "-sha256",
    ]);
    let expected = expected.trim().rsplit('=').next().unwrap().to_string();
    assert!(fp.contains(&expected), "{fp} vs {expected}");
}

#[test]
fn mistakes_get_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = |name: &str| dir.path().join(name);

    let e = fails(keyway(&data).args(["ca", "list"]), 2);
    assert!(e.contains("no CA") && e.contains("keyway ca init"), "{e}");
    ok(keyway(&data).args(["ca", "init"]));
    let e = fails(keyway(&data).args(["ca", "init"]), 2);
    assert!(e.contains("is keyway's CA already"), "{e}");

    // No passphrase and no terminal: an error, never a hang, never a plain key by accident.
    let e = fails(
        keyway(&data).args(["key", "generate", "--out", s(&p("k.pem"))]),
        2,
    );
    assert!(
        e.contains("--no-passphrase") || e.contains("--passphrase"),
        "{e}"
    );
    assert!(!p("k.pem").exists());

    ok(keyway(&data).args([
        "key",
        "generate",
        "--out",
        s(&p("k.pem")),
        "--no-passphrase",
    ]));
    let before = std::fs::read(p("k.pem")).unwrap();
    let e = fails(
        keyway(&data).args([
            "key",
            "generate",
            "--out",
            s(&p("k.pem")),
            "--no-passphrase",
        ]),
        2,
    );
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(std::fs::read(p("k.pem")).unwrap(), before);

    let e = fails(
        keyway(&data).args([
            "csr",
            "create",
            "--key",
            s(&p("k.pem")),
            "--no-passphrase",
            "--subject",
            "CN=a,XX=b",
            "--out",
            s(&p("r.csr")),
        ]),
        2,
    );
    assert!(e.contains("unknown attribute \"XX\""), "{e}");

    std::fs::write(
        p("garbage.csr"),
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    )
    .unwrap();
    let records = ok(keyway(&data).args(["ca", "list", "--json"]));
    let e = fails(
        keyway(&data).args(["ca", "sign", s(&p("garbage.csr")), "--out", s(&p("x.pem"))]),
        2,
    );
    assert!(
        e.contains("garbage.csr") && e.contains("not a certificate signing request"),
        "{e}"
    );
    let e = fails(
        keyway(&data)
            .args([
                "ca",
                "issue",
                "--subject",
                "CN=x",
                "--out",
                s(&p("x.p12")),
                "--password",
                "p",
            ])
            .env("KEYWAY_MASTER_KEY", "00".repeat(32)),
        2,
    );
    assert!(
        e.contains("master key") && !e.contains(&"00".repeat(32)),
        "{e}"
    );
    assert_eq!(
        ok(keyway(&data).args(["ca", "list", "--json"])),
        records,
        "no record written"
    );
    assert!(!p("x.p12").exists());
    let e = fails(
        keyway(&data).args(["ca", "revoke", "abcdef", "--reason", "stolen"]),
        2,
    );
    assert!(
        e.contains("unknown reason") && e.contains("keyCompromise"),
        "{e}"
    );
}

#[test]
fn cert_verify_names_the_same_causes_as_keyway_test() {
    use keyway_testkit::{KeyKind, TestChain};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let chain = TestChain::new("verify-partner", KeyKind::EcP256);
    chain.write_pem(dir.path());
    let at = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let verify = |cert: &str, name: &str| {
        let out = keyway(&data)
            .args(["cert", "verify", cert, "--truststore", &at("root.pem")])
            .args(["--purpose", "server", "--name", name, "--json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        keyway_testkit::assert_plain_words(&v);
        v
    };
    // The leaf alone: its issuer is missing.
    let v = verify(&at("leaf.pem"), "verify-partner.test");
    assert_eq!(v["code"], "incomplete_chain", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("verify-partner Issuing CA"),
        "{v}"
    );
    // The chain, checked against another name.
    std::fs::write(
        at("sent.pem"),
        format!("{}{}", chain.leaf_pem, chain.intermediate_pem),
    )
    .unwrap();
    let v = verify(&at("sent.pem"), "other.example");
    assert_eq!(v["code"], "hostname_mismatch", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("verify-partner.test"),
        "{v}"
    );
    // An expired leaf, with its date.
    let old = TestChain::with_leaf_validity("verify-old", KeyKind::EcP256, -300, -2);
    std::fs::write(at("root.pem"), &old.root_pem).unwrap();
    std::fs::write(
        at("old.pem"),
        format!("{}{}", old.leaf_pem, old.intermediate_pem),
    )
    .unwrap();
    let v = verify(&at("old.pem"), "verify-old.test");
    assert_eq!(v["code"], "certificate_expired", "{v}");
    assert!(!v["remediation"].as_array().unwrap().is_empty());
    // The text says the same.
    let text = fails(
        keyway(&data).args([
            "cert",
            "verify",
            &at("old.pem"),
            "--truststore",
            &at("root.pem"),
            "--purpose",
            "server",
            "--name",
            "verify-old.test",
        ]),
        1,
    );
    assert!(text.contains("NOT valid: certificate_expired"), "{text}");
}
