//! `keyway init`: the data directory, master key, database, keyway's CA and the first
//! administrator.

use anyhow::Result;
use clap::Args;
use keyway_pki::parse_subject;
use keyway_store::{Initialized, Setup};
use serde_json::json;

use crate::args::StoreArgs;
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, context, open};

/// `keyway init`
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The first administrator's user name.
    #[arg(long, default_value = "admin", value_name = "NAME")]
    pub admin: String,
    /// The subject of keyway's CA, if it is created now.
    #[arg(long, default_value = "CN=keyway CA", value_name = "DN")]
    pub ca_subject: String,
    /// Make keyway's CA a root and an issuing intermediate (the root key then stays
    /// sealed), if it is created now.
    #[arg(long)]
    pub ca_with_intermediate: bool,
}

/// `keyway init`
pub fn init(args: InitArgs) -> Result<Exit> {
    let store_args = &args.store;
    let ca_subject = parse_subject(&args.ca_subject)?;
    block_on(async {
        let store = open(store_args).await?;
        let ctx = context(store_args);
        let data_dir = &store_args.data.data_dir;
        let setup = Setup {
            data_dir: data_dir.clone(),
            admin: args.admin.clone(),
            ca_subject,
            ca_with_intermediate: args.ca_with_intermediate,
        };
        let Initialized {
            ca,
            ca_state,
            ca_file,
            admin_password: password,
        } = store.initialize(&ctx, &setup).await?;
        if output::json() {
            println!(
                "{}",
                json!({
                    "data_dir": data_dir,
                    "database": store.database(),
                    "ca_state": ca_state.to_string(),
                    "ca": ca.root.info(),
                    "ca_certificate": ca_file,
                    "admin": args.admin,
                    "admin_created": password.is_some(),
                    "admin_password": password.as_deref().map(|p| p.as_str()),
                })
            );
            return Ok(Exit::Ok);
        }
        let mut text = format!(
            "keyway data in {} (database {})\n",
            data_dir.display(),
            store.database()
        );
        text.push_str(&format!(
            "  CA:    {} {} (SHA-256 {})\n         give clients {}\n",
            ca.root.info().subject,
            ca_state,
            ca.root.info().sha256,
            ca_file.display()
        ));
        match &password {
            Some(password) => text.push_str(&format!(
                "  admin: user {} created with every permission; password (shown once, store it now):\n\n    {}\n",
                args.admin,
                password.as_str()
            )),
            None => text.push_str(&format!(
                "  admin: user {} already exists (its password is not shown again; `keyway user passwd {}` sets a new one)\n",
                args.admin, args.admin
            )),
        }
        if store_args.data.master_key.is_none() {
            text.push_str(&format!(
                "Secrets are sealed with {}: back it up apart from the database.\n",
                data_dir.join(keyway_pki::MASTER_KEY_FILE).display()
            ));
        }
        print!("{text}");
        Ok(Exit::Ok)
    })
}
