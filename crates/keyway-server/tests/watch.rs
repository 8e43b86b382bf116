//! The watch against real servers on 127.0.0.1: a connector that fails is said once, a
//! partner that presents another certificate is noticed, a recovery too; alerts reach an
//! in-process webhook receiver signed with HMAC, are retried, and are sent once per
//! threshold; `/metrics` shows each connector up or down. Expiry thresholds, renewals
//! and certificates used in several places are checked on the list itself.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyway_connect::ConnectorEntry;
use keyway_server::watch::{
    Mail, Threshold, WatchOptions, Webhook, expiry_alerts, run_once, signature,
};
use keyway_store::{Context, KnownCertificate, NewConnector, Save};
use keyway_testkit::{ChainOptions, HttpsOptions, HttpsServer, KeyKind, SmtpReceiver, TestChain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

/// One request the receiver got: its headers (lower-case names) and body.
type Received = (Vec<(String, String)>, Vec<u8>);

/// An HTTP receiver on 127.0.0.1 answering 500 to its first `failures` requests, 204 after.
async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/keyway", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let tries = Arc::new(AtomicUsize::new(0));
    let (got, count) = (received.clone(), tries.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (got, count) = (got.clone(), count.clone());
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, length) = loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&data[..end]).to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        data.drain(..end + 4);
                        break (head, length);
                    }
                };
                while data.len() < length {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                }
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let seen = count.fetch_add(1, Ordering::SeqCst);
                let status = if seen < failures {
                    "500 Internal Server Error"
                } else {
                    got.lock().await.push((headers, data));
                    "204 No Content"
                };
                let _ = socket
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (url, received, tries)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

async fn point_orders_at(store: &keyway_store::Store, url: &str) {
    let definition = ConnectorEntry {
        kind: "rest".into(),
        url: url.into(),
        profile: Some("upstream".into()),
        timeout: Some("5s".into()),
        ..ConnectorEntry::default()
    };
    store
        .save_connector(
            &Context::local_admin(),
            "orders",
            NewConnector {
                definition,
                auth: None,
            },
            Save::Replace(None),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_are_alerted_once_signed_and_retried() {
    changes_alerted(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_are_alerted_once_on_postgres_too() {
    changes_alerted(Some(keyway_testkit::postgres_database())).await;
}

async fn changes_alerted(database: Option<String>) {
    let s = support::setup_on(database).await;
    let (url, received, tries) = receiver(1).await;
    let options = WatchOptions {
        every: Duration::from_millis(1),
        webhook: Some(Webhook {
            url,
            secret: Some(Arc::new(Zeroizing::new("hook-secret".to_string()))),
            attempts: 3,
            backoff: Duration::from_millis(10),
        }),
        ..WatchOptions::default()
    };

    // First run: "orders" passes (no news), "down" fails (news, once); alice's and bob's
    // certificates end in 30 days (the setup's; 29 and some hours once a second has
    // passed), each crossing the 30-day threshold.
    let run = run_once(&s.store, &options).await.unwrap();
    let report = run.audit.as_ref().unwrap();
    assert_eq!(report.counts.total, 2);
    let events: Vec<&str> = run.sent.iter().map(|(_, a)| a.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "connector_failing",
            "certificate_expiring",
            "certificate_expiring"
        ],
        "{:?}",
        run.sent
    );
    assert!(
        run.sent[0]
            .1
            .text
            .contains("connector down fails: connection_refused")
    );
    assert!(
        run.sent
            .iter()
            .any(|(_, a)| a.text.starts_with("CN=alice ends in ")
                && a.text.ends_with(" days; held by user alice")
                && a.key.ends_with(":30d")),
        "{:?}",
        run.sent
    );
    assert_eq!(tries.load(Ordering::SeqCst), 4, "the 500 was tried again");
    {
        let got = received.lock().await;
        let (headers, body) = &got[0];
        assert_eq!(header(headers, "x-keyway-event"), Some("connector_failing"));
        let signed = header(headers, "x-keyway-signature").unwrap();
        let at: i64 = signed
            .strip_prefix("t=")
            .and_then(|r| r.split(',').next())
            .and_then(|t| t.parse().ok())
            .unwrap();
        assert_eq!(
            signed,
            signature("hook-secret", at, body),
            "the HMAC checks out"
        );
        assert_ne!(signed, signature("another-secret", at, body));
        let alert: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(alert["details"]["connector"], "down");
        assert_eq!(alert["details"]["code"], "connection_refused");
    }

    // Nothing new: nothing sent again.
    let run = run_once(&s.store, &options).await.unwrap();
    assert!(run.sent.is_empty(), "{:?}", run.sent);

    // The partner behind "orders" now presents a certificate from another CA.
    let impostor_chain = TestChain::new("orders", KeyKind::EcP256);
    let impostor = HttpsServer::start(&impostor_chain, HttpsOptions::default());
    point_orders_at(&s.store, &format!("{}/api", impostor.url())).await;
    let run = run_once(&s.store, &options).await.unwrap();
    let mut events: Vec<&str> = run.sent.iter().map(|(_, a)| a.event.as_str()).collect();
    events.sort();
    assert_eq!(events, ["connector_failing", "server_certificate_changed"]);
    let (_, changed) = run
        .sent
        .iter()
        .find(|(_, a)| a.event == "server_certificate_changed")
        .unwrap();
    assert!(
        changed.text.contains("another certificate"),
        "{}",
        changed.text
    );

    // Back to the real partner: recovered (and changed again).
    point_orders_at(&s.store, &format!("{}/api", s.upstream.url())).await;
    let run = run_once(&s.store, &options).await.unwrap();
    let mut events: Vec<&str> = run.sent.iter().map(|(_, a)| a.event.as_str()).collect();
    events.sort();
    assert_eq!(
        events,
        ["connector_recovered", "server_certificate_changed"]
    );

    // The history is kept per connector, newest first; the partner's chain joins the
    // expiry list.
    let history = s
        .store
        .connector_checks(&Context::local_admin(), "orders", 10)
        .await
        .unwrap();
    let standings: Vec<&str> = history.iter().map(|c| c.standing.as_str()).collect();
    assert_eq!(standings, ["passing", "failing", "passing", "passing"]);
    let known = s
        .store
        .known_certificates(&Context::local_admin(), None)
        .await
        .unwrap();
    assert!(
        known
            .iter()
            .any(|c| c.kind == "partner" && c.holder == "connector orders (server)"),
        "{known:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_nobody_receives_is_tried_again_at_the_next_run() {
    let s = support::setup().await;
    let (url, received, tries) = receiver(usize::MAX).await;
    let options = WatchOptions {
        every: Duration::from_millis(1),
        webhook: Some(Webhook {
            url,
            secret: None,
            attempts: 2,
            backoff: Duration::from_millis(1),
        }),
        ..WatchOptions::default()
    };
    let run = run_once(&s.store, &options).await.unwrap();
    assert!(run.sent.is_empty());
    // "down" failing, alice's and bob's certificates: each tried twice.
    assert_eq!(run.undelivered.len(), 3, "{:?}", run.undelivered);
    assert_eq!(tries.load(Ordering::SeqCst), 6);
    assert!(received.lock().await.is_empty());
    // The claim was given back: the next run sends the same alert again.
    let first_key = run.undelivered[0].1.key.clone();
    let run = run_once(&s.store, &options).await.unwrap();
    assert!(
        run.undelivered.iter().any(|(_, a)| a.key == first_key),
        "{:?}",
        run.undelivered
    );
}

/// Mail to a relay on 127.0.0.1 whose certificate chains to `relay_chain`'s root.
fn mail(relay: &SmtpReceiver, relay_chain: &TestChain, password: &str) -> Mail {
    Mail {
        host: "127.0.0.1".into(),
        port: relay.port,
        from: "keyway@acme.example".into(),
        to: vec!["ops@acme.example".into(), "pki@acme.example".into()],
        credentials: Some((
            "alerts".into(),
            Arc::new(Zeroizing::new(password.to_string())),
        )),
        ca_pem: Some(relay_chain.root_pem.clone().into_bytes()),
    }
}

fn relay_chain() -> TestChain {
    TestChain::build(
        "smtp",
        &ChainOptions {
            extra_names: vec!["127.0.0.1".into()],
            ..ChainOptions::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_go_by_mail_over_starttls_once_each() {
    let s = support::setup().await;
    let chain = relay_chain();
    let relay = SmtpReceiver::start(&chain, Some(("alerts", "mail-pass")));
    let options = WatchOptions {
        every: Duration::from_millis(1),
        mail: Some(mail(&relay, &chain, "mail-pass")),
        ..WatchOptions::default()
    };
    let run = run_once(&s.store, &options).await.unwrap();
    assert!(run.undelivered.is_empty(), "{:?}", run.undelivered);
    assert!(run.sent.iter().all(|(channel, _)| channel == "mail"));
    let messages = relay.messages();
    assert_eq!(messages.len(), 3, "{messages:?}");
    let failing = &messages[0];
    assert!(
        failing.contains("X-Was-Tls: True"),
        "STARTTLS before mail: {failing}"
    );
    assert!(
        failing.contains("X-Envelope-To: ops@acme.example, pki@acme.example"),
        "{failing}"
    );
    assert!(
        failing.contains("Subject: [keyway] connector down fails: connection_refused"),
        "{failing}"
    );
    assert!(
        failing.contains("\"code\": \"connection_refused\""),
        "{failing}"
    );
    assert!(!messages.concat().contains("mail-pass"));
    // Nothing new: no mail.
    let run = run_once(&s.store, &options).await.unwrap();
    assert!(run.sent.is_empty());
    assert_eq!(relay.messages().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_refuses_delays_only_its_own_channel() {
    let s = support::setup().await;
    let chain = relay_chain();
    let relay = SmtpReceiver::start(&chain, Some(("alerts", "mail-pass")));
    let (url, received, _) = receiver(0).await;
    let options = WatchOptions {
        every: Duration::from_millis(1),
        webhook: Some(Webhook {
            url,
            secret: None,
            attempts: 1,
            backoff: Duration::from_millis(1),
        }),
        mail: Some(mail(&relay, &chain, "a-wrong-password")),
        ..WatchOptions::default()
    };
    let run = run_once(&s.store, &options).await.unwrap();
    assert_eq!(run.sent.len(), 3);
    assert!(run.sent.iter().all(|(channel, _)| channel == "webhook"));
    assert_eq!(run.undelivered.len(), 3);
    assert!(run.undelivered.iter().all(|(channel, _)| channel == "mail"));
    assert!(relay.messages().is_empty());
    // The next run tries the mail again; the webhook gets nothing twice.
    let run = run_once(&s.store, &options).await.unwrap();
    assert!(run.sent.is_empty());
    assert_eq!(run.undelivered.len(), 3);
    assert_eq!(received.lock().await.len(), 3);
    // A relay whose certificate is not trusted gets nothing either.
    let mut untrusted = mail(&relay, &chain, "mail-pass");
    untrusted.ca_pem = Some(
        TestChain::new("other", KeyKind::EcP256)
            .root_pem
            .into_bytes(),
    );
    let options = WatchOptions {
        mail: Some(untrusted),
        ..options
    };
    let run = run_once(&s.store, &options).await.unwrap();
    assert_eq!(run.undelivered.len(), 3);
    assert!(relay.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_runs_the_watch_and_shows_connectors_in_metrics() {
    let mut options = support::options();
    options.watch = Some(WatchOptions {
        every: Duration::from_millis(200),
        ..WatchOptions::default()
    });
    let s = support::setup_with(None, options).await;
    let admin = s.gateway.admin_address.unwrap();
    let mut metrics = String::new();
    // The watch runs in the background; wait (bounded) for its first figures.
    for _ in 0..200 {
        metrics = support::admin_get(admin, "/metrics").await;
        if metrics.contains("keyway_connector_up{connector=\"down\"}") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        metrics.contains("keyway_connector_up{connector=\"down\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyway_connector_up{connector=\"orders\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "keyway_certificate_expiry_days{kind=\"partner\",holder=\"connector orders (server)\""
        ),
        "{metrics}"
    );
}

fn known(
    kind: &'static str,
    holder: &str,
    subject: &str,
    sha: &str,
    days: i64,
) -> KnownCertificate {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    KnownCertificate {
        kind,
        holder: holder.into(),
        subject: subject.into(),
        sha256: sha.into(),
        not_before: now - 365 * 86_400,
        not_after: now + days * 86_400 + 3600,
        days_left: days,
        lifetime_left: days as f64 / (365.0 + days as f64),
        revoked: false,
        used_by: Vec::new(),
    }
}

#[test]
fn expiry_alerts_take_the_tightest_threshold_skip_renewed_and_name_every_place() {
    let thresholds = [30, 14, 7, 1].map(Threshold::Days);
    let list = vec![
        // Used twice: one alert naming both places, for 7 days (not 30 or 14 too).
        KnownCertificate {
            used_by: vec!["connector orders".into(), "integration orders".into()],
            ..known("truststore", "partners", "CN=Partner CA", "AA", 5)
        },
        known("identity", "acme", "CN=Partner CA", "AA", 5),
        // Renewed in its place by one that ends later: no alert.
        known("user", "alice", "CN=alice", "BB", 3),
        known("user", "alice", "CN=alice", "CC", 300),
        // Far off: no alert. Ended: an alert of its own.
        known("ca", "root", "CN=keyway CA", "DD", 3000),
        known(
            "partner",
            "connector orders (server)",
            "CN=orders",
            "EE",
            -2,
        ),
    ];
    let alerts = expiry_alerts(&list, &thresholds);
    let keys: Vec<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["expiry:AA:7d", "expiry:EE:ended"]);
    assert_eq!(
        alerts[0].text,
        "CN=Partner CA ends in 5 days; held by truststore partners, identity acme; used by connector orders, integration orders"
    );
    assert!(
        alerts[1].text.contains("ended 2 days ago"),
        "{}",
        alerts[1].text
    );

    // A share of the lifetime: a 10-day certificate with 1 day left is in its last 10 %.
    let mut short = known("identity", "short-lived", "CN=svc", "FF", 1);
    short.lifetime_left = 0.08;
    let alerts = expiry_alerts(&[short], &[Threshold::Share(0.1)]);
    assert_eq!(alerts[0].key, "expiry:FF:10%");
    assert_eq!(Threshold::parse("10%"), Ok(Threshold::Share(0.1)));
    assert_eq!(Threshold::parse("7d"), Ok(Threshold::Days(7)));
    assert!(Threshold::parse("soon").is_err());
    assert!(Threshold::parse("150%").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_a_truststore_without_the_ca_a_working_connector_needs_is_refused_unless_forced()
{
    let s = support::setup().await;
    let admin = Context::local_admin();
    let options = WatchOptions {
        every: Duration::from_millis(1),
        ..WatchOptions::default()
    };
    run_once(&s.store, &options).await.unwrap();
    let before = s.store.truststore(&admin, "upstream").await.unwrap();
    let other = support::pem(&TestChain::new("other", KeyKind::EcP256).root_pem);

    let refused = s
        .store
        .replace_truststore(
            &admin,
            "upstream",
            vec![other.clone()],
            "other.pem",
            None,
            false,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, keyway_store::StoreError::WouldBreak { .. }),
        "{refused}"
    );
    let text = refused.to_string();
    assert!(
        text.contains("orders Root CA") && text.contains("truststore upstream"),
        "{text}"
    );
    assert!(text.contains("would break connector orders"), "{text}");
    assert!(
        !text.contains("connector down"),
        "a failing one loses nothing: {text}"
    );
    assert!(text.contains("--force"), "{text}");
    let unchanged = s.store.truststore(&admin, "upstream").await.unwrap();
    assert_eq!(unchanged.version, before.version);

    // Adding beside it is no removal; removing it on purpose is allowed when forced.
    let mut both = before.certificates.clone();
    both.push(other.clone());
    s.store
        .replace_truststore(&admin, "upstream", both, "both.pem", None, false)
        .await
        .unwrap();
    s.store
        .replace_truststore(&admin, "upstream", vec![other], "other.pem", None, true)
        .await
        .unwrap();
}
