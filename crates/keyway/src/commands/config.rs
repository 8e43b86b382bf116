//! `keyway config import|export`: a keyway.toml into the store and back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use keyway_connect::{
    AuthEntry, Config, ConfigFile, ConnectorEntry, IntegrationEntry, KeystoreEntry, SecretRef,
    StoreEntry,
};
use keyway_keystore::{Certificate, file};
use keyway_store::{NewConnector, NewIntegration, NewKeystore, Save};
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

/// Everything a configuration holds, read and resolved before anything is stored.
struct Prepared {
    truststores: Vec<(String, Vec<Certificate>, String)>,
    keystores: Vec<(String, NewKeystore)>,
    profiles: Vec<(String, keyway_connect::ProfileEntry)>,
    connectors: Vec<(String, NewConnector)>,
    integrations: Vec<(String, IntegrationEntry)>,
}

fn prepare(config: &Config) -> Result<Prepared> {
    let mut truststores = Vec::new();
    for t in config.truststore_files()? {
        let bytes = file::read_bytes(&t.path)?;
        let source = t.path.display().to_string();
        let certs = keyway_pki::read_certificates(
            &bytes,
            t.password.as_deref().map(|p| p.as_str()),
            &source,
        )
        .with_context(|| format!("truststore \"{}\"", t.name))?;
        truststores.push((t.name, certs, source));
    }
    let mut keystores = Vec::new();
    for k in config.keystore_files()? {
        let keystore = NewKeystore {
            content: file::read_bytes(&k.path)?,
            format: k.format,
            password: k.password.unwrap_or_default(),
            key_password: k.key_password,
            alias: k.alias,
            source: k.path.display().to_string(),
        };
        keystore.check(&k.name)?;
        keystores.push((k.name, keystore));
    }
    let profiles = config
        .profiles()
        .map(|(n, e)| (n.to_string(), e.clone()))
        .collect();
    let mut connectors = Vec::new();
    for def in config.connectors() {
        let Some(entry) = config.connector_entry(&def.name) else {
            continue;
        };
        let mut definition = entry.clone();
        definition.auth = None;
        let auth = config.auth(def)?;
        connectors.push((def.name.clone(), NewConnector { definition, auth }));
    }
    let integrations = config
        .integrations()
        .map(|(n, e)| (n.to_string(), e.clone()))
        .collect();
    Ok(Prepared {
        truststores,
        keystores,
        profiles,
        connectors,
        integrations,
    })
}

async fn import(args: ConfigImportArgs) -> Result<Outcome> {
    let config = crate::commands::connector::load(&args.path)?;
    let prepared = prepare(&config)?;
    let store = open(&args.store).await?;
    let ctx = context(&args.store);

    // What the store has already (reading profiles also checks manage_connectors, so a
    // missing permission stops the import before anything is written).
    let names = |v: Vec<String>| v.into_iter().collect::<BTreeSet<String>>();
    let have_profiles = names(
        store
            .profiles(&ctx)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect(),
    );
    let have_connectors = names(
        store
            .connectors(&ctx)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect(),
    );
    let have_integrations = names(
        store
            .integrations(&ctx)
            .await?
            .into_iter()
            .map(|i| i.name)
            .collect(),
    );
    let have_truststores = names(
        store
            .truststores(&ctx)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect(),
    );
    let have_keystores = names(
        store
            .keystores(&ctx)
            .await?
            .into_iter()
            .map(|k| k.name)
            .collect(),
    );
    let mut taken = Vec::new();
    let mut check = |kind: &str, have: &BTreeSet<String>, wanted: Vec<&String>| {
        for name in wanted {
            if have.contains(name) {
                taken.push(format!("{kind} {name}"));
            }
        }
    };
    check(
        "truststore",
        &have_truststores,
        prepared.truststores.iter().map(|t| &t.0).collect(),
    );
    check(
        "keystore",
        &have_keystores,
        prepared.keystores.iter().map(|k| &k.0).collect(),
    );
    check(
        "profile",
        &have_profiles,
        prepared.profiles.iter().map(|p| &p.0).collect(),
    );
    check(
        "connector",
        &have_connectors,
        prepared.connectors.iter().map(|c| &c.0).collect(),
    );
    check(
        "integration",
        &have_integrations,
        prepared.integrations.iter().map(|i| &i.0).collect(),
    );
    if !taken.is_empty() && !args.replace {
        bail!(
            "the store has {} already; nothing was imported (give --replace to replace them)",
            taken.join(", ")
        );
    }

    let save = |have: &BTreeSet<String>, name: &str| {
        if have.contains(name) {
            Save::Replace(None)
        } else {
            Save::Add
        }
    };
    for (name, certs, source) in &prepared.truststores {
        if have_truststores.contains(name) {
            store
                .replace_truststore(&ctx, name, certs.clone(), source, None)
                .await?;
        } else {
            store
                .add_truststore(&ctx, name, certs.clone(), source)
                .await?;
        }
    }
    for (name, keystore) in &prepared.keystores {
        if have_keystores.contains(name) {
            store
                .replace_keystore(&ctx, name, keystore.clone(), None)
                .await?;
        } else {
            store.add_keystore(&ctx, name, keystore.clone()).await?;
        }
    }
    for (name, profile) in &prepared.profiles {
        store
            .save_profile(&ctx, name, profile.clone(), save(&have_profiles, name))
            .await?;
    }
    for (name, connector) in &prepared.connectors {
        store
            .save_connector(&ctx, name, connector.clone(), save(&have_connectors, name))
            .await?;
    }
    for (name, entry) in &prepared.integrations {
        let integration = NewIntegration {
            connector: entry.connector.clone(),
            description: entry.description.clone(),
            require_password: entry.require_password,
        };
        store
            .save_integration(&ctx, name, integration, save(&have_integrations, name))
            .await?;
    }
    let counts = json!({
        "from": args.path,
        "truststores": prepared.truststores.len(),
        "keystores": prepared.keystores.len(),
        "profiles": prepared.profiles.len(),
        "connectors": prepared.connectors.len(),
        "integrations": prepared.integrations.len(),
        "replaced": taken,
    });
    if output::json() {
        println!("{}", serde_json::to_string_pretty(&counts)?);
    } else {
        println!(
            "Imported {} into {}: {} truststore(s), {} keystore(s), {} profile(s), {} connector(s), {} integration(s){}",
            args.path.display(),
            store.database(),
            prepared.truststores.len(),
            prepared.keystores.len(),
            prepared.profiles.len(),
            prepared.connectors.len(),
            prepared.integrations.len(),
            if taken.is_empty() {
                String::new()
            } else {
                format!("; replaced {}", taken.join(", "))
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
