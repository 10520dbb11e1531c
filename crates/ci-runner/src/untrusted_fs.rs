//! File access on the host to directories that steps can write.
//!
//! The runner writes step scripts into `RUNNER_TEMP`, creates the
//! `GITHUB_OUTPUT`/`GITHUB_ENV`/... files and reads them back, all in
//! directories that a sandboxed step writes too. A step could leave a
//! symbolic link where the runner writes next (`temp/step-7.sh` pointing
//! to a file in the runner's home) or make its output file a link to a
//! host secret, a FIFO or `/dev/zero`. The runner runs outside the
//! sandbox, so following such an entry would let a step write or read
//! host files. These functions never follow a symbolic link in the final
//! component and read only regular files, up to a size limit.
//!
//! They rely on no step process running while they are called, which the
//! sandbox guarantees: a step's sandbox, with every process it started,
//! is gone before the runner touches the step's files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path};

/// Largest step file the runner reads (`GITHUB_OUTPUT`, `GITHUB_ENV`,
/// ...), which bounds the memory a step can make the runner use.
pub const MAX_STEP_FILE_BYTES: u64 = 16 << 20;

/// Writes `contents` to a new regular file at `path`, mode 0644. Whatever
/// was at `path` before (a file, a directory or a symbolic link) is
/// removed first, and the file is created with `O_EXCL | O_NOFOLLOW`, so
/// the write never lands outside `path`'s directory.
pub fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path)?,
        Ok(_) => fs::remove_file(path)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(contents)
}

/// Reads the regular file at `path` as text, at most `max_bytes`.
/// Returns an empty string when it does not exist. A symbolic link, a
/// FIFO, a device or a directory is an error naming what was found, and
/// so is a file larger than `max_bytes`.
pub fn read_step_file(path: &Path, max_bytes: u64) -> io::Result<String> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
    // writer that never comes.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(invalid(path, "is a symbolic link"));
        }
        Err(error) => return Err(error),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(invalid(path, "is not a regular file"));
    }
    if meta.len() > max_bytes {
        return Err(invalid(path, &format!("is larger than {max_bytes} bytes")));
    }
    read_limited(file, max_bytes, path)
}

fn read_limited(file: File, max_bytes: u64, path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(invalid(path, &format!("is larger than {max_bytes} bytes")));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} {what}", path.display()),
    )
}

/// Returns whether any existing component of `relative`, resolved from
/// `base`, is a symbolic link. Components that do not exist yet end the
/// check, because the runner creates them itself.
pub fn has_symlink(base: &Path, relative: &Path) -> bool {
    let mut current = base.to_path_buf();
    for component in relative.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        current.push(name);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("host-file");
        fs::write(&target, "keep").unwrap();
        let planted = dir.path().join("step-1.sh");
        std::os::unix::fs::symlink(&target, &planted).unwrap();

        write_new_file(&planted, b"echo hi").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(fs::read_to_string(&planted).unwrap(), "echo hi");
        assert!(
            !fs::symlink_metadata(&planted)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn write_replaces_planted_directory() {
        let dir = tempfile::tempdir().unwrap();
        let planted = dir.path().join("output_1");
        fs::create_dir_all(planted.join("inner")).unwrap();
        write_new_file(&planted, b"").unwrap();
        assert!(planted.is_file());
    }

    #[test]
    fn read_rejects_links_and_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        fs::write(&secret, "nsec").unwrap();
        let link = dir.path().join("output_1");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let error = read_step_file(&link, 100).unwrap_err().to_string();
        assert!(error.ends_with("output_1 is a symbolic link"), "{error}");

        let fifo = dir.path().join("env_1");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let error = read_step_file(&fifo, 100).unwrap_err().to_string();
        assert!(error.ends_with("env_1 is not a regular file"), "{error}");
    }

    #[test]
    fn read_limits_size() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("output_1");
        fs::write(&file, "a=1\n").unwrap();
        assert_eq!(read_step_file(&file, 100).unwrap(), "a=1\n");
        let error = read_step_file(&file, 2).unwrap_err().to_string();
        assert!(
            error.ends_with("output_1 is larger than 2 bytes"),
            "{error}"
        );
        assert_eq!(
            read_step_file(&dir.path().join("missing"), 100).unwrap(),
            ""
        );
    }

    #[test]
    fn symlink_components_found() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("real/sub")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("escape")).unwrap();
        assert!(has_symlink(dir.path(), Path::new("escape/home")));
        assert!(!has_symlink(dir.path(), Path::new("real/sub/new")));
        assert!(!has_symlink(dir.path(), Path::new("missing/escape")));
    }
}
