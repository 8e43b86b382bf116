//! Load generator behind `bench/gateway-vs-nginx.sh`: HTTP/1.1 over mutual TLS with a
//! client certificate, against keyway's gateway or anything else that wants one (nginx).
//! Prints one JSON line per run.
//!
//! ```text
//! mtls_load ADDR CA.pem CLIENT.pem CLIENT.key PATH keepalive SECONDS CONNECTIONS
//! mtls_load ADDR CA.pem CLIENT.pem CLIENT.key PATH handshakes SECONDS CONCURRENCY
//! mtls_load ADDR CA.pem CLIENT.pem CLIENT.key PATH rate SECONDS PER_SECOND CONNECTIONS
//! mtls_load ADDR CA.pem CLIENT.pem CLIENT.key PATH idle CONNECTIONS SERVER_PID
//! mtls_load ADDR CA.pem CLIENT.pem CLIENT.key PATH mixed SECONDS PER_SECOND CONNECTIONS REUSE
//! mtls_load ADDR CA.pem CLIENT.pem CLIENT.key PATH probe SECONDS INTERVAL_MS
//! ```
//! - keepalive: requests per second over CONNECTIONS kept-alive connections;
//! - handshakes: a new connection (full handshake, no resumption) per request;
//! - rate: PER_SECOND requests spread over CONNECTIONS, latency p50/p99 measured from
//!   when each request was due (no coordinated omission);
//! - idle: CONNECTIONS connections each made one request and stay open; the server's
//!   resident memory (VmRSS of SERVER_PID) before and after, per connection;
//! - mixed: as rate, but each connection is replaced by a new one (a full handshake)
//!   after REUSE requests: keep-alive and new connections mixed; failures counted with
//!   the first few errors (for the rotation benchmark);
//! - probe: a new connection and one request every INTERVAL_MS; the Unix time (ms) of
//!   the last success and of the first refusal after it (a certificate being revoked).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

type Sender = http1::SendRequest<Empty<Bytes>>;

struct Target {
    address: String,
    path: String,
    tls: tokio_rustls::TlsConnector,
}

impl Target {
    async fn connect(&self) -> Result<Sender, String> {
        let tcp = tokio::net::TcpStream::connect(&self.address)
            .await
            .map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let tls = self
            .tls
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (sender, connection) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn request(&self, sender: &mut Sender) -> Result<(), String> {
        let request = http::Request::get(self.path.as_str())
            .header("host", "localhost")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("status {status}"));
        }
        Ok(())
    }
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map(String::as_str).unwrap_or_else(|| {
        eprintln!("usage: see the header of examples/mtls_load.rs");
        std::process::exit(2)
    })
}

fn number(args: &[String], i: usize) -> u64 {
    arg(args, i).parse().expect("a number")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(arg(&args, 2)).expect("CA file") {
        roots.add(cert.expect("CA certificate")).expect("CA");
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(arg(&args, 3))
        .expect("client certificate file")
        .map(|c| c.expect("certificate"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(arg(&args, 4)).expect("client key");
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client identity");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Every handshake a full one: what "new mTLS handshakes per second" means.
    config.resumption = rustls::client::Resumption::disabled();
    let target = Arc::new(Target {
        address: arg(&args, 1).to_string(),
        path: arg(&args, 5).to_string(),
        tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
    });
    let mode = arg(&args, 6).to_string();
    match mode.as_str() {
        "keepalive" => keepalive(target, number(&args, 7), number(&args, 8)).await,
        "handshakes" => handshakes(target, number(&args, 7), number(&args, 8)).await,
        "rate" => rate(target, number(&args, 7), number(&args, 8), number(&args, 9)).await,
        "idle" => idle(target, number(&args, 7), arg(&args, 8)).await,
        "mixed" => {
            mixed(
                target,
                number(&args, 7),
                number(&args, 8),
                number(&args, 9),
                number(&args, 10),
            )
            .await
        }
        "probe" => probe(target, number(&args, 7), number(&args, 8)).await,
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2)
        }
    }
}

async fn keepalive(target: Arc<Target>, seconds: u64, connections: u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (target, done, failed) = (target.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(mut sender) = target.connect().await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            while Instant::now() < until {
                match target.request(&mut sender).await {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let took = started.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "{{\"mode\":\"keepalive\",\"requests\":{done},\"failed\":{},\"seconds\":{took:.2},\"per_second\":{:.0}}}",
        failed.load(Ordering::Relaxed),
        done as f64 / took
    );
}

async fn handshakes(target: Arc<Target>, seconds: u64, concurrency: u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (target, done, failed) = (target.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let result = async {
                    let mut sender = target.connect().await?;
                    target.request(&mut sender).await
                }
                .await;
                match result {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let took = started.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "{{\"mode\":\"handshakes\",\"handshakes\":{done},\"failed\":{},\"seconds\":{took:.2},\"per_second\":{:.0}}}",
        failed.load(Ordering::Relaxed),
        done as f64 / took
    );
}

async fn rate(target: Arc<Target>, seconds: u64, per_second: u64, connections: u64) {
    let interval = Duration::from_secs_f64(connections as f64 / per_second as f64);
    let per_connection = seconds * per_second / connections;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            let Ok(mut sender) = target.connect().await else {
                return (latencies, per_connection);
            };
            // Spread the connections' schedules over one interval.
            let first = Instant::now() + interval.mul_f64(c as f64 / connections as f64);
            for i in 0..per_connection {
                let due = first + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                match target.request(&mut sender).await {
                    Ok(()) => latencies.push(due.elapsed()),
                    Err(_) => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for task in tasks {
        if let Ok((latencies, f)) = task.await {
            all.extend(latencies);
            failed += f;
        }
    }
    all.sort();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "{{\"mode\":\"rate\",\"per_second\":{per_second},\"requests\":{},\"failed\":{failed},\"seconds\":{:.2},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
        all.len(),
        started.elapsed().as_secs_f64(),
        pick(0.50),
        pick(0.99)
    );
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn idle(target: Arc<Target>, connections: u64, pid: &str) {
    // Warm: one connection and request first, so lazily made state is counted as base.
    let mut warm = target.connect().await.expect("a first connection");
    target.request(&mut warm).await.expect("a first request");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let mut held = Vec::new();
    for _ in 0..connections {
        let mut sender = target.connect().await.expect("connect");
        target.request(&mut sender).await.expect("request");
        held.push(sender);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    println!(
        "{{\"mode\":\"idle\",\"connections\":{connections},\"rss_before_kib\":{before},\"rss_after_kib\":{after},\"kib_per_connection\":{:.2}}}",
        (after.saturating_sub(before)) as f64 / connections as f64
    );
    drop(held);
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

async fn mixed(target: Arc<Target>, seconds: u64, per_second: u64, connections: u64, reuse: u64) {
    let interval = Duration::from_secs_f64(connections as f64 / per_second as f64);
    let per_connection = seconds * per_second / connections;
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (target, errors) = (target.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let (mut done, mut failed, mut handshakes) = (0u64, 0u64, 0u64);
            let mut latencies = Vec::new();
            let mut sender: Option<Sender> = None;
            let first = Instant::now() + interval.mul_f64(c as f64 / connections as f64);
            for i in 0..per_connection {
                let due = first + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                if i % reuse == 0 {
                    sender = None;
                }
                let result = async {
                    if sender.is_none() {
                        sender = Some(target.connect().await?);
                        handshakes += 1;
                    }
                    let s = sender.as_mut().ok_or("no connection")?;
                    target.request(s).await
                }
                .await;
                match result {
                    Ok(()) => {
                        done += 1;
                        latencies.push(due.elapsed());
                    }
                    Err(e) => {
                        failed += 1;
                        sender = None;
                        let mut errors = errors.lock().unwrap_or_else(|e| e.into_inner());
                        if errors.len() < 5 {
                            errors.push(format!("{} ms: {e}", unix_ms()));
                        }
                    }
                }
            }
            (done, failed, handshakes, latencies)
        }));
    }
    let (mut done, mut failed, mut handshakes) = (0, 0, 0);
    let mut all = Vec::new();
    for task in tasks {
        if let Ok((d, f, h, l)) = task.await {
            done += d;
            failed += f;
            handshakes += h;
            all.extend(l);
        }
    }
    all.sort();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    let errors = errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
    println!(
        "{{\"mode\":\"mixed\",\"per_second\":{per_second},\"requests\":{done},\"failed\":{failed},\"new_connections\":{handshakes},\"seconds\":{:.2},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"errors\":{}}}",
        started.elapsed().as_secs_f64(),
        pick(0.50),
        pick(0.99),
        serde_json::to_string(&errors).unwrap_or_default()
    );
}

async fn probe(target: Arc<Target>, seconds: u64, interval_ms: u64) {
    let until = Instant::now() + Duration::from_secs(seconds);
    let (mut ok, mut refused) = (0u64, 0u64);
    let (mut last_ok, mut first_refused) = (None, None);
    while Instant::now() < until {
        let result = async {
            let mut sender = target.connect().await?;
            target.request(&mut sender).await
        }
        .await;
        match result {
            Ok(()) => {
                ok += 1;
                last_ok = Some(unix_ms());
                first_refused = None;
            }
            Err(_) => {
                refused += 1;
                if first_refused.is_none() {
                    first_refused = Some(unix_ms());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
    }
    let show = |v: Option<u128>| v.map(|v| v.to_string()).unwrap_or("null".into());
    println!(
        "{{\"mode\":\"probe\",\"ok\":{ok},\"refused\":{refused},\"last_ok_ms\":{},\"first_refused_ms\":{}}}",
        show(last_ok),
        show(first_refused)
    );
}
