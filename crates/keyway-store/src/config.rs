//! A keyway.toml into the store and back.
//!
//! Import ([`Store::import_config`]) is one transaction: its truststores (certificates
//! read from their files), keystores (checked and sealed), TLS profiles, connectors
//! (their passwords sealed) and integrations. Everything is read and checked before
//! anything is written, and written together: a failure, a missing permission or a name
//! the store has already (without `replace`) leaves the store as it was.
//!
//! Export ([`Store::export_config`]) gives the files of a directory a keyway.toml can be
//! loaded from again: `keyway.toml`, `truststores/NAME.pem`, `keystores/NAME.EXT` and the
//! passwords in `secrets/*.pass` (marked private: the caller writes them owner-only).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use keyway_connect::{
    AuthEntry, Config, ConfigFile, ConnectorEntry, IntegrationEntry, KeystoreEntry, ProfileEntry,
    SecretRef, StoreEntry,
};
use keyway_keystore::Certificate;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::access::Need;
use crate::connectors::as_checked;
use crate::{Context, NewConnector, NewIntegration, NewKeystore, Save, Store, StoreError};

/// Everything a configuration holds, read and resolved: the files its truststores and
/// keystores name are read, its passwords resolved.
#[derive(Debug, Clone, Default)]
pub struct ConfigImport {
    /// Truststores: name, certificates, where they were read from.
    pub truststores: Vec<(String, Vec<Certificate>, String)>,
    /// Keystores, by name.
    pub keystores: Vec<(String, NewKeystore)>,
    /// TLS profiles, by name.
    pub profiles: Vec<(String, ProfileEntry)>,
    /// Connectors (their passwords apart), by name.
    pub connectors: Vec<(String, NewConnector)>,
    /// Integrations, by name.
    pub integrations: Vec<(String, NewIntegration)>,
}

/// What an import stored (or an export holds).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigImported {
    /// How many truststores.
    pub truststores: usize,
    /// How many keystores.
    pub keystores: usize,
    /// How many profiles.
    pub profiles: usize,
    /// How many connectors.
    pub connectors: usize,
    /// How many integrations.
    pub integrations: usize,
    /// The objects that replaced ones of the same name (`connector orders`).
    pub replaced: Vec<String>,
}

/// The most files an uploaded configuration may hold.
pub const MAX_UPLOAD_FILES: usize = 200;

impl ConfigImport {
    /// Reads a configuration sent as files (a keyway.toml and the truststores, keystores
    /// and password files it names, by their relative paths), as the admin API receives
    /// it. Every path the keyway.toml names must be one of the files sent: nothing is
    /// read from the server's disk or environment (an `env` password is refused).
    pub fn read_upload(files: &[(String, Vec<u8>)]) -> Result<ConfigImport, StoreError> {
        let refuse = |path: &str, problem: String| StoreError::File {
            path: PathBuf::from(path),
            problem,
        };
        if files.len() > MAX_UPLOAD_FILES {
            return Err(refuse(
                "(upload)",
                format!("{} files; at most {MAX_UPLOAD_FILES}", files.len()),
            ));
        }
        let mut sent = BTreeSet::new();
        for (path, _) in files {
            if !inside(Path::new(path)) {
                return Err(refuse(
                    path,
                    "not a relative path inside the upload (no /, .. or drive)".into(),
                ));
            }
            if !sent.insert(PathBuf::from(path)) {
                return Err(refuse(path, "sent twice".into()));
            }
        }
        let toml = files
            .iter()
            .find(|(p, _)| p == "keyway.toml")
            .ok_or_else(|| {
                refuse(
                    "keyway.toml",
                    "missing: the upload needs its keyway.toml".into(),
                )
            })?;
        let text = std::str::from_utf8(&toml.1)
            .map_err(|_| refuse("keyway.toml", "is not UTF-8 text".into()))?;
        let parsed: ConfigFile =
            toml::from_str(text).map_err(|e| refuse("keyway.toml", e.to_string()))?;
        let named = |what: String, path: &Path| -> Result<(), StoreError> {
            if inside(path) && sent.contains(path) {
                Ok(())
            } else {
                Err(refuse(
                    &path.display().to_string(),
                    format!(
                        "named by {what} but not among the files sent (paths are relative to keyway.toml)"
                    ),
                ))
            }
        };
        let secret = |what: String, secret: &SecretRef| -> Result<(), StoreError> {
            match secret {
                SecretRef::Inline(_) => Ok(()),
                SecretRef::File { file } => named(what, file),
                _ => Err(refuse(
                    "keyway.toml",
                    format!(
                        "{what}: a password from the server's environment cannot be imported this way; give it inline or as a file sent with the upload"
                    ),
                )),
            }
        };
        for (name, t) in &parsed.truststores {
            named(format!("truststore {name}"), &t.path)?;
            if let Some(p) = &t.password {
                secret(format!("truststore {name}"), p)?;
            }
        }
        for (name, k) in &parsed.keystores {
            named(format!("keystore {name}"), &k.path)?;
            secret(format!("keystore {name}"), &k.password)?;
            if let Some(p) = &k.key_password {
                secret(format!("keystore {name}"), p)?;
            }
        }
        for (name, p) in &parsed.profiles {
            if let Some(password) = p.proxy.as_ref().and_then(|p| p.password.as_ref()) {
                secret(format!("profile {name}"), password)?;
            }
        }
        for (name, c) in &parsed.connectors {
            if let Some(auth) = &c.auth {
                secret(format!("connector {name}"), &auth.password)?;
            }
        }
        // Only now, with every path known to be one of the files: a directory of them.
        let dir = tempfile::tempdir()
            .map_err(|e| refuse("(upload)", format!("no temporary directory: {e}")))?;
        for (path, content) in files {
            let target = dir.path().join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| refuse(path, format!("cannot be unpacked: {e}")))?;
            }
            std::fs::write(&target, content)
                .map_err(|e| refuse(path, format!("cannot be unpacked: {e}")))?;
        }
        let config = Config::load(&dir.path().join("keyway.toml"))?;
        ConfigImport::read(&config)
    }

    /// Reads what `config` describes: the truststore and keystore files it names (each
    /// keystore checked: it opens and has the key to present), the connectors' passwords.
    pub fn read(config: &Config) -> Result<ConfigImport, StoreError> {
        let mut import = ConfigImport::default();
        for t in config.truststore_files()? {
            let bytes = read_file(&t.path)?;
            let source = t.path.display().to_string();
            let password = t.password.as_deref().map(|p| p.as_str());
            let certs = keyway_pki::read_certificates(&bytes, password, &source)?;
            import.truststores.push((t.name, certs, source));
        }
        for k in config.keystore_files()? {
            let keystore = NewKeystore {
                content: read_file(&k.path)?,
                format: k.format,
                password: k.password.unwrap_or_default(),
                key_password: k.key_password,
                alias: k.alias,
                source: k.path.display().to_string(),
            };
            keystore.check(&k.name)?;
            import.keystores.push((k.name, keystore));
        }
        for (name, entry) in config.profiles() {
            let mut entry = entry.clone();
            // The proxy password travels resolved, to be sealed by the store.
            if let Some(password) = config.proxy_password(name)?
                && let Some(proxy) = entry.proxy.as_mut()
            {
                proxy.password = Some(SecretRef::Inline(password.to_string()));
            }
            import.profiles.push((name.to_string(), entry));
        }
        for def in config.connectors() {
            let Some(entry) = config.connector_entry(&def.name) else {
                continue;
            };
            let mut definition = entry.clone();
            definition.auth = None;
            let auth = config.auth(def)?;
            import
                .connectors
                .push((def.name.clone(), NewConnector { definition, auth }));
        }
        import.integrations = config
            .integrations()
            .map(|(n, e): (&str, &IntegrationEntry)| {
                let integration = NewIntegration {
                    connector: e.connector.clone(),
                    description: e.description.clone(),
                    require_password: e.require_password,
                };
                (n.to_string(), integration)
            })
            .collect();
        Ok(import)
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, StoreError> {
    keyway_keystore::file::read_bytes(path).map_err(|e| StoreError::File {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })
}

impl Store {
    /// Stores everything in `import` in one transaction (see the module docs). Names the
    /// store has already are refused unless `replace`. Needs `manage_trust` when there are
    /// truststores or keystores, and `manage_connectors`.
    pub async fn import_config(
        &self,
        ctx: &Context,
        import: &ConfigImport,
        replace: bool,
    ) -> Result<ConfigImported, StoreError> {
        let action = "config.import";
        let object = "configuration".to_string();
        if !import.truststores.is_empty() || !import.keystores.is_empty() {
            self.authorize(ctx, Need::ManageTrust, None, action, object.clone())
                .await?;
        }
        self.authorize(ctx, Need::ManageConnectors, None, action, object.clone())
            .await?;
        let result = self.import_config_checked(ctx, import, replace).await;
        self.audit_if_failed(ctx, action, &object, result).await
    }

    async fn import_config_checked(
        &self,
        ctx: &Context,
        import: &ConfigImport,
        replace: bool,
    ) -> Result<ConfigImported, StoreError> {
        // What the store has already, and which of it this import would replace.
        let have = |kind: &'static str, query: &'static str| async move {
            self.names(query)
                .await
                .map(|names| (kind, names.into_iter().collect::<BTreeSet<String>>()))
        };
        let truststores = have("truststore", "SELECT name FROM truststores").await?;
        let keystores = have("keystore", "SELECT name FROM keystores").await?;
        let profiles = have("profile", "SELECT name FROM profiles").await?;
        let connectors = have("connector", "SELECT name FROM connectors").await?;
        let integrations = have("integration", "SELECT name FROM integrations").await?;
        let mut replaced = Vec::new();
        let mut taken = |(kind, have): &(&str, BTreeSet<String>), wanted: Vec<&String>| {
            for name in wanted {
                if have.contains(name) {
                    replaced.push(format!("{kind} {name}"));
                }
            }
        };
        taken(
            &truststores,
            import.truststores.iter().map(|t| &t.0).collect(),
        );
        taken(&keystores, import.keystores.iter().map(|k| &k.0).collect());
        taken(&profiles, import.profiles.iter().map(|p| &p.0).collect());
        taken(
            &connectors,
            import.connectors.iter().map(|c| &c.0).collect(),
        );
        taken(
            &integrations,
            import.integrations.iter().map(|i| &i.0).collect(),
        );
        if !replaced.is_empty() && !replace {
            return Err(StoreError::Exist {
                objects: replaced.join(", "),
            });
        }
        // The definitions checked as one keyway.toml over the store as it will be.
        let mut all = self.definitions().await?;
        for (name, profile) in &import.profiles {
            all.profiles.insert(name.clone(), profile.clone());
        }
        for (name, connector) in &import.connectors {
            all.connectors.insert(name.clone(), as_checked(connector));
        }
        let new_truststores: Vec<&str> = import.truststores.iter().map(|t| t.0.as_str()).collect();
        let new_keystores: Vec<&str> = import.keystores.iter().map(|k| k.0.as_str()).collect();
        self.check_definitions(all, &new_truststores, &new_keystores)
            .await?;
        for (name, integration) in &import.integrations {
            let known = connectors.1.contains(&integration.connector)
                || import
                    .connectors
                    .iter()
                    .any(|c| c.0 == integration.connector);
            if !known {
                return Err(StoreError::NotFound {
                    kind: "connector",
                    name: integration.connector.clone(),
                    hint: format!(" (integration {name} calls it)"),
                });
            }
        }

        let save = |have: &BTreeSet<String>, name: &str| {
            if have.contains(name) {
                Save::Replace(None)
            } else {
                Save::Add
            }
        };
        let mut tx = self.write().await?;
        for (name, certs, source) in &import.truststores {
            let how = save(&truststores.1, name);
            self.put_truststore(&mut tx, ctx, name, certs.clone(), source, how)
                .await?;
        }
        for (name, keystore) in &import.keystores {
            self.put_keystore(&mut tx, ctx, name, keystore, save(&keystores.1, name))
                .await?;
        }
        for (name, profile) in &import.profiles {
            self.put_profile(&mut tx, ctx, name, profile, save(&profiles.1, name))
                .await?;
        }
        for (name, connector) in &import.connectors {
            self.put_connector(&mut tx, ctx, name, connector, save(&connectors.1, name))
                .await?;
        }
        for (name, integration) in &import.integrations {
            let how = save(&integrations.1, name);
            self.put_integration(&mut tx, ctx, name, integration, how)
                .await?;
        }
        tx.commit()
            .await
            .map_err(|e| self.db_error("importing a configuration", e))?;
        Ok(ConfigImported {
            truststores: import.truststores.len(),
            keystores: import.keystores.len(),
            profiles: import.profiles.len(),
            connectors: import.connectors.len(),
            integrations: import.integrations.len(),
            replaced,
        })
    }
}

/// A configuration as files, relative to the directory they go in.
#[derive(Debug, Default)]
pub struct ConfigExport {
    /// The files, `keyway.toml` last.
    pub files: Vec<ExportedFile>,
    /// What it holds.
    pub counts: ConfigImported,
}

/// One file of an export.
#[derive(Debug)]
pub struct ExportedFile {
    /// Where it goes, relative to the export directory.
    pub path: PathBuf,
    /// Its content.
    pub content: Zeroizing<Vec<u8>>,
    /// Whether it holds a key or a password (to be written owner-only).
    pub private: bool,
}

/// Whether `path` is relative and stays inside its directory.
fn inside(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

impl Store {
    /// Everything the store holds of a configuration, as the files of a directory a
    /// keyway.toml can be loaded from again. Needs `manage_connectors` and, for the
    /// keystores and their passwords, `manage_trust`; each keystore export is audited.
    pub async fn export_config(&self, ctx: &Context) -> Result<ConfigExport, StoreError> {
        let config = self.connector_config(ctx).await?;
        let truststores = self.truststores(ctx).await?;
        let keystores = self.keystores(ctx).await?;
        let profiles = self.profiles(ctx).await?;
        let connectors = self.connectors(ctx).await?;
        let integrations = self.integrations(ctx).await?;
        let mut files = Vec::new();
        let mut secret = |name: String, value: &str| {
            let path = Path::new("secrets").join(format!("{name}.pass"));
            files.push(ExportedFile {
                path: path.clone(),
                content: Zeroizing::new(format!("{value}\n").into_bytes()),
                private: true,
            });
            SecretRef::File { file: path }
        };
        let mut out = ConfigFile::default();
        let mut stores = Vec::new();
        for t in &truststores {
            let path = Path::new("truststores").join(format!("{}.pem", t.name));
            let pem: String = t.certificates.iter().map(Certificate::to_pem).collect();
            stores.push(ExportedFile {
                path: path.clone(),
                content: Zeroizing::new(pem.into_bytes()),
                private: false,
            });
            let entry = StoreEntry {
                path,
                format: Some("pem".into()),
                password: None,
            };
            out.truststores.insert(t.name.clone(), entry);
        }
        for k in &keystores {
            let (stored, secrets) = self.export_keystore(ctx, &k.name).await?;
            let ext = match stored.format.as_str() {
                "pkcs12" => "p12",
                other => other,
            };
            let path = Path::new("keystores").join(format!("{}.{ext}", k.name));
            stores.push(ExportedFile {
                path: path.clone(),
                content: Zeroizing::new(secrets.content.to_vec()),
                private: true,
            });
            let password = secret(format!("keystore-{}", k.name), &secrets.password);
            let key_password = stored
                .has_key_password
                .then(|| secret(format!("keystore-{}-key", k.name), &secrets.key_password));
            let entry = KeystoreEntry {
                path,
                format: Some(stored.format.clone()),
                password,
                alias: Some(stored.alias.clone()),
                key_password,
            };
            out.keystores.insert(k.name.clone(), entry);
        }
        for p in &profiles {
            let mut entry = p.definition.clone();
            let unsealed = config
                .profile_entry(&p.name)
                .and_then(|(e, _)| e.proxy.as_ref())
                .and_then(|proxy| proxy.password.as_ref());
            if let (Some(proxy), Some(SecretRef::Inline(password))) =
                (entry.proxy.as_mut(), unsealed)
            {
                proxy.password = Some(secret(format!("profile-{}-proxy", p.name), password));
            }
            out.profiles.insert(p.name.clone(), entry);
        }
        for c in &connectors {
            let mut entry: ConnectorEntry = c.definition.clone();
            if let Some(user) = &c.username {
                let password = match config
                    .connector_entry(&c.name)
                    .and_then(|e| e.auth.as_ref())
                    .map(|a| &a.password)
                {
                    Some(SecretRef::Inline(p)) => Zeroizing::new(p.clone()),
                    _ => {
                        return Err(StoreError::MasterKey(format!(
                            "connector {}: its password could not be unsealed",
                            c.name
                        )));
                    }
                };
                entry.auth = Some(AuthEntry {
                    username: user.clone(),
                    password: secret(format!("connector-{}", c.name), &password),
                });
            }
            out.connectors.insert(c.name.clone(), entry);
        }
        for i in &integrations {
            let entry = IntegrationEntry {
                connector: i.connector.clone(),
                description: i.description.clone(),
                require_password: i.require_password,
            };
            out.integrations.insert(i.name.clone(), entry);
        }
        let toml = toml::to_string_pretty(&out).map_err(|e| StoreError::Invalid {
            field: "configuration",
            given: "keyway.toml".into(),
            problem: format!("cannot be written as TOML: {e}"),
        })?;
        files.extend(stores);
        files.push(ExportedFile {
            path: PathBuf::from("keyway.toml"),
            content: Zeroizing::new(
                format!(
                    "# Exported from {} by keyway config export; passwords are in secrets/.\n\n{toml}",
                    self.database()
                )
                .into_bytes(),
            ),
            private: false,
        });
        Ok(ConfigExport {
            files,
            counts: ConfigImported {
                truststores: truststores.len(),
                keystores: keystores.len(),
                profiles: profiles.len(),
                connectors: connectors.len(),
                integrations: integrations.len(),
                replaced: Vec::new(),
            },
        })
    }
}
