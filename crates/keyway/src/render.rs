//! Human output: tables and detail blocks. JSON goes through serde, not through here.
//!
//! Text that comes from outside (aliases, subjects, names, a partner's answers) may hold
//! control characters (an escape sequence in a PEM `friendlyName` would drive the
//! terminal) and may be of any length: [`clean`] escapes the first, and table cells are
//! cut to [`MAX_CELL`] characters with an ellipsis ([`cell`]); `--json` has them whole.

use std::borrow::Cow;

use keyway_keystore::{CertInfo, EntrySummary};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The widest a table cell is shown; longer ones end in `…` (whole in `--json`).
pub const MAX_CELL: usize = 120;

/// `text` with control characters escaped (`\u{1b}`, `\n`…), safe to print on a terminal.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect(),
    )
}

/// Text of several lines: [`clean`] on each, the line breaks kept.
pub fn clean_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(|line| clean(line).into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A table cell: [`clean`], and at most [`MAX_CELL`] characters.
pub fn cell(text: &str) -> String {
    let text = clean(text);
    match text.char_indices().nth(MAX_CELL - 1) {
        Some((end, _)) if text.chars().count() > MAX_CELL => format!("{}…", &text[..end]),
        _ => text.into_owned(),
    }
}

/// `text` followed by spaces up to `width` characters (no `format!` width: it is bounded
/// to 65 535 and panics beyond).
fn pad(text: &str, width: usize) -> String {
    let used = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

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
                cell(&e.alias),
                e.entry_type.to_string(),
                cert.map(|c| c.key.to_string())
                    .unwrap_or_else(|| "-".into()),
                e.chain_length.to_string(),
                cert.map(|c| expiry(c, now)).unwrap_or_else(|| "-".into()),
                cert.map(|c| cell(&c.subject)).unwrap_or_else(|| "-".into()),
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
                out.push_str(&pad(cell, widths[i]));
                out.push_str("  ");
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
        ("Subject", clean(&info.subject).into_owned()),
        ("Issuer", clean(&info.issuer).into_owned()),
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
    out.push_str(&format!("Alias:        {}\n", clean(&summary.alias)));
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

/// Rows under a header, each column as wide as its widest cell, two spaces apart; cells
/// go through [`cell`].
pub fn columns(head: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| cell(c)).collect())
        .collect();
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
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| pad(c, *w)).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(head.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_cells_cut() {
        assert_eq!(clean("plain"), "plain");
        assert_eq!(clean("a\x1b[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        let long = "x".repeat(70_000);
        let shown = cell(&long);
        assert_eq!(shown.chars().count(), MAX_CELL);
        assert!(shown.ends_with('…'));
        // A table with a huge cell renders instead of panicking.
        let out = columns(&["A", "B"], &[vec![long.clone(), "b".into()]]);
        assert!(out.len() < 1000);
    }
}
