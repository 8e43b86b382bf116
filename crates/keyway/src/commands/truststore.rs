//! `keyway truststore …`: named truststores in the store.

use std::path::Path;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use keyway_keystore::{Certificate, Format, Keystore, WriteOptions, file};
use keyway_store::Truststore;
use serde_json::json;
use time::OffsetDateTime;

use crate::args::StoreArgs;
use crate::exit::Exit;
use crate::files::refuse_existing;
use crate::session::{block_on, context, open};
use crate::{output, secret};

/// `keyway truststore …`
#[derive(Debug, Subcommand)]
pub enum TruststoreCommand {
    /// Store the certificates of a file (PEM, DER, JKS, PKCS#12) as a named truststore.
    #[command(after_help = "Examples:
  keyway truststore add partner-cas partner-root.pem
  keyway truststore add partners partners.jks --storepass env:JKS_PASS
  keyway truststore add partners partners-2027.pem --replace --if-version 3

Exit codes: 0 stored, 2 refused (name taken without --replace, no certificate, wrong password).")]
    Add(TruststoreAddArgs),
    /// List the truststores.
    #[command(after_help = "Example:\n  keyway truststore list --json")]
    List(TruststoreListArgs),
    /// Show a truststore's certificates.
    #[command(after_help = "Example:\n  keyway truststore show partners")]
    Show(TruststoreNameArgs),
    /// Remove a truststore.
    #[command(after_help = "Example:\n  keyway truststore remove partners --if-version 2")]
    Remove(TruststoreNameArgs),
    /// Write a truststore's certificates to a PEM, JKS or PKCS#12 file.
    #[command(after_help = "Examples:
  keyway truststore export partners --out partners.pem
  keyway truststore export partners --out partners.jks --storepass changeit")]
    Export(TruststoreExportArgs),
}

/// `keyway truststore add`
#[derive(Debug, Args)]
pub struct TruststoreAddArgs {
    /// The truststore's name.
    pub name: String,
    /// The file to read.
    pub file: std::path::PathBuf,
    /// The file's password (JKS, PKCS#12): a value, env:VAR or file:PATH.
    #[arg(long, value_name = "PASSWORD")]
    pub storepass: Option<String>,
    /// Replace the certificates of an existing truststore of that name.
    #[arg(long)]
    pub replace: bool,
    /// With --replace: only if the truststore is still at this version.
    #[arg(long, value_name = "N", requires = "replace")]
    pub if_version: Option<i64>,
    /// With --replace: go ahead although a CA left out is where working connectors'
    /// partner chains end (as the watch last saw them).
    #[arg(long, requires = "replace")]
    pub force: bool,
    /// Trust the certificate chains of the file's private key entries too (a keystore's
    /// own identity); without it such a file is refused.
    #[arg(long)]
    pub include_key_entries: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway truststore list`
#[derive(Debug, Args)]
pub struct TruststoreListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway truststore show|remove NAME`
#[derive(Debug, Args)]
pub struct TruststoreNameArgs {
    /// The truststore.
    pub name: String,
    /// Remove only if the truststore is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway truststore export`
#[derive(Debug, Args)]
pub struct TruststoreExportArgs {
    /// The truststore.
    pub name: String,
    /// Where to write (.pem, .jks, .p12/.pfx). An existing file is refused unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: std::path::PathBuf,
    /// The new file's password (JKS, PKCS#12).
    #[arg(long, value_name = "PASSWORD")]
    pub storepass: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Every certificate in `path` (PEM, DER, JKS, PKCS#12).
pub(crate) fn read_certs(path: &Path, password: Option<&str>) -> Result<Vec<Certificate>> {
    let bytes = file::read_bytes(path)?;
    Ok(keyway_pki::read_certificates(
        &bytes,
        password,
        &path.display().to_string(),
    )?)
}

/// A truststore says whom to trust. A keystore's private key entries hold an identity
/// (our own certificate and its issuers), and trusting that chain by accident would
/// trust our own leaf and whatever its CA signs: refused unless asked for.
fn refuse_key_entries(path: &Path, password: Option<&str>) -> Result<()> {
    let bytes = file::read_bytes(path)?;
    // A file that does not open here is left to read_certs, which says why.
    let Ok(store) = keyway_keystore::Keystore::from_bytes(&bytes, None, password) else {
        return Ok(());
    };
    let keys: Vec<String> = store
        .entries()
        .iter()
        .filter(|e| e.entry_type() == keyway_keystore::EntryType::PrivateKey)
        .map(|e| output::clean(&e.alias).into_owned())
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let trusted = store.entries().len() - keys.len();
    bail!(
        "{}: holds private key entries ({}): their certificate chains are an identity to present, not CAs to trust. \
         Add the partner CAs from a file of trusted certificates{}, or give --include-key-entries to trust those chains too",
        path.display(),
        keys.join(", "),
        if trusted > 0 {
            format!(
                " (this one also holds {trusted} trusted certificate entr{}: `keyway keystore export FILE --alias ALIAS --out ca.pem` writes one)",
                if trusted == 1 { "y" } else { "ies" }
            )
        } else {
            String::new()
        }
    )
}

/// `keyway truststore …`
pub fn truststore(command: TruststoreCommand) -> Result<Exit> {
    block_on(async {
        match command {
            TruststoreCommand::Add(args) => truststore_add(args).await,
            TruststoreCommand::List(args) => {
                let store = open(&args.store).await?;
                let stores = store.truststores(&context(&args.store)).await?;
                output::list(
                    &stores,
                    "no truststores (`keyway truststore add NAME FILE` makes one)",
                    &["NAME", "CERTIFICATES", "CHANGED", "VERSION", "FROM"],
                    |t| {
                        vec![
                            t.name.clone(),
                            t.certificates.len().to_string(),
                            output::date(Some(t.updated_at)),
                            t.version.to_string(),
                            t.source.clone(),
                        ]
                    },
                )
            }
            TruststoreCommand::Show(args) => {
                let store = open(&args.store).await?;
                let found = store.truststore(&context(&args.store), &args.name).await?;
                print_truststore(&found, output::json(), None)
            }
            TruststoreCommand::Remove(args) => {
                let store = open(&args.store).await?;
                store
                    .remove_truststore(&context(&args.store), &args.name, args.if_version)
                    .await?;
                if output::json() {
                    println!("{}", json!({"removed": args.name}));
                } else {
                    println!("truststore {}: removed", args.name);
                }
                Ok(Exit::Ok)
            }
            TruststoreCommand::Export(args) => truststore_export(args).await,
        }
    })
}

async fn truststore_add(args: TruststoreAddArgs) -> Result<Exit> {
    let password = args
        .storepass
        .as_deref()
        .map(|p| secret::resolve(p, "--storepass"))
        .transpose()?;
    if !args.include_key_entries {
        refuse_key_entries(&args.file, password.as_deref().map(|p| p.as_str()))?;
    }
    let certs = read_certs(&args.file, password.as_deref().map(|p| p.as_str()))?;
    output::warn_dates(certs.iter().map(Certificate::info));
    let source = args.file.display().to_string();
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let saved = if args.replace {
        store
            .replace_truststore(
                &ctx,
                &args.name,
                certs,
                &source,
                args.if_version,
                args.force,
            )
            .await?
    } else {
        store
            .add_truststore(&ctx, &args.name, certs, &source)
            .await?
    };
    let done = if args.replace { "replaced" } else { "added" };
    print_truststore(&saved, output::json(), Some(done))
}

async fn truststore_export(args: TruststoreExportArgs) -> Result<Exit> {
    refuse_existing(&args.out, args.force)?;
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let format = match ext.as_deref() {
        Some("jks") => Format::Jks,
        Some("p12" | "pfx") => Format::Pkcs12,
        Some("pem" | "crt") => Format::Pem,
        _ => bail!(
            "{}: name it .pem, .jks or .p12 to say which type to write",
            args.out.display()
        ),
    };
    let password = match (&args.storepass, format) {
        (Some(p), _) => Some(secret::resolve(p, "--storepass")?),
        (None, Format::Pem) => None,
        (None, _) => Some(secret::prompt(
            "--storepass",
            &format!("Password for the new {format} file {}", args.out.display()),
        )?),
    };
    let store = open(&args.store).await?;
    let found = store.truststore(&context(&args.store), &args.name).await?;
    let mut written = Keystore::new(format);
    for (i, cert) in found.certificates.iter().enumerate() {
        written.add_trusted_cert(&format!("{}-{}", args.name, i + 1), cert.clone())?;
    }
    let options = WriteOptions {
        store_password: password.as_deref().map(|p| p.to_string()),
        key_password: None,
        pkcs12_legacy: false,
    };
    file::save(&args.out, &written, format, &options)?;
    let done = format!("written to {}", args.out.display());
    print_truststore(&found, output::json(), Some(&done))
}

fn print_truststore(found: &Truststore, json: bool, done: Option<&str>) -> Result<Exit> {
    if json {
        println!("{}", serde_json::to_string_pretty(found)?);
        return Ok(Exit::Ok);
    }
    if let Some(done) = done {
        println!("truststore {}: {done}", found.name);
    }
    println!(
        "  from:    {}\n  changed: {} (version {})\n  {} certificate(s):",
        found.source,
        output::date(Some(found.updated_at)),
        found.version,
        found.certificates.len()
    );
    let now = OffsetDateTime::now_utc();
    let mut text = String::new();
    for cert in &found.certificates {
        let info = cert.info();
        text.push_str(&format!(
            "    {}\n      SHA-256 {}, until {}\n",
            output::clean(&info.subject),
            info.sha256,
            output::until(info.not_after, now)
        ));
    }
    if let Some(summary) =
        output::expiry_summary(found.certificates.iter().map(|c| c.info().not_after), now)
    {
        text.push_str(&format!("  {summary}\n"));
    }
    print!("{}", output::color_markers(&text, output::color_wanted()));
    Ok(Exit::Ok)
}
