//! `keyway test`: a connection with a connector's exact TLS settings; what was negotiated,
//! or the diagnosed cause with its evidence and fix.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use keyway_tls::{
    IdentitySpec, Profile, ProfileSpec, TestOutcome, TestTarget, TlsPolicy, TlsVersion,
    TrustSource, test,
};
use time::OffsetDateTime;

use crate::args::{ProxyArgs, parse_duration, parse_format};
use crate::exit::Exit;
use crate::{output, secret};

/// `keyway test`
#[derive(Debug, Args)]
pub struct TestArgs {
    /// `https://HOST[:PORT][/PATH]` or `HOST:PORT`.
    pub url: String,
    /// A truststore (JKS, JCEKS, PKCS#12, PEM); repeat for several.
    #[arg(long, value_name = "FILE")]
    pub truststore: Vec<PathBuf>,
    /// Expected truststore type (detected from the bytes otherwise).
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    pub truststore_type: Option<keyway_keystore::Format>,
    /// Truststore password (literal, env:VAR, file:PATH); a JKS is read without one.
    #[arg(
        long = "truststore-storepass",
        alias = "truststore-password",
        value_name = "PASSWORD"
    )]
    pub truststore_password: Option<String>,
    /// Trust the system roots too (the default when no --truststore is given).
    #[arg(long)]
    pub system_roots: bool,
    /// Keystore with the client certificate to present (two-way TLS).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// Expected keystore type.
    #[arg(long, value_name = "TYPE", value_parser = parse_format, requires = "keystore")]
    pub keystore_type: Option<keyway_keystore::Format>,
    /// Keystore password (literal, env:VAR, file:PATH); a PEM or DER identity whose key
    /// is not encrypted needs none.
    #[arg(
        long = "storepass",
        alias = "keystore-password",
        value_name = "PASSWORD",
        requires = "keystore"
    )]
    pub keystore_password: Option<String>,
    /// Key password (default: the keystore password).
    #[arg(
        long = "keypass",
        alias = "key-password",
        value_name = "PASSWORD",
        requires = "keystore"
    )]
    pub key_password: Option<String>,
    /// Alias of the client key (needed when the keystore holds several).
    #[arg(long, requires = "keystore")]
    pub alias: Option<String>,
    /// Lowest allowable version: ssl3, 1.0, 1.1, 1.2 (default), 1.3.
    #[arg(long, value_name = "VERSION", conflicts_with = "tls_versions")]
    pub min_tls: Option<String>,
    /// Explicit versions instead: e.g. tls11,tls12 or TLSv1.2,TLSv1.3.
    #[arg(long, value_name = "LIST")]
    pub tls_versions: Option<String>,
    /// Highest version to accept.
    #[arg(long, value_name = "VERSION")]
    pub max_tls: Option<String>,
    /// Cipher suites (IANA names, comma-separated), in preference order.
    #[arg(long, value_name = "LIST")]
    pub ciphers: Option<String>,
    /// Name for SNI and certificate verification instead of the URL's host.
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// TCP connect timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: std::time::Duration,
    /// Timeout for the handshake and the first response.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: std::time::Duration,
    /// DANGER: do not verify the server's certificate. Flagged in every output.
    #[arg(long)]
    pub insecure: bool,
    /// Write the certificates the server sent, as PEM, into DIR (1-NAME.pem is its own,
    /// then its issuers): to check their fingerprints and trust the one that belongs.
    #[arg(long, value_name = "DIR")]
    pub save_chain: Option<PathBuf>,
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

/// Runs the test and prints the result.
pub fn run(args: TestArgs) -> Result<Exit> {
    let target = TestTarget::parse(&args.url)?;
    let spec = profile_spec(&args)?;
    let profile = Profile::load(&spec)?;
    let outcome = test(&target, &profile)?;
    if let Some(dir) = &args.save_chain {
        save_chain(dir, &outcome)?;
    }
    if output::json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome.report(profile.insecure))?
        );
    } else {
        print!(
            "{}",
            human(
                &args.url,
                &outcome,
                profile.insecure,
                output::color_wanted()
            )
        );
    }
    Ok(match outcome {
        TestOutcome::Connected { .. } => Exit::Ok,
        TestOutcome::Failed(_) => Exit::Problems,
    })
}

/// Writes each certificate the server sent as `DIR/N-NAME.pem` (the names the fixes
/// refer to), and says so on stderr.
fn save_chain(dir: &std::path::Path, outcome: &TestOutcome) -> Result<()> {
    let evidence = match outcome {
        TestOutcome::Connected { evidence, .. } => evidence,
        TestOutcome::Failed(d) => &d.evidence,
    };
    if evidence.server_chain_der.is_empty() {
        eprintln!("--save-chain: the server sent no certificates");
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "--save-chain {}: cannot create the directory",
            dir.display()
        )
    })?;
    for (n, (der, info)) in evidence
        .server_chain_der
        .iter()
        .zip(&evidence.server_chain)
        .enumerate()
    {
        let path = dir.join(keyway_tls::chain_file_name(n, info));
        let cert = keyway_keystore::Certificate::from_der(der.clone(), "server certificate")?;
        keyway_keystore::file::write_atomic(&path, cert.to_pem().as_bytes())?;
        eprintln!(
            "saved {} (SHA-256 {}) as {}",
            output::clean(&info.subject),
            info.sha256,
            path.display()
        );
    }
    Ok(())
}

fn profile_spec(args: &TestArgs) -> Result<ProfileSpec> {
    let mut policy = match (&args.min_tls, &args.tls_versions) {
        (Some(min), _) => TlsPolicy::lowest_allowable(TlsVersion::parse(min).context("--min-tls")?),
        (None, Some(list)) => TlsPolicy::from_list(list).context("--tls-versions")?,
        (None, None) => TlsPolicy::default(),
    };
    if let Some(max) = &args.max_tls {
        policy = policy
            .with_max(TlsVersion::parse(max).context("--max-tls")?)
            .context("--max-tls")?;
    }
    if let Some(list) = &args.ciphers {
        let names: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        policy = policy.with_cipher_suites(&names).context("--ciphers")?;
    }
    let truststore_password = secret::optional(
        args.truststore_password.as_deref(),
        "--truststore-storepass",
    )?;
    let mut trust: Vec<TrustSource> = args
        .truststore
        .iter()
        .map(|path| TrustSource::File {
            path: path.clone(),
            format: args.truststore_type,
            password: truststore_password.as_deref().map(|p| p.to_string()),
        })
        .collect();
    if args.system_roots && !trust.is_empty() {
        trust.push(TrustSource::System);
    }
    let identity = match &args.keystore {
        Some(path) => {
            // A PEM or DER identity with an unencrypted key has nothing to decrypt: no
            // password, and no prompt for one.
            let password = match args.keystore_password.as_deref() {
                None if !keyway_keystore::file::needs_password(path, args.keystore_type) => None,
                given => Some(secret::obtain(
                    given,
                    "--storepass",
                    &format!("Keystore password for {}", path.display()),
                )?),
            };
            Some(IdentitySpec {
                path: path.clone(),
                content: None,
                format: args.keystore_type,
                store_password: password.map(|p| p.to_string()),
                alias: args.alias.clone(),
                key_password: secret::optional(args.key_password.as_deref(), "--keypass")?
                    .map(|p| p.to_string()),
            })
        }
        None => None,
    };
    Ok(ProfileSpec {
        trust,
        identity,
        policy,
        server_name: args.servername.clone(),
        insecure: args.insecure,
        connect_timeout: args.connect_timeout,
        handshake_timeout: args.timeout,
        settings: keyway_tls::Settings::TestCommand,
        proxy: args.proxy.setting()?,
    })
}

pub(crate) fn human(url: &str, outcome: &TestOutcome, insecure: bool, color: bool) -> String {
    let text = plain_report(url, outcome, insecure);
    // What the partner sent (subjects, CA names, an HTTP excerpt) may hold control
    // characters: escaped before any colour of ours is added.
    let text = output::clean_lines(&text);
    if !color {
        return text.into_owned();
    }
    let text = output::color_markers(&text, true);
    text.lines()
        .map(|line| {
            let mark = line.trim_start().trim_start_matches("- ");
            if mark.starts_with("INSECURE") {
                format!("\x1b[1;31m{line}\x1b[0m\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

/// The report without colour.
fn plain_report(url: &str, outcome: &TestOutcome, insecure: bool) -> String {
    let red = |s: &str| s.to_string();
    let now = OffsetDateTime::now_utc();
    let mut out = String::new();
    if insecure {
        out.push_str(&red(
            "INSECURE: the server's certificate was NOT verified (--insecure)",
        ));
        out.push('\n');
    }
    let (evidence, warnings) = match outcome {
        TestOutcome::Connected {
            negotiated,
            evidence,
            warnings,
        } => {
            out.push_str(&format!("CONNECTED to {url}"));
            match (&evidence.proxy, &evidence.address) {
                (Some(proxy), _) => out.push_str(&format!(" through the proxy {}", proxy.proxy)),
                (None, Some(address)) => out.push_str(&format!(" ({address})")),
                (None, None) => {}
            }
            out.push('\n');
            out.push_str(&format!("  {}, {}", negotiated.version, negotiated.cipher));
            if let Some(alpn) = &negotiated.alpn {
                out.push_str(&format!(", ALPN {alpn}"));
            }
            if let Some(status) = negotiated.http_status {
                out.push_str(&format!(", HTTP {status}"));
            }
            if negotiated.backend == keyway_tls::TlsBackend::OpensslLegacy {
                out.push_str(&format!(" (via the {})", negotiated.backend));
            }
            out.push('\n');
            (evidence, warnings)
        }
        TestOutcome::Failed(d) => {
            let blame = d.cause.blame();
            out.push_str(&format!(
                "FAILED: {} ({blame})\n  {}\n",
                d.cause.code(),
                d.cause.summary()
            ));
            if let Some(n) = &d.negotiated {
                out.push_str(&format!(
                    "  (the TLS handshake succeeded: {}, {})\n",
                    n.version, n.cipher
                ));
            }
            out.push_str("Fix:\n");
            for (n, step) in d.remediation().iter().enumerate() {
                out.push_str(&format!("  {}. {step}\n", n + 1));
            }
            (&d.evidence, &d.warnings)
        }
    };
    out.push_str("Evidence:\n");
    out.push_str(&format!("  policy allows: {}\n", evidence.allowed_versions));
    if let Some(address) = &evidence.address {
        out.push_str(&format!("  address: {address}\n"));
    }
    if let Some(proxy) = &evidence.proxy {
        out.push_str(&format!(
            "  proxy: {} (from {}{})\n",
            proxy.proxy,
            proxy.source,
            proxy
                .address
                .as_ref()
                .map(|a| format!(", at {a}"))
                .unwrap_or_default()
        ));
        out.push_str(&format!(
            "    tunnel: {}{}\n",
            if proxy.tunnel_established {
                "established"
            } else {
                "not established"
            },
            proxy
                .answer
                .as_ref()
                .map(|a| format!(" (the proxy answered CONNECT with {a})"))
                .unwrap_or_default()
        ));
    }
    if !evidence.server_chain.is_empty() {
        out.push_str("  server chain:\n");
        for (n, c) in evidence.server_chain.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {}\n       issuer {}; {}\n       SHA-256 {}\n",
                n + 1,
                c.subject,
                c.issuer,
                output::expiry_words(c, now),
                c.sha256
            ));
        }
    }
    if evidence.pinned {
        out.push_str("  trusted as pinned: the server's certificate is itself in the truststore\n");
    }
    for alert in &evidence.alerts {
        out.push_str(&format!("  alert received: {alert}\n"));
    }
    if evidence.client_cert_requested {
        let cas = if evidence.acceptable_cas.is_empty() {
            "any".to_string()
        } else {
            evidence.acceptable_cas.join("; ")
        };
        out.push_str(&format!(
            "  client certificate: requested (acceptable CAs: {cas})\n"
        ));
        match &evidence.client_cert_sent {
            Some(sent) => out.push_str(&format!(
                "    sent: {} (issuer {})\n",
                sent.subject, sent.issuer
            )),
            None => out.push_str("    sent: none\n"),
        }
    }
    if let Some(probe) = &evidence.probe {
        out.push_str(&format!("  probe: the server speaks {}\n", probe.supported));
        for v in &probe.versions {
            out.push_str(&format!(
                "    {:<8} {}\n",
                v.version.name(),
                crate::commands::probe::describe(&v.outcome)
            ));
        }
    }
    if !warnings.is_empty() {
        out.push_str("Warnings:\n");
        for w in warnings {
            let line = if w.starts_with("INSECURE") {
                red(w)
            } else {
                w.clone()
            };
            out.push_str(&format!("  - {line}\n"));
        }
    }
    out
}
