//! `keyway crl …`: CRLs of outside CAs whose client certificates the gateway accepts.
//! Checking and keeping them is keyway-store's; this module reads the file and prints.

use anyhow::Result;
use keyway_keystore::file;
use keyway_store::{CrlImport, StoredCrl};
use time::OffsetDateTime;

use crate::cli::store::CrlCommand;
use crate::session::{block_on, context, open};
use crate::{Outcome, output};

/// `keyway crl …`
pub fn crl(command: CrlCommand) -> Result<Outcome> {
    block_on(async {
        match command {
            CrlCommand::Import(args) => {
                let bytes = file::read_bytes(&args.file)?;
                let store = open(&args.store).await?;
                let source = args.file.display().to_string();
                let (crl, outcome) = store
                    .import_crl(&context(&args.store), &bytes, &source)
                    .await?;
                if args.store.data.json {
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
                Ok(Outcome::Ok)
            }
            CrlCommand::List(args) => {
                let store = open(&args.store).await?;
                let crls = store.crls(&context(&args.store)).await?;
                if args.store.data.json {
                    println!("{}", serde_json::to_string_pretty(&crls)?);
                } else if crls.is_empty() {
                    println!("no CRLs (`keyway crl import FILE` imports one)");
                } else {
                    let now = OffsetDateTime::now_utc();
                    let rows: Vec<Vec<String>> = crls
                        .iter()
                        .map(|c| {
                            vec![
                                c.issuer.clone(),
                                c.number.clone(),
                                c.revoked.to_string(),
                                date(Some(c.this_update)),
                                date(c.next_update),
                                freshness(c, now),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        output::columns(
                            &["ISSUER", "NUMBER", "REVOKED", "ISSUED", "NEXT", "STATE"],
                            &rows
                        )
                    );
                }
                Ok(Outcome::Ok)
            }
            CrlCommand::Remove(args) => {
                let store = open(&args.store).await?;
                store
                    .remove_crl(&context(&args.store), &args.issuer)
                    .await?;
                if args.store.data.json {
                    println!("{}", serde_json::json!({"removed": args.issuer}));
                } else {
                    println!("CRL of {}: removed", args.issuer);
                }
                Ok(Outcome::Ok)
            }
        }
    })
}

fn date(at: Option<i64>) -> String {
    at.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| t.date().to_string())
        .unwrap_or_else(|| "-".into())
}

/// Whether a newer CRL is due: what is listed still applies either way.
fn freshness(crl: &StoredCrl, now: OffsetDateTime) -> String {
    match crl.next_update {
        Some(next) if next < now.unix_timestamp() => format!(
            "overdue since {}: still applied; import the CA's newer CRL",
            date(Some(next))
        ),
        Some(next) => format!("current until {}", date(Some(next))),
        None => "current (it names no next update)".into(),
    }
}
