//! The admin API under a fixed request rate, on a large store: requests/s and latency
//! (p50, p99, max) of `GET /api/v1/users?limit=100` and of
//! `GET /api/v1/users/{name}/certificates`, with N users and N client certificates.
//!
//! `cargo run --release -p keyway-admin --example api_load -- [sqlite|postgres] [USERS] [RATE] [SECONDS]`
//! (default sqlite 100000 200 10). The server is the API's router over a real socket on
//! 127.0.0.1; the load comes from this process over keep-alive connections, one request
//! every 1/RATE s whatever the answers' pace (latency counts from when a request was
//! due, so a slow answer delays no measurement). The PostgreSQL run starts a throwaway
//! server (keyway-testkit). `bench/admin-api.sh` runs both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_store::{Context, Location, NewUser, Permission, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "5f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = args
        .first()
        .map(String::as_str)
        .unwrap_or("sqlite")
        .to_string();
    let users: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rate: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let seconds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);

    let dir = tempfile::tempdir().expect("temporary directory");
    let mut location = Location::data_dir(dir.path().join("data"));
    if backend == "postgres" {
        location.database_url = Some(keyway_testkit::postgres_database());
    }
    let store = Arc::new(Store::open(&location, Some(KEY)).await.expect("store"));
    let started = Instant::now();
    seed(&store, &location, users).await;
    eprintln!(
        "{backend}: {users} users and {users} certificates stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let token = store
        .create_token(&Context::local_admin(), "bench-admin", "load", None)
        .await
        .expect("token")
        .secret;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = keyway_admin::app(keyway_admin::AdminState::new(store.clone(), false));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let middle = format!("u{}", 1_000_000 + users / 2);
    for (label, path) in [
        (
            "GET /api/v1/users?limit=100",
            format!("/api/v1/users?limit=100&after={middle}"),
        ),
        (
            "GET /api/v1/users/{name}/certificates",
            format!("/api/v1/users/{middle}/certificates"),
        ),
    ] {
        let figures = load(address, &path, &token, rate, seconds).await;
        println!(
            "{backend:8} {label:40} {:6.1} req/s  p50 {:6.2} ms  p99 {:6.2} ms  max {:7.2} ms  errors {}",
            figures.rate, figures.p50, figures.p99, figures.max, figures.errors
        );
    }
}

/// `users` users, each with one client certificate: one made through the store (a real
/// certificate from keyway's CA), the rest copied from it in bulk with SQL.
async fn seed(store: &Store, location: &Location, users: i64) {
    let admin = Context::local_admin();
    store
        .add_user(
            &admin,
            NewUser::new("bench-admin").permission(Permission::UserManagement),
        )
        .await
        .expect("admin user");
    let init = keyway_pki::CaInit {
        subject: keyway_pki::parse_subject("CN=bench CA").expect("subject"),
        key_type: keyway_pki::KeyType::EcP256,
        with_intermediate: false,
    };
    store.create_ca(&admin, &init).await.expect("CA");
    store
        .add_user(&admin, NewUser::new("u0"))
        .await
        .expect("first user");
    let subject = keyway_pki::parse_subject("CN=u0").expect("subject");
    store
        .issue_certificate(&admin, "u0", subject, keyway_pki::KeyType::EcP256, 365)
        .await
        .expect("first certificate");
    sqlx::any::install_default_drivers();
    let url = match &location.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", location.data_dir.join("keyway.db").display()),
    };
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("raw connection");
    // Recursive CTEs: the same SQL on SQLite and PostgreSQL.
    sqlx::query(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $1)
         INSERT INTO users (name, display_name, password_hash, enabled, created_at, updated_at, version)
         SELECT 'u' || (1000000 + n), 'User ' || n, NULL, 1, 0, 0, 1 FROM seq",
    )
    .bind(users - 1)
    .execute(&pool)
    .await
    .expect("users");
    sqlx::query(
        "INSERT INTO client_certificates (user_id, sha256, origin, subject, issuer, serial, not_before,
            not_after, key_type, certificate, chain, sealed_key, created_at, version)
         SELECT u.id, c.sha256 || '-' || u.id, c.origin, 'CN=' || u.name, c.issuer, c.serial, c.not_before,
            c.not_after, c.key_type, c.certificate, c.chain, c.sealed_key, c.created_at, 1
         FROM users u CROSS JOIN (SELECT * FROM client_certificates LIMIT 1) c
         WHERE u.name LIKE 'u1%'",
    )
    .execute(&pool)
    .await
    .expect("certificates");
    sqlx::query("ANALYZE")
        .execute(&pool)
        .await
        .expect("analyze");
    pool.close().await;
}

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
    max: f64,
    errors: usize,
}

/// One request every 1/`rate` s for `seconds` s, each on a free keep-alive connection
/// (a new one when all are busy); latency from the moment it was due.
async fn load(
    address: std::net::SocketAddr,
    path: &str,
    token: &str,
    rate: u64,
    seconds: u64,
) -> Figures {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n");
    let (idle_tx, idle_rx) = tokio::sync::mpsc::unbounded_channel::<TcpStream>();
    let idle = Arc::new(tokio::sync::Mutex::new(idle_rx));
    let every = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let total = rate * seconds;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..total {
        let due = start + every * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (request, idle, idle_tx) = (request.clone(), idle.clone(), idle_tx.clone());
        tasks.push(tokio::spawn(async move {
            let reused = idle.lock().await.try_recv().ok();
            let mut stream = match reused {
                Some(s) => s,
                None => TcpStream::connect(address).await.ok()?,
            };
            stream.write_all(request.as_bytes()).await.ok()?;
            let ok = read_response(&mut stream).await?;
            let took = due.elapsed();
            let _ = idle_tx.send(stream);
            Some((took, ok))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        match task.await.ok().flatten() {
            Some((took, true)) => latencies.push(took.as_secs_f64() * 1000.0),
            _ => errors += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Figures {
        rate: latencies.len() as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or(f64::NAN),
        errors,
    }
}

/// Reads one response (Content-Length framed); whether it was a 200.
async fn read_response(stream: &mut TcpStream) -> Option<bool> {
    let mut buffer = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Some(head.starts_with("http/1.1 200"));
        }
    }
}
