//! keyway against keytool and openssl, both directions: what they write, keyway reads;
//! what keyway writes, they read. Every store here is made by the real tool in the test.

use std::path::Path;

use keyway_keystore::{
    Certificate, EntryType, Error, Format, Keystore, PrivateKey, WriteOptions, file,
};
use keyway_testkit::{KeyKind, TestChain, keytool, keytool_fails, openssl};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn genkeypair(
    store: &Path,
    storetype: &str,
    alias: &str,
    keyalg: &str,
    storepass: &str,
    keypass: &str,
) {
    keytool(&[
        "-genkeypair",
        "-keystore",
        p(store),
        "-storetype",
        storetype,
        "-storepass",
        storepass,
        "-keypass",
        keypass,
        "-alias",
        alias,
        "-keyalg",
        keyalg,
        "-dname",
        &format!("CN={alias}, O=Interop"),
        "-validity",
        "30",
        "-keysize",
        if keyalg == "RSA" { "3072" } else { "384" },
    ]);
}

fn importcert(store: &Path, storetype: &str, alias: &str, cert: &Path, storepass: &str) {
    keytool(&[
        "-importcert",
        "-noprompt",
        "-keystore",
        p(store),
        "-storetype",
        storetype,
        "-storepass",
        storepass,
        "-alias",
        alias,
        "-file",
        p(cert),
    ]);
}

/// The SHA-256 fingerprint keytool prints for an alias.
fn keytool_sha256(store: &Path, storepass: &str, alias: &str) -> String {
    let out = keytool(&[
        "-list",
        "-v",
        "-keystore",
        p(store),
        "-storepass",
        storepass,
        "-alias",
        alias,
    ]);
    out.lines()
        .find_map(|l| l.trim().strip_prefix("SHA256: "))
        .unwrap_or_else(|| panic!("no SHA256 line in keytool output:\n{out}"))
        .to_string()
}

fn load_pem_cert(pem: &str) -> Certificate {
    let store = Keystore::from_bytes(pem.as_bytes(), None, None).unwrap();
    store.entries()[0].certificate().unwrap().clone()
}

fn load_pem_key(pem: &str) -> PrivateKey {
    let store = Keystore::from_bytes(pem.as_bytes(), None, None).unwrap();
    store.entries()[0].private_key(None).unwrap()
}

#[test]
fn reads_keytool_jks_with_rsa_and_ec_keys_a_separate_key_password_and_a_trusted_cert() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mixed.jks");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, keyway_testkit::self_signed_pem("Partner Root CA")).unwrap();
    genkeypair(&store, "JKS", "rsa-key", "RSA", "storepass1", "keypass-rsa");
    genkeypair(&store, "JKS", "ec-key", "EC", "storepass1", "storepass1");
    importcert(&store, "JKS", "partner-root", &root, "storepass1");

    let ks = file::load(&store, None, Some("storepass1")).unwrap();
    assert_eq!(ks.format(), Format::Jks);
    let types: Vec<_> = ks
        .entries()
        .iter()
        .map(|e| (e.alias.as_str(), e.entry_type()))
        .collect();
    assert!(
        types.contains(&("rsa-key", EntryType::PrivateKey)),
        "{types:?}"
    );
    assert!(
        types.contains(&("ec-key", EntryType::PrivateKey)),
        "{types:?}"
    );
    assert!(
        types.contains(&("partner-root", EntryType::TrustedCertificate)),
        "{types:?}"
    );

    for alias in ["rsa-key", "ec-key", "partner-root"] {
        let info = ks
            .entry(alias)
            .unwrap()
            .certificate()
            .unwrap()
            .info()
            .clone();
        assert_eq!(
            info.sha256,
            keytool_sha256(&store, "storepass1", alias),
            "fingerprint of {alias}"
        );
    }
    let rsa = ks.entry("rsa-key").unwrap();
    assert_eq!(
        rsa.certificate().unwrap().info().key.to_string(),
        "RSA 3072"
    );
    let key = rsa.private_key(Some("keypass-rsa")).unwrap();
    assert_eq!(key.matches(rsa.certificate().unwrap()), Some(true));
    let ec = ks.entry("ec-key").unwrap();
    assert_eq!(
        ec.certificate().unwrap().info().key.curve.as_deref(),
        Some("P-384")
    );
    assert_eq!(
        ec.private_key(Some("storepass1"))
            .unwrap()
            .matches(ec.certificate().unwrap()),
        Some(true)
    );

    // The store password does not open a key that has its own password, and the error says which alias.
    match rsa.private_key(Some("storepass1")) {
        Err(Error::WrongKeyPassword { alias }) => assert_eq!(alias, "rsa-key"),
        other => panic!("expected WrongKeyPassword, got {other:?}"),
    }
    // A wrong store password is a different error, naming the file.
    let err = file::load(&store, None, Some("nope")).unwrap_err();
    assert!(
        matches!(
            err.store_error(),
            Some(Error::WrongStorePassword {
                format: Format::Jks
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("mixed.jks"), "{err}");
}

#[test]
fn reads_keytool_jceks_and_lists_secret_keys_without_decrypting_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("legacy.jceks");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, keyway_testkit::self_signed_pem("JCEKS Root")).unwrap();
    genkeypair(
        &store,
        "JCEKS",
        "signer",
        "RSA",
        "jceks-pass",
        "signer-pass",
    );
    keytool(&[
        "-genseckey",
        "-keystore",
        p(&store),
        "-storetype",
        "JCEKS",
        "-storepass",
        "jceks-pass",
        "-keypass",
        "jceks-pass",
        "-alias",
        "aes-secret",
        "-keyalg",
        "AES",
        "-keysize",
        "128",
    ]);
    importcert(&store, "JCEKS", "anchor", &root, "jceks-pass");

    let ks = file::load(&store, None, Some("jceks-pass")).unwrap();
    assert_eq!(ks.format(), Format::Jceks);
    assert_eq!(ks.entries().len(), 3);
    assert_eq!(
        ks.entry("aes-secret").unwrap().entry_type(),
        EntryType::SecretKey
    );
    assert_eq!(
        ks.entry("anchor").unwrap().entry_type(),
        EntryType::TrustedCertificate
    );
    let signer = ks.entry("signer").unwrap();
    let key = signer.private_key(Some("signer-pass")).unwrap();
    assert_eq!(key.matches(signer.certificate().unwrap()), Some(true));
    assert!(matches!(
        signer.private_key(Some("jceks-pass")),
        Err(Error::WrongKeyPassword { .. })
    ));
    let err =
        Keystore::from_bytes(&std::fs::read(&store).unwrap(), None, Some("wrong")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongStorePassword {
                format: Format::Jceks
            }
        ),
        "{err}"
    );
}

#[test]
fn reads_keytool_pkcs12() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keytool.p12");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, keyway_testkit::self_signed_pem("P12 Root")).unwrap();
    genkeypair(&store, "PKCS12", "client", "EC", "p12-pass", "p12-pass");
    importcert(&store, "PKCS12", "trusted-root", &root, "p12-pass");

    let ks = file::load(&store, None, Some("p12-pass")).unwrap();
    assert_eq!(ks.format(), Format::Pkcs12);
    let client = ks.entry("client").unwrap();
    assert_eq!(client.entry_type(), EntryType::PrivateKey);
    assert_eq!(
        client
            .private_key(None)
            .unwrap()
            .matches(client.certificate().unwrap()),
        Some(true)
    );
    assert_eq!(
        ks.entry("trusted-root").unwrap().entry_type(),
        EntryType::TrustedCertificate
    );
    assert_eq!(
        client.certificate().unwrap().info().sha256,
        keytool_sha256(&store, "p12-pass", "client")
    );
    let err = file::load(&store, None, Some("wrong")).unwrap_err();
    assert!(
        matches!(
            err.store_error(),
            Some(Error::WrongStorePassword {
                format: Format::Pkcs12
            })
        ),
        "{err}"
    );
}

#[test]
fn reads_openssl_pkcs12_modern_and_legacy_with_the_whole_chain() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("openssl-client", KeyKind::Rsa2048);
    chain.write_pem(dir.path());
    let cas = dir.path().join("cas.pem");
    std::fs::write(
        &cas,
        format!("{}{}", chain.intermediate_pem, chain.root_pem),
    )
    .unwrap();
    let (key, leaf) = (dir.path().join("key.pem"), dir.path().join("leaf.pem"));
    for legacy in [false, true] {
        let out = dir
            .path()
            .join(if legacy { "legacy.p12" } else { "modern.p12" });
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            p(&key),
            "-in",
            p(&leaf),
            "-certfile",
            p(&cas),
            "-name",
            "partner-a",
            "-passout",
            "pass:ossl-pass",
            "-out",
            p(&out),
        ];
        if legacy {
            args.push("-legacy");
        }
        openssl(&args);
        let ks = file::load(&out, None, Some("ossl-pass"))
            .unwrap_or_else(|e| panic!("legacy={legacy}: {e}"));
        assert_eq!(ks.entries().len(), 1, "legacy={legacy}: {:?}", ks.entries());
        assert_eq!(
            ks.pkcs12_legacy(),
            legacy,
            "the encryption in use is detected"
        );
        let entry = ks.entry("partner-a").unwrap();
        assert_eq!(
            entry.chain().len(),
            3,
            "legacy={legacy}: leaf, intermediate, root"
        );
        assert_eq!(entry.chain()[0].der(), chain.leaf_der.as_slice());
        assert_eq!(entry.chain()[2].der(), chain.root_der.as_slice());
        assert_eq!(
            entry.private_key(None).unwrap().pkcs8_der(),
            load_pem_key(&chain.leaf_key_pem).pkcs8_der()
        );
        let err = file::load(&out, None, Some("not-it")).unwrap_err();
        assert!(
            matches!(err.store_error(), Some(Error::WrongStorePassword { .. })),
            "legacy={legacy}: {err}"
        );
    }
}

#[test]
fn openssl_truststore_without_java_trust_attributes_still_lists_its_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("cas.pem");
    std::fs::write(
        &certs,
        format!(
            "{}{}",
            keyway_testkit::self_signed_pem("CA One"),
            keyway_testkit::self_signed_pem("CA Two")
        ),
    )
    .unwrap();
    let out = dir.path().join("trust.p12");
    openssl(&[
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        p(&certs),
        "-passout",
        "pass:t",
        "-out",
        p(&out),
    ]);
    let ks = file::load(&out, None, Some("t")).unwrap();
    let aliases: Vec<_> = ks.entries().iter().map(|e| e.alias.as_str()).collect();
    assert_eq!(aliases, ["ca-one", "ca-two"]);
}

fn identity_store(format: Format) -> (Keystore, TestChain) {
    let chain = TestChain::new("written-by-keyway", KeyKind::EcP256);
    let mut ks = Keystore::new(format);
    let certs =
        [&chain.leaf_pem, &chain.intermediate_pem, &chain.root_pem].map(|p| load_pem_cert(p));
    ks.add_private_key(
        "client-id",
        load_pem_key(&chain.leaf_key_pem),
        certs.to_vec(),
    )
    .unwrap();
    ks.add_trusted_cert(
        "partner-root",
        load_pem_cert(&keyway_testkit::self_signed_pem("Partner Root")),
    )
    .unwrap();
    (ks, chain)
}

#[test]
fn keytool_reads_the_jks_keyway_writes_including_keys_under_their_own_password() {
    let dir = tempfile::tempdir().unwrap();
    let (ks, chain) = identity_store(Format::Jks);
    let path = dir.path().join("out.jks");
    let options = WriteOptions {
        store_password: Some("store-pw".into()),
        key_password: Some("key-pw".into()),
        ..Default::default()
    };
    file::save(&path, &ks, Format::Jks, &options).unwrap();

    let listing = keytool(&[
        "-list",
        "-v",
        "-keystore",
        p(&path),
        "-storepass",
        "store-pw",
    ]);
    assert!(listing.contains("Keystore type: JKS"), "{listing}");
    assert!(
        listing.contains("Your keystore contains 2 entries"),
        "{listing}"
    );
    assert!(
        listing.contains("Alias name: client-id")
            && listing.contains("Entry type: PrivateKeyEntry"),
        "{listing}"
    );
    assert!(listing.contains("Certificate chain length: 3"), "{listing}");
    assert!(
        listing.contains("Alias name: partner-root")
            && listing.contains("Entry type: trustedCertEntry"),
        "{listing}"
    );
    let leaf = load_pem_cert(&chain.leaf_pem);
    assert!(
        listing.contains(&leaf.info().sha256),
        "keytool shows the same fingerprint"
    );

    // keytool can decrypt the key with its own password: move it into a PKCS#12 and read that back.
    let p12 = dir.path().join("via-keytool.p12");
    keytool(&[
        "-importkeystore",
        "-srckeystore",
        p(&path),
        "-srcstorepass",
        "store-pw",
        "-srcalias",
        "client-id",
        "-srckeypass",
        "key-pw",
        "-destkeystore",
        p(&p12),
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        "dest-pw",
    ]);
    let back = file::load(&p12, None, Some("dest-pw")).unwrap();
    let entry = back.entry("client-id").unwrap();
    assert_eq!(
        entry.private_key(None).unwrap().pkcs8_der(),
        load_pem_key(&chain.leaf_key_pem).pkcs8_der()
    );
    // …and refuses the store password for that key.
    let refused = keytool_fails(&[
        "-importkeystore",
        "-srckeystore",
        p(&path),
        "-srcstorepass",
        "store-pw",
        "-srcalias",
        "client-id",
        "-srckeypass",
        "store-pw",
        "-destkeystore",
        p(&dir.path().join("x.p12")),
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        "dest-pw",
    ]);
    assert!(
        refused.to_lowercase().contains("password") || refused.contains("recover"),
        "{refused}"
    );
}

#[test]
fn keytool_and_openssl_read_the_pkcs12_keyway_writes_modern_and_legacy() {
    let dir = tempfile::tempdir().unwrap();
    let (ks, chain) = identity_store(Format::Pkcs12);
    for legacy in [false, true] {
        let path = dir
            .path()
            .join(if legacy { "legacy.p12" } else { "modern.p12" });
        let options = WriteOptions {
            store_password: Some("p12-pw".into()),
            pkcs12_legacy: legacy,
            ..Default::default()
        };
        file::save(&path, &ks, Format::Pkcs12, &options).unwrap();

        let listing = keytool(&["-list", "-v", "-keystore", p(&path), "-storepass", "p12-pw"]);
        assert!(
            listing.contains("Your keystore contains 2 entries"),
            "legacy={legacy}: {listing}"
        );
        assert!(listing.contains("Alias name: client-id"), "{listing}");
        assert!(listing.contains("Certificate chain length: 3"), "{listing}");
        assert!(
            listing.contains("Alias name: partner-root") && listing.contains("trustedCertEntry"),
            "{listing}"
        );

        let info = openssl(&[
            "pkcs12",
            "-info",
            "-in",
            p(&path),
            "-passin",
            "pass:p12-pw",
            "-noenc",
        ]);
        let expected_scheme = if legacy {
            "pbeWithSHA1And3-KeyTripleDES-CBC"
        } else {
            "AES-256-CBC"
        };
        assert!(
            info.contains(expected_scheme) || openssl_info_stderr(&path).contains(expected_scheme),
            "legacy={legacy}: scheme"
        );
        let key_from_openssl = load_pem_key(&info);
        assert_eq!(
            key_from_openssl.pkcs8_der(),
            load_pem_key(&chain.leaf_key_pem).pkcs8_der()
        );
    }
}

fn openssl_info_stderr(path: &Path) -> String {
    let out = std::process::Command::new(keyway_testkit::tool("openssl"))
        .args([
            "pkcs12",
            "-info",
            "-in",
            p(path),
            "-passin",
            "pass:p12-pw",
            "-noout",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn reads_openssl_pem_keys_in_every_encoding_and_bundles_with_text_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    openssl(&["genrsa", "-traditional", "-out", p(&d("rsa1.pem")), "2048"]);
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-out",
        p(&d("sec1.pem")),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        p(&d("sec1.pem")),
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:pem-pw",
        "-out",
        p(&d("enc.pem")),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        p(&d("rsa1.pem")),
        "-out",
        p(&d("plain8.pem")),
    ]);

    assert!(
        std::fs::read_to_string(d("rsa1.pem"))
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
    let rsa = file::load(&d("rsa1.pem"), None, None).unwrap().entries()[0]
        .private_key(None)
        .unwrap();
    assert_eq!(rsa.description().to_string(), "RSA 2048");
    let plain8 = file::load(&d("plain8.pem"), None, None).unwrap().entries()[0]
        .private_key(None)
        .unwrap();
    assert_eq!(
        plain8.pkcs8_der(),
        rsa.pkcs8_der(),
        "PKCS#1 wrapped into PKCS#8 equals openssl's PKCS#8"
    );
    let sec1 = file::load(&d("sec1.pem"), None, None).unwrap().entries()[0]
        .private_key(None)
        .unwrap();
    assert_eq!(sec1.description().to_string(), "EC P-256");
    let enc_store = file::load(&d("enc.pem"), None, None).unwrap();
    let enc = enc_store.entries()[0].private_key(Some("pem-pw")).unwrap();
    assert_eq!(enc.description().to_string(), "EC P-256");
    assert!(matches!(
        enc_store.entries()[0].private_key(Some("nope")),
        Err(Error::WrongKeyPassword { .. })
    ));
    assert!(matches!(
        enc_store.entries()[0].private_key(None),
        Err(Error::KeyPasswordRequired { .. })
    ));

    // A bundle as people paste them: comments between blocks, CRLF line ends, leaf not first.
    let chain = TestChain::new("bundle", KeyKind::EcP256);
    let bundle = format!(
        "# partner bundle, received 2026-11-01\r\n{}\r\nsome notes here\r\n{}{}",
        chain.root_pem, chain.intermediate_pem, chain.leaf_pem
    )
    .replace('\n', "\r\n")
    .replace("\r\r\n", "\r\n");
    let ks = Keystore::from_bytes(bundle.as_bytes(), None, None).unwrap();
    assert_eq!(ks.entries().len(), 3);
    assert!(
        ks.entries()
            .iter()
            .all(|e| e.entry_type() == EntryType::TrustedCertificate)
    );

    // openssl pkcs12 -nodes output: Bag Attributes name the alias and pair key and certificate.
    let p12 = d("id.p12");
    chain.write_pem(dir.path());
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        p(&d("key.pem")),
        "-in",
        p(&d("chain.pem")),
        "-name",
        "Bag Alias",
        "-passout",
        "pass:x",
        "-out",
        p(&p12),
    ]);
    let dumped = openssl(&["pkcs12", "-in", p(&p12), "-passin", "pass:x", "-noenc"]);
    let ks = Keystore::from_bytes(dumped.as_bytes(), None, None).unwrap();
    let entry = ks.entry("Bag Alias").unwrap();
    assert_eq!(entry.chain().len(), 3);
    assert_eq!(
        entry.private_key(None).unwrap().matches(&entry.chain()[0]),
        Some(true)
    );
}

#[test]
fn openssl_reads_the_pem_keyway_writes_with_an_encrypted_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ks, chain) = identity_store(Format::Pem);
    let path = dir.path().join("id.pem");
    let options = WriteOptions {
        key_password: Some("pem-out".into()),
        ..Default::default()
    };
    file::save(&path, &ks, Format::Pem, &options).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let key = openssl(&["pkey", "-in", p(&path), "-passin", "pass:pem-out"]);
    assert_eq!(
        load_pem_key(&key).pkcs8_der(),
        load_pem_key(&chain.leaf_key_pem).pkcs8_der()
    );
    let leaf = openssl(&["x509", "-in", p(&path), "-noout", "-subject"]);
    assert!(
        leaf.contains("written-by-keyway"),
        "first certificate is the leaf: {leaf}"
    );
    // Our own reader gets the aliases back.
    let back = file::load(&path, None, None).unwrap();
    assert_eq!(back.entry("client-id").unwrap().chain().len(), 3);
    assert_eq!(
        back.entry("partner-root").unwrap().entry_type(),
        EntryType::TrustedCertificate
    );
}

#[test]
fn many_aliases_survive_jks_round_trips_through_keytool() {
    let dir = tempfile::tempdir().unwrap();
    let mut ks = Keystore::new(Format::Jks);
    for n in 0..40 {
        ks.add_trusted_cert(
            &format!("ca-{n:02}"),
            load_pem_cert(&keyway_testkit::self_signed_pem(&format!("CA {n}"))),
        )
        .unwrap();
    }
    let path = dir.path().join("many.jks");
    file::save(
        &path,
        &ks,
        Format::Jks,
        &WriteOptions {
            store_password: Some("changeit".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let listing = keytool(&["-list", "-keystore", p(&path), "-storepass", "changeit"]);
    assert!(
        listing.contains("Your keystore contains 40 entries"),
        "{listing}"
    );
    keytool(&[
        "-delete",
        "-alias",
        "ca-07",
        "-keystore",
        p(&path),
        "-storepass",
        "changeit",
    ]);
    let back = file::load(&path, None, Some("changeit")).unwrap();
    assert_eq!(back.entries().len(), 39);
    assert!(back.entry("ca-07").is_err());
}

#[test]
fn reads_a_der_certificate_from_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("root.pem");
    std::fs::write(&pem, keyway_testkit::self_signed_pem("DER Partner Root")).unwrap();
    let der = dir.path().join("root.cer");
    openssl(&["x509", "-in", p(&pem), "-outform", "DER", "-out", p(&der)]);
    let ks = file::load(&der, None, None).unwrap();
    assert_eq!(ks.format(), Format::Der);
    assert_eq!(ks.entries().len(), 1);
    assert_eq!(ks.entries()[0].alias, "der-partner-root");
    assert_eq!(
        ks.entries()[0].chain()[0].der(),
        std::fs::read(&der).unwrap().as_slice()
    );
}

#[test]
fn a_jks_altered_after_writing_fails_its_integrity_check_even_with_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("altered.jks");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, keyway_testkit::self_signed_pem("Tamper Root")).unwrap();
    importcert(&store, "JKS", "root", &root, "changeit");
    let mut bytes = std::fs::read(&store).unwrap();
    // Flip a byte inside the certificate's signature, where the DER still parses.
    let at = bytes.len() - 30;
    bytes[at] ^= 0x01;
    let err = Keystore::from_bytes(&bytes, None, Some("changeit")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongStorePassword {
                format: Format::Jks
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("altered"), "{err}");
}
