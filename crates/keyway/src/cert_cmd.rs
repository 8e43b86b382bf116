//! `keyway user cert …` and `keyway truststore …`: users' client certificates and the
//! named truststores in the store. Checks, sealing and auditing happen in keyway-store;
//! this module reads files and arguments, writes files and prints.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use keyway_keystore::{Certificate, Format, Keystore, WriteOptions, file};
use keyway_pki::{KeyType, Reason};
use keyway_store::{CertOrigin, ClientCertificate, Truststore, Upload};
use serde_json::json;
use time::OffsetDateTime;

use crate::Outcome;
use crate::cli::store::{
    CertCsrArgs, CertDownloadArgs, CertIssueArgs, CertListArgs, CertRevokeArgs, CertShowArgs,
    CertUploadArgs, TruststoreAddArgs, TruststoreCommand, TruststoreExportArgs, UserCertCommand,
};
use crate::files::refuse_existing;
use crate::files::{identity_format, identity_password, write_identity};
use crate::session::{block_on, context, open};
use crate::{output, secret};

/// `keyway user cert …`, inside `keyway user`'s runtime.
pub async fn user_cert(command: UserCertCommand) -> Result<Outcome> {
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

async fn csr(args: CertCsrArgs) -> Result<Outcome> {
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
        .request_certificate(&context(&args.store), &args.name, &subject, key_type)
        .await?;
    match &args.out {
        Some(out) => file::write_atomic(out, pending.csr.as_bytes())?,
        None if !args.store.data.json => print!("{}", pending.csr),
        None => {}
    }
    if args.store.data.json {
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
    Ok(Outcome::Ok)
}

async fn upload(args: CertUploadArgs) -> Result<Outcome> {
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
    print_cert(&cert, args.store.data.json, Some("uploaded"))
}

async fn issue(args: CertIssueArgs) -> Result<Outcome> {
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
    print_cert(&cert, args.store.data.json, Some(&done))
}

async fn list(args: CertListArgs) -> Result<Outcome> {
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let certs = store.certificates(&ctx, &args.name).await?;
    let pending = store.pending_keys(&ctx, &args.name).await?;
    if args.store.data.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"certificates": certs, "pending": pending}))?
        );
        return Ok(Outcome::Ok);
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
                        .unwrap_or_else(|| date(c.not_after)),
                    c.key_type.clone(),
                    c.subject.clone(),
                ]
            })
            .collect();
        let mut text = output::columns(
            &["SHA-256", "STATE", "ORIGIN", "UNTIL", "KEY", "SUBJECT"],
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
            date(p.created_at),
            args.name
        );
    }
    Ok(Outcome::Ok)
}

async fn show(args: CertShowArgs) -> Result<Outcome> {
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
        return Ok(Outcome::Ok);
    }
    print_cert(&cert, args.store.data.json, None)
}

async fn download(args: CertDownloadArgs) -> Result<Outcome> {
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
    print_cert(&cert, args.store.data.json, Some(&done))
}

async fn revoke(args: CertRevokeArgs) -> Result<Outcome> {
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
    print_cert(&cert, args.store.data.json, Some(&done))
}

fn print_cert(cert: &ClientCertificate, json: bool, done: Option<&str>) -> Result<Outcome> {
    if json {
        println!("{}", serde_json::to_string_pretty(cert)?);
        return Ok(Outcome::Ok);
    }
    if let Some(done) = done {
        println!("certificate of {}: {done}", cert.user);
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let state = match &cert.revoked {
        Some(r) => format!("revoked {} ({})", date(r.at), r.reason),
        None => cert.state(now).to_string(),
    };
    let chain: Vec<String> = cert
        .chain
        .iter()
        .map(|c| c.info().subject.clone())
        .collect();
    println!(
        "  subject:     {}\n  issuer:      {}\n  SHA-256:     {}\n  serial:      {}\n  valid:       {} to {}\n  state:       {state}\n  origin:      {}\n  key:         {} ({})\n  chain:       {}\n  version:     {}",
        cert.subject,
        cert.issuer,
        cert.sha256,
        cert.serial,
        date(cert.not_before),
        date(cert.not_after),
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
        cert.version
    );
    Ok(Outcome::Ok)
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

fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// Every certificate in `path` (PEM, DER, JKS, PKCS#12).
fn read_certs(path: &Path, password: Option<&str>) -> Result<Vec<Certificate>> {
    let bytes = file::read_bytes(path)?;
    Ok(keyway_pki::read_certificates(
        &bytes,
        password,
        &path.display().to_string(),
    )?)
}

/// A truststore says whom to trust. A keystore's private key entries hold an identity
/// (our own certificate and its issuers), and trusting that chain by accident would
/// trust our own leaf and whatever its CA signs: refused unless asked for.
fn refuse_key_entries(path: &Path, password: Option<&str>) -> Result<()> {
    let bytes = file::read_bytes(path)?;
    // A file that does not open here is left to read_certs, which says why.
    let Ok(store) = keyway_keystore::Keystore::from_bytes(&bytes, None, password) else {
        return Ok(());
    };
    let keys: Vec<String> = store
        .entries()
        .iter()
        .filter(|e| e.entry_type() == keyway_keystore::EntryType::PrivateKey)
        .map(|e| output::clean(&e.alias).into_owned())
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let trusted = store.entries().len() - keys.len();
    bail!(
        "{}: holds private key entries ({}): their certificate chains are an identity to present, not CAs to trust. \
         Add the partner CAs from a file of trusted certificates{}, or give --include-key-entries to trust those chains too",
        path.display(),
        keys.join(", "),
        if trusted > 0 {
            format!(
                " (this one also holds {trusted} trusted certificate entr{}: `keyway keystore export FILE --alias ALIAS --out ca.pem` writes one)",
                if trusted == 1 { "y" } else { "ies" }
            )
        } else {
            String::new()
        }
    )
}

/// `keyway truststore …`
pub fn truststore(command: TruststoreCommand) -> Result<Outcome> {
    block_on(async {
        match command {
            TruststoreCommand::Add(args) => truststore_add(args).await,
            TruststoreCommand::List(args) => {
                let store = open(&args.store).await?;
                let stores = store.truststores(&context(&args.store)).await?;
                if args.store.data.json {
                    println!("{}", serde_json::to_string_pretty(&stores)?);
                } else if stores.is_empty() {
                    println!("no truststores (`keyway truststore add NAME FILE` makes one)");
                } else {
                    let rows: Vec<Vec<String>> = stores
                        .iter()
                        .map(|t| {
                            vec![
                                t.name.clone(),
                                t.certificates.len().to_string(),
                                date(t.updated_at),
                                t.version.to_string(),
                                t.source.clone(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        output::columns(
                            &["NAME", "CERTIFICATES", "CHANGED", "VERSION", "FROM"],
                            &rows
                        )
                    );
                }
                Ok(Outcome::Ok)
            }
            TruststoreCommand::Show(args) => {
                let store = open(&args.store).await?;
                let found = store.truststore(&context(&args.store), &args.name).await?;
                print_truststore(&found, args.store.data.json, None)
            }
            TruststoreCommand::Remove(args) => {
                let store = open(&args.store).await?;
                store
                    .remove_truststore(&context(&args.store), &args.name, args.if_version)
                    .await?;
                if args.store.data.json {
                    println!("{}", json!({"removed": args.name}));
                } else {
                    println!("truststore {}: removed", args.name);
                }
                Ok(Outcome::Ok)
            }
            TruststoreCommand::Export(args) => truststore_export(args).await,
        }
    })
}

async fn truststore_add(args: TruststoreAddArgs) -> Result<Outcome> {
    let password = args
        .storepass
        .as_deref()
        .map(|p| secret::resolve(p, "--storepass"))
        .transpose()?;
    if !args.include_key_entries {
        refuse_key_entries(&args.file, password.as_deref().map(|p| p.as_str()))?;
    }
    let certs = read_certs(&args.file, password.as_deref().map(|p| p.as_str()))?;
    output::warn_dates(certs.iter().map(Certificate::info));
    let source = args.file.display().to_string();
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let saved = if args.replace {
        store
            .replace_truststore(&ctx, &args.name, certs, &source, args.if_version)
            .await?
    } else {
        store
            .add_truststore(&ctx, &args.name, certs, &source)
            .await?
    };
    let done = if args.replace { "replaced" } else { "added" };
    print_truststore(&saved, args.store.data.json, Some(done))
}

async fn truststore_export(args: TruststoreExportArgs) -> Result<Outcome> {
    refuse_existing(&args.out, args.force)?;
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let format = match ext.as_deref() {
        Some("jks") => Format::Jks,
        Some("p12" | "pfx") => Format::Pkcs12,
        Some("pem" | "crt") => Format::Pem,
        _ => bail!(
            "{}: name it .pem, .jks or .p12 to say which type to write",
            args.out.display()
        ),
    };
    let password = match (&args.storepass, format) {
        (Some(p), _) => Some(secret::resolve(p, "--storepass")?),
        (None, Format::Pem) => None,
        (None, _) => Some(secret::prompt(
            "--storepass",
            &format!("Password for the new {format} file {}", args.out.display()),
        )?),
    };
    let store = open(&args.store).await?;
    let found = store.truststore(&context(&args.store), &args.name).await?;
    let mut written = Keystore::new(format);
    for (i, cert) in found.certificates.iter().enumerate() {
        written.add_trusted_cert(&format!("{}-{}", args.name, i + 1), cert.clone())?;
    }
    let options = WriteOptions {
        store_password: password.as_deref().map(|p| p.to_string()),
        key_password: None,
        pkcs12_legacy: false,
    };
    file::save(&args.out, &written, format, &options)?;
    let done = format!("written to {}", args.out.display());
    print_truststore(&found, args.store.data.json, Some(&done))
}

fn print_truststore(found: &Truststore, json: bool, done: Option<&str>) -> Result<Outcome> {
    if json {
        println!("{}", serde_json::to_string_pretty(found)?);
        return Ok(Outcome::Ok);
    }
    if let Some(done) = done {
        println!("truststore {}: {done}", found.name);
    }
    println!(
        "  from:    {}\n  changed: {} (version {})\n  {} certificate(s):",
        found.source,
        date(found.updated_at),
        found.version,
        found.certificates.len()
    );
    let now = OffsetDateTime::now_utc();
    let mut text = String::new();
    for cert in &found.certificates {
        let info = cert.info();
        text.push_str(&format!(
            "    {}\n      SHA-256 {}, until {}\n",
            output::clean(&info.subject),
            info.sha256,
            output::until(info.not_after, now)
        ));
    }
    if let Some(summary) =
        output::expiry_summary(found.certificates.iter().map(|c| c.info().not_after), now)
    {
        text.push_str(&format!("  {summary}\n"));
    }
    print!("{}", output::color_markers(&text, output::color_wanted()));
    Ok(Outcome::Ok)
}
