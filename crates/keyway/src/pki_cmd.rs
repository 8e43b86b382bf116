//! `keyway key`, `csr` and `cert`: each validates its arguments, calls keyway-pki,
//! writes its output (never over an existing file unless --force) and reports.

use std::path::Path;

use anyhow::{Context, Result, bail};
use keyway_keystore::{Certificate, PrivateKey, file};
use keyway_pki::{
    CertDetails, IssueProfile, KeyType, Pending, San, check_upload, create_csr, generate, key_pem,
    parse_subject, read_certificates, read_csr, read_private_key,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::cli::pki::{
    CertBundleArgs, CertCommand, CertFileArgs, CertVerifyArgs, CsrCommand, KeyCommand,
};
use crate::files::{check_out, identity_format, identity_password, write_identity, write_private};
use crate::output::report;
use crate::secret;
use crate::{Outcome, output};

/// `keyway key …`
pub fn key(command: KeyCommand) -> Result<Outcome> {
    let KeyCommand::Generate(args) = command;
    let kind: KeyType = args.key_type.parse().map_err(anyhow::Error::msg)?;
    check_out(&args.out)?;
    let passphrase = passphrase(args.passphrase.as_deref(), args.no_passphrase, "--keypass")?;
    let key = generate(kind)?;
    write_private(
        &args.out.out,
        key_pem(&key, passphrase.as_deref().map(|p| p.as_str()))?.as_bytes(),
    )?;
    report(
        args.json,
        json!({"key": args.out.out, "type": kind.name(), "encrypted": passphrase.is_some()}),
        format!(
            "Wrote the new {kind} key to {}{}",
            args.out.out.display(),
            if passphrase.is_some() {
                " (encrypted)"
            } else {
                " (NOT encrypted)"
            }
        ),
    )
}

/// `keyway csr …`
pub fn csr(command: CsrCommand) -> Result<Outcome> {
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
                args.json,
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
            report(args.json, serde_json::to_value(&csr)?, text)
        }
    }
}

/// `keyway cert …`
pub fn cert(command: CertCommand) -> Result<Outcome> {
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
            report(args.json, json!(json), text)
        }
        CertCommand::Verify(args) => verify(&args),
        CertCommand::Bundle(args) => bundle(&args),
    }
}

fn inspect(args: &CertFileArgs) -> Result<Outcome> {
    let certs = read_cert_file(args)?;
    let now = OffsetDateTime::now_utc();
    let mut text = String::new();
    let mut details = Vec::new();
    let mut outcome = Outcome::Ok;
    for (i, cert) in certs.iter().enumerate() {
        let d = CertDetails::of(cert)?;
        if !cert.info().is_valid_at(now) {
            outcome = Outcome::Problems;
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
        args.json,
        json!({"certificates": details}),
        text.trim_end().to_string(),
    )?;
    Ok(outcome)
}

fn verify(args: &CertVerifyArgs) -> Result<Outcome> {
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
                args.cert.json,
                json!({"valid": true, "subject": subject}),
                format!(
                    "{subject}: valid for {} use against {}",
                    args.purpose,
                    args.truststore.display()
                ),
            )?;
            Ok(Outcome::Ok)
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
                args.cert.json,
                json!({
                    "valid": false,
                    "subject": subject,
                    "code": code,
                    "reason": reason,
                    "remediation": fix,
                }),
                text,
            )?;
            Ok(Outcome::Problems)
        }
    }
}

fn bundle(args: &CertBundleArgs) -> Result<Outcome> {
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
        args.json,
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

pub(crate) fn sans(given: &[String]) -> Result<Vec<San>> {
    Ok(given
        .iter()
        .map(|s| San::parse(s))
        .collect::<Result<_, _>>()?)
}

fn passphrase(given: Option<&str>, plain: bool, option: &str) -> Result<Option<secret::Password>> {
    match (given, plain) {
        (_, true) => Ok(None),
        (Some(v), false) => Ok(Some(secret::resolve(v, option)?)),
        (None, false) => Ok(Some(secret::prompt(
            option,
            "Passphrase for the new key (or give --no-passphrase)",
        )?)),
    }
}

fn load_key(path: &Path, passphrase: Option<&str>, plain: bool) -> Result<PrivateKey> {
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
