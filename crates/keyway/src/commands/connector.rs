//! `keyway connector …`: the REST and SOAP connectors of a keyway.toml or of the store:
//! list, show, add and remove (`connector/edit.rs`), call and soap (`connector/call.rs`),
//! test (`connector/check.rs`).

mod call;
mod check;
mod edit;

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use keyway_connect::{Config, Connector, ConnectorDef, Kind};
use serde_json::{Value, json};

use self::edit::{ConnectorAddArgs, ConnectorRemoveArgs};
use crate::args::{DataDirArgs, StoreArgs};
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, context, open};

const CONFIG_HELP: &str = "A keyway.toml, or a directory of *.toml files [default: ./keyway.toml if there is one, else the connectors in keyway's store]";

/// `keyway connector`
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// List the connectors: name, kind, URL, profile, TLS versions, client certificate, user.
    #[command(after_help = "Examples:
  keyway connector list
  keyway connector list --config /etc/keyway/conf.d --json

Exit codes: 0 listed, 2 the configuration has problems (each is named with its file,
item and field).")]
    List(ListArgs),
    /// Show one connector in full (passwords are shown only as where they come from).
    #[command(after_help = "Examples:
  keyway connector show orders
  keyway connector show billing --json

Exit codes: 0 shown, 2 no such connector or the configuration has problems.")]
    Show(NameArgs),
    /// Test a connector: the TLS diagnosis, then one HTTP request with its credentials.
    #[command(
        after_help = "REST connectors GET their test_path (default: the base URL); SOAP connectors
fetch ?wsdl, or call test_action when one is configured. A 401/403 is reported as an
authentication problem naming the user sent; other HTTP errors with the status and the
start of the body.

Examples:
  keyway connector test orders
  keyway connector test billing --json

Exit codes: 0 TLS and the HTTP check passed, 1 one failed (the output says which and
why), 2 usage or configuration error."
    )]
    Test(NameArgs),
    /// Call a REST endpoint through a connector; the body goes to stdout.
    #[command(
        after_help = "The path (and query) is joined to the connector's URL. --data takes text,
@FILE, or @- for stdin; without --content-type it is sent as application/json when it
starts with { or [, application/xml when it starts with <, text/plain otherwise.

Examples:
  keyway connector call orders --path '/orders?status=open'
  keyway connector call orders -X POST --path /orders --data @order.json
  keyway connector call orders -X PUT --path /orders/42 -H 'If-Match: \"7\"' --data '{\"qty\":2}' --json

Exit codes: 0 a 2xx answer, 1 an HTTP error or no connection (with the TLS diagnosis),
2 usage or configuration error."
    )]
    Call(CallArgs),
    /// Call a SOAP operation through a connector.
    #[command(
        after_help = "--body is the content of the SOAP Body (keyway builds the envelope) or a complete
envelope (sent as given): text, @FILE, or @- for stdin.

Examples:
  keyway connector soap billing --action urn:GetInvoice --body @get-invoice.xml
  keyway connector soap billing --path /ws/v2 --action urn:Ping --soap 1.2 --body '<Ping xmlns=\"urn:x\"/>'

Exit codes: 0 an answer without a Fault, 1 a SOAP Fault, an HTTP error or no connection,
2 usage or configuration error."
    )]
    Soap(SoapArgs),
    /// Store a connector in keyway's store, with a TLS profile of its own made from the
    /// options (for shared profiles, import a keyway.toml: `keyway config import`).
    #[command(after_help = "Examples:
  keyway connector add orders --url https://orders.partner.example/api --truststore partners
  keyway connector add legacy --url https://old.partner.example/ws --kind soap \\
      --truststore partners --keystore acme --min-tls 1.0 --username svc --password-stdin < pw.txt
  keyway connector add orders --url https://orders-v2.partner.example/api --truststore partners --replace

The connector's profile is named after it and holds --truststore (repeatable; none: the
system roots), --keystore (a keystore kept in the store: `keyway keystore add`) and
--min-tls. Checked as a keyway.toml would be; the password is sealed. Needs
manage_connectors.

Exit codes: 0 stored, 2 refused (unknown truststore or keystore, bad URL, name taken
without --replace, a missing permission).")]
    Add(ConnectorAddArgs),
    /// Remove a connector (and its own profile) from keyway's store.
    #[command(
        after_help = "Example:\n  keyway connector remove orders --if-version 2\n\nRefused while an integration uses it."
    )]
    Remove(ConnectorRemoveArgs),
    /// A stored connector's checks by the watch of `keyway serve`, newest first: when it
    /// started failing, when its partner's certificate changed.
    #[command(after_help = "Examples:
  keyway connector history orders
  keyway connector history orders --limit 100 --json

Needs manage_connectors when run --as a user.
Exit codes: 0 listed (also when there is none yet), 2 refused.")]
    History(HistoryArgs),
}

/// `connector history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The connector.
    pub name: String,
    /// At most this many checks.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub limit: i64,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `--config`, or where keyway's store is.
#[derive(Debug, Args)]
pub struct ConfigArg {
    #[arg(long, env = "KEYWAY_CONFIG", help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Without --config: the data directory of keyway's store.
    #[arg(
        long,
        env = "KEYWAY_DATA_DIR",
        default_value = "keyway-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// Without --config: the store's master key (64 hex digits).
    #[arg(
        long,
        env = "KEYWAY_MASTER_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub master_key: Option<String>,
    /// Without --config: a shared PostgreSQL store (`postgres://…`).
    #[arg(
        long,
        env = "KEYWAY_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
    /// Without --config: act as this keyway user (default: the local administrator).
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
}

impl ConfigArg {
    /// The store these arguments name, for when no --config is given.
    pub fn store_args(&self) -> StoreArgs {
        StoreArgs {
            data: DataDirArgs {
                data_dir: self.data_dir.clone(),
                master_key: self.master_key.clone(),
            },
            database: self.database.clone(),
            as_user: self.as_user.clone(),
        }
    }

    /// The configuration file to read: --config, else `./keyway.toml` when there is
    /// one; `None`: the connectors in keyway's store.
    pub fn file(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let here = PathBuf::from("keyway.toml");
            here.is_file().then_some(here)
        })
    }

    /// Where the connectors come from, for messages.
    pub fn source(&self) -> String {
        match self.file() {
            Some(path) => path.display().to_string(),
            None => "keyway's store".into(),
        }
    }
}

/// `connector list`
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// A connector's name.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The connector.
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `connector call`
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The connector.
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
    /// The method.
    #[arg(short = 'X', long = "method", default_value = "GET")]
    pub method: String,
    /// Path and query, joined to the connector's URL.
    #[arg(long, default_value = "")]
    pub path: String,
    /// A header, 'Name: value'; repeatable.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// The body: text, @FILE or @- (stdin).
    #[arg(long)]
    pub data: Option<String>,
    /// The body's content type.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Print the response headers (to stderr) too.
    #[arg(short = 'i', long)]
    pub include: bool,
}

/// `connector soap`
#[derive(Debug, Args)]
pub struct SoapArgs {
    /// The connector.
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Path, joined to the connector's URL.
    #[arg(long, default_value = "")]
    pub path: String,
    /// The SOAP action.
    #[arg(long)]
    pub action: Option<String>,
    /// SOAP version, instead of the connector's.
    #[arg(long = "soap", value_parser = ["1.1", "1.2"])]
    pub version: Option<String>,
    /// The Body's content or a whole envelope: text, @FILE or @- (stdin).
    #[arg(long)]
    pub body: String,
}

/// Runs a connector command.
pub fn run(command: ConnectorCommand) -> Result<Exit> {
    block_on(async {
        match command {
            ConnectorCommand::List(args) => list(args).await,
            ConnectorCommand::Show(args) => show(args).await,
            ConnectorCommand::Test(args) => check::test(args).await,
            ConnectorCommand::Call(args) => call::call(args).await,
            ConnectorCommand::Soap(args) => call::soap(args).await,
            ConnectorCommand::Add(args) => edit::connector_add(args).await,
            ConnectorCommand::Remove(args) => edit::connector_remove(args).await,
            ConnectorCommand::History(args) => history(args).await,
        }
    })
}

/// The connectors of `--config`, else of `./keyway.toml` when there is one, else of
/// keyway's store.
pub(crate) async fn load_config(arg: &ConfigArg) -> Result<Config> {
    match arg.file() {
        Some(path) => load(&path),
        None => {
            let store_args = arg.store_args();
            // Not a reason to create a store: say where connectors can come from.
            let database = store_args.data.data_dir.join(keyway_store::DATABASE_FILE);
            if store_args.database.is_none() && !database.exists() {
                bail!(
                    "no keyway.toml here and no keyway store at {}: give --config FILE (or set KEYWAY_CONFIG), or --data-dir DIR / --database URL of a store (`keyway init` makes one, `keyway config import` fills it)",
                    database.display()
                );
            }
            let store = open(&store_args).await?;
            Ok(store.connector_config(&context(&store_args)).await?)
        }
    }
}

pub(crate) fn load(path: &std::path::Path) -> Result<Config> {
    if !path.exists() {
        bail!(
            "{}: no such file or directory (give --config FILE, or set KEYWAY_CONFIG)",
            path.display()
        );
    }
    Ok(Config::load(path)?)
}

/// What `list` and `show` say about a connector, without secrets.
fn summary(config: &Config, def: &ConnectorDef) -> Value {
    let profile = def.profile.as_deref().and_then(|p| config.profile_entry(p));
    // TLS versions are always a list of names in JSON ("TLS 1.2", "TLS 1.3").
    let versions = profile
        .map(|(_, policy)| policy.accepted())
        .unwrap_or_else(|| keyway_tls::TlsPolicy::default().accepted());
    let (truststores, keystore) = match profile {
        Some((entry, _)) => (entry.truststores.clone(), entry.keystore.clone()),
        None => (Vec::new(), None),
    };
    let proxy = match profile.and_then(|(entry, _)| entry.proxy.as_ref()) {
        None => "from the environment (HTTPS_PROXY, NO_PROXY)".to_string(),
        Some(p) if p.is_direct() => "none (direct)".to_string(),
        Some(p) => keyway_tls::Proxy::parse(&p.url, "profile")
            .map(|mut proxy| {
                if p.username.is_some() {
                    proxy.username = p.username.clone();
                }
                proxy.to_string()
            })
            .unwrap_or_else(|_| "(invalid)".into()),
    };
    json!({
        "name": def.name,
        "kind": def.kind,
        "url": def.url_text.trim(),
        "file": def.file.display().to_string(),
        "profile": def.profile,
        "tls_versions": versions,
        "truststores": if truststores.is_empty() { json!(["system roots"]) } else { json!(truststores) },
        "keystore": keystore,
        "proxy": proxy,
        "user": def.auth.as_ref().map(|(u, _)| u),
        "password": def.auth.as_ref().map(|(_, p)| p.describe()),
        "headers": def.headers.iter().map(|(n, v)| (n.to_string(), Value::String(v.to_str().unwrap_or("(binary)").to_string()))).collect::<serde_json::Map<_, _>>(),
        "timeout": humantime::format_duration(def.timeout).to_string(),
        "retries": def.retries,
        "redirects": def.redirects,
        "test_path": def.test_path,
        "soap_version": (def.kind == Kind::Soap).then_some(def.soap_version),
        "test_action": def.test_action,
        "tags": def.tags,
        "unmapped_attributes": def.extra,
    })
}

async fn list(args: ListArgs) -> Result<Exit> {
    let config = load_config(&args.config).await?;
    let rows: Vec<Value> = config.connectors().map(|c| summary(&config, c)).collect();
    if output::json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        println!("no connectors in {}", args.config.source());
        return Ok(Exit::Ok);
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        // A list of TLS versions reads as the policy prints it: "TLS 1.2–1.3".
        Value::Array(items) => items
            .iter()
            .filter_map(|i| {
                i.as_str()
                    .and_then(|n| keyway_tls::TlsVersion::parse(n).ok())
            })
            .collect::<keyway_tls::VersionSet>()
            .to_string(),
        other => other.to_string(),
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            [
                "name",
                "kind",
                "url",
                "profile",
                "tls_versions",
                "keystore",
                "user",
            ]
            .iter()
            .map(|k| text(&r[*k]))
            .collect()
        })
        .collect();
    print!(
        "{}",
        crate::output::columns(
            &[
                "NAME",
                "KIND",
                "URL",
                "PROFILE",
                "TLS",
                "CLIENT CERT",
                "USER"
            ],
            &table
        )
    );
    Ok(Exit::Ok)
}

async fn show(args: NameArgs) -> Result<Exit> {
    let config = load_config(&args.config).await?;
    let def = config.connector(&args.name).map_err(anyhow::Error::msg)?;
    let s = summary(&config, def);
    if output::json() {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(Exit::Ok);
    }
    for (key, value) in s.as_object().into_iter().flatten() {
        let shown = match value {
            Value::Null => continue,
            Value::Object(m) if m.is_empty() => continue,
            Value::String(v) => v.clone(),
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        println!("{:<20} {shown}", format!("{}:", key.replace('_', " ")));
    }
    if !def.extra.is_empty() {
        println!(
            "note: {} imported attribute(s) keyway does not use are kept: {}",
            def.extra.len(),
            def.extra.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(Exit::Ok)
}

async fn build(args_config: &ConfigArg, name: &str) -> Result<Connector> {
    let config = load_config(args_config).await?;
    let def = config.connector(name).map_err(anyhow::Error::msg)?.clone();
    Ok(Connector::new(&config, &def)?)
}

async fn history(args: HistoryArgs) -> Result<Exit> {
    let store = open(&args.store).await?;
    let checks = store
        .connector_checks(&context(&args.store), &args.name, args.limit)
        .await?;
    output::list(
        &checks,
        "no checks yet: the watch of `keyway serve` checks every stored connector on its schedule (--audit-every)",
        &[
            "CHECKED",
            "STANDING",
            "CODE",
            "PARTNER CERTIFICATE",
            "SUMMARY",
        ],
        |c| {
            vec![
                time::OffsetDateTime::from_unix_timestamp(c.checked_at)
                    .map(output::iso)
                    .unwrap_or_default(),
                c.standing.clone(),
                c.code.clone().unwrap_or_else(|| "-".into()),
                c.server_sha256
                    .as_deref()
                    .map(|s| s.chars().take(23).collect::<String>() + "…")
                    .unwrap_or_else(|| "-".into()),
                c.summary.clone(),
            ]
        },
    )?;
    Ok(Exit::Ok)
}
