//! The sandbox's `/proc` and `/sys`.
//!
//! `/proc` is a new proc instance, so it lists only the processes of the
//! sandbox's pid namespace. Files that reveal or change kernel state are
//! masked or made read-only, following the list the OCI runtimes use.

use std::path::{Path, PathBuf};

use crate::init::InitError;
use crate::rootfs::Step;
use crate::sys;

/// Paths hidden behind `/dev/null` (files) or an empty read-only tmpfs
/// (directories), and whether each is a directory. They expose kernel
/// memory, keys, timers and hardware.
const MASKED: &[(&str, bool)] = &[
    ("/proc/acpi", true),
    ("/proc/asound", true),
    ("/proc/kcore", false),
    ("/proc/keys", false),
    ("/proc/latency_stats", false),
    ("/proc/timer_list", false),
    ("/proc/timer_stats", false),
    ("/proc/sched_debug", false),
    ("/proc/scsi", true),
    ("/sys/firmware", true),
    ("/sys/devices/virtual/powercap", true),
];

/// Paths that stay visible but read-only: writing to them would change
/// kernel settings or trigger kernel actions.
const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Appends the steps for `/proc` and, when `own_network` is true, `/sys`.
/// The kernel only lets a user namespace mount sysfs when it also owns the
/// network namespace, so with the host network there is no `/sys` at all.
pub fn plan(steps: &mut Vec<Step>, own_network: bool) {
    steps.push(Step::Proc {
        target: "/proc".into(),
    });
    if own_network {
        steps.push(Step::Sysfs {
            target: "/sys".into(),
        });
    }
    for (path, directory) in MASKED {
        steps.push(Step::Mask {
            target: PathBuf::from(path),
            directory: *directory,
        });
    }
    for path in READ_ONLY {
        steps.push(Step::ReadOnly {
            target: PathBuf::from(path),
        });
    }
}

/// Mounts proc on `target`. Must run in a process of the new pid
/// namespace: proc shows the pid namespace of the process mounting it.
pub fn mount_proc(target: &Path) -> Result<(), InitError> {
    std::fs::create_dir_all(target).map_err(|e| InitError::at("create directory", target, e))?;
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys::mount(Some(Path::new("proc")), target, Some("proc"), flags, None)
        .map_err(|e| InitError::at("mount proc on", target, e))
}

/// Mounts sysfs read-only on `target`, or leaves no `/sys` when the kernel
/// refuses, which it does when a host mount hides part of the host's sysfs.
pub fn mount_sysfs(target: &Path) -> Result<(), InitError> {
    std::fs::create_dir_all(target).map_err(|e| InitError::at("create directory", target, e))?;
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if let Err(error) = sys::mount(Some(Path::new("sysfs")), target, Some("sysfs"), flags, None) {
        tracing::debug!(%error, "sysfs cannot be mounted in this sandbox, leaving out /sys");
        std::fs::remove_dir(target).map_err(|e| InitError::at("remove directory", target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_network_has_no_sysfs() {
        let mut steps = Vec::new();
        plan(&mut steps, false);
        assert!(!steps.iter().any(|s| matches!(s, Step::Sysfs { .. })));
        assert_eq!(
            steps[0],
            Step::Proc {
                target: "/proc".into()
            }
        );
    }

    #[test]
    fn kcore_is_masked_and_sys_read_only() {
        let mut steps = Vec::new();
        plan(&mut steps, true);
        assert!(steps.contains(&Step::Mask {
            target: "/proc/kcore".into(),
            directory: false,
        }));
        assert!(steps.contains(&Step::ReadOnly {
            target: "/proc/sys".into()
        }));
    }
}
