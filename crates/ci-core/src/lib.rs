//! Shared types of hashtree-ci.
//!
//! Every other crate speaks in these types: the status of a job or step,
//! the signed `JobResult` that other software reads, the runner and
//! repository configuration, and the runner's Nostr identity that signs
//! results.
