//! Tests, probes and connections through a real CONNECT proxy on 127.0.0.1 (the
//! testkit's): the tunnel's evidence, each of the proxy's own failures with its code, TLS
//! interception, NO_PROXY, and the legacy backend inside a tunnel.

use std::path::Path;
use std::time::Duration;

use keyway_testkit::{
    ConnectProxy, KeyKind, OpensslServer, ProxyOptions, RustlsServer, ServerOptions, TestChain,
};
use keyway_tls::{
    Blame, Cause, ConnectError, NoProxy, ProbeTarget, Profile, ProfileSpec, Proxy, ProxySetting,
    TestOutcome, TestTarget, TlsBackend, TlsClient, TlsPolicy, TlsVersion, TrustSource, probe,
    test,
};

fn spec(dir: &Path, root_pem: &str, name: &str, proxy: ProxySetting) -> ProfileSpec {
    let path = dir.join(format!("trust-{}.pem", root_pem.len()));
    std::fs::write(&path, root_pem).unwrap();
    ProfileSpec {
        trust: vec![TrustSource::File {
            path,
            format: None,
            password: None,
        }],
        server_name: Some(name.to_string()),
        connect_timeout: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(4),
        proxy,
        ..ProfileSpec::default()
    }
}

fn through(url: &str) -> ProxySetting {
    ProxySetting::Use {
        proxy: Proxy::parse(url, "the test's proxy").unwrap(),
        no_proxy: NoProxy::default(),
    }
}

fn run(port: u16, spec: &ProfileSpec) -> TestOutcome {
    let profile = Profile::load(spec).expect("profile");
    let outcome = test(
        &TestTarget::parse(&format!("https://127.0.0.1:{port}/health")).unwrap(),
        &profile,
    )
    .expect("test ran");
    let json = serde_json::to_value(outcome.report(false)).unwrap();
    keyway_testkit::assert_plain_words(&json);
    outcome
}

fn failed(outcome: TestOutcome) -> keyway_tls::Diagnosis {
    match outcome {
        TestOutcome::Failed(d) => d,
        TestOutcome::Connected { negotiated, .. } => panic!("connected: {negotiated:?}"),
    }
}

#[test]
fn a_test_through_the_proxy_connects_and_names_the_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("proxied-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let proxy = ConnectProxy::start(ProxyOptions::default());
    let outcome = run(
        server.port,
        &spec(
            dir.path(),
            &chain.root_pem,
            "proxied-partner.test",
            through(&proxy.url()),
        ),
    );
    let TestOutcome::Connected {
        negotiated,
        evidence,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(negotiated.http_status, Some(200));
    let seen = evidence.proxy.expect("the evidence names the proxy");
    assert_eq!(seen.proxy, proxy.url());
    assert!(seen.tunnel_established);
    assert_eq!(
        seen.answer.as_deref(),
        Some("HTTP/1.1 200 Connection established")
    );
    assert_eq!(
        evidence.address.as_deref(),
        Some(format!("127.0.0.1:{}", server.port).as_str())
    );
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].destination,
        format!("127.0.0.1:{}", server.port)
    );
    assert!(requests[0].authorization.is_none());
}

#[test]
fn proxy_authentication_missing_wrong_and_right() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("auth-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let proxy = ConnectProxy::start(ProxyOptions {
        credentials: Some(("svc-keyway".into(), "s3cret-proxy".into())),
        ..ProxyOptions::default()
    });
    let with = |url: &str| {
        spec(
            dir.path(),
            &chain.root_pem,
            "auth-partner.test",
            through(url),
        )
    };

    let d = failed(run(server.port, &with(&proxy.url())));
    let Cause::ProxyAuthRequired {
        scheme,
        credentials_sent,
        ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        (scheme.as_deref(), *credentials_sent),
        (Some("Basic realm=\"keyway-test\""), false)
    );
    assert_eq!(d.cause.code(), "proxy_auth_required");
    assert_eq!(d.cause.blame(), Blame::LocalConfig);
    assert!(
        d.remediation()
            .iter()
            .any(|s| s.contains("--proxy-password"))
    );
    let seen = d.evidence.proxy.as_ref().unwrap();
    assert!(!seen.tunnel_established);
    assert_eq!(
        seen.answer.as_deref(),
        Some("HTTP/1.1 407 Proxy Authentication Required")
    );

    let d = failed(run(
        server.port,
        &with(&proxy.url_with("svc-keyway", "wrong-password")),
    ));
    assert!(
        matches!(
            d.cause,
            Cause::ProxyAuthRequired {
                credentials_sent: true,
                ..
            }
        ),
        "{:?}",
        d.cause
    );
    let json = serde_json::to_string(&TestOutcome::Failed(d).report(false)).unwrap();
    assert!(!json.contains("wrong-password"), "{json}");
    assert!(json.contains("http://svc-keyway@127.0.0.1"), "{json}");

    let outcome = run(
        server.port,
        &with(&proxy.url_with("svc-keyway", "s3cret-proxy")),
    );
    assert!(
        matches!(outcome, TestOutcome::Connected { .. }),
        "{outcome:?}"
    );
    let json = serde_json::to_string(&outcome.report(false)).unwrap();
    assert!(!json.contains("s3cret-proxy"), "{json}");
    assert_eq!(
        proxy.requests().last().unwrap().authorization.as_deref(),
        Some("Basic c3ZjLWtleXdheTpzM2NyZXQtcHJveHk=")
    );
}

#[test]
fn a_proxy_asking_for_ntlm_is_told_apart_from_wrong_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("ntlm-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let proxy = ConnectProxy::start(ProxyOptions {
        credentials: Some(("u".into(), "p".into())),
        challenge: Some("NTLM".into()),
        ..ProxyOptions::default()
    });
    let d = failed(run(
        server.port,
        &spec(
            dir.path(),
            &chain.root_pem,
            "ntlm-partner.test",
            through(&proxy.url_with("u", "x")),
        ),
    ));
    assert!(
        d.cause.summary().contains("it asks for NTLM"),
        "{:?}",
        d.cause
    );
    assert!(
        d.remediation()[0].contains("Basic proxy authentication only"),
        "{:?}",
        d.remediation()
    );
}

#[test]
fn a_destination_the_proxy_refuses_is_proxy_refused_with_its_words() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("blocked-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let proxy = ConnectProxy::start(ProxyOptions {
        refuse: vec![format!("127.0.0.1:{}", server.port)],
        ..ProxyOptions::default()
    });
    let d = failed(run(
        server.port,
        &spec(
            dir.path(),
            &chain.root_pem,
            "blocked-partner.test",
            through(&proxy.url()),
        ),
    ));
    let Cause::ProxyRefused {
        status,
        destination,
        excerpt,
        ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(*status, 403);
    assert_eq!(*destination, format!("127.0.0.1:{}", server.port));
    assert!(excerpt.contains("corporate web policy"), "{excerpt}");
    assert_eq!(d.cause.blame(), Blame::Network);
    assert!(
        d.remediation()[0].contains("allow CONNECT"),
        "{:?}",
        d.remediation()
    );
}

#[test]
fn a_proxy_that_hangs_up_before_or_after_the_tunnel_is_proxy_closed() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("dropped-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    for (options, established) in [
        (
            ProxyOptions {
                close_before_answer: true,
                ..ProxyOptions::default()
            },
            false,
        ),
        (
            ProxyOptions {
                close_after_hello: true,
                ..ProxyOptions::default()
            },
            true,
        ),
    ] {
        let proxy = ConnectProxy::start(options);
        let d = failed(run(
            server.port,
            &spec(
                dir.path(),
                &chain.root_pem,
                "dropped-partner.test",
                through(&proxy.url()),
            ),
        ));
        assert_eq!(d.cause.code(), "proxy_closed", "{:?}", d.cause);
        assert!(
            matches!(d.cause, Cause::ProxyClosed { tunnel_established, .. } if tunnel_established == established),
            "{:?}",
            d.cause
        );
        assert_eq!(
            d.evidence.proxy.as_ref().unwrap().tunnel_established,
            established
        );
    }
}

#[test]
fn an_unreachable_proxy_names_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("far-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = failed(run(
        server.port,
        &spec(
            dir.path(),
            &chain.root_pem,
            "far-partner.test",
            through(&format!("127.0.0.1:{closed}")),
        ),
    ));
    let Cause::ProxyUnreachable {
        address, detail, ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        address.as_deref(),
        Some(format!("127.0.0.1:{closed}").as_str())
    );
    assert!(detail.contains("connection refused"), "{detail}");
    assert!(
        d.cause
            .summary()
            .contains(&format!("http://127.0.0.1:{closed}"))
    );
}

#[test]
fn a_chain_from_an_unknown_ca_through_a_proxy_is_flagged_as_possible_interception() {
    let dir = tempfile::tempdir().unwrap();
    let partner = TestChain::new("real-partner", KeyKind::EcP256);
    // The "inspection" server presents a certificate for the partner's name from its own
    // CA, as an inspecting proxy does.
    let inspector = TestChain::build(
        "corp-inspection",
        &keyway_testkit::ChainOptions {
            extra_names: vec!["real-partner.test".into()],
            ..keyway_testkit::ChainOptions::default()
        },
    );
    let inspecting = RustlsServer::start(&inspector, ServerOptions::default());
    let real = RustlsServer::start(&partner, ServerOptions::default());
    let proxy = ConnectProxy::start(ProxyOptions {
        route_to: Some(format!("127.0.0.1:{}", inspecting.port).parse().unwrap()),
        ..ProxyOptions::default()
    });
    let d = failed(run(
        real.port,
        &spec(
            dir.path(),
            &partner.root_pem,
            "real-partner.test",
            through(&proxy.url()),
        ),
    ));
    let Cause::ProxyInterception {
        issuer,
        proxy: via,
        truststores,
        ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(via, &proxy.url());
    let presented_top = d.evidence.server_chain.last().unwrap();
    assert_eq!(issuer, &presented_top.issuer);
    assert!(issuer.contains("corp-inspection"), "{issuer}");
    assert!(!truststores.is_empty());
    assert!(d.evidence.proxy.as_ref().unwrap().tunnel_established);
    let steps = d.remediation();
    assert!(steps[0].contains("security team"), "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| s.contains("excluded from TLS inspection"))
    );
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("if the proxy does not inspect TLS")),
        "{:?}",
        d.warnings
    );

    // Straight to the same server, the same chain is an ordinary untrusted root.
    let direct = failed(run(
        inspecting.port,
        &spec(
            dir.path(),
            &partner.root_pem,
            "real-partner.test",
            ProxySetting::Direct,
        ),
    ));
    assert_ne!(direct.cause.code(), "proxy_interception");
}

#[test]
fn no_proxy_hosts_go_direct() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("inside-partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let proxy = ConnectProxy::start(ProxyOptions::default());
    let setting = ProxySetting::Use {
        proxy: Proxy::parse(&proxy.url(), "test").unwrap(),
        no_proxy: NoProxy::parse("localhost, 127.0.0.0/8"),
    };
    let outcome = run(
        server.port,
        &spec(dir.path(), &chain.root_pem, "inside-partner.test", setting),
    );
    let TestOutcome::Connected { evidence, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(evidence.proxy.is_none());
    assert!(proxy.requests().is_empty());
}

#[test]
fn the_probe_and_the_legacy_backend_go_through_the_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("old-proxied", KeyKind::EcP256);
    let server = OpensslServer::start(
        &chain,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
    );
    let port: u16 = server
        .address()
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let proxy = ConnectProxy::start(ProxyOptions::default());
    let mut target = ProbeTarget::parse(&server.address(), Duration::from_secs(3)).unwrap();
    target.proxy = Some(Proxy::parse(&proxy.url(), "test").unwrap());
    let report = probe(&target).unwrap();
    assert_eq!(report.proxy.as_deref(), Some(proxy.url().as_str()));
    assert!(
        report.supported.contains(TlsVersion::Tls11),
        "{:?}",
        report.versions
    );
    assert_eq!(report.address.port(), proxy.port);

    let outcome = run(
        port,
        &ProfileSpec {
            policy: TlsPolicy::lowest_allowable(TlsVersion::Tls11),
            ..spec(
                dir.path(),
                &chain.root_pem,
                "old-proxied.test",
                through(&proxy.url()),
            )
        },
    );
    let TestOutcome::Connected {
        negotiated,
        evidence,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(negotiated.backend, TlsBackend::OpensslLegacy);
    assert!(evidence.proxy.unwrap().tunnel_established);
    assert!(
        proxy.requests().len() >= 3,
        "the rustls attempt, the probe and the legacy handshake all tunnel"
    );
}

#[tokio::test]
async fn connectors_connect_through_the_proxy_and_name_its_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("client-proxied", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let proxy = ConnectProxy::start(ProxyOptions {
        credentials: Some(("u".into(), "pw".into())),
        ..ProxyOptions::default()
    });
    let client = |url: &str| {
        let profile = Profile::load(&spec(
            dir.path(),
            &chain.root_pem,
            "client-proxied.test",
            through(url),
        ))
        .unwrap();
        TlsClient::new(profile, &["http/1.1"]).unwrap()
    };
    let (_, info) = client(&proxy.url_with("u", "pw"))
        .connect("127.0.0.1", server.port)
        .await
        .unwrap();
    assert_eq!(info.address.port(), proxy.port);
    let error = client(&proxy.url_with("u", "nope"))
        .connect("127.0.0.1", server.port)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Proxy { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("refused our credentials"), "{text}");
    assert!(!text.contains("nope"), "{text}");
}

#[test]
fn a_placeholder_name_fails_at_once_even_through_a_proxy() {
    let proxy = ConnectProxy::start(ProxyOptions::default());
    let profile = Profile::load(&ProfileSpec {
        proxy: through(&proxy.url()),
        ..ProfileSpec::default()
    })
    .unwrap();
    let outcome = test(
        &TestTarget::parse("https://partner.invalid/").unwrap(),
        &profile,
    )
    .unwrap();
    let d = failed(outcome);
    assert_eq!(d.cause.code(), "dns_failure");
    assert!(proxy.requests().is_empty());
}
