//! Crash-safe file writes.
//!
//! A reader must never see a half-written result, even after a power
//! loss. Each file is written to a temporary name in its final folder,
//! flushed with `fsync` and renamed into place. The folder is flushed too,
//! so the rename itself is durable. After a crash, either the old file or
//! the complete new one is there.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::StoreError;

/// Writes `bytes` to `path` atomically: temporary file in the same folder,
/// write, fsync, rename, fsync of the folder.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = parent_of(path);
    let temp = unique_sibling(path, "tmp");
    let written = write_new_file(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, path).map_err(|e| StoreError::io("rename", path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    sync_dir(&dir)
}

/// Creates `path` (which must not exist), writes `bytes` and flushes it.
pub(crate) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| StoreError::io("create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| StoreError::io("write", path, e))?;
    file.sync_all()
        .map_err(|e| StoreError::io("fsync", path, e))
}

/// Opens a stored file for reading, refusing anything but a regular file.
///
/// Result folders can come from elsewhere, so `result.json` might be a
/// symbolic link, a FIFO that blocks forever or a device such as
/// `/dev/zero` that never ends. `O_NOFOLLOW` rejects a symbolic link as the
/// last component, `O_NONBLOCK` keeps a FIFO from blocking the open, and
/// the file type is checked on the opened handle, so it cannot change
/// between the check and the read.
///
/// NOTE: a symbolic link in an earlier component, such as a linked
/// `logs/<job-key>` folder, is still followed.
pub fn open_regular_file(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

/// Flushes a folder, which makes renames and new entries in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|file| file.sync_all())
        .map_err(|e| StoreError::io("fsync folder", dir, e))
}

/// Swaps two paths in one step with `renameat2(RENAME_EXCHANGE)`.
///
/// Returns `Ok(false)` when the kernel or file system does not support
/// the exchange (Linux before 3.15, some network file systems), so the
/// caller can fall back to two renames.
pub(crate) fn exchange(a: &Path, b: &Path) -> Result<bool, StoreError> {
    let to_c = |path: &Path| {
        CString::new(path.as_os_str().as_bytes()).map_err(|_| StoreError::InvalidComponent {
            what: "path",
            value: path.display().to_string(),
            reason: "contains a NUL byte".to_string(),
        })
    };
    let (a_c, b_c) = (to_c(a)?, to_c(b)?);

    // SAFETY: both pointers come from CStrings that live until the call
    // returns, and renameat2 only reads them. AT_FDCWD with absolute or
    // caller-relative paths is the documented use.
    let result = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a_c.as_ptr(),
            libc::AT_FDCWD,
            b_c.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if result == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(StoreError::io("exchange", b, error)),
    }
}

/// Returns a name next to `path` that no other writer uses:
/// `.<name>.<tag>-<pid>-<counter>`. The leading dot keeps it out of
/// listings.
pub(crate) fn unique_sibling(path: &Path, tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{tag}-{}-{count}", std::process::id()))
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        write_file_atomic(&path, b"first").unwrap();
        write_file_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["result.json"]);
    }

    #[test]
    fn atomic_write_into_missing_folder_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/result.json");
        let error = write_file_atomic(&path, b"x").unwrap_err();
        assert!(error.to_string().starts_with("cannot create "), "{error}");
    }

    #[test]
    fn exchange_swaps_folders() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("file"), "from a").unwrap();
        std::fs::write(b.join("file"), "from b").unwrap();
        if exchange(&a, &b).unwrap() {
            assert_eq!(std::fs::read_to_string(b.join("file")).unwrap(), "from a");
            assert_eq!(std::fs::read_to_string(a.join("file")).unwrap(), "from b");
        } else {
            // NOTE: the temporary folder's file system lacks RENAME_EXCHANGE;
            // the fallback path is covered by the store tests.
            assert_eq!(std::fs::read_to_string(a.join("file")).unwrap(), "from a");
        }
    }

    #[test]
    fn open_regular_file_rejects_other_types() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("result.json");
        std::fs::write(&file, "{}").unwrap();
        assert!(open_regular_file(&file).is_ok());

        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let error = open_regular_file(&link).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ELOOP));

        let error = open_regular_file(dir.path()).unwrap_err();
        assert_eq!(error.to_string(), "not a regular file");

        let error = open_regular_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.to_string(), "not a regular file");
    }

    #[test]
    fn unique_siblings_differ() {
        let path = Path::new("/x/result.json");
        let first = unique_sibling(path, "tmp");
        let second = unique_sibling(path, "tmp");
        assert_ne!(first, second);
        assert!(
            first
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".result.json.tmp-")
        );
    }
}
