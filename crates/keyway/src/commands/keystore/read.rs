//! `keyway keystore list` and `inspect` (with `--check`).

use std::path::Path;

use anyhow::Result;
use keyway_keystore::{CertInfo, Certificate, EntrySummary, EntryType, Format, PrivateKey};
use serde::Serialize;
use time::OffsetDateTime;

use super::{InspectArgs, ListArgs, open};
use crate::exit::Exit;
use crate::output;
use crate::output::print_json;

#[derive(Serialize)]
struct Listing<'a> {
    file: &'a Path,
    format: Format,
    integrity_verified: bool,
    entries: Vec<EntrySummary>,
}

pub(super) fn list(args: ListArgs) -> Result<Exit> {
    let opened = open(&args.store)?;
    let store = &opened.store;
    let entries: Vec<EntrySummary> = store.entries().iter().map(|e| e.summary()).collect();
    if output::json() {
        print_json(&Listing {
            file: &opened.path,
            format: store.format(),
            integrity_verified: store.integrity_verified(),
            entries,
        })?;
        return Ok(Exit::Ok);
    }
    let now = OffsetDateTime::now_utc();
    let n = entries.len();
    println!(
        "{}: {}, {n} entr{}{}\n",
        opened.path.display(),
        store.format(),
        if n == 1 { "y" } else { "ies" },
        if store.integrity_verified() && store.format().has_store_password() {
            " (integrity verified)"
        } else {
            ""
        }
    );
    if n > 0 {
        print!(
            "{}",
            output::color_markers(&output::table(&entries, now), output::color_wanted())
        );
    }
    if args.verbose {
        for (summary, entry) in entries.iter().zip(store.entries()) {
            let chain: Vec<CertInfo> = entry.chain().iter().map(|c| c.info().clone()).collect();
            println!("\n{}", output::entry(summary, &chain, now).trim_end());
        }
    }
    Ok(Exit::Ok)
}

/// One `--check` result.
#[derive(Debug, Serialize)]
struct Check {
    check: String,
    status: CheckStatus,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum CheckStatus {
    Ok,
    Warning,
    Fail,
}

#[derive(Serialize)]
struct Inspection<'a> {
    file: &'a Path,
    format: Format,
    #[serde(flatten)]
    entry: EntrySummary,
    chain: Vec<CertInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<keyway_keystore::KeyDescription>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<usize>,
}

pub(super) fn inspect(args: InspectArgs) -> Result<Exit> {
    let opened = open(&args.store)?;
    let entry = opened
        .store
        .entry(&args.alias)
        .map_err(|e| opened.in_file(e))?;
    let now = OffsetDateTime::now_utc();
    let chain: Vec<CertInfo> = entry.chain().iter().map(|c| c.info().clone()).collect();
    let key = if entry.entry_type() == EntryType::PrivateKey
        && (args.check || args.keypass.keypass.is_some())
    {
        let keypass = opened.key_password(args.keypass.keypass.as_deref())?;
        Some(
            entry
                .private_key(keypass.as_deref().map(String::as_str))
                .map_err(|e| opened.in_file(e))?,
        )
    } else {
        None
    };
    let checks = if args.check {
        run_checks(entry.chain(), key.as_ref(), now, args.warn_days)
    } else {
        Vec::new()
    };
    let failed = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    if output::json() {
        print_json(&Inspection {
            file: &opened.path,
            format: opened.store.format(),
            entry: entry.summary(),
            chain,
            private_key: key.as_ref().map(PrivateKey::description),
            checks,
            problems: args.check.then_some(failed),
        })?;
    } else {
        print!("{}", output::entry(&entry.summary(), &chain, now));
        if let Some(key) = &key {
            println!("Private key:  {}", key.description());
        }
        if args.check {
            println!("Checks:");
            for check in &checks {
                let tag = match check.status {
                    CheckStatus::Ok => "ok     ",
                    CheckStatus::Warning => "warning",
                    CheckStatus::Fail => "FAIL   ",
                };
                println!("  {tag} {}: {}", check.check, check.detail);
            }
            println!(
                "{}",
                if failed == 0 {
                    "All checks passed.".to_string()
                } else {
                    format!("{failed} check(s) failed.")
                }
            );
        }
    }
    Ok(if failed > 0 { Exit::Problems } else { Exit::Ok })
}

fn run_checks(
    chain: &[Certificate],
    key: Option<&PrivateKey>,
    now: OffsetDateTime,
    warn_days: i64,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut push = |check: String, status, detail: String| {
        checks.push(Check {
            check,
            status,
            detail,
        })
    };
    for (n, cert) in chain.iter().enumerate() {
        let info = cert.info();
        let name = format!("certificate {} validity", n + 1);
        let words = output::expiry_words(info, now);
        let status = if !info.is_valid_at(now) {
            CheckStatus::Fail
        } else if info.days_until_expiry(now) < warn_days {
            CheckStatus::Warning
        } else {
            CheckStatus::Ok
        };
        push(name, status, format!("{words} ({})", info.subject));
    }
    for pair in chain.windows(2) {
        let (child, parent) = (&pair[0], &pair[1]);
        let ok = child.is_signed_by(parent);
        push(
            "chain link".into(),
            if ok {
                CheckStatus::Ok
            } else {
                CheckStatus::Fail
            },
            if ok {
                format!(
                    "{} is signed by {}",
                    child.info().subject,
                    parent.info().subject
                )
            } else {
                format!(
                    "{} is NOT signed by the next certificate, {} (chain out of order or wrong issuer)",
                    child.info().subject,
                    parent.info().subject
                )
            },
        );
    }
    if let Some(last) = chain.last()
        && !last.info().self_issued
    {
        push(
            "chain end".into(),
            CheckStatus::Warning,
            format!(
                "the chain ends at {}, issued by {}, which is not included",
                last.info().subject,
                last.info().issuer
            ),
        );
    }
    if let (Some(key), Some(leaf)) = (key, chain.first()) {
        match key.matches(leaf) {
            Some(true) => push(
                "key pair".into(),
                CheckStatus::Ok,
                "the private key matches certificate 1".into(),
            ),
            Some(false) => push(
                "key pair".into(),
                CheckStatus::Fail,
                format!(
                    "the private key does NOT match certificate 1 ({})",
                    leaf.info().subject
                ),
            ),
            None => push(
                "key pair".into(),
                CheckStatus::Warning,
                format!("cannot check this {} key", key.description()),
            ),
        }
    }
    checks
}
