//! keyway-pki's output checked by independent implementations (openssl, keytool, rustls),
//! and CSRs made by them signed by keyway's CA.

use std::path::{Path, PathBuf};
use std::process::Command;

use keyway_keystore::Certificate;
use keyway_pki::{
    Ca, CaInit, IssueProfile, IssueRequest, Issued, KeyType, MasterKey, Pending, PkiError, Reason,
    San, Status, check_upload, create_csr, generate, key_pem, parse_subject, read_csr,
    read_private_key,
};
use keyway_testkit::{keytool, openssl, tool};
use time::OffsetDateTime;

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `openssl` that may fail: (success, stdout + stderr).
fn openssl_status(args: &[&str]) -> (bool, String) {
    let out = Command::new(tool("openssl")).args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn new_ca(dir: &Path, with_intermediate: bool) -> (Ca, MasterKey) {
    let ca = Ca::init(
        dir,
        &CaInit {
            subject: parse_subject("CN=keyway Test CA,O=keyway tests").unwrap(),
            key_type: KeyType::EcP256,
            with_intermediate,
        },
        None,
    )
    .unwrap();
    let master = MasterKey::load(dir, None).unwrap();
    (ca, master)
}

fn client(owner: &str) -> IssueRequest {
    IssueRequest {
        profile: IssueProfile::Client,
        days: 30,
        owner: Some(owner.into()),
    }
}

fn chain_files(dir: &Path, ca: &Ca, issued: &Issued) -> (PathBuf, PathBuf, PathBuf) {
    let leaf = write(dir, "leaf.pem", issued.certificate.to_pem());
    let root = write(dir, "root.pem", ca.root().to_pem());
    let untrusted: String = issued.chain[..issued.chain.len() - 1]
        .iter()
        .map(Certificate::to_pem)
        .collect();
    // openssl wants a file even when there is no intermediate: the root does no harm.
    let untrusted = write(
        dir,
        "untrusted.pem",
        if untrusted.is_empty() {
            ca.root().to_pem()
        } else {
            untrusted
        },
    );
    (leaf, root, untrusted)
}

#[test]
fn every_key_type_makes_keys_openssl_reads_and_csrs_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    for kind in KeyType::ALL {
        let key = generate(kind).unwrap();
        let pem = key_pem(&key, Some("s3cret pass")).unwrap();
        assert!(
            pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            "{kind}"
        );
        let key_path = write(dir.path(), &format!("{kind}.key"), &pem);
        let text = openssl(&[
            "pkey",
            "-in",
            s(&key_path),
            "-passin",
            "pass:s3cret pass",
            "-noout",
            "-text",
        ]);
        let expected = match kind {
            KeyType::EcP256 => "prime256v1",
            KeyType::EcP384 => "secp384r1",
            KeyType::Rsa2048 => "2048 bit",
            KeyType::Rsa3072 => "3072 bit",
            KeyType::Rsa4096 => "4096 bit",
            KeyType::Ed25519 => "ED25519",
        };
        assert!(text.contains(expected), "{kind}: {text}");
        // And keyway reads it back.
        let again = read_private_key(pem.as_bytes(), Some("s3cret pass"), "key").unwrap();
        assert_eq!(again, key);

        let csr = create_csr(
            &key,
            parse_subject("CN=partner-a,OU=Integration,O=Acme\\, Inc.,C=DE").unwrap(),
            &[
                San::parse("dns:partner-a.example").unwrap(),
                San::parse("ip:192.0.2.10").unwrap(),
                San::parse("email:ops@partner-a.example").unwrap(),
            ],
        )
        .unwrap();
        let csr_path = write(dir.path(), &format!("{kind}.csr"), &csr);
        let out = openssl(&["req", "-in", s(&csr_path), "-verify", "-noout", "-subject"]);
        assert!(
            out.contains("C=DE, O=\"Acme, Inc.\", OU=Integration, CN=partner-a")
                || out.contains("C = DE, O = \"Acme, Inc.\", OU = Integration, CN = partner-a"),
            "{kind}: {out}"
        );
        let parsed = read_csr(csr.as_bytes(), "req.csr").unwrap();
        assert_eq!(
            parsed.sans,
            [
                "dns:partner-a.example",
                "ip:192.0.2.10",
                "email:ops@partner-a.example"
            ]
        );
    }
}

#[test]
fn a_wrong_passphrase_or_plain_key_request_is_clear() {
    let key = generate(KeyType::EcP256).unwrap();
    let pem = key_pem(&key, Some("right")).unwrap();
    let e = read_private_key(pem.as_bytes(), Some("hunter2-guess"), "key.pem").unwrap_err();
    assert!(e.to_string().contains("key.pem: wrong passphrase"), "{e}");
    assert!(
        !e.to_string().contains("hunter2"),
        "never echo the passphrase: {e}"
    );
    let e = read_private_key(pem.as_bytes(), None, "key.pem").unwrap_err();
    assert!(e.to_string().contains("key.pem is encrypted"), "{e}");
    assert!(key_pem(&key, Some("")).is_err());
    assert!(
        key_pem(&key, None)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
}

#[test]
fn issued_client_certificates_verify_with_openssl_with_and_without_intermediate() {
    for with_intermediate in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (ca, master) = new_ca(dir.path(), with_intermediate);
        let (key, issued) = ca
            .issue(
                KeyType::EcP256,
                parse_subject("CN=connector-7,O=Acme").unwrap(),
                &[],
                &client("alice"),
                &master,
            )
            .unwrap();
        assert_eq!(issued.chain.len(), if with_intermediate { 2 } else { 1 });
        assert_eq!(key.matches(&issued.certificate), Some(true));
        let (leaf, root, untrusted) = chain_files(dir.path(), &ca, &issued);
        let out = openssl(&[
            "verify",
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&untrusted),
            "-purpose",
            "sslclient",
            s(&leaf),
        ]);
        assert!(out.contains(": OK"), "{out}");
        let text = openssl(&["x509", "-in", s(&leaf), "-noout", "-text"]);
        for needle in [
            "TLS Web Client Authentication",
            "Digital Signature",
            "CA:FALSE",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
        ] {
            assert!(text.contains(needle), "{needle} missing:\n{text}");
        }
        // 128-bit serial: 16 octets, 17 when a sign octet is needed.
        let serial = issued.certificate.info().serial.replace(':', "");
        assert!(serial.len() == 32 || serial.len() == 34, "{serial}");
        // The record keeps what was issued, to whom.
        let records = ca.list().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].owner.as_deref(), Some("alice"));
        assert_eq!(records[0].status, Status::Valid);
        assert_eq!(records[0].sha256, issued.certificate.info().sha256);
    }
}

#[test]
fn server_profile_needs_sans_and_sets_server_auth() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), false);
    let request = IssueRequest {
        profile: IssueProfile::Server,
        days: 90,
        owner: None,
    };
    let e = ca
        .issue(
            KeyType::EcP256,
            parse_subject("CN=gw").unwrap(),
            &[],
            &request,
            &master,
        )
        .unwrap_err();
    assert!(e.to_string().contains("subject alternative name"), "{e}");
    assert!(
        ca.list().unwrap().is_empty(),
        "nothing recorded for a refused request"
    );
    let (_, issued) = ca
        .issue(
            KeyType::Rsa2048,
            parse_subject("CN=gw").unwrap(),
            &[San::parse("dns:gw.keyway.test").unwrap()],
            &request,
            &master,
        )
        .unwrap();
    let (leaf, root, untrusted) = chain_files(dir.path(), &ca, &issued);
    let out = openssl(&[
        "verify",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&untrusted),
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "gw.keyway.test",
        s(&leaf),
    ]);
    assert!(out.contains(": OK"), "{out}");
    let text = openssl(&["x509", "-in", s(&leaf), "-noout", "-text"]);
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(text.contains("Key Encipherment"), "RSA server keys: {text}");
}

#[test]
fn validity_is_bounded_by_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), false);
    let e = ca
        .issue(
            KeyType::EcP256,
            parse_subject("CN=too-long").unwrap(),
            &[],
            &IssueRequest {
                days: 365 * 20,
                ..client("bob")
            },
            &master,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("would end after the issuing CA"),
        "{e}"
    );
}

#[test]
fn signs_csrs_made_by_openssl_and_by_keytool() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), true);

    let key = dir.path().join("ossl.key");
    let req = dir.path().join("ossl.csr");
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        s(&key),
        "-out",
        s(&req),
        "-subj",
        "/C=DE/O=Acme/OU=Ops/OU=Integration/CN=openssl-client",
        "-addext",
        "subjectAltName=DNS:client.acme.example",
        // An extension keyway must not copy: the profile decides.
        "-addext",
        "basicConstraints=critical,CA:TRUE",
    ]);
    let csr = read_csr(&std::fs::read(&req).unwrap(), "ossl.csr").unwrap();
    assert_eq!(csr.key.to_string(), "RSA 2048");
    let issued = ca.sign_csr(&csr, &client("carol"), &master).unwrap();
    assert!(
        !issued.certificate.info().is_ca,
        "CA:TRUE in the CSR is not copied"
    );
    let (leaf, root, untrusted) = chain_files(dir.path(), &ca, &issued);
    let out = openssl(&[
        "verify",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&untrusted),
        s(&leaf),
    ]);
    assert!(out.contains(": OK"), "{out}");
    let subject = openssl(&[
        "x509",
        "-in",
        s(&leaf),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
    ]);
    assert!(
        subject.contains("CN=openssl-client,OU=Integration,OU=Ops,O=Acme,C=DE"),
        "both OUs kept, in order: {subject}"
    );
    // The openssl key and the signed certificate belong together.
    let modulus_key = openssl(&["rsa", "-in", s(&key), "-noout", "-modulus"]);
    let modulus_cert = openssl(&["x509", "-in", s(&leaf), "-noout", "-modulus"]);
    assert_eq!(modulus_key, modulus_cert);

    let jks = dir.path().join("client.jks");
    let keytool_csr = dir.path().join("keytool.csr");
    keytool(&[
        "-genkeypair",
        "-keystore",
        s(&jks),
        "-storepass",
        "changeit",
        "-alias",
        "client",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        "CN=keytool-client, O=Acme",
        "-validity",
        "30",
    ]);
    keytool(&[
        "-certreq",
        "-keystore",
        s(&jks),
        "-storepass",
        "changeit",
        "-alias",
        "client",
        "-file",
        s(&keytool_csr),
    ]);
    let csr = read_csr(&std::fs::read(&keytool_csr).unwrap(), "keytool.csr").unwrap();
    let issued = ca.sign_csr(&csr, &client("dave"), &master).unwrap();
    // keytool takes the signed reply back into its store: the strongest check of all.
    let reply: String = std::iter::once(&issued.certificate)
        .chain(&issued.chain)
        .map(Certificate::to_pem)
        .collect();
    let reply_path = write(dir.path(), "reply.pem", reply);
    let root_path = write(dir.path(), "ca-root.pem", ca.root().to_pem());
    keytool(&[
        "-importcert",
        "-noprompt",
        "-keystore",
        s(&jks),
        "-storepass",
        "changeit",
        "-alias",
        "keyway-root",
        "-file",
        s(&root_path),
    ]);
    keytool(&[
        "-importcert",
        "-keystore",
        s(&jks),
        "-storepass",
        "changeit",
        "-alias",
        "client",
        "-file",
        s(&reply_path),
    ]);
    let listing = keytool(&[
        "-list",
        "-v",
        "-keystore",
        s(&jks),
        "-storepass",
        "changeit",
        "-alias",
        "client",
    ]);
    assert!(listing.contains("Certificate chain length: 3"), "{listing}");
    assert!(
        listing.contains("Issuer: CN=keyway Test CA Issuing CA"),
        "{listing}"
    );
}

#[test]
fn tampered_and_malformed_csrs_are_refused() {
    let key = generate(KeyType::EcP256).unwrap();
    let csr = create_csr(&key, parse_subject("CN=honest").unwrap(), &[]).unwrap();
    let mut der = keyway_pki_test_der(&csr);
    // Change one byte of the subject's CN ("honest" -> "hOnest").
    let at = der.windows(6).position(|w| w == b"honest").unwrap();
    der[at + 1] = b'O';
    match read_csr(&der, "tampered.csr") {
        Err(PkiError::CsrSignature { source_name, .. }) => assert_eq!(source_name, "tampered.csr"),
        other => panic!("{other:?}"),
    }
    for bad in [
        &b"not a csr"[..],
        b"-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n",
        b"",
    ] {
        let e = read_csr(bad, "bad.csr").unwrap_err();
        assert!(matches!(e, PkiError::MalformedCsr { .. }), "{e:?}");
        assert!(e.to_string().starts_with("bad.csr"), "{e}");
    }
}

fn keyway_pki_test_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let out = Command::new(tool("openssl"))
        .args(["base64", "-d", "-A"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(body.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    out.stdout
}

#[test]
fn revocation_reaches_the_crl_that_openssl_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), true);
    let issue = |cn: &str| {
        ca.issue(
            KeyType::EcP256,
            parse_subject(&format!("CN={cn}")).unwrap(),
            &[],
            &client(cn),
            &master,
        )
        .unwrap()
        .1
    };
    let kept = issue("kept");
    let revoked = issue("revoked");
    let record = ca
        .revoke(&revoked.certificate.info().serial, Reason::KeyCompromise)
        .unwrap();
    assert!(matches!(
        record.status,
        Status::Revoked {
            reason: Reason::KeyCompromise,
            ..
        }
    ));
    assert!(matches!(
        ca.revoke(&revoked.record.serial, Reason::Superseded),
        Err(PkiError::AlreadyRevoked { .. })
    ));
    assert!(matches!(
        ca.revoke("0badc0de", Reason::Superseded),
        Err(PkiError::UnknownSerial { .. })
    ));

    let crl = ca.crl(7, &master).unwrap();
    assert_eq!((crl.number, crl.revoked), (1, 1));
    assert_eq!(
        ca.crl(7, &master).unwrap().number,
        2,
        "CRL numbers increase"
    );
    let crl_path = write(dir.path(), "ca.crl", &crl.pem);
    let issuing = write(dir.path(), "issuing.pem", ca.issuing().to_pem());
    let text = openssl(&[
        "crl",
        "-in",
        s(&crl_path),
        "-CAfile",
        s(&issuing),
        "-noout",
        "-text",
    ]);
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    assert!(
        text.contains(&revoked.record.serial.to_uppercase()),
        "serial {} listed: {text}",
        revoked.record.serial
    );

    for (issued, expect_ok) in [(&kept, true), (&revoked, false)] {
        let (leaf, root, untrusted) = chain_files(dir.path(), &ca, issued);
        let (ok, out) = openssl_status(&[
            "verify",
            "-crl_check",
            "-CRLfile",
            s(&crl_path),
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&untrusted),
            s(&leaf),
        ]);
        assert_eq!(ok, expect_ok, "{out}");
        if !expect_ok {
            assert!(out.contains("certificate revoked"), "{out}");
        }
    }
}

#[test]
fn a_rustls_server_trusting_the_ca_accepts_issued_certificates_and_refuses_revoked_ones() {
    use rustls::pki_types::{
        CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer,
    };
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), true);
    let issue = |cn: &str| {
        ca.issue(
            KeyType::EcP256,
            parse_subject(&format!("CN={cn}")).unwrap(),
            &[],
            &client(cn),
            &master,
        )
        .unwrap()
    };
    let good = issue("good-client");
    let bad = issue("revoked-client");
    ca.revoke(&bad.1.record.serial, Reason::KeyCompromise)
        .unwrap();
    let crl = ca.crl(1, &master).unwrap();

    let server_ca = Ca::init(
        &dir.path().join("server-side"),
        &CaInit {
            subject: parse_subject("CN=server CA").unwrap(),
            key_type: KeyType::EcP256,
            with_intermediate: false,
        },
        None,
    )
    .unwrap();
    let server_master = MasterKey::load(&dir.path().join("server-side"), None).unwrap();
    let (server_key, server_cert) = server_ca
        .issue(
            KeyType::EcP256,
            parse_subject("CN=gateway").unwrap(),
            &[San::parse("dns:gateway.keyway.test").unwrap()],
            &IssueRequest {
                profile: IssueProfile::Server,
                days: 1,
                owner: None,
            },
            &server_master,
        )
        .unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots
        .add(CertificateDer::from(ca.root().der().to_vec()))
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(client_roots),
        provider.clone(),
    )
    .with_crls([CertificateRevocationListDer::from(crl.der.clone())])
    // The root issued no CRL for the intermediate.
    .allow_unknown_revocation_status()
    .build()
    .unwrap();
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server_cert.certificate.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.pkcs8_der().to_vec())),
            )
            .unwrap(),
    );
    let mut server_roots = rustls::RootCertStore::empty();
    server_roots
        .add(CertificateDer::from(server_ca.root().der().to_vec()))
        .unwrap();

    let handshake = |(key, issued): &(keyway_keystore::PrivateKey, Issued)| -> Result<(), String> {
        let chain: Vec<CertificateDer<'static>> = std::iter::once(&issued.certificate)
            .chain(&issued.chain[..issued.chain.len() - 1])
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect();
        let client_config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(server_roots.clone())
            .with_client_auth_cert(
                chain,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec())),
            )
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let config = server_config.clone();
        let server = std::thread::spawn(move || -> Result<(), String> {
            let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            let mut conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        let mut tcp = std::net::TcpStream::connect(address).unwrap();
        let name = rustls::pki_types::ServerName::try_from("gateway.keyway.test").unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
        let _ = conn.complete_io(&mut tcp);
        // TLS 1.3: the server judges the client certificate after the client finished.
        let _ = conn.complete_io(&mut tcp);
        server.join().unwrap()
    };
    assert_eq!(handshake(&good), Ok(()));
    let refused = handshake(&bad).unwrap_err();
    assert!(refused.to_lowercase().contains("revoked"), "{refused}");
}

#[test]
fn uploads_are_checked_before_use() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), true);
    let key = generate(KeyType::EcP256).unwrap();
    let csr_pem = create_csr(&key, parse_subject("CN=uploader").unwrap(), &[]).unwrap();
    let csr = read_csr(csr_pem.as_bytes(), "req.csr").unwrap();
    let issued = ca.sign_csr(&csr, &client("erin"), &master).unwrap();
    let now = OffsetDateTime::now_utc();
    let cas = ca.chain();

    let ok = check_upload(
        &issued.certificate,
        Some(Pending::Key(&key)),
        &cas,
        IssueProfile::Client,
        now,
    )
    .unwrap();
    assert_eq!(ok.chain.len(), 3, "leaf, intermediate, root");
    check_upload(
        &issued.certificate,
        Some(Pending::Csr(&csr)),
        &cas,
        IssueProfile::Client,
        now,
    )
    .unwrap();

    let other_key = generate(KeyType::EcP256).unwrap();
    let problems = |result: Result<_, PkiError>| match result {
        Err(PkiError::Upload { problems, .. }) => problems.join("\n"),
        other => panic!("{other:?}"),
    };
    let p = problems(check_upload(
        &issued.certificate,
        Some(Pending::Key(&other_key)),
        &cas,
        IssueProfile::Client,
        now,
    ));
    assert!(p.contains("another key"), "{p}");
    let p = problems(check_upload(
        &issued.certificate,
        None,
        &[ca.root().clone()],
        IssueProfile::Client,
        now,
    ));
    assert!(
        p.contains("Issuing CA")
            && p.contains("not among the CA certificates it is checked against"),
        "{p}"
    );
    let p = problems(check_upload(
        ca.issuing(),
        None,
        &cas,
        IssueProfile::Client,
        now,
    ));
    assert!(p.contains("CA certificate"), "{p}");
    let later = now + time::Duration::days(400);
    let p = problems(check_upload(
        &issued.certificate,
        None,
        &cas,
        IssueProfile::Client,
        later,
    ));
    assert!(p.contains("expired on"), "{p}");
    let server = ca
        .issue(
            KeyType::EcP256,
            parse_subject("CN=srv").unwrap(),
            &[San::parse("dns:srv.test").unwrap()],
            &IssueRequest {
                profile: IssueProfile::Server,
                days: 5,
                owner: None,
            },
            &master,
        )
        .unwrap()
        .1;
    let p = problems(check_upload(
        &server.certificate,
        None,
        &cas,
        IssueProfile::Client,
        now,
    ));
    assert!(p.contains("does not include clientAuth"), "{p}");
    check_upload(&server.certificate, None, &cas, IssueProfile::Server, now).unwrap();
}

#[test]
fn the_ca_refuses_a_wrong_master_key_and_a_second_init_and_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), false);
    ca.issue(
        KeyType::EcP256,
        parse_subject("CN=first").unwrap(),
        &[],
        &client("x"),
        &master,
    )
    .unwrap();
    let records = keyway_testkit::snapshot(&dir.path().join("ca"));
    let wrong = MasterKey::load(dir.path(), Some(&"0f".repeat(32))).unwrap();
    let e = ca
        .issue(
            KeyType::EcP256,
            parse_subject("CN=second").unwrap(),
            &[],
            &client("x"),
            &wrong,
        )
        .unwrap_err();
    assert!(matches!(e, PkiError::MasterKey(_)), "{e:?}");
    assert!(e.to_string().contains("root.key.sealed"), "{e}");
    assert_eq!(keyway_testkit::snapshot(&dir.path().join("ca")), records);

    let e = Ca::init(
        dir.path(),
        &CaInit {
            subject: parse_subject("CN=another").unwrap(),
            key_type: KeyType::EcP256,
            with_intermediate: false,
        },
        None,
    )
    .unwrap_err();
    assert!(matches!(e, PkiError::CaExists { .. }), "{e:?}");
    assert_eq!(Ca::open(dir.path()).unwrap().root().der(), ca.root().der());
    let sealed = std::fs::read_to_string(dir.path().join("ca/root.key.sealed")).unwrap();
    assert!(sealed.starts_with("-----BEGIN KEYWAY SEALED KEY-----"));
    assert!(matches!(
        Ca::open(&dir.path().join("nowhere")),
        Err(PkiError::NoCa { .. })
    ));
}

#[test]
fn an_init_refused_for_a_bad_master_key_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let init = CaInit {
        subject: parse_subject("CN=retry CA").unwrap(),
        key_type: KeyType::EcP256,
        with_intermediate: false,
    };
    let e = Ca::init(dir.path(), &init, Some("not-hex")).unwrap_err();
    assert!(matches!(e, PkiError::MasterKey(_)), "{e:?}");
    let ca = Ca::init(dir.path(), &init, None).unwrap();
    assert!(ca.root().info().subject.contains("retry CA"));
}

#[test]
fn an_unlocked_signer_records_every_certificate_and_a_damaged_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, master) = new_ca(dir.path(), true);
    let signer = ca.unlock(&master).unwrap();
    let mut serials = Vec::new();
    for i in 0..5 {
        let (_, issued) = signer
            .issue(
                KeyType::EcP256,
                parse_subject(&format!("CN=run-{i}")).unwrap(),
                &[],
                &client("batch"),
            )
            .unwrap();
        serials.push(issued.record.serial);
    }
    let csr = read_csr(
        create_csr(
            &generate(KeyType::EcP256).unwrap(),
            parse_subject("CN=from-csr").unwrap(),
            &[],
        )
        .unwrap()
        .as_bytes(),
        "csr",
    )
    .unwrap();
    serials.push(
        signer
            .sign_csr(&csr, &client("batch"))
            .unwrap()
            .record
            .serial,
    );
    drop(signer);

    let listed: Vec<String> = ca.list().unwrap().into_iter().map(|r| r.serial).collect();
    let mut sorted = serials.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 6, "serials are distinct: {serials:?}");
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, sorted);

    // Revocation rewrites only that record; the others stay byte for byte.
    let before = keyway_testkit::snapshot(&dir.path().join("ca/issued"));
    ca.revoke(&serials[2], Reason::Superseded).unwrap();
    let after = keyway_testkit::snapshot(&dir.path().join("ca/issued"));
    let changed: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.clone())
        .collect();
    assert_eq!(changed, vec![PathBuf::from(format!("{}.json", serials[2]))]);

    let damaged = dir.path().join(format!("ca/issued/{}.json", serials[0]));
    std::fs::write(&damaged, "{ not json").unwrap();
    let e = ca.list().unwrap_err();
    assert!(matches!(e, PkiError::CaFile { .. }), "{e:?}");
    assert!(e.to_string().contains(&serials[0]), "{e}");
    let e = ca.revoke(&serials[0], Reason::KeyCompromise).unwrap_err();
    assert!(e.to_string().contains(&serials[0]), "{e}");
}
