//! Errors of the sandbox, as the runner sees them.

use std::io;
use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

/// Error of starting or supervising a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration is unusable; the message names the value.
    #[error("invalid sandbox configuration: {0}")]
    InvalidConfig(String),

    /// The init process could not be started.
    #[error("failed to start the sandbox init process {exe}: {source}")]
    SpawnInit {
        /// Executable that was run with the init marker.
        exe: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },

    /// A setup step inside the sandbox failed; the message names the step,
    /// the path and, where known, the fix.
    #[error("sandbox setup failed: {0}")]
    Setup(String),

    /// The command could not be executed inside the sandbox.
    #[error("failed to execute {program} in the sandbox: {source}")]
    Exec {
        /// The program (`argv[0]`) as requested.
        program: String,
        /// The execve (or path lookup) error.
        #[source]
        source: io::Error,
    },

    /// The runner lost contact with the init process.
    #[error("failed to {operation} the sandbox init process: {source}")]
    Protocol {
        /// Operation the runner was doing.
        operation: &'static str,
        /// Underlying error.
        #[source]
        source: io::Error,
    },

    /// `pasta` is needed but could not be run.
    #[error("network mode pasta failed: {0}")]
    Pasta(String),

    /// A cgroup could not be created, configured or removed.
    #[error("failed to {operation} cgroup {path}: {source}")]
    Cgroup {
        /// Operation done on the cgroup.
        operation: &'static str,
        /// Directory or file of the cgroup.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
}
