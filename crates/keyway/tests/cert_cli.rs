//! `keyway user cert …` and `keyway truststore …` on the real binary, against a real
//! outside CA (`openssl x509 -req` signs keyway's CSR), a keytool-made JKS truststore,
//! and identities read back by openssl and keytool; on SQLite and on PostgreSQL.

use std::path::Path;

use assert_cmd::Command;
use keyway_testkit::{keytool, openssl};
use serde_json::Value;

const KEY: &str = "1f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

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

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).to_string()
}

#[test]
fn sqlite_client_certificates_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    client_certificate_flow(dir.path(), None);
}

#[test]
fn postgres_client_certificates_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = keyway_testkit::postgres_database();
    client_certificate_flow(dir.path(), Some(&url));
}

/// A partner's CA made with openssl: `ca.pem`, `ca.key`, and the extension files to
/// sign client (`client.ext`) and server (`server.ext`) certificates.
fn outside_ca(dir: &Path) {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &path("ca.key"),
        "-out",
        &path("ca.pem"),
        "-subj",
        "/CN=Partner Root CA",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    std::fs::write(
        dir.join("client.ext"),
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("server.ext"),
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
}

/// What the outside CA answers to `csr`, signed with the extensions of `ext`.
fn outside_sign(dir: &Path, csr: &str, ext: &str, out: &str) {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path(csr),
        "-CA",
        &path("ca.pem"),
        "-CAkey",
        &path("ca.key"),
        "-days",
        "10",
        "-extfile",
        &path(ext),
        "-out",
        &path(out),
    ]);
}

fn client_certificate_flow(dir: &Path, database: Option<&str>) {
    let data = dir.join("data");
    let run = |args: &[&str]| keyway(&data, database).args(args).assert();
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    run(&["init", "--json"]).success();
    run(&["user", "add", "alice", "--grant", "manage_personal_setup"]).success();
    outside_ca(dir);

    // A truststore from a keytool-made JKS; a wrong password is named and stores nothing.
    keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "partner-root",
        "-file",
        &file("ca.pem"),
        "-keystore",
        &file("trust.jks"),
        "-storepass",
        "changeit",
        "-storetype",
        "JKS",
    ]);
    let refused = run(&[
        "truststore",
        "add",
        "partner-cas",
        &file("trust.jks"),
        "--storepass",
        "wrong-pass",
    ])
    .code(2);
    assert!(
        stderr(&refused).contains("trust.jks"),
        "{}",
        stderr(&refused)
    );
    run(&["truststore", "list", "--json"])
        .success()
        .stdout("[]\n");
    let added = run(&[
        "truststore",
        "add",
        "partner-cas",
        &file("trust.jks"),
        "--storepass",
        "changeit",
        "--json",
    ])
    .success();
    let added = json(&added.get_output().stdout);
    assert_eq!(added["certificates"][0]["subject"], "CN=Partner Root CA");
    let exported = run(&[
        "truststore",
        "export",
        "partner-cas",
        "--out",
        &file("exported.pem"),
    ])
    .success();
    assert!(String::from_utf8_lossy(&exported.get_output().stdout).contains("written to"));
    let exported = openssl(&["x509", "-in", &file("exported.pem"), "-noout", "-subject"]);
    assert!(exported.contains("Partner Root CA"), "{exported}");

    // Alice makes a CSR, the outside CA signs it, alice uploads it.
    run(&[
        "user",
        "cert",
        "csr",
        "alice",
        "--subject",
        "CN=alice,O=Acme",
        "--out",
        &file("alice.csr"),
        "--as",
        "alice",
    ])
    .success();
    let subject = openssl(&[
        "req",
        "-in",
        &file("alice.csr"),
        "-noout",
        "-verify",
        "-subject",
    ]);
    assert!(
        subject.contains("CN=alice") || subject.contains("CN = alice"),
        "{subject}"
    );
    // A certificate that only allows serverAuth is refused, naming the fix.
    outside_sign(dir, "alice.csr", "server.ext", "alice-server.pem");
    let refused = keyway(&data, database)
        .args([
            "user",
            "cert",
            "upload",
            "alice",
            "--cert",
            &file("alice-server.pem"),
            "--truststore",
            "partner-cas",
            "--as",
            "alice",
        ])
        .assert()
        .code(2);
    assert!(
        stderr(&refused).contains("clientAuth"),
        "{}",
        stderr(&refused)
    );
    outside_sign(dir, "alice.csr", "client.ext", "alice.pem");
    let uploaded = run(&[
        "user",
        "cert",
        "upload",
        "alice",
        "--cert",
        &file("alice.pem"),
        "--truststore",
        "partner-cas",
        "--as",
        "alice",
        "--json",
    ])
    .success();
    let uploaded = json(&uploaded.get_output().stdout);
    assert_eq!(uploaded["origin"], "uploaded");
    assert_eq!(uploaded["has_private_key"], true);
    let sha256 = uploaded["sha256"].as_str().unwrap().to_string();
    assert_eq!(
        sha256.replace(':', ""),
        openssl(&[
            "x509",
            "-in",
            &file("alice.pem"),
            "-noout",
            "-fingerprint",
            "-sha256"
        ])
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
    );

    // Download as PKCS#12 (fingerprint lower-case with colons): openssl and keytool read it.
    let lower = sha256.to_ascii_lowercase();
    run(&[
        "user",
        "cert",
        "download",
        "alice",
        &lower,
        "--out",
        &file("alice.p12"),
        "--password",
        "p12-password",
        "--as",
        "alice",
    ])
    .success();
    let certs = openssl(&[
        "pkcs12",
        "-in",
        &file("alice.p12"),
        "-passin",
        "pass:p12-password",
        "-nokeys",
    ]);
    assert!(
        certs.contains("CN=alice") || certs.contains("CN = alice"),
        "{certs}"
    );
    let listing = keytool(&[
        "-list",
        "-keystore",
        &file("alice.p12"),
        "-storepass",
        "p12-password",
    ]);
    assert!(listing.contains("PrivateKeyEntry"), "{listing}");

    // keyway's CA issues a second one as JKS; revoking it reaches the CA's record.
    let issued = run(&[
        "user",
        "cert",
        "issue",
        "alice",
        "--out",
        &file("alice-2.jks"),
        "--password",
        "jks-password",
        "--json",
    ])
    .success();
    let issued = json(&issued.get_output().stdout);
    assert_eq!(issued["origin"], "issued");
    let listing = keytool(&[
        "-list",
        "-keystore",
        &file("alice-2.jks"),
        "-storepass",
        "jks-password",
    ]);
    assert!(listing.contains("PrivateKeyEntry"), "{listing}");
    let short: String = issued["sha256"].as_str().unwrap().replace(':', "")[..12].to_string();
    run(&[
        "user",
        "cert",
        "revoke",
        "alice",
        &short,
        "--reason",
        "superseded",
    ])
    .success();
    let records = run(&["ca", "list", "--json"]).success();
    let records = json(&records.get_output().stdout);
    assert_eq!(records["certificates"][0]["status"], "revoked");
    assert_eq!(records["certificates"][0]["reason"], "superseded");
    let listed = run(&["user", "cert", "list", "alice", "--json"]).success();
    let listed = json(&listed.get_output().stdout);
    let certificates = listed["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 2);
    assert!(certificates[1]["revoked"].is_object());
    assert!(listed["pending"].as_array().unwrap().is_empty());

    // Alice may not look at the administrator's certificates; the refusal is exit 2.
    let refused = keyway(&data, database)
        .args(["user", "cert", "list", "admin", "--as", "alice"])
        .assert()
        .code(2);
    assert!(
        stderr(&refused).contains("user_management"),
        "{}",
        stderr(&refused)
    );

    let log = run(&["audit-log", "--json"]).success();
    let log = json(&log.get_output().stdout);
    let entries: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("cert.csr", "ok"),
        ("cert.upload", "failed"),
        ("cert.upload", "ok"),
        ("cert.download", "ok"),
        ("cert.issue", "ok"),
        ("cert.revoke", "ok"),
        ("cert.list", "refused"),
        ("truststore.add", "ok"),
    ] {
        assert!(
            entries
                .iter()
                .any(|(a, o)| (a.as_str(), o.as_str()) == expected),
            "{expected:?} not in {entries:?}"
        );
    }
}
