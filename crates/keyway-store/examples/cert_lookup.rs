//! Benchmark behind `bench/store-lookup.sh` (issue 6): what the gateway pays per client
//! handshake to find the certificate's user, on SQLite and on PostgreSQL with 100 000
//! stored certificates, next to what the handshake itself costs; and certificates issued
//! by keyway's CA and stored, per second. Prints the durability setting in force.
//!
//! `cargo run --release -p keyway-store --example cert_lookup -- [STORED] [LOOKUPS] [ISSUES]`
//!
//! The stored certificates are `ISSUES` real ones issued through the store, plus bulk
//! rows written straight into the table (random fingerprints, a real certificate's PEM)
//! to bring the table to `STORED` rows; lookups alternate between both kinds. PostgreSQL
//! is a throwaway server keyway-testkit starts (or `KEYWAY_TEST_POSTGRES_URL`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_pki::{CaInit, KeyType};
use keyway_store::{Context, Location, NewUser, Store};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const CONCURRENCY: usize = 8;

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .map(|a| a.parse().expect("a number"))
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let stored = arg(1, 100_000);
    let lookups = arg(2, 20_000);
    let issues = arg(3, 300);
    let handshake = mutual_tls_handshake(300);
    println!(
        "one full mutual-TLS 1.3 handshake (ECDSA P-256, client and server in one thread): {:.1} us",
        micros(handshake)
    );
    for postgres in [false, true] {
        run(postgres, stored, lookups, issues, handshake).await;
    }
}

async fn run(postgres: bool, stored: usize, lookups: usize, issues: usize, handshake: Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut location = Location::data_dir(dir.path().join("data"));
    if postgres {
        location.database_url = Some(keyway_testkit::postgres_database());
    }
    let store = Arc::new(Store::open(&location, Some(KEY)).await.expect("open"));
    let admin = Context::local_admin();
    store
        .add_user(&admin, NewUser::new("bench"))
        .await
        .expect("user");

    // Issuance through keyway's CA in the store: unseal the CA key, sign, and store the
    // certificate, its sealed key and the CA's record in one transaction, each time.
    let init = CaInit {
        subject: keyway_pki::parse_subject("CN=bench CA").expect("subject"),
        key_type: KeyType::EcP256,
        with_intermediate: false,
    };
    store.create_ca(&admin, &init).await.expect("CA");
    let mut real = Vec::with_capacity(issues);
    let started = Instant::now();
    for i in 0..issues {
        let subject = keyway_pki::parse_subject(&format!("CN=bench-{i}")).expect("subject");
        let (cert, _) = store
            .issue_certificate(&admin, "bench", subject, KeyType::EcP256, 30)
            .await
            .expect("issue");
        real.push(cert.sha256);
    }
    let issue_rate = issues as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let bulk = fill(&location, stored.saturating_sub(issues)).await;
    let filled = started.elapsed();

    // Lookups: alternately a real certificate and a bulk row, all present.
    let keys: Arc<Vec<String>> = Arc::new(
        (0..lookups)
            .map(|i| match i % 2 {
                0 => real[i / 2 % real.len()].clone(),
                _ => bulk[i * 7919 % bulk.len()].clone(),
            })
            .collect(),
    );
    let started = Instant::now();
    for key in keys.iter() {
        let found = store.find_certificate(key).await.expect("lookup");
        assert!(found.is_some_and(|o| o.user == "bench"));
    }
    let sequential = started.elapsed() / lookups as u32;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (store, keys) = (store.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            for key in keys.iter().skip(t).step_by(CONCURRENCY) {
                let found = store.find_certificate(key).await.expect("lookup");
                assert!(found.is_some());
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let parallel_rate = lookups as f64 / started.elapsed().as_secs_f64();

    println!(
        "\n{} ({}), {} certificates stored ({} issued, the rest written in bulk in {:.1} s)",
        if postgres { "PostgreSQL" } else { "SQLite" },
        store.durability(),
        issues + bulk.len(),
        issues,
        filled.as_secs_f64()
    );
    println!(
        "  lookup by fingerprint, one at a time: {:>8.1} us  = {:.2}x a handshake ({:.1} us)",
        micros(sequential),
        micros(sequential) / micros(handshake),
        micros(handshake)
    );
    println!(
        "  lookups/s with {CONCURRENCY} tasks:              {:>8.0}",
        parallel_rate
    );
    println!(
        "  issued by keyway's CA and stored:     {:>8.0} /s",
        issue_rate
    );
    store.close().await;
}

/// Writes `count` rows straight into the table (random fingerprints, the PEM of a real
/// certificate) and returns their fingerprints.
async fn fill(location: &Location, count: usize) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let url = match &location.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", location.data_dir.join("keyway.db").display()),
    };
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("raw pool");
    let (user_id, pem): (i64, String) =
        sqlx::query_as("SELECT user_id, certificate FROM client_certificates LIMIT 1")
            .fetch_one(&pool)
            .await
            .expect("a real row");
    let mut fingerprints = Vec::with_capacity(count);
    let mut tx = pool.begin().await.expect("transaction");
    for _ in 0..count {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("random");
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        sqlx::query(
            "INSERT INTO client_certificates (user_id, sha256, origin, subject, issuer, serial, not_before,
                 not_after, key_type, certificate, chain, sealed_key, created_at, version)
             VALUES ($1, $2, 'uploaded', 'CN=bulk', 'CN=bench CA', '01', 0, 4102444800, 'EC P-256', $3, '', NULL, 0, 1)",
        )
        .bind(user_id)
        .bind(&hex)
        .bind(&pem)
        .execute(&mut *tx)
        .await
        .expect("bulk insert");
        fingerprints.push(hex);
    }
    tx.commit().await.expect("commit");
    pool.close().await;
    fingerprints
}

/// The mean time of a full TLS 1.3 handshake with client authentication, both ends in
/// this thread over memory (no sockets, no resumption).
fn mutual_tls_handshake(rounds: u32) -> Duration {
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
    let server = keyway_testkit::TestChain::new("gateway", keyway_testkit::KeyKind::EcP256);
    let client = keyway_testkit::TestChain::new("partner", keyway_testkit::KeyKind::EcP256);
    let chain = |c: &keyway_testkit::TestChain| -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(format!("{}{}", c.leaf_pem, c.intermediate_pem).as_bytes())
            .collect::<Result<_, _>>()
            .expect("chain")
    };
    let key = |c: &keyway_testkit::TestChain| {
        PrivateKeyDer::from_pem_slice(c.leaf_key_pem.as_bytes()).expect("key")
    };
    let roots = |c: &keyway_testkit::TestChain| {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(c.root_der.clone()))
            .expect("root");
        Arc::new(roots)
    };
    let verifier = rustls::server::WebPkiClientVerifier::builder(roots(&client))
        .build()
        .expect("client verifier");
    let server_config = Arc::new(
        ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain(&server), key(&server))
            .expect("server config"),
    );
    let mut client_config = ClientConfig::builder()
        .with_root_certificates(roots(&server))
        .with_client_auth_cert(chain(&client), key(&client))
        .expect("client config");
    client_config.resumption = rustls::client::Resumption::disabled();
    let client_config = Arc::new(client_config);

    let started = Instant::now();
    for _ in 0..rounds {
        let name = "gateway.test".try_into().expect("name");
        let mut c = rustls::Connection::from(
            ClientConnection::new(client_config.clone(), name).expect("client"),
        );
        let mut s =
            rustls::Connection::from(ServerConnection::new(server_config.clone()).expect("server"));
        while c.is_handshaking() || s.is_handshaking() {
            pump(&mut c, &mut s);
            pump(&mut s, &mut c);
        }
    }
    started.elapsed() / rounds
}

/// Moves what `from` has to send into `to`, and lets `to` process it.
fn pump(from: &mut rustls::Connection, to: &mut rustls::Connection) {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).expect("write_tls");
    }
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read_tls");
        to.process_new_packets().expect("handshake");
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
