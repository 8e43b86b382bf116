//! Secrets at rest: the master key, and private keys sealed with it (AES-256-GCM).
//!
//! The master key lives outside what it protects: in `KEYWAY_MASTER_KEY` (64 hex
//! digits) or in `master.key` (mode 0600) in the data directory. A sealed file is
//! `-----BEGIN KEYWAY SEALED KEY-----` around base64 of version ‖ nonce ‖ ciphertext+tag;
//! the purpose ("ca root key") is authenticated with it, so files cannot be swapped.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

use crate::PkiError;

const LABEL: &str = "KEYWAY SEALED KEY";
const VERSION: u8 = 1;
/// The file name of the master key in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The 256-bit key that seals private keys at rest.
pub struct MasterKey {
    key: Zeroizing<[u8; 32]>,
    /// Where it came from, for error messages ("KEYWAY_MASTER_KEY" or the file).
    origin: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(from {})", self.origin)
    }
}

impl MasterKey {
    /// The master key from `env` (the value of `KEYWAY_MASTER_KEY`), else from
    /// `DATA/master.key`.
    pub fn load(data_dir: &Path, env: Option<&str>) -> Result<Self, PkiError> {
        if let Some(value) = env {
            return Self::parse(value, "KEYWAY_MASTER_KEY");
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(PkiError::MasterKey(format!(
                    "none found: set KEYWAY_MASTER_KEY or restore {} (it is made by `keyway ca init`)",
                    path.display()
                )))
            }
            Err(e) => Err(PkiError::MasterKey(format!("{}: {e}", path.display()))),
        }
    }

    /// The master key from `env` if given; otherwise a new random one written to
    /// `DATA/master.key` with mode 0600 (never over an existing file).
    pub fn load_or_create(data_dir: &Path, env: Option<&str>) -> Result<Self, PkiError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        if env.is_some() || path.exists() {
            return Self::load(data_dir, env);
        }
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| PkiError::crypto("the random generator", e))?;
        let hex = Zeroizing::new(hex(key.as_ref()));
        write_private(&path, format!("{}\n", hex.as_str()).as_bytes())?;
        Ok(MasterKey {
            key,
            origin: path.display().to_string(),
        })
    }

    /// Where it came from: `KEYWAY_MASTER_KEY` or the file's path.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn parse(text: &str, origin: &str) -> Result<Self, PkiError> {
        let text = text.trim();
        let bad = || {
            PkiError::MasterKey(format!(
                "{origin} must hold 64 hexadecimal digits (256 bits); it holds {} characters",
                text.len()
            ))
        };
        if text.len() != 64 {
            return Err(bad());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(MasterKey {
            key,
            origin: origin.to_string(),
        })
    }

    fn aead(&self) -> Result<LessSafeKey, PkiError> {
        let key = UnboundKey::new(&AES_256_GCM, self.key.as_ref())
            .map_err(|e| PkiError::crypto("loading the master key", e))?;
        Ok(LessSafeKey::new(key))
    }

    /// Seals `secret` for `purpose`.
    pub fn seal(&self, secret: &[u8], purpose: &str) -> Result<String, PkiError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| PkiError::crypto("the random generator", e))?;
        let mut data = Zeroizing::new(secret.to_vec());
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut *data,
            )
            .map_err(|e| PkiError::crypto("sealing a key", e))?;
        let mut blob = vec![VERSION];
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&data);
        let body = Base64::encode_string(&blob);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        Ok(format!(
            "-----BEGIN {LABEL}-----\n{}\n-----END {LABEL}-----\n",
            lines.join("\n")
        ))
    }

    /// Opens what [`MasterKey::seal`] sealed for `purpose`; `path` names the file in errors.
    pub fn open(
        &self,
        sealed: &[u8],
        purpose: &str,
        path: &Path,
    ) -> Result<Zeroizing<Vec<u8>>, PkiError> {
        let blob = crate::csr::pem_body(sealed, &[LABEL]).map_err(|problem| PkiError::CaFile {
            path: path.into(),
            problem,
        })?;
        if blob.len() < 1 + NONCE_LEN + 16 || blob[0] != VERSION {
            return Err(PkiError::CaFile {
                path: path.into(),
                problem: "not a sealed key of a version this keyway reads".into(),
            });
        }
        let nonce = Nonce::try_assume_unique_for_key(&blob[1..1 + NONCE_LEN])
            .map_err(|e| PkiError::crypto("reading a sealed key", e))?;
        let mut data = Zeroizing::new(blob[1 + NONCE_LEN..].to_vec());
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut data[..])
            .map_err(|_| {
                PkiError::MasterKey(format!(
                    "the key from {} does not open {}: it is not the master key that sealed it, or the file was altered",
                    self.origin,
                    path.display()
                ))
            })?
            .len();
        data.truncate(plain);
        Ok(data)
    }
}

/// Writes a new file readable by its owner only; refuses to replace one.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| PkiError::CaFile {
        path: PathBuf::from(path),
        problem: e.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_master_key_and_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::load_or_create(dir.path(), None).unwrap();
        let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        let sealed = master.seal(b"secret key bytes", "ca root key").unwrap();
        assert!(!sealed.contains("secret"));
        let path = Path::new("root.key.sealed");
        let again = MasterKey::load(dir.path(), None).unwrap();
        assert_eq!(
            again
                .open(sealed.as_bytes(), "ca root key", path)
                .unwrap()
                .as_slice(),
            b"secret key bytes"
        );
        assert!(matches!(
            again.open(sealed.as_bytes(), "ca intermediate key", path),
            Err(PkiError::MasterKey(_))
        ));
        let other = MasterKey::load(dir.path(), Some(&"ab".repeat(32))).unwrap();
        let e = other
            .open(sealed.as_bytes(), "ca root key", path)
            .unwrap_err();
        assert!(e.to_string().contains("KEYWAY_MASTER_KEY"), "{e}");
        assert!(MasterKey::load(dir.path(), Some("short")).is_err());
    }
}
