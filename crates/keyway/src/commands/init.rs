//! `keyway init`: the data directory, master key, database, keyway's CA and the first
//! administrator.

use anyhow::Result;
use clap::Args;
use keyway_pki::{Ca, CaInit, KeyType, PkiError, parse_subject};
use keyway_store::{Context, NewUser, Permission, Store};
use serde_json::json;

use crate::args::StoreArgs;
use crate::exit::Outcome;
use crate::files::write_ca_file;
use crate::output;
use crate::secret::Password;
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

/// The length of the first administrator's generated password.
const ADMIN_PASSWORD_CHARS: usize = 24;

/// What [`initialize`] found or made.
pub(crate) struct Initialized {
    pub ca: keyway_store::StoredCa,
    pub ca_state: String,
    pub ca_file: std::path::PathBuf,
    /// The first administrator's password, when it was made now (shown once).
    pub password: Option<Password>,
}

/// Brings a store to the state `keyway init` promises: keyway's CA (the store's, else
/// one imported from an older `DATA/ca`, else a new one), `DATA/ca.pem`, and the first
/// administrator `admin`. Safe to run again.
pub(crate) async fn initialize(
    store: &Store,
    ctx: &Context,
    data_dir: &std::path::Path,
    admin: &str,
    ca_subject: keyway_pki::DistinguishedName,
    ca_intermediate: bool,
) -> Result<Initialized> {
    let (ca, ca_state) = match store.ca().await? {
        Some(ca) => (ca, "already there".to_string()),
        None => match Ca::open(data_dir) {
            Ok(file_ca) => {
                let imported = store.import_ca(ctx, &file_ca).await?;
                let state = format!(
                    "imported from {} with {} issuance record(s)",
                    file_ca.dir().display(),
                    imported.records
                );
                (imported.ca, state)
            }
            Err(PkiError::NoCa { .. }) => {
                let init = CaInit {
                    subject: ca_subject,
                    key_type: KeyType::default(),
                    with_intermediate: ca_intermediate,
                };
                (store.create_ca(ctx, &init).await?, "created".to_string())
            }
            Err(e) => return Err(e.into()),
        },
    };
    let ca_file = write_ca_file(data_dir, &ca)?;
    let admin_exists = store.user(ctx, admin).await.is_ok();
    let password = if admin_exists {
        None
    } else {
        let password = generate_password()?;
        let mut new = NewUser::new(admin)
            .display_name("keyway administrator")
            .password(password.clone());
        for permission in Permission::FIXED {
            new = new.permission(permission);
        }
        store.add_user(ctx, new).await?;
        Some(password)
    };
    Ok(Initialized {
        ca,
        ca_state,
        ca_file,
        password,
    })
}

/// `keyway init`
pub fn init(args: InitArgs) -> Result<Outcome> {
    let store_args = &args.store;
    let ca_subject = parse_subject(&args.ca_subject)?;
    block_on(async {
        let store = open(store_args).await?;
        let ctx = context(store_args);
        let data_dir = &store_args.data.data_dir;
        let Initialized {
            ca,
            ca_state,
            ca_file,
            password,
        } = initialize(
            &store,
            &ctx,
            data_dir,
            &args.admin,
            ca_subject,
            args.ca_with_intermediate,
        )
        .await?;
        if output::json() {
            println!(
                "{}",
                json!({
                    "data_dir": data_dir,
                    "database": store.database(),
                    "ca_state": ca_state,
                    "ca": ca.root.info(),
                    "ca_certificate": ca_file,
                    "admin": args.admin,
                    "admin_created": password.is_some(),
                    "admin_password": password.as_deref().map(|p| p.as_str()),
                })
            );
            return Ok(Outcome::Ok);
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
        Ok(Outcome::Ok)
    })
}

/// A random password of letters and digits.
fn generate_password() -> Result<Password> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut password = Password::default();
    while password.len() < ADMIN_PASSWORD_CHARS {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).map_err(|e| anyhow::anyhow!("the random generator: {e}"))?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        if (byte[0] as usize) < limit {
            password.push(ALPHABET[byte[0] as usize % ALPHABET.len()] as char);
        }
    }
    Ok(password)
}
