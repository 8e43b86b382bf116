//! `keyway user cert …`: a user's client certificates: a key and CSR for an outside CA,
//! upload of the signed certificate, issue by keyway's CA, list, show, download, revoke.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use keyway_keystore::{Certificate, file};
use keyway_pki::{KeyType, Reason};
use keyway_store::{CertOrigin, ClientCertificate, Upload};
use serde_json::json;
use time::OffsetDateTime;

use crate::args::{IdentityOutArgs, StoreArgs};
use crate::commands::truststore::read_certs;
use crate::exit::Exit;
use crate::files::{identity_format, identity_password, write_identity};
use crate::output;
use crate::session::{context, open};

/// `keyway user cert …`
#[derive(Debug, Subcommand)]
pub enum UserCertCommand {
    /// Generate a key pair for the user and a CSR to send to a CA; the key stays sealed in
    /// the store until the signed certificate is uploaded.
    #[command(after_help = "Examples:
  keyway user cert csr alice --subject \"CN=alice,O=Acme\" --out alice.csr
  keyway user cert csr alice --key-type rsa-3072 --as alice     # needs manage_personal_setup

Key types: ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519.
Exit codes: 0 made, 2 refused (no such user, bad subject, missing permission).")]
    Csr(CertCsrArgs),
    /// Store the certificate a CA signed for the user's CSR (or, with --key-elsewhere, a
    /// certificate whose key the user keeps elsewhere).
    #[command(after_help = "Examples:
  keyway user cert upload alice --cert alice-signed.pem --truststore partner-cas
  keyway user cert upload alice --cert alice.pem --chain issuing-ca.pem --truststore partner-cas
  keyway user cert upload alice --cert laptop.pem --truststore partner-cas --key-elsewhere

The certificate must be for one of the user's pending key pairs (`keyway user cert list`),
chain to a CA in the named truststore (`keyway truststore add`), be valid now, be an
end-entity certificate and allow clientAuth; every failed check is listed.
Exit codes: 0 stored, 2 refused (a failed check, another user's key, a duplicate).")]
    Upload(CertUploadArgs),
    /// Have keyway's CA issue a key and client certificate for the user, written as
    /// PKCS#12, JKS or PEM.
    #[command(after_help = "Examples:
  keyway user cert issue alice --out alice.p12 --password env:P12_PASS
  keyway user cert issue alice --subject \"CN=alice,O=Acme\" --days 90 --out alice.jks --password changeit

The key is also kept, sealed, in the store (`keyway user cert download` writes it again).
The CA is the one `keyway init` made in the data directory.
Exit codes: 0 issued, 2 refused.")]
    Issue(CertIssueArgs),
    /// List the user's certificates and the key pairs waiting for a signed certificate.
    #[command(after_help = "Example:\n  keyway user cert list alice --json")]
    List(CertListArgs),
    /// Show one certificate (by SHA-256 fingerprint: colons and case do not matter, the
    /// first 8 digits are enough when unique).
    #[command(after_help = "Examples:
  keyway user cert show alice 3F:2A:9C:0D:…
  keyway user cert show alice 3f2a9c0d --pem > alice.pem")]
    Show(CertShowArgs),
    /// Write the user's key and certificate chain as PKCS#12, JKS or PEM (an audited export).
    #[command(after_help = "Examples:
  keyway user cert download alice 3f2a9c0d --out alice.p12 --password env:P12_PASS
  keyway user cert download alice 3f2a9c0d --out alice.pem --no-passphrase

Exit codes: 0 written, 2 refused (revoked, key kept elsewhere, missing permission).")]
    Download(CertDownloadArgs),
    /// Revoke one of the user's certificates: the gateway refuses it from then on, and a
    /// certificate keyway's CA issued is on its next CRL.
    #[command(after_help = "Examples:
  keyway user cert revoke alice 3f2a9c0d --reason keyCompromise
  keyway user cert revoke alice 3F:2A:9C:0D:… --reason superseded

Reasons: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,
cessationOfOperation, privilegeWithdrawn.
Exit codes: 0 revoked, 2 refused (already revoked, unknown fingerprint).")]
    Revoke(CertRevokeArgs),
}

/// `keyway user cert csr`
#[derive(Debug, Args)]
pub struct CertCsrArgs {
    /// The user.
    pub name: String,
    /// The subject to ask for (default `CN=NAME`).
    #[arg(long, value_name = "DN")]
    pub subject: Option<String>,
    /// A subject alternative name to ask for: dns:NAME, email:ADDRESS, ip:ADDRESS or
    /// uri:URI; repeatable.
    #[arg(long = "san", value_name = "SAN")]
    pub sans: Vec<String>,
    /// The key type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    /// Write the CSR here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert upload`
#[derive(Debug, Args)]
pub struct CertUploadArgs {
    /// The user.
    pub name: String,
    /// The signed certificate (PEM or DER); further certificates in the file are taken
    /// as its chain.
    #[arg(long, value_name = "FILE")]
    pub cert: std::path::PathBuf,
    /// Intermediate CA certificates the CA sent with it.
    #[arg(long, value_name = "FILE")]
    pub chain: Option<std::path::PathBuf>,
    /// The truststore holding the CA it must chain to.
    #[arg(long, value_name = "NAME")]
    pub truststore: String,
    /// The certificate's private key is kept elsewhere: store the certificate alone.
    #[arg(long)]
    pub key_elsewhere: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert issue`
#[derive(Debug, Args)]
pub struct CertIssueArgs {
    /// The user.
    pub name: String,
    /// The subject (default `CN=NAME`).
    #[arg(long, value_name = "DN")]
    pub subject: Option<String>,
    /// Validity in days (bounded by the CA's own).
    #[arg(long, default_value_t = keyway_pki::DEFAULT_DAYS)]
    pub days: u32,
    /// The key type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert list`
#[derive(Debug, Args)]
pub struct CertListArgs {
    /// The user.
    pub name: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert show`
#[derive(Debug, Args)]
pub struct CertShowArgs {
    /// The user.
    pub name: String,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// Print the certificate and its chain as PEM instead.
    #[arg(long)]
    pub pem: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert download`
#[derive(Debug, Args)]
pub struct CertDownloadArgs {
    /// The user.
    pub name: String,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert revoke`
#[derive(Debug, Args)]
pub struct CertRevokeArgs {
    /// The user.
    pub name: String,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// Why (RFC 5280 reason).
    #[arg(long, default_value = "unspecified")]
    pub reason: String,
    /// Revoke only if the certificate is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert …`, inside `keyway user`'s runtime.
pub async fn user_cert(command: UserCertCommand) -> Result<Exit> {
    match command {
        UserCertCommand::Csr(args) => csr(args).await,
        UserCertCommand::Upload(args) => upload(args).await,
        UserCertCommand::Issue(args) => issue(args).await,
        UserCertCommand::List(args) => list(args).await,
        UserCertCommand::Show(args) => show(args).await,
        UserCertCommand::Download(args) => download(args).await,
        UserCertCommand::Revoke(args) => revoke(args).await,
    }
}

async fn csr(args: CertCsrArgs) -> Result<Exit> {
    let key_type: KeyType = args.key_type.parse().map_err(anyhow::Error::msg)?;
    let subject = args
        .subject
        .clone()
        .unwrap_or_else(|| format!("CN={}", args.name));
    if let Some(out) = &args.out
        && out.exists()
    {
        bail!(
            "{}: already exists; choose another --out (a CSR already sent may be waiting for its certificate)",
            out.display()
        );
    }
    let store = open(&args.store).await?;
    let pending = store
        .request_certificate(
            &context(&args.store),
            &args.name,
            &subject,
            &crate::args::sans(&args.sans)?,
            key_type,
        )
        .await?;
    match &args.out {
        Some(out) => file::write_atomic(out, pending.csr.as_bytes())?,
        None if !output::json() => print!("{}", pending.csr),
        None => {}
    }
    if output::json() {
        println!("{}", serde_json::to_string_pretty(&pending)?);
    } else if let Some(out) = &args.out {
        println!(
            "Made a key pair ({key_type}) for {}, kept sealed in the store, and wrote the CSR for {subject} to {}.\n\
             Send it to the CA; when the signed certificate comes back:\n  keyway user cert upload {} --cert SIGNED.pem --truststore TRUSTSTORE",
            args.name,
            out.display(),
            args.name
        );
    }
    Ok(Exit::Ok)
}

async fn upload(args: CertUploadArgs) -> Result<Exit> {
    let mut certs = read_certs(&args.cert, None)?;
    let certificate = certs.remove(0);
    if let Some(chain) = &args.chain {
        certs.extend(read_certs(chain, None)?);
    }
    let store = open(&args.store).await?;
    let upload = Upload {
        certificate,
        chain: certs,
        truststore: args.truststore.clone(),
        key_elsewhere: args.key_elsewhere,
    };
    let cert = store
        .upload_certificate(&context(&args.store), &args.name, upload)
        .await?;
    print_cert(&cert, output::json(), Some("uploaded"))
}

async fn issue(args: CertIssueArgs) -> Result<Exit> {
    let key_type: KeyType = args.key_type.parse().map_err(anyhow::Error::msg)?;
    let subject = keyway_pki::parse_subject(
        &args
            .subject
            .clone()
            .unwrap_or_else(|| format!("CN={}", args.name)),
    )?;
    let format = identity_format(&args.out)?;
    let password = identity_password(&args.out, format)?;
    let store = open(&args.store).await?;
    let (cert, identity) = store
        .issue_certificate(
            &context(&args.store),
            &args.name,
            subject,
            key_type,
            args.days,
        )
        .await?;
    let (key, chain) = (identity.key, identity.chain);
    write_identity(
        &args.out,
        format,
        password.as_deref().map(|p| p.as_str()),
        key,
        chain,
    )
    .with_context(|| {
        format!(
            "the certificate was issued and stored, but writing it failed; `keyway user cert download {} {}` writes it again",
            args.name, cert.sha256
        )
    })?;
    let done = format!(
        "issued by keyway's CA, written to {}",
        args.out.out.display()
    );
    print_cert(&cert, output::json(), Some(&done))
}

pub(super) async fn list(args: CertListArgs) -> Result<Exit> {
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let certs = store.certificates(&ctx, &args.name).await?;
    let pending = store.pending_keys(&ctx, &args.name).await?;
    if output::json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"certificates": certs, "pending": pending}))?
        );
        return Ok(Exit::Ok);
    }
    let now_t = OffsetDateTime::now_utc();
    let now = now_t.unix_timestamp();
    let at = |unix: i64| OffsetDateTime::from_unix_timestamp(unix).ok();
    if certs.is_empty() {
        println!("{} has no client certificate", args.name);
    } else {
        let rows: Vec<Vec<String>> = certs
            .iter()
            .map(|c| {
                vec![
                    short(&c.sha256),
                    c.state(now).to_string(),
                    origin(c),
                    at(c.not_after)
                        .map(|end| output::until(end, now_t))
                        .unwrap_or_else(|| output::date(Some(c.not_after))),
                    c.key_type.clone(),
                    last_used(c.last_used.as_ref(), now),
                    c.subject.clone(),
                ]
            })
            .collect();
        let mut text = output::columns(
            &[
                "SHA-256",
                "STATE",
                "ORIGIN",
                "UNTIL",
                "KEY",
                "LAST USED",
                "SUBJECT",
            ],
            &rows,
        );
        if let Some(summary) =
            output::expiry_summary(certs.iter().filter_map(|c| at(c.not_after)), now_t)
        {
            text.push_str(&format!("\n{summary}\n"));
        }
        print!("{}", output::color_markers(&text, output::color_wanted()));
    }
    for p in &pending {
        println!(
            "waiting for a signed certificate: {} ({}, CSR made {}); `keyway user cert upload {} --cert SIGNED.pem --truststore NAME`",
            p.subject,
            p.key_type,
            output::date(Some(p.created_at)),
            args.name
        );
    }
    Ok(Exit::Ok)
}

/// When the gateway last saw a certificate, and which node: `3 min ago (node-a)`,
/// `never`.
fn last_used(last: Option<&keyway_store::LastUse>, now: i64) -> String {
    let Some(last) = last else {
        return "never".into();
    };
    let seconds = (now - last.at).max(0);
    let ago = match seconds {
        0..60 => "just now".to_string(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    };
    format!("{ago} ({})", last.node)
}

async fn show(args: CertShowArgs) -> Result<Exit> {
    let store = open(&args.store).await?;
    let cert = store
        .certificate(&context(&args.store), &args.name, &args.fingerprint)
        .await?;
    if args.pem {
        let pem: String = std::iter::once(&cert.certificate)
            .chain(&cert.chain)
            .map(Certificate::to_pem)
            .collect();
        print!("{pem}");
        return Ok(Exit::Ok);
    }
    print_cert(&cert, output::json(), None)
}

async fn download(args: CertDownloadArgs) -> Result<Exit> {
    let format = identity_format(&args.out)?;
    let password = identity_password(&args.out, format)?;
    let store = open(&args.store).await?;
    let (cert, identity) = store
        .export_identity(&context(&args.store), &args.name, &args.fingerprint)
        .await?;
    write_identity(
        &args.out,
        format,
        password.as_deref().map(|p| p.as_str()),
        identity.key,
        identity.chain,
    )?;
    let done = format!("written to {}", args.out.out.display());
    print_cert(&cert, output::json(), Some(&done))
}

async fn revoke(args: CertRevokeArgs) -> Result<Exit> {
    let reason: Reason = args.reason.parse().map_err(anyhow::Error::msg)?;
    let store = open(&args.store).await?;
    let cert = store
        .revoke_certificate(
            &context(&args.store),
            &args.name,
            &args.fingerprint,
            reason,
            args.if_version,
        )
        .await?;
    let done = if cert.origin == CertOrigin::Issued {
        format!("revoked ({reason}); publish keyway's CRL again: keyway ca crl --out ca.crl")
    } else {
        format!("revoked ({reason}) in keyway; ask the CA that issued it to revoke it too")
    };
    print_cert(&cert, output::json(), Some(&done))
}

fn print_cert(cert: &ClientCertificate, json: bool, done: Option<&str>) -> Result<Exit> {
    if json {
        println!("{}", serde_json::to_string_pretty(cert)?);
        return Ok(Exit::Ok);
    }
    if let Some(done) = done {
        println!("certificate of {}: {done}", cert.user);
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let state = match &cert.revoked {
        Some(r) => format!("revoked {} ({})", output::date(Some(r.at)), r.reason),
        None => cert.state(now).to_string(),
    };
    let chain: Vec<String> = cert
        .chain
        .iter()
        .map(|c| c.info().subject.clone())
        .collect();
    println!(
        "  subject:     {}\n  issuer:      {}\n  SHA-256:     {}\n  serial:      {}\n  valid:       {} to {}\n  state:       {state}\n  origin:      {}\n  key:         {} ({})\n  chain:       {}\n  last used:   {}\n  version:     {}",
        cert.subject,
        cert.issuer,
        cert.sha256,
        cert.serial,
        output::date(Some(cert.not_before)),
        output::date(Some(cert.not_after)),
        origin(cert),
        cert.key_type,
        if cert.has_private_key {
            "held sealed by keyway"
        } else {
            "kept elsewhere"
        },
        if chain.is_empty() {
            "-".to_string()
        } else {
            chain.join(" <- ")
        },
        last_used(cert.last_used.as_ref(), now),
        cert.version
    );
    Ok(Exit::Ok)
}

fn origin(cert: &ClientCertificate) -> String {
    match cert.origin {
        CertOrigin::Uploaded => "uploaded".into(),
        CertOrigin::Issued => "keyway CA".into(),
    }
}

/// The first 8 bytes of a fingerprint, lower-case without colons: enough to name it.
fn short(sha256: &str) -> String {
    sha256.replace(':', "").to_ascii_lowercase()[..16].to_string()
}
