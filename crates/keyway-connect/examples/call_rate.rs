//! Requests per second through a keyway connector against plain hyper clients with the
//! same rustls settings, for `bench/connect-rate.sh`.
//!
//! `call_rate N ROUNDS` starts an in-process HTTPS server on 127.0.0.1 (hyper over
//! rustls, from keyway-testkit) and times N `GET /status/200` requests at concurrency 1
//! and 8, rotating through the three clients ROUNDS times so drift hits all alike:
//! - keyway: one `Connector` (keyway.toml with a truststore and a profile; the pooled
//!   keep-alive client on `TlsClient`, keyway's certificate checks, timeout, the body
//!   read whole);
//! - hyper-util: hyper's pooled keep-alive client (`hyper_util::client::legacy`, what
//!   reqwest builds on) over plain `tokio-rustls` connections: the like-for-like peer;
//! - reqwest: the client most Rust programs use, built on that pool, given the same rustls
//!   configuration and a URL parsed once;
//! - bare: `hyper::client::conn::http1` on `tokio-rustls`, one keep-alive connection per
//!   concurrent stream opened before timing, no pool: the floor any client could reach.
//!
//! All four use the same provider (aws-lc-rs), versions (TLS 1.2 and 1.3), ALPN and
//! roots, and read each body whole. Then the first call of a fresh connector (profile
//! load, TCP, full handshake, request) against a later call (one call of the sequential
//! rounds), and the bare client's first request.
//!
//! Prints `rps CONCURRENCY KEYWAY HYPER_UTIL BARE REQWEST` lines (medians over the rounds), `cpu
//! CONCURRENCY …` lines with the client thread's CPU nanoseconds per request (every client
//! task and connection runs on that one thread, so this is the client's own cost, free of
//! the server's scheduling noise), and
//! `first KEYWAY_FIRST_US KEYWAY_LATER_US BARE_FIRST_US`.
//! `call_rate N ROUNDS keyway|hyper-util|reqwest|bare [CONCURRENCY]` runs one client alone (for
//! profilers) and says how many handshakes the server saw.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use keyway_connect::{CallRequest, Config, ConfigFile, Connector};
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, TestChain};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().as_deref().unwrap_or("4000").parse()?;
    let rounds: usize = args.next().as_deref().unwrap_or("5").parse()?;
    let chain = TestChain::new("bench", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("root.pem"), &chain.root_pem)?;
    let config_path = dir.path().join("keyway.toml");
    let file: ConfigFile = toml::from_str(&format!(
        r#"
[truststores.bench]
path = "root.pem"
[profiles.bench]
truststores = ["bench"]
server_name = "bench.test"
[connectors.bench]
kind = "rest"
url = "{}"
profile = "bench"
"#,
        server.url()
    ))?;
    let config = Config::from_files(vec![(config_path, file)])?;
    let def = config.connector("bench")?;
    let bare = Bare::new(&chain.root_pem, server.port)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let only = args.next();
    runtime.block_on(async {
        // `call_rate N ROUNDS keyway|hyper-util|bare [CONCURRENCY]`: one side alone, for profilers.
        if let Some(side) = only {
            let concurrency: usize = args.next().as_deref().unwrap_or("1").parse()?;
            let connector = Arc::new(Connector::new(&config, def)?);
            let mut senders = Vec::new();
            for _ in 0..concurrency {
                senders.push(bare.connect().await?);
            }
            let elapsed = match side.as_str() {
                "keyway" => keyway_run(&connector, concurrency, n * rounds).await?,
                "bare" => bare.run(&mut senders, n * rounds).await?,
                "hyper-util" => {
                    pooled_run(&bare.pooled(), server.port, concurrency, n * rounds).await?
                }
                "reqwest" => reqwest_run(&bare.reqwest()?, concurrency, n * rounds).await?,
                other => {
                    return Err(format!("{other}: say keyway, hyper-util, reqwest or bare").into());
                }
            };
            println!(
                "{side} {:.0} requests/s; the server saw {} full and {} resumed handshakes",
                rate(n * rounds, elapsed),
                server.full_handshakes(),
                server.resumed_handshakes()
            );
            return Ok(());
        }
        let mut sequential_rate = 0.0;
        for concurrency in [1, 8] {
            // Per client: requests/s and this thread's CPU time per request (the client's
            // own cost: every client task and connection runs on this thread).
            let mut keyway = Samples::default();
            let mut pooled_samples = Samples::default();
            let mut bare_samples = Samples::default();
            let mut reqwest_samples = Samples::default();
            let pooled = bare.pooled();
            let reqwest = bare.reqwest()?;
            let connector = Arc::new(Connector::new(&config, def)?);
            let mut senders = Vec::new();
            for _ in 0..concurrency {
                senders.push(bare.connect().await?);
            }
            // Warm all: connections open, sessions cached, allocator settled.
            keyway_run(&connector, concurrency, 200).await?;
            pooled_run(&pooled, server.port, concurrency, 200).await?;
            bare.run(&mut senders, 200).await?;
            reqwest_run(&reqwest, concurrency, 200).await?;
            for _ in 0..rounds {
                let cpu = thread_cpu_ns();
                keyway.add(n, keyway_run(&connector, concurrency, n).await?, cpu);
                let cpu = thread_cpu_ns();
                let elapsed = pooled_run(&pooled, server.port, concurrency, n).await?;
                pooled_samples.add(n, elapsed, cpu);
                let cpu = thread_cpu_ns();
                bare_samples.add(n, bare.run(&mut senders, n).await?, cpu);
                let cpu = thread_cpu_ns();
                let elapsed = reqwest_run(&reqwest, concurrency, n).await?;
                reqwest_samples.add(n, elapsed, cpu);
            }
            let keyway_rate = median(keyway.rates.clone());
            if concurrency == 1 {
                sequential_rate = keyway_rate;
            }
            println!(
                "rps {concurrency} {keyway_rate:.0} {:.0} {:.0} {:.0}",
                median(pooled_samples.rates),
                median(bare_samples.rates),
                median(reqwest_samples.rates)
            );
            println!(
                "cpu {concurrency} {:.0} {:.0} {:.0} {:.0}",
                median(keyway.cpu_ns),
                median(pooled_samples.cpu_ns),
                median(bare_samples.cpu_ns),
                median(reqwest_samples.cpu_ns)
            );
        }

        let mut firsts = Vec::new();
        let mut bare_firsts = Vec::new();
        for _ in 0..rounds.max(5) {
            let start = Instant::now();
            let connector = Connector::new(&config, def)?;
            check(
                connector
                    .call(CallRequest::get("/status/200"))
                    .await?
                    .status,
            )?;
            firsts.push(start.elapsed());
            let start = Instant::now();
            let mut sender = bare.connect().await?;
            get(&mut sender, server.port).await?;
            bare_firsts.push(start.elapsed());
        }
        let us = |d: Vec<Duration>| median(d.iter().map(|d| d.as_secs_f64() * 1e6).collect());
        // A later call costs what one call of the sequential rounds did.
        println!(
            "first {:.0} {:.0} {:.0}",
            us(firsts),
            1e6 / sequential_rate,
            us(bare_firsts)
        );
        Ok::<_, Error>(())
    })?;
    drop(server);
    Ok(())
}

fn check(status: http::StatusCode) -> Result<(), Error> {
    if status == http::StatusCode::OK {
        Ok(())
    } else {
        Err(format!("the server answered {status}").into())
    }
}

/// Requests/s and CPU nanoseconds per request, one value per round.
#[derive(Default)]
struct Samples {
    rates: Vec<f64>,
    cpu_ns: Vec<f64>,
}

impl Samples {
    fn add(&mut self, n: usize, elapsed: Duration, cpu_before: u64) {
        self.rates.push(rate(n, elapsed));
        self.cpu_ns
            .push((thread_cpu_ns().saturating_sub(cpu_before)) as f64 / n as f64);
    }
}

/// Time this thread has run on a CPU, in nanoseconds (Linux schedstat; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `n` calls of `one` spread over `concurrency` tasks, each with a clone of `client`.
async fn spread<C, F, Fut>(
    client: &C,
    concurrency: usize,
    n: usize,
    one: F,
) -> Result<Duration, Error>
where
    C: Clone + Send + 'static,
    F: Fn(C) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for share in shares(n, concurrency) {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                one(client.clone()).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(start.elapsed())
}

/// `n` connector calls over `concurrency` tasks sharing one connector.
async fn keyway_run(
    connector: &Arc<Connector>,
    concurrency: usize,
    n: usize,
) -> Result<Duration, Error> {
    spread(connector, concurrency, n, |connector| async move {
        let response = connector.call(CallRequest::get("/status/200")).await?;
        check(response.status)
    })
    .await
}

fn shares(n: usize, concurrency: usize) -> Vec<usize> {
    (0..concurrency)
        .map(|i| n / concurrency + usize::from(i < n % concurrency))
        .collect()
}

/// hyper's HTTP/1.1 connection on tokio-rustls, nothing else.
struct Bare {
    tls: tokio_rustls::TlsConnector,
    config: Arc<rustls::ClientConfig>,
    port: u16,
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

impl Bare {
    fn new(root_pem: &str, port: u16) -> Result<Self, Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(root_pem.as_bytes())?)?;
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        Ok(Bare {
            tls: tokio_rustls::TlsConnector::from(config.clone()),
            config,
            port,
        })
    }

    /// One keep-alive connection (TCP, handshake, HTTP/1.1), driven by its own task.
    async fn connect(&self) -> Result<Sender, Error> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        tcp.set_nodelay(true)?;
        let stream = self
            .tls
            .connect(ServerName::try_from("bench.test")?, tcp)
            .await?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// `n` requests spread over `senders`, one task per connection.
    async fn run(&self, senders: &mut Vec<Sender>, n: usize) -> Result<Duration, Error> {
        let start = Instant::now();
        let mut tasks = Vec::new();
        let split = shares(n, senders.len());
        for (mut sender, share) in senders.drain(..).zip(split) {
            let port = self.port;
            tasks.push(tokio::spawn(async move {
                for _ in 0..share {
                    get(&mut sender, port).await?;
                }
                Ok::<_, Error>(sender)
            }));
        }
        for task in tasks {
            senders.push(task.await??);
        }
        Ok(start.elapsed())
    }
}

/// hyper-util's pooled client (what reqwest builds on) over the same tokio-rustls
/// connections: the like-for-like peer of a connector.
#[derive(Clone)]
struct PooledConnect(tokio_rustls::TlsConnector);

/// A tokio-rustls stream as hyper-util's pool wants it.
struct PooledConn(TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>);

impl Connection for PooledConn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for PooledConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for PooledConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
}

impl tower_service::Service<http::Uri> for PooledConnect {
    type Response = PooledConn;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<PooledConn, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let tls = self.0.clone();
        Box::pin(async move {
            let port = uri.port_u16().unwrap_or(443);
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            tcp.set_nodelay(true)?;
            let stream = tls
                .connect(ServerName::try_from("bench.test")?, tcp)
                .await?;
            Ok(PooledConn(TokioIo::new(stream)))
        })
    }
}

type Pooled = Client<PooledConnect, Empty<Bytes>>;

impl Bare {
    fn pooled(&self) -> Pooled {
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .build(PooledConnect(self.tls.clone()))
    }
}

impl Bare {
    /// reqwest with the same rustls configuration, HTTP/1.1 only, `bench.test` resolved
    /// to the server (the name its certificate carries), and the URL it calls.
    fn reqwest(&self) -> Result<(reqwest::Client, reqwest::Url), Error> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured((*self.config).clone())
            .http1_only()
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .resolve(
                "bench.test",
                std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            )
            .build()?;
        let url = format!("https://bench.test:{}/status/200", self.port).parse()?;
        Ok((client, url))
    }
}

/// `n` requests over `concurrency` tasks sharing one reqwest client.
async fn reqwest_run(
    client: &(reqwest::Client, reqwest::Url),
    concurrency: usize,
    n: usize,
) -> Result<Duration, Error> {
    spread(client, concurrency, n, |(client, url)| async move {
        let response = client.get(url).send().await?;
        check(response.status())?;
        response.bytes().await?;
        Ok(())
    })
    .await
}

/// `n` requests over `concurrency` tasks sharing one pooled client.
async fn pooled_run(
    client: &Pooled,
    port: u16,
    concurrency: usize,
    n: usize,
) -> Result<Duration, Error> {
    let uri: http::Uri = format!("https://127.0.0.1:{port}/status/200").parse()?;
    spread(
        &(client.clone(), uri),
        concurrency,
        n,
        |(client, uri)| async move {
            let response = client.get(uri).await?;
            check(response.status())?;
            response.into_body().collect().await?;
            Ok(())
        },
    )
    .await
}

/// One `GET /status/200`, the body read whole.
async fn get(sender: &mut Sender, port: u16) -> Result<(), Error> {
    let request = http::Request::get("/status/200")
        .header(http::header::HOST, format!("127.0.0.1:{port}"))
        .body(Empty::<Bytes>::new())?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    check(response.status())?;
    response.into_body().collect().await?;
    Ok(())
}
