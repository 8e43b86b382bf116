//! `keyway crl …` on the real binary with CRLs made by `openssl ca -gencrl`: imported
//! against the truststore holding the CA, replaced by a newer one, an older one and a
//! file that is not a CRL refused (exit 2, the file named, nothing changed), removed.

use std::path::Path;

use assert_cmd::Command;
use keyway_testkit::openssl;
use serde_json::Value;

const KEY: &str = "3f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

fn keyway(data: &Path) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", data);
    cmd
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

#[test]
fn openssl_made_crls_are_imported_replaced_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // A partner CA run with `openssl ca`: its database, CRL number and one revocation.
    std::fs::write(at("index.txt"), "").unwrap();
    std::fs::write(at("crlnumber"), "01\n").unwrap();
    std::fs::write(
        at("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = partner\n[partner]\ndatabase = {}\ncrlnumber = {}\ncertificate = {}\nprivate_key = {}\ndefault_md = sha256\ndefault_crl_days = 7\n",
            at("index.txt"),
            at("crlnumber"),
            at("ca.pem"),
            at("ca.key")
        ),
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &at("ca.key"),
        "-out",
        &at("ca.pem"),
        "-days",
        "30",
        "-subj",
        "/O=Partner/CN=Partner Client CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &at("client.key"),
        "-out",
        &at("client.csr"),
        "-subj",
        "/CN=orders-client",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &at("client.csr"),
        "-CA",
        &at("ca.pem"),
        "-CAkey",
        &at("ca.key"),
        "-CAcreateserial",
        "-out",
        &at("client.pem"),
        "-days",
        "10",
    ]);
    let config = at("ca.cnf");
    openssl(&[
        "ca",
        "-config",
        &config,
        "-revoke",
        &at("client.pem"),
        "-crl_reason",
        "keyCompromise",
    ]);
    openssl(&[
        "ca",
        "-config",
        &config,
        "-gencrl",
        "-out",
        &at("first.crl"),
    ]);
    openssl(&[
        "ca",
        "-config",
        &config,
        "-gencrl",
        "-out",
        &at("second.crl"),
    ]);
    openssl(&[
        "crl",
        "-in",
        &at("second.crl"),
        "-outform",
        "DER",
        "-out",
        &at("second.der"),
    ]);

    let data = dir.path().join("data");
    let run = |args: &[&str]| keyway(&data).args(args).assert();
    let text = |assert: &assert_cmd::assert::Assert| {
        let out = assert.get_output();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    run(&["init"]).success();
    // Before its CA is trusted, the CRL cannot be checked: refused, with the way out.
    let refused = run(&["crl", "import", &at("first.crl")]).code(2);
    assert!(
        text(&refused).contains("keyway truststore add"),
        "{}",
        text(&refused)
    );
    run(&["truststore", "add", "partner-clients", &at("ca.pem")]).success();

    let imported = run(&["crl", "import", &at("first.crl")]).success();
    let shown = text(&imported);
    assert!(shown.contains("imported"), "{shown}");
    assert!(shown.contains("1 certificate(s) revoked"), "{shown}");
    assert!(shown.contains("truststore partner-clients"), "{shown}");

    let replaced = run(&["crl", "import", &at("second.der"), "--json"]).success();
    let answer = json(&replaced.get_output().stdout);
    assert_eq!(answer["import"]["replaced"]["previous"], "1", "{answer}");
    assert_eq!(answer["crl"]["number"], "2");

    let older = run(&["crl", "import", &at("first.crl")]).code(2);
    assert!(text(&older).contains("not newer"), "{}", text(&older));
    let junk = run(&["crl", "import", &at("client.pem")]).code(2);
    assert!(text(&junk).contains("client.pem"), "{}", text(&junk));
    assert!(text(&junk).contains("not \"X509 CRL\""), "{}", text(&junk));

    let listed = run(&["crl", "list", "--json"]).success();
    let list = json(&listed.get_output().stdout);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["number"], "2");
    assert_eq!(list[0]["revoked"], 1);
    let issuer = list[0]["issuer"].as_str().unwrap().to_string();
    assert!(issuer.contains("Partner Client CA"), "{issuer}");
    let table = text(&run(&["crl", "list"]).success());
    assert!(table.contains("current until"), "{table}");

    run(&["crl", "remove", &issuer]).success();
    let empty = text(&run(&["crl", "list"]).success());
    assert!(empty.contains("no CRLs"), "{empty}");
    let missing = run(&["crl", "remove", &issuer]).code(2);
    assert!(
        text(&missing).contains("keyway crl list"),
        "{}",
        text(&missing)
    );
}
