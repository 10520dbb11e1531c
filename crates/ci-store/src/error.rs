//! Errors of the result store.

use std::path::{Path, PathBuf};

use ci_core::VerifyError;

/// Errors from writing, reading or locating results.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A path component is unsafe or malformed.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidComponent {
        /// Kind of component, such as "repository path".
        what: &'static str,
        /// The value as given.
        value: String,
        /// Reason for the rejection.
        reason: String,
    },

    /// A file or folder operation failed.
    #[error("cannot {operation} {}: {source}", path.display())]
    Io {
        /// Operation that failed, such as "write".
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
        /// Description of the problem.
        reason: String,
    },

    /// A result to be written is unsigned or its signature does not verify.
    #[error("cannot store {what}: {source}")]
    Unsigned {
        /// Description of the document, such as "the result of job ci.build".
        what: String,
        /// Reason the signature does not verify.
        #[source]
        source: VerifyError,
    },

    /// A result to be written does not belong at the given path.
    #[error("cannot store {what}: {reason}")]
    Mismatch {
        /// Which document.
        what: String,
        /// Field that differs from the path, with both values.
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

    /// The store's root folder cannot be created or written.
    #[error(
        "cannot write the result store {}: {source}; make the folder writable or set \
         XDG_DATA_HOME to a writable folder",
        dir.display()
    )]
    NotWritable {
        /// The store's root folder.
        dir: PathBuf,
        /// The I/O error of creating the folder or a file in it.
        #[source]
        source: std::io::Error,
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
