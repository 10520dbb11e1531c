//! Shared types of hashtree-ci.
//!
//! Every other crate speaks in these types: the status of a job or step,
//! the signed `JobResult` that other software reads, the runner and
//! repository configuration, and the runner's Nostr identity that signs
//! results.
//!
//! - [`status`]: `queued | running | success | failure | cancelled |
//!   skipped` and how to pick the worst of several.
//! - [`result`]: [`JobResult`], [`StepResult`] and the per-commit summary
//!   [`CommitResult`].
//! - [`signing`]: BIP-340 signatures over the RFC 8785 canonical JSON of a
//!   result, and their verification.
//! - [`identity`]: the runner's secret key and host labels.
//! - [`config`]: `runner.toml`, `~/.hashtree/config.toml` and the
//!   repository's `.hashtree/ci.toml`.
//! - [`dirs`]: where configuration and data live (XDG base directories).

pub mod config;
pub mod dirs;
pub mod hash;
pub mod identity;
pub mod result;
pub mod rfc3339;
pub mod signing;
pub mod status;

/// The Nostr key pair type that signs results, re-exported so callers need
/// no direct `nostr` dependency.
pub use nostr::key::Keys;
pub use result::{CommitInfo, CommitResult, JobResult, JobSummary, StepResult};
pub use signing::{SignError, VerifyError, sign_value, verify_value};
pub use status::Status;
