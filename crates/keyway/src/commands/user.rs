//! `keyway user …`: users, their permissions and passwords; their certificates are in
//! `user/cert.rs`.

mod cert;

use std::io::IsTerminal;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use keyway_store::{NewUser, Permission, User};
use time::OffsetDateTime;

use self::cert::UserCertCommand;
use crate::args::StoreArgs;
use crate::exit::Exit;
use crate::output;
use crate::secret::prompt;
use crate::session::{block_on, context, open, read_stdin_password};

/// `keyway user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    #[command(after_help = "Examples:
  keyway user add partner-a --display-name \"Partner A (orders)\" --grant invoke:orders
  printf '%s\\n' \"$PASSWORD\" | keyway user add alice --password-stdin --grant manage_personal_setup

Permissions: user_management (any user and their certificates), manage_personal_setup
(one's own certificates and password), manage_connectors, manage_trust (truststores,
keystores, CA), invoke:<integration>.
Exit codes: 0 added, 2 refused (duplicate name, weak password, missing permission).")]
    Add(UserAddArgs),
    /// List users with their permissions.
    #[command(after_help = "Example:\n  keyway user list --json")]
    List(UserListArgs),
    /// Show one user.
    #[command(after_help = "Example:\n  keyway user show alice")]
    Show(UserNameArgs),
    /// Disable a user: their certificates and password stop working.
    #[command(after_help = "Example:\n  keyway user disable alice")]
    Disable(UserNameArgs),
    /// Enable a disabled user again.
    #[command(after_help = "Example:\n  keyway user enable alice")]
    Enable(UserNameArgs),
    /// Set a user's password (asked twice on a terminal, or one line on stdin).
    #[command(after_help = "Examples:
  keyway user passwd alice
  printf '%s\\n' \"$PASSWORD\" | keyway user passwd alice --password-stdin
  keyway user passwd alice --as alice          # needs manage_personal_setup")]
    Passwd(UserPasswdArgs),
    /// Give a user a permission.
    #[command(after_help = "Examples:
  keyway user grant partner-a invoke:orders
  keyway user grant bob user_management")]
    Grant(UserPermissionArgs),
    /// Take a permission from a user.
    #[command(after_help = "Example:\n  keyway user revoke-permission partner-a invoke:orders")]
    RevokePermission(UserPermissionArgs),
    /// A user's client certificates: CSR for an outside CA, upload, issue, download, revoke.
    #[command(subcommand)]
    Cert(UserCertCommand),
}

/// `keyway user add`
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The login name: letters, digits and . _ @ -, up to 64 characters.
    pub name: String,
    /// The name people read (default: the login name).
    #[arg(long, value_name = "TEXT")]
    pub display_name: Option<String>,
    /// Read the password from the first line of standard input (none otherwise:
    /// a certificate-only user).
    #[arg(long)]
    pub password_stdin: bool,
    /// A permission to give; repeat for several.
    #[arg(long = "grant", value_name = "PERMISSION")]
    pub grants: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user list`
#[derive(Debug, Args)]
pub struct UserListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user show|disable|enable NAME`
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// The user.
    pub name: String,
    /// Change only if the user is still at this version (see `user show`); otherwise a
    /// conflict error and nothing changes.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user passwd NAME`
#[derive(Debug, Args)]
pub struct UserPasswdArgs {
    /// The user.
    pub name: String,
    /// Read the new password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Change only if the user is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user grant|revoke-permission NAME PERMISSION`
#[derive(Debug, Args)]
pub struct UserPermissionArgs {
    /// The user.
    pub name: String,
    /// user_management, manage_personal_setup, manage_connectors, manage_trust or invoke:INTEGRATION.
    pub permission: String,
    /// Change only if the user is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user …`
pub fn user(command: UserCommand) -> Result<Exit> {
    block_on(async {
        match command {
            UserCommand::Add(args) => add(args).await,
            UserCommand::List(args) => {
                let store = open(&args.store).await?;
                let users = store.users(&context(&args.store)).await?;
                output::list(
                    &users,
                    "no users (`keyway init` creates the first administrator)",
                    &["USER", "STATE", "PASSWORD", "PERMISSIONS", "DISPLAY NAME"],
                    |u| {
                        vec![
                            u.name.clone(),
                            if u.enabled { "enabled" } else { "disabled" }.into(),
                            if u.has_password { "yes" } else { "no" }.into(),
                            permissions(u),
                            u.display_name.clone(),
                        ]
                    },
                )
            }
            UserCommand::Show(args) => {
                let store = open(&args.store).await?;
                let user = store.user(&context(&args.store), &args.name).await?;
                print_user(&user, output::json(), None)
            }
            UserCommand::Disable(args) => set_enabled(args, false).await,
            UserCommand::Enable(args) => set_enabled(args, true).await,
            UserCommand::Passwd(args) => passwd(args).await,
            UserCommand::Grant(args) => permission(args, true).await,
            UserCommand::RevokePermission(args) => permission(args, false).await,
            UserCommand::Cert(command) => crate::commands::user::cert::user_cert(command).await,
        }
    })
}

async fn add(args: UserAddArgs) -> Result<Exit> {
    let grants = args
        .grants
        .iter()
        .map(|g| g.parse::<Permission>())
        .collect::<Result<Vec<_>, _>>()
        .context("--grant")?;
    let password = if args.password_stdin {
        Some(read_stdin_password()?)
    } else {
        None
    };
    let store = open(&args.store).await?;
    let mut new = NewUser::new(&args.name);
    if let Some(display) = &args.display_name {
        new = new.display_name(display);
    }
    if let Some(password) = password {
        new = new.password(password);
    }
    for grant in grants {
        new = new.permission(grant);
    }
    let user = store.add_user(&context(&args.store), new).await?;
    print_user(&user, output::json(), Some("added"))
}

async fn set_enabled(args: UserNameArgs, enabled: bool) -> Result<Exit> {
    let store = open(&args.store).await?;
    let user = store
        .set_enabled(&context(&args.store), &args.name, enabled, args.if_version)
        .await?;
    print_user(
        &user,
        output::json(),
        Some(if enabled { "enabled" } else { "disabled" }),
    )
}

async fn passwd(args: UserPasswdArgs) -> Result<Exit> {
    let password = if args.password_stdin {
        read_stdin_password()?
    } else {
        if !std::io::stdin().is_terminal() {
            bail!(
                "the new password for {} is needed and there is no terminal to ask on: give it on standard input with --password-stdin (printf '%s\\n' \"$PASSWORD\" | keyway user passwd {} --password-stdin)",
                args.name,
                args.name
            );
        }
        let first = prompt(
            "--password-stdin",
            &format!("new password for {}", args.name),
        )?;
        let second = prompt("--password-stdin", "the same again")?;
        if first != second {
            bail!("the two passwords differ: nothing was changed");
        }
        first
    };
    let store = open(&args.store).await?;
    let user = store
        .set_password(
            &context(&args.store),
            &args.name,
            &password,
            args.if_version,
        )
        .await?;
    print_user(&user, output::json(), Some("password set"))
}

async fn permission(args: UserPermissionArgs, grant: bool) -> Result<Exit> {
    let permission: Permission = args.permission.parse()?;
    let store = open(&args.store).await?;
    let ctx = context(&args.store);
    let user = if grant {
        store
            .grant(&ctx, &args.name, permission, args.if_version)
            .await?
    } else {
        store
            .revoke_permission(&ctx, &args.name, permission, args.if_version)
            .await?
    };
    print_user(
        &user,
        output::json(),
        Some(if grant { "granted" } else { "revoked" }),
    )
}

fn print_user(user: &User, json: bool, done: Option<&str>) -> Result<Exit> {
    if json {
        println!("{}", serde_json::to_string_pretty(user)?);
        return Ok(Exit::Ok);
    }
    if let Some(done) = done {
        println!("user {}: {done}", user.name);
    }
    let time = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t)
            .map(output::iso)
            .unwrap_or_else(|_| t.to_string())
    };
    println!(
        "  name:         {}\n  display name: {}\n  state:        {}\n  password:     {}\n  permissions:  {}\n  created:      {}\n  changed:      {} (version {})",
        user.name,
        user.display_name,
        if user.enabled { "enabled" } else { "disabled" },
        if user.has_password { "set" } else { "none" },
        permissions(user),
        time(user.created_at),
        time(user.updated_at),
        user.version
    );
    Ok(Exit::Ok)
}

fn permissions(user: &User) -> String {
    if user.permissions.is_empty() {
        return "-".into();
    }
    user.permissions
        .iter()
        .map(Permission::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
