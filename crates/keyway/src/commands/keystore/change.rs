//! The keystore commands that change a file or write a new one: import, delete, rename,
//! passwd, export, convert.

use std::path::Path;

use anyhow::{Context, Result, bail};
use keyway_keystore::{
    Certificate, EntryContent, EntryType, Error as StoreError, Format, Keystore, WriteOptions, file,
};
use serde::Serialize;

use super::{
    CertEncoding, ConvertArgs, DeleteArgs, ExportArgs, ImportCertArgs, ImportKeyArgs, Opened,
    OutStoreArgs, PasswdArgs, RenameArgs, open, open_or_create,
};
use crate::exit::Exit;
use crate::files::refuse_existing;
use crate::output;
use crate::output::print_json;
use crate::secret::{self, Password};

#[derive(Serialize)]
struct Changed<'a> {
    file: &'a Path,
    format: Format,
    action: &'static str,
    aliases: Vec<String>,
    entries: usize,
}

fn report_change(
    opened: &Opened,
    json: bool,
    action: &'static str,
    aliases: Vec<String>,
    message: String,
) -> Result<Exit> {
    if json {
        print_json(&Changed {
            file: &opened.path,
            format: opened.store.format(),
            action,
            aliases,
            entries: opened.store.entries().len(),
        })?;
    } else {
        println!("{message}");
        let count = opened.store.entries().len();
        println!(
            "{}: {}{}, {count} {}",
            opened.path.display(),
            if opened.new { "new " } else { "" },
            opened.store.format(),
            if count == 1 { "entry" } else { "entries" }
        );
    }
    Ok(Exit::Ok)
}

/// Every certificate in a file (PEM bundle, DER, or a store that needs no password).
fn read_certificates(path: &Path) -> Result<Vec<Certificate>> {
    let source = file::load(path, None, None)?;
    if source
        .entries()
        .iter()
        .any(|e| e.entry_type() == EntryType::PrivateKey)
    {
        bail!(
            "{}: holds a private key; use `keyway keystore import-key` to import a key with its chain",
            path.display()
        );
    }
    Ok(source
        .entries()
        .iter()
        .flat_map(|e| e.chain().iter().cloned())
        .collect())
}

pub(super) fn import_cert(args: ImportCertArgs) -> Result<Exit> {
    let mut opened = open_or_create(&args.store)?;
    let certs = read_certificates(&args.cert)?;
    output::warn_dates(certs.iter().map(Certificate::info));
    let aliases: Vec<String> = match certs.len() {
        0 => bail!("{}: contains no certificate", args.cert.display()),
        1 => vec![args.alias.clone()],
        n if args.all => (1..=n).map(|i| format!("{}-{i}", args.alias)).collect(),
        n => bail!(
            "{}: holds {n} certificates; import them all with --all (as {}-1 … {}-{n}) or give a file with one",
            args.cert.display(),
            args.alias,
            args.alias
        ),
    };
    let mut lines = Vec::new();
    for (alias, cert) in aliases.iter().zip(certs) {
        if let Some(existing) = opened
            .store
            .entries()
            .iter()
            .find(|e| e.chain().first().is_some_and(|c| c.der() == cert.der()))
        {
            eprintln!(
                "warning: this certificate is already in the store under alias \"{}\"",
                existing.alias
            );
        }
        lines.push(format!(
            "Imported {} (SHA-256 {}) as \"{alias}\"",
            cert.info().subject,
            cert.info().sha256
        ));
        opened
            .store
            .add_trusted_cert(alias, cert)
            .map_err(|e| opened.in_file(e))?;
    }
    opened.save()?;
    report_change(
        &opened,
        output::json(),
        "import-cert",
        aliases,
        lines.join("\n"),
    )
}

pub(super) fn import_key(args: ImportKeyArgs) -> Result<Exit> {
    let mut opened = open_or_create(&args.store)?;
    let key_source = file::load(&args.key, None, None)?;
    let key_entry = key_source
        .entries()
        .iter()
        .find(|e| e.entry_type() == EntryType::PrivateKey)
        .with_context(|| format!("{}: contains no private key", args.key.display()))?;
    let key = match key_entry.private_key(None) {
        Ok(key) => key,
        Err(StoreError::KeyPasswordRequired { .. }) => {
            let what = format!("Passphrase for {}", args.key.display());
            let pass = secret::obtain(args.key_passphrase.as_deref(), "--keypass", &what)?;
            key_entry
                .private_key(Some(&pass))
                .map_err(|e| file::in_file(&args.key, e))?
        }
        Err(e) => return Err(file::in_file(&args.key, e).into()),
    };
    let certs = read_certificates(&args.cert)?;
    output::warn_dates(certs.iter().map(Certificate::info));
    opened
        .store
        .add_private_key(&args.alias, key, certs)
        .map_err(|e| opened.in_file(e))?;
    let keypass = secret::optional(args.keypass.keypass.as_deref(), "--keypass")?;
    if let Some(keypass) = &keypass {
        if opened.store.format() == Format::Pkcs12 {
            if Some(keypass) != opened.storepass.as_ref() {
                bail!(
                    "PKCS#12 keeps keys under the store password: leave --keypass out (or convert to JKS for a separate key password)"
                );
            }
        } else {
            opened
                .store
                .change_key_password(&args.alias, None, keypass)
                .map_err(|e| opened.in_file(e))?;
        }
    }
    opened.save()?;
    let entry = opened
        .store
        .entry(&args.alias)
        .map_err(|e| opened.in_file(e))?;
    let leaf = entry
        .certificate()
        .map(|c| c.info().subject.clone())
        .unwrap_or_default();
    let message = format!(
        "Imported the private key for {leaf} with a chain of {} as \"{}\"",
        entry.chain().len(),
        args.alias
    );
    report_change(
        &opened,
        output::json(),
        "import-key",
        vec![args.alias],
        message,
    )
}

pub(super) fn delete(args: DeleteArgs) -> Result<Exit> {
    let mut opened = open(&args.store)?;
    let removed = opened
        .store
        .delete(&args.alias)
        .map_err(|e| opened.in_file(e))?;
    opened.save()?;
    let message = format!("Deleted \"{}\" ({})", removed.alias, removed.entry_type());
    report_change(
        &opened,
        output::json(),
        "delete",
        vec![removed.alias],
        message,
    )
}

pub(super) fn rename(args: RenameArgs) -> Result<Exit> {
    let mut opened = open(&args.store)?;
    opened
        .store
        .rename(&args.alias, &args.to)
        .map_err(|e| opened.in_file(e))?;
    opened.save()?;
    let message = format!("Renamed \"{}\" to \"{}\"", args.alias, args.to);
    report_change(&opened, output::json(), "rename", vec![args.to], message)
}

pub(super) fn passwd(args: PasswdArgs) -> Result<Exit> {
    let mut opened = open(&args.store)?;
    let format = opened.store.format();
    let mut message = Vec::new();
    if let (Some(alias), Some(new)) = (&args.alias, &args.new_keypass) {
        let new = secret::resolve(new, "--new-keypass")?;
        let old = opened.key_password(args.keypass.keypass.as_deref())?;
        opened
            .store
            .change_key_password(alias, old.as_deref().map(String::as_str), &new)
            .map_err(|e| opened.in_file(e))?;
        message.push(format!("Changed the key password of \"{alias}\""));
    }
    if let Some(new) = &args.new_storepass {
        if !format.has_store_password() {
            bail!(
                "{}: a {format} file has no store password; to encrypt a key, use --alias ALIAS --new-keypass",
                opened.path.display()
            );
        }
        if opened.storepass.is_none() {
            bail!(
                "{}: give the current --storepass to change it (the store's integrity must be verified first)",
                opened.path.display()
            );
        }
        if format == Format::Jceks {
            bail!(
                "keyway does not write JCEKS: convert the store to JKS or PKCS#12 with a new password instead"
            );
        }
        opened.storepass = Some(secret::resolve(new, "--new-storepass")?);
        message.push(match format {
            Format::Jks => "Changed the store password (key passwords are unchanged)".to_string(),
            _ => "Changed the store password (PKCS#12 keys are re-encrypted with it)".to_string(),
        });
    }
    opened.save()?;
    report_change(
        &opened,
        output::json(),
        "passwd",
        args.alias.clone().into_iter().collect(),
        message.join("\n"),
    )
}

/// Options for writing a new store of `format`, with the source's store password as default.
fn out_options(
    out: &OutStoreArgs,
    format: Format,
    source_pass: Option<&Password>,
    has_keys: bool,
) -> Result<WriteOptions> {
    let store_password = match (
        secret::optional(out.out_storepass.as_deref(), "--out-storepass")?,
        source_pass,
    ) {
        (Some(p), _) => Some(p),
        (None, Some(p)) => Some(p.clone()),
        (None, None) if format.has_store_password() => Some(secret::prompt(
            "--out-storepass",
            &format!("Password for the new {format} store {}", out.out.display()),
        )?),
        (None, None) => None,
    };
    let key_password = secret::optional(out.out_keypass.as_deref(), "--out-keypass")?;
    if format == Format::Pem && has_keys && key_password.is_none() && !out.unencrypted_key {
        bail!(
            "writing a private key to PEM: give --out-keypass to encrypt it, or --unencrypted-key to write it in the clear"
        );
    }
    if out.legacy && format != Format::Pkcs12 {
        bail!("--legacy applies to PKCS#12 output only");
    }
    Ok(WriteOptions {
        store_password: store_password.map(|p| p.to_string()),
        key_password: key_password.map(|p| p.to_string()),
        pkcs12_legacy: out.legacy,
    })
}

pub(super) fn export(args: ExportArgs) -> Result<Exit> {
    refuse_existing(&args.out.out, args.out.force)?;
    let opened = open(&args.store)?;
    let entry = opened
        .store
        .entry(&args.alias)
        .map_err(|e| opened.in_file(e))?;
    let out = &args.out.out;
    if args.identity {
        let format = args
            .out_type
            .context("--identity needs --out-type jks|pkcs12|pem")?;
        let keypass = opened.key_password(args.keypass.keypass.as_deref())?;
        let key = entry
            .private_key(keypass.as_deref().map(String::as_str))
            .map_err(|e| opened.in_file(e))?;
        let mut identity = Keystore::new(format);
        identity
            .add_private_key(&entry.alias, key, entry.chain().to_vec())
            .map_err(|e| opened.in_file(e))?;
        let options = out_options(&args.out, format, opened.storepass.as_ref(), true)?;
        file::save(out, &identity, format, &options)?;
        let message = format!(
            "Exported the identity \"{}\" (key and {} certificates) to {} as {format}",
            entry.alias,
            entry.chain().len(),
            out.display()
        );
        return report_export(output::json(), out, format, &entry.alias, message);
    }
    let certs: &[Certificate] = if args.chain {
        entry.chain()
    } else {
        &entry.chain()[..entry.chain().len().min(1)]
    };
    if certs.is_empty() {
        bail!(
            "alias \"{}\" is a {} and has no certificate to export",
            entry.alias,
            entry.entry_type()
        );
    }
    let (bytes, format) = match args.format {
        CertEncoding::Der if certs.len() > 1 => {
            bail!("DER holds one certificate: leave out --chain, or use --format pem")
        }
        CertEncoding::Der => (certs[0].der().to_vec(), Format::Der),
        CertEncoding::Pem => (
            certs
                .iter()
                .map(Certificate::to_pem)
                .collect::<String>()
                .into_bytes(),
            Format::Pem,
        ),
    };
    file::write_atomic(out, &bytes)?;
    let message = format!(
        "Exported {} certificate(s) of \"{}\" to {} as {format}",
        certs.len(),
        entry.alias,
        out.display()
    );
    report_export(output::json(), out, format, &entry.alias, message)
}

#[derive(Serialize)]
struct Exported<'a> {
    file: &'a Path,
    format: Format,
    alias: &'a str,
}

fn report_export(
    json: bool,
    out: &Path,
    format: Format,
    alias: &str,
    message: String,
) -> Result<Exit> {
    if json {
        print_json(&Exported {
            file: out,
            format,
            alias,
        })?;
    } else {
        println!("{message}");
    }
    Ok(Exit::Ok)
}

pub(super) fn convert(args: ConvertArgs) -> Result<Exit> {
    refuse_existing(&args.out.out, args.out.force)?;
    let mut opened = open(&args.store)?;
    let keypass = secret::optional(args.keypass.keypass.as_deref(), "--keypass")?;
    let storepass = opened.storepass.clone();
    // Each key opens with --keypass if given, else the store password (keytool's default).
    let password_for = |_: &str| {
        keypass
            .as_ref()
            .or(storepass.as_ref())
            .map(|p| p.to_string())
    };
    opened
        .store
        .unseal_keys(&password_for)
        .map_err(|e| opened.in_file(e))?;
    let has_keys = opened
        .store
        .entries()
        .iter()
        .any(|e| matches!(e.content, EntryContent::PrivateKey { .. }));
    let options = out_options(
        &args.out,
        args.out_type,
        opened.storepass.as_ref(),
        has_keys,
    )?;
    file::save(&args.out.out, &opened.store, args.out_type, &options)?;
    let n = opened.store.entries().len();
    if output::json() {
        print_json(&Changed {
            file: &args.out.out,
            format: args.out_type,
            action: "convert",
            aliases: opened
                .store
                .entries()
                .iter()
                .map(|e| e.alias.clone())
                .collect(),
            entries: n,
        })?;
    } else {
        println!(
            "Converted {} ({}, {n} entries) to {} ({})",
            opened.path.display(),
            opened.store.format(),
            args.out.out.display(),
            args.out_type
        );
    }
    Ok(Exit::Ok)
}
