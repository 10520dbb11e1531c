//! Detection of the limits this host lets the sandbox enforce.
//!
//! The runner calls [`probe`] once, warns about what is missing and
//! records in each result which limits were in force, so a result never
//! claims a limit the host could not apply.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::limits::{self, CgroupSupport};
use crate::namespaces;

/// The sandbox features available on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSupport {
    /// The sysctl that forbids unprivileged user namespaces, with the fix,
    /// or `None` when no known setting forbids them.
    pub user_namespaces_blocked: Option<String>,
    /// The kind of cgroup access for the memory, CPU and pids limits.
    pub cgroups: CgroupSupport,
    /// Whether RLIMIT_NPROC limits the sandbox's processes: false when
    /// the runner is root, which the kernel exempts.
    pub rlimit_nproc: bool,
    /// Path of the `pasta` executable, when installed.
    pub pasta: Option<PathBuf>,
}

impl HostSupport {
    /// Support assumed without looking at the host, for sandboxes that
    /// need no cgroup and no pasta.
    pub(crate) fn unprobed() -> Self {
        Self {
            user_namespaces_blocked: None,
            cgroups: CgroupSupport::Unavailable {
                reason: "not probed".to_owned(),
            },
            rlimit_nproc: limits::rlimit_nproc_applies(),
            pasta: None,
        }
    }
}

/// Detects the host's support once per process and returns it.
pub fn probe() -> HostSupport {
    HostSupport {
        user_namespaces_blocked: namespaces_blocked(),
        cgroups: cgroups(),
        rlimit_nproc: limits::rlimit_nproc_applies(),
        pasta: pasta(),
    }
}

/// Detects only the parts of the host's support that a sandbox needs:
/// the cgroups for its limits and pasta for its network. A sandbox
/// start then skips the lookups it has no use for.
pub(crate) fn probe_parts(needs_cgroups: bool, needs_pasta: bool) -> HostSupport {
    let mut support = HostSupport::unprobed();
    if needs_cgroups {
        support.cgroups = cgroups();
    }
    if needs_pasta {
        support.pasta = pasta();
    }
    support
}

fn namespaces_blocked() -> Option<String> {
    static BLOCKED: OnceLock<Option<String>> = OnceLock::new();
    BLOCKED
        .get_or_init(|| namespaces::blocking_setting(Path::new("/proc/sys")))
        .clone()
}

fn cgroups() -> CgroupSupport {
    static CGROUPS: OnceLock<CgroupSupport> = OnceLock::new();
    CGROUPS.get_or_init(limits::detect_cgroups).clone()
}

fn pasta() -> Option<PathBuf> {
    static PASTA: OnceLock<Option<PathBuf>> = OnceLock::new();
    PASTA.get_or_init(|| find_in_path("pasta")).clone()
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
