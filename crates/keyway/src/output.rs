//! What commands print: tables and detail blocks for people, colour when wanted, and
//! JSON (through serde) for `--json`.
//!
//! Text that comes from outside (aliases, subjects, names, a partner's answers) may hold
//! control characters (an escape sequence in a PEM `friendlyName` would drive the
//! terminal) and may be of any length: [`clean`] escapes the first, and table cells are
//! cut to [`MAX_CELL`] characters with an ellipsis ([`cell`]); `--json` has them whole.

use std::borrow::Cow;
use std::sync::OnceLock;

use keyway_keystore::{CertInfo, EntrySummary};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::exit::Exit;

/// Whether `--json` was given: set once by `main`, read by every command.
static JSON: OnceLock<bool> = OnceLock::new();

/// Records `--json` for the whole run.
pub fn set_json(on: bool) {
    let _ = JSON.set(on);
}

/// Whether the command prints JSON instead of text.
pub fn json() -> bool {
    JSON.get().copied().unwrap_or(false)
}

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

/// Certificates ending within this many days are flagged in lists.
pub const SOON_DAYS: i64 = 30;

/// An end date as lists show it: `2027-11-21`, `2026-12-20 SOON (14 days)` within
/// [`SOON_DAYS`], `2026-11-01 EXPIRED` after it. The words are the marker on any output;
/// [`color_markers`] colours them on a terminal.
pub fn until(not_after: OffsetDateTime, now: OffsetDateTime) -> String {
    let days = (not_after - now).whole_days();
    let date = not_after.date();
    if not_after < now {
        format!("{date} EXPIRED")
    } else if days < SOON_DAYS {
        format!("{date} SOON ({days} day{})", plural(days))
    } else {
        date.to_string()
    }
}

/// The summary under a list: `1 expired, 2 expire within 30 days`; `None` when all are
/// fine.
pub fn expiry_summary(
    ends: impl IntoIterator<Item = OffsetDateTime>,
    now: OffsetDateTime,
) -> Option<String> {
    let (mut expired, mut soon) = (0, 0);
    for end in ends {
        if end < now {
            expired += 1;
        } else if (end - now).whole_days() < SOON_DAYS {
            soon += 1;
        }
    }
    let mut parts = Vec::new();
    if expired > 0 {
        parts.push(format!("{expired} expired"));
    }
    if soon > 0 {
        parts.push(format!(
            "{soon} expire{} within {SOON_DAYS} days",
            if soon == 1 { "s" } else { "" }
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Says on stderr which of `certs` are outside their validity now: an import goes on
/// (an expired CA may still be needed to read old signatures), but nobody should be
/// surprised by it later.
pub fn warn_dates<'a>(certs: impl IntoIterator<Item = &'a CertInfo>) {
    let now = OffsetDateTime::now_utc();
    for info in certs {
        if info.not_after < now {
            eprintln!(
                "warning: {} expired on {}; a connection that relies on it will fail",
                clean(&info.subject),
                info.not_after.date()
            );
        } else if info.not_before > now {
            eprintln!(
                "warning: {} is not valid until {}",
                clean(&info.subject),
                info.not_before.date()
            );
        }
    }
}

/// Whether colour is wanted on stdout: a terminal, and `NO_COLOR` unset or empty.
pub fn color_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `EXPIRED` and `FAILED` in red, `SOON` in yellow, `CONNECTED` in green, when `color`.
/// Applied to text already [`clean`]ed, so the only escapes are these.
pub fn color_markers(text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (word, code) in [(" EXPIRED", "1;31"), (" SOON", "33")] {
        out = out.replace(word, &format!(" \x1b[{code}m{}\x1b[0m", &word[1..]));
    }
    out.lines()
        .map(|line| {
            if let Some(rest) = line.strip_prefix("FAILED") {
                format!("\x1b[1;31mFAILED\x1b[0m{rest}")
            } else if let Some(rest) = line.strip_prefix("CONNECTED") {
                format!("\x1b[1;32mCONNECTED\x1b[0m{rest}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
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
/// The day of a Unix time (`2026-12-06`); `-` for none.
pub fn date(unix: Option<i64>) -> String {
    unix.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| t.date().to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn iso(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// A list as JSON, as `empty` (saying how to make the first) when there is nothing, or
/// as a table with `head` and a row per item.
pub fn list<T: serde::Serialize>(
    items: &[T],
    empty: &str,
    head: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<Exit> {
    if json() {
        print_json(&items)?;
    } else if items.is_empty() {
        println!("{empty}");
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        print!("{}", columns(head, &rows));
    }
    Ok(Exit::Ok)
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
                cert.map(|c| marked_expiry(c, now))
                    .unwrap_or_else(|| "-".into()),
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
    let ends = entries
        .iter()
        .filter_map(|e| e.certificate.as_ref().map(|c| c.not_after));
    if let Some(summary) = expiry_summary(ends, now) {
        out.push_str(&format!("\n{summary}\n"));
    }
    out
}

/// [`expiry`] with the list marker: `… (expired 21 days ago) EXPIRED`, `… SOON`.
fn marked_expiry(info: &CertInfo, now: OffsetDateTime) -> String {
    let text = expiry(info, now);
    if info.not_after < now {
        format!("{text} EXPIRED")
    } else if info.days_until_expiry(now) < SOON_DAYS {
        format!("{text} SOON")
    } else {
        text
    }
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

pub fn report(json: bool, value: serde_json::Value, text: String) -> anyhow::Result<Exit> {
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{text}");
    }
    Ok(Exit::Ok)
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
