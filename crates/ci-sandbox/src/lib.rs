//! Rootless Linux sandbox.
//!
//! Builds user, mount, pid, net, uts, ipc and cgroup namespaces over a
//! read-only root filesystem, drops every capability, sets no_new_privs
//! and loads a seccomp filter, then runs one command inside. It knows
//! nothing about workflows.

pub mod capabilities;
pub mod seccomp;
