//! Resource limits: rlimits inside the sandbox, cgroups from outside.
//!
//! Which mechanism enforces a limit depends on the host:
//!
//! | limit      | mechanism                                                  |
//! |------------|------------------------------------------------------------|
//! | wall time  | pid 1's timer, always                                      |
//! | /tmp size  | tmpfs `size=`, always                                      |
//! | open files | RLIMIT_NOFILE, always                                      |
//! | pids       | cgroup `pids.max`, else RLIMIT_NPROC (not for host root)   |
//! | memory     | cgroup memory limit only                                   |
//! | cpu        | cgroup CPU quota only                                      |
//!
//! Since Linux 5.14 RLIMIT_NPROC counts the processes of a user *within
//! its user namespace*, so inside the sandbox it counts only the
//! sandbox's own processes. The kernel never applies it to processes whose
//! real uid is the host's root, though, so a sandbox started by root (uid
//! 1000 inside maps to 0 outside) needs the pids cgroup instead.
//!
//! Cgroups: with cgroup v1 (as on hybrid hosts) only root may create
//! cgroups, under `/sys/fs/cgroup/<controller>/htci/<id>`. With cgroup v2
//! an ordinary user can use a subtree the system delegated to it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Limits;
use crate::error::SandboxError;
use crate::sys;

/// Mount point of the cgroup file systems.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup controllers that enforce sandbox limits.
const SANDBOX_CONTROLLERS: &[&str] = &["pids", "memory", "cpu"];

/// The period of the CPU quota, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// A limit of [`Limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// [`Limits::wall_time`].
    WallTime,
    /// [`Limits::pids`].
    Pids,
    /// [`Limits::open_files`].
    OpenFiles,
    /// [`Limits::tmp_size_bytes`].
    TmpSize,
    /// [`Limits::memory_bytes`].
    Memory,
    /// [`Limits::cpu_quota`].
    Cpu,
}

/// The requested limits in force, with their mechanism, and those not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// Requested limits in force, with the mechanism (`cgroup v1`, ...).
    pub enforced: Vec<(LimitKind, String)>,
    /// Requested limits this host cannot enforce, with the reason.
    pub not_enforced: Vec<(LimitKind, String)>,
}

impl Enforcement {
    /// Returns whether `kind` was requested and is in force.
    pub fn is_enforced(&self, kind: LimitKind) -> bool {
        self.enforced.iter().any(|(k, _)| *k == kind)
    }
}

/// The kind of cgroup access this host gives the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupSupport {
    /// A cgroup v2 directory this user may create children in, with the
    /// controllers available there.
    V2Delegated {
        dir: PathBuf,
        controllers: Vec<String>,
    },
    /// cgroup v1 controllers mounted at `/sys/fs/cgroup/<name>`, usable
    /// because the runner is root.
    V1Root { controllers: Vec<String> },
    /// No usable cgroup; the reason.
    Unavailable { reason: String },
}

/// Detects how cgroups can be used by the current process.
pub fn detect_cgroups() -> CgroupSupport {
    let root = Path::new(CGROUP_ROOT);
    // SAFETY: geteuid cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;

    if let Some(dir) = delegated_v2_dir(root) {
        let controllers = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        let controllers: Vec<String> = controllers
            .split_whitespace()
            .filter(|c| SANDBOX_CONTROLLERS.contains(c))
            .map(str::to_owned)
            .collect();
        // A hybrid host's v2 hierarchy may hold only other controllers
        // (such as hugetlb); then the v1 hierarchies are the usable ones.
        if !controllers.is_empty() {
            return CgroupSupport::V2Delegated { dir, controllers };
        }
    }
    let v1: Vec<String> = SANDBOX_CONTROLLERS
        .iter()
        .copied()
        .filter(|c| root.join(c).join("cgroup.procs").exists())
        .map(str::to_owned)
        .collect();
    if !v1.is_empty() && is_root {
        return CgroupSupport::V1Root { controllers: v1 };
    }
    let reason = if v1.is_empty() {
        "no cgroup v2 subtree is delegated to this user and no cgroup v1 controller is mounted"
    } else {
        "this host has cgroup v1, which only root may use, and no delegated cgroup v2 subtree"
    };
    CgroupSupport::Unavailable {
        reason: reason.to_owned(),
    }
}

/// Returns the current process's cgroup v2 directory when it is writable.
fn delegated_v2_dir(root: &Path) -> Option<PathBuf> {
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let relative = own.lines().find_map(|line| line.strip_prefix("0::"))?;
    let mount = [root.to_path_buf(), root.join("unified")]
        .into_iter()
        .find(|m| m.join("cgroup.controllers").exists())?;
    let dir = mount.join(relative.trim_start_matches('/'));
    let cdir = sys::cstring(&dir).ok()?;
    // SAFETY: `cdir` is a valid C string.
    let writable = unsafe { libc::access(cdir.as_ptr(), libc::W_OK) } == 0;
    writable.then_some(dir)
}

/// Sets the rlimits of the command process. Runs in the forked child
/// before execve.
pub fn apply_rlimits(limits: &Limits, pids_by_rlimit: bool) -> io::Result<()> {
    // No core dumps: they would be written into the sandbox's cwd, and
    // their content could be read by a later step.
    sys::set_rlimit(libc::RLIMIT_CORE, 0)?;
    if let Some(open_files) = limits.open_files {
        sys::set_rlimit(libc::RLIMIT_NOFILE, open_files)?;
    }
    if pids_by_rlimit {
        if let Some(pids) = limits.pids {
            sys::set_rlimit(libc::RLIMIT_NPROC, pids)?;
        }
    }
    Ok(())
}

/// The cgroups of one sandbox, removed on drop.
///
/// A runner killed with SIGKILL cannot remove its sandboxes' cgroups, so
/// each new sandbox first removes the empty ones whose runner has died
/// (see [`remove_stale_cgroups`]).
#[derive(Debug)]
pub struct SandboxCgroups {
    dirs: Vec<PathBuf>,
}

impl SandboxCgroups {
    /// Creates and configures the cgroups for `limits`, and records which
    /// limits are enforced how. Returns no cgroups when none is needed or
    /// possible.
    pub fn create(
        limits: &Limits,
        support: &CgroupSupport,
        id: &str,
        enforcement: &mut Enforcement,
    ) -> Result<Option<Self>, SandboxError> {
        let wanted = cgroup_settings(limits);
        record_fixed_limits(limits, enforcement);
        if wanted.is_empty() {
            return Ok(None);
        }

        let mut cgroups = Self { dirs: Vec::new() };
        match support {
            CgroupSupport::V1Root { controllers } => {
                for (kind, controller, settings) in wanted {
                    if !controllers.iter().any(|c| c == controller) {
                        not_enforced(
                            limits,
                            kind,
                            "the cgroup v1 controller is not mounted",
                            enforcement,
                        );
                        continue;
                    }
                    let parent = Path::new(CGROUP_ROOT).join(controller).join("htci");
                    remove_stale_cgroups(&parent, "");
                    let dir = parent.join(id);
                    cgroups.make(&dir)?;
                    write_settings(&dir, &settings.v1)?;
                    enforcement.enforced.push((kind, "cgroup v1".to_owned()));
                }
            }
            CgroupSupport::V2Delegated { dir, controllers } => {
                let child = dir.join(format!("htci-{id}"));
                let usable: Vec<_> = wanted
                    .into_iter()
                    .filter(|(kind, controller, _)| {
                        let available = controllers.iter().any(|c| c == controller);
                        if !available {
                            not_enforced(
                                limits,
                                *kind,
                                "the cgroup v2 controller is not delegated",
                                enforcement,
                            );
                        }
                        available
                    })
                    .collect();
                if !usable.is_empty() {
                    remove_stale_cgroups(dir, "htci-");
                    enable_v2_controllers(dir, &usable)?;
                    cgroups.make(&child)?;
                    for (kind, _, settings) in usable {
                        write_settings(&child, &settings.v2)?;
                        enforcement.enforced.push((kind, "cgroup v2".to_owned()));
                    }
                }
            }
            CgroupSupport::Unavailable { reason } => {
                for (kind, _, _) in wanted {
                    not_enforced(limits, kind, reason, enforcement);
                }
            }
        }
        Ok((!cgroups.dirs.is_empty()).then_some(cgroups))
    }

    /// Returns the `cgroup.procs` files the init process joins.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    fn make(&mut self, dir: &Path) -> Result<(), SandboxError> {
        if !self.dirs.iter().any(|d| d == dir) {
            fs::create_dir_all(dir).map_err(|source| SandboxError::Cgroup {
                operation: "create",
                path: dir.to_path_buf(),
                source,
            })?;
            self.dirs.push(dir.to_path_buf());
        }
        Ok(())
    }

    /// Removes the cgroups. Every process in them must have exited.
    pub fn remove(&mut self) {
        for dir in self.dirs.drain(..) {
            if let Err(error) = fs::remove_dir(&dir) {
                tracing::warn!(path = %dir.display(), %error, "failed to remove sandbox cgroup");
            }
        }
    }
}

impl Drop for SandboxCgroups {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes the cgroups below `parent` named `{prefix}sandbox-<pid>-<n>`
/// whose creating process `<pid>` no longer exists. The kernel refuses to
/// remove a cgroup that still contains processes, so only empty ones go, and
/// a cgroup of a live runner (or of a reused pid) stays.
fn remove_stale_cgroups(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(prefix))
            .and_then(|name| name.strip_prefix("sandbox-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 sends nothing; it only checks whether
        // a process with this pid exists.
        let gone = unsafe { libc::kill(pid, 0) } == -1
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let path = entry.path();
            match fs::remove_dir(&path) {
                Ok(()) => tracing::debug!(path = %path.display(), "removed stale sandbox cgroup"),
                Err(error) => {
                    tracing::debug!(path = %path.display(), %error, "kept stale sandbox cgroup")
                }
            }
        }
    }
}

/// Cgroup files to write for one limit, in both cgroup versions.
struct Settings {
    v1: Vec<(&'static str, String)>,
    v2: Vec<(&'static str, String)>,
}

/// Lists the requested limits that cgroups enforce: (limit, controller, files).
fn cgroup_settings(limits: &Limits) -> Vec<(LimitKind, &'static str, Settings)> {
    let mut wanted = Vec::new();
    if let Some(pids) = limits.pids {
        let settings = Settings {
            v1: vec![("pids.max", pids.to_string())],
            v2: vec![("pids.max", pids.to_string())],
        };
        wanted.push((LimitKind::Pids, "pids", settings));
    }
    if let Some(bytes) = limits.memory_bytes {
        let settings = Settings {
            // The RAM limit first: the kernel rejects a RAM+swap limit
            // (memsw) below the RAM limit.
            v1: vec![
                ("memory.limit_in_bytes", bytes.to_string()),
                ("memory.memsw.limit_in_bytes", bytes.to_string()),
            ],
            v2: vec![
                ("memory.max", bytes.to_string()),
                ("memory.swap.max", "0".to_owned()),
            ],
        };
        wanted.push((LimitKind::Memory, "memory", settings));
    }
    if let Some(cores) = limits.cpu_quota {
        let quota = ((cores * CPU_PERIOD_US as f64) as u64).max(1000);
        let settings = Settings {
            v1: vec![
                ("cpu.cfs_period_us", CPU_PERIOD_US.to_string()),
                ("cpu.cfs_quota_us", quota.to_string()),
            ],
            v2: vec![("cpu.max", format!("{quota} {CPU_PERIOD_US}"))],
        };
        wanted.push((LimitKind::Cpu, "cpu", settings));
    }
    wanted
}

/// Records the limits whose mechanism does not depend on the host.
fn record_fixed_limits(limits: &Limits, enforcement: &mut Enforcement) {
    if limits.wall_time.is_some() {
        enforcement
            .enforced
            .push((LimitKind::WallTime, "pid 1 timer".to_owned()));
    }
    if limits.tmp_size_bytes.is_some() {
        enforcement
            .enforced
            .push((LimitKind::TmpSize, "tmpfs size".to_owned()));
    }
    if limits.open_files.is_some() {
        enforcement
            .enforced
            .push((LimitKind::OpenFiles, "RLIMIT_NOFILE".to_owned()));
    }
}

/// Records a limit that no cgroup enforces. Pids fall back to RLIMIT_NPROC
/// where the kernel applies it; everything else is reported and warned.
fn not_enforced(limits: &Limits, kind: LimitKind, reason: &str, enforcement: &mut Enforcement) {
    if kind == LimitKind::Pids && limits.pids.is_some() && rlimit_nproc_applies() {
        enforcement.enforced.push((kind, "RLIMIT_NPROC".to_owned()));
        return;
    }
    enforcement.not_enforced.push((kind, reason.to_owned()));
}

/// Returns whether RLIMIT_NPROC binds the sandbox. The kernel exempts
/// processes whose real uid is the host's root.
pub fn rlimit_nproc_applies() -> bool {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() != 0 }
}

/// Cgroup files that exist only when the host has swap accounting; the
/// swap limit is skipped without them.
const OPTIONAL_FILES: &[&str] = &["memory.memsw.limit_in_bytes", "memory.swap.max"];

fn write_settings(dir: &Path, settings: &[(&'static str, String)]) -> Result<(), SandboxError> {
    for (file, value) in settings {
        let path = dir.join(file);
        if OPTIONAL_FILES.contains(file) && !path.exists() {
            continue;
        }
        fs::write(&path, value).map_err(|source| SandboxError::Cgroup {
            operation: "write",
            path,
            source,
        })?;
    }
    Ok(())
}

fn enable_v2_controllers(
    parent: &Path,
    usable: &[(LimitKind, &'static str, Settings)],
) -> Result<(), SandboxError> {
    let path = parent.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&path).unwrap_or_default();
    let missing: Vec<String> = usable
        .iter()
        .map(|(_, c, _)| *c)
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // NOTE: this fails with EBUSY when the runner itself is in `parent`,
    // because cgroup v2 allows no processes in a cgroup that delegates
    // controllers. Run htci in its own delegated scope, for example with
    // `systemd-run --user --scope -p Delegate=yes`. This path has not run
    // on a host with a delegated cgroup v2 subtree yet.
    fs::write(&path, missing.join(" ")).map_err(|source| SandboxError::Cgroup {
        operation: "enable controllers in",
        path,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cpu_quota_is_cores_times_period() {
        let limits = Limits {
            cpu_quota: Some(1.5),
            ..Limits::default()
        };
        let wanted = cgroup_settings(&limits);
        assert_eq!(wanted.len(), 1);
        assert_eq!(wanted[0].2.v1[1], ("cpu.cfs_quota_us", "150000".to_owned()));
        assert_eq!(wanted[0].2.v2[0], ("cpu.max", "150000 100000".to_owned()));
    }

    #[test]
    fn unavailable_cgroups_report_memory_not_enforced() {
        let limits = Limits {
            memory_bytes: Some(1 << 30),
            wall_time: Some(Duration::from_secs(5)),
            ..Limits::default()
        };
        let support = CgroupSupport::Unavailable {
            reason: "no cgroups here".to_owned(),
        };
        let mut enforcement = Enforcement::default();
        let cgroups = SandboxCgroups::create(&limits, &support, "t", &mut enforcement).unwrap();
        assert!(cgroups.is_none());
        assert_eq!(
            enforcement.not_enforced,
            vec![(LimitKind::Memory, "no cgroups here".to_owned())]
        );
        assert!(enforcement.is_enforced(LimitKind::WallTime));
    }

    #[test]
    fn stale_cgroups_of_dead_runners_removed() {
        let parent = tempfile::tempdir().unwrap();
        // No process can have a pid above the kernel's maximum, 2^22.
        let dead = parent.path().join("sandbox-4194305-0");
        let live = parent
            .path()
            .join(format!("sandbox-{}-0", std::process::id()));
        let other = parent.path().join("unrelated-4194305-0");
        let busy = parent.path().join("sandbox-4194305-1");
        for dir in [&dead, &live, &other, &busy] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(busy.join("cgroup.procs"), "1\n").unwrap();

        remove_stale_cgroups(parent.path(), "");
        assert!(!dead.exists());
        assert!(live.exists());
        assert!(other.exists());
        assert!(busy.exists());
    }

    #[test]
    fn no_limits_need_no_cgroup() {
        let mut enforcement = Enforcement::default();
        let support = CgroupSupport::V1Root {
            controllers: vec!["pids".into()],
        };
        let cgroups =
            SandboxCgroups::create(&Limits::default(), &support, "t", &mut enforcement).unwrap();
        assert!(cgroups.is_none());
        assert_eq!(enforcement, Enforcement::default());
    }
}
