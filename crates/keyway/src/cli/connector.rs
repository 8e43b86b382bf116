//! `keyway connector …` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

const CONFIG_HELP: &str = "The configuration: a keyway.toml, or a directory of *.toml files";

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
}

/// `--config`
#[derive(Debug, Args)]
pub struct ConfigArg {
    #[arg(long, env = "KEYWAY_CONFIG", default_value = "keyway.toml", help = CONFIG_HELP)]
    pub config: PathBuf,
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
