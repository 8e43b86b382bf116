//! Writing files: never over an existing one without `--force`, private ones (keys,
//! keystores, configurations holding passwords) readable by their owner only, all
//! atomically.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use keyway_keystore::{Certificate, Format, PrivateKey, file};

use crate::args::{IdentityOutArgs, OutArgs};
use crate::secret;

/// [`refuse_existing`] for `--out`/`--force`.
pub(crate) fn check_out(out: &OutArgs) -> Result<()> {
    refuse_existing(&out.out, out.force)
}

/// Refuses to replace an existing file without `--force`.
pub(crate) fn refuse_existing(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!(
            "{}: already exists; choose another --out or give --force to replace it",
            path.display()
        );
    }
    Ok(())
}

/// Mode 0600: the file holds a private key.
fn owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("{}: cannot restrict its permissions", path.display()))
}

pub(crate) fn identity_format(out: &IdentityOutArgs) -> Result<Format> {
    refuse_existing(&out.out, out.force)?;
    let by_name = || {
        let ext = out.out.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "p12" | "pfx" => Some(Format::Pkcs12),
            "jks" => Some(Format::Jks),
            "pem" | "crt" => Some(Format::Pem),
            _ => None,
        }
    };
    match out.out_type.as_deref() {
        Some("pkcs12") => Ok(Format::Pkcs12),
        Some("jks") => Ok(Format::Jks),
        Some("pem") => Ok(Format::Pem),
        _ => by_name().with_context(|| {
            format!(
                "{}: say which type to write with --out-type pkcs12|jks|pem (or use a .p12, .jks or .pem name)",
                out.out.display()
            )
        }),
    }
}

pub(crate) fn identity_password(
    out: &IdentityOutArgs,
    format: Format,
) -> Result<Option<secret::Password>> {
    match (out.password.as_deref(), format, out.no_passphrase) {
        (Some(v), _, _) => Ok(Some(secret::resolve(v, "--password")?)),
        (None, Format::Pem, true) => Ok(None),
        (None, Format::Pem, false) => Ok(Some(secret::prompt(
            "--password",
            "Passphrase for the key in the PEM file (or give --no-passphrase)",
        )?)),
        (None, _, true) => {
            bail!("--no-passphrase is for PEM output; a {format} file needs --password")
        }
        (None, _, false) => Ok(Some(secret::prompt(
            "--password",
            &format!("Password for the new {format} file {}", out.out.display()),
        )?)),
    }
}

pub(crate) fn write_identity(
    out: &IdentityOutArgs,
    format: Format,
    password: Option<&str>,
    key: PrivateKey,
    chain: Vec<Certificate>,
) -> Result<()> {
    let identity = keyway_store::KeyAndChain { key, chain };
    let bytes = identity.to_bytes(format, &out.alias, password)?;
    file::write_atomic(&out.out, &bytes)?;
    owner_only(&out.out)
}

/// Writes atomically, readable by its owner only (it may hold passwords): a new file is
/// created 0600, and a file being replaced is made 0600 before the new content goes in.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    #[cfg(unix)]
    if path.is_file() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} readable by its owner only", path.display()))?;
    }
    keyway_keystore::file::write_atomic(path, bytes)?;
    Ok(())
}
