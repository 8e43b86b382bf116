//! The gateway over real sockets on 127.0.0.1: rustls clients presenting certificates
//! issued by keyway's CA, by a partner CA, pinned self-signed, expired, revoked while the
//! gateway runs, or none; an upstream HTTPS test server behind a stored connector; and
//! an upstream that is down. Runs on the embedded SQLite store.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_connect::{ConnectorEntry, ProfileEntry};
use keyway_keystore::Certificate;
use keyway_pki::{KeyType, Reason, parse_subject};
use keyway_server::{Gateway, GatewayOptions};
use keyway_store::{
    AuditQuery, Context, Location, NewConnector, NewIntegration, Permission, Save, Store, Upload,
};
use keyway_testkit::{KeyKind, TestChain};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use support::*;

#[tokio::test]
async fn certificates_decide_who_calls_and_the_partner_answers() {
    let s = setup().await;
    let at = s.gateway.address;

    // alice: through to the partner, as herself, her credentials for keyway kept back.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get("/integrations/orders/ping?x=1", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let echo: serde_json::Value =
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(echo["path"], "/api/ping");
    assert_eq!(echo["headers"]["x-keyway-user"], "alice");
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");

    // A header sent twice reaches the partner twice; an earlier proxy's
    // X-Forwarded-For is kept, with the caller's address after it.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get(
            "/integrations/orders/ping",
            "X-Forwarded-For: 10.9.8.7\nAccept: text/xml\nAccept: application/json\n",
        ),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let echo: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!(echo["headers"]["x-forwarded-for"], "10.9.8.7, 127.0.0.1");
    assert_eq!(echo["headers"]["accept"], "text/xml, application/json");
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");

    // The partner's answer comes back with its own headers (repeated ones repeated),
    // without the hop-by-hop ones and without a user claim of its own.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get("/integrations/orders/headers-out", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let head = answer[..answer.find("\r\n\r\n").unwrap()].to_ascii_lowercase();
    for kept in [
        "x-partner-trace: abc123",
        "set-cookie: a=1",
        "set-cookie: b=2",
        "content-length: 7",
    ] {
        assert!(head.contains(kept), "{kept} missing: {head}");
    }
    for dropped in ["keep-alive: timeout", "proxy-authenticate", "x-keyway-user"] {
        assert!(!head.contains(dropped), "{dropped} passed on: {head}");
    }
    assert!(answer.ends_with("headers"), "{answer}");

    // Basic auth on top: the right password passes, a wrong one is 401.
    use base64ct::Encoding;
    let basic = |password: &str| {
        format!(
            "Authorization: Basic {}\n",
            base64ct::Base64::encode_string(format!("alice:{password}").as_bytes())
        )
    };
    let (status, _) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get("/integrations/orders/ping", &basic("alice-password-1")),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get("/integrations/orders/ping", &basic("wrong")),
    )
    .await
    .unwrap();
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("WWW-Authenticate") || answer.contains("www-authenticate"));

    // bob has a good certificate but no invoke:orders: a generic 403.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.bob),
        &get("/integrations/orders/ping", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 403);
    assert!(
        !answer.contains("invoke"),
        "no detail for the caller: {answer}"
    );

    // A certificate from keyway's CA registered to nobody: the handshake completes, 403.
    let admin = Context::local_admin();
    let (key, issued) = s
        .store
        .ca_issue(
            &admin,
            keyway_store::CaRequest::NewKey {
                key_type: KeyType::EcP256,
                subject: parse_subject("CN=stranger").unwrap(),
                sans: vec![],
            },
            &keyway_pki::IssueRequest {
                profile: keyway_pki::IssueProfile::Client,
                days: 10,
                owner: None,
            },
        )
        .await
        .unwrap();
    let stranger = (key.unwrap(), issued.full_chain());
    let (status, _) = call(
        at,
        &s.ca_root,
        Some(&stranger),
        &get("/integrations/orders/ping", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 403);

    // The partner down: 502 with a correlation id, whose reason is in the audit log.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get("/integrations/down/x", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 502, "{answer}");
    let id = answer
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-keyway-correlation-id: ")
                .map(str::to_string)
        })
        .expect("a correlation id");
    assert!(answer.contains(&id));
    let logged = wait_for(|| {
        let store = s.store.clone();
        let id = id.clone();
        async move {
            store
                .audit_log(&admin_ctx(), &AuditQuery::default())
                .await
                .unwrap()
                .into_iter()
                .any(|e| e.detail.contains(&id) && e.outcome == keyway_store::AuditOutcome::Failed)
        }
    })
    .await;
    assert!(
        logged,
        "the 502's reason is audited under its correlation id"
    );

    // Metrics count what happened.
    let metrics = admin_get(s.gateway.admin_address.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("keyway_requests_total{integration=\"orders\",status=\"200\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyway_requests_total{integration=\"orders\",status=\"403\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyway_request_seconds_count{integration=\"orders\"} 7"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyway_request_seconds_bucket{integration=\"orders\",le=\"+Inf\"} 7"),
        "{metrics}"
    );
    let gauge = |kind: &str| -> i64 {
        let prefix = format!("keyway_certificate_expiry_days{{kind=\"{kind}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {kind} expiry in {metrics}"))
            .parse()
            .unwrap()
    };
    assert!((88..=90).contains(&gauge("server")), "{metrics}");
    assert!((28..=30).contains(&gauge("client")), "{metrics}");
    assert!(gauge("ca") > 3000, "{metrics}");
    assert!(
        admin_get(s.gateway.admin_address.unwrap(), "/healthz")
            .await
            .contains("ok")
    );
    s.gateway.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn handshakes_refuse_untrusted_expired_absent_and_revoked_certificates() {
    let s = setup().await;
    let at = s.gateway.address;
    let ok = get("/integrations/orders/ping", "");

    // No certificate, or one from a CA nobody trusts: refused in the handshake.
    let e = call(at, &s.ca_root, None, &ok).await.unwrap_err();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    let unknown = client_cert("nobody's", None, (-1, 10));
    let e = call(at, &s.ca_root, Some(&unknown), &ok).await.unwrap_err();
    assert!(e.contains("UnknownCA") || e.contains("unknown"), "{e}");
    // Both refusals reach the audit log (for the console's dashboard), from where and why;
    // a second client without a certificate counts up on the same row.
    let _ = call(at, &s.ca_root, None, &ok).await;
    let audited = wait_for(|| {
        let store = s.store.clone();
        async move {
            let refused = store
                .audit_log(
                    &admin_ctx(),
                    &AuditQuery {
                        action: Some("gateway.handshake".into()),
                        ..AuditQuery::default()
                    },
                )
                .await
                .unwrap();
            refused.iter().any(|e| {
                e.detail.contains("no certificate")
                    && e.count == 2
                    && e.object == "client at 127.0.0.1"
                    && e.outcome == keyway_store::AuditOutcome::Refused
            }) && refused
                .iter()
                .any(|e| e.detail.contains("issuer is not trusted"))
        }
    })
    .await;
    let seen = s
        .store
        .audit_log(&admin_ctx(), &AuditQuery::default())
        .await
        .unwrap();
    assert!(
        audited,
        "refused handshakes are audited, repeats counted: {:?}",
        seen.iter()
            .map(|e| (&e.action, &e.object, &e.detail, e.count))
            .collect::<Vec<_>>()
    );

    // From the partner CA the administrator trusts: through once registered to alice.
    let partner = client_cert("alice at partner", Some(&s.partner_ca), (-1, 10));
    let admin = Context::local_admin();
    s.store
        .upload_certificate(
            &admin,
            "alice",
            Upload {
                certificate: partner.1[0].clone(),
                chain: Vec::new(),
                truststore: "partner-clients".into(),
                key_elsewhere: true,
            },
        )
        .await
        .unwrap();
    let (status, _) = wait_for_status(at, &s.ca_root, &partner, &ok, 200).await;
    assert_eq!(status, 200);
    // Expired, from that same CA: refused in the handshake.
    let expired = client_cert("old", Some(&s.partner_ca), (-30, -1));
    let e = call(at, &s.ca_root, Some(&expired), &ok).await.unwrap_err();
    assert!(e.contains("Expired") || e.contains("expired"), "{e}");

    // The partner CA's CRL lists that certificate: once imported, the next handshakes
    // refuse it; another certificate of the same CA still gets through the handshake.
    let serial: Vec<u8> = partner.1[0]
        .info()
        .serial
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let crl = rcgen::CertificateRevocationListParams {
        this_update: now - time::Duration::hours(1),
        next_update: now + time::Duration::days(7),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![rcgen::RevokedCertParams {
            serial_number: rcgen::SerialNumber::from_slice(&serial),
            revocation_time: now - time::Duration::hours(2),
            reason_code: Some(rcgen::RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&s.partner_ca)
    .unwrap();
    s.store
        .import_crl(&admin, crl.der(), "partner.crl")
        .await
        .unwrap();
    let refused =
        wait_for(|| async { call(at, &s.ca_root, Some(&partner), &ok).await.is_err() }).await;
    assert!(
        refused,
        "a certificate on an imported CRL is still accepted"
    );
    let e = call(at, &s.ca_root, Some(&partner), &ok).await.unwrap_err();
    assert!(e.contains("Revoked") || e.contains("revoked"), "{e}");
    let sibling = client_cert("bob at partner", Some(&s.partner_ca), (-1, 10));
    let (status, answer) = call(at, &s.ca_root, Some(&sibling), &ok).await.unwrap();
    assert_eq!(
        status, 403,
        "through the handshake, registered to nobody: {answer}"
    );

    // A pinned self-signed certificate, registered to alice: accepted as exactly itself.
    let pinned = client_cert("alice pinned", None, (-1, 10));
    s.store
        .add_truststore(&admin, "pins", vec![pinned.1[0].clone()], "pinned.pem")
        .await
        .unwrap();
    let stored = s
        .store
        .upload_certificate(
            &admin,
            "alice",
            Upload {
                certificate: pinned.1[0].clone(),
                chain: Vec::new(),
                truststore: "pins".into(),
                key_elsewhere: true,
            },
        )
        .await
        .unwrap();
    let (status, _) = wait_for_status(at, &s.ca_root, &pinned, &ok, 200).await;
    assert_eq!(status, 200);

    // Revoked while the gateway runs: refused on the next handshakes, no restart.
    s.store
        .revoke_certificate(&admin, "alice", &stored.sha256, Reason::KeyCompromise, None)
        .await
        .unwrap();
    let started = Instant::now();
    let refused = loop {
        match call(at, &s.ca_root, Some(&pinned), &ok).await {
            Err(e) => break e,
            Ok(_) if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(answer) => panic!("still accepted after 10 s: {answer:?}"),
        }
    };
    assert!(
        refused.contains("Revoked") || refused.contains("revoked"),
        "{refused}"
    );
    // alice's other certificate still works.
    let (status, _) = call(at, &s.ca_root, Some(&s.alice), &ok).await.unwrap();
    assert_eq!(status, 200);
    let metrics = admin_get(s.gateway.admin_address.unwrap(), "/metrics").await;
    assert!(!metrics.contains("outcome=\"revoked\"} 0"), "{metrics}");
    assert!(!metrics.contains("outcome=\"expired\"} 0"), "{metrics}");
}

#[tokio::test]
async fn a_legacy_partner_is_reached_and_a_stalled_client_does_not_block_others() {
    let s = setup().await;
    let admin = Context::local_admin();
    // A TLS 1.1-only partner behind integration "bank".
    let bank_chain = TestChain::new("old-bank", KeyKind::EcP256);
    let bank = keyway_testkit::OpensslServer::start(
        &bank_chain,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
    );
    s.store
        .add_truststore(&admin, "bank", vec![pem(&bank_chain.root_pem)], "bank.pem")
        .await
        .unwrap();
    let profile = ProfileEntry {
        truststores: vec!["bank".into()],
        server_name: Some("old-bank.test".into()),
        versions: Some(vec!["TLS 1.0".into(), "TLS 1.1".into()]),
        ..ProfileEntry::default()
    };
    s.store
        .save_profile(&admin, "legacy", profile, Save::Add)
        .await
        .unwrap();
    let definition = ConnectorEntry {
        kind: "rest".into(),
        url: format!("https://127.0.0.1:{}", bank.port),
        profile: Some("legacy".into()),
        timeout: Some("5s".into()),
        ..ConnectorEntry::default()
    };
    s.store
        .save_connector(
            &admin,
            "bank",
            NewConnector {
                definition,
                auth: None,
            },
            Save::Add,
        )
        .await
        .unwrap();
    s.store
        .save_integration(
            &admin,
            "bank",
            NewIntegration {
                connector: "bank".into(),
                description: String::new(),
                require_password: false,
            },
            Save::Add,
        )
        .await
        .unwrap();
    s.store
        .grant(&admin, "alice", Permission::Invoke("bank".into()), None)
        .await
        .unwrap();
    // The new integration and grant reach the gateway within its reload period.
    let (status, answer) = wait_for_status(
        s.gateway.address,
        &s.ca_root,
        &s.alice,
        &get("/integrations/bank/", ""),
        200,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("s_server"), "openssl's -www page: {answer}");

    // One connection allowed, a client that connects and never speaks: the handshake
    // timeout frees its place, so the next client is served.
    let tight = Gateway::start(
        s.store.clone(),
        GatewayOptions {
            admin: None,
            max_connections: 1,
            handshake_timeout: Duration::from_millis(300),
            max_body: 16,
            ..options()
        },
    )
    .await
    .unwrap();
    let _stalled = tokio::net::TcpStream::connect(tight.address).await.unwrap();
    let served = tokio::time::timeout(
        Duration::from_secs(20),
        call(
            tight.address,
            &s.ca_root,
            Some(&s.alice),
            &get("/whoami", ""),
        ),
    )
    .await
    .expect("the stalled client held the only connection");
    let (status, answer) = served.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"alice\""), "{answer}");
    // A body over --max-body is refused (413) before anything reaches the partner.
    let post = "POST /integrations/orders/upload HTTP/1.1\nHost: localhost\nConnection: close\nContent-Type: text/plain\nContent-Length: 64\n\n"
        .to_string()
        + &"x".repeat(64);
    let (status, answer) = call(tight.address, &s.ca_root, Some(&s.alice), &post)
        .await
        .unwrap();
    assert_eq!(status, 413, "{answer}");
    // So is one without a length that runs over it on the way.
    let chunked = "POST /integrations/orders/upload HTTP/1.1\nHost: localhost\nConnection: close\nTransfer-Encoding: chunked\n\n40\n".to_string()
        + &"x".repeat(64)
        + "\n0\n\n";
    let (status, answer) = call(tight.address, &s.ca_root, Some(&s.alice), &chunked)
        .await
        .unwrap();
    assert_eq!(status, 413, "{answer}");
}

#[tokio::test]
async fn request_bodies_stream_to_the_partner() {
    let s = setup().await;
    let echo = |answer: &str| -> serde_json::Value {
        let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"))
    };
    // The partner sees the request while the caller is still sending its body: the
    // gateway passes it on as it arrives instead of collecting it first.
    let mut tls = connect(s.gateway.address, &s.ca_root, Some(&s.alice))
        .await
        .unwrap();
    let before = s.upstream.requests();
    let head = "POST /integrations/orders/upload HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    let reached = wait_for(|| async { s.upstream.requests() > before }).await;
    assert!(
        reached,
        "the partner saw nothing before the body was complete"
    );
    tls.write_all(b"6\r\n world\r\n0\r\n\r\n").await.unwrap();
    let (status, answer) = read_answer(tls).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(echo(&answer)["body"], "hello world");

    // A body with a length keeps it: legacy partners often refuse chunked uploads.
    let post = "POST /integrations/orders/upload HTTP/1.1\nHost: localhost\nConnection: close\nContent-Type: text/plain\nContent-Length: 11\n\nhello there";
    let (status, answer) = call(s.gateway.address, &s.ca_root, Some(&s.alice), post)
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    let echo = echo(&answer);
    assert_eq!(echo["body"], "hello there");
    assert_eq!(echo["headers"]["content-length"], "11", "{echo}");
    assert!(echo["headers"].get("transfer-encoding").is_none(), "{echo}");

    // A body several times the request-head buffer goes through whole.
    let big = "b".repeat(300 * 1024);
    let post = format!(
        "POST /integrations/orders/upload HTTP/1.1\nHost: localhost\nConnection: close\nContent-Type: text/plain\nContent-Length: {}\n\n{big}",
        big.len()
    );
    let (status, answer) = call(s.gateway.address, &s.ca_root, Some(&s.alice), &post)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let echo: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!(echo["body"].as_str().map(str::len), Some(big.len()));
}

#[tokio::test]
async fn two_nodes_on_one_postgresql_share_a_revocation() {
    let url = keyway_testkit::postgres_database();
    let s = setup_on(Some(url.clone())).await;
    // A second node: its own data directory and gateway, the same database and key.
    let other_dir = tempfile::tempdir().unwrap();
    let mut location = Location::data_dir(other_dir.path().join("data"));
    location.database_url = Some(url);
    let other_store = Arc::new(Store::open(&location, Some(KEY)).await.unwrap());
    // Node 2 polls only every minute: what reaches it sooner came by LISTEN/NOTIFY.
    let other = Gateway::start(
        other_store,
        GatewayOptions {
            reload_every: Duration::from_secs(60),
            ..options()
        },
    )
    .await
    .unwrap();
    let ok = get("/integrations/orders/ping", "");
    let (status, _) = call(other.address, &s.ca_root, Some(&s.alice), &ok)
        .await
        .unwrap();
    assert_eq!(status, 200);

    // Revoked through node 1; node 2 refuses the certificate within seconds.
    let admin = Context::local_admin();
    let alice_cert = s
        .store
        .certificates(&admin, "alice")
        .await
        .unwrap()
        .remove(0);
    s.store
        .revoke_certificate(
            &admin,
            "alice",
            &alice_cert.sha256,
            Reason::KeyCompromise,
            None,
        )
        .await
        .unwrap();
    let refused = wait_for(|| async {
        call(other.address, &s.ca_root, Some(&s.alice), &ok)
            .await
            .is_err()
    })
    .await;
    assert!(
        refused,
        "node 2 still accepts a certificate revoked on node 1"
    );
}

/// The certificate the gateway presents now (DER).
async fn server_leaf(address: SocketAddr, root: &Certificate, identity: &Identity) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(root.der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            identity
                .1
                .iter()
                .map(|c| CertificateDer::from(c.der().to_vec()))
                .collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.0.pkcs8_der().to_vec())),
        )
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn the_server_certificate_is_replaced_without_a_restart() {
    let s = setup().await;
    let before = server_leaf(s.gateway.address, &s.ca_root, &s.alice).await;
    // An administrator drops the gateway's keystore: the gateway issues and serves a new
    // certificate, and keeps answering.
    s.store
        .remove_keystore(
            &Context::local_admin(),
            keyway_server::SERVER_KEYSTORE,
            None,
        )
        .await
        .unwrap();
    let changed =
        wait_for(|| async { server_leaf(s.gateway.address, &s.ca_root, &s.alice).await != before })
            .await;
    assert!(changed, "still the old server certificate");
    let stored = s
        .store
        .keystore(&Context::local_admin(), keyway_server::SERVER_KEYSTORE)
        .await
        .unwrap();
    let after = server_leaf(s.gateway.address, &s.ca_root, &s.alice).await;
    assert_eq!(stored.key_entry().unwrap().chain[0].der(), after.as_slice());
    let (status, _) = call(
        s.gateway.address,
        &s.ca_root,
        Some(&s.alice),
        &get("/whoami", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);

    // A disabled user: the handshake still completes, the request gets a plain 403.
    s.store
        .set_enabled(&Context::local_admin(), "alice", false, None)
        .await
        .unwrap();
    let (status, answer) = wait_for_status(
        s.gateway.address,
        &s.ca_root,
        &s.alice,
        &get("/integrations/orders/ping", ""),
        403,
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer.contains("forbidden") && !answer.contains("disabled"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_slow_header_is_cut_off_and_shutdown_lets_requests_in_flight_finish() {
    let s = setup().await;
    let gateway = Gateway::start(
        s.store.clone(),
        GatewayOptions {
            header_timeout: Duration::from_millis(300),
            ..options()
        },
    )
    .await
    .unwrap();
    // Headers begun and never finished: the connection is closed at the timeout.
    let mut tls = connect(gateway.address, &s.ca_root, Some(&s.alice))
        .await
        .unwrap();
    tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "a client that never ends its headers keeps its connection"
    );

    // A request to a partner that takes a second is under way when the stop comes: it
    // is answered; a connection attempted after the stop is not served.
    let slow = tokio::spawn({
        let (at, root, alice) = (gateway.address, s.ca_root.clone(), s.alice.clone());
        async move {
            call(
                at,
                &root,
                Some(&alice),
                &get("/integrations/orders/slow/1000", ""),
            )
            .await
        }
    });
    let before = s.upstream.requests();
    assert!(wait_for(|| async { s.upstream.requests() > before }).await);
    let at = gateway.address;
    let stopping = tokio::spawn(gateway.shutdown(Duration::from_secs(10)));
    let (status, answer) = slow.await.unwrap().unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.ends_with("slow"),
        "the partner's slow answer: {answer}"
    );
    stopping.await.unwrap();
    assert!(
        call(at, &s.ca_root, Some(&s.alice), &get("/whoami", ""))
            .await
            .is_err(),
        "served after the stop"
    );
}

#[tokio::test]
async fn a_request_head_over_the_limit_gets_431() {
    let s = setup().await;
    let small = Gateway::start(
        s.store.clone(),
        GatewayOptions {
            max_header: 4096,
            ..options()
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(small.contains("at least 8192"), "{small}");
    let gateway = Gateway::start(
        s.store.clone(),
        GatewayOptions {
            max_header: 16 * 1024,
            ..options()
        },
    )
    .await
    .unwrap();
    let fits = format!("X-Note: {}\n", "a".repeat(4 * 1024));
    let (status, answer) = call(
        gateway.address,
        &s.ca_root,
        Some(&s.alice),
        &get("/whoami", &fits),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let huge = format!("X-Note: {}\n", "a".repeat(32 * 1024));
    let (status, answer) = call(
        gateway.address,
        &s.ca_root,
        Some(&s.alice),
        &get("/whoami", &huge),
    )
    .await
    .unwrap();
    assert_eq!(status, 431, "{answer}");
}

#[tokio::test]
async fn idle_connections_are_parked_and_resume_where_they_left_off() {
    let s = setup().await;
    let at = s.gateway.address;
    let admin = s.gateway.admin_address.unwrap();
    let gauge = |state: &'static str| async move {
        let metrics = admin_get(admin, "/metrics").await;
        let prefix = format!("keyway_connections{{state=\"{state}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {state} gauge: {metrics}"))
            .parse::<i64>()
            .unwrap()
    };
    let mut tls = connect(at, &s.ca_root, Some(&s.alice)).await.unwrap();
    let whoami = "GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n";
    tls.write_all(whoami.as_bytes()).await.unwrap();
    let (status, body) = read_one(&mut tls).await;
    assert_eq!(status, 200, "{body}");
    // Between requests the connection is parked, and the next request is served.
    assert!(
        wait_for(|| async { gauge("parked").await == 1 }).await,
        "an idle connection is not parked"
    );
    assert_eq!(gauge("open").await, 1);
    let post = "POST /integrations/orders/upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    tls.write_all(post.as_bytes()).await.unwrap();
    let (status, body) = read_one(&mut tls).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"body\":\"hello\""), "{body}");

    // A request head that stops halfway is kept while parked and completed later.
    tls.write_all(b"GET /whoami HTTP/1.1\r\nHo").await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tls.write_all(b"st: localhost\r\n\r\n").await.unwrap();
    let (status, body) = read_one(&mut tls).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"alice\""), "{body}");

    // Two requests in one write (pipelined): two answers, in order.
    let two =
        format!("{whoami}GET /integrations/orders/second HTTP/1.1\r\nHost: localhost\r\n\r\n");
    tls.write_all(two.as_bytes()).await.unwrap();
    let (first, body) = read_one(&mut tls).await;
    assert_eq!(first, 200, "{body}");
    assert!(body.contains("may_invoke"), "{body}");
    let (second, body) = read_one(&mut tls).await;
    assert_eq!(second, 200, "{body}");
    assert!(body.contains("/api/second"), "{body}");

    // Closed by the client: nothing left open.
    drop(tls);
    assert!(
        wait_for(|| async { gauge("open").await == 0 && gauge("parked").await == 0 }).await,
        "a closed connection is still counted"
    );
}

#[tokio::test]
async fn a_server_certificate_from_a_named_keystore_is_served() {
    let s = setup().await;
    // The company's CA issued the gateway's certificate; openssl made the PKCS#12.
    let company = keyway_testkit::TestChain::build(
        "gateway",
        &keyway_testkit::ChainOptions {
            kind: KeyKind::Rsa2048,
            extra_names: vec!["localhost".into()],
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let p12 = keyway_testkit::client_p12(&company, dir.path());
    let admin = Context::local_admin();
    let missing = Gateway::start(
        s.store.clone(),
        GatewayOptions {
            server_keystore: Some("public-facing".into()),
            ..options()
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(missing.contains("public-facing"), "{missing}");
    assert!(missing.contains("keyway identity add"), "{missing}");

    s.store
        .add_keystore(
            &admin,
            "public-facing",
            keyway_store::NewKeystore {
                content: std::fs::read(&p12).unwrap(),
                format: None,
                password: Zeroizing::new("changeit".into()),
                key_password: None,
                alias: None,
                source: "gateway.p12".into(),
            },
        )
        .await
        .unwrap();
    let gateway = Gateway::start(
        s.store.clone(),
        GatewayOptions {
            server_keystore: Some("public-facing".into()),
            ..options()
        },
    )
    .await
    .unwrap();
    let company_root = pem(&company.root_pem);
    let served = server_leaf(gateway.address, &company_root, &s.alice).await;
    assert_eq!(served, company.leaf_der);
    let (status, answer) = call(
        gateway.address,
        &company_root,
        Some(&s.alice),
        &get("/whoami", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    // keyway's CA does not vouch for it.
    assert!(
        call(
            gateway.address,
            &s.ca_root,
            Some(&s.alice),
            &get("/whoami", "")
        )
        .await
        .is_err()
    );
}
