//! `keyway cert inspect|fingerprint|verify|bundle`: certificate files.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use keyway_keystore::{Certificate, file};
use keyway_pki::{CertDetails, IssueProfile, Pending, check_upload, read_certificates};
use serde_json::json;
use time::OffsetDateTime;

use crate::args::IdentityOutArgs;
use crate::commands::csr::load_key;
use crate::exit::Exit;
use crate::files::{identity_format, identity_password, write_identity};
use crate::output::report;
use crate::{output, secret};

/// `keyway cert`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Show everything a certificate says.
    #[command(after_help = "Examples:
  keyway cert inspect partner.pem
  keyway cert inspect client.p12 --password env:P12_PASS --json

Reads PEM (every certificate in it), DER, PKCS#12 and JKS.

Exit codes: 0 shown, 1 a certificate is expired or not yet valid, 2 usage or input error.")]
    Inspect(CertFileArgs),
    /// Check a certificate against a truststore, as a TLS peer would.
    #[command(after_help = "Examples:
  keyway cert verify partner-a.pem --truststore keyway-ca.pem
  keyway cert verify gw.pem --truststore partners.jks --truststore-password changeit --purpose server --name gw.acme.example
  keyway cert verify partner-a.pem --truststore keyway-ca.pem --crl ca.crl

The first certificate of FILE is checked; the others are used as intermediates.

Exit codes: 0 valid, 1 not valid (the reason is printed), 2 usage or input error.")]
    Verify(CertVerifyArgs),
    /// Print the SHA-256 (and SHA-1) fingerprints.
    #[command(after_help = "Examples:
  keyway cert fingerprint partner-root.pem

Exit codes: 0 printed, 2 usage or input error.")]
    Fingerprint(CertFileArgs),
    /// Put a key, its certificate and chain into a PKCS#12, JKS or PEM file, after checking
    /// that they belong together (the upload of a CA-signed certificate).
    #[command(after_help = "Examples:
  keyway cert bundle --key partner-a.key --key-passphrase env:KEY_PASS --cert partner-a.pem \\
      --ca issuing-ca.pem --ca root-ca.pem --out partner-a.p12 --password env:P12_PASS
  keyway cert bundle --key client.key --no-passphrase --cert signed.pem --chain chain.pem --out client.jks --password changeit

Checks before anything is written: the certificate is for this key, it chains to the CA
certificates given (--ca, --chain, or those in --cert), it is valid now, it is not a CA, and
(with --purpose client, the default) it allows clientAuth.

Exit codes: 0 written, 2 a check failed or usage or input error.")]
    Bundle(CertBundleArgs),
}

/// A certificate file.
#[derive(Debug, Args)]
pub struct CertFileArgs {
    /// PEM, DER, PKCS#12 or JKS.
    pub file: PathBuf,
    /// Password, for PKCS#12 and JKS.
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
}

/// `cert verify`
#[derive(Debug, Args)]
pub struct CertVerifyArgs {
    #[command(flatten)]
    pub cert: CertFileArgs,
    /// The truststore (PEM, DER, PKCS#12, JKS).
    #[arg(long, value_name = "FILE")]
    pub truststore: PathBuf,
    /// The truststore's password.
    #[arg(
        long = "truststore-storepass",
        alias = "truststore-password",
        value_name = "PASSWORD"
    )]
    pub truststore_password: Option<String>,
    /// client or server.
    #[arg(long, default_value = "client")]
    pub purpose: String,
    /// The host name a server certificate must be valid for (server purpose).
    #[arg(long)]
    pub name: Option<String>,
    /// CRLs to check revocation against (PEM or DER); repeat for several.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
}

/// `cert bundle`
#[derive(Debug, Args)]
pub struct CertBundleArgs {
    /// The private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key's passphrase.
    #[arg(long = "keypass", alias = "key-passphrase", value_name = "PASSPHRASE")]
    pub key_passphrase: Option<String>,
    /// The key is not encrypted.
    #[arg(long = "no-key-passphrase", conflicts_with = "key_passphrase")]
    pub plain_key: bool,
    /// The certificate the CA returned (PEM or DER; a chain after it is used too).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Intermediate certificates.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// CA certificates the certificate must chain to.
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// client (requires clientAuth) or server.
    #[arg(long, default_value = "client")]
    pub purpose: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
}

/// `keyway cert …`
pub fn cert(command: CertCommand) -> Result<Exit> {
    match command {
        CertCommand::Inspect(args) => inspect(&args),
        CertCommand::Fingerprint(args) => {
            let certs = read_cert_file(&args)?;
            let details: Vec<CertDetails> = certs
                .iter()
                .map(CertDetails::of)
                .collect::<Result<_, _>>()?;
            let text = details
                .iter()
                .map(|d| {
                    format!(
                        "{}\n  SHA-256 {}\n  SHA-1   {}",
                        d.info.subject, d.info.sha256, d.sha1
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            let json: Vec<_> = details
                .iter()
                .map(
                    |d| json!({"subject": d.info.subject, "sha256": d.info.sha256, "sha1": d.sha1}),
                )
                .collect();
            report(output::json(), json!(json), text)
        }
        CertCommand::Verify(args) => verify(&args),
        CertCommand::Bundle(args) => bundle(&args),
    }
}

fn inspect(args: &CertFileArgs) -> Result<Exit> {
    let certs = read_cert_file(args)?;
    let now = OffsetDateTime::now_utc();
    let mut text = String::new();
    let mut details = Vec::new();
    let mut outcome = Exit::Ok;
    for (i, cert) in certs.iter().enumerate() {
        let d = CertDetails::of(cert)?;
        if !cert.info().is_valid_at(now) {
            outcome = Exit::Problems;
        }
        if certs.len() > 1 {
            text.push_str(&format!("Certificate {} of {}\n", i + 1, certs.len()));
        }
        text.push_str(&format!(
            "Subject:        {}\nIssuer:         {}\nSerial:         {}\nValidity:       {} to {} ({})\n",
            d.info.subject,
            d.info.issuer,
            d.info.serial,
            output::iso(d.info.not_before),
            output::iso(d.info.not_after),
            output::expiry_words(cert.info(), now)
        ));
        if !d.sans.is_empty() {
            text.push_str(&format!("SANs:           {}\n", d.sans.join(", ")));
        }
        if !d.key_usage.is_empty() {
            text.push_str(&format!("Key usage:      {}\n", d.key_usage.join(", ")));
        }
        if !d.extended_key_usage.is_empty() {
            text.push_str(&format!(
                "Extended usage: {}\n",
                d.extended_key_usage.join(", ")
            ));
        }
        text.push_str(&format!(
            "CA:             {}{}\nKey:            {}\nSignature:      {}\nSHA-256:        {}\nSHA-1:          {}\n",
            if d.info.is_ca { "yes" } else { "no" },
            d.path_len.map(|n| format!(" (path length {n})")).unwrap_or_default(),
            d.info.key,
            d.signature_algorithm,
            d.info.sha256,
            d.sha1
        ));
        details.push(d);
    }
    report(
        output::json(),
        json!({"certificates": details}),
        text.trim_end().to_string(),
    )?;
    Ok(outcome)
}

fn verify(args: &CertVerifyArgs) -> Result<Exit> {
    use keyway_tls::{ChainCheck, Purpose, verify_chain};
    use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
    let certs = read_cert_file(&args.cert)?;
    let password = secret::optional(
        args.truststore_password.as_deref(),
        "--truststore-storepass",
    )?;
    let trust_bytes = file::read_bytes(&args.truststore)?;
    let anchors = read_certificates(
        &trust_bytes,
        password.as_deref().map(|p| p.as_str()),
        &args.truststore.display().to_string(),
    )?;
    let purpose = match args.purpose.as_str() {
        "client" => Purpose::Client,
        "server" => Purpose::Server,
        other => bail!("--purpose {other}: use client or server"),
    };
    if purpose == Purpose::Server && args.name.is_none() {
        bail!(
            "--purpose server needs --name HOST: a server certificate is checked against the name clients use"
        );
    }
    let mut crls = Vec::new();
    for path in &args.crl {
        let bytes = file::read_bytes(path)?;
        let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            use rustls_pki_types::pem::PemObject;
            CertificateRevocationListDer::from_pem_slice(&bytes)
                .with_context(|| format!("{}: not a PEM CRL", path.display()))?
                .to_vec()
        } else {
            bytes
        };
        crls.push(CertificateRevocationListDer::from(der));
    }
    let der = |c: &Certificate| CertificateDer::from(c.der().to_vec());
    let trusted = anchors;
    let anchors: Vec<CertificateDer<'_>> = trusted.iter().map(der).collect();
    let intermediates: Vec<CertificateDer<'_>> = certs[1..].iter().map(der).collect();
    let leaf = der(&certs[0]);
    let check = ChainCheck {
        anchors: &anchors,
        intermediates: &intermediates,
        leaf: &leaf,
        crls: &crls,
        name: args.name.as_deref(),
        purpose,
        at: std::time::SystemTime::now(),
    };
    let subject = &certs[0].info().subject;
    match verify_chain(&check) {
        Ok(()) => {
            report(
                output::json(),
                json!({"valid": true, "subject": subject}),
                format!(
                    "{subject}: valid for {} use against {}",
                    args.purpose,
                    args.truststore.display()
                ),
            )?;
            Ok(Exit::Ok)
        }
        Err(e) => {
            // Named as `keyway test` names it, with the fix.
            let truststore = args.truststore.display().to_string();
            let cause =
                keyway_tls::chain_cause(&e, &certs, args.name.as_deref(), &truststore, &trusted);
            let (code, reason, fix) = match &cause {
                Some(cause) => (Some(cause.code()), cause.summary(), cause.remediation()),
                None => (None, e.to_string(), Vec::new()),
            };
            let mut text = format!(
                "{}: NOT valid: {}{reason}",
                output::clean(subject),
                code.map(|c| format!("{c}: ")).unwrap_or_default()
            );
            for (n, step) in fix.iter().enumerate() {
                text.push_str(&format!("\n  {}. {}", n + 1, output::clean(step)));
            }
            report(
                output::json(),
                json!({
                    "valid": false,
                    "subject": subject,
                    "code": code,
                    "reason": reason,
                    "remediation": fix,
                }),
                text,
            )?;
            Ok(Exit::Problems)
        }
    }
}

fn bundle(args: &CertBundleArgs) -> Result<Exit> {
    let purpose: IssueProfile = args.purpose.parse().map_err(anyhow::Error::msg)?;
    let format = identity_format(&args.out)?;
    let key = load_key(&args.key, args.key_passphrase.as_deref(), args.plain_key)?;
    let cert_certs = read_certificates(
        &file::read_bytes(&args.cert)?,
        None,
        &args.cert.display().to_string(),
    )?;
    let leaf = cert_certs[0].clone();
    let mut cas: Vec<Certificate> = cert_certs[1..].to_vec();
    for path in args.chain.iter().chain(&args.ca) {
        cas.extend(read_certificates(
            &file::read_bytes(path)?,
            None,
            &path.display().to_string(),
        )?);
    }
    let checked = check_upload(
        &leaf,
        Some(Pending::Key(&key)),
        &cas,
        purpose,
        OffsetDateTime::now_utc(),
    )?;
    let password = identity_password(&args.out, format)?;
    write_identity(
        &args.out,
        format,
        password.as_deref().map(|p| p.as_str()),
        key,
        checked.chain.clone(),
    )?;
    report(
        output::json(),
        json!({"out": args.out.out, "alias": args.out.alias, "chain": checked.chain.iter().map(|c| c.info()).collect::<Vec<_>>()}),
        format!(
            "Checked and wrote {} with its chain of {} to {} (alias {})",
            leaf.info().subject,
            checked.chain.len(),
            args.out.out.display(),
            args.out.alias
        ),
    )
}

fn read_cert_file(args: &CertFileArgs) -> Result<Vec<Certificate>> {
    let password = secret::optional(args.password.as_deref(), "--password")?;
    let bytes = file::read_bytes(&args.file)?;
    Ok(read_certificates(
        &bytes,
        password.as_deref().map(|p| p.as_str()),
        &args.file.display().to_string(),
    )?)
}
