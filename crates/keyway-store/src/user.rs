//! Users: name, display name, an argon2id password hash, enabled or not, and their
//! permissions. Changes are version-checked: a change based on an old read fails with
//! [`StoreError::Conflict`] instead of overwriting someone else's.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::Serialize;
use sqlx::Row;
use zeroize::Zeroizing;

use crate::access::{Need, allows};
use crate::audit::Event;
use crate::{Actor, AuditOutcome, Context, Permission, Store, StoreError, check_name};

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A user as stored (never the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// The login name; unique.
    pub name: String,
    /// The name people read.
    pub display_name: String,
    /// Whether the user may act (log in, call integrations).
    pub enabled: bool,
    /// Whether a password is set (basic auth, web UI).
    pub has_password: bool,
    /// What the user may do, sorted.
    pub permissions: Vec<Permission>,
    /// Created, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// Last changed, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub updated_at: i64,
    /// Increases with every change; give it back to change the user only if nobody else
    /// did in between.
    pub version: i64,
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser {
    name: String,
    display_name: Option<String>,
    password: Option<Zeroizing<String>>,
    permissions: Vec<Permission>,
}

impl NewUser {
    /// A user called `name`, enabled, without password or permissions.
    pub fn new(name: &str) -> Self {
        NewUser {
            name: name.to_string(),
            display_name: None,
            password: None,
            permissions: Vec::new(),
        }
    }

    /// The name people read (default: the login name).
    pub fn display_name(mut self, display_name: &str) -> Self {
        self.display_name = Some(display_name.to_string());
        self
    }

    /// A password (at least [`MIN_PASSWORD_CHARS`] characters).
    pub fn password(mut self, password: Zeroizing<String>) -> Self {
        self.password = Some(password);
        self
    }

    /// One more permission.
    pub fn permission(mut self, permission: Permission) -> Self {
        self.permissions.push(permission);
        self
    }
}

/// A change to one user.
enum Change {
    Enabled(bool),
    Password(String),
    Grant(Permission),
    Revoke(Permission),
}

impl Change {
    /// What it needs of the actor.
    fn need(&self) -> Need {
        match self {
            Change::Password(_) => Need::ManageOwn,
            _ => Need::ManageAnyone,
        }
    }

    /// How the audit log names it.
    fn action(&self) -> &'static str {
        match self {
            Change::Enabled(true) => "user.enable",
            Change::Enabled(false) => "user.disable",
            Change::Password(_) => "user.passwd",
            Change::Grant(_) => "user.grant",
            Change::Revoke(_) => "user.revoke_permission",
        }
    }

    /// What the audit log says of it (never the password).
    fn detail(&self) -> String {
        match self {
            Change::Enabled(true) => "enabled".to_string(),
            Change::Enabled(false) => "disabled".to_string(),
            Change::Password(_) => "password changed".to_string(),
            Change::Grant(p) => format!("granted {p}"),
            Change::Revoke(p) => format!("revoked {p}"),
        }
    }
}

impl Store {
    /// Adds a user. Needs `user_management`.
    pub async fn add_user(&self, ctx: &Context, new: NewUser) -> Result<User, StoreError> {
        let object = format!("user {}", new.name);
        self.authorize(ctx, Need::ManageAnyone, None, "user.add", object.clone())
            .await?;
        check_name("user name", &new.name)?;
        let display_name = match &new.display_name {
            Some(d) => check_display_name(d)?,
            None => new.name.clone(),
        };
        let hash = match &new.password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let mut permissions = new.permissions.clone();
        permissions.sort();
        permissions.dedup();
        let now = crate::now();
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, display_name, password_hash, enabled, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $5, 1) RETURNING id",
        )
        .bind(&new.name)
        .bind(&display_name)
        .bind(hash)
        .bind(1i64)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row
                .try_get("id")
                .map_err(|e| self.db_error("adding a user", e))?,
            Err(e) if crate::error::is_unique_violation(&e) => {
                drop(tx);
                let error = StoreError::Duplicate {
                    kind: "user",
                    name: new.name.clone(),
                };
                self.audit_failure(ctx, "user.add", object, &error).await?;
                return Err(error);
            }
            Err(e) => return Err(self.db_error("adding a user", e)),
        };
        for permission in &permissions {
            sqlx::query("INSERT INTO permissions (user_id, permission) VALUES ($1, $2)")
                .bind(id)
                .bind(permission.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db_error("adding a user's permissions", e))?;
        }
        let detail = match permissions.is_empty() {
            true => "no permissions".to_string(),
            false => format!("permissions: {}", join(&permissions)),
        };
        self.audit_in(
            &mut tx,
            ctx,
            Event {
                action: "user.add",
                object,
                outcome: AuditOutcome::Ok,
                detail,
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("adding a user", e))?;
        self.find_user(&new.name).await
    }

    /// Every user, by name. Needs `user_management`.
    pub async fn users(&self, ctx: &Context) -> Result<Vec<User>, StoreError> {
        self.users_page(ctx, None, i64::MAX).await
    }

    /// At most `limit` users by name, after `after` (the last name of the page before).
    /// Needs `user_management`.
    pub async fn users_page(
        &self,
        ctx: &Context,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        self.authorize(ctx, Need::ManageAnyone, None, "user.list", "users".into())
            .await?;
        let read = |e| self.db_error("listing users", e);
        let rows = sqlx::query(
            "SELECT name, display_name, CAST(CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, enabled,
                    created_at, updated_at, version, id FROM users WHERE name > $1 ORDER BY name LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(read)?;
        // The grants of this page's users only, by user.
        let grants = sqlx::query(
            "SELECT user_id, permission FROM permissions WHERE user_id IN
               (SELECT id FROM users WHERE name > $1 ORDER BY name LIMIT $2)",
        )
        .bind(after.unwrap_or(""))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("listing permissions", e))?;
        let mut held: std::collections::HashMap<i64, Vec<Permission>> =
            std::collections::HashMap::new();
        for grant in &grants {
            let user_id: i64 = grant
                .try_get("user_id")
                .map_err(|e| self.db_error("listing permissions", e))?;
            held.entry(user_id)
                .or_default()
                .push(self.permission_of(grant)?);
        }
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id").map_err(read)?;
            let mut permissions = held.remove(&id).unwrap_or_default();
            permissions.sort_by_key(|p| p.to_string());
            users.push(self.user_of(row, permissions)?);
        }
        Ok(users)
    }

    /// One user. Needs `user_management`, or being that user.
    pub async fn user(&self, ctx: &Context, name: &str) -> Result<User, StoreError> {
        let object = format!("user {name}");
        self.authorize(ctx, Need::ReadOwn, Some(name), "user.show", object)
            .await?;
        self.find_user(name).await
    }

    /// Enables or disables `name`. Needs `user_management`. `expected`: the version the
    /// change is based on (`None`: whatever is stored now).
    pub async fn set_enabled(
        &self,
        ctx: &Context,
        name: &str,
        enabled: bool,
        expected: Option<i64>,
    ) -> Result<User, StoreError> {
        self.change_user(ctx, name, expected, Change::Enabled(enabled))
            .await
    }

    /// Sets `name`'s password. Needs `user_management`, or `manage_personal_setup` for
    /// one's own.
    pub async fn set_password(
        &self,
        ctx: &Context,
        name: &str,
        password: &Zeroizing<String>,
        expected: Option<i64>,
    ) -> Result<User, StoreError> {
        let object = format!("user {name}");
        // Checked before hashing too, so a refused actor costs no hash (and the hash is
        // made outside the write transaction).
        self.authorize(ctx, Need::ManageOwn, Some(name), "user.passwd", object)
            .await?;
        let hash = hash_password(password).await?;
        self.change_user(ctx, name, expected, Change::Password(hash))
            .await
    }

    /// Gives `name` a permission (already held: no change). Needs `user_management`.
    pub async fn grant(
        &self,
        ctx: &Context,
        name: &str,
        permission: Permission,
        expected: Option<i64>,
    ) -> Result<User, StoreError> {
        self.change_user(ctx, name, expected, Change::Grant(permission))
            .await
    }

    /// Takes a permission from `name`. Needs `user_management`.
    pub async fn revoke_permission(
        &self,
        ctx: &Context,
        name: &str,
        permission: Permission,
        expected: Option<i64>,
    ) -> Result<User, StoreError> {
        self.change_user(ctx, name, expected, Change::Revoke(permission))
            .await
    }

    /// Whether `password` is `name`'s, for an enabled user with a password. Takes the
    /// same time whether or not the user exists.
    pub async fn check_password(
        &self,
        name: &str,
        password: &Zeroizing<String>,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT password_hash, enabled FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading a user", e))?;
        let (hash, enabled) = match &row {
            Some(row) => (
                row.try_get::<Option<String>, _>("password_hash")
                    .map_err(|e| self.db_error("reading a user", e))?,
                row.try_get::<i64, _>("enabled")
                    .map_err(|e| self.db_error("reading a user", e))?
                    == 1,
            ),
            None => (None, false),
        };
        let matches = verify_password(password, hash.as_deref()).await?;
        Ok(matches && enabled)
    }

    /// Checks that `ctx` may do `action` to `target`'s account; a refusal is audited.
    pub(crate) async fn authorize(
        &self,
        ctx: &Context,
        need: Need,
        target: Option<&str>,
        action: &str,
        object: String,
    ) -> Result<(), StoreError> {
        let Actor::User(actor) = &ctx.actor else {
            return Ok(());
        };
        let reason = match self.find_user(actor).await {
            Ok(user) if user.enabled => allows(&ctx.actor, &user.permissions, need, target).err(),
            Ok(_) => Some("the account is disabled".to_string()),
            Err(StoreError::NotFound { .. }) => Some("there is no such user".to_string()),
            Err(e) => return Err(e),
        };
        let Some(reason) = reason else {
            return Ok(());
        };
        let conceals = matches!(need, Need::ManageOwn | Need::ReadOwn | Need::OwnOrAnyone)
            && target.is_some_and(|t| t != actor);
        let error = StoreError::Forbidden {
            actor: ctx.actor.to_string(),
            action: format!("{action} on {object}"),
            reason: reason.clone(),
            conceals,
        };
        self.audit(
            ctx,
            Event {
                action,
                object,
                outcome: AuditOutcome::Refused,
                detail: reason,
            },
        )
        .await?;
        Err(error)
    }

    async fn change_user(
        &self,
        ctx: &Context,
        name: &str,
        expected: Option<i64>,
        change: Change,
    ) -> Result<User, StoreError> {
        let (action, detail) = (change.action(), change.detail());
        let object = format!("user {name}");
        self.authorize(ctx, change.need(), Some(name), action, object.clone())
            .await?;
        let mut tx = self.write().await?;
        // PostgreSQL: lock the row, so a change without an expected version waits for a
        // concurrent one instead of failing (SQLite's write transaction already holds the
        // database's write lock).
        let select = match self.backend {
            crate::Backend::Sqlite => "SELECT id, version FROM users WHERE name = $1",
            crate::Backend::Postgres => "SELECT id, version FROM users WHERE name = $1 FOR UPDATE",
        };
        let row = sqlx::query(select)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.db_error("reading a user", e))?;
        let Some(row) = row else {
            return Err(not_found_user(name));
        };
        let read = |column: &str| -> Result<i64, StoreError> {
            row.try_get(column)
                .map_err(|e| self.db_error("reading a user", e))
        };
        let (id, version) = (read("id")?, read("version")?);
        if let Some(expected) = expected.filter(|&e| e != version) {
            drop(tx);
            let error = StoreError::Conflict {
                kind: "user",
                name: name.to_string(),
                expected,
                found: version,
            };
            self.audit_failure(ctx, action, object, &error).await?;
            return Err(error);
        }
        let fail = |e| self.db_error(&format!("changing user {name}"), e);
        match change {
            Change::Enabled(enabled) => {
                sqlx::query("UPDATE users SET enabled = $1 WHERE id = $2")
                    .bind(i64::from(enabled))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            Change::Password(hash) => {
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            Change::Grant(permission) => {
                sqlx::query(
                    "INSERT INTO permissions (user_id, permission) VALUES ($1, $2)
                     ON CONFLICT (user_id, permission) DO NOTHING",
                )
                .bind(id)
                .bind(permission.to_string())
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            }
            Change::Revoke(permission) => {
                let removed =
                    sqlx::query("DELETE FROM permissions WHERE user_id = $1 AND permission = $2")
                        .bind(id)
                        .bind(permission.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(fail)?;
                if removed.rows_affected() == 0 {
                    return Err(StoreError::Invalid {
                        field: "permission",
                        given: permission.to_string(),
                        problem: format!("user {name} does not hold it"),
                    });
                }
            }
        }
        // The version check that holds under concurrency: only one writer moves it on.
        let bumped = sqlx::query(
            "UPDATE users SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3",
        )
        .bind(crate::now())
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        if bumped.rows_affected() == 0 {
            drop(tx);
            let found = self.find_user(name).await.map(|u| u.version).unwrap_or(-1);
            let error = StoreError::Conflict {
                kind: "user",
                name: name.to_string(),
                expected: version,
                found,
            };
            self.audit_failure(ctx, action, object, &error).await?;
            return Err(error);
        }
        self.audit_in(
            &mut tx,
            ctx,
            Event {
                action,
                object,
                outcome: AuditOutcome::Ok,
                detail,
            },
        )
        .await?;
        tx.commit().await.map_err(fail)?;
        self.find_user(name).await
    }

    async fn audit_failure(
        &self,
        ctx: &Context,
        action: &str,
        object: String,
        error: &StoreError,
    ) -> Result<(), StoreError> {
        self.audit(
            ctx,
            Event {
                action,
                object,
                outcome: AuditOutcome::Failed,
                detail: error.to_string(),
            },
        )
        .await
    }

    /// A user by name, without any check.
    pub(crate) async fn find_user(&self, name: &str) -> Result<User, StoreError> {
        let row = sqlx::query(
            "SELECT name, display_name, CAST(CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, enabled,
                    created_at, updated_at, version, id FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a user", e))?
        .ok_or_else(|| not_found_user(name))?;
        let id: i64 = row
            .try_get("id")
            .map_err(|e| self.db_error("reading a user", e))?;
        let grants = sqlx::query(
            "SELECT permission FROM permissions WHERE user_id = $1 ORDER BY permission",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a user's permissions", e))?;
        let permissions = grants
            .iter()
            .map(|g| self.permission_of(g))
            .collect::<Result<Vec<_>, _>>()?;
        self.user_of(&row, permissions)
    }

    fn user_of(
        &self,
        row: &sqlx::any::AnyRow,
        mut permissions: Vec<Permission>,
    ) -> Result<User, StoreError> {
        permissions.sort();
        let user = (|| {
            Ok::<_, sqlx::Error>(User {
                name: row.try_get("name")?,
                display_name: row.try_get("display_name")?,
                enabled: row.try_get::<i64, _>("enabled")? == 1,
                has_password: row.try_get::<i64, _>("has_password")? == 1,
                permissions,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                version: row.try_get("version")?,
            })
        })();
        user.map_err(|e| self.db_error("reading a user", e))
    }

    fn permission_of(&self, row: &sqlx::any::AnyRow) -> Result<Permission, StoreError> {
        let text: String = row
            .try_get("permission")
            .map_err(|e| self.db_error("reading permissions", e))?;
        text.parse()
    }
}

pub(crate) fn not_found_user(name: &str) -> StoreError {
    StoreError::NotFound {
        kind: "user",
        name: name.to_string(),
        hint: ": `keyway user list` shows the users".into(),
    }
}

fn join(permissions: &[Permission]) -> String {
    permissions
        .iter()
        .map(Permission::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_display_name(name: &str) -> Result<String, StoreError> {
    let trimmed = name.trim();
    let problem = if trimmed.is_empty() {
        Some("is empty")
    } else if trimmed.chars().count() > 200 {
        Some("is longer than 200 characters")
    } else if trimmed.chars().any(char::is_control) {
        Some("contains control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(StoreError::Invalid {
            field: "display name",
            given: trimmed.chars().take(80).collect(),
            problem: problem.into(),
        }),
        None => Ok(trimmed.to_string()),
    }
}

/// An argon2id hash (PHC string) of `password`, computed off the async threads.
async fn hash_password(password: &Zeroizing<String>) -> Result<String, StoreError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(StoreError::WeakPassword(format!(
            "has {length} characters; use at least {MIN_PASSWORD_CHARS}"
        )));
    }
    if length > 1024 {
        return Err(StoreError::WeakPassword(
            "is longer than 1024 characters".into(),
        ));
    }
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| StoreError::WeakPassword(format!("cannot be hashed: {e}")))
    })
    .await
    .map_err(|e| StoreError::WeakPassword(format!("cannot be hashed: {e}")))?
}

/// Whether `password` matches `hash`; with no hash, does the same work against a dummy
/// so the time does not tell whether the user exists.
async fn verify_password(
    password: &Zeroizing<String>,
    hash: Option<&str>,
) -> Result<bool, StoreError> {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$FLZEdbkmqMRfYkY9J6fU7gsPGa3Xh4/DRZ4kv3Yn3yg";
    let known = hash.is_some();
    let hash = hash.unwrap_or(DUMMY).to_string();
    let password = password.clone();
    let matches = tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false);
    Ok(known && matches)
}
