//! Versioned schema migrations, one SQL file per version and backend (SQLite and
//! PostgreSQL differ in auto-increment keys and triggers). Applied in order when a store
//! opens, all in one transaction with a row each in `keyway_schema`; a database whose
//! version is newer than the last migration here is refused.
//!
//! Written here rather than with `sqlx::migrate` because the two backends need different
//! files behind one version number, and a newer database must be refused with a message
//! that says so.

use sqlx::Executor;

use crate::{Backend, Store, StoreError};

const SQLITE: &[&str] = &[
    include_str!("../migrations/sqlite/0001_users.sql"),
    include_str!("../migrations/sqlite/0002_certificates.sql"),
    include_str!("../migrations/sqlite/0003_ca.sql"),
    include_str!("../migrations/sqlite/0004_keystores.sql"),
    include_str!("../migrations/sqlite/0005_connectors.sql"),
    include_str!("../migrations/sqlite/0006_crls.sql"),
    include_str!("../migrations/sqlite/0007_audit_retention.sql"),
    include_str!("../migrations/sqlite/0008_api_access.sql"),
    include_str!("../migrations/sqlite/0009_watch.sql"),
    include_str!("../migrations/sqlite/0010_proxy.sql"),
    include_str!("../migrations/sqlite/0011_certificate_use.sql"),
];
const POSTGRES: &[&str] = &[
    include_str!("../migrations/postgres/0001_users.sql"),
    include_str!("../migrations/postgres/0002_certificates.sql"),
    include_str!("../migrations/postgres/0003_ca.sql"),
    include_str!("../migrations/postgres/0004_keystores.sql"),
    include_str!("../migrations/postgres/0005_connectors.sql"),
    include_str!("../migrations/postgres/0006_crls.sql"),
    include_str!("../migrations/postgres/0007_audit_retention.sql"),
    include_str!("../migrations/postgres/0008_api_access.sql"),
    include_str!("../migrations/postgres/0009_watch.sql"),
    include_str!("../migrations/postgres/0010_proxy.sql"),
    include_str!("../migrations/postgres/0011_certificate_use.sql"),
];

/// The newest schema version this binary knows.
pub(crate) const CURRENT: i64 = SQLITE.len() as i64;

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS keyway_schema (
    version    BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL
)";

pub(crate) async fn migrate(store: &Store) -> Result<(), StoreError> {
    const _: () = assert!(SQLITE.len() == POSTGRES.len());
    let files = match store.backend {
        Backend::Sqlite => {
            // Persistent for the file; needs no other connection writing, so it is set
            // here, before anything else runs.
            store
                .pool
                .execute("PRAGMA journal_mode = WAL")
                .await
                .map_err(|e| store.db_error("switching to WAL mode", e))?;
            SQLITE
        }
        Backend::Postgres => POSTGRES,
    };
    let mut tx = store.write().await?;
    if store.backend == Backend::Postgres {
        // Two nodes starting at once: the second waits, then finds the work done.
        tx.execute("SELECT pg_advisory_xact_lock(4711931)")
            .await
            .map_err(|e| store.db_error("locking the schema", e))?;
    }
    tx.execute(CREATE_VERSION_TABLE)
        .await
        .map_err(|e| store.db_error("creating the schema table", e))?;
    let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM keyway_schema")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| store.db_error("reading the schema version", e))?;
    let found = found.unwrap_or(0);
    if found > CURRENT {
        return Err(StoreError::SchemaTooNew {
            database: store.name.clone(),
            found,
            supported: CURRENT,
        });
    }
    for (index, sql) in files.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await
            .map_err(|e| store.db_error(&format!("applying schema version {version}"), e))?;
        sqlx::query("INSERT INTO keyway_schema (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(crate::now())
            .execute(&mut *tx)
            .await
            .map_err(|e| store.db_error(&format!("recording schema version {version}"), e))?;
    }
    tx.commit()
        .await
        .map_err(|e| store.db_error("committing the schema", e))
}
