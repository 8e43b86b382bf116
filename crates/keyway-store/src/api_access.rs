//! How people and programs reach the admin API: login sessions (a cookie and its CSRF
//! token) and API tokens (`Authorization: Bearer …`). Only SHA-256 digests of their
//! secrets are stored; the secrets are shown once, when made. A session or token acts
//! as its user with the user's permissions of the moment, never more: the checks are
//! the same [`Context`] checks as every other operation's.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use zeroize::Zeroizing;

use crate::access::Need;
use crate::audit::Event;
use crate::user::not_found_user;
use crate::{AuditOutcome, Context, Store, StoreError, now, random_hex};

/// How long a login session lasts: `idle` seconds after its last request, and never
/// more than `absolute` seconds after the login.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Seconds without a request after which the session ends.
    pub idle: i64,
    /// Seconds after the login at which the session ends, however active.
    pub absolute: i64,
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 12 hours at most.
    fn default() -> Self {
        SessionPolicy {
            idle: 30 * 60,
            absolute: 12 * 3600,
        }
    }
}

/// A session just opened by a login: the cookie's value (never stored, shown once) and
/// the CSRF token unsafe requests with that cookie must carry.
pub struct OpenedSession {
    /// The cookie's value.
    pub secret: Zeroizing<String>,
    /// The session as [`Store::session`] will find it.
    pub session: ApiSession,
}

/// A login session, found by its cookie.
#[derive(Debug, Clone, Serialize)]
pub struct ApiSession {
    /// Whose.
    pub user: String,
    /// The token every unsafe request made with the cookie must carry
    /// (`X-CSRF-Token`).
    pub csrf_token: String,
    /// The login, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// When it ends without another request.
    #[serde(serialize_with = "crate::rfc3339")]
    pub idle_expires_at: i64,
    /// When it ends whatever happens.
    #[serde(serialize_with = "crate::rfc3339")]
    pub expires_at: i64,
}

/// An API token as listed: never its secret.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    /// Whose: the token acts as this user.
    pub user: String,
    /// Its name, unique per user (`ci`).
    pub name: String,
    /// Made, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// When it stops working (`null`: when revoked).
    #[serde(serialize_with = "crate::rfc3339_opt")]
    pub expires_at: Option<i64>,
    /// When it was last used (`null`: never).
    #[serde(serialize_with = "crate::rfc3339_opt")]
    pub last_used_at: Option<i64>,
    /// Where from it was last used.
    pub last_origin: Option<String>,
}

/// A token just made: its secret, shown this once.
pub struct NewToken {
    /// The token as it will be listed.
    pub token: ApiToken,
    /// The value to send as `Authorization: Bearer …`.
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &self.token)
            .field("secret", &"(hidden)")
            .finish()
    }
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession")
            .field("session", &self.session)
            .field("secret", &"(hidden)")
            .finish()
    }
}

/// How a token's secret begins, so that scanners and people can tell one.
pub const TOKEN_PREFIX: &str = "kwt_";

/// Writes a last-use time only when the stored one is older than this (seconds): a busy
/// client does not write a row per request.
const TOUCH_EVERY: i64 = 30;

impl Store {
    /// Logs `name` in with `password`: a session, or `None` when the password is wrong,
    /// the user has none, is disabled or does not exist (which one is not said). Both
    /// outcomes are audited with `origin`.
    pub async fn login(
        &self,
        name: &str,
        password: &Zeroizing<String>,
        origin: &str,
        policy: SessionPolicy,
    ) -> Result<Option<OpenedSession>, StoreError> {
        let ctx = Context::user(name, origin);
        let object = format!("user {name}");
        if !self.check_password(name, password).await? {
            self.audit(
                &ctx,
                Event {
                    action: "api.login",
                    object,
                    outcome: AuditOutcome::Refused,
                    detail: "wrong password, or no such enabled user with a password".into(),
                },
            )
            .await?;
            return Ok(None);
        }
        self.open_session(name, origin, policy, "session opened")
            .await
            .map(Some)
    }

    /// Logs in the owner of a client certificate the admin listener's handshake verified
    /// (its SHA-256, lower-case hex): a session as [`Store::login`] opens, or `None` when
    /// the certificate is no enabled user's, is revoked or not valid now. Audited.
    pub async fn login_with_certificate(
        &self,
        sha256: &str,
        origin: &str,
        policy: SessionPolicy,
    ) -> Result<Option<OpenedSession>, StoreError> {
        let Some(name) = self.certificate_user(sha256).await? else {
            self.audit(
                &Context::user("(certificate)", origin),
                Event {
                    action: "api.login",
                    object: format!("certificate {sha256}"),
                    outcome: AuditOutcome::Refused,
                    detail: "no enabled user's valid certificate".into(),
                },
            )
            .await?;
            return Ok(None);
        };
        let how = format!("session opened with certificate {sha256}");
        self.open_session(&name, origin, policy, &how)
            .await
            .map(Some)
    }

    async fn open_session(
        &self,
        name: &str,
        origin: &str,
        policy: SessionPolicy,
        detail: &str,
    ) -> Result<OpenedSession, StoreError> {
        let ctx = Context::user(name, origin);
        let object = format!("user {name}");
        let secret = random_hex(32)?;
        let csrf = random_hex(24)?;
        let at = now();
        let session = ApiSession {
            user: name.to_string(),
            csrf_token: csrf.to_string(),
            created_at: at,
            idle_expires_at: at + policy.idle.min(policy.absolute),
            expires_at: at + policy.absolute,
        };
        let mut tx = self.write().await?;
        // Sessions nobody came back to end here, not only when their cookie returns.
        sqlx::query("DELETE FROM api_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(at)
            .bind(at - policy.idle)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error("ending old sessions", e))?;
        sqlx::query(
            "INSERT INTO api_sessions (digest, user_id, csrf, origin, created_at, last_seen_at, expires_at)
             SELECT $1, id, $2, $3, $4, $4, $5 FROM users WHERE name = $6",
        )
        .bind(digest(&secret))
        .bind(&session.csrf_token)
        .bind(origin)
        .bind(at)
        .bind(session.expires_at)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db_error("opening a session", e))?;
        self.audit_in(
            &mut tx,
            &ctx,
            Event::ok("api.login", object, detail.to_string()),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("opening a session", e))?;
        Ok(OpenedSession {
            secret: Zeroizing::new(secret.to_string()),
            session,
        })
    }

    /// The session whose cookie is `secret`, if it is still open: not idle longer than
    /// the policy allows, not past its end, its user still enabled. A session found
    /// ended is removed.
    pub async fn session(
        &self,
        secret: &str,
        policy: SessionPolicy,
    ) -> Result<Option<ApiSession>, StoreError> {
        let key = digest(secret);
        let row = sqlx::query(
            "SELECT u.name, u.enabled, s.csrf, s.created_at, s.last_seen_at, s.expires_at
             FROM api_sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = $1",
        )
        .bind(&key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a session", e))?;
        let Some(row) = row else { return Ok(None) };
        let read = |e| self.db_error("reading a session", e);
        let last_seen: i64 = row.try_get("last_seen_at").map_err(read)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(read)?;
        let enabled = row.try_get::<i64, _>("enabled").map_err(read)? == 1;
        let at = now();
        if !enabled || at >= expires_at || at >= last_seen + policy.idle {
            self.end_session(&key).await?;
            return Ok(None);
        }
        if at - last_seen >= TOUCH_EVERY.min(policy.idle / 2) {
            sqlx::query("UPDATE api_sessions SET last_seen_at = $1 WHERE digest = $2")
                .bind(at)
                .bind(&key)
                .execute(&self.pool)
                .await
                .map_err(|e| self.db_error("keeping a session open", e))?;
        }
        Ok(Some(ApiSession {
            user: row.try_get("name").map_err(read)?,
            csrf_token: row.try_get("csrf").map_err(read)?,
            created_at: row.try_get("created_at").map_err(read)?,
            idle_expires_at: (at + policy.idle).min(expires_at),
            expires_at,
        }))
    }

    /// Ends the session whose cookie is `secret` (a logout), audited with `origin`.
    /// False when there was no such session.
    pub async fn logout(&self, secret: &str, origin: &str) -> Result<bool, StoreError> {
        let key = digest(secret);
        let user: Option<String> = sqlx::query_scalar(
            "SELECT u.name FROM api_sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = $1",
        )
        .bind(&key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a session", e))?;
        let Some(user) = user else { return Ok(false) };
        self.end_session(&key).await?;
        let ctx = Context::user(&user, origin);
        self.audit(
            &ctx,
            Event::ok("api.logout", format!("user {user}"), "session ended".into()),
        )
        .await?;
        Ok(true)
    }

    async fn end_session(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM api_sessions WHERE digest = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_error("ending a session", e))?;
        Ok(())
    }

    /// Makes an API token `name` for `user`, valid until `expires_at` (seconds since the
    /// Unix epoch; `None`: until revoked). A user may make their own; another user's
    /// needs `user_management`.
    pub async fn create_token(
        &self,
        ctx: &Context,
        user: &str,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<NewToken, StoreError> {
        crate::check_name("token name", name)?;
        let object = format!("token {name} of user {user}");
        self.authorize(
            ctx,
            Need::OwnOrAnyone,
            Some(user),
            "token.create",
            object.clone(),
        )
        .await?;
        let at = now();
        if let Some(end) = expires_at
            && end <= at
        {
            return Err(StoreError::Invalid {
                field: "expires",
                given: crate::iso(end),
                problem: "is not in the future: give a time to come (`--expires 90d`)".into(),
            });
        }
        let user_id = self.find_user_id(user).await?;
        let secret = Zeroizing::new(format!("{TOKEN_PREFIX}{}", random_hex(32)?.as_str()));
        let mut tx = self.write().await?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM api_tokens WHERE user_id = $1 AND name = $2")
                .bind(user_id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.db_error("reading API tokens", e))?;
        if taken.is_some() {
            return Err(StoreError::Duplicate {
                kind: "token",
                name: name.to_string(),
            });
        }
        sqlx::query(
            "INSERT INTO api_tokens (user_id, name, digest, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(name)
        .bind(digest(&secret))
        .bind(at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db_error("storing an API token", e))?;
        let until = expires_at.map_or("until revoked".to_string(), |end| {
            format!("until {}", crate::iso(end))
        });
        self.audit_in(&mut tx, ctx, Event::ok("token.create", object, until))
            .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("storing an API token", e))?;
        Ok(NewToken {
            token: ApiToken {
                user: user.to_string(),
                name: name.to_string(),
                created_at: at,
                expires_at,
                last_used_at: None,
                last_origin: None,
            },
            secret,
        })
    }

    /// `user`'s API tokens, by name (never their secrets). One's own, or anyone's with
    /// `user_management`.
    pub async fn tokens(&self, ctx: &Context, user: &str) -> Result<Vec<ApiToken>, StoreError> {
        let object = format!("tokens of user {user}");
        self.authorize(ctx, Need::OwnOrAnyone, Some(user), "token.list", object)
            .await?;
        let user_id = self.find_user_id(user).await?;
        let rows = sqlx::query(
            "SELECT name, created_at, expires_at, last_used_at, last_origin FROM api_tokens
             WHERE user_id = $1 ORDER BY name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading API tokens", e))?;
        rows.iter()
            .map(|row| {
                let read = |e| self.db_error("reading API tokens", e);
                Ok(ApiToken {
                    user: user.to_string(),
                    name: row.try_get("name").map_err(read)?,
                    created_at: row.try_get("created_at").map_err(read)?,
                    expires_at: row.try_get("expires_at").map_err(read)?,
                    last_used_at: row.try_get("last_used_at").map_err(read)?,
                    last_origin: row.try_get("last_origin").map_err(read)?,
                })
            })
            .collect()
    }

    /// Revokes `user`'s token `name`: it stops working at once. One's own, or anyone's
    /// with `user_management`.
    pub async fn revoke_token(
        &self,
        ctx: &Context,
        user: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let object = format!("token {name} of user {user}");
        self.authorize(
            ctx,
            Need::OwnOrAnyone,
            Some(user),
            "token.revoke",
            object.clone(),
        )
        .await?;
        let user_id = self.find_user_id(user).await?;
        let mut tx = self.write().await?;
        let gone = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND name = $2")
            .bind(user_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error("revoking an API token", e))?
            .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound {
                kind: "token",
                name: name.to_string(),
                hint: format!(": `keyway token list --user {user}` shows {user}'s tokens"),
            });
        }
        self.audit_in(
            &mut tx,
            ctx,
            Event::ok("token.revoke", object, String::new()),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("revoking an API token", e))
    }

    /// The user a bearer token acts as: `None` when no such token, or it has expired, or
    /// its user is disabled. Notes the use (time and `origin`).
    pub async fn token_user(
        &self,
        secret: &str,
        origin: &str,
    ) -> Result<Option<String>, StoreError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let key = digest(secret);
        let row = sqlx::query(
            "SELECT u.name, u.enabled, t.expires_at, t.last_used_at FROM api_tokens t
             JOIN users u ON u.id = t.user_id WHERE t.digest = $1",
        )
        .bind(&key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading an API token", e))?;
        let Some(row) = row else { return Ok(None) };
        let read = |e| self.db_error("reading an API token", e);
        let expires_at: Option<i64> = row.try_get("expires_at").map_err(read)?;
        let last_used: Option<i64> = row.try_get("last_used_at").map_err(read)?;
        let enabled = row.try_get::<i64, _>("enabled").map_err(read)? == 1;
        let at = now();
        if !enabled || expires_at.is_some_and(|end| at >= end) {
            return Ok(None);
        }
        if last_used.is_none_or(|t| at - t >= TOUCH_EVERY) {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1, last_origin = $2 WHERE digest = $3",
            )
            .bind(at)
            .bind(origin)
            .bind(&key)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_error("noting an API token's use", e))?;
        }
        Ok(Some(row.try_get("name").map_err(read)?))
    }

    /// The user a client certificate (its SHA-256, lower-case hex without colons, as the
    /// TLS handshake verified it) signs in as on the admin listener: its registered
    /// owner, when the certificate is not revoked, is valid now and its user enabled.
    pub async fn certificate_user(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT u.name, u.enabled, c.revoked_at, c.not_before, c.not_after
             FROM client_certificates c JOIN users u ON u.id = c.user_id WHERE c.sha256 = $1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a client certificate", e))?;
        let Some(row) = row else { return Ok(None) };
        let read = |e| self.db_error("reading a client certificate", e);
        let enabled = row.try_get::<i64, _>("enabled").map_err(read)? == 1;
        let revoked: Option<i64> = row.try_get("revoked_at").map_err(read)?;
        let not_before: i64 = row.try_get("not_before").map_err(read)?;
        let not_after: i64 = row.try_get("not_after").map_err(read)?;
        let at = now();
        if !enabled || revoked.is_some() || at < not_before || at > not_after {
            return Ok(None);
        }
        Ok(Some(row.try_get("name").map_err(read)?))
    }

    async fn find_user_id(&self, name: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading a user", e))?
            .ok_or_else(|| not_found_user(name))
    }
}

/// The stored form of a secret: SHA-256, hex. The secrets are 256 random bits, so a
/// plain digest is enough (no password stretching).
fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
