//! Rootless Linux sandbox.
//!
//! Builds user, mount, pid, net, uts, ipc and cgroup namespaces over a
//! read-only root filesystem, drops every capability, sets no_new_privs
//! and loads a seccomp filter, then runs one command inside. It knows
//! nothing about workflows.
//!
//! A binary using the sandbox calls [`init::run_if_requested`] first thing
//! in `main`, because the sandbox's init is that same binary started again
//! with a marker argument. Then [`Sandbox::spawn`] runs a command described
//! by a [`SandboxConfig`] and returns a [`SandboxChild`] to wait for or
//! kill; [`SandboxChild::enforcement`] and [`probe`] say which limits
//! this host can enforce.

pub mod capabilities;
pub mod config;
mod dev;
pub mod error;
mod etc_cache;
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
