//! Errors of the keystore crate.
//!
//! Variants are grouped by whose fault they are: the password or alias the user gave,
//! the bytes of the store, and what keyway does not do. Each carries the evidence a
//! message needs (alias, format, what was expected), never a password.

use std::path::PathBuf;

use crate::Format;

/// Why a store could not be read, changed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- what the user gave ---
    /// The store's integrity check (JKS/JCEKS keyed digest, PKCS#12 MAC) failed:
    /// the store password is wrong, or the file was altered.
    #[error(
        "wrong store password: the {format} integrity check failed (or the file was altered after it was written)"
    )]
    WrongStorePassword {
        /// The format whose check failed.
        format: Format,
    },
    /// A private key could not be decrypted with the key password given.
    #[error(
        "wrong key password for alias \"{alias}\": the key could not be decrypted (JKS keys may have their own password: give it with --keypass)"
    )]
    WrongKeyPassword {
        /// The alias of the key entry.
        alias: String,
    },
    /// The key is encrypted and no password was given for it.
    #[error("the private key of alias \"{alias}\" is encrypted: give its key password (--keypass)")]
    KeyPasswordRequired {
        /// The alias of the key entry.
        alias: String,
    },
    /// The store format needs a password and none was given.
    #[error("a store password is required to open a {format} store")]
    StorePasswordRequired {
        /// The format that needs it.
        format: Format,
    },
    /// No entry has this alias.
    #[error("no entry with alias \"{alias}\"{}", available_hint(.available))]
    AliasNotFound {
        /// The alias asked for.
        alias: String,
        /// The aliases the store has.
        available: Vec<String>,
    },
    /// An entry with this alias already exists.
    #[error("an entry with alias \"{alias}\" already exists (delete or rename it first)")]
    AliasExists {
        /// The alias.
        alias: String,
    },
    /// The alias cannot be used.
    #[error("invalid alias \"{alias}\": {reason}")]
    InvalidAlias {
        /// The alias.
        alias: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The entry is not of the type the operation needs.
    #[error("alias \"{alias}\" is a {found}, but this needs a {expected}")]
    WrongEntryType {
        /// The alias.
        alias: String,
        /// The entry type the operation needs.
        expected: &'static str,
        /// The entry type found.
        found: &'static str,
    },
    /// A private key and the certificate meant to go with it do not share a public key.
    #[error("the private key does not match the certificate {subject}: their public keys differ")]
    KeyCertificateMismatch {
        /// Subject of the certificate.
        subject: String,
    },
    /// A password is empty or otherwise unusable for the target format.
    #[error("unusable password: {reason}")]
    UnusablePassword {
        /// Why.
        reason: &'static str,
    },

    // --- the bytes of the store ---
    /// The input is empty.
    #[error("the file is empty")]
    Empty,
    /// The bytes are not a keystore, certificate or key keyway knows.
    #[error("not a keystore, certificate or key keyway can read: {detail}")]
    UnrecognizedFormat {
        /// What the bytes look like.
        detail: String,
    },
    /// The data ends before a structure it announces.
    #[error("{format} data is truncated: {context}")]
    Truncated {
        /// The format being read.
        format: Format,
        /// Where and what was cut off.
        context: String,
    },
    /// The data is not a valid store of its format.
    #[error("{format} data is malformed: {detail}")]
    Malformed {
        /// The format being read.
        format: Format,
        /// What is wrong.
        detail: String,
    },
    /// A certificate inside the store is not valid X.509.
    #[error("{context}: not a valid X.509 certificate ({detail})")]
    InvalidCertificate {
        /// Which certificate (alias, position in chain).
        context: String,
        /// The parser's complaint.
        detail: String,
    },
    /// A private key is not a valid key of a known kind.
    #[error("{context}: not a valid private key ({detail})")]
    InvalidKey {
        /// Which key.
        context: String,
        /// What is wrong.
        detail: String,
    },

    // --- what keyway does not do ---
    /// The operation or encoding is not supported, with the way around it.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What, and what to do instead.
        what: String,
    },
}

fn available_hint(available: &[String]) -> String {
    match available.len() {
        0 => " (the store is empty)".to_string(),
        1..=20 => format!(" (aliases: {})", available.join(", ")),
        n => format!(" ({n} aliases, starting {})", available[..10].join(", ")),
    }
}

/// An error reading or writing a store file: the path and what went wrong.
///
/// The message is complete on its own (path and cause); the cause is not chained again
/// as `source()`, so `{:#}` does not repeat it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        error: std::io::Error,
    },
    /// A directory was given where a file is needed.
    #[error("{}: is a directory, not a keystore file", path.display())]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than any keystore keyway accepts.
    #[error("{}: {size} bytes is larger than the {limit}-byte limit for a keystore file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file could not be written; the original, if any, is unchanged.
    #[error("{}: cannot write (the original file is unchanged): {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        error: std::io::Error,
    },
    /// The file's contents are not a usable store.
    #[error("{}: {error}", path.display())]
    Store {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        error: Error,
    },
}

impl FileError {
    /// The store error inside, when the file was read but its contents are wrong.
    pub fn store_error(&self) -> Option<&Error> {
        match self {
            FileError::Store { error, .. } => Some(error),
            _ => None,
        }
    }
}
