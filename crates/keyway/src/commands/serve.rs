//! `keyway serve`: the inbound gateway, with a demo on a fresh data directory.

mod api;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use keyway_connect::{ConnectorEntry, ProfileEntry};
use keyway_keystore::Certificate;
use keyway_pki::{KeyType, parse_subject};
use keyway_server::{Gateway, GatewayOptions};
use keyway_store::{
    Context, Initialized, KeyAndChain, Location, NewConnector, NewIntegration, NewKeystore,
    NewUser, Permission, Save, Setup, Store,
};
use serde_json::json;

use crate::args::StoreArgs;
use crate::exit::Exit;
use crate::files::write_private;
use crate::output;
use crate::session::context;

/// `keyway serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where partners connect.
    #[arg(long, default_value = "0.0.0.0:8443", value_name = "ADDRESS")]
    pub listen: std::net::SocketAddr,
    /// Health, Prometheus metrics and the admin API: plain HTTP on a loopback address,
    /// HTTPS (the gateway's certificate) on any other.
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDRESS")]
    pub admin: std::net::SocketAddr,
    /// No health and metrics listener (and so no admin API).
    #[arg(long)]
    pub no_admin: bool,
    /// No admin API on the admin listener (`/api/v1/`), only health and metrics.
    #[arg(long)]
    pub no_api: bool,
    /// HTTPS on the admin listener even on a loopback address (it always is on any
    /// other), with the gateway's server certificate.
    #[arg(long)]
    pub admin_https: bool,
    /// Serve the admin listener's HTTPS with this keystore of the store (`keyway
    /// identity add`) instead of the gateway's server certificate; read at start.
    #[arg(long, value_name = "NAME")]
    pub admin_keystore: Option<String>,
    /// This node's name, recorded with each client certificate's last use (`keyway user
    /// cert list`); default: the host name. Name each node of a shared database.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// A name the server certificate is for; repeat for several (default: localhost,
    /// 127.0.0.1 and this machine's host name).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Serve the key entry of this keystore in the store (`keyway identity add`), e.g. a
    /// certificate from a public or corporate CA, instead of one issued by keyway's CA.
    #[arg(long, value_name = "NAME", conflicts_with = "hosts")]
    pub server_keystore: Option<String>,
    /// A truststore in the store whose CAs may issue client certificates (besides
    /// keyway's CA); repeat for several.
    #[arg(long = "client-truststore", value_name = "NAME")]
    pub client_truststores: Vec<String>,
    /// Time for a client to finish its TLS handshake, in seconds (1 to 86400).
    #[arg(long, default_value_t = 5, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub handshake_timeout: u64,
    /// Time for a client to send a request's headers, in seconds (1 to 86400).
    #[arg(long, default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub header_timeout: u64,
    /// How long a connection may stay open between requests, in seconds (1 to 86400).
    #[arg(long, default_value_t = 75, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
    /// Largest request body forwarded, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    pub max_body: usize,
    /// Largest request head (request line and headers), in bytes; at least 8192.
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(8192..))]
    pub max_header: u32,
    /// Set up the demo client certificate (DATA/demo) and the sample integration even on
    /// a store `keyway init` made; by default only a store this start makes gets them.
    #[arg(long, conflicts_with = "no_demo")]
    pub demo: bool,
    /// Never set up the demo client or the sample integration.
    #[arg(long)]
    pub no_demo: bool,
    /// Most connections past their handshake at once; when all are taken, the oldest
    /// idle one is closed for a new one.
    #[arg(long, default_value_t = 1024, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Most connections of one client certificate; over it, its oldest idle one is
    /// closed for its new one.
    #[arg(long, default_value_t = 64, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections_per_client: u64,
    /// Most connections from one address; 0: no limit (behind a proxy that hides the
    /// callers' addresses).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections_per_address: usize,
    /// Remove audit entries older than this many days (hourly; each pruning is audited).
    #[arg(long, default_value_t = 400, value_name = "DAYS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_keep_days: u64,
    /// Keep at most this many audit entries (the oldest go).
    #[arg(long, default_value_t = 5_000_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1000..))]
    pub audit_max_rows: u64,
    /// Most connections still in their TLS handshake; over it, the oldest is closed.
    #[arg(long, default_value_t = 128, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_handshakes: u64,
    /// The watch: audit every connector in the store and check every certificate's end
    /// this often (results kept, alerts sent once); "off" to stop it.
    #[arg(long, default_value = "6h", value_name = "DURATION|off", value_parser = parse_every)]
    pub audit_every: Every,
    /// Expiry alert thresholds: days (30, 7d) or shares of a certificate's lifetime (10%),
    /// comma-separated.
    #[arg(long, default_value = "30,14,7,1", value_name = "LIST", value_delimiter = ',',
          value_parser = keyway_server::watch::Threshold::parse)]
    pub alert_days: Vec<keyway_server::watch::Threshold>,
    /// Where the watch sends alerts: a URL that receives a JSON POST per alert.
    #[arg(long, value_name = "URL", value_parser = parse_webhook)]
    pub alert_webhook: Option<String>,
    /// The HMAC-SHA256 key of the webhook's X-Keyway-Signature header: env:VAR or
    /// file:PATH.
    #[arg(long, value_name = "SOURCE", requires = "alert_webhook")]
    pub alert_webhook_secret: Option<String>,
    /// Where the watch sends alerts by e-mail: an SMTP relay, `HOST[:PORT]` (587 by
    /// default); STARTTLS is required.
    #[arg(long, value_name = "HOST[:PORT]", requires_all = ["alert_mail_from", "alert_mail_to"])]
    pub alert_smtp: Option<String>,
    /// The SMTP user (AUTH, inside TLS only).
    #[arg(long, value_name = "USER", requires_all = ["alert_smtp", "alert_smtp_password"])]
    pub alert_smtp_user: Option<String>,
    /// The SMTP password: env:VAR or file:PATH.
    #[arg(long, value_name = "SOURCE", requires = "alert_smtp_user")]
    pub alert_smtp_password: Option<String>,
    /// A PEM file of CA certificates trusted for the relay besides the system roots.
    #[arg(long, value_name = "FILE", requires = "alert_smtp")]
    pub alert_smtp_ca: Option<std::path::PathBuf>,
    /// The alerts' sender address.
    #[arg(long, value_name = "ADDRESS", requires = "alert_smtp")]
    pub alert_mail_from: Option<String>,
    /// A recipient of the alerts; repeatable.
    #[arg(long, value_name = "ADDRESS", requires = "alert_smtp")]
    pub alert_mail_to: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `--alert-smtp` and its companions.
fn mail_alerts(args: &ServeArgs) -> Result<Option<keyway_server::watch::Mail>> {
    let Some(relay) = &args.alert_smtp else {
        return Ok(None);
    };
    let (host, port) = match relay.rsplit_once(':') {
        Some((host, port)) => (
            host.to_string(),
            port.parse::<u16>().map_err(|_| {
                anyhow::anyhow!(
                    "--alert-smtp {relay}: the port must be a number (e.g. smtp.acme.example:587)"
                )
            })?,
        ),
        None => (relay.clone(), 587),
    };
    let credentials = match (&args.alert_smtp_user, &args.alert_smtp_password) {
        (Some(user), Some(source)) => Some((
            user.clone(),
            std::sync::Arc::new(crate::secret::resolve(source, "--alert-smtp-password")?),
        )),
        _ => None,
    };
    let ca_pem = match &args.alert_smtp_ca {
        Some(path) => Some(std::fs::read(path).with_context(|| {
            format!("--alert-smtp-ca {}: cannot read the file", path.display())
        })?),
        None => None,
    };
    let mail = keyway_server::watch::Mail {
        host,
        port,
        from: args.alert_mail_from.clone().unwrap_or_default(),
        to: args.alert_mail_to.clone(),
        credentials,
        ca_pem,
    };
    mail.check().map_err(anyhow::Error::msg)?;
    Ok(Some(mail))
}

/// `--audit-every`: a duration, or off.
#[derive(Debug, Clone, Copy)]
pub struct Every(Option<Duration>);

fn parse_every(given: &str) -> Result<Every, String> {
    if given.eq_ignore_ascii_case("off") {
        return Ok(Every(None));
    }
    let every = crate::args::parse_duration(given)?;
    if every < Duration::from_secs(60) {
        return Err(format!(
            "\"{given}\": at least one minute between audits (or off)"
        ));
    }
    Ok(Every(Some(every)))
}

fn parse_webhook(given: &str) -> Result<String, String> {
    match given.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("https" | "http")) && uri.host().is_some() => {
            Ok(given.to_string())
        }
        _ => Err(format!(
            "\"{given}\": give an http:// or https:// URL, e.g. https://hooks.example/keyway"
        )),
    }
}

/// The user whose client certificate the first start writes for trying the gateway.
const DEMO_USER: &str = "demo";

/// The integration (and connector, profile, truststore, keystore) the first start sets
/// up for trying the gateway: it calls the gateway's own `/echo`.
const SAMPLE: &str = "sample";

/// `keyway serve`
pub fn serve(args: ServeArgs) -> Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(args))
}

/// One line per event on stderr, filtered as `RUST_LOG` says (default: `info`, e.g.
/// `RUST_LOG=warn` or `RUST_LOG=keyway_server=debug`); colour only on a terminal.
fn start_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init();
}

async fn run(args: ServeArgs) -> Result<Exit> {
    start_logging();
    // The watch's options first: a bad alert setting stops the start before anything
    // is made.
    let watch = if let Every(Some(every)) = args.audit_every {
        let secret = match &args.alert_webhook_secret {
            Some(source) => Some(std::sync::Arc::new(crate::secret::resolve(
                source,
                "--alert-webhook-secret",
            )?)),
            None => None,
        };
        Some(keyway_server::watch::WatchOptions {
            every,
            thresholds: args.alert_days.clone(),
            webhook: args
                .alert_webhook
                .clone()
                .map(|url| keyway_server::watch::Webhook {
                    url,
                    secret,
                    attempts: 4,
                    backoff: Duration::from_secs(2),
                }),
            mail: mail_alerts(&args)?,
            ..keyway_server::watch::WatchOptions::default()
        })
    } else {
        None
    };
    let signals = Signals::listen()?;
    let location = Location {
        data_dir: args.store.data.data_dir.clone(),
        database_url: args.store.database.clone(),
    };
    let store = Arc::new(Store::open(&location, args.store.data.master_key.as_deref()).await?);
    let ctx = context(&args.store);
    let data_dir = &args.store.data.data_dir;
    let setup = Setup {
        data_dir: data_dir.clone(),
        admin: "admin".into(),
        ca_subject: parse_subject("CN=keyway CA")?,
        ca_with_intermediate: false,
    };
    let Initialized {
        ca_file,
        admin_password: password,
        ..
    } = store.initialize(&ctx, &setup).await?;
    // The demo client and sample integration: on a store this start made (or one a
    // previous start gave them), never on one `keyway init` set up for real use, unless
    // asked for (--demo); --no-demo never.
    let demo_wanted = if args.no_demo {
        false
    } else {
        args.demo || password.is_some() || store.user(&ctx, DEMO_USER).await.is_ok()
    };
    let demo = if demo_wanted {
        demo_client(&store, &ctx, data_dir).await?
    } else {
        None
    };

    let mut options = GatewayOptions {
        listen: args.listen,
        admin: (!args.no_admin).then_some(args.admin),
        server_keystore: args.server_keystore.clone(),
        client_truststores: args.client_truststores.clone(),
        handshake_timeout: Duration::from_secs(args.handshake_timeout),
        header_timeout: Duration::from_secs(args.header_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_body: args.max_body,
        max_header: args.max_header as usize,
        max_connections: args.max_connections as usize,
        max_connections_per_client: args.max_connections_per_client as usize,
        max_connections_per_address: args.max_connections_per_address,
        max_handshakes: args.max_handshakes as usize,
        audit_retention: keyway_store::Retention {
            keep_days: Some(args.audit_keep_days),
            max_rows: Some(args.audit_max_rows),
        },
        ..GatewayOptions::default()
    };
    if !args.hosts.is_empty() {
        options.hosts = args.hosts.clone();
    }
    if let Some(node) = &args.node {
        options.node = node.clone();
    }
    options.watch = watch.clone();
    let admin_https = args.admin_https || !args.admin.ip().is_loopback();
    if !args.no_api {
        options.admin_api = Some(api::admin_api(store.clone(), admin_https));
    }
    options.admin_https = args.admin_https;
    options.admin_keystore = args.admin_keystore.clone();
    let gateway = Gateway::start(store.clone(), options.clone()).await?;
    let host = options
        .hosts
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    if demo_wanted && options.server_keystore.is_none() {
        let fresh = demo.as_ref().and_then(|d| d.identity.as_ref());
        sample_integration(&store, &ctx, fresh, gateway.address, &host).await?;
        // Applied before the curl command that uses it is printed.
        gateway.refresh().await?;
    }
    let target = if store.find_integration(SAMPLE).await.is_ok() {
        format!("integrations/{SAMPLE}/hello?from=curl")
    } else {
        "whoami".to_string()
    };
    // A server certificate from keyway's CA needs keyway's CA certificate to be
    // trusted; one from the administrator's keystore is trusted as its CA is.
    let cacert = match &options.server_keystore {
        None => format!("--cacert {} ", ca_file.display()),
        Some(_) => String::new(),
    };
    let curl = demo.as_ref().map(|demo| {
        format!(
            "curl {cacert}--cert {} --key {} https://{host}:{}/{target}",
            demo.cert.display(),
            demo.key.display(),
            gateway.address.port()
        )
    });
    if output::json() {
        println!(
            "{}",
            json!({
                "listen": gateway.address,
                "admin": gateway.admin_address,
                "database": store.database(),
                "ca_certificate": ca_file,
                "admin_created": password.is_some(),
                "admin_password": password.as_deref().map(|p| p.as_str()),
                "hosts": options.hosts,
                "server_keystore": options.server_keystore,
                "curl": curl,
            })
        );
    } else {
        println!(
            "keyway gateway on https://{} (client certificate required; database {})",
            gateway.address,
            store.database()
        );
        if let Some(admin) = gateway.admin_address {
            let scheme = if admin_https { "https" } else { "http" };
            println!("  health and metrics: {scheme}://{admin}/healthz, /readyz, /metrics");
            if options.admin_api.is_some() {
                println!("  web console: {scheme}://{admin}/ (sign in as a keyway user)");
                println!(
                    "  admin API: {scheme}://{admin}/api/v1/ (sign in as a keyway user; OpenAPI at /api/v1/openapi.json)"
                );
            }
        }
        match &options.server_keystore {
            Some(name) => println!(
                "  server certificate from keystore {name}: clients trust the CA that issued it"
            ),
            None => println!(
                "  server certificate for {} issued by keyway's CA; give clients {}",
                options.hosts.join(", "),
                ca_file.display()
            ),
        }
        if let Some(password) = &password {
            println!(
                "  administrator: user admin, password (shown once, store it now):\n\n      {}\n",
                password.as_str()
            );
        }
        if let Some(curl) = &curl {
            println!("  try it with the demo user's client certificate:\n\n      {curl}\n");
            if target != "whoami" {
                println!(
                    "  (integration {SAMPLE} calls the gateway's own /echo through connector {SAMPLE}, presenting the demo certificate: the answer shows what a partner receives)"
                );
            }
        }
        println!(
            "  partners call /integrations/NAME/…: `keyway config import keyway.toml` brings connectors and integrations; `keyway user grant USER invoke:NAME` lets a user call one"
        );
    }
    tracing::info!(
        "gateway started on {} (database {})",
        gateway.address,
        store.database()
    );
    wait_for_stop(&gateway, signals).await?;
    tracing::info!("stopping: requests in flight may finish for up to 10 s");
    gateway.shutdown(Duration::from_secs(10)).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(Exit::Ok)
}

/// The demo user's certificate and key files; the identity too when made just now.
struct Demo {
    cert: PathBuf,
    key: PathBuf,
    identity: Option<KeyAndChain>,
}

/// The demo user's client certificate and key files, made on the first start.
async fn demo_client(store: &Store, ctx: &Context, data_dir: &Path) -> Result<Option<Demo>> {
    let dir = data_dir.join("demo");
    let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
    if cert.is_file() && key.is_file() {
        return Ok(Some(Demo {
            cert,
            key,
            identity: None,
        }));
    }
    if store.user(ctx, DEMO_USER).await.is_ok() {
        // Made before, files gone: nothing is issued behind the administrator's back.
        return Ok(None);
    }
    store
        .add_user(
            ctx,
            NewUser::new(DEMO_USER).display_name("demo client made by keyway serve"),
        )
        .await?;
    let (_, identity) = store
        .issue_certificate(
            ctx,
            DEMO_USER,
            parse_subject("CN=demo")?,
            KeyType::EcP256,
            30,
        )
        .await?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create it", dir.display()))?;
    let chain: String = identity.chain.iter().map(Certificate::to_pem).collect();
    keyway_keystore::file::write_atomic(&cert, chain.as_bytes())?;
    write_private(&key, identity.key.to_pem(None)?.as_bytes())?;
    Ok(Some(Demo {
        cert,
        key,
        identity: Some(identity),
    }))
}

/// Integration `sample` for the demo user: connector `sample` calls the gateway's own
/// `/echo` over two-way TLS (trusting keyway's CA, presenting the demo certificate), so
/// the first curl goes the whole way a partner's call goes. Made with the demo
/// certificate (`fresh`), and only when none of the names is taken; on later starts the
/// connector follows the gateway's address.
async fn sample_integration(
    store: &Store,
    ctx: &Context,
    fresh: Option<&KeyAndChain>,
    gateway: SocketAddr,
    host: &str,
) -> Result<()> {
    // The gateway itself, over loopback when it listens on every address.
    let ip = match gateway.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let definition = ConnectorEntry {
        kind: "rest".into(),
        url: format!("https://{}/echo", SocketAddr::new(ip, gateway.port())),
        profile: Some(SAMPLE.into()),
        ..ConnectorEntry::default()
    };
    let connectors = store.connectors(ctx).await?;
    if let Some(existing) = connectors.iter().find(|c| c.name == SAMPLE) {
        let ours = existing.definition.profile.as_deref() == Some(SAMPLE)
            && existing.definition.url.ends_with("/echo");
        if ours && existing.definition.url != definition.url {
            let connector = NewConnector {
                definition,
                auth: None,
            };
            store
                .save_connector(ctx, SAMPLE, connector, Save::Replace(None))
                .await?;
        }
        return Ok(());
    }
    let Some(identity) = fresh else {
        return Ok(());
    };
    if store.find_integration(SAMPLE).await.is_ok()
        || store.profiles(ctx).await?.iter().any(|p| p.name == SAMPLE)
        || store.truststore(ctx, SAMPLE).await.is_ok()
        || store.keystore(ctx, SAMPLE).await.is_ok()
    {
        return Ok(());
    }
    let Some(ca) = store.ca().await? else {
        return Ok(());
    };
    let source = "made by keyway serve for the sample integration";
    store
        .add_truststore(ctx, SAMPLE, ca.chain(), source)
        .await?;
    let keystore = NewKeystore::from_identity(DEMO_USER, &identity.key, &identity.chain, source)?;
    store.add_keystore(ctx, SAMPLE, keystore).await?;
    let profile = ProfileEntry {
        truststores: vec![SAMPLE.into()],
        keystore: Some(SAMPLE.into()),
        server_name: Some(host.to_string()),
        ..ProfileEntry::default()
    };
    store.save_profile(ctx, SAMPLE, profile, Save::Add).await?;
    let connector = NewConnector {
        definition,
        auth: None,
    };
    store
        .save_connector(ctx, SAMPLE, connector, Save::Add)
        .await?;
    let integration = NewIntegration {
        connector: SAMPLE.into(),
        description: "calls the gateway's own /echo: try the gateway end to end".into(),
        require_password: false,
    };
    store
        .save_integration(ctx, SAMPLE, integration, Save::Add)
        .await?;
    store
        .grant(ctx, DEMO_USER, Permission::Invoke(SAMPLE.into()), None)
        .await?;
    Ok(())
}

/// Until SIGTERM or Ctrl-C; SIGHUP makes the gateway read the store again at once.
/// The signals `serve` stops and reloads on, listened for from before the start line is
/// printed: a SIGTERM sent as soon as it appears must stop the gateway cleanly, not kill it.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            hangup: signal(SignalKind::hangup()).context("listening for SIGHUP")?,
        })
    }
}

async fn wait_for_stop(gateway: &Gateway, signals: Signals) -> Result<()> {
    let Signals {
        mut terminate,
        mut hangup,
    } = signals;
    loop {
        tokio::select! {
            _ = terminate.recv() => return Ok(()),
            result = tokio::signal::ctrl_c() => return result.context("listening for Ctrl-C"),
            _ = hangup.recv() => gateway.reload(),
        }
    }
}
