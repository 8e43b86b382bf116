//! `keyway crl …`: CRLs of outside CAs whose client certificates the gateway accepts.

use anyhow::Result;
use clap::{Args, Subcommand};
use keyway_keystore::file;
use keyway_store::{CrlImport, StoredCrl};
use time::OffsetDateTime;

use crate::args::StoreArgs;
use crate::commands::truststore::TruststoreListArgs;
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, context, open};

/// `keyway crl`
#[derive(Debug, Subcommand)]
pub enum CrlCommand {
    /// Import an outside CA's CRL (PEM or DER); the gateway refuses the certificates it
    /// lists from the next handshake on.
    #[command(after_help = "Examples:
  keyway crl import partner-ca.crl
  curl -sf http://pki.partner.example/client-ca.crl -o p.crl && keyway crl import p.crl

The CRL must be signed by a CA in a truststore (the one given to `keyway serve
--client-truststore`) whose subject is the CRL's issuer. One CRL per issuer is kept: a
newer one (higher CRL number) replaces it, an older one is refused, the same one again
changes nothing. keyway's own CA needs no import: its revocations apply at once. Needs
manage_trust.

Exit codes: 0 imported or unchanged, 2 refused (not a CRL, unknown or wrong signer, older).")]
    Import(CrlImportArgs),
    /// List the imported CRLs: issuer, number, dates, how many certificates each revokes.
    #[command(after_help = "Example:\n  keyway crl list --json")]
    List(TruststoreListArgs),
    /// Remove an issuer's CRL: its certificates are no longer checked against it.
    #[command(after_help = "Example:\n  keyway crl remove 'CN=Partner Client CA, O=Acme'")]
    Remove(CrlRemoveArgs),
}

/// `keyway crl import FILE`
#[derive(Debug, Args)]
pub struct CrlImportArgs {
    /// The CRL file (PEM `X509 CRL` or DER).
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway crl remove ISSUER`
#[derive(Debug, Args)]
pub struct CrlRemoveArgs {
    /// The issuer, as `keyway crl list` prints it.
    pub issuer: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway crl …`
pub fn crl(command: CrlCommand) -> Result<Exit> {
    block_on(async {
        match command {
            CrlCommand::Import(args) => {
                let bytes = file::read_bytes(&args.file)?;
                let store = open(&args.store).await?;
                let source = args.file.display().to_string();
                let (crl, outcome) = store
                    .import_crl(&context(&args.store), &bytes, &source)
                    .await?;
                if output::json() {
                    let json = serde_json::json!({"crl": crl, "import": outcome});
                    println!("{}", serde_json::to_string_pretty(&json)?);
                } else {
                    let done = match &outcome {
                        CrlImport::Added => "imported".to_string(),
                        CrlImport::Replaced { previous } => {
                            format!("imported, replacing number {previous}")
                        }
                        CrlImport::Unchanged => "already imported; nothing changed".to_string(),
                    };
                    println!("CRL of {}: {done}", crl.issuer);
                    println!(
                        "  number {}, {} certificate(s) revoked, signed by {}",
                        crl.number, crl.revoked, crl.signed_by
                    );
                    println!("  {}", freshness(&crl, OffsetDateTime::now_utc()));
                }
                Ok(Exit::Ok)
            }
            CrlCommand::List(args) => {
                let store = open(&args.store).await?;
                let crls = store.crls(&context(&args.store)).await?;
                let now = OffsetDateTime::now_utc();
                output::list(
                    &crls,
                    "no CRLs (`keyway crl import FILE` imports one)",
                    &["ISSUER", "NUMBER", "REVOKED", "ISSUED", "NEXT", "STATE"],
                    |c| {
                        vec![
                            c.issuer.clone(),
                            c.number.clone(),
                            c.revoked.to_string(),
                            output::date(Some(c.this_update)),
                            output::date(c.next_update),
                            freshness(c, now),
                        ]
                    },
                )
            }
            CrlCommand::Remove(args) => {
                let store = open(&args.store).await?;
                store
                    .remove_crl(&context(&args.store), &args.issuer)
                    .await?;
                if output::json() {
                    println!("{}", serde_json::json!({"removed": args.issuer}));
                } else {
                    println!("CRL of {}: removed", args.issuer);
                }
                Ok(Exit::Ok)
            }
        }
    })
}

/// Whether a newer CRL is due: what is listed still applies either way.
fn freshness(crl: &StoredCrl, now: OffsetDateTime) -> String {
    match crl.next_update {
        Some(next) if next < now.unix_timestamp() => format!(
            "overdue since {}: still applied; import the CA's newer CRL",
            output::date(Some(next))
        ),
        Some(next) => format!("current until {}", output::date(Some(next))),
        None => "current (it names no next update)".into(),
    }
}
