//! `keyway key generate`: a key pair in a PEM file.

use anyhow::Result;
use clap::{Args, Subcommand};
use keyway_pki::{KeyType, generate, key_pem};
use serde_json::json;

use crate::args::OutArgs;
use crate::exit::Exit;
use crate::files::{check_out, write_private};
use crate::output;
use crate::output::report;
use crate::secret;

/// `keyway key`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair, written as PKCS#8 PEM (encrypted unless --no-passphrase).
    #[command(after_help = "Examples:
  keyway key generate --out partner-a.key --passphrase env:KEY_PASS
  keyway key generate --type rsa3072 --out legacy-client.key --passphrase file:key.pass
  keyway key generate --type ed25519 --out dev.key --no-passphrase

Types: ec-p256 (default), ec-p384, rsa2048, rsa3072, rsa4096, ed25519. The file is
created with mode 0600.

Exit codes: 0 written, 2 usage or input error (output exists, no passphrase given).")]
    Generate(KeyGenerateArgs),
}

/// `key generate`
#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// Key type.
    #[arg(long = "type", default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    #[command(flatten)]
    pub out: OutArgs,
    /// Passphrase to encrypt the key with (literal, env:VAR, file:PATH).
    #[arg(
        long = "keypass",
        alias = "passphrase",
        value_name = "PASSPHRASE",
        conflicts_with = "no_passphrase"
    )]
    pub passphrase: Option<String>,
    /// Write the key unencrypted.
    #[arg(long)]
    pub no_passphrase: bool,
}

/// `keyway key …`
pub fn key(command: KeyCommand) -> Result<Exit> {
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
        output::json(),
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
