//! Rootless Linux sandbox.
//!
//! Builds user, mount, pid, net, uts, ipc and cgroup namespaces over a
//! read-only root filesystem, drops every capability, sets no_new_privs
//! and loads a seccomp filter, then runs one command inside. It knows
//! nothing about workflows.

pub mod capabilities;
pub mod config;
mod dev;
pub mod error;
pub mod init;
pub mod limits;
mod namespaces;
pub mod network;
mod probe;
mod proc;
mod process;
mod protocol;
pub mod rootfs;
mod sandbox;
pub mod seccomp;
mod sys;

pub use config::{Bind, Limits, Network, PastaOptions, RootFs, SandboxConfig, StdinMode};
pub use error::SandboxError;
pub use limits::{CgroupSupport, Enforcement, LimitKind};
pub use probe::{HostSupport, probe};
pub use sandbox::{ExitOutcome, Sandbox, SandboxChild, TIMED_OUT_EXIT};
