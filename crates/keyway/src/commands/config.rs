//! `keyway config import|export`: a keyway.toml into the store and back.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use keyway_connect::{AuthEntry, ConfigFile, ConnectorEntry, KeystoreEntry, SecretRef, StoreEntry};
use keyway_keystore::{Certificate, file};
use keyway_store::ConfigImport;
use serde_json::json;
use zeroize::Zeroizing;

use crate::args::StoreArgs;
use crate::commands::integration::integration_entry;
use crate::exit::Outcome;
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
pub fn config(command: ConfigCommand) -> Result<Outcome> {
    block_on(async {
        match command {
            ConfigCommand::Import(args) => import(args).await,
            ConfigCommand::Export(args) => export(args).await,
        }
    })
}

async fn import(args: ConfigImportArgs) -> Result<Outcome> {
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
    Ok(Outcome::Ok)
}

async fn export(args: ConfigExportArgs) -> Result<Outcome> {
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
    let config = store.connector_config(&ctx).await?;
    let truststores = store.truststores(&ctx).await?;
    let keystores = store.keystores(&ctx).await?;
    let profiles = store.profiles(&ctx).await?;
    let connectors = store.connectors(&ctx).await?;
    let integrations = store.integrations(&ctx).await?;
    for sub in ["truststores", "keystores", "secrets"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("{}: cannot create it", dir.join(sub).display()))?;
    }
    let secret = |name: String, value: &str| -> Result<SecretRef> {
        let relative = Path::new("secrets").join(format!("{name}.pass"));
        write_private(&dir.join(&relative), format!("{value}\n").as_bytes())?;
        Ok(SecretRef::File { file: relative })
    };
    let mut out = ConfigFile::default();
    for t in &truststores {
        let relative = Path::new("truststores").join(format!("{}.pem", t.name));
        let pem: String = t.certificates.iter().map(Certificate::to_pem).collect();
        file::write_atomic(&dir.join(&relative), pem.as_bytes())?;
        out.truststores.insert(
            t.name.clone(),
            StoreEntry {
                path: relative,
                format: Some("pem".into()),
                password: None,
            },
        );
    }
    for k in &keystores {
        let (stored, secrets) = store.export_keystore(&ctx, &k.name).await?;
        let ext = match stored.format.as_str() {
            "pkcs12" => "p12",
            other => other,
        };
        let relative = Path::new("keystores").join(format!("{}.{ext}", k.name));
        write_private(&dir.join(&relative), &secrets.content)?;
        let password = secret(format!("keystore-{}", k.name), &secrets.password)?;
        let key_password = if stored.has_key_password {
            Some(secret(
                format!("keystore-{}-key", k.name),
                &secrets.key_password,
            )?)
        } else {
            None
        };
        out.keystores.insert(
            k.name.clone(),
            KeystoreEntry {
                path: relative,
                format: Some(stored.format.clone()),
                password,
                alias: Some(stored.alias.clone()),
                key_password,
            },
        );
    }
    for p in profiles {
        out.profiles.insert(p.name, p.definition);
    }
    for c in connectors {
        let mut entry: ConnectorEntry = c.definition;
        if let Some(user) = c.username {
            let password: Zeroizing<String> = match config
                .connector_entry(&c.name)
                .and_then(|e| e.auth.as_ref())
                .map(|a| &a.password)
            {
                Some(SecretRef::Inline(p)) => Zeroizing::new(p.clone()),
                _ => bail!("connector {}: its password could not be read", c.name),
            };
            entry.auth = Some(AuthEntry {
                username: user,
                password: secret(format!("connector-{}", c.name), &password)?,
            });
        }
        out.connectors.insert(c.name, entry);
    }
    for i in &integrations {
        out.integrations
            .insert(i.name.clone(), integration_entry(i));
    }
    let toml = toml::to_string_pretty(&out).context("writing the configuration as TOML")?;
    let path = dir.join("keyway.toml");
    file::write_atomic(
        &path,
        format!(
            "# Exported from {} by keyway config export; passwords are in secrets/.\n\n{toml}",
            store.database()
        )
        .as_bytes(),
    )?;
    let counts = json!({
        "out": path,
        "truststores": truststores.len(),
        "keystores": keystores.len(),
        "profiles": out.profiles.len(),
        "connectors": out.connectors.len(),
        "integrations": integrations.len(),
    });
    if output::json() {
        println!("{}", serde_json::to_string_pretty(&counts)?);
    } else {
        println!(
            "Exported to {}: {} truststore(s), {} keystore(s), {} profile(s), {} connector(s), {} integration(s); {} holds passwords (owner-only files)",
            path.display(),
            truststores.len(),
            keystores.len(),
            out.profiles.len(),
            out.connectors.len(),
            integrations.len(),
            dir.join("secrets").display()
        );
    }
    Ok(Outcome::Ok)
}
