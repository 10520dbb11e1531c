//! Configuration files.
//!
//! - [`runner`]: the runner's identity and limits,
//!   `$XDG_CONFIG_HOME/hashtree-ci/runner.toml`.
//! - [`network`]: relays and Blossom servers shared with other hashtree
//!   tools, `~/.hashtree/config.toml` (optional).
//! - [`repo`]: the repository's own `.hashtree/ci.toml` (optional).
//!
//! Every error names the file, the key and the expected form, in one
//! line, such as `~/.config/hashtree-ci/runner.toml: [runner] tags:
//! expected a list of strings, like tags = ["linux", "x64"]`. A file that
//! exists but does not parse is always an error; it is never replaced by
//! defaults.

pub mod network;
pub mod repo;
pub mod runner;
mod table;

use std::path::Path;

pub use network::HashtreeConfig;
pub use repo::{RepoCiConfig, RepoRunner};
pub use runner::{
    AllowedRepo, ContainerConfig, ContainerRuntime, Limits, NetworkMode, RunnerConfig,
};

use crate::dirs::{NoHomeError, display_path};

/// Errors from reading or writing a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the file: {source}")]
    Read {
        /// The file, with the home directory written as `~`.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A file of an untrusted repository is of a kind the runner does not
    /// read, such as a symbolic link or a device. The reason names only the
    /// kind, never content.
    #[error("{path}: {reason}")]
    Untrusted {
        /// The file.
        path: String,
        /// Description of the problem found and the fix.
        reason: String,
    },

    /// The file is not valid TOML.
    #[error("{path}: invalid TOML at line {line}, column {column}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },

    /// A key has a value of the wrong form, or a required key is missing.
    #[error("{path}: {place}: {expected}")]
    Invalid {
        /// The file.
        path: String,
        /// The section and key, such as `[runner] tags`.
        place: String,
        /// Expected form, with an example.
        expected: String,
    },

    /// The file has a key this version does not know, probably a typo.
    #[error("{path}: {section}: unknown key {key:?}; expected one of: {known}")]
    UnknownKey {
        /// The file.
        path: String,
        /// The section, such as `[runner.limits]`.
        section: String,
        /// The unknown key.
        key: String,
        /// The keys this section accepts.
        known: String,
    },

    /// `htci init` found an existing identity.
    #[error(
        "{path}: a runner identity already exists; use --force to replace it (its key, and the \
         npub results were signed with, will be lost)"
    )]
    AlreadyExists {
        /// The file.
        path: String,
    },

    /// The file or its directory could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// No configuration directory could be found.
    #[error(transparent)]
    NoHome(#[from] NoHomeError),
}

impl ConfigError {
    pub(crate) fn read(path: &Path, source: std::io::Error) -> Self {
        ConfigError::Read {
            path: display_path(path),
            source,
        }
    }

    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        ConfigError::Write {
            path: display_path(path),
            source,
        }
    }
}

/// Reads a file that may be absent: `Ok(None)` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ConfigError::read(path, error)),
    }
}
