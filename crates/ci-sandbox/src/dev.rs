//! The sandbox's `/dev`: a tmpfs holding a handful of host device nodes.
//!
//! A user namespace cannot create device nodes, so `/dev/null` and its
//! siblings are bind mounts of the host's nodes. Terminals come from a
//! private devpts instance, so the host's ptys stay out of reach.

use std::path::{Path, PathBuf};

use crate::init::InitError;
use crate::rootfs::Step;
use crate::sys;

/// Host device nodes bound into the sandbox's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Symbolic links every `/dev` has: (path, link target).
const LINKS: &[(&str, &str)] = &[
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

/// Appends the steps that build `/dev`.
pub fn plan(steps: &mut Vec<Step>) {
    steps.push(Step::Tmpfs {
        target: "/dev".into(),
        mode: 0o755,
        size_bytes: Some(64 << 10),
        read_only: false,
        noexec: true,
    });
    for name in DEVICES {
        let path = Path::new("/dev").join(name);
        steps.push(Step::BindDevice {
            source: path.clone(),
            target: path,
        });
    }
    for (path, link) in LINKS {
        steps.push(Step::Symlink {
            link: PathBuf::from(link),
            path: PathBuf::from(path),
        });
    }
    steps.push(Step::Devpts {
        target: "/dev/pts".into(),
    });
    steps.push(Step::Tmpfs {
        target: "/dev/shm".into(),
        mode: 0o1777,
        size_bytes: None,
        read_only: false,
        noexec: false,
    });
}

/// Mounts a new devpts instance on `target`.
pub fn mount_devpts(target: &Path) -> Result<(), InitError> {
    std::fs::create_dir_all(target).map_err(|e| InitError::at("create directory", target, e))?;
    // `newinstance` gives the sandbox its own pty numbering. `gid=5` is
    // left out, because group 5 (tty) is not mapped in the user namespace
    // and the kernel rejects a gid it cannot map.
    let options = "newinstance,ptmxmode=0666,mode=620";
    let flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    sys::mount(
        Some(Path::new("devpts")),
        target,
        Some("devpts"),
        flags,
        Some(options),
    )
    .map_err(|e| InitError::at("mount devpts on", target, e))
}
