//! Arguments of `keyway config` and `keyway integration`; `config_cmd` runs them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::store::{StoreArgs, TruststoreListArgs};

/// `keyway config`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Store what a keyway.toml (or a directory of them) describes: truststores,
    /// keystores, profiles, connectors and integrations.
    #[command(after_help = "Examples:
  keyway config import keyway.toml
  keyway config import /etc/keyway/conf.d --replace

The whole configuration is checked first (as `keyway connector list --config` does), then
every truststore and keystore file is read and every password resolved (env:, file:), and
nothing is stored unless all of it is good. Names the store has already are refused unless
--replace. Truststores and keystores need manage_trust; the rest manage_connectors.

Exit codes: 0 imported, 2 refused (a problem in the configuration or its files, a name
taken without --replace, a missing permission).")]
    Import(ConfigImportArgs),
    /// Write what the store holds as a keyway.toml with its truststore, keystore and
    /// password files beside it.
    #[command(after_help = "Example:
  keyway config export --out exported/

Writes DIR/keyway.toml, DIR/truststores/NAME.pem, DIR/keystores/NAME.p12|jks|… (as they
were stored) and DIR/secrets/*.pass (mode 0600) with the passwords the file refers to, so
`keyway config import DIR/keyway.toml` elsewhere makes the same store. An audited export;
needs manage_connectors and manage_trust.

Exit codes: 0 written, 2 refused (DIR not empty without --force, a missing permission).")]
    Export(ConfigExportArgs),
}

impl ConfigCommand {
    /// Where it acts, and as whom.
    pub fn store(&self) -> &StoreArgs {
        match self {
            ConfigCommand::Import(a) => &a.store,
            ConfigCommand::Export(a) => &a.store,
        }
    }
}

/// `keyway config import`
#[derive(Debug, Args)]
pub struct ConfigImportArgs {
    /// A keyway.toml, or a directory of *.toml files.
    pub path: PathBuf,
    /// Replace what the store already holds under the same names.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway config export`
#[derive(Debug, Args)]
pub struct ConfigExportArgs {
    /// The directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write into a directory that is not empty, replacing files of the same names.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway integration`
#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Store an integration: what partners call on the gateway, run through a connector.
    #[command(after_help = "Examples:
  keyway integration add orders --connector orders-api --description \"Orders of partner A\"
  keyway integration add invoices --connector erp-soap --require-password
  keyway integration add orders --connector orders-api-v2 --replace --if-version 1

Partners call /integrations/NAME/… and need the invoke:NAME permission. Needs
manage_connectors.

Exit codes: 0 stored, 2 refused (no such connector, name taken without --replace).")]
    Add(IntegrationAddArgs),
    /// List the integrations.
    #[command(after_help = "Example:\n  keyway integration list --json")]
    List(TruststoreListArgs),
    /// Show one integration.
    #[command(after_help = "Example:\n  keyway integration show orders")]
    Show(IntegrationNameArgs),
    /// Remove an integration.
    #[command(after_help = "Example:\n  keyway integration remove orders --if-version 2")]
    Remove(IntegrationNameArgs),
}

impl IntegrationCommand {
    /// Where it acts, and as whom.
    pub fn store(&self) -> &StoreArgs {
        match self {
            IntegrationCommand::Add(a) => &a.store,
            IntegrationCommand::List(a) => &a.store,
            IntegrationCommand::Show(a) | IntegrationCommand::Remove(a) => &a.store,
        }
    }
}

/// `keyway integration add`
#[derive(Debug, Args)]
pub struct IntegrationAddArgs {
    /// The integration's name (partners need invoke:NAME).
    pub name: String,
    /// The connector it calls.
    #[arg(long)]
    pub connector: String,
    /// For people.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Callers must send their password (basic auth) with their client certificate.
    #[arg(long, alias = "require-basic-auth")]
    pub require_password: bool,
    /// Replace an existing integration of that name.
    #[arg(long)]
    pub replace: bool,
    /// With --replace: only if it is still at this version.
    #[arg(long, value_name = "N", requires = "replace")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway integration show|remove NAME`
#[derive(Debug, Args)]
pub struct IntegrationNameArgs {
    /// The integration.
    pub name: String,
    /// Remove only if it is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}
