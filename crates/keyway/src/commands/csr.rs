//! `keyway csr create|show`: certificate signing requests for an outside CA.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use keyway_keystore::{PrivateKey, file};
use keyway_pki::{create_csr, parse_subject, read_csr, read_private_key};
use serde_json::json;

use crate::args::{OutArgs, sans};
use crate::exit::Exit;
use crate::files::check_out;
use crate::output;
use crate::output::report;
use crate::secret;

/// `keyway csr`
#[derive(Debug, Subcommand)]
pub enum CsrCommand {
    /// Create a certificate signing request to send to a CA.
    #[command(after_help = "Examples:
  keyway csr create --key partner-a.key --key-passphrase env:KEY_PASS \\
      --subject \"CN=partner-a,OU=Integration,O=Acme,C=DE\" --out partner-a.csr
  keyway csr create --key gw.key --no-passphrase --subject CN=gw.acme.example \\
      --san dns:gw.acme.example --san ip:192.0.2.10 --out gw.csr

Subjects are written most specific first (CN=…,O=…,C=…); escape commas in values as \\,.
Attributes: CN, O, OU, L, ST, C, emailAddress. SANs: dns:, ip:, email:, uri:.

Exit codes: 0 written, 2 usage or input error (bad subject or SAN, wrong passphrase).")]
    Create(CsrCreateArgs),
    /// Show a CSR and check its signature.
    #[command(after_help = "Examples:
  keyway csr show partner-a.csr
  keyway csr show request-from-keytool.csr --json

Exit codes: 0 the signature verifies, 2 the file is not a CSR or its signature does not verify.")]
    Show(CsrShowArgs),
}

/// `csr create`
#[derive(Debug, Args)]
pub struct CsrCreateArgs {
    /// The private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key's passphrase, when it is encrypted.
    #[arg(long = "keypass", alias = "key-passphrase", value_name = "PASSPHRASE")]
    pub key_passphrase: Option<String>,
    /// The key is not encrypted (no prompt for a passphrase).
    #[arg(long, conflicts_with = "key_passphrase")]
    pub no_passphrase: bool,
    /// Subject, e.g. "CN=partner-a,O=Acme".
    #[arg(long)]
    pub subject: String,
    /// Subject alternative name (dns:, ip:, email:, uri:); repeat for several.
    #[arg(long)]
    pub san: Vec<String>,
    #[command(flatten)]
    pub out: OutArgs,
}

/// `csr show`
#[derive(Debug, Args)]
pub struct CsrShowArgs {
    /// The CSR (PEM or DER).
    pub file: PathBuf,
}

/// `keyway csr …`
pub fn csr(command: CsrCommand) -> Result<Exit> {
    match command {
        CsrCommand::Create(args) => {
            let subject = parse_subject(&args.subject)?;
            let sans = sans(&args.san)?;
            check_out(&args.out)?;
            let key = load_key(
                &args.key,
                args.key_passphrase.as_deref(),
                args.no_passphrase,
            )?;
            let pem = create_csr(&key, subject, &sans)?;
            file::write_atomic(&args.out.out, pem.as_bytes())?;
            let csr = read_csr(pem.as_bytes(), "the new CSR")?;
            report(
                output::json(),
                json!({"csr": args.out.out, "subject": csr.subject, "sans": csr.sans, "key": csr.key.to_string()}),
                format!(
                    "Wrote the CSR for {} ({}) to {}; send it to your CA",
                    csr.subject,
                    csr.key,
                    args.out.out.display()
                ),
            )
        }
        CsrCommand::Show(args) => {
            let bytes = file::read_bytes(&args.file)?;
            let csr = read_csr(&bytes, &args.file.display().to_string())?;
            let mut text = format!("Subject:   {}\nKey:       {}\n", csr.subject, csr.key);
            if !csr.sans.is_empty() {
                text.push_str(&format!("SANs:      {}\n", csr.sans.join(", ")));
            }
            text.push_str("Signature: verified");
            report(output::json(), serde_json::to_value(&csr)?, text)
        }
    }
}

pub(crate) fn load_key(path: &Path, passphrase: Option<&str>, plain: bool) -> Result<PrivateKey> {
    let bytes = file::read_bytes(path)?;
    let encrypted = String::from_utf8_lossy(&bytes).contains("ENCRYPTED PRIVATE KEY");
    let pass = match (passphrase, plain, encrypted) {
        (Some(v), _, _) => Some(secret::resolve(v, "--keypass")?),
        (None, false, true) => Some(secret::prompt(
            "--keypass",
            &format!("Passphrase of {}", path.display()),
        )?),
        _ => None,
    };
    Ok(read_private_key(
        &bytes,
        pass.as_deref().map(|p| p.as_str()),
        &path.display().to_string(),
    )?)
}
