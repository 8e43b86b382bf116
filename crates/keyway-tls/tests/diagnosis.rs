//! `test` against real servers on 127.0.0.1, one test per cause at least: each asserts the
//! code, the key evidence and what the remediation names.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keyway_testkit::{
    ChainOptions, KeyKind, OpensslServer, RustlsServer, ServerOptions, TestChain, client_p12,
    openssl_key,
};
use keyway_tls::{
    Blame, Cause, IdentitySpec, Profile, ProfileError, ProfileSpec, TestOutcome, TestTarget,
    TlsBackend, TlsPolicy, TlsVersion, TrustSource, test,
};

fn truststore(dir: &Path, pem: &str) -> TrustSource {
    let path = dir.join(format!("trust-{}.pem", pem.len()));
    std::fs::write(&path, pem).unwrap();
    TrustSource::File {
        path,
        format: None,
        password: None,
    }
}

fn spec(trust: TrustSource, name: &str) -> ProfileSpec {
    ProfileSpec {
        trust: vec![trust],
        server_name: Some(name.to_string()),
        handshake_timeout: Duration::from_secs(5),
        ..ProfileSpec::default()
    }
}

fn run(address: &str, spec: &ProfileSpec) -> TestOutcome {
    let profile = Profile::load(spec).expect("profile");
    let outcome = test(
        &TestTarget::parse(&format!("https://{address}/health")).unwrap(),
        &profile,
    )
    .expect("test ran");
    assert_plain(&outcome);
    outcome
}

/// Every outcome a test looks at is also checked for Debug renderings: the JSON report
/// holds the summary, the fix, the evidence and the warnings.
fn failed(outcome: TestOutcome) -> keyway_tls::Diagnosis {
    assert_plain(&outcome);
    match outcome {
        TestOutcome::Failed(d) => d,
        TestOutcome::Connected { negotiated, .. } => {
            panic!("expected a failure, connected with {negotiated:?}")
        }
    }
}

fn connected(outcome: TestOutcome) -> (keyway_tls::Negotiated, Vec<String>) {
    assert_plain(&outcome);
    match outcome {
        TestOutcome::Connected {
            negotiated,
            warnings,
            ..
        } => (negotiated, warnings),
        TestOutcome::Failed(d) => panic!(
            "expected a connection: {} ({})",
            d.cause.code(),
            d.cause.summary()
        ),
    }
}

fn assert_plain(outcome: &TestOutcome) {
    let json = serde_json::to_value(outcome.report(false)).unwrap();
    keyway_testkit::assert_plain_words(&json);
}

#[test]
fn connects_and_reports_what_was_negotiated() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("good-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    match run(
        &server.address(),
        &spec(truststore(dir.path(), &chain.root_pem), "good-partner.test"),
    ) {
        TestOutcome::Connected {
            negotiated,
            evidence,
            warnings,
        } => {
            assert_eq!(negotiated.version, TlsVersion::Tls13);
            assert_eq!(negotiated.http_status, Some(200));
            assert_eq!(evidence.server_chain.len(), 2);
            assert!(evidence.server_chain[0].subject.contains("good-partner"));
            assert!(warnings.is_empty(), "{warnings:?}");
        }
        TestOutcome::Failed(d) => panic!("{:?}", d.cause),
    }
}

#[test]
fn untrusted_root_names_the_root_and_the_truststore() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("unknown-ca-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let other = keyway_testkit::self_signed_pem("Some Other Root");
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &other), "unknown-ca-partner.test"),
    ));
    let Cause::UntrustedRoot {
        root_subject,
        truststores,
        ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        root_subject,
        "CN=unknown-ca-partner Root CA, O=keyway tests"
    );
    assert!(truststores[0].ends_with(".pem"), "{truststores:?}");
    assert_eq!(d.cause.code(), "untrusted_root");
    assert!(
        d.cause.remediation()[0].contains("unknown-ca-partner Root CA"),
        "{:?}",
        d.cause.remediation()
    );
    assert_eq!(
        d.evidence.server_chain.len(),
        2,
        "the chain is captured even though verification failed"
    );
}

#[test]
fn incomplete_chain_names_the_missing_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("lazy-partner", KeyKind::EcP256);
    let server = RustlsServer::start(
        &chain,
        ServerOptions {
            send_intermediate: false,
            ..ServerOptions::default()
        },
    );
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &chain.root_pem), "lazy-partner.test"),
    ));
    let Cause::IncompleteChain { missing_issuer, .. } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(missing_issuer, "CN=lazy-partner Issuing CA, O=keyway tests");
    assert!(d.cause.remediation()[0].contains("lazy-partner Issuing CA"));
}

#[test]
fn self_signed_server_certificate_with_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("selfie", KeyKind::EcP256);
    let self_signed = TestChain::self_signed_leaf("selfie.test");
    let server = RustlsServer::start(
        &self_signed,
        ServerOptions {
            send_intermediate: false,
            ..ServerOptions::default()
        },
    );
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &chain.root_pem), "selfie.test"),
    ));
    let Cause::SelfSigned { cert, .. } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert!(cert.subject.contains("selfie.test"));
    assert!(
        d.cause.remediation()[0].contains(&cert.sha256),
        "the fix names the fingerprint to check"
    );
}

#[test]
fn a_ca_certificate_used_as_the_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::build(
        "lazy-admin",
        &ChainOptions {
            leaf_is_ca: true,
            ..ChainOptions::default()
        },
    );
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &chain.root_pem), "lazy-admin.test"),
    ));
    let Cause::CaAsServerCertificate { cert } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert!(cert.is_ca && cert.subject.contains("lazy-admin"));
    assert!(d.cause.remediation()[0].contains("CA:FALSE"));
}

#[test]
fn a_server_certificate_in_the_truststore_is_trusted_as_pinned_with_its_dates_and_name_checked() {
    let dir = tempfile::tempdir().unwrap();
    // Self-signed, CA:FALSE as modern tools make it, and CA:TRUE as `openssl req -x509`
    // makes it by default: JSSE trusts either once it is in the truststore.
    for partner in [
        TestChain::self_signed_leaf("pinned.test"),
        TestChain::self_signed_ca_leaf("pinned.test"),
    ] {
        let server = RustlsServer::start(
            &partner,
            ServerOptions {
                send_intermediate: false,
                ..ServerOptions::default()
            },
        );
        let other = keyway_testkit::self_signed_pem("Another Root");
        // Not trusted yet: self_signed, and the fix names the certificate to import.
        let d = failed(run(
            &server.address(),
            &spec(truststore(dir.path(), &other), "pinned.test"),
        ));
        assert_eq!(d.cause.code(), "self_signed", "{}", d.cause.summary());
        // The fix, applied: the certificate itself in the truststore.
        let outcome = run(
            &server.address(),
            &spec(truststore(dir.path(), &partner.leaf_pem), "pinned.test"),
        );
        let TestOutcome::Connected { evidence, .. } = outcome else {
            panic!("pinned certificate refused")
        };
        assert!(evidence.pinned);
        // Its name is still checked.
        let d = failed(run(
            &server.address(),
            &spec(truststore(dir.path(), &partner.leaf_pem), "other-name.test"),
        ));
        assert_eq!(d.cause.code(), "hostname_mismatch", "{}", d.cause.summary());
    }
    // And its dates.
    let expired = TestChain::with_leaf_validity("pinned-old", KeyKind::EcP256, -400, -2);
    let server = RustlsServer::start(
        &expired,
        ServerOptions {
            send_intermediate: false,
            ..ServerOptions::default()
        },
    );
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &expired.leaf_pem), "pinned-old.test"),
    ));
    assert_eq!(
        d.cause.code(),
        "certificate_expired",
        "{}",
        d.cause.summary()
    );
}

#[test]
fn expired_and_not_yet_valid_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let expired = TestChain::with_leaf_validity("old-partner", KeyKind::EcP256, -400, -10);
    let server = RustlsServer::start(&expired, ServerOptions::default());
    let d = failed(run(
        &server.address(),
        &spec(
            truststore(dir.path(), &expired.root_pem),
            "old-partner.test",
        ),
    ));
    let Cause::CertificateExpired { cert } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert!(cert.subject.contains("old-partner"));

    let early = TestChain::with_leaf_validity("early-partner", KeyKind::EcP256, 10, 400);
    let server = RustlsServer::start(&early, ServerOptions::default());
    let d = failed(run(
        &server.address(),
        &spec(
            truststore(dir.path(), &early.root_pem),
            "early-partner.test",
        ),
    ));
    assert_eq!(d.cause.code(), "certificate_not_yet_valid", "{:?}", d.cause);
}

#[test]
fn hostname_mismatch_names_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("named-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &chain.root_pem), "wrong-name.test"),
    ));
    let Cause::HostnameMismatch {
        requested,
        presented,
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(requested, "wrong-name.test");
    assert_eq!(presented, &["named-partner.test"]);
    assert!(
        d.cause
            .remediation()
            .iter()
            .any(|s| s.contains("--servername named-partner.test"))
    );
}

/// A PKCS#12 client identity for `chain`'s leaf, in its own subdirectory `sub`.
fn identity(dir: &Path, chain: &TestChain, sub: &str) -> IdentitySpec {
    let d = dir.join(sub);
    std::fs::create_dir_all(&d).unwrap();
    IdentitySpec {
        path: client_p12(chain, &d),
        content: None,
        format: None,
        store_password: Some("changeit".into()),
        alias: Some("client".into()),
        key_password: None,
    }
}

fn mtls_server(chain: &TestChain, client_root: &str, tls13: bool) -> RustlsServer {
    let versions = if tls13 {
        vec![&rustls::version::TLS13]
    } else {
        vec![&rustls::version::TLS12]
    };
    RustlsServer::start(
        chain,
        ServerOptions {
            versions,
            client_ca_pem: Some(client_root.to_string()),
            ..ServerOptions::default()
        },
    )
}

#[test]
fn client_certificate_required_in_tls_1_2_and_1_3_names_the_acceptable_cas() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("mtls-partner", KeyKind::EcP256);
    let clients = TestChain::new("partner-clients", KeyKind::EcP256);
    for tls13 in [false, true] {
        let server = mtls_server(&chain, &clients.root_pem, tls13);
        let d = failed(run(
            &server.address(),
            &spec(truststore(dir.path(), &chain.root_pem), "mtls-partner.test"),
        ));
        let Cause::ClientCertRequired { acceptable_cas } = &d.cause else {
            panic!("tls13={tls13}: {:?}", d.cause)
        };
        assert_eq!(
            acceptable_cas,
            &["CN=partner-clients Root CA, O=keyway tests"],
            "tls13={tls13}"
        );
        assert!(d.cause.remediation()[0].contains("partner-clients Root CA"));
    }
}

#[test]
fn client_certificate_accepted_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("mtls-server", KeyKind::EcP256);
    let good = TestChain::new("acme-connector", KeyKind::EcP256);
    let wrong = TestChain::new("stranger", KeyKind::EcP256);
    let identity = |c: &TestChain, sub: &str| identity(dir.path(), c, sub);
    for tls13 in [false, true] {
        let server = mtls_server(&chain, &good.root_pem, tls13);
        let mut s = spec(truststore(dir.path(), &chain.root_pem), "mtls-server.test");
        s.identity = Some(identity(&good, "good"));
        match run(&server.address(), &s) {
            TestOutcome::Connected { evidence, .. } => {
                assert!(
                    evidence
                        .client_cert_sent
                        .unwrap()
                        .subject
                        .contains("acme-connector")
                );
            }
            TestOutcome::Failed(d) => panic!("tls13={tls13}: {:?}", d.cause),
        }
        s.identity = Some(identity(&wrong, "wrong"));
        let d = failed(run(&server.address(), &s));
        let Cause::ClientCertRejected {
            sent,
            acceptable_cas,
            ..
        } = &d.cause
        else {
            panic!("tls13={tls13}: {:?}", d.cause)
        };
        assert!(sent.subject.contains("stranger"));
        assert_eq!(
            acceptable_cas,
            &["CN=acme-connector Root CA, O=keyway tests"]
        );
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("not among the CAs the server accepts")),
            "{:?}",
            d.warnings
        );
    }
}

#[test]
fn the_three_version_cases_users_know_by_heart() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("versioned", KeyKind::EcP256);
    let trust = truststore(dir.path(), &chain.root_pem);
    let with_policy = |lowest| ProfileSpec {
        policy: TlsPolicy::lowest_allowable(lowest),
        ..spec(trust.clone(), "versioned.test")
    };

    // Server TLS 1.2, client lowest 1.1: connects over 1.2.
    let tls12 = OpensslServer::start(&chain, &["-tls1_2", "-www"]);
    match run(&tls12.address(), &with_policy(TlsVersion::Tls11)) {
        TestOutcome::Connected { negotiated, .. } => {
            assert_eq!(negotiated.version, TlsVersion::Tls12)
        }
        TestOutcome::Failed(d) => panic!("{:?}", d.cause),
    }
    // Server TLS 1.2, client lowest 1.2: connects.
    match run(&tls12.address(), &with_policy(TlsVersion::Tls12)) {
        TestOutcome::Connected { negotiated, .. } => {
            assert_eq!(negotiated.version, TlsVersion::Tls12)
        }
        TestOutcome::Failed(d) => panic!("{:?}", d.cause),
    }
    // Server TLS 1.1 only, client lowest 1.2: version mismatch naming both sides.
    let tls11 = OpensslServer::start(&chain, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let d = failed(run(&tls11.address(), &with_policy(TlsVersion::Tls12)));
    let Cause::VersionMismatch { allowed, server } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(server.to_string(), "TLS 1.1");
    assert_eq!(allowed.to_string(), "TLS 1.2–1.3");
    assert!(
        d.cause
            .summary()
            .contains("the server speaks TLS 1.1, the connector's policy allows TLS 1.2–1.3")
    );
    assert!(
        d.evidence.probe.is_some(),
        "the probe is part of the evidence"
    );
}

fn tcp_peer(reply: fn(std::net::TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || reply(stream));
        }
    });
    address
}

#[test]
fn network_level_causes() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("net", KeyKind::EcP256);
    let mut s = spec(truststore(dir.path(), &chain.root_pem), "net.test");
    s.handshake_timeout = Duration::from_millis(400);

    let http = tcp_peer(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let d = failed(run(&http, &s));
    assert!(
        matches!(&d.cause, Cause::NotTls { first_bytes } if first_bytes.starts_with("HTTP/1.1 400")),
        "{:?}",
        d.cause
    );

    let silent = tcp_peer(|mut s| {
        let mut buf = [0u8; 1024];
        while s.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    });
    assert_eq!(failed(run(&silent, &s)).cause.code(), "handshake_timeout");

    let hang_up = tcp_peer(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
    });
    assert_eq!(failed(run(&hang_up, &s)).cause.code(), "closed_after_hello");

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let d = failed(run(&closed, &s));
    assert_eq!(d.cause.code(), "connection_refused");
    assert_eq!(d.cause.blame(), keyway_tls::Blame::Partner);
}

#[test]
fn profile_problems_are_errors_before_any_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let expired = TestChain::with_leaf_validity("expired-client", KeyKind::EcP256, -100, -1);
    let p12: PathBuf = client_p12(&expired, dir.path());
    let identity = |password: &str| IdentitySpec {
        path: p12.clone(),
        content: None,
        format: None,
        store_password: Some(password.into()),
        alias: None,
        key_password: None,
    };
    let mut s = spec(truststore(dir.path(), &expired.root_pem), "x.test");
    // An expired client certificate is diagnosed when a server asks for it (see
    // client_certificate_expired_…), not refused before any traffic.
    s.identity = Some(identity("changeit"));
    Profile::load(&s).expect("an expired identity loads");

    s.identity = Some(identity("wrong"));
    let err = Profile::load(&s).unwrap_err();
    assert!(
        err.to_string().contains("wrong store password") && err.to_string().contains("client.p12"),
        "{err}"
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(
        &empty,
        keyway_testkit::TestChain::new("k", KeyKind::EcP256).leaf_key_pem,
    )
    .unwrap();
    let s = spec(
        TrustSource::File {
            path: empty,
            format: None,
            password: None,
        },
        "x.test",
    );
    assert!(matches!(
        Profile::load(&s),
        Err(ProfileError::EmptyTruststore { .. })
    ));
}

/// Arguments for an `openssl s_server` that speaks only `version` (TLS 1.0 or 1.1).
fn legacy_server(chain: &TestChain, version: &str, extra: &[&str]) -> OpensslServer {
    let mut args = vec![version, "-cipher", "DEFAULT@SECLEVEL=0", "-www"];
    args.extend_from_slice(extra);
    OpensslServer::start(chain, &args)
}

#[test]
fn legacy_servers_connect_through_the_legacy_backend() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("old-bank", KeyKind::EcP256);
    let trust = truststore(dir.path(), &chain.root_pem);
    for (flag, version) in [("-tls1", TlsVersion::Tls10), ("-tls1_1", TlsVersion::Tls11)] {
        let server = legacy_server(&chain, flag, &[]);
        let s = ProfileSpec {
            policy: TlsPolicy::lowest_allowable(TlsVersion::Tls10),
            ..spec(trust.clone(), "old-bank.test")
        };
        match run(&server.address(), &s) {
            TestOutcome::Connected {
                negotiated,
                evidence,
                warnings,
            } => {
                assert_eq!(negotiated.version, version, "{flag}");
                assert_eq!(negotiated.backend, TlsBackend::OpensslLegacy, "{flag}");
                assert_eq!(negotiated.http_status, Some(200), "{flag}");
                assert!(negotiated.cipher.starts_with("TLS_"), "{negotiated:?}");
                assert!(evidence.server_chain[0].subject.contains("old-bank"));
                assert!(
                    warnings
                        .iter()
                        .any(|w| w.contains(&format!("{version} is deprecated"))),
                    "{warnings:?}"
                );
            }
            TestOutcome::Failed(d) => panic!("{flag}: {:?}", d.cause),
        }
    }

    // A policy of explicit flags that allows TLS 1.1 alone goes straight to the legacy
    // backend, and a TLS 1.0 server is then a version mismatch naming both sides.
    let tls10 = legacy_server(&chain, "-tls1", &[]);
    let only_11 = ProfileSpec {
        policy: TlsPolicy::from_flags(keyway_tls::VersionFlags {
            tls11: true,
            ..keyway_tls::VersionFlags::default()
        })
        .unwrap(),
        ..spec(trust.clone(), "old-bank.test")
    };
    let d = failed(run(&tls10.address(), &only_11));
    let Cause::VersionMismatch { allowed, server } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        (allowed.to_string(), server.to_string()),
        ("TLS 1.1".into(), "TLS 1.0".into())
    );

    // A modern server is never talked to with a legacy version, whatever the policy allows.
    let modern = OpensslServer::start(&chain, &["-www"]);
    match run(
        &modern.address(),
        &ProfileSpec {
            policy: TlsPolicy::lowest_allowable(TlsVersion::Tls10),
            ..spec(trust, "old-bank.test")
        },
    ) {
        TestOutcome::Connected { negotiated, .. } => {
            assert_eq!(negotiated.backend, TlsBackend::Rustls);
            assert!(negotiated.version >= TlsVersion::Tls12);
        }
        TestOutcome::Failed(d) => panic!("{:?}", d.cause),
    }
}

#[test]
fn legacy_backend_certificate_causes_match_the_modern_ones() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("old-insurer", KeyKind::EcP256);
    let stranger = TestChain::new("someone-else", KeyKind::EcP256);
    let server = legacy_server(&chain, "-tls1_1", &[]);
    let legacy = |trust, name: &str| ProfileSpec {
        policy: TlsPolicy::lowest_allowable(TlsVersion::Tls11),
        ..spec(trust, name)
    };

    let d = failed(run(
        &server.address(),
        &legacy(
            truststore(dir.path(), &stranger.root_pem),
            "old-insurer.test",
        ),
    ));
    let Cause::UntrustedRoot { root_subject, .. } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert!(
        root_subject.contains("old-insurer Root CA"),
        "{root_subject}"
    );
    assert!(d.cause.remediation()[0].contains("old-insurer Root CA"));

    let d = failed(run(
        &server.address(),
        &legacy(truststore(dir.path(), &chain.root_pem), "elsewhere.test"),
    ));
    let Cause::HostnameMismatch {
        requested,
        presented,
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(requested, "elsewhere.test");
    assert!(
        presented.contains(&"old-insurer.test".to_string()),
        "{presented:?}"
    );
}

#[test]
fn legacy_backend_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("old-gateway", KeyKind::EcP256);
    let good = TestChain::new("legacy-connector", KeyKind::EcP256);
    let wrong = TestChain::new("intruder", KeyKind::EcP256);
    let client_root = dir.path().join("client-root.pem");
    std::fs::write(&client_root, &good.root_pem).unwrap();
    let server = legacy_server(
        &chain,
        "-tls1",
        &[
            "-Verify",
            "2",
            "-verify_return_error",
            "-CAfile",
            client_root.to_str().unwrap(),
        ],
    );
    let identity = |c: &TestChain, sub: &str| identity(dir.path(), c, sub);
    let mut s = ProfileSpec {
        policy: TlsPolicy::lowest_allowable(TlsVersion::Tls10),
        ..spec(truststore(dir.path(), &chain.root_pem), "old-gateway.test")
    };

    let d = failed(run(&server.address(), &s));
    let Cause::ClientCertRequired { acceptable_cas } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        acceptable_cas,
        &["CN=legacy-connector Root CA, O=keyway tests"]
    );

    s.identity = Some(identity(&good, "good"));
    match run(&server.address(), &s) {
        TestOutcome::Connected {
            negotiated,
            evidence,
            ..
        } => {
            assert_eq!(negotiated.backend, TlsBackend::OpensslLegacy);
            assert!(evidence.client_cert_requested);
            let sent = evidence.client_cert_sent.expect("the certificate went out");
            assert!(sent.subject.contains("legacy-connector"), "{sent:?}");
        }
        TestOutcome::Failed(d) => panic!("{:?}", d.cause),
    }

    s.identity = Some(identity(&wrong, "wrong"));
    let d = failed(run(&server.address(), &s));
    let Cause::ClientCertRejected { sent, .. } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert!(sent.subject.contains("intruder"));
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("not among the CAs the server accepts")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn http_errors_after_a_good_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("http-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let s = spec(truststore(dir.path(), &chain.root_pem), "http-partner.test");
    let get = |path: &str| {
        let profile = Profile::load(&s).expect("profile");
        test(
            &TestTarget::parse(&format!("https://{}{path}", server.address())).unwrap(),
            &profile,
        )
        .expect("test ran")
    };

    let d = failed(get("/status/401"));
    let Cause::HttpUnauthorized { path, challenge } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(path, "/status/401");
    assert_eq!(challenge.as_deref(), Some("Basic realm=\"partner-api\""));
    assert_eq!(d.cause.code(), "http_unauthorized");
    assert!(d.cause.remediation()[0].contains("Basic authentication"));
    let negotiated = d.negotiated.as_ref().expect("the handshake worked");
    assert_eq!(negotiated.http_status, Some(401));

    for (code, blame) in [(404, Blame::LocalConfig), (503, Blame::Partner)] {
        let d = failed(get(&format!("/status/{code}")));
        let Cause::HttpError {
            status, excerpt, ..
        } = &d.cause
        else {
            panic!("{:?}", d.cause)
        };
        assert_eq!(*status, code);
        assert_eq!(d.cause.blame(), blame);
        assert_eq!(
            excerpt,
            &format!("Error {code} order-service: no route for this path")
        );
        assert!(
            d.cause
                .remediation()
                .iter()
                .any(|r| r.contains("order-service")),
            "{:?}",
            d.cause.remediation()
        );
    }

    // 405: the endpoint is there, it wants POST: connected, with a warning.
    match get("/status/405") {
        TestOutcome::Connected {
            negotiated,
            warnings,
            ..
        } => {
            assert_eq!(negotiated.http_status, Some(405));
            assert!(warnings.iter().any(|w| w.contains("405")), "{warnings:?}");
        }
        TestOutcome::Failed(d) => panic!("{:?}", d.cause),
    }
}

#[test]
fn dns_failure_names_the_host_without_asking_a_resolver_for_invalid_names() {
    let profile = Profile::load(&ProfileSpec::default()).expect("system roots");
    let target = TestTarget::parse("https://partner-api.example.invalid/orders").unwrap();
    let d = failed(test(&target, &profile).expect("test ran"));
    let Cause::DnsFailure { host, error } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(host, "partner-api.example.invalid");
    assert!(error.contains("RFC 6761"), "{error}");
    assert_eq!(d.cause.blame(), Blame::Network);
    assert!(d.evidence.address.is_none(), "no address was connected to");
    assert!(
        d.cause.remediation()[0].contains("nslookup partner-api.example.invalid"),
        "{:?}",
        d.cause.remediation()
    );
}

#[test]
fn no_shared_cipher_when_the_server_offers_only_suites_keyway_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("rsa-kx-partner", KeyKind::Rsa2048);
    // RSA key exchange only: no forward secrecy, which rustls never offers.
    let server = OpensslServer::start(&chain, &["-tls1_2", "-cipher", "AES128-SHA", "-www"]);
    let d = failed(run(
        &server.address(),
        &spec(
            truststore(dir.path(), &chain.root_pem),
            "rsa-kx-partner.test",
        ),
    ));
    let Cause::NoSharedCipher { allowed } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert!(allowed.is_none(), "the policy lists no suites");
    assert!(
        d.evidence
            .alerts
            .iter()
            .any(|a| a.contains("handshake_failure"))
    );
    let probe = d.evidence.probe.as_ref().expect("the probe ran");
    assert!(probe.supported.contains(TlsVersion::Tls12), "{probe:?}");
    assert!(d.cause.remediation()[0].contains("cipher suites the server accepts"));
}

#[test]
fn no_shared_cipher_names_the_policy_suites_when_the_policy_restricts_them() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("chacha-partner", KeyKind::EcP256);
    let server = OpensslServer::start(
        &chain,
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "-www",
        ],
    );
    let policy = TlsPolicy::lowest_allowable(TlsVersion::Tls12)
        .with_max(TlsVersion::Tls12)
        .unwrap()
        .with_cipher_suites(&["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"])
        .unwrap();
    let d = failed(run(
        &server.address(),
        &ProfileSpec {
            policy,
            ..spec(
                truststore(dir.path(), &chain.root_pem),
                "chacha-partner.test",
            )
        },
    ));
    let Cause::NoSharedCipher { allowed } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        allowed.as_deref(),
        Some(&["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".to_string()][..])
    );
    assert_eq!(d.cause.blame(), Blame::LocalConfig);
    assert!(d.cause.remediation()[0].contains("cipher-suite list"));
}

#[test]
fn weak_server_key_is_refused_even_though_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::build(
        "weak-key-partner",
        &ChainOptions {
            leaf_key_pem: Some(openssl_key(&[
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:1024",
            ])),
            ..ChainOptions::default()
        },
    );
    // OpenSSL itself refuses to serve a 1024-bit key above security level 0. Legacy
    // servers are where such keys live: the legacy backend must refuse it the same way.
    let modern = OpensslServer::start(&chain, &["-cipher", "DEFAULT@SECLEVEL=0", "-www"]);
    let legacy = legacy_server(&chain, "-tls1", &[]);
    for (server, lowest) in [(modern, TlsVersion::Tls12), (legacy, TlsVersion::Tls10)] {
        let d = failed(run(
            &server.address(),
            &ProfileSpec {
                policy: TlsPolicy::lowest_allowable(lowest),
                ..spec(
                    truststore(dir.path(), &chain.root_pem),
                    "weak-key-partner.test",
                )
            },
        ));
        let Cause::WeakServerKey { cert, detail } = &d.cause else {
            panic!("lowest {lowest}: {:?}", d.cause)
        };
        assert!(
            cert.subject.contains("weak-key-partner"),
            "{}",
            cert.subject
        );
        assert!(detail.contains("1024 bits"), "{detail}");
        assert_eq!(d.cause.code(), "weak_server_key");
        assert_eq!(d.cause.blame(), Blame::Partner);
        assert!(d.cause.remediation()[0].contains(&cert.sha256));
    }
}

#[test]
fn expired_trust_anchor_is_unusable_and_names_its_truststore() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::build(
        "old-root-partner",
        &ChainOptions {
            root_days: (-3650, -10),
            ..ChainOptions::default()
        },
    );
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let trust = truststore(dir.path(), &chain.root_pem);
    let TrustSource::File { path, .. } = &trust else {
        unreachable!()
    };
    let store = path.display().to_string();
    let d = failed(run(
        &server.address(),
        &spec(trust, "old-root-partner.test"),
    ));
    let Cause::TrustAnchorUnusable {
        anchor,
        store: named,
        detail,
        ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert!(anchor.subject.contains("old-root-partner Root CA"));
    assert_eq!(named, &store);
    assert!(detail.contains("outside its validity"), "{detail}");
    assert_eq!(d.cause.blame(), Blame::LocalConfig);
    let steps = d.cause.remediation().join("\n");
    assert!(
        steps.contains(&store) && steps.contains(&anchor.sha256),
        "{steps}"
    );
}

#[test]
fn leaf_with_serial_zero_is_a_malformed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::build(
        "serial-zero-partner",
        &ChainOptions {
            leaf_serial: Some(vec![0]),
            ..ChainOptions::default()
        },
    );
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let d = failed(run(
        &server.address(),
        &spec(
            truststore(dir.path(), &chain.root_pem),
            "serial-zero-partner.test",
        ),
    ));
    let Cause::MalformedCertificate { subject, detail } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert!(subject.contains("serial-zero-partner"), "{subject}");
    assert!(detail.contains("serial number 0"), "{detail}");
    assert_eq!(d.cause.blame(), Blame::Partner);
}

#[test]
fn sha1_signed_server_certificate_names_the_certificate_and_the_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::signed_with_digest("sha1-partner", "sha1");
    let server = RustlsServer::start(
        &chain,
        ServerOptions {
            send_intermediate: false,
            ..ServerOptions::default()
        },
    );
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &chain.root_pem), "sha1-partner.test"),
    ));
    let Cause::UnsupportedSignatureAlgorithm {
        cert,
        algorithm,
        reason,
    } = &d.cause
    else {
        panic!("{}: {}", d.cause.code(), d.cause.summary())
    };
    assert_eq!(d.cause.code(), "unsupported_signature_algorithm");
    assert_eq!(d.cause.blame(), Blame::Partner);
    assert!(
        cert.subject.contains("sha1-partner.test"),
        "{}",
        cert.subject
    );
    assert!(
        algorithm.starts_with("sha1WithRSAEncryption"),
        "{algorithm}"
    );
    assert!(reason.contains("SHA-1"), "{reason}");
    assert!(d.cause.summary().contains("sha1WithRSAEncryption"));
    let fix = d.cause.remediation().join("\n");
    assert!(
        fix.contains("SHA-256") && fix.contains(&cert.sha256),
        "{fix}"
    );
}

#[test]
fn md5_signatures_and_issuer_keys_keyway_cannot_verify_are_named_too() {
    let dir = tempfile::tempdir().unwrap();
    let md5 = TestChain::signed_with_digest("md5-partner", "md5");
    let brainpool = TestChain::signed_by_root_key(
        "brainpool-partner",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:brainpoolP256r1",
        ],
    );
    for (chain, name, algorithm, reason) in [
        (&md5, "md5-partner.test", "md5WithRSAEncryption", "MD5"),
        (
            &brainpool,
            "brainpool-partner.test",
            "ecdsa-with-SHA256",
            "brainpoolP256r1",
        ),
    ] {
        let server = RustlsServer::start(
            chain,
            ServerOptions {
                send_intermediate: false,
                ..ServerOptions::default()
            },
        );
        let d = failed(run(
            &server.address(),
            &spec(truststore(dir.path(), &chain.root_pem), name),
        ));
        let Cause::UnsupportedSignatureAlgorithm {
            cert,
            algorithm: named,
            reason: why,
        } = &d.cause
        else {
            panic!("{name}: {}: {}", d.cause.code(), d.cause.summary())
        };
        assert!(cert.subject.contains(name), "{}", cert.subject);
        assert!(named.starts_with(algorithm), "{named}");
        assert!(why.contains(reason), "{why}");
    }
}

#[test]
fn server_certificate_without_the_server_auth_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::build(
        "client-only-partner",
        &ChainOptions {
            leaf_purposes: vec![keyway_testkit::ExtendedKeyUsagePurpose::ClientAuth],
            ..ChainOptions::default()
        },
    );
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let d = failed(run(
        &server.address(),
        &spec(
            truststore(dir.path(), &chain.root_pem),
            "client-only-partner.test",
        ),
    ));
    let Cause::WrongCertificatePurpose {
        cert,
        required,
        presented,
    } = &d.cause
    else {
        panic!("{}: {}", d.cause.code(), d.cause.summary())
    };
    assert_eq!(d.cause.code(), "wrong_certificate_purpose");
    assert!(cert.subject.contains("client-only-partner"));
    assert_eq!(required, "serverAuth");
    assert_eq!(presented, &["clientAuth"]);
    assert!(d.cause.remediation()[0].contains("serverAuth"));
}

#[test]
fn chains_out_of_order_or_with_a_stray_certificate_connect_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("untidy-partner", KeyKind::EcP256);
    let stray = keyway_testkit::self_signed_pem("Stray Old Root");
    let trust = || {
        spec(
            truststore(dir.path(), &chain.root_pem),
            "untidy-partner.test",
        )
    };
    let serve = |pems: Vec<&str>| {
        RustlsServer::start(
            &chain,
            ServerOptions {
                chain_pem: Some(pems.into_iter().map(str::to_string).collect()),
                ..ServerOptions::default()
            },
        )
    };
    // Leaf, root, intermediate: the intermediate comes after a certificate it did not issue.
    let server = serve(vec![
        &chain.leaf_pem,
        &chain.root_pem,
        &chain.intermediate_pem,
    ]);
    let (_, warnings) = connected(run(&server.address(), &trust()));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("out of order") && w.contains("untidy-partner Issuing CA")),
        "{warnings:?}"
    );
    // Leaf, intermediate, and a root that has nothing to do with either.
    let server = serve(vec![&chain.leaf_pem, &chain.intermediate_pem, &stray]);
    let (_, warnings) = connected(run(&server.address(), &trust()));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("Stray Old Root") && w.contains("issued nothing")),
        "{warnings:?}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains("out of order")),
        "{warnings:?}"
    );
    // A tidy chain warns about neither.
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let (_, warnings) = connected(run(&server.address(), &trust()));
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn a_server_name_the_server_does_not_serve_is_named_with_the_one_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("served", KeyKind::EcP256);
    // Fatal unrecognized_name for any SNI but served.test; the default certificate (no
    // SNI) is the same one.
    let server = OpensslServer::start(
        &chain,
        &[
            "-servername",
            "served.test",
            "-servername_fatal",
            "-cert2",
            "{leaf}",
            "-key2",
            "{key}",
            "-www",
        ],
    );
    // openssl sends no intermediate for its second certificate: trust the issuing CA too.
    let trust = format!("{}{}", chain.root_pem, chain.intermediate_pem);
    let d = failed(run(
        &server.address(),
        &spec(truststore(dir.path(), &trust), "old-name.test"),
    ));
    let Cause::UnrecognizedName { sent, served } = &d.cause else {
        panic!("{}: {}", d.cause.code(), d.cause.summary())
    };
    assert_eq!(d.cause.code(), "unrecognized_name");
    assert_eq!(d.cause.blame(), Blame::LocalConfig);
    assert_eq!(sent, "old-name.test");
    assert_eq!(served, &["served.test"]);
    let fix = d.cause.remediation()[0].clone();
    assert!(fix.contains("--servername served.test"), "{fix}");
    // The fix, applied, works.
    let (negotiated, _) = connected(run(
        &server.address(),
        &spec(truststore(dir.path(), &trust), "served.test"),
    ));
    assert_eq!(negotiated.http_status, Some(200));
}

#[test]
fn expired_client_certificate_is_diagnosed_when_the_server_asks_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("strict-partner", KeyKind::EcP256);
    let expired = TestChain::with_leaf_validity("lapsed-client", KeyKind::EcP256, -400, -3);
    let identity = identity(dir.path(), &expired, "lapsed");
    for tls13 in [false, true] {
        let server = mtls_server(&chain, &expired.root_pem, tls13);
        let mut s = spec(
            truststore(dir.path(), &chain.root_pem),
            "strict-partner.test",
        );
        s.identity = Some(identity.clone());
        let d = failed(run(&server.address(), &s));
        let Cause::ClientCertExpired {
            cert,
            alias,
            keystore,
            alert,
        } = &d.cause
        else {
            panic!("tls13={tls13}: {}: {}", d.cause.code(), d.cause.summary())
        };
        assert_eq!(d.cause.code(), "client_cert_expired");
        assert_eq!(d.cause.blame(), Blame::LocalConfig);
        assert!(cert.subject.contains("lapsed-client"));
        assert_eq!(alias, "client");
        assert!(keystore.ends_with("client.p12"), "{keystore}");
        // The server's alert, or (TLS 1.2: it often arrives after our last flight met the
        // closed socket) the close that carried it.
        assert!(
            alert
                .as_deref()
                .is_some_and(|a| a.contains("certificate_expired")
                    || a.contains("the server closed the connection")),
            "tls13={tls13}: {alert:?}"
        );
        assert!(
            d.cause.summary().contains("expired on"),
            "{}",
            d.cause.summary()
        );
        assert!(d.cause.remediation()[0].contains("renew"));
    }
    // A server that does not ask: connected, with the warning.
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let mut s = spec(
        truststore(dir.path(), &chain.root_pem),
        "strict-partner.test",
    );
    s.identity = Some(identity);
    let (_, warnings) = connected(run(&server.address(), &s));
    assert!(
        warnings.iter().any(|w| w.contains("lapsed-client")
            && w.contains("expired on")
            && w.contains("did not ask")),
        "{warnings:?}"
    );
}

#[test]
fn client_certificate_not_yet_valid_has_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("strict-partner-2", KeyKind::EcP256);
    let early = TestChain::with_leaf_validity("early-client", KeyKind::EcP256, 5, 300);
    let server = mtls_server(&chain, &early.root_pem, false);
    let mut s = spec(
        truststore(dir.path(), &chain.root_pem),
        "strict-partner-2.test",
    );
    s.identity = Some(identity(dir.path(), &early, "early"));
    let d = failed(run(&server.address(), &s));
    assert_eq!(
        d.cause.code(),
        "client_cert_not_yet_valid",
        "{}",
        d.cause.summary()
    );
    assert!(d.cause.summary().contains("not valid until"));
    assert!(d.cause.remediation()[0].contains("clock"));
}

#[test]
fn handshake_failed_says_what_was_observed_in_words() {
    // A server that answers our ClientHello with a fatal alert keyway has no better name
    // for (decode_error), after a valid-looking TLS record header.
    let address = tcp_peer(|mut s| {
        let mut hello = [0u8; 512];
        let _ = s.read(&mut hello);
        let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 50]);
    });
    let dir = tempfile::tempdir().unwrap();
    let root = keyway_testkit::self_signed_pem("Unused Root");
    let d = failed(run(
        &address,
        &spec(truststore(dir.path(), &root), "x.test"),
    ));
    let Cause::HandshakeFailed {
        detail,
        stage,
        alert,
    } = &d.cause
    else {
        panic!("{}: {}", d.cause.code(), d.cause.summary())
    };
    assert_eq!(*stage, keyway_tls::Stage::Handshake);
    assert_eq!(alert.as_deref(), Some("decode_error (50)"));
    assert!(detail.contains("could not decode"), "{detail}");
    let fix = d.cause.remediation().join("\n");
    assert!(fix.contains("server log"), "{fix}");
}
