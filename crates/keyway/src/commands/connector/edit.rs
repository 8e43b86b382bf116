//! `keyway connector add|remove`: connectors in the store.

use anyhow::{Result, bail};
use clap::Args;
use keyway_connect::ConnectorEntry;
use keyway_store::{NewConnector, Save};
use serde_json::json;

use crate::args::StoreArgs;
use crate::exit::Exit;
use crate::output;
use crate::session::{context, open};

/// `connector add`
#[derive(Debug, Args)]
pub struct ConnectorAddArgs {
    /// The connector's name.
    pub name: String,
    /// The base URL, `https://host[:port][/path]`.
    #[arg(long)]
    pub url: String,
    /// rest or soap.
    #[arg(long, default_value = "rest", value_parser = ["rest", "soap"])]
    pub kind: String,
    /// A truststore kept in the store; repeat for several (none: the system roots).
    #[arg(long = "truststore", value_name = "NAME")]
    pub truststores: Vec<String>,
    /// A keystore kept in the store whose key is presented (two-way TLS).
    #[arg(long, value_name = "NAME")]
    pub keystore: Option<String>,
    /// With --keystore: the key entry it must present (chosen when the keystore was added).
    #[arg(long, requires = "keystore")]
    pub alias: Option<String>,
    /// Lowest allowable TLS version: SSLv3, 1.0, 1.1, 1.2 (default) or 1.3.
    #[arg(long, value_name = "VERSION")]
    pub min_tls: Option<String>,
    /// The name to send as SNI and check the certificate against, instead of the URL's
    /// host (an endpoint reached by IP address or another name).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Basic-auth user name.
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,
    /// A tag for choosing connectors together (`keyway audit --tag TAG`); repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Read the basic-auth password from the first line of standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    #[command(flatten)]
    pub proxy: crate::args::ProxyArgs,
    /// Replace a connector of that name.
    #[arg(long)]
    pub replace: bool,
    /// With --replace: only if the connector is still at this version.
    #[arg(long, value_name = "N", requires = "replace")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `connector remove`
#[derive(Debug, Args)]
pub struct ConnectorRemoveArgs {
    /// The connector.
    pub name: String,
    /// Only if the connector is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway connector add`: a connector in the store with a profile of its own.
pub async fn connector_add(args: ConnectorAddArgs) -> Result<Exit> {
    let password = if args.password_stdin {
        Some(crate::session::read_stdin_password()?)
    } else {
        None
    };
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    if let (Some(keystore), Some(alias)) = (&args.keystore, &args.alias) {
        let stored = store.keystore(&ctx, keystore).await?;
        if &stored.alias != alias {
            bail!(
                "keystore {keystore} presents alias \"{}\", not \"{alias}\": store it again choosing that key (`keyway keystore add {keystore} FILE --alias {alias} --replace`)",
                stored.alias
            );
        }
    }
    let lowest_version = args.min_tls.as_deref().map(|v| {
        if v.starts_with(|c: char| c.is_ascii_digit()) {
            format!("TLS {v}")
        } else {
            v.to_string()
        }
    });
    let profile = keyway_connect::ProfileEntry {
        truststores: args.truststores.clone(),
        keystore: args.keystore.clone(),
        lowest_version,
        server_name: args.server_name.clone(),
        proxy: args.proxy.entry()?,
        ..keyway_connect::ProfileEntry::default()
    };
    let profile_existed = store
        .profiles(&ctx)
        .await?
        .iter()
        .any(|p| p.name == args.name);
    let profile_save = if profile_existed && args.replace {
        Save::Replace(None)
    } else {
        Save::Add
    };
    store
        .save_profile(&ctx, &args.name, profile, profile_save)
        .await?;
    let definition = ConnectorEntry {
        kind: args.kind.clone(),
        url: args.url.clone(),
        profile: Some(args.name.clone()),
        tags: args.tags.clone(),
        ..ConnectorEntry::default()
    };
    let connector = NewConnector {
        definition,
        auth: args.username.clone().zip(password),
    };
    let save = if args.replace {
        Save::Replace(args.if_version)
    } else {
        Save::Add
    };
    let saved = match store
        .save_connector(&ctx, &args.name, connector, save)
        .await
    {
        Ok(saved) => saved,
        Err(e) => {
            // Leave no profile behind for a connector that was not stored.
            if !profile_existed {
                let _ = store
                    .remove_definition(&ctx, "profile", &args.name, None)
                    .await;
            }
            return Err(e.into());
        }
    };
    if output::json() {
        println!("{}", serde_json::to_string_pretty(&saved)?);
    } else {
        println!(
            "connector {}: stored ({} {}, profile {}{}), version {}",
            saved.name,
            saved.definition.kind,
            saved.definition.url,
            args.name,
            saved
                .username
                .as_deref()
                .map(|u| format!(", basic auth as {u}"))
                .unwrap_or_default(),
            saved.version
        );
    }
    Ok(Exit::Ok)
}

/// `keyway connector remove`: the connector, and its own profile when nothing else uses
/// it.
pub async fn connector_remove(args: ConnectorRemoveArgs) -> Result<Exit> {
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let own_profile = store
        .connectors(&ctx)
        .await?
        .into_iter()
        .find(|c| c.name == args.name)
        .and_then(|c| c.definition.profile)
        .filter(|p| p == &args.name);
    store
        .remove_definition(&ctx, "connector", &args.name, args.if_version)
        .await?;
    let profile_removed = match own_profile {
        Some(profile) => store
            .remove_definition(&ctx, "profile", &profile, None)
            .await
            .is_ok(),
        None => false,
    };
    if output::json() {
        println!(
            "{}",
            json!({"removed": args.name, "profile_removed": profile_removed})
        );
    } else {
        println!(
            "connector {}: removed{}",
            args.name,
            if profile_removed {
                ", with its profile"
            } else {
                ""
            }
        );
    }
    Ok(Exit::Ok)
}
