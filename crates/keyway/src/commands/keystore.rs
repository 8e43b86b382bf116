//! `keyway keystore …`: keystore and truststore files (JKS, JCEKS, PKCS#12, PEM), managed
//! like keytool. Each command validates its arguments, opens the file, does one thing,
//! and writes the file back atomically when it changed (`keystore/change.rs`); reading
//! commands are in `keystore/read.rs`.

mod change;
mod read;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use keyway_keystore::{Error as StoreError, Format, Keystore, WriteOptions, detect_format, file};

use crate::args::parse_format;
use crate::exit::Exit;
use crate::secret::{self, Password};

/// `keyway keystore …`
#[derive(Debug, Subcommand)]
pub enum KeystoreCommand {
    /// List every entry: alias, type, key, chain length, expiry, subject.
    #[command(after_help = concat!("Examples:
  keyway keystore list partners.jks --storepass changeit
  keyway keystore list client.p12 --storepass env:CLIENT_P12_PASS --json
  keyway keystore list ca-bundle.pem -v

", "Exit codes: 0 listed, 2 usage or input error (wrong password, unreadable file).", passwords!()))]
    List(ListArgs),
    /// Show one entry in full; with --check, verify dates, chain and key.
    #[command(after_help = concat!("Examples:
  keyway keystore inspect partners.jks --alias partner-root --storepass changeit
  keyway keystore inspect client.jks --alias client --storepass changeit --keypass env:KEYPASS --check

Exit codes: 0 ok (and all checks passed), 1 a check failed (expired or not yet valid
certificate, broken chain, key that does not match its certificate), 2 usage or input error.", passwords!()))]
    Inspect(InspectArgs),
    /// Add a trusted certificate (creates the store if the file does not exist).
    #[command(name = "import-cert", after_help = concat!("Examples:
  keyway keystore import-cert truststore.jks --alias partner-root --cert partner-root.pem --storepass changeit
  keyway keystore import-cert trust.p12 --alias partner --cert bundle.pem --all --storepass changeit

Exit codes: 0 imported, 2 usage or input error (alias exists, not a certificate, wrong password).", passwords!()))]
    ImportCert(ImportCertArgs),
    /// Add a private key with its certificate chain (creates the store if missing).
    #[command(name = "import-key", after_help = concat!("Examples:
  keyway keystore import-key client.p12 --alias client --key client.key --cert client-chain.pem --storepass changeit
  keyway keystore import-key client.jks --alias client --key enc.key --key-passphrase file:key.pass \\
      --cert chain.pem --storepass changeit --keypass env:CLIENT_KEYPASS

Exit codes: 0 imported, 2 usage or input error (key does not match the certificate, wrong password).", passwords!()))]
    ImportKey(ImportKeyArgs),
    /// Remove an entry.
    #[command(after_help = concat!("Examples:
  keyway keystore delete truststore.jks --alias old-partner --storepass changeit

Exit codes: 0 deleted, 2 usage or input error (no such alias, wrong password).", passwords!()))]
    Delete(DeleteArgs),
    /// Rename an entry.
    #[command(after_help = concat!("Examples:
  keyway keystore rename truststore.jks --alias mykey --to partner-a-client --storepass changeit

Exit codes: 0 renamed, 2 usage or input error.", passwords!()))]
    Rename(RenameArgs),
    /// Change the store password, or one key's password.
    #[command(after_help = concat!("Examples:
  keyway keystore passwd client.jks --storepass changeit --new-storepass env:NEW_PASS
  keyway keystore passwd client.jks --storepass changeit --alias client --keypass old --new-keypass new

The store password and key passwords are separate in JKS: changing one leaves the other.
PKCS#12 keys always use the store password.

Exit codes: 0 changed, 2 usage or input error.", passwords!()))]
    Passwd(PasswdArgs),
    /// Export a certificate (PEM or DER), a chain, or a whole identity (key + chain).
    #[command(after_help = concat!("Examples:
  keyway keystore export partners.jks --alias partner-root --out partner-root.pem --storepass changeit
  keyway keystore export partners.jks --alias partner-root --out partner-root.cer --format der --storepass changeit
  keyway keystore export client.jks --alias client --identity --out client.p12 --out-type pkcs12 \\
      --storepass changeit --out-storepass env:P12_PASS

Exit codes: 0 exported, 2 usage or input error.", passwords!()))]
    Export(ExportArgs),
    /// Convert a whole store to another format.
    #[command(after_help = concat!("Examples:
  keyway keystore convert client.jks --storepass changeit --out client.p12 --out-type pkcs12
  keyway keystore convert client.p12 --storepass changeit --out client.pem --out-type pem --out-keypass env:PEM_PASS
  keyway keystore convert new.p12 --storepass changeit --out old-consumer.p12 --out-type pkcs12 --legacy

Exit codes: 0 converted, 2 usage or input error.", passwords!()))]
    Convert(ConvertArgs),
    /// Keep a keystore in keyway's store, with its passwords, sealed (= `keyway identity
    /// add`; see there).
    #[command(after_help = "Examples:
  keyway keystore add acme acme-client.p12 --storepass env:P12_PASS
  keyway keystore add legacy partner.jks --storepass file:jks.pass --keypass env:KEY_PASS --alias orders

`keyway identity list|show|export|remove` manage the keystores kept in the store.")]
    Add(crate::commands::identity::IdentityAddArgs),
    /// Show a keystore kept in keyway's store (= `keyway identity show`).
    Show(crate::commands::identity::IdentityNameArgs),
    /// Remove a keystore kept in keyway's store (= `keyway identity remove`).
    Remove(crate::commands::identity::IdentityNameArgs),
}

/// The store file and how to open it.
#[derive(Debug, Args)]
pub struct KeystoreFileArgs {
    /// The keystore or truststore file. Its format is detected from its bytes.
    pub file: PathBuf,
    /// Expected store type; an error if the file is another format.
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    pub storetype: Option<keyway_keystore::Format>,
    /// Store password (literal, env:VAR, file:PATH). Also KEYWAY_STOREPASS.
    #[arg(
        long,
        env = "KEYWAY_STOREPASS",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub storepass: Option<String>,
}

/// A key password option.
#[derive(Debug, Args)]
pub struct KeyPassArgs {
    /// Key password (JKS/JCEKS keys may have their own; default: the store password).
    /// Literal, env:VAR or file:PATH. Also KEYWAY_KEYPASS.
    #[arg(
        long,
        env = "KEYWAY_KEYPASS",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub keypass: Option<String>,
}

/// `list`
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    /// Show every entry's details, as `inspect` does.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// The entry's alias.
    #[arg(long)]
    pub alias: String,
    /// Check validity dates, chain signatures and that the key matches its certificate;
    /// exit 1 if any check fails.
    #[arg(long)]
    pub check: bool,
    /// Warn about certificates that expire within this many days (with --check).
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub warn_days: i64,
}

/// `import-cert`
#[derive(Debug, Args)]
pub struct ImportCertArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    /// Alias for the new entry.
    #[arg(long)]
    pub alias: String,
    /// The certificate: PEM or DER.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Import every certificate of a bundle, as ALIAS-1, ALIAS-2, …
    #[arg(long)]
    pub all: bool,
}

/// `import-key`
#[derive(Debug, Args)]
pub struct ImportKeyArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// Alias for the new entry.
    #[arg(long)]
    pub alias: String,
    /// The private key: PEM (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1) or DER PKCS#8.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Passphrase of an encrypted key file (literal, env:VAR, file:PATH).
    #[arg(long, value_name = "PASSWORD")]
    pub key_passphrase: Option<String>,
    /// The certificate and its issuers, in any order (PEM bundle or DER).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
}

/// `delete`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    /// The entry to remove.
    #[arg(long)]
    pub alias: String,
}

/// `rename`
#[derive(Debug, Args)]
pub struct RenameArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    /// The entry's current alias.
    #[arg(long)]
    pub alias: String,
    /// The new alias.
    #[arg(long)]
    pub to: String,
}

/// `passwd`
#[derive(Debug, Args)]
pub struct PasswdArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// New store password.
    #[arg(long, value_name = "PASSWORD", required_unless_present = "new_keypass")]
    pub new_storepass: Option<String>,
    /// Change this key entry's password instead of the store's.
    #[arg(long, requires = "new_keypass")]
    pub alias: Option<String>,
    /// New key password for --alias.
    #[arg(long, value_name = "PASSWORD", requires = "alias")]
    pub new_keypass: Option<String>,
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertEncoding {
    /// PEM text.
    Pem,
    /// Binary DER (one certificate).
    Der,
}

/// Options for writing another store.
#[derive(Debug, Args)]
pub struct OutStoreArgs {
    /// Where to write. An existing file is refused unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Password of the written store (default: the source store password).
    #[arg(long, value_name = "PASSWORD")]
    pub out_storepass: Option<String>,
    /// Password to encrypt keys with: JKS key password, or the passphrase of PEM keys.
    #[arg(long, value_name = "PASSWORD")]
    pub out_keypass: Option<String>,
    /// Write PEM private keys without encryption (needed to write PEM keys without --out-keypass).
    #[arg(long)]
    pub unencrypted_key: bool,
    /// PKCS#12: 3DES with a SHA-1 MAC, for consumers older than Java 8u301 or OpenSSL 1.1.
    #[arg(long)]
    pub legacy: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// The entry to export.
    #[arg(long)]
    pub alias: String,
    #[command(flatten)]
    pub out: OutStoreArgs,
    /// Certificate encoding (without --identity).
    #[arg(long, value_enum, default_value = "pem")]
    pub format: CertEncoding,
    /// Export the whole chain (PEM), not just the entry's certificate.
    #[arg(long, conflicts_with = "identity")]
    pub chain: bool,
    /// Export the private key with its chain as a store of --out-type.
    #[arg(long)]
    pub identity: bool,
    /// Store type for --identity.
    #[arg(long, value_name = "TYPE", value_parser = parse_format, requires = "identity")]
    pub out_type: Option<keyway_keystore::Format>,
}

/// `convert`
#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub store: KeystoreFileArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    #[command(flatten)]
    pub out: OutStoreArgs,
    /// Format to write.
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    pub out_type: keyway_keystore::Format,
}

/// Runs one keystore command.
pub fn run(command: KeystoreCommand) -> Result<Exit> {
    use crate::commands::identity::{self, IdentityCommand};
    match command {
        KeystoreCommand::List(args) => read::list(args),
        KeystoreCommand::Inspect(args) => read::inspect(args),
        KeystoreCommand::ImportCert(args) => change::import_cert(args),
        KeystoreCommand::ImportKey(args) => change::import_key(args),
        KeystoreCommand::Delete(args) => change::delete(args),
        KeystoreCommand::Rename(args) => change::rename(args),
        KeystoreCommand::Passwd(args) => change::passwd(args),
        KeystoreCommand::Export(args) => change::export(args),
        KeystoreCommand::Convert(args) => change::convert(args),
        // The keystores kept in keyway's store.
        KeystoreCommand::Add(args) => identity::identity(IdentityCommand::Add(args)),
        KeystoreCommand::Show(args) => identity::identity(IdentityCommand::Show(args)),
        KeystoreCommand::Remove(args) => identity::identity(IdentityCommand::Remove(args)),
    }
}

/// A store read from disk with the password that opened it.
struct Opened {
    path: PathBuf,
    store: Keystore,
    storepass: Option<Password>,
    /// Made by this command (said once it is written, not before it could be refused).
    new: bool,
}

impl Opened {
    fn in_file(&self, e: StoreError) -> anyhow::Error {
        file::in_file(&self.path, e).into()
    }

    /// Writes the store back in its own format, keeping a legacy PKCS#12 legacy.
    fn save(&self) -> Result<()> {
        let options = WriteOptions {
            store_password: self.storepass.as_deref().map(|p| p.to_string()),
            key_password: None,
            pkcs12_legacy: self.store.pkcs12_legacy(),
        };
        file::save(&self.path, &self.store, self.store.format(), &options)?;
        Ok(())
    }

    fn key_password(&self, keypass: Option<&str>) -> Result<Option<Password>> {
        Ok(secret::optional(keypass, "--keypass")?.or_else(|| self.storepass.clone()))
    }
}

fn open(args: &KeystoreFileArgs) -> Result<Opened> {
    let path = args.file.clone();
    let bytes = file::read_bytes(&path)?;
    let format = detect_format(&bytes).map_err(|e| file::in_file(&path, e))?;
    let storepass = if format.has_store_password() {
        let what = format!("Store password for {} ({format})", path.display());
        let pass = secret::obtain(args.storepass.as_deref(), "--storepass", &what)?;
        // An empty answer at the prompt lists a JKS without checking it, as keytool does.
        if pass.is_empty()
            && args.storepass.is_none()
            && matches!(format, Format::Jks | Format::Jceks)
        {
            None
        } else {
            Some(pass)
        }
    } else {
        secret::optional(args.storepass.as_deref(), "--storepass")?
    };
    let store = Keystore::from_bytes(
        &bytes,
        args.storetype,
        storepass.as_deref().map(String::as_str),
    )
    .map_err(|e| file::in_file(&path, e))?;
    if !store.integrity_verified() {
        eprintln!(
            "warning: {}: no store password given, so the integrity of this {format} store was NOT verified",
            path.display()
        );
    }
    Ok(Opened {
        path,
        store,
        storepass,
        new: false,
    })
}

/// Opens the store, or starts an empty one when the file does not exist yet.
fn open_or_create(args: &KeystoreFileArgs) -> Result<Opened> {
    if args.file.exists() {
        return open(args);
    }
    let format = match args.storetype {
        Some(format) => format,
        None => format_from_extension(&args.file).with_context(|| {
            format!(
                "{} does not exist and its name does not say which format to create: give --storetype jks|pkcs12|pem",
                args.file.display()
            )
        })?,
    };
    if format == Format::Jceks {
        bail!(
            "keyway does not create JCEKS stores (Java itself deprecates them): use --storetype jks or pkcs12"
        );
    }
    let storepass = if format.has_store_password() {
        let what = format!("Password for the new store {}", args.file.display());
        Some(secret::obtain(
            args.storepass.as_deref(),
            "--storepass",
            &what,
        )?)
    } else {
        None
    };
    Ok(Opened {
        path: args.file.clone(),
        store: Keystore::new(format),
        storepass,
        new: true,
    })
}

fn format_from_extension(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jks" | "keystore" | "truststore" => Some(Format::Jks),
        "p12" | "pfx" | "pkcs12" => Some(Format::Pkcs12),
        "pem" | "crt" => Some(Format::Pem),
        _ => None,
    }
}
