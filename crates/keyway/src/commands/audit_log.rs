//! `keyway audit-log`: who changed what, when, from where; and `audit-log prune`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use keyway_store::AuditQuery;
use time::OffsetDateTime;

use crate::args::StoreArgs;
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, context, open};

/// `keyway audit-log prune`
#[derive(Debug, Subcommand)]
pub enum AuditLogCommand {
    /// Remove the entries written before a date (needs user_management; the pruning is
    /// itself an audit entry, and entries after the date can never be removed).
    #[command(after_help = "Examples:
  keyway audit-log prune --before 2026-01-01
  keyway audit-log prune --before 400d

Exit codes: 0 pruned (or nothing to prune), 2 refused (a date in the future, a missing
permission, an unreachable store).")]
    Prune(AuditPruneArgs),
}

/// `keyway audit-log prune`
#[derive(Debug, Args)]
pub struct AuditPruneArgs {
    /// Remove what was written before then: an RFC 3339 time, a date (2026-01-01) or a
    /// duration ago (400d).
    #[arg(long, value_name = "WHEN")]
    pub before: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway audit-log`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditLogArgs {
    #[command(subcommand)]
    pub command: Option<AuditLogCommand>,
    /// Only entries since then: an RFC 3339 time (2026-11-01T00:00:00Z), a date
    /// (2026-11-01) or a duration ago (24h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many entries, the newest.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: i64,
    /// Only this actor's entries (a user name, or local-admin).
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// Only this action (user.add); one ending in a dot is a prefix (user.).
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// Only entries that ended so: ok, refused or failed.
    #[arg(long, value_name = "OUTCOME")]
    pub outcome: Option<keyway_store::AuditOutcome>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway audit-log`
pub fn audit_log(args: AuditLogArgs) -> Result<Exit> {
    if let Some(AuditLogCommand::Prune(prune)) = args.command {
        return audit_prune(prune);
    }
    let since = args.since.as_deref().map(parse_since).transpose()?;
    if args.limit < 1 {
        bail!("--limit {}: give at least 1", args.limit);
    }
    block_on(async {
        let store = open(&args.store).await?;
        let query = AuditQuery {
            since,
            limit: Some(args.limit),
            actor: args.actor.clone(),
            action: args.action.clone(),
            outcome: args.outcome,
            before_id: None,
        };
        let entries = store.audit_log(&context(&args.store), &query).await?;
        if output::json() {
            println!("{}", serde_json::to_string_pretty(&entries)?);
            return Ok(Exit::Ok);
        }
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                vec![
                    OffsetDateTime::from_unix_timestamp(e.at)
                        .map(output::iso)
                        .unwrap_or_else(|_| e.at.to_string()),
                    e.actor.clone(),
                    e.origin.clone(),
                    e.action.clone(),
                    e.object.clone(),
                    serde_json::to_value(e.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    match (e.count, e.last_at) {
                        (n, Some(last)) if n > 1 => format!(
                            "{} (×{n}, the last at {})",
                            e.detail,
                            OffsetDateTime::from_unix_timestamp(last)
                                .map(output::iso)
                                .unwrap_or_else(|_| last.to_string())
                        ),
                        _ => e.detail.clone(),
                    },
                ]
            })
            .collect();
        print!(
            "{}",
            output::columns(
                &[
                    "WHEN", "ACTOR", "FROM", "ACTION", "OBJECT", "OUTCOME", "DETAIL"
                ],
                &rows
            )
        );
        Ok(Exit::Ok)
    })
}

fn audit_prune(args: AuditPruneArgs) -> Result<Exit> {
    let before = parse_when(&args.before, "--before")?;
    block_on(async {
        let store = open(&args.store).await?;
        let removed = store.prune_audit(&context(&args.store), before).await?;
        let when = OffsetDateTime::from_unix_timestamp(before)
            .map(output::iso)
            .unwrap_or_else(|_| before.to_string());
        if output::json() {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "removed": removed,
                    "before": when,
                }))?
            );
        } else {
            println!(
                "removed {removed} audit {} written before {when}",
                if removed == 1 { "entry" } else { "entries" }
            );
        }
        Ok(Exit::Ok)
    })
}

/// `--since`: RFC 3339, a date, or a duration ago.
fn parse_since(text: &str) -> Result<i64> {
    parse_when(text, "--since")
}

/// A time as the audit options take it: RFC 3339, a date, or a duration ago.
fn parse_when(text: &str, option: &str) -> Result<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &date_format) {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(OffsetDateTime::now_utc().unix_timestamp() - ago.as_secs() as i64);
    }
    bail!(
        "{option} {text}: write a time (2026-11-01T08:00:00Z), a date (2026-11-01) or a duration ago (24h, 7d)"
    )
}
