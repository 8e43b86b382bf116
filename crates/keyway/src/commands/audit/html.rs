//! `keyway audit --html FILE`: the audit as one self-contained page — the table worst
//! first, a timeline of the certificates' ends, and each failure's diagnosis with its
//! evidence and fix. No scripts, no outside fonts or styles; every value escaped (maud).

use std::collections::BTreeMap;

use keyway_connect::audit::{ConnectorAudit, Dependency, FleetAudit, Standing};
use keyway_tls::TestOutcome;
use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1b1b;max-width:90em}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f3f3f3}code{font-size:.95em}
.failing,.would_break{color:#b00020;font-weight:600}.expiring{color:#8a5a00;font-weight:600}.passing{color:#1b6e20}
.counts span{display:inline-block;margin-right:1.5em}
.failure{border-left:4px solid #b00020;padding:.2em 1em;margin:1em 0;background:#fff7f7}
.breaks{border-left-color:#d35400;background:#fffaf3}
svg text{font:12px system-ui,sans-serif}
";

/// The page.
pub fn page(report: &FleetAudit, source: &str) -> String {
    let what_if = report.require.is_some();
    let started = report
        .started
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "keyway audit " (started) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Fleet audit" }
                p { "Connectors of " code { (source) } ", audited " (started) " in "
                    (format!("{:.1}", report.elapsed_ms as f64 / 1000.0)) " s." }
                @if let Some(policy) = &report.require {
                    p { "What-if: would each connector still connect under a policy that "
                        strong { (policy.to_string()) } "? Nothing was changed." }
                }
                p.counts {
                    span { strong { (report.counts.total) } " connectors" }
                    span.passing { strong { (report.counts.passing) } " pass" }
                    span.expiring { strong { (report.counts.expiring) } " with a certificate ending soon" }
                    span.failing { strong { (report.counts.failing) } " fail" }
                    @if what_if {
                        span.would_break { strong { (report.counts.would_break) } " would break" }
                    }
                }
                p { (report.summary()) }
                table {
                    thead { tr {
                        th { "Standing" } th { "Connector" } th { "Endpoint" } th { "TLS" }
                        th { "Partner speaks" }
                        @if what_if { th { "What-if" } }
                        th { "Ends first" } th { "Detail" }
                    } }
                    tbody {
                        @for c in &report.connectors { (row(c, what_if)) }
                    }
                }
                @let changed: Vec<&ConnectorAudit> = report.connectors.iter().filter(|c| c.changed.is_some()).collect();
                @if !changed.is_empty() {
                    h2 { "Changed since the last check" }
                    ul { @for c in changed { li { (super::changed_words(c)) } } }
                }
                h2 { "When certificates end" }
                (timeline(report))
                @let troubled: Vec<&ConnectorAudit> = report.connectors.iter()
                    .filter(|c| matches!(c.standing, Standing::Failing | Standing::WouldBreak)).collect();
                @if !troubled.is_empty() {
                    h2 { "Failures and what to do" }
                    @for c in troubled { (failure(c)) }
                }
            }
        }
    };
    markup.into_string()
}

fn standing_class(s: Standing) -> &'static str {
    match s {
        Standing::Failing => "failing",
        Standing::WouldBreak => "would_break",
        Standing::Expiring => "expiring",
        Standing::Passing => "passing",
    }
}

fn row(c: &ConnectorAudit, what_if: bool) -> Markup {
    let tls = c
        .negotiated()
        .map(|v| v.to_string())
        .or_else(|| c.code().map(str::to_string))
        .unwrap_or_else(|| "-".into());
    html! {
        tr {
            td class=(standing_class(c.standing)) { (c.standing.word()) }
            td { a href=(format!("#{}", anchor(&c.connector))) { (c.connector) } }
            td { code { (c.endpoint) } @if let Some(proxy) = &c.proxy { " via " code { (proxy) } } }
            td { (tls) }
            td { (c.partner_versions().map(|v| v.to_string()).unwrap_or_else(|| "-".into())) }
            @if what_if {
                td { @match &c.what_if {
                    None => "-",
                    Some(w) if w.connects => "connects",
                    Some(w) => (w.code.unwrap_or("fails")),
                } }
            }
            td { @match c.earliest() {
                Some(d) => { (d.days_left) " days (" (d.role) ")" },
                None => "-",
            } }
            td { (c.summary()) }
        }
    }
}

fn anchor(name: &str) -> String {
    format!(
        "c-{}",
        name.chars()
            .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
            .collect::<String>()
    )
}

/// Every certificate once (by fingerprint), with the connectors that depend on it, on a
/// line of days from now.
fn timeline(report: &FleetAudit) -> Markup {
    let mut seen: BTreeMap<&str, (&Dependency, Vec<&str>)> = BTreeMap::new();
    for c in &report.connectors {
        for d in &c.certificates {
            seen.entry(d.certificate.sha256.as_str())
                .or_insert((d, Vec::new()))
                .1
                .push(&c.connector);
        }
    }
    let mut certs: Vec<(&Dependency, Vec<&str>)> = seen.into_values().collect();
    if certs.is_empty() {
        return html! { p { "No certificates were seen (no endpoint answered with one)." } };
    }
    certs.sort_by_key(|(d, _)| d.days_left);
    let low = certs.first().map_or(0, |(d, _)| d.days_left).min(0);
    let high = certs.last().map_or(30, |(d, _)| d.days_left).clamp(30, 400);
    let (left, width, row_height) = (420.0, 560.0, 22.0);
    let x = |days: i64| {
        let days = days.clamp(low, high);
        left + width * (days - low) as f64 / (high - low).max(1) as f64
    };
    let height = 30.0 + row_height * certs.len() as f64;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(left + width + 60.0) height=(height)
            role="img" aria-label="Days until each certificate ends" {
            line x1=(x(0)) y1="14" x2=(x(0)) y2=(height) stroke="#555" stroke-dasharray="3 3" {}
            text x=(x(0) + 3.0) y="12" { "today" }
            text x=(x(high) - 60.0) y="12" { (high) " days" @if certs.last().is_some_and(|(d, _)| d.days_left > high) { "+" } }
            @for (i, (d, used_by)) in certs.iter().enumerate() {
                @let y = 30.0 + row_height * i as f64;
                @let color = if d.days_left < 0 { "#b00020" } else if d.days_left < 30 { "#d35400" } else { "#1b6e20" };
                text x="0" y=(y + 4.0) {
                    (short(&d.certificate.subject)) " — " (d.role) ", " (used_by.join(", "))
                }
                line x1=(x(0)) y1=(y) x2=(x(d.days_left)) y2=(y) stroke=(color) stroke-width="3" {}
                circle cx=(x(d.days_left)) cy=(y) r="5" fill=(color) {
                    title { (d.certificate.subject) ": " (d.days_left) " days, "
                        (d.certificate.not_after.date().to_string()) }
                }
                text x=(x(d.days_left) + 8.0) y=(y + 4.0) { (d.days_left) "d" }
            }
        }
    }
}

/// A subject cut to fit the timeline's label column.
fn short(subject: &str) -> String {
    if subject.chars().count() <= 40 {
        subject.to_string()
    } else {
        subject.chars().take(39).chain(['…']).collect()
    }
}

fn failure(c: &ConnectorAudit) -> Markup {
    let class = if c.standing == Standing::WouldBreak {
        "failure breaks"
    } else {
        "failure"
    };
    let diagnosis = match &c.check {
        Ok(check) => match &check.tls {
            TestOutcome::Failed(d) => Some(d),
            TestOutcome::Connected { .. } => None,
        },
        Err(_) => None,
    };
    html! {
        div class=(class) id=(anchor(&c.connector)) {
            h3 { (c.connector) " " small { code { (c.url) } } }
            p {
                @if let Some(code) = c.code() { code { (code) } ": " }
                (c.summary())
            }
            @if let Some(d) = diagnosis {
                p { "Whose side the fix is on: " (d.cause.blame().to_string()) }
            }
            ol { @for step in super::fixes(c) { li { (step) } } }
            @if let Some(versions) = c.partner_versions() {
                p { "The partner speaks: " (versions.to_string()) }
            }
            @if let Some(cas) = &c.client_certificate_request {
                p { "It asks for a client certificate"
                    @if cas.is_empty() { " (any CA)." } @else { " from: " (cas.join("; ")) } }
            }
            @if !c.certificates.is_empty() {
                table {
                    thead { tr { th { "Role" } th { "Subject" } th { "Issuer" } th { "Ends" } th { "SHA-256" } } }
                    tbody { @for d in &c.certificates {
                        tr {
                            td { (d.role) }
                            td { (d.certificate.subject) }
                            td { (d.certificate.issuer) }
                            td { (d.certificate.not_after.date().to_string()) " (" (d.days_left) " days)" }
                            td { code { (d.certificate.sha256) } }
                        }
                    } }
                }
            }
        }
    }
}
