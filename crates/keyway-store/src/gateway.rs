//! What keyway's inbound gateway reads from the store: who may present a client
//! certificate (keyway's CA, truststores the administrator names, registered and revoked
//! certificates), a cheap stamp that changes when any of it does, the users behind
//! certificates, and a way to record its decisions in the audit log in batches.
//!
//! None of this takes an actor: the gateway checks its callers itself, with these.

use std::collections::{HashMap, HashSet};

use keyway_keystore::Certificate;

use crate::{
    AuditOutcome, CertificateOwner, Context, Integration, Revocation, Store, StoreError, User,
};

/// The client CAs and certificates the gateway's handshakes are checked against.
#[derive(Debug, Clone, Default)]
pub struct GatewayTrust {
    /// keyway's CA (issuing CA up to the root) and the certificates of the named
    /// truststores: a client certificate chaining to one of them is accepted (and then
    /// mapped to its user by fingerprint).
    pub client_cas: Vec<Certificate>,
    /// SHA-256 (lower-case hex) of every registered certificate not revoked: accepted
    /// even when it chains to no CA (a partner's pinned self-signed certificate).
    pub registered: HashSet<String>,
    /// SHA-256 of every revoked certificate: refused in the handshake.
    pub revoked: HashSet<String>,
    /// Imported CRLs of outside CAs (DER): a certificate one lists is refused.
    pub crls: Vec<Vec<u8>>,
}

/// sha256, user, enabled, revoked_at, revoke_reason, not_before, not_after.
type OwnerRow = (String, String, i64, Option<i64>, Option<String>, i64, i64);

/// What the gateway decides requests with ([`Store::gateway_directory`]).
#[derive(Debug, Clone, Default)]
pub struct GatewayDirectory {
    /// Registered certificates by SHA-256 (lower-case hex), with their owners.
    pub certificates: HashMap<String, CertificateOwner>,
    /// Every user by name, with their permissions.
    pub users: HashMap<String, User>,
    /// Every integration by name.
    pub integrations: HashMap<String, Integration>,
}

impl GatewayDirectory {
    /// The owner of the certificate with SHA-256 `fingerprint` (lower-case hex), if it
    /// is registered.
    pub fn owner(&self, fingerprint: &str) -> Option<&CertificateOwner> {
        self.certificates.get(fingerprint)
    }

    /// Integration `name`, if there is one.
    pub fn integration(&self, name: &str) -> Option<&Integration> {
        self.integrations.get(name)
    }
}

/// One decision of the gateway, for the audit log.
#[derive(Debug, Clone)]
pub struct GatewayRecord {
    /// The user, or `None` when the certificate maps to nobody.
    pub user: Option<String>,
    /// The caller's address.
    pub origin: String,
    /// `gateway.invoke`, `gateway.refuse`, …
    pub action: String,
    /// `integration orders`.
    pub object: String,
    /// Done, refused or failed.
    pub outcome: AuditOutcome,
    /// The certificate's fingerprint and what was decided (never a secret).
    pub detail: String,
    /// For a refusal that may repeat (the same certificate refused the same way): the
    /// key under which repeats within [`REPEAT_WINDOW`] count up on one row instead of
    /// adding rows. `None`: a row of its own.
    pub repeat_key: Option<String>,
}

/// How long a refusal's row keeps counting its repeats (seconds); a repeat after that
/// starts a new row.
pub const REPEAT_WINDOW: i64 = 600;

/// Changes announced by other keyway nodes on a shared PostgreSQL database
/// ([`Store::changes`]).
pub struct Changes {
    listener: sqlx::postgres::PgListener,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes").finish_non_exhaustive()
    }
}

impl Changes {
    /// Waits for the next change anywhere (its audit action, `cert.revoke`, …). An error
    /// means the listening connection was lost: listen again after a pause; polling
    /// covers the gap.
    pub async fn next(&mut self) -> Result<String, StoreError> {
        self.listener
            .recv()
            .await
            .map(|n| n.payload().to_string())
            .map_err(|e| StoreError::database("PostgreSQL", "listening for changes", e))
    }
}

impl Store {
    /// On PostgreSQL, a listener for every change committed by any node (each audited
    /// change is announced); `None` on SQLite, where one process writes.
    pub async fn changes(&self) -> Result<Option<Changes>, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url)
            .await
            .map_err(|e| self.db_error("listening for changes", e))?;
        listener
            .listen("keyway_changes")
            .await
            .map_err(|e| self.db_error("listening for changes", e))?;
        Ok(Some(Changes { listener }))
    }

    /// A value that changes whenever [`Store::gateway_trust`] or
    /// [`Store::runnable_config`] may: poll it cheaply, reload on change.
    pub async fn gateway_stamp(&self) -> Result<(i64, i64, i64, i64, i64, i64), StoreError> {
        let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT
                (SELECT COUNT(*) FROM client_certificates),
                (SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM client_certificates),
                (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM truststores)
                  + (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM crls),
                (SELECT COUNT(*) FROM ca) + (SELECT COUNT(*) FROM ca_issued WHERE revoked_at IS NOT NULL),
                (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM connectors)
                  + (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM profiles)
                  + (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM keystores),
                (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM users)
                  + (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM integrations)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db_error("reading the gateway's stamp", e))?;
        Ok(row)
    }

    /// keyway's CA plus the truststores named in `truststores`, the imported CRLs, and the registered and
    /// revoked certificates. An unknown truststore name is an error naming it.
    pub async fn gateway_trust(&self, truststores: &[String]) -> Result<GatewayTrust, StoreError> {
        let mut trust = GatewayTrust::default();
        if let Some(ca) = self.ca().await? {
            trust.client_cas.extend(ca.chain());
        }
        for name in truststores {
            trust
                .client_cas
                .extend(self.find_truststore(name).await?.certificates);
        }
        trust.crls = self.crl_ders().await?;
        let rows: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT sha256, revoked_at FROM client_certificates")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.db_error("reading client certificates", e))?;
        for (sha256, revoked_at) in rows {
            if revoked_at.is_some() {
                trust.revoked.insert(sha256);
            } else {
                trust.registered.insert(sha256);
            }
        }
        let revoked_by_ca: Vec<String> =
            sqlx::query_scalar("SELECT sha256 FROM ca_issued WHERE revoked_at IS NOT NULL")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.db_error("reading revocations", e))?;
        trust.revoked.extend(revoked_by_ca);
        Ok(trust)
    }

    /// The end (Unix seconds) of the earliest client certificate in use (not revoked, not
    /// yet expired), if any: what expiry warnings watch.
    pub async fn earliest_client_expiry(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT MIN(not_after) FROM client_certificates WHERE revoked_at IS NULL AND not_after > $1",
        )
        .bind(crate::now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db_error("reading certificate validity", e))
    }

    /// Every registered certificate with its owner, every user with their permissions,
    /// every integration: what the gateway decides requests with, kept in memory and
    /// read again when [`Store::gateway_stamp`] changes.
    pub async fn gateway_directory(&self) -> Result<GatewayDirectory, StoreError> {
        let rows: Vec<OwnerRow> =
            sqlx::query_as(
                "SELECT c.sha256, u.name, u.enabled, c.revoked_at, c.revoke_reason, c.not_before, c.not_after
                 FROM client_certificates c JOIN users u ON u.id = c.user_id",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("reading client certificates", e))?;
        let certificates = rows
            .into_iter()
            .map(
                |(sha256, user, enabled, revoked_at, reason, not_before, not_after)| {
                    let owner = CertificateOwner {
                        user,
                        user_enabled: enabled == 1,
                        revoked: revoked_at.map(|at| Revocation {
                            at,
                            reason: reason.unwrap_or_default(),
                        }),
                        not_before,
                        not_after,
                    };
                    (sha256, owner)
                },
            )
            .collect();
        let admin = Context::local_admin();
        Ok(GatewayDirectory {
            certificates,
            users: (self.users(&admin).await?)
                .into_iter()
                .map(|u| (u.name.clone(), u))
                .collect(),
            integrations: (self.integrations(&admin).await?)
                .into_iter()
                .map(|i| (i.name.clone(), i))
                .collect(),
        })
    }

    /// User `name`, if there is one; no actor needed.
    pub async fn gateway_user(&self, name: &str) -> Result<Option<User>, StoreError> {
        match self.find_user(name).await {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the gateway's decisions to the audit log, all in one transaction (many
    /// rows per statement: a busy gateway records thousands a second).
    pub async fn record_gateway(&self, records: &[GatewayRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let now = crate::now();
        let mut tx = self.write().await?;
        let (repeating, single): (Vec<&GatewayRecord>, Vec<&GatewayRecord>) =
            records.iter().partition(|r| r.repeat_key.is_some());
        for r in repeating {
            let key = r.repeat_key.as_deref().unwrap_or_default();
            let counted = sqlx::query(
                "UPDATE audit_log SET count = count + 1, last_at = $1
                 WHERE id = (SELECT id FROM audit_log WHERE repeat_key = $2 AND at >= $3
                             ORDER BY id DESC LIMIT 1)",
            )
            .bind(now)
            .bind(key)
            .bind(now - REPEAT_WINDOW)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error("writing the audit log", e))?;
            if counted.rows_affected() == 0 {
                sqlx::query(
                    "INSERT INTO audit_log (at, actor, action, object, origin, outcome, detail, repeat_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(now)
                .bind(r.user.as_deref().unwrap_or("(unknown)"))
                .bind(r.action.as_str())
                .bind(r.object.as_str())
                .bind(r.origin.as_str())
                .bind(r.outcome.as_str())
                .bind(r.detail.as_str())
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db_error("writing the audit log", e))?;
            }
        }
        let mut rest = &single[..];
        while !rest.is_empty() {
            // Statements of a few fixed sizes, so each is prepared once per connection and
            // then found in sqlx's statement cache (a statement per batch size was parsed
            // anew for nearly every batch).
            // The last size is 1, so one always fits.
            let size = AUDIT_BATCH_ROWS
                .iter()
                .position(|&rows| rows <= rest.len())
                .unwrap_or(AUDIT_BATCH_ROWS.len() - 1);
            let (chunk, later) = rest.split_at(AUDIT_BATCH_ROWS[size]);
            rest = later;
            let mut query = sqlx::query(sqlx::AssertSqlSafe(audit_insert(size, self.backend)));
            for r in chunk {
                query = query
                    .bind(now)
                    .bind(r.user.as_deref().unwrap_or("(unknown)"))
                    .bind(r.action.as_str())
                    .bind(r.object.as_str())
                    .bind(r.origin.as_str())
                    .bind(r.outcome.as_str())
                    .bind(r.detail.as_str());
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db_error("writing the audit log", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| self.db_error("writing the audit log", e))
    }
}

/// The row counts of the audit log's batch inserts, largest first: a batch is written
/// with as few statements of these sizes as fit. 512 rows × 7 values stays under
/// SQLite's 32 766 bound values per statement.
const AUDIT_BATCH_ROWS: [usize; 5] = [512, 64, 16, 4, 1];

/// The audit insert for the `size`th of [`AUDIT_BATCH_ROWS`], built once per backend.
fn audit_insert(size: usize, backend: crate::Backend) -> &'static str {
    static SQLITE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    static POSTGRES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let cache = match backend {
        crate::Backend::Sqlite => &SQLITE,
        crate::Backend::Postgres => &POSTGRES,
    };
    let statements = cache.get_or_init(|| {
        AUDIT_BATCH_ROWS
            .iter()
            .map(|&rows| audit_insert_sql(rows, backend))
            .collect()
    });
    &statements[size]
}

/// `INSERT INTO audit_log … VALUES (…), (…)` for `rows` rows of seven values. SQLite
/// gets anonymous `?` marks: with numbered ones, binding looks each name up in a list as
/// long as the statement's, quadratic in the batch (it was a third of the gateway's CPU
/// under load). Only placeholders are formatted in; every value is bound.
fn audit_insert_sql(rows: usize, backend: crate::Backend) -> String {
    const COLUMNS: usize = 7;
    let mut sql = String::with_capacity(96 + rows * COLUMNS * 6);
    sql.push_str(
        "INSERT INTO audit_log (at, actor, action, object, origin, outcome, detail) VALUES ",
    );
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                crate::Backend::Sqlite => sql.push('?'),
                crate::Backend::Postgres => {
                    use std::fmt::Write;
                    let _ = write!(sql, "${}", row * COLUMNS + column + 1);
                }
            }
        }
        sql.push(')');
    }
    sql
}
