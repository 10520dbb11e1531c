//! Where hashtree-ci keeps its files, following the XDG base directory
//! specification.
//!
//! - Runner identity and settings: `$XDG_CONFIG_HOME/hashtree-ci/runner.toml`,
//!   by default `~/.config/hashtree-ci/runner.toml`.
//! - Stored results: `$XDG_DATA_HOME/hashtree-ci/`, by default
//!   `~/.local/share/hashtree-ci/`.
//! - Caches (the sandbox's generated `/etc`): `$XDG_CACHE_HOME/hashtree-ci/`,
//!   by default `~/.cache/hashtree-ci/`.
//! - Network settings shared with other hashtree tools:
//!   `~/.hashtree/config.toml` (not under XDG, because the other tools
//!   read it there).
//!
//! As the specification requires, an `XDG_*` variable that is empty or holds a
//! relative path is ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Error for a home directory that cannot be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot find the home directory: HOME is unset, empty or relative; set HOME to an absolute \
     path, or set {xdg_variable}"
)]
pub struct NoHomeError {
    /// The XDG variable that would avoid the need for `HOME`.
    pub xdg_variable: &'static str,
}

/// Returns `$HOME` when it is set to an absolute path.
pub fn home_dir() -> Option<PathBuf> {
    absolute(std::env::var_os("HOME"))
}

/// Returns the configuration base: `$XDG_CONFIG_HOME` or `~/.config`.
pub fn config_home() -> Result<PathBuf, NoHomeError> {
    base_dir(std::env::var_os("XDG_CONFIG_HOME"), home_dir(), ".config").ok_or(NoHomeError {
        xdg_variable: "XDG_CONFIG_HOME",
    })
}

/// Returns the data base: `$XDG_DATA_HOME` or `~/.local/share`.
pub fn data_home() -> Result<PathBuf, NoHomeError> {
    base_dir(
        std::env::var_os("XDG_DATA_HOME"),
        home_dir(),
        ".local/share",
    )
    .ok_or(NoHomeError {
        xdg_variable: "XDG_DATA_HOME",
    })
}

/// Returns the cache base: `$XDG_CACHE_HOME` or `~/.cache`.
pub fn cache_home() -> Result<PathBuf, NoHomeError> {
    base_dir(std::env::var_os("XDG_CACHE_HOME"), home_dir(), ".cache").ok_or(NoHomeError {
        xdg_variable: "XDG_CACHE_HOME",
    })
}

/// Returns where sandboxes keep their generated `/etc` files:
/// `<cache home>/hashtree-ci/sandbox-etc`.
pub fn sandbox_etc_cache() -> Result<PathBuf, NoHomeError> {
    Ok(cache_home()?.join("hashtree-ci").join("sandbox-etc"))
}

/// Returns the path of the runner identity: `<config home>/hashtree-ci/runner.toml`.
pub fn runner_config_path() -> Result<PathBuf, NoHomeError> {
    Ok(config_home()?.join("hashtree-ci").join("runner.toml"))
}

/// Returns the root of the result store: `<data home>/hashtree-ci`.
pub fn store_root() -> Result<PathBuf, NoHomeError> {
    Ok(data_home()?.join("hashtree-ci"))
}

/// Returns the path of the shared hashtree settings: `~/.hashtree/config.toml`.
pub fn hashtree_config_path() -> Result<PathBuf, NoHomeError> {
    home_dir()
        .map(|home| home.join(".hashtree").join("config.toml"))
        .ok_or(NoHomeError {
            xdg_variable: "HOME",
        })
}

/// Formats a path for messages, writing the home directory as `~`.
pub fn display_path(path: &Path) -> String {
    display_path_with_home(path, home_dir().as_deref())
}

fn display_path_with_home(path: &Path, home: Option<&Path>) -> String {
    if let Some(rest) = home.and_then(|home| path.strip_prefix(home).ok())
        && !rest.as_os_str().is_empty()
    {
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}

fn base_dir(xdg: Option<OsString>, home: Option<PathBuf>, fallback: &str) -> Option<PathBuf> {
    absolute(xdg).or_else(|| home.map(|home| home.join(fallback)))
}

fn absolute(value: Option<OsString>) -> Option<PathBuf> {
    value.map(PathBuf::from).filter(|path| path.is_absolute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_variable_wins_when_absolute() {
        let base = base_dir(
            Some("/xdg/config".into()),
            Some(PathBuf::from("/home/u")),
            ".config",
        );
        assert_eq!(base, Some(PathBuf::from("/xdg/config")));
    }

    #[test]
    fn relative_or_empty_xdg_is_ignored() {
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            base_dir(Some("relative".into()), home.clone(), ".config"),
            Some(PathBuf::from("/home/u/.config"))
        );
        assert_eq!(
            base_dir(Some("".into()), home, ".local/share"),
            Some(PathBuf::from("/home/u/.local/share"))
        );
    }

    #[test]
    fn no_home_and_no_xdg_is_none() {
        assert_eq!(base_dir(None, None, ".config"), None);
        assert_eq!(absolute(Some("relative/home".into())), None);
    }

    #[test]
    fn display_path_abbreviates_home() {
        let home = Path::new("/home/u");
        assert_eq!(
            display_path_with_home(Path::new("/home/u/.config/x.toml"), Some(home)),
            "~/.config/x.toml"
        );
        assert_eq!(
            display_path_with_home(Path::new("/etc/x.toml"), Some(home)),
            "/etc/x.toml"
        );
        assert_eq!(
            display_path_with_home(Path::new("/home/user2/x"), Some(home)),
            "/home/user2/x"
        );
        assert_eq!(
            display_path_with_home(Path::new("/home/u"), Some(home)),
            "/home/u"
        );
    }

    #[test]
    fn no_home_error_names_the_fix() {
        let error = NoHomeError {
            xdg_variable: "XDG_CONFIG_HOME",
        };
        assert!(error.to_string().contains("set HOME to an absolute path"));
    }
}
