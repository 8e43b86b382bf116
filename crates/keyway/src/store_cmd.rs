//! `keyway init`, `keyway user …` and `keyway audit-log`: the store's users, permissions
//! and audit log from the command line. Checks and auditing happen in keyway-store; this
//! module reads arguments and prints.

use std::io::IsTerminal;

use anyhow::{Context as _, Result, bail};
use keyway_pki::{Ca, CaInit, KeyType, PkiError, parse_subject};
use keyway_store::{AuditQuery, Context, NewUser, Permission, Store, User};
use serde_json::json;
use time::OffsetDateTime;

use crate::Outcome;
use crate::cli::store::{
    AuditLogArgs, InitArgs, UserAddArgs, UserCommand, UserNameArgs, UserPasswdArgs,
    UserPermissionArgs,
};
use crate::files::write_ca_file;
use crate::output;
use crate::secret::{Password, prompt};
use crate::session::{block_on, context, open, read_stdin_password};

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
        if store_args.data.json {
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

/// `keyway user …`
pub fn user(command: UserCommand) -> Result<Outcome> {
    block_on(async {
        match command {
            UserCommand::Add(args) => add(args).await,
            UserCommand::List(args) => {
                let store = open(&args.store).await?;
                let users = store.users(&context(&args.store)).await?;
                if args.store.data.json {
                    println!("{}", serde_json::to_string_pretty(&users)?);
                } else if users.is_empty() {
                    println!("no users (`keyway init` creates the first administrator)");
                } else {
                    let rows: Vec<Vec<String>> = users
                        .iter()
                        .map(|u| {
                            vec![
                                u.name.clone(),
                                if u.enabled { "enabled" } else { "disabled" }.into(),
                                if u.has_password { "yes" } else { "no" }.into(),
                                permissions(u),
                                u.display_name.clone(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        output::columns(
                            &["USER", "STATE", "PASSWORD", "PERMISSIONS", "DISPLAY NAME"],
                            &rows
                        )
                    );
                }
                Ok(Outcome::Ok)
            }
            UserCommand::Show(args) => {
                let store = open(&args.store).await?;
                let user = store.user(&context(&args.store), &args.name).await?;
                print_user(&user, args.store.data.json, None)
            }
            UserCommand::Disable(args) => set_enabled(args, false).await,
            UserCommand::Enable(args) => set_enabled(args, true).await,
            UserCommand::Passwd(args) => passwd(args).await,
            UserCommand::Grant(args) => permission(args, true).await,
            UserCommand::RevokePermission(args) => permission(args, false).await,
            UserCommand::Cert(command) => crate::cert_cmd::user_cert(command).await,
        }
    })
}

/// `keyway audit-log`
pub fn audit_log(args: AuditLogArgs) -> Result<Outcome> {
    if let Some(crate::cli::store::AuditLogCommand::Prune(prune)) = args.command {
        return audit_prune(prune);
    }
    let since = args.since.as_deref().map(parse_since).transpose()?;
    if args.limit < 1 {
        bail!("--limit {}: give at least 1", args.limit);
    }
    block_on(async {
        let store = open(&args.store).await?;
        let query = AuditQuery {
            since,
            limit: Some(args.limit),
        };
        let entries = store.audit_log(&context(&args.store), &query).await?;
        if args.store.data.json {
            println!("{}", serde_json::to_string_pretty(&entries)?);
            return Ok(Outcome::Ok);
        }
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                vec![
                    OffsetDateTime::from_unix_timestamp(e.at)
                        .map(output::iso)
                        .unwrap_or_else(|_| e.at.to_string()),
                    e.actor.clone(),
                    e.origin.clone(),
                    e.action.clone(),
                    e.object.clone(),
                    serde_json::to_value(e.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    match (e.count, e.last_at) {
                        (n, Some(last)) if n > 1 => format!(
                            "{} (×{n}, the last at {})",
                            e.detail,
                            OffsetDateTime::from_unix_timestamp(last)
                                .map(output::iso)
                                .unwrap_or_else(|_| last.to_string())
                        ),
                        _ => e.detail.clone(),
                    },
                ]
            })
            .collect();
        print!(
            "{}",
            output::columns(
                &[
                    "WHEN", "ACTOR", "FROM", "ACTION", "OBJECT", "OUTCOME", "DETAIL"
                ],
                &rows
            )
        );
        Ok(Outcome::Ok)
    })
}

fn audit_prune(args: crate::cli::store::AuditPruneArgs) -> Result<Outcome> {
    let before = parse_when(&args.before, "--before")?;
    block_on(async {
        let store = open(&args.store).await?;
        let removed = store.prune_audit(&context(&args.store), before).await?;
        let when = OffsetDateTime::from_unix_timestamp(before)
            .map(output::iso)
            .unwrap_or_else(|_| before.to_string());
        if args.store.data.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "removed": removed,
                    "before": when,
                }))?
            );
        } else {
            println!(
                "removed {removed} audit {} written before {when}",
                if removed == 1 { "entry" } else { "entries" }
            );
        }
        Ok(Outcome::Ok)
    })
}

async fn add(args: UserAddArgs) -> Result<Outcome> {
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
    print_user(&user, args.store.data.json, Some("added"))
}

async fn set_enabled(args: UserNameArgs, enabled: bool) -> Result<Outcome> {
    let store = open(&args.store).await?;
    let user = store
        .set_enabled(&context(&args.store), &args.name, enabled, args.if_version)
        .await?;
    print_user(
        &user,
        args.store.data.json,
        Some(if enabled { "enabled" } else { "disabled" }),
    )
}

async fn passwd(args: UserPasswdArgs) -> Result<Outcome> {
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
    print_user(&user, args.store.data.json, Some("password set"))
}

async fn permission(args: UserPermissionArgs, grant: bool) -> Result<Outcome> {
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
        args.store.data.json,
        Some(if grant { "granted" } else { "revoked" }),
    )
}

fn print_user(user: &User, json: bool, done: Option<&str>) -> Result<Outcome> {
    if json {
        println!("{}", serde_json::to_string_pretty(user)?);
        return Ok(Outcome::Ok);
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
    Ok(Outcome::Ok)
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

/// `--since`: RFC 3339, a date, or a duration ago.
fn parse_since(text: &str) -> Result<i64> {
    parse_when(text, "--since")
}

/// A time as the audit options take it: RFC 3339, a date, or a duration ago.
fn parse_when(text: &str, option: &str) -> Result<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &date_format) {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(OffsetDateTime::now_utc().unix_timestamp() - ago.as_secs() as i64);
    }
    bail!(
        "{option} {text}: write a time (2026-11-01T08:00:00Z), a date (2026-11-01) or a duration ago (24h, 7d)"
    )
}
