//! Passwords in configuration: inline, or a reference to an environment variable or a
//! file, resolved only when a connector is used, never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Where a password comes from. In TOML: `"text"`, `{ env = "NAME" }` or
/// `{ file = "path" }` (relative to the config file; one trailing newline is dropped).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a password: \"text\", { env = \"VARIABLE\" } or { file = \"PATH\" }"
)]
pub enum SecretRef {
    /// The password itself.
    Inline(String),
    /// An environment variable holding it.
    Env {
        /// The variable's name.
        env: String,
    },
    /// A file holding it.
    File {
        /// The file, relative to the config file.
        file: PathBuf,
    },
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SecretRef {
    /// Where it comes from, without the secret: for listings.
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Inline(_) => "(inline, hidden)".into(),
            SecretRef::Env { env } => format!("environment variable {env}"),
            SecretRef::File { file } => format!("file {}", file.display()),
        }
    }

    /// The password. `base` is the config file's directory. The error says where it
    /// was looked for, never what was found.
    pub fn resolve(&self, base: &Path) -> Result<Zeroizing<String>, String> {
        match self {
            SecretRef::Inline(s) => Ok(Zeroizing::new(s.clone())),
            SecretRef::Env { env } => std::env::var(env).map(Zeroizing::new).map_err(|e| match e {
                std::env::VarError::NotPresent => {
                    format!("environment variable {env} is not set")
                }
                std::env::VarError::NotUnicode(_) => {
                    format!("environment variable {env} is not valid UTF-8")
                }
            }),
            SecretRef::File { file } => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!("cannot read the password file {}: {e}", path.display())
                })?;
                let text = Zeroizing::new(text);
                let trimmed = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                Ok(Zeroizing::new(trimmed.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_resolve_from_each_source_and_never_show_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw.txt"), "from-file\n").unwrap();
        let inline = SecretRef::Inline("s3cret".into());
        assert_eq!(*inline.resolve(dir.path()).unwrap(), "s3cret");
        assert!(!format!("{inline:?}").contains("s3cret"));
        let file = SecretRef::File {
            file: "pw.txt".into(),
        };
        assert_eq!(*file.resolve(dir.path()).unwrap(), "from-file");
        let missing = SecretRef::Env {
            env: "KEYWAY_TEST_SURELY_UNSET_VARIABLE".into(),
        };
        assert_eq!(
            missing.resolve(dir.path()).unwrap_err(),
            "environment variable KEYWAY_TEST_SURELY_UNSET_VARIABLE is not set"
        );
    }
}
