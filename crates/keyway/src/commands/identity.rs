//! `keyway identity …`: named keystores in the store, the key and chain a connector
//! presents for two-way TLS.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use keyway_keystore::{Format, file};
use keyway_store::{NewKeystore, StoredKeystore};
use time::OffsetDateTime;

use crate::args::StoreArgs;
use crate::commands::truststore::TruststoreListArgs;
use crate::exit::Exit;
use crate::files::{identity_format, identity_password, refuse_existing, write_identity};
use crate::session::{block_on, context, open};
use crate::{output, secret};

/// `keyway identity`
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Store a keystore file (PKCS#12, JKS, JCEKS, PEM) with its passwords, sealed.
    #[command(after_help = "Examples:
  keyway identity add acme acme-client.p12 --storepass env:P12_PASS
  keyway identity add legacy partner.jks --storepass file:jks.pass --keypass env:KEY_PASS --alias orders
  keyway identity add acme acme-client-2027.p12 --storepass env:P12_PASS --replace --if-version 1

The file must open with its password and hold a private key entry; the one connectors
present is --alias, or the only key. Its key must open with --keypass (default: the store
password). The file and passwords are sealed with the master key; the certificates are
kept in plain for listings and expiry warnings. Needs manage_trust.

Exit codes: 0 stored, 2 refused (wrong password, no key, several keys and no --alias, name taken without --replace).")]
    Add(IdentityAddArgs),
    /// List the stored keystores: name, type, the alias presented, its subject and expiry.
    #[command(after_help = "Example:\n  keyway identity list --json")]
    List(TruststoreListArgs),
    /// Show a stored keystore's entries and their certificates.
    #[command(after_help = "Example:\n  keyway identity show acme")]
    Show(IdentityNameArgs),
    /// Remove a stored keystore.
    #[command(after_help = "Example:\n  keyway identity remove acme --if-version 2")]
    Remove(IdentityNameArgs),
    /// Write a stored keystore out: the file as it was stored, or the presented key and
    /// chain as a new PKCS#12, JKS or PEM file.
    #[command(after_help = "Examples:
  keyway identity export acme --out acme.p12                         # as stored, same password
  keyway identity export acme --out acme.jks --password changeit     # the key entry, as a new JKS

An audited export; needs manage_trust.")]
    Export(IdentityExportArgs),
}

/// `keyway identity add`
#[derive(Debug, Args)]
pub struct IdentityAddArgs {
    /// The keystore's name, as connectors refer to it.
    pub name: String,
    /// The keystore file.
    pub file: std::path::PathBuf,
    /// The store password: a value, env:VAR or file:PATH; prompted for when left out.
    #[arg(long, value_name = "PASSWORD")]
    pub storepass: Option<String>,
    /// The key password, when it differs from the store password (JKS).
    #[arg(long, value_name = "PASSWORD")]
    pub keypass: Option<String>,
    /// The key entry to present; may be left out when the file holds one key.
    #[arg(long)]
    pub alias: Option<String>,
    /// The file's type (jks, jceks, pkcs12, pem); detected when left out.
    #[arg(long = "type", value_name = "TYPE")]
    pub store_type: Option<String>,
    /// Replace an existing keystore of that name (a renewed certificate).
    #[arg(long)]
    pub replace: bool,
    /// With --replace: only if the keystore is still at this version.
    #[arg(long, value_name = "N", requires = "replace")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway identity show|remove NAME`
#[derive(Debug, Args)]
pub struct IdentityNameArgs {
    /// The keystore.
    pub name: String,
    /// Remove only if the keystore is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway identity export`
#[derive(Debug, Args)]
pub struct IdentityExportArgs {
    /// The keystore.
    pub name: String,
    #[command(flatten)]
    pub out: crate::args::IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway identity …`
pub fn identity(command: IdentityCommand) -> Result<Exit> {
    block_on(async {
        match command {
            IdentityCommand::Add(args) => add(args).await,
            IdentityCommand::List(args) => {
                let store = open(&args.store).await?;
                let stores = store.keystores(&context(&args.store)).await?;
                if output::json() {
                    println!("{}", serde_json::to_string_pretty(&stores)?);
                } else if stores.is_empty() {
                    println!("no keystores (`keyway identity add NAME FILE` stores one)");
                } else {
                    let rows: Vec<Vec<String>> = stores
                        .iter()
                        .map(|k| {
                            let (subject, until) = match k.key_entry().and_then(|e| e.chain.first())
                            {
                                Some(c) => (
                                    c.info().subject.clone(),
                                    output::until(c.info().not_after, OffsetDateTime::now_utc()),
                                ),
                                None => ("-".into(), "-".into()),
                            };
                            vec![
                                k.name.clone(),
                                k.format.clone(),
                                k.alias.clone(),
                                until,
                                k.version.to_string(),
                                subject,
                            ]
                        })
                        .collect();
                    let mut text = output::columns(
                        &["NAME", "TYPE", "ALIAS", "UNTIL", "VERSION", "SUBJECT"],
                        &rows,
                    );
                    let ends = stores.iter().filter_map(|k| {
                        k.key_entry()
                            .and_then(|e| e.chain.first())
                            .map(|c| c.info().not_after)
                    });
                    if let Some(summary) = output::expiry_summary(ends, OffsetDateTime::now_utc()) {
                        text.push_str(&format!("\n{summary}\n"));
                    }
                    print!("{}", output::color_markers(&text, output::color_wanted()));
                }
                Ok(Exit::Ok)
            }
            IdentityCommand::Show(args) => {
                let store = open(&args.store).await?;
                let found = store.keystore(&context(&args.store), &args.name).await?;
                print_keystore(&found, output::json(), None)
            }
            IdentityCommand::Remove(args) => {
                let store = open(&args.store).await?;
                store
                    .remove_keystore(&context(&args.store), &args.name, args.if_version)
                    .await?;
                if output::json() {
                    println!("{}", serde_json::json!({"removed": args.name}));
                } else {
                    println!("keystore {}: removed", args.name);
                }
                Ok(Exit::Ok)
            }
            IdentityCommand::Export(args) => export(args).await,
        }
    })
}

async fn add(args: IdentityAddArgs) -> Result<Exit> {
    let format = args
        .store_type
        .as_deref()
        .map(|t| t.parse::<Format>().map_err(anyhow::Error::msg))
        .transpose()?;
    let content = file::read_bytes(&args.file)?;
    // A PEM or DER file whose key is not encrypted has no password to ask for.
    let password = match args.storepass.as_deref() {
        None if !file::needs_password(&args.file, format) => Default::default(),
        given => secret::obtain(
            given,
            "--storepass",
            &format!("Password of {}", args.file.display()),
        )?,
    };
    let key_password = args
        .keypass
        .as_deref()
        .map(|p| secret::resolve(p, "--keypass"))
        .transpose()?;
    let keystore = NewKeystore {
        content,
        format,
        password,
        key_password,
        alias: args.alias.clone(),
        source: args.file.display().to_string(),
    };
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let saved = if args.replace {
        store
            .replace_keystore(&ctx, &args.name, keystore, args.if_version)
            .await?
    } else {
        store.add_keystore(&ctx, &args.name, keystore).await?
    };
    if let Some(entry) = saved.key_entry() {
        output::warn_dates(entry.chain.iter().map(|c| c.info()));
    }
    let done = if args.replace { "replaced" } else { "added" };
    print_keystore(&saved, output::json(), Some(done))
}

async fn export(args: IdentityExportArgs) -> Result<Exit> {
    let out = &args.out;
    let as_stored = out.password.is_none() && out.out_type.is_none() && !out.no_passphrase;
    // Checked before the export is made (and audited).
    let new_file = if as_stored {
        refuse_existing(&out.out, out.force)?;
        None
    } else {
        let format = identity_format(out)?;
        Some((format, identity_password(out, format)?))
    };
    let store = open(&args.store).await?;
    let (stored, secrets) = store
        .export_keystore(&context(&args.store), &args.name)
        .await?;
    match new_file {
        None => {
            let named = out
                .out
                .extension()
                .and_then(|e| e.to_str())
                .and_then(|e| e.parse::<Format>().ok());
            if named.is_some_and(|f| f != secrets.format) {
                bail!(
                    "{}: keystore {} is {}; name the file for that type, or give --password (and --out-type) to write its key entry as a new file of another type",
                    out.out.display(),
                    args.name,
                    secrets.format
                );
            }
            file::write_atomic(&out.out, &secrets.content)?;
        }
        Some((format, password)) => {
            let (key, chain) = secrets.identity()?;
            write_identity(
                out,
                format,
                password.as_deref().map(|p| p.as_str()),
                key,
                chain,
            )?;
        }
    }
    let done = format!("written to {}", out.out.display());
    print_keystore(&stored, output::json(), Some(&done))
}

fn print_keystore(found: &StoredKeystore, json: bool, done: Option<&str>) -> Result<Exit> {
    if json {
        println!("{}", serde_json::to_string_pretty(found)?);
        return Ok(Exit::Ok);
    }
    if let Some(done) = done {
        println!("keystore {}: {done}", found.name);
    }
    let changed = OffsetDateTime::from_unix_timestamp(found.updated_at)
        .map(|t| t.date().to_string())
        .unwrap_or_default();
    println!(
        "  type:     {}\n  from:     {}\n  presents: {}{}\n  changed:  {changed} (version {})\n  {} entr{}:",
        found.format,
        found.source,
        found.alias,
        if found.has_key_password {
            " (key password of its own)"
        } else {
            ""
        },
        found.version,
        found.entries.len(),
        if found.entries.len() == 1 { "y" } else { "ies" }
    );
    for entry in &found.entries {
        println!("    {} ({})", entry.alias, entry.kind);
        for cert in &entry.chain {
            let info = cert.info();
            println!(
                "      {}\n        SHA-256 {}, until {}",
                output::clean(&info.subject),
                info.sha256,
                output::color_markers(
                    &output::until(info.not_after, OffsetDateTime::now_utc()),
                    output::color_wanted()
                )
            );
        }
    }
    Ok(Exit::Ok)
}
