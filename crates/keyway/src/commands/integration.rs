//! `keyway integration …`: what partners call on the gateway, run through a connector.

use anyhow::Result;
use clap::{Args, Subcommand};
use keyway_store::{Integration, NewIntegration, Save};
use serde_json::json;

use crate::args::StoreArgs;
use crate::commands::truststore::TruststoreListArgs;
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, context, open};

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

/// `keyway integration …`
pub fn integration(command: IntegrationCommand) -> Result<Exit> {
    block_on(async {
        match command {
            IntegrationCommand::Add(args) => {
                let store = open(&args.store).await?;
                let save = if args.replace {
                    Save::Replace(args.if_version)
                } else {
                    Save::Add
                };
                let integration = NewIntegration {
                    connector: args.connector.clone(),
                    description: args.description.clone(),
                    require_password: args.require_password,
                };
                let saved = store
                    .save_integration(&context(&args.store), &args.name, integration, save)
                    .await?;
                print_integration(&saved, output::json())
            }
            IntegrationCommand::List(args) => {
                let store = open(&args.store).await?;
                let all = store.integrations(&context(&args.store)).await?;
                output::list(
                    &all,
                    "no integrations (`keyway integration add NAME --connector C` makes one)",
                    &[
                        "NAME",
                        "CONNECTOR",
                        "CALLERS NEED",
                        "VERSION",
                        "DESCRIPTION",
                    ],
                    |i| {
                        vec![
                            i.name.clone(),
                            i.connector.clone(),
                            if i.require_password {
                                "certificate + password"
                            } else {
                                "certificate"
                            }
                            .into(),
                            i.version.to_string(),
                            i.description.clone(),
                        ]
                    },
                )
            }
            IntegrationCommand::Show(args) => {
                let store = open(&args.store).await?;
                let ctx = context(&args.store);
                // Reading needs manage_connectors, like the listing.
                let found = store
                    .integrations(&ctx)
                    .await?
                    .into_iter()
                    .find(|i| i.name == args.name);
                match found {
                    Some(i) => print_integration(&i, output::json()),
                    None => Err(store.find_integration(&args.name).await.err().map_or_else(
                        || anyhow::anyhow!("no integration \"{}\"", args.name),
                        Into::into,
                    )),
                }
            }
            IntegrationCommand::Remove(args) => {
                let store = open(&args.store).await?;
                store
                    .remove_definition(
                        &context(&args.store),
                        "integration",
                        &args.name,
                        args.if_version,
                    )
                    .await?;
                if output::json() {
                    println!("{}", json!({"removed": args.name}));
                } else {
                    println!("integration {}: removed", args.name);
                }
                Ok(Exit::Ok)
            }
        }
    })
}

fn print_integration(i: &Integration, json: bool) -> Result<Exit> {
    if json {
        println!("{}", serde_json::to_string_pretty(i)?);
        return Ok(Exit::Ok);
    }
    println!(
        "integration {}\n  calls:        connector {}\n  callers need: a client certificate{} and invoke:{}\n  description:  {}\n  version:      {}",
        i.name,
        i.connector,
        if i.require_password {
            " and their password"
        } else {
            ""
        },
        i.name,
        if i.description.is_empty() {
            "-"
        } else {
            &i.description
        },
        i.version
    );
    Ok(Exit::Ok)
}
