//! `keyway probe`: which TLS versions a server speaks, its chain, and whether it asks for
//! a client certificate.

use anyhow::Result;
use clap::Args;
use keyway_tls::{ProbeOutcome, ProbeReport, ProbeTarget, probe};
use time::OffsetDateTime;

use crate::args::{ProxyArgs, parse_duration};
use crate::exit::Exit;
use crate::output;

/// `keyway probe`
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The server, as `HOST:PORT` or `[IPv6]:PORT`.
    pub target: String,
    /// SNI to send (default: the host, when it is a name).
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// Connect and answer timeout per version, e.g. 5s, 500ms.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

/// Runs the probe and prints the report.
pub fn run(args: ProbeArgs) -> Result<Exit> {
    let mut target = ProbeTarget::parse(&args.target, args.timeout)?;
    target.server_name = args.servername;
    target.proxy = args.proxy.setting()?.for_host(&target.host).cloned();
    let report = probe(&target)?;
    if output::json() {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(&report, OffsetDateTime::now_utc()));
    }
    Ok(if report.speaks_tls() {
        Exit::Ok
    } else {
        Exit::Problems
    })
}

fn human(report: &ProbeReport, now: OffsetDateTime) -> String {
    let mut out = match &report.proxy {
        Some(proxy) => format!(
            "Probed {}:{} through the proxy {proxy} ({})",
            report.host, report.port, report.address
        ),
        None => format!(
            "Probed {}:{} ({})",
            report.host, report.port, report.address
        ),
    };
    match &report.server_name {
        Some(sni) => out.push_str(&format!(", SNI {sni}\n\n")),
        None => out.push_str(", no SNI\n\n"),
    }
    for v in &report.versions {
        let result = describe(&v.outcome);
        out.push_str(&format!("  {:<8} {result}\n", v.version.name()));
    }
    out.push_str(&format!("\nSpeaks: {}\n", report.supported));
    if !report.chain.is_empty() {
        out.push_str("Chain:\n");
        for (n, info) in report.chain.iter().enumerate() {
            out.push_str(&format!("  {}. {}\n", n + 1, info.subject));
            out.push_str(&format!("     issuer:  {}\n", info.issuer));
            out.push_str(&format!(
                "     valid:   {} to {} ({})\n",
                info.not_before.date(),
                info.not_after.date(),
                output::expiry_words(info, now)
            ));
            out.push_str(&format!("     SHA-256: {}\n", info.sha256));
        }
    } else if report.speaks_tls() {
        out.push_str(
            "Chain: not visible (TLS 1.3 encrypts it; `keyway test` shows it after a handshake)\n",
        );
    }
    match &report.client_certificate {
        Some(request) if request.acceptable_cas.is_empty() => {
            out.push_str("Client certificate: requested (any CA)\n");
        }
        Some(request) => {
            out.push_str("Client certificate: requested; acceptable CAs:\n");
            for ca in &request.acceptable_cas {
                out.push_str(&format!("  - {ca}\n"));
            }
        }
        None if report.versions.iter().any(|v| {
            v.version < keyway_tls::TlsVersion::Tls13
                && matches!(v.outcome, ProbeOutcome::Accepted { .. })
        }) =>
        {
            out.push_str("Client certificate: not requested\n");
        }
        None => out.push_str(
            "Client certificate: unknown (only visible in a TLS 1.2 or older handshake)\n",
        ),
    }
    out
}

/// One version's probe result in words.
pub fn describe(outcome: &ProbeOutcome) -> String {
    match outcome {
        ProbeOutcome::Accepted { cipher } => format!("accepted, {cipher}"),
        ProbeOutcome::Downgraded { server_chose } => {
            format!("not spoken (the server answered with {server_chose})")
        }
        ProbeOutcome::Refused { alert } => format!("refused: {alert}"),
        ProbeOutcome::Closed => "connection closed without an answer".to_string(),
        ProbeOutcome::NotTls { first_bytes } => format!("not TLS: the server sent {first_bytes}"),
        ProbeOutcome::Timeout => "no answer (timed out)".to_string(),
        ProbeOutcome::ConnectFailed { error } => format!("TCP connection failed: {error}"),
        _ => "unknown".to_string(),
    }
}
