//! keyway's persistent state: users and their permissions, their client certificates
//! (and key pairs waiting for an outside CA), named truststores, keyway's CA (its sealed
//! keys, the record of everything it issued, revocations, the CRL number), named
//! keystores (sealed, with their passwords), TLS profiles, connectors and integrations
//! (what a keyway.toml describes; references enforced by foreign keys), the audit log,
//! and the watch's memory: each connector's audit results over time and the alerts
//! queued or sent ([`Store::record_checks`], [`Store::queue_alert`]).
//!
//! One API over two databases: an embedded SQLite file in the data directory (the
//! default, `DATA/keyway.db`) or a PostgreSQL database several keyway nodes share.
//! Schema migrations run when a store is opened; a database written by a newer keyway
//! is refused rather than misread.
//!
//! What this crate does *not* do: parse command lines, serve HTTP or speak TLS. It takes
//! a [`Context`] (who is acting, from where) for every change, checks it, and writes the
//! change and its audit entry in one transaction, or nothing.
//!
//! Secrets are sealed with the master key (AES-256-GCM, [`keyway_pki::MasterKey`]) kept
//! outside the database: `DATA/master.key` (mode 0600, created on first use) or
//! `KEYWAY_MASTER_KEY`. Opening a database with another master key fails at once.
//! Passwords are stored only as argon2id hashes.
//!
//! Durability: SQLite runs in WAL mode with `synchronous = FULL`, so a transaction that
//! returned is on disk (it survives a killed process and a power cut); PostgreSQL runs
//! with its defaults (`synchronous_commit = on`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyway_store::StoreError> {
//! use keyway_store::{Context, Location, NewUser, Permission, Store};
//! let store = Store::open(&Location::data_dir("keyway-data"), None).await?;
//! let admin = Context::local_admin();
//! store
//!     .add_user(&admin, NewUser::new("alice").permission(Permission::ManagePersonalSetup))
//!     .await?;
//! # Ok(()) }
//! ```

mod access;
mod api_access;
mod audit;
mod ca;
mod cert;
mod config;
mod connectors;
mod crl;
mod error;
mod expiry;
mod gateway;
mod keystore;
mod schema;
mod setup;
mod trust;
mod user;
mod watch;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keyway_pki::MasterKey;

/// A write transaction: several changes that land together or not at all.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use access::{Actor, Context, InvokeDenied, Permission};
pub use api_access::{ApiSession, ApiToken, NewToken, OpenedSession, SessionPolicy, TOKEN_PREFIX};
pub use audit::{AuditEntry, AuditOutcome, AuditQuery, Retention};
pub use ca::{CaImport, CaRequest, StoredCa, issued_json};
pub use cert::{
    CertOrigin, CertificateOwner, ClientCertificate, KeyAndChain, LastUse, PendingKey, Revocation,
    Upload,
};
pub use config::{ConfigExport, ConfigImport, ConfigImported, ExportedFile, MAX_UPLOAD_FILES};
pub use connectors::{
    Draft, Integration, NewConnector, NewIntegration, Save, StoredConnector, StoredProfile,
};
pub use crl::{CrlImport, StoredCrl};
pub use error::StoreError;
pub use expiry::{KnownCertificate, Uses};
pub use gateway::{Changes, GatewayDirectory, GatewayRecord, GatewayTrust, REPEAT_WINDOW};
pub use keystore::{KeystoreEntry, KeystoreSecrets, NewKeystore, StoredKeystore};
pub use setup::{CA_FILE, CaState, Initialized, Setup, write_ca_file};
pub use trust::Truststore;
pub use user::{MIN_PASSWORD_CHARS, NewUser, User};
pub use watch::{Change, CheckRecord};

/// The keystore that holds the gateway's server certificate (issued by keyway's CA and
/// renewed by the gateway, or one an administrator stores under this name).
pub const GATEWAY_KEYSTORE: &str = "gateway";

/// The database file's name in the data directory.
pub const DATABASE_FILE: &str = "keyway.db";

/// Where keyway's state lives.
#[derive(Debug, Clone)]
pub struct Location {
    /// The data directory: the SQLite database (unless `database_url` is set) and
    /// `master.key` (unless the key is given).
    pub data_dir: PathBuf,
    /// A `postgres://` URL: use that database instead of the embedded one.
    pub database_url: Option<String>,
}

impl Location {
    /// The embedded database in `dir`.
    pub fn data_dir(dir: impl Into<PathBuf>) -> Self {
        Location {
            data_dir: dir.into(),
            database_url: None,
        }
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A shared PostgreSQL database.
    Postgres,
}

/// An open store. Cheap to share between tasks (`Arc`); every method is one transaction.
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database as errors name it (never with a password).
    name: String,
    master: MasterKey,
    /// PostgreSQL: the URL, for a listening connection ([`Store::changes`]).
    listen_url: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.name)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `location`, creating the data directory, the master key and
    /// the database on first use, and bringing the schema up to date. `master_key` is
    /// the value of `KEYWAY_MASTER_KEY` if set (64 hex digits).
    pub async fn open(location: &Location, master_key: Option<&str>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        create_private_dir(&location.data_dir)?;
        let master_file = location.data_dir.join(keyway_pki::MASTER_KEY_FILE);
        let key_created = master_key.is_none() && !master_file.exists();
        let master = MasterKey::load_or_create(&location.data_dir, master_key)
            .map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let opened = Self::open_with(location, master).await;
        if key_created && opened.is_err() {
            // A key made just now for a database that turned out to have another (or
            // could not be reached) must not stay behind looking like the right one.
            let _ = std::fs::remove_file(&master_file);
        }
        opened
    }

    async fn open_with(location: &Location, master: MasterKey) -> Result<Store, StoreError> {
        let (options, backend, name) = match &location.database_url {
            Some(url) => postgres_options(url)?,
            None => sqlite_options(&location.data_dir.join(DATABASE_FILE))?,
        };
        // One plain connection first: the pool retries a failing connection until its
        // acquire timeout and then reports only the timeout; this names the real cause
        // (refused, unknown host, wrong password, no such database) at once.
        let probe =
            sqlx::ConnectOptions::connect(&options)
                .await
                .map_err(|e| StoreError::Unavailable {
                    database: name.clone(),
                    problem: unavailable_problem(backend, &e),
                })?;
        let _ = sqlx::Connection::close(probe).await;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(15))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // FULL: a commit is durable once it returns (the WAL is synced).
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        // References (a profile's truststores, …) are enforced, as on
                        // PostgreSQL.
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable {
                database: name.clone(),
                problem: unavailable_problem(backend, &e),
            })?;
        let store = Store {
            pool,
            backend,
            name,
            master,
            listen_url: location.database_url.clone().map(zeroize::Zeroizing::new),
        };
        schema::migrate(&store).await?;
        store.check_master_key().await?;
        Ok(store)
    }

    /// The database it runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The durability setting in force, as benchmarks and `keyway init` report it.
    pub fn durability(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "SQLite WAL, synchronous=FULL (a returned commit is on disk)",
            Backend::Postgres => "PostgreSQL synchronous_commit=on (server default)",
        }
    }

    /// The database as messages name it: the SQLite file, or the PostgreSQL URL without
    /// its password.
    pub fn database(&self) -> &str {
        &self.name
    }

    /// Closes every connection (waits for running statements).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs SQLite's integrity check (PostgreSQL: a trivial query). `Ok(())` when the
    /// database is sound; `Err` holds what the check found.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map_err(|e| self.db_error("checking the database", e))?;
            return Ok(());
        }
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("checking the database", e))?;
        if rows == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Database {
                database: self.name.clone(),
                action: "integrity check".into(),
                problem: rows.join("; "),
            })
        }
    }

    /// Starts a write transaction ([`Tx`]). On SQLite it takes the write lock at once, so two
    /// writers queue (busy timeout) instead of failing when one upgrades its read.
    pub(crate) async fn write(&self) -> Result<Tx, StoreError> {
        let result = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        result.map_err(|e| self.db_error("starting a transaction", e))
    }

    /// Runs `delete` (a `DELETE … WHERE name = $1 AND version = $2`) for `kind` `name` at
    /// version `expected` and audits `event` in the same transaction. False, with nothing
    /// changed, when the row was not at that version (or is gone); an error naming the
    /// users when something still refers to it.
    pub(crate) async fn delete_versioned(
        &self,
        ctx: &Context,
        kind: &'static str,
        delete: &'static str,
        name: &str,
        expected: i64,
        event: audit::Event<'_>,
    ) -> Result<bool, StoreError> {
        let action = format!("removing {}", event.object);
        let in_use = |users: String| StoreError::InUse {
            kind,
            name: name.to_string(),
            users,
        };
        let users = self.users_of(kind, name).await?;
        if !users.is_empty() {
            return Err(in_use(users));
        }
        let mut tx = self.write().await?;
        let removed = match sqlx::query(delete)
            .bind(name)
            .bind(expected)
            .execute(&mut *tx)
            .await
        {
            Ok(removed) => removed,
            // Taken into use between the check and the delete.
            Err(e) if error::is_foreign_key_violation(&e) => {
                drop(tx);
                return Err(in_use(self.users_of(kind, name).await?));
            }
            Err(e) => return Err(self.db_error(&action, e)),
        };
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        self.audit_in(&mut tx, ctx, event).await?;
        tx.commit().await.map_err(|e| self.db_error(&action, e))?;
        Ok(true)
    }

    pub(crate) fn db_error(&self, action: &str, e: sqlx::Error) -> StoreError {
        StoreError::database(&self.name, action, e)
    }

    /// Makes sure the master key is the one the database was created with; records it
    /// (as a sealed check value) on first use.
    async fn check_master_key(&self) -> Result<(), StoreError> {
        const PURPOSE: &str = "keyway master key check";
        let found: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE name = 'master_key_check'")
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.db_error("reading the master key check", e))?;
        match found {
            Some(sealed) => self
                .master
                .open(sealed.as_bytes(), PURPOSE, Path::new(&self.name))
                .map(|_| ())
                .map_err(|_| {
                    StoreError::MasterKey(format!(
                        "the key from {} is not the master key {} was created with: restore its master.key or set KEYWAY_MASTER_KEY to the right key",
                        self.master.origin(), self.name
                    ))
                }),
            None => {
                let sealed = self
                    .master
                    .seal(b"keyway", PURPOSE)
                    .map_err(|e| StoreError::MasterKey(e.to_string()))?;
                // Two first openings at once: the first check value wins, the other
                // opening then verifies against it.
                let mut tx = self.write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ('master_key_check', $1) ON CONFLICT (name) DO NOTHING",
                )
                .bind(sealed)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db_error("recording the master key check", e))?;
                tx.commit()
                    .await
                    .map_err(|e| self.db_error("recording the master key check", e))?;
                if inserted.rows_affected() == 0 {
                    return Box::pin(self.check_master_key()).await;
                }
                Ok(())
            }
        }
    }
}

fn sqlite_options(path: &Path) -> Result<(AnyConnectOptions, Backend, String), StoreError> {
    let name = path.display().to_string();
    // Owner-only from the start (password hashes, sealed secrets); SQLite gives its
    // -wal and -shm files the same mode.
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(StoreError::Unavailable {
            database: name,
            problem: format!("cannot create the database file: {e}"),
        });
    }
    let text = path.to_str().ok_or_else(|| StoreError::Unavailable {
        database: name.clone(),
        problem: "the path is not UTF-8: choose a data directory with a plain name".into(),
    })?;
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            c => escaped.push(c),
        }
    }
    let options: AnyConnectOptions =
        format!("sqlite://{escaped}?mode=rwc")
            .parse()
            .map_err(|e: sqlx::Error| StoreError::Unavailable {
                database: name.clone(),
                problem: e.to_string(),
            })?;
    Ok((options, Backend::Sqlite, name))
}

fn postgres_options(url: &str) -> Result<(AnyConnectOptions, Backend, String), StoreError> {
    let name = redact_url(url);
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Invalid {
            field: "database URL",
            given: name,
            problem: "must start with postgres:// (the embedded database needs no URL: leave --database out)".into(),
        });
    }
    let options: AnyConnectOptions = url.parse().map_err(|e: sqlx::Error| {
        StoreError::Invalid {
            field: "database URL",
            given: name.clone(),
            // sqlx's message may quote the URL: keep only its kind.
            problem: match e {
                sqlx::Error::Configuration(_) => {
                    "is not a valid URL: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE".into()
                }
                other => error::describe(&other),
            },
        }
    })?;
    Ok((options, Backend::Postgres, name))
}

/// `url` with its password replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

fn unavailable_problem(backend: Backend, e: &sqlx::Error) -> String {
    let detail = error::describe(e);
    match backend {
        Backend::Postgres => format!(
            "cannot connect ({detail}): check that PostgreSQL runs there, that the user, password and database in the URL are right, and that this host may connect"
        ),
        Backend::Sqlite => format!(
            "cannot open the database ({detail}): check that the data directory is writable and the disk is not full"
        ),
    }
}

/// Creates `dir` (mode 0700) if it is missing.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(StoreError::Unavailable {
            database: dir.display().to_string(),
            problem: format!("cannot create the data directory: {e}"),
        }),
    }
}

/// `bytes` random bytes as hex.
pub(crate) fn random_hex(bytes: usize) -> Result<zeroize::Zeroizing<String>, StoreError> {
    let mut random = zeroize::Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut random)
        .map_err(|e| StoreError::MasterKey(format!("the system gave no random bytes: {e}")))?;
    Ok(zeroize::Zeroizing::new(
        random.iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Serializes seconds since the Unix epoch as an RFC 3339 UTC time: the JSON contract
/// has one form for times (`docs/json.md`).
pub(crate) fn rfc3339<S: serde::Serializer>(at: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso(*at))
}

/// [`rfc3339`] for an optional time (`null` when there is none).
pub(crate) fn rfc3339_opt<S: serde::Serializer>(at: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&iso(*at)),
        None => s.serialize_none(),
    }
}

/// Seconds since the Unix epoch as an RFC 3339 UTC time, for messages.
pub(crate) fn iso(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

/// Names of users, integrations and what else people name: the one rule of
/// [`keyway_connect::name_problem`].
pub(crate) fn check_name(field: &'static str, name: &str) -> Result<(), StoreError> {
    match keyway_connect::name_problem(name) {
        Some(problem) => Err(StoreError::Invalid {
            field,
            given: keyway_connect::shown_name(name),
            problem,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redact_url("postgres://keyway:s3cret@db.example:5432/keyway"),
            "postgres://keyway:***@db.example:5432/keyway"
        );
        assert_eq!(
            redact_url("postgres://keyway@db/keyway"),
            "postgres://keyway@db/keyway"
        );
        assert_eq!(redact_url("postgres://db/k"), "postgres://db/k");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("user name", "alice.smith@partner-a").is_ok());
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(check_name("user name", bad).is_err(), "{bad:?}");
        }
    }
}
