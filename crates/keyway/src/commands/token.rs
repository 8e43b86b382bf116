//! `keyway token …`: API tokens for automation (`Authorization: Bearer …` on the admin
//! API): made, listed with their last use, revoked. A token acts as its user.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use keyway_store::{Actor, ApiToken};
use serde_json::json;
use time::OffsetDateTime;

use crate::args::{StoreArgs, parse_duration};
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, context, open};

/// `keyway token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token; its secret is printed this once.
    #[command(after_help = "Examples:
  keyway token create ci --user ci-bot --expires 90d
  keyway token create --name ci --user ci-bot --expires 90d
  keyway token create laptop --as alice          # one's own needs no permission

The token acts as its user, with the user's permissions of the moment and no more; it
stops when revoked, when it expires, or while its user is disabled. Only its SHA-256
digest is stored. Use it as `Authorization: Bearer kwt_…` on the admin API.
Exit codes: 0 made, 2 refused (a name the user has already, another user's token without
user_management).")]
    Create(TokenCreateArgs),
    /// List a user's tokens with when and where from each was last used.
    #[command(after_help = "Example:\n  keyway token list --user ci-bot --json")]
    List(TokenUserArgs),
    /// Revoke a token: it stops working at once.
    #[command(after_help = "Example:\n  keyway token revoke ci --user ci-bot")]
    Revoke(TokenRevokeArgs),
}

/// Whose tokens.
#[derive(Debug, Args)]
pub struct TokenUserArgs {
    /// The user (default: the one given with --as).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway token create`
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The token's name, unique per user.
    #[arg(value_name = "NAME", required_unless_present = "name_flag")]
    pub name: Option<String>,
    /// The same, as an option (`--name ci`).
    #[arg(long = "name", value_name = "NAME", conflicts_with = "name")]
    pub name_flag: Option<String>,
    /// How long it works (90d, 12h); default: until revoked.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires: Option<std::time::Duration>,
    #[command(flatten)]
    pub owner: TokenUserArgs,
}

/// `keyway token revoke`
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's name.
    pub name: String,
    #[command(flatten)]
    pub owner: TokenUserArgs,
}

/// `keyway token …`
pub fn token(command: TokenCommand) -> Result<Exit> {
    block_on(async move {
        match command {
            TokenCommand::Create(args) => create(args).await,
            TokenCommand::List(args) => list(args).await,
            TokenCommand::Revoke(args) => revoke(args).await,
        }
    })
}

/// The user named by --user, else by --as.
fn owner(args: &TokenUserArgs) -> Result<String> {
    match (&args.user, &context(&args.store).actor) {
        (Some(user), _) => Ok(user.clone()),
        (None, Actor::User(me)) => Ok(me.clone()),
        (None, _) => bail!("give --user NAME: whose token (the local administrator is no user)"),
    }
}

async fn create(args: TokenCreateArgs) -> Result<Exit> {
    let user = owner(&args.owner)?;
    let name = args
        .name
        .clone()
        .or(args.name_flag.clone())
        .unwrap_or_default();
    let expires_at = args.expires.map(|d| {
        OffsetDateTime::now_utc().unix_timestamp()
            + i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2)
    });
    let store = open(&args.owner.store).await?;
    let made = store
        .create_token(&context(&args.owner.store), &user, &name, expires_at)
        .await?;
    if output::json() {
        output::print_json(&json!({"token": made.token, "secret": made.secret.as_str()}))?;
    } else {
        let until = made
            .token
            .expires_at
            .map_or("until revoked".to_string(), |t| {
                format!("until {}", output::date(Some(t)))
            });
        println!(
            "Token {} for {user} ({until}); its secret, shown this once:\n\n    {}\n\nSend it as `Authorization: Bearer …` to the admin API. `keyway token revoke {} --user {user}` stops it.",
            made.token.name,
            made.secret.as_str(),
            made.token.name
        );
    }
    Ok(Exit::Ok)
}

async fn list(args: TokenUserArgs) -> Result<Exit> {
    let user = owner(&args)?;
    let store = open(&args.store).await?;
    let tokens = store.tokens(&context(&args.store), &user).await?;
    output::list(
        &tokens,
        &format!("{user} has no API token; `keyway token create NAME --user {user}` makes one"),
        &["NAME", "EXPIRES", "LAST USED", "FROM"],
        |t: &ApiToken| {
            vec![
                t.name.clone(),
                t.expires_at
                    .map_or("never".into(), |e| output::date(Some(e))),
                t.last_used_at
                    .map_or("never".into(), |u| output::date(Some(u))),
                t.last_origin.clone().unwrap_or_else(|| "-".into()),
            ]
        },
    )
}

async fn revoke(args: TokenRevokeArgs) -> Result<Exit> {
    let user = owner(&args.owner)?;
    let store = open(&args.owner.store).await?;
    store
        .revoke_token(&context(&args.owner.store), &user, &args.name)
        .await?;
    if output::json() {
        output::print_json(&json!({"revoked": args.name, "user": user}))?;
    } else {
        println!(
            "Token {} of {user} revoked: it is refused from now on.",
            args.name
        );
    }
    Ok(Exit::Ok)
}
