//! Store files on disk: reading with the path named in every error, and replacing a
//! file atomically (temporary file in the same directory, fsync, rename, fsync of the
//! directory), so a failed or interrupted write leaves the original intact.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, FileError, Format, Keystore, WriteOptions};

/// Largest file keyway reads as a keystore. Real stores are kilobytes; a few thousand
/// certificates is still under 10 MiB.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Reads a file's bytes, refusing directories and oversized files.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, FileError> {
    let meta = fs::metadata(path).map_err(|error| FileError::Read {
        path: path.into(),
        error,
    })?;
    if meta.is_dir() {
        return Err(FileError::IsDirectory { path: path.into() });
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(FileError::TooLarge {
            path: path.into(),
            size: meta.len(),
            limit: MAX_FILE_SIZE,
        });
    }
    fs::read(path).map_err(|error| FileError::Read {
        path: path.into(),
        error,
    })
}

/// Reads and parses a store file.
pub fn load(
    path: &Path,
    expected: Option<Format>,
    password: Option<&str>,
) -> Result<Keystore, FileError> {
    let data = read_bytes(path)?;
    Keystore::from_bytes(&data, expected, password).map_err(|error| in_file(path, error))
}

/// Whether reading the private keys of the store at `path` needs a password: JKS, JCEKS
/// and PKCS#12 always do; PEM and DER only when a key is encrypted. A file that cannot
/// be read or parsed without one counts as needing one (loading it then says why).
pub fn needs_password(path: &Path, expected: Option<Format>) -> bool {
    let Ok(data) = read_bytes(path) else {
        return true;
    };
    let format = match expected.map_or_else(|| crate::detect_format(&data), Ok) {
        Ok(format) if !format.has_store_password() => format,
        _ => return true,
    };
    match Keystore::from_bytes(&data, Some(format), None) {
        Ok(store) => store
            .entries()
            .iter()
            .filter(|e| e.entry_type() == crate::EntryType::PrivateKey)
            .any(|e| e.private_key(None).is_err()),
        Err(_) => true,
    }
}

/// Encodes `store` as `format` and replaces `path` with it atomically.
pub fn save(
    path: &Path,
    store: &Keystore,
    format: Format,
    options: &WriteOptions,
) -> Result<(), FileError> {
    let bytes = store
        .to_bytes(format, options)
        .map_err(|error| in_file(path, error))?;
    write_atomic(path, &bytes)
}

/// Attaches the file's path to a store error.
pub fn in_file(path: &Path, error: Error) -> FileError {
    FileError::Store {
        path: path.into(),
        error,
    }
}

/// Replaces `path` with `bytes` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    replace_with(path, |file| file.write_all(bytes))
}

/// Replaces `path` atomically with what `fill` writes into a temporary file beside it.
/// If `fill` fails, or anything before the rename does, the temporary file is removed
/// and `path` is untouched. A new file gets mode 0600 (it may hold private keys); a
/// replaced file keeps its permissions.
pub fn replace_with(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> Result<(), FileError> {
    let err = |error| FileError::Write {
        path: path.into(),
        error,
    };
    let dir: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.into(),
        _ => PathBuf::from("."),
    };
    if path.is_dir() {
        return Err(FileError::IsDirectory { path: path.into() });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".keyway-tmp")
        .tempfile_in(&dir)
        .map_err(err)?;
    if let Ok(meta) = fs::metadata(path) {
        temp.as_file()
            .set_permissions(meta.permissions())
            .map_err(err)?;
    }
    fill(temp.as_file_mut()).map_err(err)?;
    temp.as_file().sync_all().map_err(err)?;
    temp.persist(path).map_err(|e| err(e.error))?;
    // The rename is durable once the directory entry is.
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_original_intact_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.jks");
        fs::write(&path, b"original contents").unwrap();
        let result = replace_with(&path, |f| {
            f.write_all(b"half of the new conte")?;
            Err(std::io::Error::other("disk full"))
        });
        let err = result.unwrap_err();
        assert!(err.to_string().contains("store.jks"), "{err}");
        assert!(
            err.to_string().contains("original file is unchanged"),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"original contents");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");
    }

    #[test]
    fn a_leftover_temporary_file_from_a_crash_does_not_block_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.p12");
        fs::write(&path, b"v1").unwrap();
        // What a process killed between write and rename leaves behind.
        fs::write(dir.path().join(".store.p12.XXXXXX.keyway-tmp"), b"partial").unwrap();
        write_atomic(&path, b"v2").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"v2");
    }

    #[cfg(unix)]
    #[test]
    fn replacing_keeps_permissions_and_new_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("trust.pem");
        fs::write(&existing, b"x").unwrap();
        fs::set_permissions(&existing, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&existing, b"y").unwrap();
        assert_eq!(
            fs::metadata(&existing).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let fresh = dir.path().join("new.p12");
        write_atomic(&fresh, b"z").unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn directories_and_missing_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_bytes(dir.path()).unwrap_err();
        assert!(matches!(err, FileError::IsDirectory { .. }), "{err}");
        let missing = dir.path().join("nope.jks");
        let err = read_bytes(&missing).unwrap_err();
        assert!(err.to_string().contains("nope.jks"), "{err}");
    }
}
