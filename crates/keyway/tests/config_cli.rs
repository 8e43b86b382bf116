//! `keyway config import|export`, `keyway integration …` and `keyway connector …` on the
//! store, on the real binary: a keyway.toml with an openssl-made PKCS#12 and a basic-auth
//! password goes into the store, its connector then calls a partner that requires the
//! client certificate and the password, what is in use cannot be removed, and the export
//! imports into a second store that works the same; on SQLite and PostgreSQL.

use std::path::Path;

use assert_cmd::Command;
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, ServerOptions, TestChain, client_p12};
use serde_json::Value;

const KEY: &str = "3f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

fn keyway(data: &Path, database: Option<&str>) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_CONFIG")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", data)
        .env("P12_PASS", "changeit")
        // No keyway.toml there: connector commands use the store.
        .current_dir(data.parent().unwrap());
    if let Some(url) = database {
        cmd.env("KEYWAY_DATABASE_URL", url);
    }
    cmd
}

fn output(assert: &assert_cmd::assert::Assert) -> String {
    let out = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(assert: &assert_cmd::assert::Assert) -> Value {
    let stdout = &assert.get_output().stdout;
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(stdout)))
}

#[test]
fn sqlite_configuration_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    flow(dir.path(), None, None);
}

#[test]
fn postgres_configuration_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (
        keyway_testkit::postgres_database(),
        keyway_testkit::postgres_database(),
    );
    flow(dir.path(), Some(&first), Some(&second));
}

fn flow(dir: &Path, database: Option<&str>, second_database: Option<&str>) {
    let server_chain = TestChain::new("orders", KeyKind::EcP256);
    let client_chain = TestChain::new("acme-client", KeyKind::EcP256);
    let server = HttpsServer::start(
        &server_chain,
        HttpsOptions {
            tls: ServerOptions {
                client_ca_pem: Some(client_chain.root_pem.clone()),
                ..ServerOptions::default()
            },
            basic_auth: Some(("svc-orders".into(), "s3cret-orders".into())),
        },
    );
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("partner-root.pem"), &server_chain.root_pem).unwrap();
    client_p12(&client_chain, &conf);
    std::fs::write(conf.join("orders.pass"), "s3cret-orders\n").unwrap();
    let toml = format!(
        r#"
[truststores.partners]
path = "partner-root.pem"

[keystores.acme]
path = "client.p12"
password = {{ env = "P12_PASS" }}

[profiles.partner-tls]
truststores = ["partners"]
keystore = "acme"
server_name = "orders.test"

[connectors.orders]
kind = "rest"
url = "{}/auth"
profile = "partner-tls"
auth = {{ username = "svc-orders", password = {{ file = "orders.pass" }} }}

[integrations.orders]
connector = "orders"
description = "Orders of partner A"
require_password = true
"#,
        server.url()
    );
    std::fs::write(conf.join("keyway.toml"), toml).unwrap();
    let data = dir.join("node").join("data");
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    let run = |args: &[&str]| keyway(&data, database).args(args).assert();
    // No keyway.toml and no embedded store yet: a clear error, no store made by accident.
    if database.is_none() {
        let refused = run(&["connector", "list"]).code(2);
        assert!(
            output(&refused).contains("keyway init"),
            "{}",
            output(&refused)
        );
        assert!(!data.exists());
    }
    run(&["init"]).success();

    // A configuration with a mistake is refused whole, naming file, item and field.
    let broken = dir.join("broken.toml");
    std::fs::write(
        &broken,
        "[profiles.x]\ntruststores = [\"missing\"]\n[connectors.y]\nkind = \"rest\"\nurl = \"https://a.example\"\nprofile = \"x\"\n",
    )
    .unwrap();
    let refused = run(&["config", "import", broken.to_str().unwrap()]).code(2);
    let text = output(&refused);
    assert!(
        text.contains("broken.toml") && text.contains("field truststores"),
        "{text}"
    );
    assert!(
        json(&run(&["connector", "list", "--json"]).success())
            .as_array()
            .unwrap()
            .is_empty()
    );

    let toml_path = conf.join("keyway.toml");
    let imported = run(&["config", "import", toml_path.to_str().unwrap(), "--json"]).success();
    let counts = json(&imported);
    assert_eq!(
        (
            counts["truststores"].as_i64(),
            counts["keystores"].as_i64(),
            counts["connectors"].as_i64(),
            counts["integrations"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );

    // The connector runs from the store: certificate and password reach the partner.
    let listed = json(&run(&["connector", "list", "--json"]).success());
    assert_eq!(listed[0]["name"], "orders");
    assert_eq!(listed[0]["user"], "svc-orders");
    let called =
        json(&run(&["connector", "call", "orders", "--path", "/ping", "--json"]).success());
    assert_eq!(called["status"], 200, "{called}");
    let integrations = json(&run(&["integration", "list", "--json"]).success());
    assert_eq!(integrations[0]["connector"], "orders");
    assert_eq!(integrations[0]["require_password"], true);

    // A connector made on the command line, with a profile of its own, over the same
    // truststore and a keystore added with `keyway keystore add`.
    run(&[
        "keystore",
        "add",
        "acme-2",
        conf.join("client.p12").to_str().unwrap(),
        "--storepass",
        "env:P12_PASS",
    ])
    .success();
    assert!(output(&run(&["keystore", "show", "acme-2"]).success()).contains("acme-client"));
    let url = format!("{}/auth", server.url());
    let add = |alias: &str| {
        keyway(&data, database)
            .args(["connector", "add", "orders-2", "--url", &url])
            .args([
                "--truststore",
                "partners",
                "--keystore",
                "acme-2",
                "--alias",
                alias,
            ])
            .args(["--server-name", "orders.test", "--tag", "payments"])
            .args([
                "--min-tls",
                "1.2",
                "--username",
                "svc-orders",
                "--password-stdin",
            ])
            .write_stdin("s3cret-orders\n")
            .assert()
    };
    let refused = add("other").code(2);
    assert!(
        output(&refused).contains("presents alias \"client\""),
        "{}",
        output(&refused)
    );
    add("client").success();
    let called =
        json(&run(&["connector", "call", "orders-2", "--path", "/ping", "--json"]).success());
    assert_eq!(called["status"], 200, "{called}");
    // The fleet audit over the store's connectors, chosen by the tag the new one carries.
    let audited = json(&run(&["audit", "--tag", "payments", "--json"]).success());
    assert_eq!(audited["counts"]["total"], 1, "{audited}");
    assert_eq!(audited["connectors"][0]["connector"], "orders-2");
    assert_eq!(
        audited["connectors"][0]["tags"],
        serde_json::json!(["payments"])
    );
    assert_eq!(audited["connectors"][0]["standing"], "passing", "{audited}");
    assert!(
        audited["connectors"][0]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["role"] == "client"),
        "the client certificate's end is listed: {audited}"
    );
    run(&[
        "integration",
        "add",
        "orders-2",
        "--connector",
        "orders-2",
        "--require-basic-auth",
    ])
    .success();
    let refused = run(&["connector", "remove", "orders-2"]).code(2);
    assert!(
        output(&refused).contains("used by integration orders-2"),
        "{}",
        output(&refused)
    );
    run(&["integration", "remove", "orders-2"]).success();
    let removed = json(&run(&["connector", "remove", "orders-2", "--json"]).success());
    assert_eq!(removed["profile_removed"], true);
    run(&["keystore", "remove", "acme-2"]).success();

    // In use: not removable; the same import again needs --replace.
    let refused = run(&["truststore", "remove", "partners"]).code(2);
    assert!(
        output(&refused).contains("used by profile partner-tls"),
        "{}",
        output(&refused)
    );
    let refused = run(&["config", "import", toml_path.to_str().unwrap()]).code(2);
    let text = output(&refused);
    assert!(
        text.contains("truststore partners") && text.contains("--replace"),
        "{text}"
    );
    run(&["config", "import", toml_path.to_str().unwrap(), "--replace"]).success();
    let listed = json(&run(&["integration", "show", "orders", "--json"]).success());
    assert_eq!(listed["version"], 2);

    // Export, then import into a second store: the connector works there too.
    let exported = dir.join("exported");
    run(&["config", "export", "--out", exported.to_str().unwrap()]).success();
    let secret = exported.join("secrets").join("connector-orders.pass");
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap().trim(),
        "s3cret-orders"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "secrets are owner-only");
    }
    let written = std::fs::read_to_string(exported.join("keyway.toml")).unwrap();
    assert!(
        !written.contains("s3cret") && !written.contains("changeit"),
        "{written}"
    );
    let refused = run(&["config", "export", "--out", exported.to_str().unwrap()]).code(2);
    assert!(
        output(&refused).contains("not empty"),
        "{}",
        output(&refused)
    );

    let other = dir.join("node-2").join("data");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let run2 = |args: &[&str]| keyway(&other, second_database).args(args).assert();
    run2(&["init"]).success();
    run2(&[
        "config",
        "import",
        exported.join("keyway.toml").to_str().unwrap(),
    ])
    .success();
    let called =
        json(&run2(&["connector", "call", "orders", "--path", "/ping", "--json"]).success());
    assert_eq!(called["status"], 200, "{called}");
    let shown = json(&run2(&["integration", "show", "orders", "--json"]).success());
    assert_eq!(shown["description"], "Orders of partner A");

    // Removing top down works; the audit log has it all, without a password.
    run(&["integration", "remove", "orders"]).success();
    let log = output(&run(&["audit-log", "--json"]).success());
    for action in [
        "profile.add",
        "connector.add",
        "integration.remove",
        "keystore.export",
    ] {
        assert!(log.contains(action), "{action} missing");
    }
    assert!(!log.contains("s3cret") && !log.contains("changeit"));
}
