//! `keyway init`, `keyway user …` and `keyway audit-log` on the real binary, on the
//! embedded database and on PostgreSQL.

use assert_cmd::Command;
use serde_json::Value;

const KEY: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn keyway(data: &std::path::Path, database: Option<&str>) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_MASTER_KEY")
        .env("KEYWAY_DATA_DIR", data);
    if let Some(url) = database {
        cmd.env("KEYWAY_DATABASE_URL", url)
            .env("KEYWAY_MASTER_KEY", KEY);
    }
    cmd
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

#[test]
fn sqlite_users_permissions_and_audit_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    the_whole_flow(&dir.path().join("data"), None);
    // Each command closes the database: the write-ahead log is folded back in and gone,
    // so keyway.db alone is a complete backup.
    assert!(!dir.path().join("data").join("keyway.db-wal").exists());
    // Owner-only files: the database holds password hashes and sealed secrets.
    for file in ["keyway.db", "master.key"] {
        let mode = std::fs::metadata(dir.path().join("data").join(file)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o077,
            0,
            "{file}"
        );
    }
}

#[test]
fn init_imports_the_ca_an_older_keyway_kept_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // What keyway kept before the store: DATA/ca with its records, DATA/master.key.
    let init = keyway_pki::CaInit {
        subject: keyway_pki::parse_subject("CN=Old keyway CA").unwrap(),
        key_type: keyway_pki::KeyType::EcP256,
        with_intermediate: true,
    };
    let file_ca = keyway_pki::Ca::init(&data, &init, None).unwrap();
    let master = keyway_pki::MasterKey::load(&data, None).unwrap();
    let request = keyway_pki::IssueRequest {
        profile: keyway_pki::IssueProfile::Client,
        days: 30,
        owner: Some("partner".into()),
    };
    let subject = keyway_pki::parse_subject("CN=partner").unwrap();
    let (_, issued) = file_ca
        .issue(keyway_pki::KeyType::EcP256, subject, &[], &request, &master)
        .unwrap();
    file_ca
        .revoke(&issued.record.serial, keyway_pki::Reason::Superseded)
        .unwrap();

    let out = keyway(&data, None)
        .args(["init", "--json"])
        .assert()
        .success();
    let report = json(&out.get_output().stdout);
    let state = report["ca_state"].as_str().unwrap();
    assert!(
        state.starts_with("imported from") && state.contains("1 issuance record"),
        "{state}"
    );
    assert_eq!(report["ca"]["sha256"], file_ca.root().info().sha256);

    // The record came along, revoked; the next CRL (signed by the imported
    // intermediate) lists it, and openssl verifies it against the old root.
    let out = keyway(&data, None)
        .args(["ca", "list", "--json"])
        .assert()
        .success();
    let records = json(&out.get_output().stdout);
    assert_eq!(
        records["certificates"][0]["serial"],
        keyway_keystore::colon_hex(&issued.record.serial)
    );
    assert_eq!(records["certificates"][0]["status"], "revoked");
    let crl = dir.path().join("ca.crl");
    keyway(&data, None)
        .args(["ca", "crl", "--out"])
        .arg(&crl)
        .assert()
        .success();
    let verified = std::process::Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in"])
        .arg(&crl)
        .arg("-CAfile")
        .arg(data.join("ca.pem"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verified.stdout);
    let errors = String::from_utf8_lossy(&verified.stderr);
    assert!(
        verified.status.success() && errors.contains("verify OK"),
        "{errors}"
    );
    assert!(
        text.to_ascii_lowercase()
            .replace(':', "")
            .contains(&issued.record.serial),
        "{text}"
    );
    // Again: the store's CA is used; nothing is imported twice.
    let out = keyway(&data, None)
        .args(["init", "--json"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["ca_state"], "already there");
}

#[test]
fn postgres_users_permissions_and_audit_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = keyway_testkit::postgres_database();
    the_whole_flow(&dir.path().join("data"), Some(&url));
    // A second node: another data directory, same database and master key, same users.
    let other = dir.path().join("node-2");
    let out = keyway(&other, Some(&url))
        .args(["user", "list", "--json"])
        .assert()
        .success();
    let users = json(&out.get_output().stdout);
    let names: Vec<_> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["admin", "alice", "bob"]);
    // Without the master key the shared database is refused, naming the fix.
    let out = keyway(&other, Some(&url))
        .env("KEYWAY_MASTER_KEY", "ab".repeat(32))
        .args(["user", "list"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("not the master key"), "{err}");
    assert!(!err.contains(&"ab".repeat(32)), "{err}");

    // keyway's CA is in the shared database: the second node signs with it, no files
    // copied, and `init` there finds it and writes the same certificate for clients.
    let out = keyway(&other, Some(&url))
        .args(["init", "--json"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["ca_state"], "already there");
    assert_eq!(
        std::fs::read(other.join("ca.pem")).unwrap(),
        std::fs::read(dir.path().join("data").join("ca.pem")).unwrap()
    );
    let p12 = dir.path().join("alice-node-2.p12");
    keyway(&other, Some(&url))
        .args(["user", "cert", "issue", "alice", "--out"])
        .arg(&p12)
        .args(["--password", "p12-password"])
        .assert()
        .success();
    let out = keyway(dir.path().join("data").as_path(), Some(&url))
        .args(["ca", "list", "--json"])
        .assert()
        .success();
    let records = json(&out.get_output().stdout);
    let owners: Vec<_> = records["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["owner"].as_str().unwrap_or("-").to_string())
        .collect();
    assert_eq!(owners, ["alice"], "issued on node 2, listed on node 1");
}

fn the_whole_flow(data: &std::path::Path, database: Option<&str>) {
    let out = keyway(data, database)
        .args(["init", "--json"])
        .assert()
        .success();
    let init = json(&out.get_output().stdout);
    assert_eq!(init["admin_created"], true);
    let password = init["admin_password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 24);
    // The CA is in the database; the data directory gets its certificate for clients.
    let ca_pem = std::fs::read_to_string(data.join("ca.pem")).unwrap();
    assert!(ca_pem.contains("BEGIN CERTIFICATE"));
    assert_eq!(
        init["ca_certificate"],
        data.join("ca.pem").to_str().unwrap()
    );
    assert_eq!(init["ca_state"], "created");
    assert!(!data.join("ca").exists());
    // Again: nothing new, and the password is not shown a second time.
    let out = keyway(data, database).args(["init"]).assert().success();
    let again = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(again.contains("already exists"), "{again}");
    assert!(!again.contains(&password));

    keyway(data, database)
        .args(["user", "add", "alice", "--password-stdin"])
        .args([
            "--grant",
            "manage_personal_setup",
            "--grant",
            "invoke:orders",
        ])
        .write_stdin("alice's long password\n")
        .assert()
        .success();
    keyway(data, database)
        .args(["user", "add", "bob", "--display-name", "Bob Partner"])
        .assert()
        .success();

    // alice may set her own password, not bob's; the refusal is exit 2 with the reason.
    keyway(data, database)
        .args([
            "user",
            "passwd",
            "alice",
            "--as",
            "alice",
            "--password-stdin",
        ])
        .write_stdin("another long password\n")
        .assert()
        .success();
    let out = keyway(data, database)
        .args(["user", "passwd", "bob", "--as", "alice", "--password-stdin"])
        .write_stdin("another long password\n")
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("user alice may not do user.passwd on user bob"),
        "{err}"
    );
    assert!(err.contains("user_management"), "{err}");

    // Bad input: each a clear error, exit 2, nothing changed.
    let cases: [(&[&str], &str); 4] = [
        (&["user", "add", "alice"], "user \"alice\" exists already"),
        (&["user", "grant", "bob", "admin"], "is not a permission"),
        (&["user", "disable", "carol"], "no user \"carol\""),
        (
            &["user", "disable", "bob", "--if-version", "7"],
            "is at version 1, not 7",
        ),
    ];
    for (args, expected) in cases {
        let out = keyway(data, database).args(args).assert().code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let out = keyway(data, database)
        .args(["user", "add", "dave", "--password-stdin"])
        .write_stdin("short\n")
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("at least 12"), "{err}");
    assert!(!err.contains("short\n"));

    keyway(data, database)
        .args(["user", "grant", "bob", "invoke:orders", "--if-version", "1"])
        .assert()
        .success();
    keyway(data, database)
        .args(["user", "disable", "bob"])
        .assert()
        .success();
    let out = keyway(data, database)
        .args(["user", "show", "bob", "--json"])
        .assert()
        .success();
    let bob = json(&out.get_output().stdout);
    assert_eq!(bob["enabled"], false);
    assert_eq!(bob["display_name"], "Bob Partner");
    assert_eq!(bob["permissions"], serde_json::json!(["invoke:orders"]));
    assert_eq!(bob["version"], 3);

    let out = keyway(data, database)
        .args(["audit-log", "--json", "--since", "1h"])
        .assert()
        .success();
    let log = json(&out.get_output().stdout);
    let entries: Vec<(String, String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("actor"), s("action"), s("object"), s("outcome"))
        })
        .collect();
    let expect = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_string(), b.to_string(), c.to_string(), d.to_string())
    };
    assert!(entries.contains(&expect("local-admin", "user.add", "user admin", "ok")));
    assert!(entries.contains(&expect("alice", "user.passwd", "user alice", "ok")));
    assert!(entries.contains(&expect("alice", "user.passwd", "user bob", "refused")));
    assert!(entries.contains(&expect("local-admin", "user.add", "user alice", "failed")));
    assert!(entries.contains(&expect("local-admin", "user.disable", "user bob", "ok")));
    let text = log.to_string();
    for secret in [
        password.as_str(),
        "alice's long password",
        "another long password",
    ] {
        assert!(!text.contains(secret), "the audit log shows a password");
    }
    // alice may not read it.
    keyway(data, database)
        .args(["audit-log", "--as", "alice"])
        .assert()
        .code(2);
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    keyway(&data, None).args(["init"]).assert().success();
    // The reader is gone before keyway writes: every write gets EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyway"))
        .env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_MASTER_KEY")
        .env("KEYWAY_DATA_DIR", &data)
        .args(["audit-log"])
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");
}

#[test]
fn a_full_disk_is_named_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    keyway(&data, None).args(["init"]).assert().success();
    // A truststore far bigger than the room left: 400 distinct certificates.
    let bundle: String = (0..400)
        .map(|i| keyway_testkit::self_signed_pem(&format!("CA number {i}")))
        .collect();
    let big = dir.path().join("big.pem");
    std::fs::write(&big, &bundle).unwrap();
    let small = dir.path().join("small.pem");
    std::fs::write(&small, keyway_testkit::self_signed_pem("Small CA")).unwrap();
    keyway(&data, None)
        .args(["truststore", "add", "small"])
        .arg(&small)
        .assert()
        .success();
    let before = std::fs::metadata(data.join("keyway.db")).unwrap().len();
    assert!(bundle.len() as u64 > 2 * 65536, "the bundle must not fit");

    // No file may grow past the database's size + 64 KiB: as if the disk were full.
    // (SIGXFSZ ignored, so the write fails with EFBIG instead of killing keyway.)
    let limit_kib = before / 1024 + 64;
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {limit_kib}; exec \"$0\" truststore add huge \"$1\""
        ))
        .arg(assert_cmd::cargo::cargo_bin("keyway"))
        .arg(&big)
        .env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_MASTER_KEY")
        .env("KEYWAY_DATA_DIR", &data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("may be full") && err.contains("nothing of this change was written"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Nothing was lost or half-written: the database checks out, the truststore from
    // before is intact, the new one is absent; with room again the same command works.
    // (The failure itself cannot be audited: the audit log is in the same database.)
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = keyway_store::Store::open(&keyway_store::Location::data_dir(&data), None)
            .await
            .unwrap();
        store.integrity_check().await.unwrap();
        let admin = keyway_store::Context::local_admin();
        let names: Vec<String> = store
            .truststores(&admin)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["small"]);
        store.close().await;
    });
    let out = keyway(&data, None)
        .args(["truststore", "add", "huge"])
        .arg(&big)
        .assert()
        .success();
    let added = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(added.contains("400 certificate(s)"), "{added}");
}

#[test]
fn audit_log_prune_is_for_administrators_refuses_the_future_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    keyway(&data, None).arg("init").assert().success();
    keyway(&data, None)
        .args(["user", "add", "carol", "--grant", "manage_personal_setup"])
        .assert()
        .success();
    keyway(&data, None)
        .args(["audit-log", "prune", "--before", "2999-01-01"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("future"));
    keyway(&data, None)
        .args(["audit-log", "prune", "--before", "1d", "--as", "carol"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("user_management"));
    keyway(&data, None)
        .args(["audit-log", "prune", "--before", "1d"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "removed 0 audit entries written before",
        ));
    let out = keyway(&data, None)
        .args(["audit-log", "prune", "--before", "2000-01-01", "--json"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["removed"], 0);
    let out = keyway(&data, None)
        .args(["audit-log", "--json"])
        .assert()
        .success();
    let log = json(&out.get_output().stdout);
    let prunes: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "audit.prune")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(prunes, ["refused", "ok", "ok"], "{log}");
}

#[test]
fn a_keystore_with_private_keys_is_not_made_a_truststore_by_accident() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let jks =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample/partners.jks");
    keyway(&data, None).arg("init").assert().success();
    let refused = keyway(&data, None)
        .args(["truststore", "add", "partners", jks.to_str().unwrap()])
        .args(["--storepass", "changeit"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(
        err.contains("acme-client") && err.contains("--include-key-entries"),
        "{err}"
    );
    assert!(err.contains("2 trusted certificate entries"), "{err}");
    // Nothing was stored.
    keyway(&data, None)
        .args(["truststore", "show", "partners"])
        .assert()
        .code(2);
    let out = keyway(&data, None)
        .args(["truststore", "add", "partners", jks.to_str().unwrap()])
        .args(["--storepass", "changeit", "--include-key-entries", "--json"])
        .assert()
        .success();
    let stored = json(&out.get_output().stdout);
    assert!(
        stored["certificates"].as_array().unwrap().len() >= 3,
        "{stored}"
    );
}

#[test]
fn api_tokens_are_made_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    keyway(&data, None).arg("init").assert().success();
    keyway(&data, None)
        .args(["user", "add", "ci", "--grant", "manage_connectors"])
        .assert()
        .success();
    // The local administrator is no user: whose token must be said.
    keyway(&data, None)
        .args(["token", "create", "deploy"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--user"));
    let made = keyway(&data, None)
        .args([
            "token",
            "create",
            "deploy",
            "--user",
            "ci",
            "--expires",
            "30d",
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&made.get_output().stdout).to_string();
    let secret = text
        .split_whitespace()
        .find(|w| w.starts_with("kwt_"))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    assert!(text.contains("shown this once"), "{text}");
    let listed = keyway(&data, None)
        .args(["token", "list", "--user", "ci"])
        .assert()
        .success();
    let listed = String::from_utf8_lossy(&listed.get_output().stdout).to_string();
    assert!(
        listed.contains("deploy") && !listed.contains(&secret),
        "{listed}"
    );
    // ci manages their own tokens with no permission for it; not another user's.
    keyway(&data, None)
        .args(["token", "list", "--as", "ci", "--json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"deploy\""));
    keyway(&data, None)
        .args(["token", "list", "--user", "admin", "--as", "ci"])
        .assert()
        .code(2);
    keyway(&data, None)
        .args(["token", "revoke", "deploy", "--user", "ci"])
        .assert()
        .success();
    keyway(&data, None)
        .args(["token", "revoke", "deploy", "--user", "ci"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("token list"));
    let log = json(
        &keyway(&data, None)
            .args(["audit-log", "--action", "token.", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["token.create", "token.list", "token.revoke"],
        "{log}"
    );
}
