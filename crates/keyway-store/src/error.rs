//! Errors of keyway-store. Each names the database, object or field concerned and, where
//! there is one, the fix; none carries a secret. Nothing is half-written when one is
//! returned: every change runs in one transaction with its audit entry.

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    // --- where the data lives ---
    /// The database cannot be opened or reached.
    #[error("{database}: {problem}")]
    Unavailable {
        /// The database (a file, or a PostgreSQL URL without its password).
        database: String,
        /// What failed, with the fix.
        problem: String,
    },
    /// The database was written by a newer keyway.
    #[error(
        "{database} has schema version {found}, newer than this keyway understands ({supported}): run the keyway release that last wrote it, or a newer one"
    )]
    SchemaTooNew {
        /// The database.
        database: String,
        /// The schema version found in it.
        found: i64,
        /// The newest version this binary knows.
        supported: i64,
    },
    /// A statement failed (full disk, lost connection, …).
    #[error("{database}: {action}: {problem}")]
    Database {
        /// The database.
        database: String,
        /// What keyway was doing.
        action: String,
        /// What the database said.
        problem: String,
    },
    /// A file keyway keeps beside the database (`DATA/ca.pem`) could not be written.
    #[error("{path}: {problem}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        problem: String,
    },
    /// The master key is missing, malformed or not the one this database was created with.
    #[error("master key: {0}")]
    MasterKey(String),

    // --- what the caller asked for ---
    /// An input that cannot be used.
    #[error("{field} \"{given}\": {problem}")]
    Invalid {
        /// Which input (`user name`, `permission`, …).
        field: &'static str,
        /// What was given (never a secret).
        given: String,
        /// What is wrong and what is accepted.
        problem: String,
    },
    /// A certificate, key, subject or CSR that keyway's PKI refused; the message names
    /// every problem and its fix.
    #[error(transparent)]
    Pki(#[from] keyway_pki::PkiError),
    /// A password that cannot be used (the password itself is never shown).
    #[error("the password {0}")]
    WeakPassword(String),
    /// No such object.
    #[error("no {kind} \"{name}\"{hint}")]
    NotFound {
        /// `user`, `certificate`, …
        kind: &'static str,
        /// Its name.
        name: String,
        /// How to find the right one.
        hint: String,
    },
    /// An object with that name exists already.
    #[error("{kind} \"{name}\" exists already")]
    Duplicate {
        /// `user`, …
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Objects of these names exist already; nothing was written (an import without
    /// replace).
    #[error(
        "the store has {objects} already; nothing was imported (import again with replace, `--replace`, to replace them)"
    )]
    Exist {
        /// `connector orders, profile partner`.
        objects: String,
    },
    /// Someone else changed the object since it was read; nothing was written.
    #[error(
        "{kind} \"{name}\" is at version {found}, not {expected}: someone changed it since it was read; read it again and redo the change"
    )]
    Conflict {
        /// `user`, …
        kind: &'static str,
        /// Its name.
        name: String,
        /// The version the change was based on.
        expected: i64,
        /// The version stored now.
        found: i64,
    },
    /// A connector, profile or integration definition that does not check out (the same
    /// checks as a keyway.toml); each problem names the item and the field.
    #[error(transparent)]
    Config(#[from] keyway_connect::ConfigErrors),
    /// The object is still used by others; nothing was removed.
    #[error("{kind} \"{name}\" is used by {users}: change or remove them first")]
    InUse {
        /// `truststore`, `keystore`, `profile`, `connector`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Who uses it (`profile partner-tls, profile legacy`).
        users: String,
    },
    /// A change that would take trust away from connectors that work today; nothing was
    /// written (force it to go ahead).
    #[error(
        "{what} would break {connectors}: their partners' chains end there (as the watch of `keyway serve` last saw them); add its successor too, or force the change (keyway: --force; API: ?force=true)"
    )]
    WouldBreak {
        /// What the change takes away: `CN=Partner Root CA (sha256 AB:…) from truststore partners`.
        what: String,
        /// `connector orders, connector billing`.
        connectors: String,
    },
    /// The actor may not do this. Refusals are audited.
    #[error("{actor} may not do {action}: {reason}")]
    Forbidden {
        /// Who asked.
        actor: String,
        /// What they asked for ("disable user bob").
        action: String,
        /// Why not: the permission that would allow it.
        reason: String,
        /// The refusal is about another user's account, which the actor may not even
        /// see: a face reached over a network answers as for a user that does not exist
        /// (404, not 403), so that user names do not leak.
        conceals: bool,
    },
}

impl StoreError {
    pub(crate) fn database(database: &str, action: impl Into<String>, e: sqlx::Error) -> Self {
        StoreError::Database {
            database: database.to_string(),
            action: action.into(),
            problem: describe(&e),
        }
    }
}

/// The database's message, without the driver's wrapping; for a full disk or a failed
/// write, with what to do.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) if out_of_space(db.code().as_deref()) => format!(
            "{}: the disk holding the database may be full, or the file may not be writable; free space (or fix the permissions) and retry — nothing of this change was written",
            db.message()
        ),
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".into(),
        other => other.to_string(),
    }
}

/// Whether a database error code means the write could not reach the disk: SQLite's
/// SQLITE_FULL (13) or SQLITE_IOERR (10, with its extended codes), PostgreSQL's class 53
/// (insufficient resources: disk full, out of memory) and 58030 (I/O error).
fn out_of_space(code: Option<&str>) -> bool {
    let Some(code) = code else {
        return false;
    };
    if let Ok(number) = code.parse::<i64>()
        && code.len() < 5
    {
        return matches!(number & 0xff, 10 | 13);
    }
    code.starts_with("53") || code == "58030"
}

/// Whether `e` is a unique-constraint violation (a duplicate name).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_trouble_is_recognised_on_both_backends() {
        for code in ["13", "10", "778", "53100", "58030"] {
            assert!(out_of_space(Some(code)), "{code}");
        }
        for code in ["19", "2067", "23505", "42P01"] {
            assert!(!out_of_space(Some(code)), "{code}");
        }
        assert!(!out_of_space(None));
    }
}
