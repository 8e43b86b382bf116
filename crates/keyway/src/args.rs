//! Argument groups several commands share: where the store is and who acts on it, the
//! data directory, output files, keystore and duration parsers, the passwords paragraph.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use keyway_pki::San;

/// Where keyway's state lives, and who is acting on it.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// A shared PostgreSQL database instead of the embedded one (`postgres://USER:PASSWORD@HOST/DB`).
    #[arg(
        long,
        env = "KEYWAY_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
    /// Act as this keyway user, with their permissions (default: the local administrator).
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
}

/// Where keyway keeps its CA, and the master key that opens its keys.
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// The data directory: the embedded database, `master.key` and the CA.
    #[arg(
        long,
        env = "KEYWAY_DATA_DIR",
        default_value = "keyway-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// The master key (64 hex digits); default: DIR/master.key, created on first use.
    #[arg(
        long,
        env = "KEYWAY_MASTER_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub master_key: Option<String>,
}

/// An output file: never replaced unless asked.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// Where to write. An existing file is refused unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// An identity (key + chain) written as a store.
#[derive(Debug, Args)]
pub struct IdentityOutArgs {
    /// Where to write (.p12/.pfx, .jks or .pem). An existing file is refused unless --force.
    #[arg(long, value_name = "FILE", alias = "out-p12")]
    pub out: PathBuf,
    /// The output type, when the extension does not say.
    #[arg(long, value_name = "TYPE", value_parser = ["pkcs12", "jks", "pem"])]
    pub out_type: Option<String>,
    /// Store password (PKCS#12, JKS) or key passphrase (PEM).
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// PEM only: write the key unencrypted.
    #[arg(long, conflicts_with = "password")]
    pub no_passphrase: bool,
    /// The alias of the key entry.
    #[arg(long, default_value = "client")]
    pub alias: String,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// The password paragraph every keystore command's help ends with.
macro_rules! passwords {
    () => {
        "\n\nPasswords: a value is taken literally; `env:VAR` reads the environment variable VAR,
`file:PATH` reads the first line of PATH, `pass:VALUE` is VALUE literally (for passwords
that start with env: or file:). Without one, keyway prompts when it has a terminal and
fails (exit 2) when it does not. KEYWAY_STOREPASS and KEYWAY_KEYPASS are read too."
    };
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 5s, 500ms, 1m)"))
}

pub fn parse_format(s: &str) -> Result<keyway_keystore::Format, String> {
    s.parse()
}

pub fn sans(given: &[String]) -> Result<Vec<San>> {
    Ok(given
        .iter()
        .map(|s| San::parse(s))
        .collect::<Result<_, _>>()?)
}
