//! Root filesystems of sandboxed steps, and looking up programs in them.

use std::path::{Path, PathBuf};

use ci_sandbox::RootFs;

use super::SandboxSetupError;

/// The root filesystem of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// The host's `/usr`, `/bin`, `/lib*`, `/sbin` and an `/etc` subset.
    Host,
    /// A directory holding an unpacked root filesystem.
    Dir(PathBuf),
}

impl Image {
    /// Parses `host` or a directory; `origin` names where the value came
    /// from in errors (`--image`, `[runner.images] ubuntu-latest`).
    pub fn parse(value: &str, origin: &str) -> Result<Self, SandboxSetupError> {
        let value = value.trim();
        if value == "host" {
            return Ok(Image::Host);
        }
        let path = PathBuf::from(value);
        if !path.is_dir() {
            return Err(SandboxSetupError::MissingImage {
                path,
                origin: origin.to_string(),
            });
        }
        let path = path.canonicalize().unwrap_or(path);
        Ok(Image::Dir(path))
    }

    /// Returns the name recorded in results: `host` or the directory.
    pub fn name(&self) -> String {
        match self {
            Image::Host => "host".to_string(),
            Image::Dir(path) => path.display().to_string(),
        }
    }

    pub(super) fn root(&self) -> RootFs {
        match self {
            Image::Host => RootFs::Host,
            Image::Dir(path) => RootFs::Dir(path.clone()),
        }
    }
}

/// Returns whether `path` is a regular file with an execute bit.
pub(super) fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Maximum number of symbolic links followed while resolving one path,
/// the kernel's limit (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Resolves `relative` (a path inside the sandbox without its leading
/// `/`) in the image directory `root` the way the sandbox will see it:
/// absolute symbolic links lead back into `root`, not to the host.
/// Returns `None` when more than [`MAX_SYMLINKS`] links are followed.
pub(super) fn resolve_in_image(root: &Path, relative: &Path) -> Option<PathBuf> {
    use std::path::Component;

    let mut pending: Vec<std::ffi::OsString> = relative
        .components()
        .rev()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == "." {
            continue;
        }
        if part == ".." {
            // As in the kernel, `..` at the root stays at the root.
            resolved.pop();
            continue;
        }
        let candidate = resolved
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&part);
        let Ok(target) = std::fs::read_link(&candidate) else {
            resolved.push(part);
            continue;
        };
        links += 1;
        if links > MAX_SYMLINKS {
            return None;
        }
        if target.is_absolute() {
            resolved.clear();
        }
        pending.extend(
            target
                .components()
                .filter(|c| !matches!(c, Component::RootDir))
                .rev()
                .map(|c| c.as_os_str().to_os_string()),
        );
    }
    Some(resolved.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_links_resolve_inside_image() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/tool"), "").unwrap();
        std::os::unix::fs::symlink("/usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("../bin/tool", root.join("usr/bin/alias")).unwrap();
        std::os::unix::fs::symlink("/loop", root.join("loop")).unwrap();

        let resolve = |path: &str| resolve_in_image(root, Path::new(path));
        assert_eq!(resolve("bin/tool"), Some(root.join("usr/bin/tool")));
        assert_eq!(resolve("bin/alias"), Some(root.join("usr/bin/tool")));
        assert_eq!(resolve("../../bin/tool"), Some(root.join("usr/bin/tool")));
        assert_eq!(resolve("loop/x"), None);
    }
}
