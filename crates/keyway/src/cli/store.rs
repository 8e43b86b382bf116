//! Arguments of `keyway init`, `keyway user …` and `keyway audit-log`; `store_cmd` runs them.

use clap::{Args, Subcommand};

use super::pki::DataDirArgs;

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
}

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

/// `keyway audit-log`
#[derive(Debug, Args)]
pub struct AuditLogArgs {
    /// Only entries since then: an RFC 3339 time (2026-11-01T00:00:00Z), a date
    /// (2026-11-01) or a duration ago (24h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many entries, the newest.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: i64,
    #[command(flatten)]
    pub store: StoreArgs,
}
