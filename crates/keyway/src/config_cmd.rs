//! `keyway config import|export` (a keyway.toml into keyway's store and back) and
//! `keyway integration …`. Checks, sealing and auditing happen in keyway-store; this
//! module reads and writes the files.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use keyway_connect::{
    AuthEntry, Config, ConfigFile, ConnectorEntry, IntegrationEntry, KeystoreEntry, SecretRef,
    StoreEntry,
};
use keyway_keystore::{Certificate, file};
use keyway_store::{Integration, NewConnector, NewIntegration, NewKeystore, Save};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::config::{ConfigCommand, ConfigExportArgs, ConfigImportArgs, IntegrationCommand};
use crate::cli::connector::{ConnectorAddArgs, ConnectorRemoveArgs};
use crate::files::write_private;
use crate::session::{block_on, context, open};
use crate::{Outcome, output};

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
    let config = crate::connector_cmd::load(&args.path)?;
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
    if args.store.data.json {
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
    if args.store.data.json {
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

fn integration_entry(i: &Integration) -> IntegrationEntry {
    IntegrationEntry {
        connector: i.connector.clone(),
        description: i.description.clone(),
        require_password: i.require_password,
    }
}

/// `keyway integration …`
pub fn integration(command: IntegrationCommand) -> Result<Outcome> {
    block_on(async {
        match command {
            IntegrationCommand::Add(args) => {
                let store = open(&args.store).await?;
                let save = if args.replace {
                    Save::Replace(args.if_version)
                } else {
                    Save::Add
                };
                let integration = NewIntegration {
                    connector: args.connector.clone(),
                    description: args.description.clone(),
                    require_password: args.require_password,
                };
                let saved = store
                    .save_integration(&context(&args.store), &args.name, integration, save)
                    .await?;
                print_integration(&saved, args.store.data.json)
            }
            IntegrationCommand::List(args) => {
                let store = open(&args.store).await?;
                let all = store.integrations(&context(&args.store)).await?;
                if args.store.data.json {
                    println!("{}", serde_json::to_string_pretty(&all)?);
                } else if all.is_empty() {
                    println!(
                        "no integrations (`keyway integration add NAME --connector C` makes one)"
                    );
                } else {
                    let rows: Vec<Vec<String>> = all
                        .iter()
                        .map(|i| {
                            vec![
                                i.name.clone(),
                                i.connector.clone(),
                                if i.require_password {
                                    "certificate + password"
                                } else {
                                    "certificate"
                                }
                                .into(),
                                i.version.to_string(),
                                i.description.clone(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        output::columns(
                            &[
                                "NAME",
                                "CONNECTOR",
                                "CALLERS NEED",
                                "VERSION",
                                "DESCRIPTION"
                            ],
                            &rows
                        )
                    );
                }
                Ok(Outcome::Ok)
            }
            IntegrationCommand::Show(args) => {
                let store = open(&args.store).await?;
                let ctx = context(&args.store);
                // Reading needs manage_connectors, like the listing.
                let found = store
                    .integrations(&ctx)
                    .await?
                    .into_iter()
                    .find(|i| i.name == args.name);
                match found {
                    Some(i) => print_integration(&i, args.store.data.json),
                    None => Err(store.find_integration(&args.name).await.err().map_or_else(
                        || anyhow::anyhow!("no integration \"{}\"", args.name),
                        Into::into,
                    )),
                }
            }
            IntegrationCommand::Remove(args) => {
                let store = open(&args.store).await?;
                store
                    .remove_definition(
                        &context(&args.store),
                        "integration",
                        &args.name,
                        args.if_version,
                    )
                    .await?;
                if args.store.data.json {
                    println!("{}", json!({"removed": args.name}));
                } else {
                    println!("integration {}: removed", args.name);
                }
                Ok(Outcome::Ok)
            }
        }
    })
}

fn print_integration(i: &Integration, json: bool) -> Result<Outcome> {
    if json {
        println!("{}", serde_json::to_string_pretty(i)?);
        return Ok(Outcome::Ok);
    }
    println!(
        "integration {}\n  calls:        connector {}\n  callers need: a client certificate{} and invoke:{}\n  description:  {}\n  version:      {}",
        i.name,
        i.connector,
        if i.require_password {
            " and their password"
        } else {
            ""
        },
        i.name,
        if i.description.is_empty() {
            "-"
        } else {
            &i.description
        },
        i.version
    );
    Ok(Outcome::Ok)
}

/// `keyway connector add`: a connector in the store with a profile of its own.
pub async fn connector_add(args: ConnectorAddArgs) -> Result<Outcome> {
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
    if args.store.data.json {
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
    Ok(Outcome::Ok)
}

/// `keyway connector remove`: the connector, and its own profile when nothing else uses
/// it.
pub async fn connector_remove(args: ConnectorRemoveArgs) -> Result<Outcome> {
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
    if args.store.data.json {
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
    Ok(Outcome::Ok)
}
