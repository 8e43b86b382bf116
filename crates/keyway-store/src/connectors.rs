//! TLS profiles, connectors and integrations in the store: what a `keyway.toml`
//! describes (see keyway-connect's `config`), kept with the truststores and keystores
//! they refer to, and checked by the same rules as the file. Connector passwords are
//! sealed with the master key.
//!
//! References are foreign keys (a profile's truststores and keystore, a connector's
//! profile, an integration's connector), so nothing in use can be removed: the error
//! names who uses it. [`Store::connector_config`] turns everything back into a checked
//! [`Config`], which connectors run from exactly as from a file.

use std::path::PathBuf;

use indexmap::IndexMap;
use keyway_connect::{
    AuthEntry, Config, ConfigFile, ConnectorEntry, OpenedKeystore, ProfileEntry, SecretRef, Stored,
};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use zeroize::Zeroizing;

use crate::access::Need;
use crate::audit::Event;
use crate::{Context, Store, StoreError, Tx, check_name};

const PASSWORD_PURPOSE: &str = "keyway connector password";
const PROXY_PASSWORD_PURPOSE: &str = "keyway proxy password";

/// Whether a save makes a new object or changes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Save {
    /// A new one; refused when the name is taken.
    Add,
    /// An existing one, if it is still at the version given (any version for `None`).
    Replace(Option<i64>),
}

/// `scheme://host:port` of a URL, lower-case, with the scheme's port when none is given.
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    let authority = authority.rsplit('@').next()?.to_string();
    let has_port = if authority.starts_with('[') {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    let default = if scheme == "http" { 80 } else { 443 };
    Some(if has_port {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}:{default}")
    })
}

/// A connector as an edit form holds it, saved or not ([`Store::draft_config`]).
#[derive(Clone)]
pub struct Draft {
    /// The connector's name (a stored one of that name is replaced in the draft).
    pub connector: String,
    /// What `[connectors.NAME]` would say; its `auth` is ignored (see `auth`).
    pub definition: ConnectorEntry,
    /// Basic auth: the user name and the password (`None`: keep the stored one).
    pub auth: Option<(String, Option<Zeroizing<String>>)>,
    /// The profile, as the form holds it, under its name (`None`: the stored profiles).
    pub profile: Option<(String, ProfileEntry)>,
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draft")
            .field("connector", &self.connector)
            .field("url", &self.definition.url)
            .field("username", &self.auth.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

/// A TLS profile as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredProfile {
    /// Its name; unique.
    pub name: String,
    /// What `[profiles.NAME]` in a keyway.toml would say.
    pub definition: ProfileEntry,
    /// Created, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// Last changed, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub updated_at: i64,
    /// Increases with every change.
    pub version: i64,
}

/// A connector as stored (never its password).
#[derive(Debug, Clone, Serialize)]
pub struct StoredConnector {
    /// Its name; unique.
    pub name: String,
    /// What `[connectors.NAME]` would say, without `auth` (see `username`).
    pub definition: ConnectorEntry,
    /// The basic-auth user name, if it authenticates.
    pub username: Option<String>,
    /// Created, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// Last changed, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub updated_at: i64,
    /// Increases with every change.
    pub version: i64,
}

/// A connector to store: its definition (`auth` left out) and its basic-auth
/// credentials, if any.
#[derive(Clone)]
pub struct NewConnector {
    /// What `[connectors.NAME]` says; its `auth` is ignored.
    pub definition: ConnectorEntry,
    /// Basic auth: user name and password.
    pub auth: Option<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for NewConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnector")
            .field("url", &self.definition.url)
            .field("username", &self.auth.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

/// An integration: what partners call on the gateway (`/integrations/NAME/…`), run
/// through a connector.
#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    /// Its name; unique. Callers need `invoke:NAME`.
    pub name: String,
    /// The connector it calls.
    pub connector: String,
    /// For people.
    pub description: String,
    /// Whether callers must also send their password (basic auth) with their certificate.
    pub require_password: bool,
    /// Created, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// Last changed, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub updated_at: i64,
    /// Increases with every change.
    pub version: i64,
}

/// An integration to store.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    /// The connector it calls.
    pub connector: String,
    /// For people.
    pub description: String,
    /// Require basic auth on top of the client certificate.
    pub require_password: bool,
}

/// Who may refer to what: the SQL that lists the users of a `kind` by name.
fn users_query(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "truststore" => (
            "profile",
            "SELECT p.name FROM profile_truststores t JOIN profiles p ON p.id = t.profile_id
             WHERE t.truststore = $1 ORDER BY p.name",
        ),
        "keystore" => (
            "profile",
            "SELECT name FROM profiles WHERE keystore = $1 ORDER BY name",
        ),
        "profile" => (
            "connector",
            "SELECT name FROM connectors WHERE profile = $1 ORDER BY name",
        ),
        "connector" => (
            "integration",
            "SELECT name FROM integrations WHERE connector = $1 ORDER BY name",
        ),
        _ => return None,
    })
}

impl Store {
    /// Stores TLS profile `name`, after checking it as a keyway.toml profile whose
    /// truststores and keystore are the store's. Needs `manage_connectors`.
    pub async fn save_profile(
        &self,
        ctx: &Context,
        name: &str,
        definition: ProfileEntry,
        save: Save,
    ) -> Result<StoredProfile, StoreError> {
        let (action, object) = (save_action("profile", save), format!("profile {name}"));
        self.authorize(ctx, Need::ManageConnectors, None, action, object.clone())
            .await?;
        let result = async {
            check_name("profile name", name)?;
            let mut all = self.definitions().await?;
            all.profiles.insert(name.to_string(), definition.clone());
            self.check_definitions(all, &[], &[]).await?;
            let mut tx = self.write().await?;
            self.put_profile(&mut tx, ctx, name, &definition, save)
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("saving a profile", e))?;
            self.find_profile(name).await
        }
        .await;
        self.audit_if_failed(ctx, action, &object, result).await
    }

    /// Writes profile `name` (checked already) with its audit entry in `tx`.
    pub(crate) async fn put_profile(
        &self,
        tx: &mut Tx,
        ctx: &Context,
        name: &str,
        definition: &ProfileEntry,
        save: Save,
    ) -> Result<(), StoreError> {
        check_name("profile name", name)?;
        let (kept, proxy_password) = self.proxy_password_to_store(name, definition, save).await?;
        let json = to_json(&kept)?;
        let now = crate::now();
        let id: i64 = match save {
            Save::Add => {
                let inserted = sqlx::query_scalar(
                    "INSERT INTO profiles (name, definition, keystore, proxy_password, created_at, updated_at, version)
                     VALUES ($1, $2, $3, $4, $5, $5, 1) RETURNING id",
                )
                .bind(name)
                .bind(&json)
                .bind(&definition.keystore)
                .bind(&proxy_password)
                .bind(now)
                .fetch_one(&mut **tx)
                .await;
                self.saved(inserted, "profile", name)?
            }
            Save::Replace(expected) => {
                let current = self.find_profile(name).await?;
                let based_on = expected.unwrap_or(current.version);
                let updated = sqlx::query_scalar(
                    "UPDATE profiles SET definition = $1, keystore = $2, proxy_password = $3, updated_at = $4,
                     version = version + 1 WHERE name = $5 AND version = $6 RETURNING id",
                )
                .bind(&json)
                .bind(&definition.keystore)
                .bind(&proxy_password)
                .bind(now)
                .bind(name)
                .bind(based_on)
                .fetch_optional(&mut **tx)
                .await;
                match self.saved(updated, "profile", name)? {
                    Some(id) => id,
                    None => return Err(self.conflict("profile", name, based_on).await),
                }
            }
        };
        sqlx::query("DELETE FROM profile_truststores WHERE profile_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.db_error("saving a profile", e))?;
        for truststore in &definition.truststores {
            let linked = sqlx::query(
                "INSERT INTO profile_truststores (profile_id, truststore) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(truststore)
            .execute(&mut **tx)
            .await;
            self.saved(linked, "profile", name)?;
        }
        let action = save_action("profile", save);
        let detail = profile_detail(definition);
        self.audit_in(
            tx,
            ctx,
            Event::ok(action, format!("profile {name}"), detail),
        )
        .await
    }

    /// What a profile's row holds: the definition without its proxy password, and that
    /// password sealed. A replacement naming the same proxy and user without a password
    /// keeps the stored one (an edit form never shows it); a password from the server's
    /// environment or a file is refused (an API caller could otherwise have the server
    /// send its own secrets to a proxy of their choosing).
    async fn proxy_password_to_store(
        &self,
        name: &str,
        definition: &ProfileEntry,
        save: Save,
    ) -> Result<(ProfileEntry, Option<String>), StoreError> {
        let mut definition = definition.clone();
        let Some(proxy) = definition.proxy.as_mut() else {
            return Ok((definition, None));
        };
        match proxy.password.take() {
            Some(SecretRef::Inline(password)) => {
                let password = Zeroizing::new(password);
                let sealed = self
                    .master
                    .seal(password.as_bytes(), PROXY_PASSWORD_PURPOSE)
                    .map_err(|e| StoreError::MasterKey(e.to_string()))?;
                Ok((definition, Some(sealed)))
            }
            Some(_) => Err(StoreError::Invalid {
                field: "proxy.password",
                given: "(a reference)".into(),
                problem: "a stored profile keeps its proxy password sealed: give the password itself, not an environment variable or file of the server".into(),
            }),
            None if matches!(save, Save::Replace(_)) => {
                let row = sqlx::query(
                    "SELECT definition, proxy_password FROM profiles WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.db_error("reading a profile", e))?;
                let Some(row) = row else {
                    return Ok((definition, None));
                };
                let fail = |e| self.db_error("reading a profile", e);
                let sealed: Option<String> = row.try_get("proxy_password").map_err(fail)?;
                let json: String = row.try_get("definition").map_err(fail)?;
                let old: ProfileEntry = self.read_json(&json, "profile", name)?;
                let same_proxy = old.proxy.as_ref().is_some_and(|o| o.same_proxy(proxy));
                Ok((definition, sealed.filter(|_| same_proxy)))
            }
            None => Ok((definition, None)),
        }
    }

    /// Puts each stored profile's proxy password into `all`.
    async fn unseal_proxy_passwords(&self, all: &mut Definitions) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "SELECT name, proxy_password FROM profiles WHERE proxy_password IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading profiles", e))?;
        for row in rows {
            let fail = |e| self.db_error("reading a profile", e);
            let name: String = row.try_get("name").map_err(fail)?;
            let sealed: String = row.try_get("proxy_password").map_err(fail)?;
            let bytes = self
                .master
                .open(
                    sealed.as_bytes(),
                    PROXY_PASSWORD_PURPOSE,
                    std::path::Path::new(&self.name),
                )
                .map_err(|e| StoreError::MasterKey(e.to_string()))?;
            let password = String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Database {
                database: self.name.clone(),
                action: format!("reading profile {name}"),
                problem: "its proxy password is not text".into(),
            })?;
            if let Some(proxy) = all.profiles.get_mut(&name).and_then(|p| p.proxy.as_mut()) {
                proxy.password = Some(SecretRef::Inline(password));
            }
        }
        Ok(())
    }

    /// Stores connector `name` (its password sealed), after checking it as a keyway.toml
    /// connector whose profile is the store's. Needs `manage_connectors`.
    pub async fn save_connector(
        &self,
        ctx: &Context,
        name: &str,
        connector: NewConnector,
        save: Save,
    ) -> Result<StoredConnector, StoreError> {
        let (action, object) = (save_action("connector", save), format!("connector {name}"));
        self.authorize(ctx, Need::ManageConnectors, None, action, object.clone())
            .await?;
        let result = async {
            check_name("connector name", name)?;
            let mut all = self.definitions().await?;
            all.connectors
                .insert(name.to_string(), as_checked(&connector));
            self.check_definitions(all, &[], &[]).await?;
            let mut tx = self.write().await?;
            self.put_connector(&mut tx, ctx, name, &connector, save)
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("saving a connector", e))?;
            self.find_connector(name).await
        }
        .await;
        self.audit_if_failed(ctx, action, &object, result).await
    }

    /// Writes connector `name` (checked already; its password sealed now) with its audit
    /// entry in `tx`.
    pub(crate) async fn put_connector(
        &self,
        tx: &mut Tx,
        ctx: &Context,
        name: &str,
        connector: &NewConnector,
        save: Save,
    ) -> Result<(), StoreError> {
        check_name("connector name", name)?;
        let mut definition = connector.definition.clone();
        definition.auth = None;
        let json = to_json(&definition)?;
        let (username, sealed) = match &connector.auth {
            Some((user, password)) => (
                Some(user.clone()),
                Some(
                    self.master
                        .seal(password.as_bytes(), PASSWORD_PURPOSE)
                        .map_err(|e| StoreError::MasterKey(e.to_string()))?,
                ),
            ),
            None => (None, None),
        };
        let now = crate::now();
        match save {
            Save::Add => {
                let inserted = sqlx::query(
                    "INSERT INTO connectors (name, definition, profile, auth_username, auth_password,
                         created_at, updated_at, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $6, 1)",
                )
                .bind(name)
                .bind(&json)
                .bind(&definition.profile)
                .bind(&username)
                .bind(&sealed)
                .bind(now)
                .execute(&mut **tx)
                .await;
                self.saved(inserted, "connector", name)?;
            }
            Save::Replace(expected) => {
                let current = self.find_connector(name).await?;
                let based_on = expected.unwrap_or(current.version);
                let updated = sqlx::query(
                    "UPDATE connectors SET definition = $1, profile = $2, auth_username = $3,
                         auth_password = $4, updated_at = $5, version = version + 1
                     WHERE name = $6 AND version = $7",
                )
                .bind(&json)
                .bind(&definition.profile)
                .bind(&username)
                .bind(&sealed)
                .bind(now)
                .bind(name)
                .bind(based_on)
                .execute(&mut **tx)
                .await;
                if self.saved(updated, "connector", name)?.rows_affected() == 0 {
                    return Err(self.conflict("connector", name, based_on).await);
                }
            }
        }
        let detail = format!(
            "{} {}{}{}",
            definition.kind,
            definition.url,
            definition
                .profile
                .as_deref()
                .map(|p| format!(", profile {p}"))
                .unwrap_or_default(),
            username
                .as_deref()
                .map(|u| format!(", basic auth as {u}"))
                .unwrap_or_default()
        );
        let action = save_action("connector", save);
        self.audit_in(
            tx,
            ctx,
            Event::ok(action, format!("connector {name}"), detail),
        )
        .await
    }

    /// Stores integration `name`, calling connector `integration.connector`. Needs
    /// `manage_connectors`.
    pub async fn save_integration(
        &self,
        ctx: &Context,
        name: &str,
        integration: NewIntegration,
        save: Save,
    ) -> Result<Integration, StoreError> {
        let (action, object) = (
            save_action("integration", save),
            format!("integration {name}"),
        );
        self.authorize(ctx, Need::ManageConnectors, None, action, object.clone())
            .await?;
        let result = async {
            check_name("integration name", name)?;
            self.find_connector(&integration.connector).await?;
            let mut tx = self.write().await?;
            self.put_integration(&mut tx, ctx, name, &integration, save)
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("saving an integration", e))?;
            self.find_integration(name).await
        }
        .await;
        self.audit_if_failed(ctx, action, &object, result).await
    }

    /// Writes integration `name` with its audit entry in `tx` (its connector must exist,
    /// in the store or earlier in `tx`).
    pub(crate) async fn put_integration(
        &self,
        tx: &mut Tx,
        ctx: &Context,
        name: &str,
        integration: &NewIntegration,
        save: Save,
    ) -> Result<(), StoreError> {
        check_name("integration name", name)?;
        let now = crate::now();
        match save {
            Save::Add => {
                let inserted = sqlx::query(
                    "INSERT INTO integrations (name, connector, description, require_password,
                         created_at, updated_at, version)
                     VALUES ($1, $2, $3, $4, $5, $5, 1)",
                )
                .bind(name)
                .bind(&integration.connector)
                .bind(&integration.description)
                .bind(i64::from(integration.require_password))
                .bind(now)
                .execute(&mut **tx)
                .await;
                self.saved(inserted, "integration", name)?;
            }
            Save::Replace(expected) => {
                let current = self.find_integration(name).await?;
                let based_on = expected.unwrap_or(current.version);
                let updated = sqlx::query(
                    "UPDATE integrations SET connector = $1, description = $2, require_password = $3,
                         updated_at = $4, version = version + 1
                     WHERE name = $5 AND version = $6",
                )
                .bind(&integration.connector)
                .bind(&integration.description)
                .bind(i64::from(integration.require_password))
                .bind(now)
                .bind(name)
                .bind(based_on)
                .execute(&mut **tx)
                .await;
                if self.saved(updated, "integration", name)?.rows_affected() == 0 {
                    return Err(self.conflict("integration", name, based_on).await);
                }
            }
        }
        let detail = format!(
            "calls connector {}{}",
            integration.connector,
            if integration.require_password {
                "; callers must send their password too"
            } else {
                ""
            }
        );
        let action = save_action("integration", save);
        self.audit_in(
            tx,
            ctx,
            Event::ok(action, format!("integration {name}"), detail),
        )
        .await
    }

    /// Every profile, by name. Needs `manage_connectors`.
    pub async fn profiles(&self, ctx: &Context) -> Result<Vec<StoredProfile>, StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "profile.list",
            "profiles".into(),
        )
        .await?;
        Ok(self.definitions().await?.stored_profiles)
    }

    /// Every connector, by name. Needs `manage_connectors`.
    pub async fn connectors(&self, ctx: &Context) -> Result<Vec<StoredConnector>, StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "connector.list",
            "connectors".into(),
        )
        .await?;
        Ok(self.definitions().await?.stored_connectors)
    }

    /// Every integration, by name. Needs `manage_connectors`.
    pub async fn integrations(&self, ctx: &Context) -> Result<Vec<Integration>, StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "integration.list",
            "integrations".into(),
        )
        .await?;
        let rows = sqlx::query(select_integrations!("ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("listing integrations", e))?;
        rows.iter().map(|row| self.integration_of(row)).collect()
    }

    /// Integration `name`; no actor needed (the gateway looks it up per request).
    pub async fn find_integration(&self, name: &str) -> Result<Integration, StoreError> {
        let row = sqlx::query(select_integrations!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading an integration", e))?
            .ok_or_else(|| not_found("integration", name))?;
        self.integration_of(&row)
    }

    /// Removes profile, connector or integration `name` (`kind`), if nothing uses it and
    /// it is still at `expected`. Needs `manage_connectors`.
    pub async fn remove_definition(
        &self,
        ctx: &Context,
        kind: &'static str,
        name: &str,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        let (action, delete) = match kind {
            "profile" => (
                "profile.remove",
                "DELETE FROM profiles WHERE name = $1 AND version = $2",
            ),
            "connector" => (
                "connector.remove",
                "DELETE FROM connectors WHERE name = $1 AND version = $2",
            ),
            "integration" => (
                "integration.remove",
                "DELETE FROM integrations WHERE name = $1 AND version = $2",
            ),
            other => {
                return Err(StoreError::Invalid {
                    field: "kind",
                    given: other.to_string(),
                    problem: "use profile, connector or integration".into(),
                });
            }
        };
        let object = format!("{kind} {name}");
        self.authorize(ctx, Need::ManageConnectors, None, action, object.clone())
            .await?;
        let result = async {
            let version = self.version_of(kind, name).await?;
            let based_on = expected.unwrap_or(version);
            let event = Event::ok(action, object.clone(), "removed".into());
            if !self
                .delete_versioned(ctx, kind, delete, name, based_on, event)
                .await?
            {
                return Err(self.conflict(kind, name, based_on).await);
            }
            Ok(())
        }
        .await;
        self.audit_if_failed(ctx, action, &object, result).await
    }

    /// Every profile and connector in the store as one checked configuration, with the
    /// store's truststores and keystores opened and connector passwords unsealed: what
    /// `keyway connector test|call` runs. Needs `manage_connectors`.
    pub async fn connector_config(&self, ctx: &Context) -> Result<Config, StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "connector.use",
            "connectors".into(),
        )
        .await?;
        self.runnable_config().await
    }

    /// The store's configuration with a connector (and its profile) as a form holds them,
    /// saved or not, in place of the stored ones of those names: what Test connectivity
    /// runs on a draft. Nothing is stored. A draft's basic auth without a password keeps
    /// the stored connector's. Needs `manage_connectors`.
    pub async fn draft_config(&self, ctx: &Context, draft: &Draft) -> Result<Config, StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "connector.use",
            format!("connector {} (draft)", draft.connector),
        )
        .await?;
        check_name("connector name", &draft.connector)?;
        let mut all = self.definitions().await?;
        self.unseal_passwords(&mut all).await?;
        if let Some((name, profile)) = &draft.profile {
            check_name("profile name", name)?;
            let mut profile = profile.clone();
            if profile.proxy.as_ref().is_some_and(|p| {
                matches!(
                    p.password,
                    Some(SecretRef::Env { .. } | SecretRef::File { .. })
                )
            }) {
                return Err(StoreError::Invalid {
                    field: "proxy.password",
                    given: "(a reference)".into(),
                    problem: "give the proxy password itself, not an environment variable or file of the server".into(),
                });
            }
            // As on save: the same proxy and user without a password keep the stored one.
            if let (Some(proxy), Some(stored)) = (
                profile.proxy.as_mut(),
                all.profiles.get(name).and_then(|p| p.proxy.as_ref()),
            ) && proxy.password.is_none()
                && proxy.same_proxy(stored)
            {
                proxy.password = stored.password.clone();
            }
            all.profiles.insert(name.clone(), profile);
        }
        let mut entry = draft.definition.clone();
        entry.auth = match &draft.auth {
            None => None,
            Some((username, Some(password))) => Some(AuthEntry {
                username: username.clone(),
                password: SecretRef::Inline(password.to_string()),
            }),
            Some((username, None)) => {
                let stored = all.connectors.get(&draft.connector);
                // The stored password goes only where it went before: a draft that points
                // elsewhere must bring its own (else a draft could send it anywhere).
                if let Some(stored) = stored
                    && stored.auth.is_some()
                    && url_origin(&stored.url) != url_origin(&draft.definition.url)
                {
                    return Err(StoreError::Invalid {
                        field: "auth.password",
                        given: "(none)".into(),
                        problem: format!(
                            "the draft calls {} where connector {} calls {}: give the password to send there",
                            url_origin(&draft.definition.url).unwrap_or_default(),
                            draft.connector,
                            url_origin(&stored.url).unwrap_or_default()
                        ),
                    });
                }
                let stored = stored.and_then(|c| c.auth.as_ref());
                let Some(stored) = stored else {
                    return Err(StoreError::Invalid {
                        field: "auth.password",
                        given: "(none)".into(),
                        problem: format!(
                            "connector {} has no stored password to keep: give the password",
                            draft.connector
                        ),
                    });
                };
                Some(AuthEntry {
                    username: username.clone(),
                    password: stored.password.clone(),
                })
            }
        };
        all.connectors.insert(draft.connector.clone(), entry);
        self.config_over_store(all).await
    }

    /// Whether `ctx` may have keyway connect to `target` outside a connector: a version
    /// probe or a test of a URL (which reach any address keyway can, so they need
    /// `manage_connectors`, like the connectors that would call it). A refusal is audited.
    pub async fn may_reach(&self, ctx: &Context, target: &str) -> Result<(), StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "connector.reach",
            format!("endpoint {target}"),
        )
        .await
    }

    /// [`Store::connector_config`] without an actor: for keyway's gateway, which runs
    /// integrations' connectors on behalf of callers it has checked itself.
    pub async fn runnable_config(&self) -> Result<Config, StoreError> {
        let mut all = self.definitions().await?;
        self.unseal_passwords(&mut all).await?;
        self.config_over_store(all).await
    }

    /// Puts each stored connector's basic-auth password, and each profile's proxy
    /// password, into `all`.
    async fn unseal_passwords(&self, all: &mut Definitions) -> Result<(), StoreError> {
        self.unseal_proxy_passwords(all).await?;
        for connector in all.stored_connectors.iter() {
            if let Some(user) = &connector.username {
                let password = self.connector_password(&connector.name).await?;
                if let Some(entry) = all.connectors.get_mut(&connector.name) {
                    entry.auth = Some(AuthEntry {
                        username: user.clone(),
                        password: SecretRef::Inline(password.to_string()),
                    });
                }
            }
        }
        Ok(())
    }

    /// `all` as a configuration over the store's truststores and keystores, opened.
    async fn config_over_store(&self, all: Definitions) -> Result<Config, StoreError> {
        let mut stored = Stored::default();
        for truststore in self.truststore_certificates().await? {
            stored.truststores.insert(truststore.0, truststore.1);
        }
        for name in self.names("SELECT name FROM keystores").await? {
            let secrets = self.keystore_secrets(&name).await?;
            stored.keystores.insert(
                name,
                Some(OpenedKeystore {
                    content: secrets.content.to_vec(),
                    format: secrets.format,
                    password: secrets.password.clone(),
                    key_password: secrets.key_password.clone(),
                    alias: secrets.alias.clone(),
                }),
            );
        }
        Ok(Config::with_stored(
            vec![(self.config_label(), all.file())],
            stored,
        )?)
    }

    /// Checks `all` as one configuration over the store's truststore and keystore names.
    /// Checks `all` as a keyway.toml over the store's truststores and keystores and the
    /// `more_truststores` and `more_keystores` about to be stored with it.
    pub(crate) async fn check_definitions(
        &self,
        all: Definitions,
        more_truststores: &[&str],
        more_keystores: &[&str],
    ) -> Result<(), StoreError> {
        let mut stored = Stored::default();
        for name in self.names("SELECT name FROM truststores").await? {
            stored.truststores.insert(name, Vec::new());
        }
        for name in self.names("SELECT name FROM keystores").await? {
            stored.keystores.insert(name, None);
        }
        for name in more_truststores {
            stored.truststores.insert(name.to_string(), Vec::new());
        }
        for name in more_keystores {
            stored.keystores.insert(name.to_string(), None);
        }
        Config::with_stored(vec![(self.config_label(), all.file())], stored)?;
        Ok(())
    }

    /// What errors about stored definitions name as their file.
    fn config_label(&self) -> PathBuf {
        keyway_connect::store_label(&self.name)
    }

    pub(crate) async fn names(&self, query: &'static str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(query)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("reading names", e))
    }

    async fn truststore_certificates(
        &self,
    ) -> Result<Vec<(String, Vec<keyway_keystore::Certificate>)>, StoreError> {
        let mut out = Vec::new();
        for name in self
            .names("SELECT name FROM truststores ORDER BY name")
            .await?
        {
            let truststore = self.find_truststore(&name).await?;
            out.push((name, truststore.certificates));
        }
        Ok(out)
    }

    async fn connector_password(&self, name: &str) -> Result<Zeroizing<String>, StoreError> {
        let sealed: Option<String> =
            sqlx::query_scalar("SELECT auth_password FROM connectors WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.db_error("reading a connector", e))?
                .flatten();
        let sealed = sealed.ok_or_else(|| StoreError::Database {
            database: self.name.clone(),
            action: format!("reading connector {name}"),
            problem: "it has a user name but no password".into(),
        })?;
        let bytes = self
            .master
            .open(
                sealed.as_bytes(),
                PASSWORD_PURPOSE,
                std::path::Path::new(&self.name),
            )
            .map_err(|e| StoreError::MasterKey(e.to_string()))?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Database {
                database: self.name.clone(),
                action: format!("reading connector {name}"),
                problem: "its password is not UTF-8".into(),
            })
    }

    /// Every stored profile and connector, read.
    pub(crate) async fn definitions(&self) -> Result<Definitions, StoreError> {
        let rows = sqlx::query(
            "SELECT name, definition, created_at, updated_at, version FROM profiles ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading profiles", e))?;
        let stored_profiles = rows
            .iter()
            .map(|row| self.profile_of(row))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query(select_connectors!("ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("reading connectors", e))?;
        let stored_connectors = rows
            .iter()
            .map(|row| self.connector_of(row))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Definitions::new(stored_profiles, stored_connectors))
    }

    async fn find_profile(&self, name: &str) -> Result<StoredProfile, StoreError> {
        let row = sqlx::query(
            "SELECT name, definition, created_at, updated_at, version FROM profiles WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a profile", e))?
        .ok_or_else(|| not_found("profile", name))?;
        self.profile_of(&row)
    }

    async fn find_connector(&self, name: &str) -> Result<StoredConnector, StoreError> {
        let row = sqlx::query(select_connectors!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading a connector", e))?
            .ok_or_else(|| not_found("connector", name))?;
        self.connector_of(&row)
    }

    async fn version_of(&self, kind: &str, name: &str) -> Result<i64, StoreError> {
        Ok(match kind {
            "profile" => self.find_profile(name).await?.version,
            "connector" => self.find_connector(name).await?.version,
            _ => self.find_integration(name).await?.version,
        })
    }

    /// Who uses `kind` `name` (`profile a, profile b`), if anyone.
    pub(crate) async fn users_of(&self, kind: &str, name: &str) -> Result<String, StoreError> {
        let Some((user_kind, query)) = users_query(kind) else {
            return Ok(String::new());
        };
        let users = sqlx::query_scalar::<_, String>(query)
            .bind(name)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("reading references", e))?;
        Ok(users
            .iter()
            .map(|u| format!("{user_kind} {u}"))
            .collect::<Vec<_>>()
            .join(", "))
    }

    /// The conflict error for a change of `kind` `name` based on version `expected`.
    pub(crate) async fn conflict(
        &self,
        kind: &'static str,
        name: &str,
        expected: i64,
    ) -> StoreError {
        let now = match kind {
            "truststore" => self.find_truststore(name).await.map(|t| t.version),
            "keystore" => self.find_keystore(name).await.map(|k| k.version),
            _ => self.version_of(kind, name).await,
        };
        match now {
            Ok(found) => StoreError::Conflict {
                kind,
                name: name.to_string(),
                expected,
                found,
            },
            Err(e) => e,
        }
    }

    /// Maps what a save's statement returned: a taken name, or a reference that vanished
    /// since the check.
    fn saved<T>(
        &self,
        result: Result<T, sqlx::Error>,
        kind: &'static str,
        name: &str,
    ) -> Result<T, StoreError> {
        match result {
            Ok(value) => Ok(value),
            Err(e) if crate::error::is_unique_violation(&e) => Err(StoreError::Duplicate {
                kind,
                name: name.to_string(),
            }),
            Err(e) if crate::error::is_foreign_key_violation(&e) => Err(StoreError::Invalid {
                field: kind,
                given: name.to_string(),
                problem: "refers to something removed while it was being saved; check the names and save it again".into(),
            }),
            Err(e) => Err(self.db_error(&format!("saving {kind} {name}"), e)),
        }
    }

    fn profile_of(&self, row: &AnyRow) -> Result<StoredProfile, StoreError> {
        let fail = |e| self.db_error("reading a profile", e);
        let name: String = row.try_get("name").map_err(fail)?;
        let json: String = row.try_get("definition").map_err(fail)?;
        Ok(StoredProfile {
            definition: self.read_json(&json, "profile", &name)?,
            created_at: row.try_get("created_at").map_err(fail)?,
            updated_at: row.try_get("updated_at").map_err(fail)?,
            version: row.try_get("version").map_err(fail)?,
            name,
        })
    }

    fn connector_of(&self, row: &AnyRow) -> Result<StoredConnector, StoreError> {
        let fail = |e| self.db_error("reading a connector", e);
        let name: String = row.try_get("name").map_err(fail)?;
        let json: String = row.try_get("definition").map_err(fail)?;
        Ok(StoredConnector {
            definition: self.read_json(&json, "connector", &name)?,
            username: row.try_get("auth_username").map_err(fail)?,
            created_at: row.try_get("created_at").map_err(fail)?,
            updated_at: row.try_get("updated_at").map_err(fail)?,
            version: row.try_get("version").map_err(fail)?,
            name,
        })
    }

    fn integration_of(&self, row: &AnyRow) -> Result<Integration, StoreError> {
        let fail = |e| self.db_error("reading an integration", e);
        Ok(Integration {
            name: row.try_get("name").map_err(fail)?,
            connector: row.try_get("connector").map_err(fail)?,
            description: row.try_get("description").map_err(fail)?,
            require_password: row.try_get::<i64, _>("require_password").map_err(fail)? == 1,
            created_at: row.try_get("created_at").map_err(fail)?,
            updated_at: row.try_get("updated_at").map_err(fail)?,
            version: row.try_get("version").map_err(fail)?,
        })
    }

    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        json: &str,
        kind: &str,
        name: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::Database {
            database: self.name.clone(),
            action: format!("reading {kind} {name}"),
            problem: e.to_string(),
        })
    }
}

macro_rules! select_connectors {
    ($rest:literal) => {
        concat!(
            "SELECT name, definition, auth_username, created_at, updated_at, version FROM connectors ",
            $rest
        )
    };
}
use select_connectors;

macro_rules! select_integrations {
    ($rest:literal) => {
        concat!(
            "SELECT name, connector, description, require_password, created_at, updated_at, version
             FROM integrations ",
            $rest
        )
    };
}
use select_integrations;

/// Stored profiles and connectors, and the same as a keyway.toml would hold them.
pub(crate) struct Definitions {
    stored_profiles: Vec<StoredProfile>,
    stored_connectors: Vec<StoredConnector>,
    pub(crate) profiles: IndexMap<String, ProfileEntry>,
    pub(crate) connectors: IndexMap<String, ConnectorEntry>,
}

impl Definitions {
    fn new(stored_profiles: Vec<StoredProfile>, stored_connectors: Vec<StoredConnector>) -> Self {
        let profiles = stored_profiles
            .iter()
            .map(|p| (p.name.clone(), p.definition.clone()))
            .collect();
        let connectors = stored_connectors
            .iter()
            .map(|c| {
                let mut entry = c.definition.clone();
                // Checked without the password: only that there is a user name.
                entry.auth = c.username.as_ref().map(|u| AuthEntry {
                    username: u.clone(),
                    password: SecretRef::Inline(String::new()),
                });
                (c.name.clone(), entry)
            })
            .collect();
        Definitions {
            stored_profiles,
            stored_connectors,
            profiles,
            connectors,
        }
    }

    fn file(self) -> ConfigFile {
        ConfigFile {
            truststores: IndexMap::new(),
            keystores: IndexMap::new(),
            profiles: self.profiles,
            connectors: self.connectors,
            integrations: IndexMap::new(),
        }
    }
}

/// A connector as the definition check sees it: its password is sealed separately,
/// only that it has one matters.
pub(crate) fn as_checked(connector: &NewConnector) -> ConnectorEntry {
    let mut checked = connector.definition.clone();
    checked.auth = connector.auth.as_ref().map(|(user, _)| AuthEntry {
        username: user.clone(),
        password: SecretRef::Inline(String::new()),
    });
    checked
}

fn save_action(kind: &str, save: Save) -> &'static str {
    match (kind, save) {
        ("profile", Save::Add) => "profile.add",
        ("profile", Save::Replace(_)) => "profile.replace",
        ("connector", Save::Add) => "connector.add",
        ("connector", Save::Replace(_)) => "connector.replace",
        ("integration", Save::Add) => "integration.add",
        _ => "integration.replace",
    }
}

fn profile_detail(definition: &ProfileEntry) -> String {
    let mut parts = Vec::new();
    if !definition.truststores.is_empty() {
        parts.push(format!("truststores {}", definition.truststores.join(", ")));
    }
    if let Some(k) = &definition.keystore {
        parts.push(format!("keystore {k}"));
    }
    if let Some(v) = &definition.lowest_version {
        parts.push(format!("lowest {v}"));
    }
    if let Some(v) = &definition.versions {
        parts.push(format!("versions {}", v.join(", ")));
    }
    if let Some(p) = &definition.proxy {
        parts.push(format!("proxy {}", p.url));
    }
    if parts.is_empty() {
        "system roots, defaults".into()
    } else {
        parts.join("; ")
    }
}

fn to_json(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        field: "definition",
        given: String::new(),
        problem: e.to_string(),
    })
}

fn not_found(kind: &'static str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        name: name.to_string(),
        hint: ": `keyway config export` writes out what the store holds; `keyway config import keyway.toml` stores definitions".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::url_origin;

    #[test]
    fn origins_compare_scheme_host_and_port_with_the_default_port_filled_in() {
        let o = |u: &str| url_origin(u).unwrap();
        assert_eq!(o("https://Partner.test/api"), "https://partner.test:443");
        assert_eq!(
            o("https://partner.test:443/x"),
            o("https://partner.test/y?q")
        );
        assert_ne!(o("https://partner.test/"), o("https://evil.test/"));
        assert_ne!(o("https://partner.test/"), o("https://partner.test:8443/"));
        assert_eq!(o("https://user@partner.test/"), "https://partner.test:443");
        assert_eq!(o("https://[::1]/"), "https://[::1]:443");
        assert_eq!(o("https://[::1]:8443/"), "https://[::1]:8443");
        assert!(url_origin("partner.test").is_none());
    }
}
