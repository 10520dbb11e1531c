//! Result space of hashtree-ci.
//!
//! Results live at `<runner-npub>/ci/<owner-npub>/<repo-path>/<commit>/`;
//! this crate resolves those paths and stores and reads them.
//!
//! - [`path`]: the layout of a commit folder and the validation of every
//!   path component ([`CommitPath`], [`job_key`], log file names).
//! - [`locate`]: the owner npub and repository path of a checkout
//!   ([`locate_repo`]).
//! - [`fs`]: the filesystem backend ([`FsStore`]) with crash-safe writes
//!   and verifying reads.
//! - [`check`]: the full check of a commit folder, logs included
//!   ([`check_commit_folder`]).
//! - [`atomic`]: the write-fsync-rename primitive it builds on.

pub mod atomic;
pub mod check;
pub mod error;
pub mod fs;
pub mod locate;
pub mod path;

pub use check::{FolderCheck, check_commit_folder};
pub use error::StoreError;
pub use fs::{
    CommitWriter, DroppedJob, FsStore, Listing, MergedCommit, StoredCommit, StoredDocument,
    StoredJob,
};
pub use locate::{OwnerSource, RepoLocation, locate_repo};
pub use path::{CommitPath, job_key, job_log_path, step_log_path};
