//! `keyway connector …` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::pki::DataDirArgs;
use crate::cli::store::StoreArgs;

const CONFIG_HELP: &str = "A keyway.toml, or a directory of *.toml files [default: ./keyway.toml if there is one, else the connectors in keyway's store]";

/// `keyway connector`
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// List the connectors: name, kind, URL, profile, TLS versions, client certificate, user.
    #[command(after_help = "Examples:
  keyway connector list
  keyway connector list --config /etc/keyway/conf.d --json

Exit codes: 0 listed, 2 the configuration has problems (each is named with its file,
item and field).")]
    List(ListArgs),
    /// Show one connector in full (passwords are shown only as where they come from).
    #[command(after_help = "Examples:
  keyway connector show orders
  keyway connector show billing --json

Exit codes: 0 shown, 2 no such connector or the configuration has problems.")]
    Show(NameArgs),
    /// Test a connector: the TLS diagnosis, then one HTTP request with its credentials.
    #[command(
        after_help = "REST connectors GET their test_path (default: the base URL); SOAP connectors
fetch ?wsdl, or call test_action when one is configured. A 401/403 is reported as an
authentication problem naming the user sent; other HTTP errors with the status and the
start of the body.

Examples:
  keyway connector test orders
  keyway connector test billing --json

Exit codes: 0 TLS and the HTTP check passed, 1 one failed (the output says which and
why), 2 usage or configuration error."
    )]
    Test(NameArgs),
    /// Call a REST endpoint through a connector; the body goes to stdout.
    #[command(
        after_help = "The path (and query) is joined to the connector's URL. --data takes text,
@FILE, or @- for stdin; without --content-type it is sent as application/json when it
starts with { or [, application/xml when it starts with <, text/plain otherwise.

Examples:
  keyway connector call orders --path '/orders?status=open'
  keyway connector call orders -X POST --path /orders --data @order.json
  keyway connector call orders -X PUT --path /orders/42 -H 'If-Match: \"7\"' --data '{\"qty\":2}' --json

Exit codes: 0 a 2xx answer, 1 an HTTP error or no connection (with the TLS diagnosis),
2 usage or configuration error."
    )]
    Call(CallArgs),
    /// Call a SOAP operation through a connector.
    #[command(
        after_help = "--body is the content of the SOAP Body (keyway builds the envelope) or a complete
envelope (sent as given): text, @FILE, or @- for stdin.

Examples:
  keyway connector soap billing --action urn:GetInvoice --body @get-invoice.xml
  keyway connector soap billing --path /ws/v2 --action urn:Ping --soap 1.2 --body '<Ping xmlns=\"urn:x\"/>'

Exit codes: 0 an answer without a Fault, 1 a SOAP Fault, an HTTP error or no connection,
2 usage or configuration error."
    )]
    Soap(SoapArgs),
    /// Store a connector in keyway's store, with a TLS profile of its own made from the
    /// options (for shared profiles, import a keyway.toml: `keyway config import`).
    #[command(after_help = "Examples:
  keyway connector add orders --url https://orders.partner.example/api --truststore partners
  keyway connector add legacy --url https://old.partner.example/ws --kind soap \\
      --truststore partners --keystore acme --min-tls 1.0 --username svc --password-stdin < pw.txt
  keyway connector add orders --url https://orders-v2.partner.example/api --truststore partners --replace

The connector's profile is named after it and holds --truststore (repeatable; none: the
system roots), --keystore (a keystore kept in the store: `keyway keystore add`) and
--min-tls. Checked as a keyway.toml would be; the password is sealed. Needs
manage_connectors.

Exit codes: 0 stored, 2 refused (unknown truststore or keystore, bad URL, name taken
without --replace, a missing permission).")]
    Add(ConnectorAddArgs),
    /// Remove a connector (and its own profile) from keyway's store.
    #[command(
        after_help = "Example:\n  keyway connector remove orders --if-version 2\n\nRefused while an integration uses it."
    )]
    Remove(ConnectorRemoveArgs),
}

/// `connector add`
#[derive(Debug, Args)]
pub struct ConnectorAddArgs {
    /// The connector's name.
    pub name: String,
    /// The base URL, `https://host[:port][/path]`.
    #[arg(long)]
    pub url: String,
    /// rest or soap.
    #[arg(long, default_value = "rest", value_parser = ["rest", "soap"])]
    pub kind: String,
    /// A truststore kept in the store; repeat for several (none: the system roots).
    #[arg(long = "truststore", value_name = "NAME")]
    pub truststores: Vec<String>,
    /// A keystore kept in the store whose key is presented (two-way TLS).
    #[arg(long, value_name = "NAME")]
    pub keystore: Option<String>,
    /// With --keystore: the key entry it must present (chosen when the keystore was added).
    #[arg(long, requires = "keystore")]
    pub alias: Option<String>,
    /// Lowest allowable TLS version: SSLv3, 1.0, 1.1, 1.2 (default) or 1.3.
    #[arg(long, value_name = "VERSION")]
    pub min_tls: Option<String>,
    /// The name to send as SNI and check the certificate against, instead of the URL's
    /// host (an endpoint reached by IP address or another name).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Basic-auth user name.
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the basic-auth password from the first line of standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Replace a connector of that name.
    #[arg(long)]
    pub replace: bool,
    /// With --replace: only if the connector is still at this version.
    #[arg(long, value_name = "N", requires = "replace")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `connector remove`
#[derive(Debug, Args)]
pub struct ConnectorRemoveArgs {
    /// The connector.
    pub name: String,
    /// Only if the connector is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `--config`, or where keyway's store is.
#[derive(Debug, Args)]
pub struct ConfigArg {
    #[arg(long, env = "KEYWAY_CONFIG", help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Without --config: the data directory of keyway's store.
    #[arg(
        long,
        env = "KEYWAY_DATA_DIR",
        default_value = "keyway-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// Without --config: the store's master key (64 hex digits).
    #[arg(
        long,
        env = "KEYWAY_MASTER_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub master_key: Option<String>,
    /// Without --config: a shared PostgreSQL store (`postgres://…`).
    #[arg(
        long,
        env = "KEYWAY_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
    /// Without --config: act as this keyway user (default: the local administrator).
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
}

impl ConfigArg {
    /// The store these arguments name, for when no --config is given.
    pub fn store_args(&self) -> StoreArgs {
        StoreArgs {
            data: DataDirArgs {
                data_dir: self.data_dir.clone(),
                master_key: self.master_key.clone(),
                json: false,
            },
            database: self.database.clone(),
            as_user: self.as_user.clone(),
        }
    }

    /// The configuration file to read: --config, else `./keyway.toml` when there is
    /// one; `None`: the connectors in keyway's store.
    pub fn file(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let here = PathBuf::from("keyway.toml");
            here.is_file().then_some(here)
        })
    }

    /// Where the connectors come from, for messages.
    pub fn source(&self) -> String {
        match self.file() {
            Some(path) => path.display().to_string(),
            None => "keyway's store".into(),
        }
    }
}

/// `connector list`
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// A connector's name.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The connector.
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `connector call`
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The connector.
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
    /// The method.
    #[arg(short = 'X', long = "method", default_value = "GET")]
    pub method: String,
    /// Path and query, joined to the connector's URL.
    #[arg(long, default_value = "")]
    pub path: String,
    /// A header, 'Name: value'; repeatable.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// The body: text, @FILE or @- (stdin).
    #[arg(long)]
    pub data: Option<String>,
    /// The body's content type.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Print the response headers (to stderr) too.
    #[arg(short = 'i', long)]
    pub include: bool,
    /// JSON output: status, headers, body, TLS details.
    #[arg(long)]
    pub json: bool,
}

/// `connector soap`
#[derive(Debug, Args)]
pub struct SoapArgs {
    /// The connector.
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Path, joined to the connector's URL.
    #[arg(long, default_value = "")]
    pub path: String,
    /// The SOAP action.
    #[arg(long)]
    pub action: Option<String>,
    /// SOAP version, instead of the connector's.
    #[arg(long = "soap", value_parser = ["1.1", "1.2"])]
    pub version: Option<String>,
    /// The Body's content or a whole envelope: text, @FILE or @- (stdin).
    #[arg(long)]
    pub body: String,
    /// JSON output: status, body or fault, TLS details.
    #[arg(long)]
    pub json: bool,
}

/// `keyway import`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Turn a PMG-style scenario file into connectors (a new keyway.toml).
    #[command(
        after_help = "Each <scenario name=… baseurl=… username=… password=… tls=… tls11=… tls12=… ssl3=…/>
becomes a connector: baseurl its URL, username/password its basic auth, and the flags
(tls = TLS 1.0) an explicit version set in a shared profile pmg-…. Every other attribute
(adminport, domain, locale, …) is kept in the connector's `extra` table and listed, so
`keyway export pmg` writes it back. Imported connectors trust the system roots (which
honour SSL_CERT_FILE); add truststores = [...] to a pmg-… profile to trust a partner CA.

Passwords are never printed. By default they are written into the output file, which is
created readable by its owner only; --password-env writes { env = \"KEYWAY_PMG_<NAME>_PASSWORD\" }
references instead and lists the variables to set.

The output file is not overwritten unless --force is given; to keep an existing
keyway.toml, write a second file into a config directory (--out conf.d/pmg.toml) and
point --config at the directory.

Examples:
  keyway import pmg scenarios.xml
  keyway import pmg scenarios.xml --out conf.d/pmg.toml --kind soap --password-env

Exit codes: 0 imported, 2 the file has problems (each named with its scenario and
attribute; nothing is written) or the output exists."
    )]
    Pmg(ImportPmgArgs),
}

/// `import pmg`
#[derive(Debug, Args)]
pub struct ImportPmgArgs {
    /// The scenario file (XML).
    pub file: PathBuf,
    /// The configuration file to write.
    #[arg(long, default_value = "keyway.toml")]
    pub out: PathBuf,
    /// The kind of the connectors (the file does not say).
    #[arg(long, default_value = "rest", value_parser = ["rest", "soap"])]
    pub kind: String,
    /// Write passwords as environment-variable references, not values.
    #[arg(long)]
    pub password_env: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// JSON output: what each scenario became (no passwords).
    #[arg(long)]
    pub json: bool,
}

/// `keyway export`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write connectors as a PMG-style scenario file.
    #[command(
        after_help = "The attributes come back in PMG's order (name adminport domain password username
baseurl locale tls tls11 tls12 ssl3, then tls13 when enabled, then any other kept
attribute), so an imported file exports unchanged. Settings the format has no place for
(truststores, client certificates, headers, retries, …) are listed and left out.
Passwords are resolved (inline, environment or file) and written: the output is created
readable by its owner only, and is never printed.

Examples:
  keyway export pmg --out scenarios.xml
  keyway export pmg --config conf.d --connector PMG_Test --connector Legacy --out two.xml

Exit codes: 0 exported, 2 a connector cannot be exported (e.g. its password cannot be
resolved), the configuration has problems, or the output exists."
    )]
    Pmg(ExportPmgArgs),
}

/// `export pmg`
#[derive(Debug, Args)]
pub struct ExportPmgArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The scenario file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Export only this connector; repeatable (default: all, in file order).
    #[arg(long = "connector", value_name = "NAME")]
    pub connectors: Vec<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}
