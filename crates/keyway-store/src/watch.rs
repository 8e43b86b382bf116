//! The watch's memory: each connector's audit results over time, so that a change from
//! passing to failing, a recovery, or a partner's new certificate is seen the moment it
//! happens (and said once), and the alerts already sent, claimed in the database so that
//! of several nodes sharing one store only one sends each.

use keyway_connect::audit::{ConnectorAudit, FleetAudit, Standing};
use serde::Serialize;
use sqlx::Row;

use crate::access::Need;
use crate::{Context, Store, StoreError, now};

/// How long results are kept (the latest of each connector is always kept): 90 days of
/// checks every 6 hours for 500 connectors is 180 000 rows of a few KiB.
const KEEP_SECONDS: i64 = 90 * 86_400;

/// One connector's check, as kept.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    /// Its number.
    pub id: i64,
    /// The connector.
    pub connector: String,
    /// When.
    #[serde(serialize_with = "crate::rfc3339")]
    pub checked_at: i64,
    /// `failing`, `would_break`, `expiring` or `passing`.
    pub standing: String,
    /// The diagnosis code of a failure.
    pub code: Option<String>,
    /// In words.
    pub summary: String,
    /// The SHA-256 of the certificate the partner presented.
    pub server_sha256: Option<String>,
    /// Its issuer.
    pub server_issuer: Option<String>,
    /// The connector's row of `keyway audit --json`, without its `check` and `probe`.
    pub report: serde_json::Value,
}

/// What changed for a connector since its previous check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Change {
    /// A connector that passed, or was checked for the first time, fails.
    ConnectorFailing {
        /// The connector.
        connector: String,
        /// The diagnosis code.
        code: Option<String>,
        /// In words.
        summary: String,
        /// The check that found it.
        check_id: i64,
    },
    /// A failing connector passes again.
    ConnectorRecovered {
        /// The connector.
        connector: String,
        /// The check that found it.
        check_id: i64,
    },
    /// The partner presents another certificate than at the previous check: a renewal,
    /// or a new key or issuer that may break trust before it breaks the connector.
    ServerCertificateChanged {
        /// The connector.
        connector: String,
        /// SHA-256 before.
        before: String,
        /// SHA-256 now.
        after: String,
        /// The issuer before.
        issuer_before: Option<String>,
        /// The issuer now.
        issuer_after: Option<String>,
        /// The check that found it.
        check_id: i64,
    },
}

fn standing_word(s: Standing) -> &'static str {
    match s {
        Standing::Failing => "failing",
        Standing::WouldBreak => "would_break",
        Standing::Expiring => "expiring",
        Standing::Passing => "passing",
    }
}

/// The partner's own certificate in a connector's audit row.
fn server_certificate(row: &ConnectorAudit) -> (Option<String>, Option<String>) {
    row.certificates
        .iter()
        .find(|d| d.role == "server")
        .map(|d| {
            (
                Some(d.certificate.sha256.clone()),
                Some(d.certificate.issuer.clone()),
            )
        })
        .unwrap_or((None, None))
}

impl Store {
    /// Keeps an audit's results, one row per connector, and says what changed since each
    /// connector's previous check. The watch's own call (no acting user).
    pub async fn record_checks(&self, audit: &FleetAudit) -> Result<Vec<Change>, StoreError> {
        let failed = |e| self.db_error("keeping the audit's results", e);
        let at = now();
        let mut tx = self.write().await?;
        let mut changes = Vec::new();
        for row in &audit.connectors {
            let previous = sqlx::query(
                "SELECT standing, server_sha256, server_issuer FROM connector_checks
                 WHERE connector = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(&row.connector)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?;
            let previous: Option<(String, Option<String>, Option<String>)> = previous
                .map(|p| {
                    Ok::<_, sqlx::Error>((
                        p.try_get("standing")?,
                        p.try_get("server_sha256")?,
                        p.try_get("server_issuer")?,
                    ))
                })
                .transpose()
                .map_err(failed)?;
            let (sha256, issuer) = server_certificate(row);
            // The row without the full connector check and probe (the bulk: evidence
            // twice over); standing, cause, versions, chain and what-if are kept.
            let mut kept = serde_json::to_value(row).unwrap_or_default();
            if let Some(fields) = kept.as_object_mut() {
                fields.remove("check");
                fields.remove("probe");
            }
            let report = kept.to_string();
            let id: i64 = sqlx::query(
                "INSERT INTO connector_checks
                   (connector, checked_at, standing, code, summary, server_sha256, server_issuer, report)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(&row.connector)
            .bind(at)
            .bind(standing_word(row.standing))
            .bind(row.code())
            .bind(row.summary())
            .bind(&sha256)
            .bind(&issuer)
            .bind(report)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get("id"))
            .map_err(failed)?;
            let was_failing = previous.as_ref().map(|(s, _, _)| s == "failing");
            let is_failing = row.standing == Standing::Failing;
            if is_failing && was_failing != Some(true) {
                changes.push(Change::ConnectorFailing {
                    connector: row.connector.clone(),
                    code: row.code().map(str::to_string),
                    summary: row.summary(),
                    check_id: id,
                });
            } else if !is_failing && was_failing == Some(true) {
                changes.push(Change::ConnectorRecovered {
                    connector: row.connector.clone(),
                    check_id: id,
                });
            }
            if let (Some((_, Some(before), issuer_before)), Some(after)) = (&previous, &sha256)
                && before != after
            {
                changes.push(Change::ServerCertificateChanged {
                    connector: row.connector.clone(),
                    before: before.clone(),
                    after: after.clone(),
                    issuer_before: issuer_before.clone(),
                    issuer_after: issuer.clone(),
                    check_id: id,
                });
            }
        }
        sqlx::query(
            "DELETE FROM connector_checks WHERE checked_at < $1
             AND id NOT IN (SELECT MAX(id) FROM connector_checks GROUP BY connector)",
        )
        .bind(at - KEEP_SECONDS)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(changes)
    }

    /// The latest check of every connector still in the store or file it was audited from
    /// (the watch's call; the dashboard's rows).
    pub async fn latest_checks(&self) -> Result<Vec<CheckRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, connector, checked_at, standing, code, summary, server_sha256, server_issuer, report
             FROM connector_checks
             WHERE id IN (SELECT MAX(id) FROM connector_checks GROUP BY connector)
             ORDER BY connector",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading the latest checks", e))?;
        rows.iter().map(|r| self.check_record(r)).collect()
    }

    /// [`Store::latest_checks`] for a user: needs `manage_connectors`.
    pub async fn last_checks(&self, ctx: &Context) -> Result<Vec<CheckRecord>, StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "connector.history",
            "connectors".into(),
        )
        .await?;
        self.latest_checks().await
    }

    /// A connector's checks, newest first, at most `limit`. Needs `manage_connectors`.
    pub async fn connector_checks(
        &self,
        ctx: &Context,
        connector: &str,
        limit: i64,
    ) -> Result<Vec<CheckRecord>, StoreError> {
        self.authorize(
            ctx,
            Need::ManageConnectors,
            None,
            "connector.history",
            format!("connector {connector}"),
        )
        .await?;
        let rows = sqlx::query(
            "SELECT id, connector, checked_at, standing, code, summary, server_sha256, server_issuer, report
             FROM connector_checks WHERE connector = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(connector)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a connector's checks", e))?;
        rows.iter().map(|r| self.check_record(r)).collect()
    }

    fn check_record(&self, r: &sqlx::any::AnyRow) -> Result<CheckRecord, StoreError> {
        let read = |e| self.db_error("reading a connector check", e);
        let report: String = r.try_get("report").map_err(read)?;
        Ok(CheckRecord {
            id: r.try_get("id").map_err(read)?,
            connector: r.try_get("connector").map_err(read)?,
            checked_at: r.try_get("checked_at").map_err(read)?,
            standing: r.try_get("standing").map_err(read)?,
            code: r.try_get("code").map_err(read)?,
            summary: r.try_get("summary").map_err(read)?,
            server_sha256: r.try_get("server_sha256").map_err(read)?,
            server_issuer: r.try_get("server_issuer").map_err(read)?,
            report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
        })
    }

    /// Claims `key` once across every node (a period's run of the watch): `true` the first
    /// time, `false` after.
    pub async fn claim_once(&self, key: &str) -> Result<bool, StoreError> {
        self.insert_alert(key, None).await
    }

    /// Queues an alert under `key` with its `payload` (JSON): `true` when it is new,
    /// `false` when that alert was queued before (sent or waiting). Queued alerts wait in
    /// the store until [`Store::alert_delivered`], so none is lost to a receiver that is
    /// down or a node that stops.
    pub async fn queue_alert(&self, key: &str, payload: &str) -> Result<bool, StoreError> {
        self.insert_alert(key, Some(payload)).await
    }

    async fn insert_alert(&self, key: &str, payload: Option<&str>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO alerts_sent (alert_key, queued_at, delivered, payload) VALUES ($1, $2, $3, $4)
             ON CONFLICT (alert_key) DO NOTHING",
        )
        .bind(key)
        .bind(now())
        .bind(i64::from(payload.is_none()))
        .bind(payload)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_error("queueing an alert", e))?;
        Ok(done.rows_affected() == 1)
    }

    /// The alerts still waiting to be delivered, oldest first: (key, payload).
    pub async fn pending_alerts(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT alert_key, payload FROM alerts_sent WHERE delivered = 0 ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading the queued alerts", e))?;
        rows.iter()
            .map(|r| {
                let read = |e| self.db_error("reading the queued alerts", e);
                let payload: Option<String> = r.try_get("payload").map_err(read)?;
                Ok((
                    r.try_get("alert_key").map_err(read)?,
                    payload.unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// Marks a queued alert delivered (its payload is dropped).
    pub async fn alert_delivered(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE alerts_sent SET delivered = 1, payload = NULL WHERE alert_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_error("marking an alert delivered", e))?;
        Ok(())
    }
}
