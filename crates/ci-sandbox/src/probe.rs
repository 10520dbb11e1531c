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
    static SUPPORT: OnceLock<HostSupport> = OnceLock::new();
    SUPPORT
        .get_or_init(|| HostSupport {
            user_namespaces_blocked: namespaces::blocking_setting(Path::new("/proc/sys")),
            cgroups: limits::detect_cgroups(),
            rlimit_nproc: limits::rlimit_nproc_applies(),
            pasta: find_in_path("pasta"),
        })
        .clone()
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
