//! The first run: what `keyway init` (and a first `keyway serve`) bring a store to —
//! keyway's CA (the store's, else one imported from an older `DATA/ca`, else a new one),
//! `DATA/ca.pem` for clients to trust, and the first administrator with every
//! permission and a generated password. Safe to run again: what exists is kept.

use std::fmt;
use std::path::{Path, PathBuf};

use keyway_keystore::Certificate;
use keyway_pki::{Ca, CaInit, DistinguishedName, KeyType, PkiError};
use zeroize::Zeroizing;

use crate::{Context, NewUser, Permission, Store, StoreError, StoredCa};

/// The file in the data directory holding keyway's CA certificates (issuing CA, then
/// root): what clients are given to trust keyway's server certificate.
pub const CA_FILE: &str = "ca.pem";

/// The length of the first administrator's generated password.
const ADMIN_PASSWORD_CHARS: usize = 24;

/// What the first run makes when it is missing.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The data directory (`DATA/ca.pem` is written there, an older `DATA/ca` imported).
    pub data_dir: PathBuf,
    /// The first administrator's user name.
    pub admin: String,
    /// The subject of keyway's CA, if it is created now.
    pub ca_subject: DistinguishedName,
    /// A root and an issuing intermediate (the root key then stays sealed), if the CA is
    /// created now.
    pub ca_with_intermediate: bool,
}

/// Where keyway's CA came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaState {
    /// The store had it.
    AlreadyThere,
    /// Imported from an older keyway's `DATA/ca` directory.
    Imported {
        /// That directory.
        from: PathBuf,
        /// How many issuance records came with it.
        records: usize,
    },
    /// Made now.
    Created,
}

impl fmt::Display for CaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaState::AlreadyThere => f.write_str("already there"),
            CaState::Imported { from, records } => write!(
                f,
                "imported from {} with {records} issuance record(s)",
                from.display()
            ),
            CaState::Created => f.write_str("created"),
        }
    }
}

/// What the first run found or made.
#[derive(Debug)]
pub struct Initialized {
    /// keyway's CA.
    pub ca: StoredCa,
    /// Where it came from.
    pub ca_state: CaState,
    /// `DATA/ca.pem`.
    pub ca_file: PathBuf,
    /// The first administrator's password, when the administrator was made now (to
    /// show once; it is kept only as a hash).
    pub admin_password: Option<Zeroizing<String>>,
}

impl Store {
    /// Brings the store to the state `keyway init` promises (see the module docs).
    /// `ctx` acts: the local administrator on a fresh store.
    pub async fn initialize(
        &self,
        ctx: &Context,
        setup: &Setup,
    ) -> Result<Initialized, StoreError> {
        let (ca, ca_state) = match self.ca().await? {
            Some(ca) => (ca, CaState::AlreadyThere),
            None => match Ca::open(&setup.data_dir) {
                Ok(file_ca) => {
                    let imported = self.import_ca(ctx, &file_ca).await?;
                    let state = CaState::Imported {
                        from: file_ca.dir().to_path_buf(),
                        records: imported.records,
                    };
                    (imported.ca, state)
                }
                Err(PkiError::NoCa { .. }) => {
                    let init = CaInit {
                        subject: setup.ca_subject.clone(),
                        key_type: KeyType::default(),
                        with_intermediate: setup.ca_with_intermediate,
                    };
                    (self.create_ca(ctx, &init).await?, CaState::Created)
                }
                Err(e) => return Err(e.into()),
            },
        };
        let ca_file = write_ca_file(&setup.data_dir, &ca)?;
        let admin_password = match self.user(ctx, &setup.admin).await {
            Ok(_) => None,
            Err(StoreError::NotFound { .. }) => {
                let password = generate_password()?;
                let mut new = NewUser::new(&setup.admin)
                    .display_name("keyway administrator")
                    .password(password.clone());
                for permission in Permission::FIXED {
                    new = new.permission(permission);
                }
                self.add_user(ctx, new).await?;
                Some(password)
            }
            Err(e) => return Err(e),
        };
        Ok(Initialized {
            ca,
            ca_state,
            ca_file,
            admin_password,
        })
    }
}

/// Writes keyway's CA certificates (issuing CA, then root) to `DATA/ca.pem`, replacing an
/// older copy.
pub fn write_ca_file(data_dir: &Path, ca: &StoredCa) -> Result<PathBuf, StoreError> {
    let path = data_dir.join(CA_FILE);
    let pem: String = ca.chain().iter().map(Certificate::to_pem).collect();
    keyway_keystore::file::write_atomic(&path, pem.as_bytes()).map_err(|e| StoreError::File {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    Ok(path)
}

/// A random password of letters and digits, every character equally likely.
fn generate_password() -> Result<Zeroizing<String>, StoreError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut password = Zeroizing::new(String::new());
    while password.len() < ADMIN_PASSWORD_CHARS {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte)
            .map_err(|e| StoreError::MasterKey(format!("the random generator: {e}")))?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        if (byte[0] as usize) < limit {
            password.push(ALPHABET[byte[0] as usize % ALPHABET.len()] as char);
        }
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_from_the_alphabet() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), ADMIN_PASSWORD_CHARS);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c))
        );
        assert_ne!(*a, *b);
    }
}
