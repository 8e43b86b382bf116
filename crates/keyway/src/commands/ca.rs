//! `keyway ca …`: keyway's own CA in the store: init, sign CSRs, issue, revoke, CRLs, list.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use keyway_keystore::{Certificate, file};
use keyway_pki::{CaInit, IssueRequest, IssuedRecord, KeyType, Status, parse_subject, read_csr};
use keyway_store::CaRequest;
use serde_json::json;
use time::OffsetDateTime;

use crate::args::{IdentityOutArgs, OutArgs, StoreArgs, sans};
use crate::exit::Exit;
use crate::files::{check_out, identity_format, identity_password, write_identity};
use crate::output;
use crate::output::report;
use crate::session::{block_on, context, open};

/// `keyway ca`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create keyway's CA in the store (`keyway init` does it with the defaults).
    #[command(after_help = "Examples:
  keyway ca init --subject \"CN=Acme keyway CA,O=Acme\" --with-intermediate
  keyway ca init --database postgres://keyway@db/keyway

The CA (root certificate, keys sealed with the master key, the record of everything it
issues) is kept in the store, so every node of a shared database signs with the same CA.
The master key is DIR/master.key (mode 0600, created on first use) unless KEYWAY_MASTER_KEY
is set: back it up apart from the database; without it the CA keys cannot be opened.
With --with-intermediate, an intermediate signs and the root key stays sealed.
DIR/ca.pem gets the CA certificates, to give to clients. Needs manage_trust.

Exit codes: 0 created, 2 refused (the store has a CA already, missing permission).")]
    Init(CaInitArgs),
    /// Sign a CSR made elsewhere (openssl req, keytool -certreq, keyway csr create).
    #[command(after_help = "Examples:
  keyway ca sign partner-a.csr --profile client --owner alice --out partner-a.pem
  keyway ca sign gw.csr --profile server --days 90 --out gw.pem

Only the CSR's subject, key and (server profile) SANs are used; key usage, extended key
usage and basic constraints come from the profile. --out gets the certificate followed by
the CA chain.

Exit codes: 0 signed, 2 usage or input error (bad CSR signature, validity beyond the CA).")]
    Sign(CaSignArgs),
    /// Generate a key and issue its certificate in one step, written as PKCS#12, JKS or PEM.
    #[command(after_help = "Examples:
  keyway ca issue --profile client --subject CN=partner-a --owner alice --out partner-a.p12 --password env:P12_PASS
  keyway ca issue --profile client --subject CN=java-client --out client.jks --password changeit
  keyway ca issue --profile server --subject CN=gw --san dns:gw.acme.example --out gw.pem --no-passphrase

The output type follows the extension (.p12/.pfx, .jks, .pem) or --out-type.

Exit codes: 0 issued, 2 usage or input error.")]
    Issue(CaIssueArgs),
    /// Revoke a certificate the CA issued; the next CRL lists it.
    #[command(after_help = "Examples:
  keyway ca revoke 3f2a9c0d1e… --reason keyCompromise
  keyway ca revoke 00:3F:2A:9C:… --reason superseded

Reasons: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,
cessationOfOperation, privilegeWithdrawn.

Exit codes: 0 revoked, 2 usage or input error (unknown serial, already revoked).")]
    Revoke(CaRevokeArgs),
    /// Write a CRL signed by the CA, listing every revoked certificate.
    #[command(after_help = "Examples:
  keyway ca crl --out ca.crl
  keyway ca crl --out ca.crl.der --der --days 1

Exit codes: 0 written, 2 usage or input error.")]
    Crl(CaCrlArgs),
    /// List the certificates the CA issued.
    #[command(after_help = "Examples:
  keyway ca list
  keyway ca list --json

Exit codes: 0 listed, 2 usage or input error (no CA).")]
    List(CaListArgs),
    /// Write the CA's certificates (issuing CA, then root) for truststores.
    #[command(after_help = "Examples:
  keyway ca cert --out keyway-ca.pem

Exit codes: 0 written, 2 usage or input error.")]
    Cert(CaCertArgs),
}

/// `ca init`
#[derive(Debug, Args)]
pub struct CaInitArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The root's subject.
    #[arg(long, default_value = "CN=keyway Root CA")]
    pub subject: String,
    /// The CA keys' type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    /// Let an intermediate do the signing.
    #[arg(long)]
    pub with_intermediate: bool,
}

/// What every issuing command takes.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// client (EKU clientAuth) or server (EKU serverAuth, SANs required).
    #[arg(long, default_value = "client")]
    pub profile: String,
    /// Validity in days (bounded by the CA's own).
    #[arg(long, default_value_t = keyway_pki::DEFAULT_DAYS)]
    pub days: u32,
    /// Who the certificate is for, for the record.
    #[arg(long)]
    pub owner: Option<String>,
}

/// `ca sign`
#[derive(Debug, Args)]
pub struct CaSignArgs {
    /// The CSR (PEM or DER).
    pub csr: PathBuf,
    #[command(flatten)]
    pub issue: IssueArgs,
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca issue`
#[derive(Debug, Args)]
pub struct CaIssueArgs {
    #[command(flatten)]
    pub issue: IssueArgs,
    /// Subject, e.g. "CN=partner-a,O=Acme".
    #[arg(long)]
    pub subject: String,
    /// Subject alternative name; repeat for several.
    #[arg(long)]
    pub san: Vec<String>,
    /// Key type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca revoke`
#[derive(Debug, Args)]
pub struct CaRevokeArgs {
    /// The serial (hex, colons allowed), as `keyway ca list` shows it.
    pub serial: String,
    /// Why.
    #[arg(long, default_value = "unspecified")]
    pub reason: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca crl`
#[derive(Debug, Args)]
pub struct CaCrlArgs {
    #[command(flatten)]
    pub out: OutArgs,
    /// Days until the next update.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Write DER instead of PEM.
    #[arg(long)]
    pub der: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca list`
#[derive(Debug, Args)]
pub struct CaListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca cert`
#[derive(Debug, Args)]
pub struct CaCertArgs {
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway ca …`
pub fn ca(command: CaCommand) -> Result<Exit> {
    block_on(async {
        match command {
            CaCommand::Init(args) => {
                let init = CaInit {
                    subject: parse_subject(&args.subject)?,
                    key_type: args.key_type.parse().map_err(anyhow::Error::msg)?,
                    with_intermediate: args.with_intermediate,
                };
                let store = open(&args.store).await?;
                let ca = store.create_ca(&context(&args.store), &init).await?;
                let data = &args.store.data;
                let ca_file = keyway_store::write_ca_file(&data.data_dir, &ca)?;
                let mut text = format!(
                    "Created keyway's CA in {}\n  root:    {} (SHA-256 {})",
                    store.database(),
                    ca.root.info().subject,
                    ca.root.info().sha256
                );
                if let Some(intermediate) = &ca.intermediate {
                    text.push_str(&format!("\n  signing: {}", intermediate.info().subject));
                }
                text.push_str(&format!("\n  give clients {}", ca_file.display()));
                if data.master_key.is_none() {
                    text.push_str(&format!(
                        "\nThe CA keys are sealed with the master key in {}: back it up apart from the database.",
                        data.data_dir.join(keyway_pki::MASTER_KEY_FILE).display()
                    ));
                }
                report(
                    output::json(),
                    json!({
                        "database": store.database(),
                        "root": ca.root.info(),
                        "issuing": ca.issuing().info(),
                        "ca_certificate": ca_file,
                    }),
                    text,
                )
            }
            CaCommand::Sign(args) => {
                let request = issue_request(&args.issue)?;
                check_out(&args.out)?;
                let bytes = file::read_bytes(&args.csr)?;
                let csr = read_csr(&bytes, &args.csr.display().to_string())?;
                let store = open(&args.store).await?;
                let (_, issued) = store
                    .ca_issue(&context(&args.store), CaRequest::Csr(csr), &request)
                    .await?;
                let pem: String = issued
                    .full_chain()
                    .iter()
                    .map(Certificate::to_pem)
                    .collect();
                file::write_atomic(&args.out.out, pem.as_bytes())?;
                issued_report(output::json(), &issued.record, &args.out.out)
            }
            CaCommand::Issue(args) => {
                let request = issue_request(&args.issue)?;
                let what = CaRequest::NewKey {
                    key_type: args
                        .key_type
                        .parse::<KeyType>()
                        .map_err(anyhow::Error::msg)?,
                    subject: parse_subject(&args.subject)?,
                    sans: sans(&args.san)?,
                };
                let format = identity_format(&args.out)?;
                let password = identity_password(&args.out, format)?;
                let store = open(&args.store).await?;
                let (key, issued) = store
                    .ca_issue(&context(&args.store), what, &request)
                    .await?;
                let key = key.ok_or_else(|| anyhow::anyhow!("keyway's CA returned no key"))?;
                write_identity(
                    &args.out,
                    format,
                    password.as_deref().map(|p| p.as_str()),
                    key,
                    issued.full_chain(),
                )?;
                issued_report(output::json(), &issued.record, &args.out.out)
            }
            CaCommand::Revoke(args) => {
                let reason = args.reason.parse().map_err(anyhow::Error::msg)?;
                let store = open(&args.store).await?;
                let record = store
                    .ca_revoke(&context(&args.store), &args.serial, reason)
                    .await?;
                report(
                    output::json(),
                    record_json(&record)?,
                    format!(
                        "Revoked {} (serial {}, {reason}); publish a new CRL: keyway ca crl --out ca.crl",
                        record.subject, record.serial
                    ),
                )
            }
            CaCommand::Crl(args) => {
                check_out(&args.out)?;
                let store = open(&args.store).await?;
                let crl = store.ca_crl(&context(&args.store), args.days).await?;
                let bytes = if args.der {
                    crl.der.clone()
                } else {
                    crl.pem.clone().into_bytes()
                };
                file::write_atomic(&args.out.out, &bytes)?;
                report(
                    output::json(),
                    json!({"crl": args.out.out, "number": crl.number, "revoked": crl.revoked,
                           "next_update": output::iso(crl.next_update)}),
                    format!(
                        "Wrote CRL number {} listing {} revoked certificate(s) to {}; next update due {}",
                        crl.number,
                        crl.revoked,
                        args.out.out.display(),
                        output::iso(crl.next_update)
                    ),
                )
            }
            CaCommand::List(args) => {
                let store = open(&args.store).await?;
                let records = store.ca_issued(&context(&args.store)).await?;
                let issuing = store
                    .ca()
                    .await?
                    .map(|ca| ca.issuing().info().subject.clone())
                    .unwrap_or_default();
                let count = records.len();
                let mut text = format!(
                    "{count} certificate{} issued by {issuing}\n",
                    if count == 1 { "" } else { "s" }
                );
                let rows: Vec<Vec<String>> = records
                    .iter()
                    .map(|r| {
                        let status = match &r.status {
                            Status::Valid if r.not_after < OffsetDateTime::now_utc() => {
                                "expired".to_string()
                            }
                            Status::Valid => "valid".to_string(),
                            Status::Revoked { reason, .. } => format!("revoked ({reason})"),
                        };
                        vec![
                            r.serial.clone(),
                            r.profile.to_string(),
                            status,
                            output::until(r.not_after, OffsetDateTime::now_utc()),
                            r.owner.clone().unwrap_or_else(|| "-".into()),
                            r.subject.clone(),
                        ]
                    })
                    .collect();
                if !rows.is_empty() {
                    text.push_str(&output::columns(
                        &["SERIAL", "PROFILE", "STATUS", "UNTIL", "OWNER", "SUBJECT"],
                        &rows,
                    ));
                    // Only certificates still in force count: a revoked one's end
                    // matters to nobody.
                    let ends = records
                        .iter()
                        .filter(|r| matches!(r.status, Status::Valid))
                        .map(|r| r.not_after);
                    if let Some(summary) = output::expiry_summary(ends, OffsetDateTime::now_utc()) {
                        text.push_str(&format!("\n{summary}\n"));
                    }
                    text = output::color_markers(&text, output::color_wanted());
                }
                let records = records
                    .iter()
                    .map(record_json)
                    .collect::<Result<Vec<_>>>()?;
                report(
                    output::json(),
                    json!({"certificates": records}),
                    text.trim_end().to_string(),
                )
            }
            CaCommand::Cert(args) => {
                check_out(&args.out)?;
                let store = open(&args.store).await?;
                let ca = store.ca().await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "there is no keyway CA in {}: run `keyway init` (or `keyway ca init`)",
                        store.database()
                    )
                })?;
                let pem: String = ca.chain().iter().map(Certificate::to_pem).collect();
                file::write_atomic(&args.out.out, pem.as_bytes())?;
                report(
                    output::json(),
                    json!({"out": args.out.out, "root": ca.root.info()}),
                    format!(
                        "Wrote the CA certificates to {}; add them to the truststores that must trust keyway's certificates (root SHA-256 {})",
                        args.out.out.display(),
                        ca.root.info().sha256
                    ),
                )
            }
        }
    })
}

fn issue_request(args: &IssueArgs) -> Result<IssueRequest> {
    Ok(IssueRequest {
        profile: args.profile.parse().map_err(anyhow::Error::msg)?,
        days: args.days,
        owner: args.owner.clone(),
    })
}

/// A record as JSON, without the PEM.
fn record_json(record: &IssuedRecord) -> Result<serde_json::Value> {
    Ok(keyway_store::issued_json(record))
}

fn issued_report(json: bool, record: &IssuedRecord, out: &Path) -> Result<Exit> {
    let mut value = record_json(record)?;
    if let Some(o) = value.as_object_mut() {
        o.insert("out".into(), json!(out));
    }
    report(
        json,
        value,
        format!(
            "Issued {} certificate for {} (serial {}, valid until {}) to {}",
            record.profile,
            record.subject,
            record.serial,
            record.not_after.date(),
            out.display()
        ),
    )
}
