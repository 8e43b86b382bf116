//! The fleet audit against real servers on 127.0.0.1: a modern partner, a TLS 1.1-only
//! partner (`openssl s_server`), an untrusted one, one whose certificate ends in days and a
//! silent one — each where it belongs, worst first, with the what-if "require TLS 1.2"
//! naming the one that would break and why; and the bound per host.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyway_connect::Config;
use keyway_connect::audit::{AuditOptions, Standing, audit};
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, OpensslServer, TestChain};
use keyway_tls::{TlsPolicy, TlsVersion};

/// A listener that accepts connections and never says a word, counting how many it was
/// given and how many were open at once. Each connection is held until the client hangs up.
struct Silent {
    port: u16,
    accepted: Arc<AtomicUsize>,
    most_at_once: Arc<AtomicUsize>,
}

fn silent() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let (a, m) = (accepted.clone(), most_at_once.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            a.fetch_add(1, Ordering::SeqCst);
            let now = open.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            let open = open.clone();
            std::thread::spawn(move || {
                // Read (and ignore) until the client hangs up.
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Silent {
        port,
        accepted,
        most_at_once,
    }
}

fn load(dir: &Path, toml: &str) -> Config {
    let path = dir.join("keyway.toml");
    std::fs::write(&path, toml).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_is_audited_worst_first_and_the_what_if_names_what_would_break() {
    let dir = tempfile::tempdir().unwrap();
    let partner = TestChain::new("partner", KeyKind::EcP256);
    let bank = TestChain::new("old-bank", KeyKind::EcP256);
    let soon = TestChain::with_leaf_validity("soon", KeyKind::EcP256, -300, 10);
    let stranger = TestChain::new("stranger", KeyKind::EcP256);
    for (file, chain) in [
        ("partner.pem", &partner),
        ("bank.pem", &bank),
        ("soon.pem", &soon),
        ("stranger.pem", &stranger),
    ] {
        std::fs::write(dir.path().join(file), &chain.root_pem).unwrap();
    }
    let modern = HttpsServer::start(&partner, HttpsOptions::default());
    let expiring = HttpsServer::start(&soon, HttpsOptions::default());
    let legacy = OpensslServer::start(&bank, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"]);
    let quiet = silent();
    let config = load(
        dir.path(),
        &format!(
            r#"
[truststores.partner]
path = "partner.pem"
[truststores.bank]
path = "bank.pem"
[truststores.soon]
path = "soon.pem"
[truststores.stranger]
path = "stranger.pem"

[profiles.partner]
truststores = ["partner"]
server_name = "partner.test"
[profiles.bank]
truststores = ["bank"]
server_name = "old-bank.test"
versions = ["TLS 1.0", "TLS 1.1"]
[profiles.soon]
truststores = ["soon"]
server_name = "soon.test"
[profiles.wrong]
truststores = ["stranger"]
server_name = "partner.test"
[profiles.quiet]
truststores = ["partner"]
handshake_timeout = "1s"

[connectors.orders]
kind = "rest"
url = "https://127.0.0.1:{modern}/api"
profile = "partner"
tags = ["payments"]
[connectors.bank]
kind = "rest"
url = "https://127.0.0.1:{legacy}"
profile = "bank"
[connectors.renewals]
kind = "rest"
url = "https://127.0.0.1:{expiring}"
profile = "soon"
[connectors.misconfigured]
kind = "rest"
url = "https://127.0.0.1:{modern}"
profile = "wrong"
[connectors.silent]
kind = "rest"
url = "https://127.0.0.1:{quiet}"
profile = "quiet"
"#,
            modern = modern.port,
            legacy = legacy.port,
            expiring = expiring.port,
            quiet = quiet.port,
        ),
    );
    let options = AuditOptions {
        require: Some(TlsPolicy::lowest_allowable(TlsVersion::Tls12)),
        ..AuditOptions::default()
    };
    let mut seen = Vec::new();
    let report = audit(&config, &[], &options, |one| {
        seen.push(one.connector.clone())
    })
    .await;
    seen.sort();
    assert_eq!(
        seen,
        ["bank", "misconfigured", "orders", "renewals", "silent"],
        "every connector reported as it finished"
    );
    let order: Vec<(&str, Standing)> = report
        .connectors
        .iter()
        .map(|c| (c.connector.as_str(), c.standing))
        .collect();
    assert_eq!(
        order,
        [
            ("misconfigured", Standing::Failing),
            ("silent", Standing::Failing),
            ("bank", Standing::WouldBreak),
            ("renewals", Standing::Expiring),
            ("orders", Standing::Passing),
        ]
    );
    let row = |name: &str| {
        report
            .connectors
            .iter()
            .find(|c| c.connector == name)
            .unwrap()
    };

    let misconfigured = row("misconfigured");
    assert_eq!(misconfigured.code(), Some("untrusted_root"));
    assert!(
        misconfigured
            .certificates
            .iter()
            .any(|d| d.role == "server" && d.certificate.subject.contains("partner")),
        "the chain presented is listed even when it is not trusted"
    );

    // Silent: its timeout once — no probe, no what-if, one connection.
    let silent = row("silent");
    assert_eq!(silent.code(), Some("handshake_timeout"));
    assert!(silent.probe.is_none() && silent.what_if.is_none());
    assert_eq!(quiet.accepted.load(Ordering::SeqCst), 1);

    // TLS 1.1 only: passes today through the legacy backend, breaks under TLS 1.2+.
    let bank = row("bank");
    assert_eq!(bank.negotiated(), Some(TlsVersion::Tls11));
    let versions = bank.partner_versions().unwrap();
    assert!(versions.contains(TlsVersion::Tls11) && !versions.contains(TlsVersion::Tls12));
    let what_if = bank.what_if.as_ref().unwrap();
    assert!(!what_if.connects && what_if.tested);
    assert_eq!(what_if.code, Some("version_mismatch"));
    assert!(
        bank.summary()
            .contains("would fail under the required policy"),
        "{}",
        bank.summary()
    );

    let renewals = row("renewals");
    let first = renewals.earliest().unwrap();
    assert_eq!(first.role, "server");
    assert!((9..=10).contains(&first.days_left), "{}", first.days_left);
    assert!(
        renewals.summary().contains("ends in"),
        "{}",
        renewals.summary()
    );

    // Already on TLS 1.3: the what-if needs no second handshake.
    let orders = row("orders");
    assert_eq!(orders.tags, ["payments"]);
    let what_if = orders.what_if.as_ref().unwrap();
    assert!(what_if.connects && !what_if.tested);
    assert_eq!(what_if.version, Some(TlsVersion::Tls13));
    assert!(
        orders
            .partner_versions()
            .unwrap()
            .contains(TlsVersion::Tls12)
    );

    assert_eq!(
        (
            report.counts.total,
            report.counts.passing,
            report.counts.expiring,
            report.counts.failing,
            report.counts.would_break
        ),
        (5, 2, 1, 2, 1)
    );
    assert!(!report.ok());
    assert!(
        report.summary().starts_with(
            "5 connectors: 2 pass (1 with a certificate ending soon), 2 fail, 1 would break"
        ),
        "{}",
        report.summary()
    );
    let json = serde_json::to_value(&report).unwrap();
    keyway_testkit::assert_json_kind("audit", &json);
    assert_eq!(json["connectors"][2]["what_if"]["code"], "version_mismatch");
    assert_eq!(
        json["connectors"][2]["partner_versions"],
        serde_json::json!(["TLS 1.1"])
    );

    // Compared with the last checks kept: orders' partner had another certificate from
    // another CA then; renewals' the same one.
    let mut report = report;
    let renewals_now = report.connectors[3].certificates[0]
        .certificate
        .sha256
        .clone();
    report.compare(|name| match name {
        "orders" => Some(("AB:CD".into(), Some("CN=Old Partner CA".into()))),
        "renewals" => Some((renewals_now.clone(), None)),
        _ => None,
    });
    let changed = report.connectors[4].changed.as_ref().unwrap();
    assert_eq!(changed.sha256, "AB:CD");
    assert!(changed.new_issuer);
    assert!(report.connectors[3].changed.is_none());
    assert!(report.connectors[0].changed.is_none());

    // Chosen by name: only those run.
    let one = audit(
        &config,
        &["orders".to_string()],
        &AuditOptions::default(),
        |_| {},
    )
    .await;
    assert_eq!(one.counts.total, 1);
    assert!(one.ok() && one.require.is_none());
    assert!(one.connectors[0].what_if.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_host_gets_no_more_connectors_at_once_than_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = silent();
    let chain = TestChain::new("partner", KeyKind::EcP256);
    std::fs::write(dir.path().join("trust.pem"), &chain.root_pem).unwrap();
    let mut toml = String::from(
        "[truststores.t]\npath = \"trust.pem\"\n[profiles.quiet]\ntruststores = [\"t\"]\nhandshake_timeout = \"1s\"\n",
    );
    for n in 0..4 {
        toml.push_str(&format!(
            "[connectors.c{n}]\nkind = \"rest\"\nurl = \"https://127.0.0.1:{}/{n}\"\nprofile = \"quiet\"\n",
            quiet.port
        ));
    }
    let config = load(dir.path(), &toml);
    let options = AuditOptions {
        concurrency: 8,
        per_host: 1,
        ..AuditOptions::default()
    };
    let report = audit(&config, &[], &options, |_| {}).await;
    assert_eq!(report.counts.failing, 4);
    assert_eq!(quiet.accepted.load(Ordering::SeqCst), 4);
    // One at a time; a hang-up and the next connection may overlap by a moment, never 4.
    let most = quiet.most_at_once.load(Ordering::SeqCst);
    assert!(
        most <= 2,
        "{most} connections at once to one host with --per-host 1"
    );
}
