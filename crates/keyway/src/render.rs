//! Human output: tables and detail blocks. JSON goes through serde, not through here.

use keyway_keystore::{CertInfo, EntrySummary};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2027-11-21 (in 364 days)` / `2026-11-01 (expired 21 days ago)`.
pub fn expiry(info: &CertInfo, now: OffsetDateTime) -> String {
    format!("{} ({})", info.not_after.date(), expiry_words(info, now))
}

/// `expires in 364 days`, `expires today`, `expired 21 days ago`, `not valid until …`.
pub fn expiry_words(info: &CertInfo, now: OffsetDateTime) -> String {
    if now < info.not_before {
        return format!("not valid until {}", iso(info.not_before));
    }
    let days = info.days_until_expiry(now);
    match days {
        d if info.not_after < now && d == 0 => "expired today".to_string(),
        d if info.not_after < now => format!("expired {} day{} ago", -d, plural(-d)),
        0 => "expires today".to_string(),
        d => format!("expires in {d} day{}", plural(d)),
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// ISO-8601 / RFC 3339, UTC.
pub fn iso(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// The `list` table.
pub fn table(entries: &[EntrySummary], now: OffsetDateTime) -> String {
    let header = ["ALIAS", "TYPE", "KEY", "CHAIN", "EXPIRES", "SUBJECT"];
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            let cert = e.certificate.as_ref();
            [
                e.alias.clone(),
                e.entry_type.to_string(),
                cert.map(|c| c.key.to_string())
                    .unwrap_or_else(|| "-".into()),
                e.chain_length.to_string(),
                cert.map(|c| expiry(c, now)).unwrap_or_else(|| "-".into()),
                cert.map(|c| c.subject.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    out
}

/// One certificate's details, indented.
pub fn certificate(out: &mut String, info: &CertInfo, now: OffsetDateTime, indent: &str) {
    let rows = [
        ("Subject", info.subject.clone()),
        ("Issuer", info.issuer.clone()),
        ("Serial", info.serial.clone()),
        ("Valid from", iso(info.not_before)),
        (
            "Valid until",
            format!("{} ({})", iso(info.not_after), expiry_words(info, now)),
        ),
        ("SHA-256", info.sha256.clone()),
        ("Public key", info.key.to_string()),
        (
            "CA",
            if info.is_ca {
                "yes".into()
            } else {
                "no".into()
            },
        ),
    ];
    for (name, value) in rows {
        out.push_str(&format!("{indent}{:<12} {value}\n", format!("{name}:")));
    }
}

/// An entry's details: header lines, then each certificate of its chain.
pub fn entry(summary: &EntrySummary, chain: &[CertInfo], now: OffsetDateTime) -> String {
    let mut out = String::new();
    out.push_str(&format!("Alias:        {}\n", summary.alias));
    out.push_str(&format!("Entry type:   {}\n", summary.entry_type));
    if let Some(created) = summary.created {
        out.push_str(&format!("Created:      {}\n", iso(created)));
    }
    if let Some(protection) = summary.key_protection {
        out.push_str(&format!("Key protection: {protection}\n"));
    }
    if !chain.is_empty() {
        out.push_str(&format!("Chain length: {}\n", chain.len()));
    }
    for (n, info) in chain.iter().enumerate() {
        out.push_str(&format!("Certificate[{}]:\n", n + 1));
        certificate(&mut out, info, now, "  ");
    }
    out
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart.
pub fn columns(head: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([head[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(head.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
