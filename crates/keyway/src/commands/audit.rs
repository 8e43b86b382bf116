//! `keyway audit`: every connector checked at once ([`keyway_connect::audit`]), with
//! a what-if under a required policy; a table worst first, `--json`, or one
//! self-contained HTML page (`audit/html.rs`).

mod html;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use keyway_connect::PolicyEntry;
use keyway_connect::audit::{AuditOptions, ConnectorAudit, FleetAudit, Standing, audit, choose};
use keyway_tls::{TestOutcome, TlsPolicy, TlsVersion};

use super::connector::{ConfigArg, load_config};
use crate::args::parse_duration;
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, open};

/// `keyway audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this connector; repeatable (default: every connector).
    #[arg(long = "connector", value_name = "NAME")]
    pub connectors: Vec<String>,
    /// Only connectors with this tag; repeatable (a connector with any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// What-if: would each connector still connect if TLS VERSION were the lowest
    /// allowed? (1.2, "TLS 1.2", tls12…). Nothing is changed.
    #[arg(long, value_name = "VERSION", conflicts_with = "policy")]
    pub require_min_tls: Option<String>,
    /// What-if with a whole policy: a TOML file with lowest_version or versions,
    /// max_version and cipher_suites, as a profile writes them.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Connectors checked at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Connectors checked at once against one host and port.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub per_host: u16,
    /// A passing connector whose certificates end within this time is EXPIRING.
    #[arg(long, default_value = "30d", value_name = "DURATION", value_parser = parse_duration)]
    pub warn_within: std::time::Duration,
    /// Also write the report as one self-contained HTML page (no outside scripts or fonts).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Replace the --html file if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs the audit and reports it.
pub fn run(args: AuditArgs) -> Result<Exit> {
    let require = required_policy(&args)?;
    block_on(async move {
        let config = load_config(&args.config).await?;
        let names = choose(&config, &args.connectors, &args.tags)
            .map_err(|e| anyhow::anyhow!("{e} (in {})", args.config.source()))?;
        if config.connectors().next().is_none() {
            bail!(
                "no connectors in {}: nothing to audit (`keyway connector add` or `keyway config import` adds some)",
                args.config.source()
            );
        }
        let options = AuditOptions {
            concurrency: usize::from(args.concurrency),
            per_host: usize::from(args.per_host),
            require,
            expiry_warning: args.warn_within,
        };
        let total = if names.is_empty() {
            config.connectors().count()
        } else {
            names.len()
        };
        let bar = progress(total as u64);
        let mut report = audit(&config, &names, &options, |one| {
            bar.set_message(one.connector.clone());
            bar.inc(1);
        })
        .await;
        bar.finish_and_clear();
        if args.config.file().is_none() {
            // The store's connectors: compare with the watch's last checks.
            let store = open(&args.config.store_args()).await?;
            let last = store.latest_checks().await?;
            report.compare(|name| {
                last.iter()
                    .find(|c| c.connector == name)
                    .and_then(|c| Some((c.server_sha256.clone()?, c.server_issuer.clone())))
            });
        }
        if let Some(path) = &args.html {
            let page = html::page(&report, &args.config.source());
            if path.exists() && !args.force {
                bail!(
                    "--html {}: already exists; give --force to replace it",
                    path.display()
                );
            }
            std::fs::write(path, page)
                .with_context(|| format!("writing the HTML report to {}", path.display()))?;
        }
        if output::json() {
            output::print_json(&report)?;
        } else {
            print!("{}", table(&report));
            if let Some(path) = &args.html {
                println!("HTML report: {}", path.display());
            }
        }
        Ok(if report.ok() {
            Exit::Ok
        } else {
            Exit::Problems
        })
    })
}

/// The what-if policy the arguments ask for.
fn required_policy(args: &AuditArgs) -> Result<Option<TlsPolicy>> {
    if let Some(version) = &args.require_min_tls {
        let version =
            TlsVersion::parse(version).map_err(|e| anyhow::anyhow!("--require-min-tls: {e}"))?;
        return Ok(Some(TlsPolicy::lowest_allowable(version)));
    }
    match &args.policy {
        Some(path) => Ok(Some(
            PolicyEntry::load(path).map_err(|e| anyhow::anyhow!("--policy: {e}"))?,
        )),
        None => Ok(None),
    }
}

/// A bar on stderr when it is a terminal; hidden otherwise.
fn progress(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} auditing {pos}/{len} connectors {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// The table, worst first, the failures' causes and fixes, and the summary line.
fn table(report: &FleetAudit) -> String {
    let what_if = report.require.is_some();
    let mut head = vec!["", "CONNECTOR", "ENDPOINT", "TLS", "PARTNER SPEAKS"];
    if what_if {
        head.push("WHAT-IF");
    }
    head.extend(["ENDS FIRST", "DETAIL"]);
    let rows: Vec<Vec<String>> = report
        .connectors
        .iter()
        .map(|c| {
            let mut row = vec![
                c.standing.word().to_string(),
                c.connector.clone(),
                match &c.proxy {
                    Some(proxy) => format!("{} via {proxy}", c.endpoint),
                    None => c.endpoint.clone(),
                },
                c.negotiated()
                    .map(|v| v.to_string())
                    .or_else(|| c.code().map(str::to_string))
                    .unwrap_or_else(|| "-".into()),
                c.partner_versions()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
            ];
            if what_if {
                row.push(match &c.what_if {
                    None => "-".into(),
                    Some(w) if w.connects => "connects".into(),
                    Some(w) => w.code.unwrap_or("fails").to_string(),
                });
            }
            row.push(
                c.earliest()
                    .map(|d| format!("{} days ({})", d.days_left, d.role))
                    .unwrap_or_else(|| "-".into()),
            );
            row.push(c.summary());
            row
        })
        .collect();
    let mut out = colored(&output::columns(&head, &rows), output::color_wanted());
    let failing: Vec<&ConnectorAudit> = report
        .connectors
        .iter()
        .filter(|c| matches!(c.standing, Standing::Failing | Standing::WouldBreak))
        .collect();
    for c in failing {
        out.push_str(&format!("\n{} ({}):\n", c.connector, c.url));
        for step in fixes(c) {
            out.push_str(&format!("  - {step}\n"));
        }
    }
    let changed: Vec<&ConnectorAudit> = report
        .connectors
        .iter()
        .filter(|c| c.changed.is_some())
        .collect();
    if !changed.is_empty() {
        out.push_str("\nPartners presenting another certificate than at the watch's last check:\n");
        for c in changed {
            out.push_str(&format!("  - {}\n", changed_words(c)));
        }
    }
    out.push_str(&format!("\n{}\n", report.summary()));
    out
}

/// "orders: sha256 AB… now, was CD…; a new issuer: CN=… (was CN=…)".
pub(crate) fn changed_words(c: &ConnectorAudit) -> String {
    let Some(change) = &c.changed else {
        return String::new();
    };
    let now = c.certificates.iter().find(|d| d.role == "server");
    let mut words = format!(
        "{}: sha256 {} now, was {}",
        c.connector,
        now.map(|d| d.certificate.sha256.as_str()).unwrap_or("?"),
        change.sha256
    );
    if change.new_issuer {
        words.push_str(&format!(
            "; a new issuer: {} (was {}) — check the truststore before the old chain goes",
            now.map(|d| d.certificate.issuer.as_str()).unwrap_or("?"),
            change.issuer.as_deref().unwrap_or("?")
        ));
    }
    words
}

/// The standing words in colour on a terminal: FAIL and BREAKS red, EXPIRING yellow.
fn colored(table: &str, color: bool) -> String {
    if !color {
        return table.to_string();
    }
    table
        .lines()
        .map(|line| {
            for (word, code) in [("FAIL", "1;31"), ("BREAKS", "1;31"), ("EXPIRING", "33")] {
                if let Some(rest) = line.strip_prefix(word) {
                    return format!("\x1b[{code}m{word}\x1b[0m{rest}\n");
                }
            }
            format!("{line}\n")
        })
        .collect()
}

/// What to do about a failing or breaking connector.
pub(crate) fn fixes(c: &ConnectorAudit) -> Vec<String> {
    match &c.check {
        Err(why) => vec![format!("fix its configuration: {why}")],
        Ok(check) => match &check.tls {
            TestOutcome::Failed(d) => d.remediation(),
            TestOutcome::Connected { .. } => {
                let mut steps: Vec<String> = check
                    .http
                    .iter()
                    .filter_map(|h| h.problem.as_ref().map(|p| p.to_string()))
                    .collect();
                if let Some(w) = c.what_if.as_ref().filter(|w| !w.connects) {
                    let speaks = c
                        .partner_versions()
                        .map(|v| format!(" (the partner speaks {v})"))
                        .unwrap_or_default();
                    steps.push(format!(
                        "under the required policy: {}{speaks}; ask the partner to enable a version the policy allows before requiring it",
                        w.summary
                    ));
                }
                steps
            }
        },
    }
}
