//! Named keystores: a keystore file (JKS, JCEKS, PKCS#12, PEM) as it was given, with its
//! store and key passwords — what a connector presents for two-way TLS. The file and the
//! passwords are sealed with the master key; the certificates of every entry are kept in
//! plain beside them, so listing and expiry checks need no secret.
//!
//! A keystore is checked when it is stored: it must open with its password, hold a key
//! entry, and the key connectors will present (the alias given, or the only key) must
//! open with the key password.

use keyway_keystore::{Certificate, EntryType, Format, Keystore, PrivateKey, WriteOptions};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use zeroize::Zeroizing;

use crate::access::Need;
use crate::audit::Event;
use crate::cert::read_pem;
use crate::{Context, Save, Store, StoreError, Tx, check_name};

/// `select_keystores!("WHERE …")`: the listed columns of keystores.
macro_rules! select_keystores {
    ($rest:literal) => {
        concat!(
            "SELECT name, format, alias, entries, source, created_at, updated_at, version,
                CAST(CASE WHEN key_password IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_key_password
             FROM keystores ",
            $rest
        )
    };
}

const CONTENT_PURPOSE: &str = "keyway keystore content";
const PASSWORD_PURPOSE: &str = "keyway keystore password";
const KEY_PASSWORD_PURPOSE: &str = "keyway keystore key password";

/// A keystore to store: the file's bytes and how to open it.
#[derive(Clone)]
pub struct NewKeystore {
    /// The keystore file's content.
    pub content: Vec<u8>,
    /// Its format; detected when `None`.
    pub format: Option<Format>,
    /// The store password.
    pub password: Zeroizing<String>,
    /// The key password, when it differs from the store password (JKS).
    pub key_password: Option<Zeroizing<String>>,
    /// The key entry to present; may be left out when the store holds one key.
    pub alias: Option<String>,
    /// What it was read from, for people (`acme-client.p12`).
    pub source: String,
}

impl NewKeystore {
    /// A keystore holding `key` and `chain` (leaf first) as entry `alias`: a PKCS#12
    /// under a random password, both sealed once stored. For keys keyway made itself
    /// (the gateway's server key, the demo's client key).
    pub fn from_identity(
        alias: &str,
        key: &PrivateKey,
        chain: &[Certificate],
        source: &str,
    ) -> Result<NewKeystore, StoreError> {
        let password = crate::random_hex(24)?.to_string();
        let mut p12 = Keystore::new(Format::Pkcs12);
        p12.add_private_key(alias, key.clone(), chain.to_vec())
            .map_err(|e| invalid(alias, e.to_string()))?;
        let options = WriteOptions {
            store_password: Some(password.clone()),
            key_password: Some(password.clone()),
            pkcs12_legacy: false,
        };
        let content = p12
            .to_bytes(Format::Pkcs12, &options)
            .map_err(|e| invalid(alias, e.to_string()))?;
        Ok(NewKeystore {
            content,
            format: Some(Format::Pkcs12),
            password: Zeroizing::new(password),
            key_password: None,
            alias: Some(alias.to_string()),
            source: source.to_string(),
        })
    }

    /// Checks it as [`Store::add_keystore`] will, without storing anything: it opens, it
    /// holds a key, and the key to present opens. `name` is what errors call it.
    pub fn check(&self, name: &str) -> Result<(), StoreError> {
        check(name, self).map(|_| ())
    }
}

impl std::fmt::Debug for NewKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKeystore")
            .field("format", &self.format)
            .field("alias", &self.alias)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// One entry of a stored keystore.
#[derive(Debug, Clone, Serialize)]
pub struct KeystoreEntry {
    /// Its alias.
    pub alias: String,
    /// `key` (a private key with its chain) or `certificate` (a trusted certificate).
    pub kind: String,
    /// The certificates: the chain, leaf first, for a key (JSON: their details).
    #[serde(serialize_with = "details")]
    pub chain: Vec<Certificate>,
}

fn details<S: serde::Serializer>(certs: &[Certificate], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(certs.iter().map(Certificate::info))
}

/// A named keystore as listed (never its content or passwords).
#[derive(Debug, Clone, Serialize)]
pub struct StoredKeystore {
    /// Its name; unique.
    pub name: String,
    /// jks, jceks, pkcs12 or pem.
    pub format: String,
    /// The key entry connectors present.
    pub alias: String,
    /// Whether a key password other than the store password is kept.
    pub has_key_password: bool,
    /// Every entry.
    pub entries: Vec<KeystoreEntry>,
    /// What it was read from.
    pub source: String,
    /// Created, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// Last changed, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub updated_at: i64,
    /// Increases with every change.
    pub version: i64,
}

impl StoredKeystore {
    /// The entry connectors present.
    pub fn key_entry(&self) -> Option<&KeystoreEntry> {
        self.entries.iter().find(|e| e.alias == self.alias)
    }
}

/// A stored keystore opened: the file as it was given and its passwords, for an export
/// or for a connector's TLS. Dropping it wipes the passwords.
pub struct KeystoreSecrets {
    /// The keystore's name.
    pub name: String,
    /// The file's bytes.
    pub content: Zeroizing<Vec<u8>>,
    /// Its format.
    pub format: Format,
    /// The store password.
    pub password: Zeroizing<String>,
    /// The key password (the store password when none was given).
    pub key_password: Zeroizing<String>,
    /// The key entry to present.
    pub alias: String,
}

impl std::fmt::Debug for KeystoreSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoreSecrets")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("alias", &self.alias)
            .finish_non_exhaustive()
    }
}

impl KeystoreSecrets {
    /// The key and chain (leaf first) of the entry to present.
    pub fn identity(&self) -> Result<(PrivateKey, Vec<Certificate>), StoreError> {
        let store = Keystore::from_bytes(&self.content, Some(self.format), Some(&self.password))
            .map_err(|e| invalid(&self.name, format!("cannot be opened: {e}")))?;
        let entry = store
            .entry(&self.alias)
            .map_err(|e| invalid(&self.name, e.to_string()))?;
        let key = entry
            .private_key(Some(&self.key_password))
            .map_err(|e| invalid(&self.name, e.to_string()))?;
        Ok((key, entry.chain().to_vec()))
    }
}

/// What the database keeps of one entry (JSON in `keystores.entries`).
#[derive(Serialize, Deserialize)]
struct EntryRecord {
    alias: String,
    kind: String,
    chain: String,
}

impl Store {
    /// Stores keystore `name` after checking it opens and has the key to present.
    /// Needs `manage_trust`.
    pub async fn add_keystore(
        &self,
        ctx: &Context,
        name: &str,
        keystore: NewKeystore,
    ) -> Result<StoredKeystore, StoreError> {
        self.save_keystore(ctx, name, &keystore, Save::Add).await
    }

    /// Replaces keystore `name` with another file (a renewed certificate). `expected`:
    /// the version the change is based on. Needs `manage_trust`.
    pub async fn replace_keystore(
        &self,
        ctx: &Context,
        name: &str,
        keystore: NewKeystore,
        expected: Option<i64>,
    ) -> Result<StoredKeystore, StoreError> {
        self.save_keystore(ctx, name, &keystore, Save::Replace(expected))
            .await
    }

    async fn save_keystore(
        &self,
        ctx: &Context,
        name: &str,
        keystore: &NewKeystore,
        save: Save,
    ) -> Result<StoredKeystore, StoreError> {
        let action = keystore_action(save);
        let object = format!("keystore {name}");
        self.authorize(ctx, Need::ManageTrust, None, action, object.clone())
            .await?;
        let result = async {
            let mut tx = self.write().await?;
            self.put_keystore(&mut tx, ctx, name, keystore, save)
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("saving a keystore", e))?;
            self.find_keystore(name).await
        }
        .await;
        self.audit_if_failed(ctx, action, &object, result).await
    }

    /// Checks keystore `name` (it opens, it has the key to present), seals it and writes
    /// it with its audit entry in `tx` (the caller commits; the permission is checked
    /// already).
    pub(crate) async fn put_keystore(
        &self,
        tx: &mut Tx,
        ctx: &Context,
        name: &str,
        keystore: &NewKeystore,
        save: Save,
    ) -> Result<(), StoreError> {
        check_name("keystore name", name)?;
        let checked = check(name, keystore)?;
        let sealed = self.seal_keystore(keystore)?;
        let now = crate::now();
        let detail = match save {
            Save::Add => {
                let inserted = sqlx::query(
                    "INSERT INTO keystores (name, format, content, store_password, key_password, alias,
                         entries, source, created_at, updated_at, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1)",
                )
                .bind(name)
                .bind(format_name(checked.format))
                .bind(sealed.content)
                .bind(sealed.password)
                .bind(sealed.key_password)
                .bind(&checked.alias)
                .bind(&checked.entries)
                .bind(&keystore.source)
                .bind(now)
                .execute(&mut **tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if crate::error::is_unique_violation(&e) => {
                        return Err(StoreError::Duplicate {
                            kind: "keystore",
                            name: name.to_string(),
                        });
                    }
                    Err(e) => return Err(self.db_error("adding a keystore", e)),
                }
                format!(
                    "{} from {}, presenting \"{}\"",
                    checked.format, keystore.source, checked.alias
                )
            }
            Save::Replace(expected) => {
                let current = self.find_keystore(name).await?;
                let based_on = expected.unwrap_or(current.version);
                let changed = sqlx::query(
                    "UPDATE keystores SET format = $1, content = $2, store_password = $3, key_password = $4,
                         alias = $5, entries = $6, source = $7, updated_at = $8, version = version + 1
                     WHERE name = $9 AND version = $10",
                )
                .bind(format_name(checked.format))
                .bind(sealed.content)
                .bind(sealed.password)
                .bind(sealed.key_password)
                .bind(&checked.alias)
                .bind(&checked.entries)
                .bind(&keystore.source)
                .bind(now)
                .bind(name)
                .bind(based_on)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.db_error("replacing a keystore", e))?;
                if changed.rows_affected() == 0 {
                    return Err(self.conflict("keystore", name, based_on).await);
                }
                format!(
                    "{} from {} replaces {} from {}, presenting \"{}\"",
                    checked.format, keystore.source, current.format, current.source, checked.alias
                )
            }
        };
        let action = keystore_action(save);
        self.audit_in(
            tx,
            ctx,
            Event::ok(action, format!("keystore {name}"), detail),
        )
        .await
    }

    /// Every keystore, by name. Needs `manage_trust` or `manage_connectors`.
    pub async fn keystores(&self, ctx: &Context) -> Result<Vec<StoredKeystore>, StoreError> {
        self.authorize(
            ctx,
            Need::SeeTrust,
            None,
            "keystore.list",
            "keystores".into(),
        )
        .await?;
        let rows = sqlx::query(select_keystores!("ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("listing keystores", e))?;
        rows.iter().map(|row| self.keystore_of(row)).collect()
    }

    /// Keystore `name`. Needs `manage_trust` or `manage_connectors`.
    pub async fn keystore(&self, ctx: &Context, name: &str) -> Result<StoredKeystore, StoreError> {
        let object = format!("keystore {name}");
        self.authorize(ctx, Need::SeeTrust, None, "keystore.show", object)
            .await?;
        self.find_keystore(name).await
    }

    /// Keystore `name` opened, to write it out for a person: an audited export.
    /// Needs `manage_trust`.
    pub async fn export_keystore(
        &self,
        ctx: &Context,
        name: &str,
    ) -> Result<(StoredKeystore, KeystoreSecrets), StoreError> {
        let object = format!("keystore {name}");
        self.authorize(
            ctx,
            Need::ManageTrust,
            None,
            "keystore.export",
            object.clone(),
        )
        .await?;
        let result = async {
            let stored = self.find_keystore(name).await?;
            let secrets = self.keystore_secrets(name).await?;
            self.audit(
                ctx,
                Event::ok(
                    "keystore.export",
                    object.clone(),
                    format!("exported ({}, {})", stored.format, stored.source),
                ),
            )
            .await?;
            Ok((stored, secrets))
        }
        .await;
        self.audit_if_failed(ctx, "keystore.export", &object, result)
            .await
    }

    /// Keystore `name` opened for a connector's or the gateway's TLS. Not audited and
    /// needs no actor: keyway itself is using it; never hand its content to a person
    /// (that is [`Store::export_keystore`]).
    pub async fn keystore_secrets(&self, name: &str) -> Result<KeystoreSecrets, StoreError> {
        let row = sqlx::query(
            "SELECT format, content, store_password, key_password, alias FROM keystores WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a keystore", e))?
        .ok_or_else(|| not_found(name))?;
        let fail = |e| self.db_error("reading a keystore", e);
        let format: String = row.try_get("format").map_err(fail)?;
        let format = format
            .parse::<Format>()
            .map_err(|problem| StoreError::Database {
                database: self.name.clone(),
                action: format!("reading keystore {name}"),
                problem,
            })?;
        let content: String = row.try_get("content").map_err(fail)?;
        let password: String = row.try_get("store_password").map_err(fail)?;
        let key_password: Option<String> = row.try_get("key_password").map_err(fail)?;
        let password = self.open_text(&password, PASSWORD_PURPOSE)?;
        let key_password = match key_password {
            Some(sealed) => self.open_text(&sealed, KEY_PASSWORD_PURPOSE)?,
            None => password.clone(),
        };
        Ok(KeystoreSecrets {
            name: name.to_string(),
            content: self.open_sealed(&content, CONTENT_PURPOSE)?,
            format,
            password,
            key_password,
            alias: row.try_get("alias").map_err(fail)?,
        })
    }

    /// Removes keystore `name`. Needs `manage_trust`.
    pub async fn remove_keystore(
        &self,
        ctx: &Context,
        name: &str,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        let object = format!("keystore {name}");
        self.authorize(
            ctx,
            Need::ManageTrust,
            None,
            "keystore.remove",
            object.clone(),
        )
        .await?;
        let result = async {
            let current = self.find_keystore(name).await?;
            let based_on = expected.unwrap_or(current.version);
            let detail = format!("removed; it was {} from {}", current.format, current.source);
            let event = Event::ok("keystore.remove", object.clone(), detail);
            let delete = "DELETE FROM keystores WHERE name = $1 AND version = $2";
            if !self
                .delete_versioned(ctx, "keystore", delete, name, based_on, event)
                .await?
            {
                return Err(self.conflict("keystore", name, based_on).await);
            }
            Ok(())
        }
        .await;
        self.audit_if_failed(ctx, "keystore.remove", &object, result)
            .await
    }

    pub(crate) async fn find_keystore(&self, name: &str) -> Result<StoredKeystore, StoreError> {
        let row = sqlx::query(select_keystores!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading a keystore", e))?
            .ok_or_else(|| not_found(name))?;
        self.keystore_of(&row)
    }

    fn keystore_of(&self, row: &AnyRow) -> Result<StoredKeystore, StoreError> {
        let fail = |e| self.db_error("reading a keystore", e);
        let name: String = row.try_get("name").map_err(fail)?;
        let entries: String = row.try_get("entries").map_err(fail)?;
        let damaged = |problem: String| StoreError::Database {
            database: self.name.clone(),
            action: format!("reading keystore {name}"),
            problem,
        };
        let records: Vec<EntryRecord> =
            serde_json::from_str(&entries).map_err(|e| damaged(e.to_string()))?;
        let entries = records
            .into_iter()
            .map(|r| {
                Ok(KeystoreEntry {
                    chain: read_pem(&r.chain).map_err(&damaged)?,
                    alias: r.alias,
                    kind: r.kind,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(StoredKeystore {
            format: row.try_get("format").map_err(fail)?,
            alias: row.try_get("alias").map_err(fail)?,
            has_key_password: row.try_get::<i64, _>("has_key_password").map_err(fail)? == 1,
            entries,
            source: row.try_get("source").map_err(fail)?,
            created_at: row.try_get("created_at").map_err(fail)?,
            updated_at: row.try_get("updated_at").map_err(fail)?,
            version: row.try_get("version").map_err(fail)?,
            name,
        })
    }

    fn seal_keystore(&self, keystore: &NewKeystore) -> Result<SealedKeystore, StoreError> {
        let seal = |bytes: &[u8], purpose| {
            self.master
                .seal(bytes, purpose)
                .map_err(|e| StoreError::MasterKey(e.to_string()))
        };
        Ok(SealedKeystore {
            content: seal(&keystore.content, CONTENT_PURPOSE)?,
            password: seal(keystore.password.as_bytes(), PASSWORD_PURPOSE)?,
            key_password: match &keystore.key_password {
                Some(p) => Some(seal(p.as_bytes(), KEY_PASSWORD_PURPOSE)?),
                None => None,
            },
        })
    }

    fn open_sealed(&self, sealed: &str, purpose: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.master
            .open(sealed.as_bytes(), purpose, std::path::Path::new(&self.name))
            .map_err(|e| StoreError::MasterKey(e.to_string()))
    }

    fn open_text(&self, sealed: &str, purpose: &str) -> Result<Zeroizing<String>, StoreError> {
        let bytes = self.open_sealed(sealed, purpose)?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Database {
                database: self.name.clone(),
                action: "reading a keystore password".into(),
                problem: "not UTF-8".into(),
            })
    }
}

struct SealedKeystore {
    content: String,
    password: String,
    key_password: Option<String>,
}

/// What checking a keystore found: its format, the alias to present, the entries' JSON.
struct Checked {
    format: Format,
    alias: String,
    entries: String,
}

/// Opens `keystore` as a connector will, and describes its entries.
fn check(name: &str, keystore: &NewKeystore) -> Result<Checked, StoreError> {
    let opened = Keystore::from_bytes(&keystore.content, keystore.format, Some(&keystore.password))
        .map_err(|e| {
            invalid(
                name,
                format!("cannot be opened from {}: {e}", keystore.source),
            )
        })?;
    let format = opened.format();
    if format == Format::Der {
        return Err(invalid(
            name,
            format!(
                "{} is a single DER certificate, not a keystore: a keystore holds a private key and its chain (PKCS#12, JKS or PEM)",
                keystore.source
            ),
        ));
    }
    let mut keys: Vec<&str> = opened
        .entries()
        .iter()
        .filter(|e| e.entry_type() == EntryType::PrivateKey)
        .map(|e| e.alias.as_str())
        .collect();
    keys.sort_unstable();
    let alias = match (&keystore.alias, keys.as_slice()) {
        (_, []) => {
            return Err(invalid(
                name,
                format!(
                    "{} holds no private key entry, so it cannot identify keyway to a server: for trusted certificates use `keyway truststore add`",
                    keystore.source
                ),
            ));
        }
        (Some(alias), _) if keys.contains(&alias.as_str()) => alias.clone(),
        (Some(alias), _) => {
            return Err(invalid(
                name,
                format!(
                    "{} has no key entry \"{alias}\"; its key entries: {}",
                    keystore.source,
                    keys.join(", ")
                ),
            ));
        }
        (None, [only]) => only.to_string(),
        (None, several) => {
            return Err(invalid(
                name,
                format!(
                    "{} holds {} key entries ({}): choose the one to present with an alias",
                    keystore.source,
                    several.len(),
                    several.join(", ")
                ),
            ));
        }
    };
    let key_password = keystore.key_password.as_ref().unwrap_or(&keystore.password);
    let entry = opened
        .entry(&alias)
        .map_err(|e| invalid(name, e.to_string()))?;
    entry.private_key(Some(key_password)).map_err(|e| {
        invalid(
            name,
            format!(
                "the key of \"{alias}\" does not open{}: {e}",
                if keystore.key_password.is_some() {
                    " with the key password"
                } else {
                    " with the store password (give the key password if it differs)"
                }
            ),
        )
    })?;
    let records: Vec<EntryRecord> = opened
        .entries()
        .iter()
        .filter(|e| e.entry_type() != EntryType::SecretKey)
        .map(|e| EntryRecord {
            alias: e.alias.clone(),
            kind: match e.entry_type() {
                EntryType::PrivateKey => "key".into(),
                _ => "certificate".into(),
            },
            chain: e.chain().iter().map(Certificate::to_pem).collect(),
        })
        .collect();
    let entries = serde_json::to_string(&records).map_err(|e| invalid(name, e.to_string()))?;
    Ok(Checked {
        format,
        alias,
        entries,
    })
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Jks => "jks",
        Format::Jceks => "jceks",
        Format::Pkcs12 => "pkcs12",
        Format::Pem => "pem",
        Format::Der => "der",
    }
}

fn invalid(name: &str, problem: String) -> StoreError {
    StoreError::Invalid {
        field: "keystore",
        given: name.to_string(),
        problem,
    }
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound {
        kind: "keystore",
        name: name.to_string(),
        hint: ": `keyway identity list` shows them; `keyway identity add NAME FILE` stores one"
            .into(),
    }
}

fn keystore_action(save: Save) -> &'static str {
    match save {
        Save::Add => "keystore.add",
        Save::Replace(_) => "keystore.replace",
    }
}
