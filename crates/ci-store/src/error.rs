//! Errors of the result store.

use std::path::{Path, PathBuf};

use ci_core::VerifyError;

/// Errors from writing, reading or locating results.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A path component is unsafe or malformed.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidComponent {
        /// What the component is, such as "repository path".
        what: &'static str,
        /// The value as given.
        value: String,
        /// Why it is rejected.
        reason: String,
    },

    /// A file or folder operation failed.
    #[error("cannot {operation} {}: {source}", path.display())]
    Io {
        /// What was being done, such as "write".
        operation: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A stored file is not valid JSON or not a result.
    #[error("{}: invalid result: {reason}", path.display())]
    InvalidDocument {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A result to be written is unsigned or its signature does not verify.
    #[error("cannot store {what}: {source}")]
    Unsigned {
        /// Which document, such as "the result of job ci.build".
        what: String,
        /// Why it does not verify.
        #[source]
        source: VerifyError,
    },

    /// A result to be written does not belong at the given path.
    #[error("cannot store {what}: {reason}")]
    Mismatch {
        /// Which document.
        what: String,
        /// Which field differs from the path.
        reason: String,
    },

    /// The same job key or log path was given twice.
    #[error("duplicate {what} {value:?}: each job and log needs its own path")]
    Duplicate {
        /// "job key" or "log path".
        what: &'static str,
        /// The repeated value.
        value: String,
    },

    /// The location of the store could not be found.
    #[error(transparent)]
    NoHome(#[from] ci_core::dirs::NoHomeError),

    /// The repository's configuration could not be read.
    #[error(transparent)]
    Config(#[from] ci_core::config::ConfigError),
}

impl StoreError {
    pub(crate) fn io(operation: &'static str, path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            operation,
            path: path.to_path_buf(),
            source,
        }
    }
}
