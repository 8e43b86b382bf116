//! `keyway identity …` on the real binary: a keytool-made JKS whose key has its own
//! password and an openssl-made PKCS#12 stored, listed, exported as given and as a new
//! file openssl and keytool read, removed with a version check; on SQLite and PostgreSQL.

use std::path::Path;

use assert_cmd::Command;
use keyway_testkit::{KeyKind, TestChain, client_p12, keytool, openssl};
use serde_json::Value;

const KEY: &str = "2f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

fn keyway(data: &Path, database: Option<&str>) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", data);
    if let Some(url) = database {
        cmd.env("KEYWAY_DATABASE_URL", url);
    }
    cmd
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

#[test]
fn sqlite_keystores_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    keystore_flow(dir.path(), None);
}

#[test]
fn postgres_keystores_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = keyway_testkit::postgres_database();
    keystore_flow(dir.path(), Some(&url));
}

fn keystore_flow(dir: &Path, database: Option<&str>) {
    let data = dir.join("data");
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        keyway(&data, database)
            .env("KEY_PASS", "key-pass")
            .args(args)
            .assert()
    };
    let output = |assert: &assert_cmd::assert::Assert| {
        let out = assert.get_output();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    run(&["init"]).success();
    run(&["user", "add", "bob", "--grant", "manage_connectors"]).success();

    // A JKS from keytool whose key has a password of its own.
    keytool(&[
        "-genkeypair",
        "-alias",
        "orders",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        "CN=orders-client",
        "-validity",
        "30",
        "-storetype",
        "JKS",
        "-keystore",
        &file("partner.jks"),
        "-storepass",
        "store-pass",
        "-keypass",
        "key-pass",
    ]);
    let refused = run(&[
        "identity",
        "add",
        "legacy",
        &file("partner.jks"),
        "--storepass",
        "store-pass",
    ])
    .code(2);
    let text = output(&refused);
    assert!(
        text.contains("\"orders\" does not open") && text.contains("key password"),
        "{text}"
    );
    assert!(!text.contains("store-pass"), "{text}");
    let added = run(&[
        "identity",
        "add",
        "legacy",
        &file("partner.jks"),
        "--storepass",
        "store-pass",
        "--keypass",
        "env:KEY_PASS",
        "--json",
    ])
    .success();
    let added = json(&added.get_output().stdout);
    assert_eq!(added["alias"], "orders");
    assert_eq!(added["format"], "jks");
    assert_eq!(added["has_key_password"], true);

    // A PKCS#12 from openssl.
    let chain = TestChain::new("acme-client", KeyKind::EcP256);
    let p12 = client_p12(&chain, dir);
    run(&[
        "identity",
        "add",
        "acme",
        p12.to_str().unwrap(),
        "--storepass",
        "changeit",
    ])
    .success();
    let listed = run(&["identity", "list", "--json", "--as", "bob"]).success();
    let listed = json(&listed.get_output().stdout);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "legacy"]);
    let shown = run(&["identity", "show", "acme"]).success();
    let shown = output(&shown);
    assert!(
        shown.contains("presents: client") && shown.contains("acme-client"),
        "{shown}"
    );

    // Exported as stored: the same bytes. Into another type: needs a password.
    run(&["identity", "export", "acme", "--out", &file("back.p12")]).success();
    assert_eq!(
        std::fs::read(file("back.p12")).unwrap(),
        std::fs::read(&p12).unwrap()
    );
    let refused = run(&["identity", "export", "acme", "--out", &file("acme.jks")]).code(2);
    assert!(
        output(&refused).contains("is PKCS#12"),
        "{}",
        output(&refused)
    );
    assert!(!Path::new(&file("acme.jks")).exists());
    run(&[
        "identity",
        "export",
        "legacy",
        "--out",
        &file("legacy.p12"),
        "--password",
        "new-pass",
    ])
    .success();
    let subject = openssl(&[
        "pkcs12",
        "-in",
        &file("legacy.p12"),
        "-passin",
        "pass:new-pass",
        "-nokeys",
        "-clcerts",
    ]);
    assert!(subject.contains("orders-client"), "{subject}");
    let listing = keytool(&[
        "-list",
        "-keystore",
        &file("legacy.p12"),
        "-storepass",
        "new-pass",
    ]);
    assert!(listing.contains("PrivateKeyEntry"), "{listing}");

    // bob manages connectors: he sees keystores, he may not export them.
    let refused = run(&[
        "identity",
        "export",
        "legacy",
        "--out",
        &file("bob.jks"),
        "--as",
        "bob",
    ])
    .code(2);
    assert!(
        output(&refused).contains("manage_trust"),
        "{}",
        output(&refused)
    );
    assert!(!Path::new(&file("bob.jks")).exists());

    // Removal is version-checked; afterwards the name is unknown.
    let refused = run(&["identity", "remove", "acme", "--if-version", "5"]).code(2);
    assert!(
        output(&refused).contains("version 1, not 5"),
        "{}",
        output(&refused)
    );
    run(&["identity", "remove", "acme"]).success();
    let refused = run(&["identity", "show", "acme"]).code(2);
    assert!(
        output(&refused).contains("no keystore \"acme\""),
        "{}",
        output(&refused)
    );
    let log = run(&["audit-log", "--json"]).success();
    let log = String::from_utf8_lossy(&log.get_output().stdout).to_string();
    for action in ["keystore.add", "keystore.export", "keystore.remove"] {
        assert!(log.contains(action), "{action} not in the audit log");
    }
    assert!(!log.contains("store-pass") && !log.contains("key-pass"));
}
