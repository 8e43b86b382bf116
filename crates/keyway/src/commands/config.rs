//! `keyway config import|export`: a keyway.toml into the store and back.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use keyway_keystore::file;
use keyway_store::ConfigImport;
use serde_json::json;

use crate::args::StoreArgs;
use crate::exit::Exit;
use crate::files::write_private;
use crate::output;
use crate::session::{block_on, context, open};

/// `keyway config`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Store what a keyway.toml (or a directory of them) describes: truststores,
    /// keystores, profiles, connectors and integrations.
    #[command(after_help = "Examples:
  keyway config import keyway.toml
  keyway config import /etc/keyway/conf.d --replace

The whole configuration is checked first (as `keyway connector list --config` does), then
every truststore and keystore file is read and every password resolved (env:, file:), and
nothing is stored unless all of it is good. Names the store has already are refused unless
--replace. Truststores and keystores need manage_trust; the rest manage_connectors.

Exit codes: 0 imported, 2 refused (a problem in the configuration or its files, a name
taken without --replace, a missing permission).")]
    Import(ConfigImportArgs),
    /// Write what the store holds as a keyway.toml with its truststore, keystore and
    /// password files beside it.
    #[command(after_help = "Example:
  keyway config export --out exported/

Writes DIR/keyway.toml, DIR/truststores/NAME.pem, DIR/keystores/NAME.p12|jks|… (as they
were stored) and DIR/secrets/*.pass (mode 0600) with the passwords the file refers to, so
`keyway config import DIR/keyway.toml` elsewhere makes the same store. An audited export;
needs manage_connectors and manage_trust.

Exit codes: 0 written, 2 refused (DIR not empty without --force, a missing permission).")]
    Export(ConfigExportArgs),
}

/// `keyway config import`
#[derive(Debug, Args)]
pub struct ConfigImportArgs {
    /// A keyway.toml, or a directory of *.toml files.
    pub path: PathBuf,
    /// Replace what the store already holds under the same names.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway config export`
#[derive(Debug, Args)]
pub struct ConfigExportArgs {
    /// The directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write into a directory that is not empty, replacing files of the same names.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway config …`
pub fn config(command: ConfigCommand) -> Result<Exit> {
    block_on(async {
        match command {
            ConfigCommand::Import(args) => import(args).await,
            ConfigCommand::Export(args) => export(args).await,
        }
    })
}

async fn import(args: ConfigImportArgs) -> Result<Exit> {
    let config = crate::commands::connector::load(&args.path)?;
    let import = ConfigImport::read(&config)?;
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let imported = store.import_config(&ctx, &import, args.replace).await?;
    if output::json() {
        let mut value = serde_json::to_value(&imported)?;
        value["from"] = json!(args.path);
        output::print_json(&value)?;
    } else {
        println!(
            "Imported {} into {}: {} truststore(s), {} keystore(s), {} profile(s), {} connector(s), {} integration(s){}",
            args.path.display(),
            store.database(),
            imported.truststores,
            imported.keystores,
            imported.profiles,
            imported.connectors,
            imported.integrations,
            if imported.replaced.is_empty() {
                String::new()
            } else {
                format!("; replaced {}", imported.replaced.join(", "))
            }
        );
    }
    Ok(Exit::Ok)
}

async fn export(args: ConfigExportArgs) -> Result<Exit> {
    let dir = &args.out;
    let not_empty = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if not_empty && !args.force {
        bail!(
            "{}: the directory is not empty; choose another --out or give --force to write into it",
            dir.display()
        );
    }
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let export = store.export_config(&ctx).await?;
    for exported in &export.files {
        let path = dir.join(&exported.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create it", parent.display()))?;
        }
        if exported.private {
            write_private(&path, &exported.content)?;
        } else {
            file::write_atomic(&path, &exported.content)?;
        }
    }
    let path = dir.join("keyway.toml");
    let counts = &export.counts;
    if output::json() {
        output::print_json(&json!({
            "out": path,
            "truststores": counts.truststores,
            "keystores": counts.keystores,
            "profiles": counts.profiles,
            "connectors": counts.connectors,
            "integrations": counts.integrations,
        }))?;
    } else {
        println!(
            "Exported to {}: {} truststore(s), {} keystore(s), {} profile(s), {} connector(s), {} integration(s); {} holds passwords (owner-only files)",
            path.display(),
            counts.truststores,
            counts.keystores,
            counts.profiles,
            counts.connectors,
            counts.integrations,
            dir.join("secrets").display()
        );
    }
    Ok(Exit::Ok)
}
