//! keyway's `--json` outputs against their JSON Schemas (`docs/json/*.schema.json`, the
//! contract `docs/json.md` describes): every command that prints JSON, run for real, its
//! output validated by an independent validator (the jsonschema crate).

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{KeyKind, RustlsServer, ServerOptions, TestChain, assert_json_kind};
use serde_json::Value;

fn keyway(data: &Path) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_MASTER_KEY")
        .env_remove("KEYWAY_CONFIG")
        .env("KEYWAY_DATA_DIR", data)
        .timeout(Duration::from_secs(60));
    cmd
}

/// Runs the command with `--json` and checks its output against `kind`'s schema.
fn checked(data: &Path, kind: &str, args: &[&str]) -> Value {
    let out = keyway(data).args(args).arg("--json").output().unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_json_kind(kind, &value);
    keyway_testkit::assert_plain_words(&value);
    value
}

#[test]
fn every_json_output_follows_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let at = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample/partners.jks");

    // Files: a keystore, a test that connects and one that fails, a probe, an error.
    checked(
        &data,
        "keystore-list",
        &[
            "keystore",
            "list",
            sample.to_str().unwrap(),
            "--storepass",
            "changeit",
        ],
    );
    let chain = TestChain::new("contract", KeyKind::EcP256);
    chain.write_pem(dir.path());
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let url = format!("https://{}/", server.address());
    let ok = checked(
        &data,
        "test-report",
        &[
            "test",
            &url,
            "--truststore",
            &at("root.pem"),
            "--servername",
            "contract.test",
        ],
    );
    assert_eq!(ok["ok"], true);
    let failed = checked(
        &data,
        "test-report",
        &[
            "test",
            &url,
            "--truststore",
            &at("leaf.pem"),
            "--servername",
            "other.test",
        ],
    );
    assert_eq!(failed["ok"], false);
    checked(&data, "probe-report", &["probe", &server.address()]);
    checked(&data, "error", &["test", "http://plain.example/"]);

    // The store: init, users, certificates, keyway's CA, trust, the audit log.
    checked(&data, "init", &["init"]);
    checked(
        &data,
        "user",
        &["user", "add", "alice", "--grant", "invoke:orders"],
    );
    checked(&data, "user", &["user", "show", "alice"]);
    checked(&data, "user-list", &["user", "list"]);
    checked(
        &data,
        "client-certificate",
        &[
            "user",
            "cert",
            "issue",
            "alice",
            "--out",
            &at("alice.p12"),
            "--password",
            "changeit",
        ],
    );
    checked(&data, "user-cert-list", &["user", "cert", "list", "alice"]);
    checked(
        &data,
        "token-created",
        &[
            "token",
            "create",
            "ci",
            "--user",
            "alice",
            "--expires",
            "90d",
        ],
    );
    checked(&data, "token-list", &["token", "list", "--user", "alice"]);
    checked(&data, "expiry", &["expiry"]);
    keyway(&data)
        .args([
            "ca",
            "issue",
            "--profile",
            "client",
            "--subject",
            "CN=p",
            "--out",
            &at("p.pem"),
        ])
        .arg("--no-passphrase")
        .assert()
        .success();
    checked(&data, "ca-list", &["ca", "list"]);
    checked(
        &data,
        "truststore",
        &["truststore", "add", "partners", &at("root.pem")],
    );
    checked(&data, "truststore", &["truststore", "show", "partners"]);
    checked(&data, "truststore-list", &["truststore", "list"]);

    // Connectors kept in the store.
    keyway(&data)
        .args([
            "connector",
            "add",
            "shop",
            "--url",
            &url,
            "--truststore",
            "partners",
        ])
        .args(["--server-name", "contract.test"])
        .assert()
        .success();
    checked(&data, "connector-list", &["connector", "list"]);
    checked(&data, "connector", &["connector", "show", "shop"]);
    checked(&data, "connector-test", &["connector", "test", "shop"]);

    // A PMG import, then the audit log and its pruning.
    std::fs::write(
        at("scenarios.xml"),
        r#"<configuration><scenarios><scenario name="A" baseurl="https://a.example/" tls12="true" ssl3="true"/></scenarios></configuration>"#,
    )
    .unwrap();
    checked(
        &data,
        "import-pmg",
        &[
            "import",
            "pmg",
            &at("scenarios.xml"),
            "--out",
            &at("pmg.toml"),
        ],
    );
    // Keystore files, certificates, keys and CSRs.
    let copy = at("copy.jks");
    std::fs::copy(&sample, &copy).unwrap();
    checked(
        &data,
        "keystore-entry",
        &[
            "keystore",
            "inspect",
            &copy,
            "--alias",
            "partner-root",
            "--storepass",
            "changeit",
        ],
    );
    checked(
        &data,
        "keystore-change",
        &[
            "keystore",
            "rename",
            &copy,
            "--alias",
            "legacy-bank",
            "--to",
            "lb",
            "--storepass",
            "changeit",
        ],
    );
    checked(
        &data,
        "keystore-change",
        &[
            "keystore",
            "import-cert",
            &at("new.jks"),
            "--alias",
            "r",
            "--cert",
            &at("root.pem"),
            "--storepass",
            "changeit",
        ],
    );
    checked(&data, "cert-inspect", &["cert", "inspect", &at("leaf.pem")]);
    checked(
        &data,
        "cert-verify",
        &[
            "cert",
            "verify",
            &at("leaf.pem"),
            "--truststore",
            &at("root.pem"),
            "--purpose",
            "server",
            "--name",
            "contract.test",
        ],
    );
    checked(
        &data,
        "key-generate",
        &["key", "generate", "--out", &at("g.key"), "--no-passphrase"],
    );
    checked(
        &data,
        "csr",
        &[
            "csr",
            "create",
            "--key",
            &at("g.key"),
            "--no-passphrase",
            "--subject",
            "CN=g",
            "--out",
            &at("g.csr"),
        ],
    );
    checked(&data, "csr", &["csr", "show", &at("g.csr")]);

    // keyway's CA, keystores and integrations in the store, CRLs.
    let issued = checked(
        &data,
        "issued",
        &[
            "ca",
            "issue",
            "--profile",
            "client",
            "--subject",
            "CN=q",
            "--out",
            &at("q.pem"),
            "--no-passphrase",
        ],
    );
    let serial = issued["serial"].as_str().unwrap().replace(':', "");
    checked(
        &data,
        "issued",
        &[
            "ca",
            "sign",
            &at("g.csr"),
            "--profile",
            "client",
            "--out",
            &at("g.pem"),
        ],
    );
    checked(
        &data,
        "issued",
        &["ca", "revoke", &serial[..8], "--reason", "superseded"],
    );
    std::fs::write(
        at("identity.pem"),
        format!("{}{}", chain.leaf_key_pem, chain.chain_pem()),
    )
    .unwrap();
    checked(
        &data,
        "identity",
        &["identity", "add", "acme", &at("identity.pem")],
    );
    checked(&data, "identity-list", &["identity", "list"]);
    checked(
        &data,
        "integration",
        &["integration", "add", "orders", "--connector", "shop"],
    );
    checked(&data, "integration-list", &["integration", "list"]);
    let partner_ca = keyway_testkit::TestCa::new("contract-clients");
    std::fs::write(at("clients-ca.pem"), partner_ca.pem()).unwrap();
    std::fs::write(at("clients.crl"), partner_ca.crl(1, &[], 0, 7)).unwrap();
    keyway(&data)
        .args([
            "truststore",
            "add",
            "partner-clients",
            &at("clients-ca.pem"),
        ])
        .assert()
        .success();
    checked(&data, "crl-import", &["crl", "import", &at("clients.crl")]);
    checked(&data, "crl-list", &["crl", "list"]);

    let log = checked(&data, "audit-log", &["audit-log"]);
    assert!(!log.as_array().unwrap().is_empty());
    checked(
        &data,
        "audit-prune",
        &["audit-log", "prune", "--before", "2000-01-01"],
    );
}
