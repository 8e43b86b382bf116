//! The append-only audit log: who did what to which object, when, from where, and how
//! it ended. Entries of a change are written in the change's transaction; refusals in
//! their own. The database refuses to update or delete entries (triggers), with two
//! exceptions it checks itself: a gateway refusal repeated by the same certificate
//! counts up on its row (`count`, `last_at`), and entries older than the retention
//! horizon may be removed — which only [`Store::prune_audit`] moves, in a transaction
//! that audits it.

use serde::Serialize;
use sqlx::Row;

use crate::access::Need;
use crate::{Context, Store, StoreError};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Done.
    Ok,
    /// Refused: the actor lacked the permission.
    Refused,
    /// Tried and failed (a conflict, a bad input found late).
    Failed,
}

impl AuditOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Refused => "refused",
            AuditOutcome::Failed => "failed",
        }
    }

    fn parse(text: &str) -> AuditOutcome {
        match text {
            "ok" => AuditOutcome::Ok,
            "refused" => AuditOutcome::Refused,
            _ => AuditOutcome::Failed,
        }
    }
}

impl std::str::FromStr for AuditOutcome {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "ok" => Ok(AuditOutcome::Ok),
            "refused" => Ok(AuditOutcome::Refused),
            "failed" => Ok(AuditOutcome::Failed),
            _ => Err(StoreError::Invalid {
                field: "outcome",
                given: s.to_string(),
                problem: "give ok, refused or failed".into(),
            }),
        }
    }
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Its position in the log (increasing).
    pub id: i64,
    /// When, in seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub at: i64,
    /// Who (`local-admin` or a user name).
    pub actor: String,
    /// What (`user.add`, `user.grant`, …).
    pub action: String,
    /// Which object (`user alice`).
    pub object: String,
    /// From where (`cli`, `api 10.0.0.7`).
    pub origin: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// More: the permission granted, the reason of a refusal. Never a secret.
    pub detail: String,
    /// How many times it happened: more than 1 for a gateway refusal the same
    /// certificate repeated (until [`crate::gateway::REPEAT_WINDOW`] after `at`).
    pub count: i64,
    /// When it last happened, when `count` is more than 1 (seconds since the epoch).
    #[serde(serialize_with = "crate::rfc3339_opt")]
    pub last_at: Option<i64>,
}

/// How much of the audit log to keep (`keyway serve --audit-keep-days/--audit-max-rows`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Retention {
    /// Remove entries older than this many days.
    pub keep_days: Option<u64>,
    /// Keep at most this many entries (the oldest go).
    pub max_rows: Option<u64>,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries at or after this time (seconds since the Unix epoch).
    pub since: Option<i64>,
    /// At most this many, the newest (default 1000).
    pub limit: Option<i64>,
    /// Only this actor's (`admin`, `local-admin`, a certificate's user).
    pub actor: Option<String>,
    /// Only this action (`user.add`); one ending in `.` is a prefix (`user.`: every user
    /// action).
    pub action: Option<String>,
    /// Only entries that ended so.
    pub outcome: Option<AuditOutcome>,
    /// Only entries before this one (its `id`): the next page back.
    pub before_id: Option<i64>,
}

/// What an entry says, before it is written.
pub(crate) struct Event<'a> {
    pub action: &'a str,
    pub object: String,
    pub outcome: AuditOutcome,
    pub detail: String,
}

impl<'a> Event<'a> {
    /// A change that was made.
    pub fn ok(action: &'a str, object: String, detail: String) -> Self {
        Event {
            action,
            object,
            outcome: AuditOutcome::Ok,
            detail,
        }
    }
}

impl Store {
    /// Writes `event` for `ctx` inside `tx`.
    pub(crate) async fn audit_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ctx: &Context,
        event: Event<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, object, origin, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crate::now())
        .bind(ctx.actor.audit_name())
        .bind(event.action)
        .bind(event.object)
        .bind(&ctx.origin)
        .bind(event.outcome.as_str())
        .bind(event.detail)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.db_error("writing the audit log", e))?;
        // Every change is audited: on PostgreSQL it is also announced to the other
        // nodes, when (and only if) the transaction commits.
        // (The gateway's own records of requests change nothing to announce.)
        if self.backend == crate::Backend::Postgres && !event.action.starts_with("gateway.") {
            sqlx::query("SELECT pg_notify('keyway_changes', $1)")
                .bind(event.action)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.db_error("announcing a change", e))?;
        }
        Ok(())
    }

    /// Writes `event` in a transaction of its own (refusals, failures).
    pub(crate) async fn audit(&self, ctx: &Context, event: Event<'_>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        self.audit_in(&mut tx, ctx, event).await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("writing the audit log", e))
    }

    /// The newest entries, oldest first. Needs `user_management`.
    pub async fn audit_log(
        &self,
        ctx: &Context,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.authorize(
            ctx,
            Need::ManageAnyone,
            None,
            "audit.read",
            "audit log".into(),
        )
        .await?;
        // Only the conditions asked for, each with its own parameter.
        let mut sql = String::from(
            "SELECT id, at, actor, action, object, origin, outcome, detail, count, last_at
             FROM audit_log WHERE at >= $1",
        );
        let mut texts: Vec<String> = Vec::new();
        let mut param = |value: String| {
            texts.push(value);
            format!("${}", texts.len() + 1)
        };
        if let Some(actor) = &query.actor {
            sql.push_str(&format!(" AND actor = {}", param(actor.clone())));
        }
        match &query.action {
            Some(prefix) if prefix.ends_with('.') => {
                let pattern = prefix
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let p = param(format!("{pattern}%"));
                sql.push_str(&format!(" AND action LIKE {p} ESCAPE '\\'"));
            }
            Some(action) => sql.push_str(&format!(" AND action = {}", param(action.clone()))),
            None => {}
        }
        if let Some(outcome) = query.outcome {
            sql.push_str(&format!(
                " AND outcome = {}",
                param(outcome.as_str().to_string())
            ));
        }
        let next = texts.len() + 2;
        sql.push_str(&format!(
            " AND id < ${next} ORDER BY id DESC LIMIT ${}",
            next + 1
        ));
        // Safe: the text is ours; every value given is a bound parameter.
        let mut select =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(query.since.unwrap_or(i64::MIN));
        for text in &texts {
            select = select.bind(text.as_str());
        }
        let rows = select
            .bind(query.before_id.unwrap_or(i64::MAX))
            .bind(query.limit.unwrap_or(1000).max(0))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("reading the audit log", e))?;
        let mut entries = rows
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    object: row.try_get("object")?,
                    origin: row.try_get("origin")?,
                    outcome: AuditOutcome::parse(row.try_get::<&str, _>("outcome")?),
                    detail: row.try_get("detail")?,
                    count: row.try_get("count")?,
                    last_at: row.try_get("last_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(|e| self.db_error("reading the audit log", e))?;
        entries.reverse();
        Ok(entries)
    }

    /// Removes the entries written before `before` (seconds since the epoch), moving the
    /// retention horizon there, and audits it, all in one transaction: how many went and
    /// up to when. Needs `user_management`. A time in the future is refused, and the
    /// horizon never moves back. Returns how many entries were removed.
    pub async fn prune_audit(&self, ctx: &Context, before: i64) -> Result<u64, StoreError> {
        self.authorize(
            ctx,
            Need::ManageAnyone,
            None,
            "audit.prune",
            "audit log".into(),
        )
        .await?;
        let now = crate::now();
        if before > now {
            return Err(StoreError::Invalid {
                field: "prune date",
                given: crate::iso(before),
                problem: "is in the future; entries are removed only before a past date".into(),
            });
        }
        let mut tx = self.write().await?;
        let horizon: i64 = sqlx::query_scalar("SELECT before FROM audit_horizon WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.db_error("reading the audit horizon", e))?;
        let before = before.max(horizon);
        sqlx::query("UPDATE audit_horizon SET before = $1 WHERE id = 1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error("moving the audit horizon", e))?;
        let removed = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error("pruning the audit log", e))?
            .rows_affected();
        self.audit_in(
            &mut tx,
            ctx,
            Event {
                action: "audit.prune",
                object: "audit log".into(),
                outcome: AuditOutcome::Ok,
                detail: format!(
                    "{removed} {} written before {} removed",
                    if removed == 1 { "entry" } else { "entries" },
                    crate::iso(before)
                ),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("pruning the audit log", e))?;
        Ok(removed)
    }

    /// Applies `retention` (as `keyway serve` does hourly): prunes before the later of
    /// "`keep_days` ago" and the time of the oldest of the `max_rows` newest entries.
    /// Nothing is written when nothing would be removed. Returns how many went.
    pub async fn apply_retention(
        &self,
        ctx: &Context,
        retention: Retention,
    ) -> Result<u64, StoreError> {
        let now = crate::now();
        let by_age = retention.keep_days.map(|days| {
            now.saturating_sub(
                i64::try_from(days)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(86_400),
            )
        });
        let by_rows = match retention.max_rows {
            Some(rows) => sqlx::query_scalar::<_, i64>(
                "SELECT at FROM audit_log ORDER BY at DESC, id DESC LIMIT 1 OFFSET $1",
            )
            .bind(i64::try_from(rows).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading the audit log", e))?
            // Entries at that second are kept: the cut is at the next second.
            .map(|at| at + 1),
            None => None,
        };
        let Some(before) = by_age.into_iter().chain(by_rows).max() else {
            return Ok(0);
        };
        let older: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE at < $1")
            .bind(before)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db_error("reading the audit log", e))?;
        if older == 0 {
            return Ok(0);
        }
        self.prune_audit(ctx, before.min(now)).await
    }
}
