//! The small things a new user tripped over: counts in words, a key password nobody
//! has, hints that name a flag the command takes, tables with their header, a store
//! announced only once it is written.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{KeyKind, TestChain};

fn keyway(data: &Path) -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_MASTER_KEY")
        .env_remove("KEYWAY_STOREPASS")
        .env_remove("KEYWAY_KEYPASS")
        .env("KEYWAY_DATA_DIR", data)
        .timeout(Duration::from_secs(60));
    cmd
}

fn out(cmd: &mut Command) -> (i32, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn counts_tables_hints_and_passwords_read_as_a_person_expects() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let at = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let chain = TestChain::new("wording", KeyKind::EcP256);
    chain.write_pem(dir.path());

    // One certificate imported: "1 entry", and "new" only once the file exists.
    let (code, stdout, stderr) = out(keyway(&data).args([
        "keystore",
        "import-cert",
        &at("trust.jks"),
        "--alias",
        "root",
        "--cert",
        &at("root.pem"),
        "--storepass",
        "changeit",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("new JKS, 1 entry"), "{stdout}");
    // A key that does not match: refused, and no store is announced or made.
    let other = TestChain::new("other", KeyKind::EcP256);
    std::fs::write(at("other-key.pem"), &other.leaf_key_pem).unwrap();
    let (code, stdout, stderr) = out(keyway(&data).args([
        "keystore",
        "import-key",
        &at("client.jks"),
        "--alias",
        "c",
        "--key",
        &at("other-key.pem"),
        "--cert",
        &at("leaf.pem"),
        "--storepass",
        "changeit",
    ]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        !stderr.contains("creating") && !stdout.contains("new JKS"),
        "{stdout}{stderr}"
    );
    assert!(!Path::new(&at("client.jks")).exists());

    // An unencrypted PEM identity: no password asked, none needed.
    keyway(&data).arg("init").assert().success();
    std::fs::write(
        at("identity.pem"),
        format!("{}{}", chain.leaf_key_pem, chain.chain_pem()),
    )
    .unwrap();
    let (code, _, stderr) =
        out(keyway(&data).args(["identity", "add", "acme", &at("identity.pem")]));
    assert_eq!(code, 0, "{stderr}");

    // `ca list` has its header row.
    keyway(&data)
        .args([
            "ca",
            "issue",
            "--profile",
            "client",
            "--subject",
            "CN=w",
            "--out",
            &at("w.pem"),
            "--no-passphrase",
        ])
        .assert()
        .success();
    let (_, stdout, _) = out(keyway(&data).args(["ca", "list"]));
    assert!(stdout.contains("1 certificate issued by"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("SERIAL") && l.contains("SUBJECT")),
        "{stdout}"
    );

    // `user passwd` without a terminal: the hint shows how --password-stdin is used.
    keyway(&data)
        .args(["user", "add", "alice"])
        .assert()
        .success();
    let (code, _, stderr) = out(keyway(&data).args(["user", "passwd", "alice"]));
    assert_eq!(code, 2);
    assert!(!stderr.contains("--password-stdin PASSWORD"), "{stderr}");
    assert!(
        stderr.contains("| keyway user passwd alice --password-stdin"),
        "{stderr}"
    );
}

#[test]
fn init_can_make_the_ca_with_an_intermediate_and_owners_are_users() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let at = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    keyway(&data)
        .args(["init", "--ca-with-intermediate"])
        .assert()
        .success();
    keyway(&data)
        .args(["ca", "cert", "--out", &at("ca.pem")])
        .assert()
        .success();
    let pem = std::fs::read_to_string(at("ca.pem")).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "{pem}");
    // --owner names a keyway user; the certificate is then theirs.
    let (code, _, stderr) = out(keyway(&data).args([
        "ca",
        "issue",
        "--profile",
        "client",
        "--subject",
        "CN=x",
        "--owner",
        "ghost",
        "--out",
        &at("x.pem"),
        "--no-passphrase",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("no user \"ghost\""), "{stderr}");
    keyway(&data)
        .args(["user", "add", "alice"])
        .assert()
        .success();
    keyway(&data)
        .args([
            "ca",
            "issue",
            "--profile",
            "client",
            "--subject",
            "CN=alice-laptop",
            "--owner",
            "alice",
            "--out",
            &at("alice.pem"),
            "--no-passphrase",
        ])
        .assert()
        .success();
    let (_, stdout, _) = out(keyway(&data).args(["user", "cert", "list", "alice"]));
    assert!(stdout.contains("CN=alice-laptop"), "{stdout}");
}

#[test]
fn distinguished_names_read_cn_first_whatever_their_encoding_order() {
    let dir = tempfile::tempdir().unwrap();
    let at = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    // openssl encodes the subject in the order given: C, O, CN.
    keyway_testkit::openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &at("k.pem"),
        "-out",
        &at("c.pem"),
        "-days",
        "30",
        "-subj",
        "/C=DE/O=Legacy Bank/OU=Treasury/CN=Legacy Bank Root",
    ]);
    let data = dir.path().join("data");
    for args in [
        vec!["keystore", "list", &at("c.pem")],
        vec!["cert", "inspect", &at("c.pem")],
    ] {
        let (code, stdout, stderr) = out(keyway(&data).args(&args));
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("CN=Legacy Bank Root, OU=Treasury, O=Legacy Bank, C=DE"),
            "{args:?}: {stdout}"
        );
    }
}

#[test]
fn lists_flag_expired_and_soon_ending_certificates_and_imports_warn() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let at = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let old = TestChain::with_leaf_validity("gone", KeyKind::EcP256, -300, -3);
    let soon = TestChain::with_leaf_validity("soon", KeyKind::EcP256, -300, 10);
    let fine = TestChain::new("fine", KeyKind::EcP256);
    std::fs::write(
        at("mixed.pem"),
        format!("{}{}{}", old.leaf_pem, soon.leaf_pem, fine.leaf_pem),
    )
    .unwrap();
    // The file's list: markers on the rows, a summary line; no colour without a terminal.
    let (code, stdout, _) = out(keyway(&data).args(["keystore", "list", &at("mixed.pem")]));
    assert_eq!(code, 0);
    let row = |cn: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!("CN={cn}")))
            .unwrap()
            .to_string()
    };
    assert!(row("gone").contains("EXPIRED"), "{stdout}");
    assert!(row("soon").contains("SOON"), "{stdout}");
    assert!(!row("fine").contains("EXPIRED") && !row("fine").contains("SOON"));
    assert!(
        stdout.contains("1 expired, 1 expires within 30 days"),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{1b}'));
    // Importing it into the store warns about the expired one, and the list flags it.
    keyway(&data).arg("init").assert().success();
    let (code, _, stderr) =
        out(keyway(&data).args(["truststore", "add", "mixed", &at("mixed.pem")]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: CN=gone") && stderr.contains("expired on"),
        "{stderr}"
    );
    let (_, stdout, _) = out(keyway(&data).args(["truststore", "show", "mixed"]));
    assert!(
        stdout.contains("EXPIRED") && stdout.contains("1 expired, 1 expires within 30 days"),
        "{stdout}"
    );
    // JSON carries the dates to decide on.
    let (_, stdout, _) = out(keyway(&data).args(["keystore", "list", &at("mixed.pem"), "--json"]));
    assert!(stdout.contains("not_after"), "{stdout}");
}

#[test]
fn markers_are_coloured_on_a_terminal_unless_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let old = TestChain::with_leaf_validity("gone", KeyKind::EcP256, -300, -3);
    let file = dir.path().join("old.pem");
    std::fs::write(&file, &old.leaf_pem).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("keyway");
    // `script` gives the command a real terminal.
    let on_terminal = |no_color: bool| {
        let mut cmd = std::process::Command::new(keyway_testkit::tool("script"));
        cmd.args(["-qec"])
            .arg(format!(
                "{} keystore list {}",
                bin.display(),
                file.display()
            ))
            .arg("/dev/null");
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let coloured = on_terminal(false);
    assert!(coloured.contains("\u{1b}[1;31mEXPIRED"), "{coloured:?}");
    let plain = on_terminal(true);
    assert!(
        plain.contains("EXPIRED") && !plain.contains("\u{1b}[1;31m"),
        "{plain:?}"
    );
}
