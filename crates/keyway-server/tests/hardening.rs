//! What a hostile partner could do to the gateway, each attack over a real socket on
//! 127.0.0.1: metric labels it chooses, password guessing and floods of argon2 checks,
//! holding every connection slot, dot-segments towards the partner, credentials the
//! debug endpoints ignored, hop-by-hop headers, TRACE, 100-continue, a half-sent request
//! to the admin listener, and the store going away.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use keyway_server::{GatewayOptions, PasswordLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::*;

fn basic(user: &str, password: &str) -> String {
    use base64ct::Encoding;
    format!(
        "Authorization: Basic {}\n",
        base64ct::Base64::encode_string(format!("{user}:{password}").as_bytes())
    )
}

/// The value of one metric line (`name{labels}`), 0 when absent.
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

async fn metrics(s: &Setup) -> String {
    admin_get(s.gateway.admin_address.unwrap(), "/metrics").await
}

#[tokio::test]
async fn metric_labels_name_only_integrations_that_exist() {
    let s = setup().await;
    let at = s.gateway.address;
    let stranger = client_cert("stranger", Some(&s.partner_ca), (-1, 30));
    for i in 0..40 {
        // Unknown integrations, as a registered user and as a certificate nobody owns.
        let path = format!("/integrations/made-up-{i}/x");
        let (status, _) = call(at, &s.ca_root, Some(&s.alice), &get(&path, ""))
            .await
            .unwrap();
        assert_eq!(status, 404);
        let path = format!("/integrations/{}{i}/x", "z".repeat(200));
        let (status, _) = call(at, &s.ca_root, Some(&stranger), &get(&path, ""))
            .await
            .unwrap();
        assert_eq!(status, 403);
    }
    let (status, _) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get("/integrations/orders/ping", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let text = metrics(&s).await;
    let labels: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("keyway_requests_total{"))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert_eq!(
        labels,
        ["(unknown)", "orders"].into_iter().collect(),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "keyway_requests_total{integration=\"(unknown)\",status=\"404\"}"
        ),
        40
    );
    assert!(!text.contains("made-up"), "{text}");
    // The audit log names the unknown ones shortened, not as sent.
    let audit = s
        .store
        .audit_log(&admin_ctx(), &keyway_store::AuditQuery::default())
        .await
        .unwrap();
    let longest = audit
        .iter()
        .map(|e| e.object.len() + e.detail.len())
        .max()
        .unwrap();
    assert!(longest < 400, "an audit entry of {longest} bytes");
    // And each certificate's repeated refusals count up on one row.
    let unknown: Vec<(&str, i64)> = audit
        .iter()
        .filter(|e| e.object == "integration (unknown)")
        .map(|e| (e.actor.as_str(), e.count))
        .collect();
    assert_eq!(unknown, [("alice", 40), ("(unknown)", 40)], "{audit:?}");
}

#[tokio::test]
async fn wrong_passwords_lock_out_and_a_right_one_is_checked_once_per_minute() {
    let s = setup().await;
    let at = s.gateway.address;
    let request = |password: &str| get("/integrations/orders/ping", &basic("alice", password));
    for _ in 0..3 {
        let (status, _) = call(at, &s.ca_root, Some(&s.alice), &request("guess"))
            .await
            .unwrap();
        assert_eq!(status, 401);
    }
    // Locked out now, even with the right password, and without hashing it.
    let (status, answer) = call(at, &s.ca_root, Some(&s.alice), &request("alice-password-1"))
        .await
        .unwrap();
    assert_eq!(status, 429, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: "),
        "{answer}"
    );
    let text = metrics(&s).await;
    assert_eq!(
        metric(&text, "keyway_password_checks_total{outcome=\"wrong\"}"),
        3
    );
    assert_eq!(
        metric(
            &text,
            "keyway_password_checks_total{outcome=\"locked_out\"}"
        ),
        1
    );
    // The lockout after three is one second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, answer) = call(at, &s.ca_root, Some(&s.alice), &request("alice-password-1"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    // A keep-alive partner sending its password with every request pays argon2 once.
    let mut tls = connect(at, &s.ca_root, Some(&s.alice)).await.unwrap();
    for _ in 0..5 {
        let keep = "GET /integrations/orders/ping HTTP/1.1\r\nHost: localhost\r\n".to_string()
            + &basic("alice", "alice-password-1").replace('\n', "\r\n")
            + "\r\n";
        tls.write_all(keep.as_bytes()).await.unwrap();
        let (status, _) = read_one(&mut tls).await;
        assert_eq!(status, 200);
    }
    let text = metrics(&s).await;
    assert_eq!(
        metric(&text, "keyway_password_checks_total{outcome=\"verified\"}"),
        1,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "keyway_password_checks_total{outcome=\"remembered\"}"
        ) >= 5
    );
    // The refusals are in the audit log.
    let audit = s
        .store
        .audit_log(&admin_ctx(), &keyway_store::AuditQuery::default())
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.detail.contains("429") && e.detail.contains("locked out")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_flood_of_password_checks_is_answered_503_beyond_the_queue() {
    let s = setup_with(
        None,
        GatewayOptions {
            password_checks: PasswordLimits {
                concurrent: 1,
                queued: 1,
            },
            ..options()
        },
    )
    .await;
    let at = s.gateway.address;
    // Twelve connections ready, then twelve wrong passwords at once.
    let mut connections = Vec::new();
    for _ in 0..12 {
        connections.push(connect(at, &s.ca_root, Some(&s.alice)).await.unwrap());
    }
    let request = get("/integrations/orders/ping", &basic("alice", "flood")).replace('\n', "\r\n");
    for tls in &mut connections {
        tls.write_all(request.as_bytes()).await.unwrap();
    }
    let mut statuses = Vec::new();
    for tls in connections {
        statuses.push(read_answer(tls).await.unwrap().0);
    }
    let busy = statuses.iter().filter(|s| **s == 503).count();
    assert!(busy >= 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    let text = metrics(&s).await;
    let hashed = metric(&text, "keyway_password_checks_total{outcome=\"wrong\"}");
    assert!(hashed <= 12 - busy as u64, "{text}");
}

/// Whether the server has closed `tls` (EOF or an error within `within`).
async fn closed(
    tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    within: Duration,
) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, tls.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// A kept-alive connection that has answered one `/whoami` and gone idle.
async fn idle_connection(
    at: SocketAddr,
    s: &Setup,
    identity: &Identity,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut tls = connect(at, &s.ca_root, Some(identity)).await.unwrap();
    tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_one(&mut tls).await;
    assert!(status == 200 || status == 403, "{status}");
    // Parked once idle for 10 ms.
    tokio::time::sleep(Duration::from_millis(50)).await;
    tls
}

#[tokio::test]
async fn one_client_cannot_hold_every_connection() {
    let s = setup_with(
        None,
        GatewayOptions {
            max_connections: 4,
            max_connections_per_client: 3,
            // Every test client comes from 127.0.0.1.
            max_connections_per_address: 0,
            max_handshakes: 4,
            ..options()
        },
    )
    .await;
    let at = s.gateway.address;
    // alice opens five idle connections: over her share of three, her oldest make room.
    let mut alice = Vec::new();
    for _ in 0..5 {
        alice.push(idle_connection(at, &s, &s.alice).await);
    }
    assert!(closed(&mut alice[0], Duration::from_secs(2)).await);
    assert!(closed(&mut alice[1], Duration::from_secs(2)).await);
    assert!(!closed(&mut alice[4], Duration::from_millis(200)).await);
    // bob takes the fourth slot; then a stranger (unregistered, still served a 403)
    // finds all four taken and the oldest idle one, alice's, makes room.
    let mut bob = idle_connection(at, &s, &s.bob).await;
    let stranger = client_cert("stranger", Some(&s.partner_ca), (-1, 30));
    let (status, _) = call(at, &s.ca_root, Some(&stranger), &get("/whoami", ""))
        .await
        .unwrap();
    assert_eq!(status, 403);
    assert!(closed(&mut alice[2], Duration::from_secs(2)).await);
    assert!(!closed(&mut bob, Duration::from_millis(200)).await);
    let text = metrics(&s).await;
    assert_eq!(
        metric(
            &text,
            "keyway_connections_closed_total{reason=\"client_share\"}"
        ),
        2,
        "{text}"
    );
    assert_eq!(
        metric(&text, "keyway_connections_closed_total{reason=\"full\"}"),
        1,
        "{text}"
    );
}

#[tokio::test]
async fn bare_tcp_connections_cannot_keep_partners_out_until_their_timeout() {
    let s = setup_with(
        None,
        GatewayOptions {
            max_handshakes: 4,
            handshake_timeout: Duration::from_secs(30),
            ..options()
        },
    )
    .await;
    let at = s.gateway.address;
    // Ten connections that never send a ClientHello.
    let mut bare = Vec::new();
    for _ in 0..10 {
        bare.push(tokio::net::TcpStream::connect(at).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = metrics(&s).await;
    assert!(
        metric(&text, "keyway_connections{state=\"handshake\"}") <= 4,
        "{text}"
    );
    // A partner is served at once, not after the 30 s handshake timeout.
    let started = Instant::now();
    let (status, _) = call(at, &s.ca_root, Some(&s.alice), &get("/whoami", ""))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = metrics(&s).await;
    assert!(
        metric(
            &text,
            "keyway_connections_closed_total{reason=\"handshake_budget\"}"
        ) >= 6,
        "{text}"
    );
    // The oldest bare ones were closed.
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), bare[0].read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}

#[tokio::test]
async fn dot_segments_never_reach_the_partner() {
    let s = setup().await;
    let at = s.gateway.address;
    let seen = || {
        s.upstream
            .counters
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let before = seen();
    for path in [
        "/integrations/orders/../../../etc/passwd",
        "/integrations/orders/%2e%2e/%2e%2e/etc/passwd",
        "/integrations/orders/%2E%2E/secret",
        "/integrations/orders/..%2f..%2fetc%2fpasswd",
        "/integrations/orders/..%5c..%5cwin.ini",
        "/integrations/orders/.%2e/x",
        "/integrations/orders/..;/x",
        "/integrations/orders/a/../../x",
        "/integrations/orders/%00/x",
    ] {
        let (status, answer) = call(at, &s.ca_root, Some(&s.alice), &get(path, ""))
            .await
            .unwrap();
        assert_eq!(status, 400, "{path}: {answer}");
    }
    assert_eq!(seen(), before, "a refused path reached the partner");
    // Inside the base path, dot-segments are resolved before the partner sees them.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        &get("/integrations/orders/a/./b/../c?q=1", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"path\":\"/api/a/c\""), "{answer}");
}

#[tokio::test]
async fn credentials_are_checked_on_every_endpoint_and_malformed_ones_refused() {
    let s = setup().await;
    let at = s.gateway.address;
    for path in ["/whoami", "/echo/x", "/integrations/orders/ping"] {
        let (status, _) = call(
            at,
            &s.ca_root,
            Some(&s.alice),
            &get(path, &basic("alice", "wrong")),
        )
        .await
        .unwrap();
        assert_eq!(status, 401, "{path}");
        let (status, _) = call(
            at,
            &s.ca_root,
            Some(&s.alice),
            &get(path, &basic("alice", "alice-password-1")),
        )
        .await
        .unwrap();
        assert!(status == 200 || status == 429, "{path}: {status}");
        for malformed in [
            "Authorization: Basic not-base64!!\n",
            "Authorization: Bearer abc.def\n",
            "Authorization: Basic\n",
            "Authorization: Basic YWxpY2U=\n",
        ] {
            let (status, _) = call(at, &s.ca_root, Some(&s.alice), &get(path, malformed))
                .await
                .unwrap();
            assert_eq!(status, 400, "{path}: {malformed}");
        }
    }
}

#[tokio::test]
async fn hop_by_hop_headers_trace_and_oversized_echo_bodies() {
    let s = setup().await;
    let at = s.gateway.address;
    // Headers the Connection header names stop here.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        "GET /integrations/orders/echo HTTP/1.1\nHost: localhost\nConnection: close, X-Hop-Secret\nX-Hop-Secret: 1\nX-Passed: 2\n\n",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        !lower.contains("x-hop-secret") && lower.contains("x-passed"),
        "{answer}"
    );
    // TRACE is refused, not forwarded.
    let before = s
        .upstream
        .counters
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    let (status, _) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        "TRACE /integrations/orders/x HTTP/1.1\nHost: localhost\nConnection: close\n\n",
    )
    .await
    .unwrap();
    assert_eq!(status, 405);
    assert_eq!(
        s.upstream
            .counters
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        before
    );
    // An oversized body announced with Expect: 100-continue gets 413, never a 100.
    let (status, answer) = call(
        at,
        &s.ca_root,
        Some(&s.alice),
        "POST /echo/x HTTP/1.1\nHost: localhost\nConnection: close\nContent-Length: 1000000\nExpect: 100-continue\n\n",
    )
    .await
    .unwrap();
    assert_eq!(status, 413, "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    // More than 100 headers: 431.
    let many: String = (0..101).map(|i| format!("X-H{i}: v\n")).collect();
    let (status, _) = call(at, &s.ca_root, Some(&s.alice), &get("/whoami", &many))
        .await
        .unwrap();
    assert_eq!(status, 431);
}

#[tokio::test]
async fn the_admin_listener_closes_a_half_sent_request() {
    let s = setup_with(
        None,
        GatewayOptions {
            header_timeout: Duration::from_secs(1),
            ..options()
        },
    )
    .await;
    let mut tcp = tokio::net::TcpStream::connect(s.gateway.admin_address.unwrap())
        .await
        .unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "still open after 10 s");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A TCP relay in front of PostgreSQL that can play a network partition: `cut` stops
/// every byte both ways (open connections and new ones hang, nothing is refused), and
/// `restore` heals it: what was held is delivered, as TCP retransmits it.
struct Relay {
    address: SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (cut, watching) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mut open = watching.clone();
                tokio::spawn(async move {
                    let _ = open.wait_for(|cut| !*cut).await.is_ok();
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (from_client, to_client) = inbound.into_split();
                    let (from_server, to_server) = outbound.into_split();
                    tokio::join!(
                        pump(from_client, to_server, open.clone()),
                        pump(from_server, to_client, open)
                    );
                });
            }
        });
        Relay { address, cut }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// Copies `from` to `to`, holding each chunk while the relay is cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut open: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if open.wait_for(|cut| !*cut).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn at_admin(s: &Setup) -> SocketAddr {
    s.gateway.admin_address.unwrap()
}

async fn readyz(s: &Setup) -> String {
    admin_get(s.gateway.admin_address.unwrap(), "/readyz").await
}

/// Polls `/readyz` until its answer starts with `want`; how long that took.
async fn ready_turns(s: &Setup, want: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if readyz(s).await.starts_with(want) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_store_and_requests_are_served_meanwhile() {
    let url = keyway_testkit::postgres_database();
    // postgres://user@HOST:PORT/DB → the same through the relay.
    let (head, database) = url.rsplit_once('/').unwrap();
    let (user, server) = head.rsplit_once('@').unwrap();
    let relay = Relay::start(server.parse().unwrap()).await;
    let through = format!("{user}@{}/{database}", relay.address);
    let s = setup_with(Some(through), options()).await;
    let at = s.gateway.address;
    let ping = get("/integrations/orders/ping", "");
    let (status, _) = call(at, &s.ca_root, Some(&s.alice), &ping).await.unwrap();
    assert_eq!(status, 200);
    assert!(readyz(&s).await.starts_with("HTTP/1.1 200"));

    relay.cut();
    let took = ready_turns(&s, "HTTP/1.1 503", Duration::from_secs(5))
        .await
        .expect("still ready 5 s after the store went away");
    assert!(
        took < Duration::from_millis(1500),
        "not ready after {took:?}"
    );
    assert!(readyz(&s).await.contains("not ready: the store"));
    // Served from what the gateway knows, and audited later.
    let during = get("/integrations/orders/during-outage", "");
    let (status, _) = call(at, &s.ca_root, Some(&s.alice), &during).await.unwrap();
    assert_eq!(status, 200);
    // Its audit record waits in memory, counted; nothing is dropped.
    let figure = |metrics: &str, name: &str| -> Option<u64> {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    };
    let started = Instant::now();
    let mut queued = 0;
    while queued == 0 && started.elapsed() < Duration::from_secs(5) {
        let metrics = admin_get(at_admin(&s), "/metrics").await;
        queued = figure(&metrics, "keyway_audit_records_queued").unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(queued >= 1, "the waiting record is not counted");

    relay.restore();
    ready_turns(&s, "HTTP/1.1 200", Duration::from_secs(5))
        .await
        .expect("ready again within 5 s of the store's return");
    let started = Instant::now();
    let mut audited = false;
    while !audited && started.elapsed() < Duration::from_secs(20) {
        let read = tokio::time::timeout(
            Duration::from_secs(2),
            s.store
                .audit_log(&admin_ctx(), &keyway_store::AuditQuery::default()),
        )
        .await;
        audited = read
            .ok()
            .and_then(Result::ok)
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.action == "gateway.invoke" && e.actor == "alice")
                    .count()
                    == 2
            })
            .unwrap_or(false);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(audited, "not audited after {:?}", started.elapsed());
    let metrics = admin_get(at_admin(&s), "/metrics").await;
    assert_eq!(
        figure(&metrics, "keyway_audit_records_queued"),
        Some(0),
        "{metrics}"
    );
    assert_eq!(
        figure(&metrics, "keyway_audit_records_dropped_total"),
        Some(0),
        "{metrics}"
    );
    eprintln!(
        "audit caught up {:?} after the store returned",
        started.elapsed()
    );
}
