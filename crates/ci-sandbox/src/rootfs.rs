//! The sandbox's root filesystem: a tmpfs with read-only binds on it.
//!
//! Building the root has two halves. [`plan`] looks at the host (or image)
//! and the configuration and returns a list of [`Step`]s, pure data that
//! unit tests inspect without privilege. [`enter`] then runs in pid 1 of
//! the new namespaces: it stages the new root on a tmpfs, executes the
//! steps, makes the root read-only and pivots into it.
//!
//! Targets in steps are paths inside the sandbox (`/usr`), and host
//! sources are absolute host paths. While the steps run, the host root is
//! reachable at [`OLD_ROOT`] and the new root at [`NEW_ROOT`], the layout
//! bubblewrap uses, so a source under the host's `/tmp` stays reachable.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::{RootFs, SANDBOX_HOME, SandboxConfig, WORKSPACE_DIR};
use crate::dev;
use crate::etc_cache;
use crate::init::InitError;
use crate::proc;
use crate::sys;

/// Location of the host root while the new root is assembled.
pub const OLD_ROOT: &str = "/oldroot";
/// Location of the new root while it is assembled.
pub const NEW_ROOT: &str = "/newroot";
/// Host directory over which the staging tmpfs is mounted. It only
/// changes inside the sandbox's private mount namespace.
const STAGING_MOUNT: &str = "/tmp";

/// Largest `/etc` file copied into the root instead of bound. Copying is
/// cheaper than a mount for the few-kilobyte configuration files, while
/// larger ones such as ld.so.cache are cheaper to bind.
const MAX_COPIED_FILE_BYTES: u64 = 16 << 10;

/// Size option of the root tmpfs, which contains the generated and copied
/// `/etc` files and the mount points.
const ROOT_TMPFS_SIZE: &str = "8m";

/// Top-level host entries that make up the `host` root, besides `/etc`.
const HOST_TOP_LEVEL: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Top-level entries of a directory image that the sandbox builds itself.
const GENERATED_TOP_LEVEL: &[&str] = &["etc", "proc", "dev", "sys", "tmp", "home", "run"];

const PASSWD_TEMPLATE: &str = include_str!("../../../rootfs/host/etc/passwd");
const GROUP_TEMPLATE: &str = include_str!("../../../rootfs/host/etc/group");
const ETC_FROM_HOST: &str = include_str!("../../../rootfs/host/etc-from-host.txt");

/// One step of assembling the root. Targets are sandbox paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create a directory (and its parents) with this mode.
    Mkdir { path: PathBuf, mode: u32 },
    /// Mount a tmpfs with the given mode, optional size, read-only or not.
    Tmpfs {
        target: PathBuf,
        mode: u32,
        size_bytes: Option<u64>,
        read_only: bool,
        noexec: bool,
    },
    /// Bind a host path (file or directory) recursively.
    Bind {
        source: PathBuf,
        target: PathBuf,
        writable: bool,
    },
    /// Remount a mount that a recursive bind copied from below its source,
    /// with the flags of that bind.
    RemountSubmount { target: PathBuf, writable: bool },
    /// Bind a host device node; device binds keep their own flags.
    BindDevice { source: PathBuf, target: PathBuf },
    /// Create a symbolic link at `path` pointing to `link`.
    Symlink { link: PathBuf, path: PathBuf },
    /// Copy a world-readable host file with its permission bits `mode`.
    /// `version` is the file as planned, which the `/etc` cache keys on.
    CopyFile {
        source: PathBuf,
        target: PathBuf,
        mode: u32,
        version: FileVersion,
    },
    /// Write a read-only regular file.
    WriteFile { path: PathBuf, contents: String },
    /// Mount a fresh proc for the sandbox's pid namespace.
    Proc { target: PathBuf },
    /// Mount sysfs read-only, or remove the mount point when the kernel
    /// refuses it (sysfs needs a network namespace of our own).
    Sysfs { target: PathBuf },
    /// Mount a private devpts instance.
    Devpts { target: PathBuf },
    /// Hide a file behind `/dev/null` or a directory behind an empty
    /// read-only tmpfs, as `directory` expects; missing paths are skipped.
    Mask { target: PathBuf, directory: bool },
    /// Make an existing path read-only by binding it onto itself.
    ReadOnly { target: PathBuf },
}

/// The identity of one version of a file: an edit changes its size or
/// times, a replacement its device or inode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileVersion {
    /// Device number.
    pub device: u64,
    /// Inode number on the device.
    pub inode: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds and nanoseconds.
    pub modified: (i64, i64),
    /// Inode change time, seconds and nanoseconds.
    pub changed: (i64, i64),
}

impl FileVersion {
    /// Returns the version that `meta` describes.
    pub fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Builds the list of steps for `config`. `host` is the host's root,
/// `/` except in unit tests.
pub fn plan(config: &SandboxConfig, host: &Path) -> io::Result<Vec<Step>> {
    let mut steps = Vec::new();
    match &config.root {
        RootFs::Host => plan_host_root(host, &config.hostname, &mut steps)?,
        RootFs::Dir(image) => {
            let image = resolve_host_path(image)?;
            plan_image_root(&image, host, &config.hostname, &mut steps)?
        }
    }

    steps.push(Step::Mkdir {
        path: "/home".into(),
        mode: 0o755,
    });
    steps.push(Step::Tmpfs {
        target: SANDBOX_HOME.into(),
        mode: 0o755,
        size_bytes: config.limits.tmp_size_bytes,
        read_only: false,
        noexec: false,
    });
    steps.push(Step::Tmpfs {
        target: "/tmp".into(),
        mode: 0o1777,
        size_bytes: config.limits.tmp_size_bytes,
        read_only: false,
        noexec: false,
    });
    steps.push(Step::Tmpfs {
        target: "/run".into(),
        mode: 0o755,
        size_bytes: Some(16 << 20),
        read_only: false,
        noexec: true,
    });
    if let Some(workspace) = &config.workspace {
        steps.push(Step::Bind {
            source: resolve_host_path(workspace)?,
            target: WORKSPACE_DIR.into(),
            writable: true,
        });
    }
    for bind in &config.binds {
        steps.push(Step::Bind {
            source: resolve_host_path(&bind.source)?,
            target: bind.target.clone(),
            writable: bind.writable,
        });
    }

    dev::plan(&mut steps);
    proc::plan(&mut steps, config.network != crate::Network::Host);

    // Without a usable cache the steps write the files into the root
    // tmpfs. The sandbox looks the same either way.
    let steps = match &config.etc_cache {
        Some(cache) => etc_cache::use_cache(&steps, cache).unwrap_or(steps),
        None => steps,
    };

    // mount_setattr makes the mounts below a bind read-only together with
    // it. Without it, each needs a remount step of its own.
    if sys::mount_setattr_available() {
        return Ok(steps);
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
    Ok(with_submount_steps(steps, &parse_mount_points(&mountinfo)))
}

/// Adds a [`Step::RemountSubmount`] after each bind whose host source has
/// mounts below it. A recursive bind copies those mounts with their own
/// flags, so a read-only bind would otherwise leave them writable.
fn with_submount_steps(steps: Vec<Step>, host_mounts: &[PathBuf]) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        let submounts: Vec<Step> = match &step {
            Step::Bind {
                source,
                target,
                writable,
            } => host_mounts
                .iter()
                .filter_map(|mount| path_below(mount, source))
                .map(|relative| Step::RemountSubmount {
                    target: target.join(relative),
                    writable: *writable,
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push(step);
        out.extend(submounts);
    }
    out
}

/// Returns `path` relative to `base` when it lies strictly below `base`.
/// Both are absolute and without `.`, `..` or repeated slashes, as
/// mountinfo and the planned sources are, so comparing bytes is enough,
/// and cheaper than `Path::strip_prefix`, which parses components. This
/// runs for every pair of bind and host mount.
fn path_below<'a>(path: &'a Path, base: &Path) -> Option<&'a Path> {
    let path = path.as_os_str().as_bytes();
    let base = base.as_os_str().as_bytes();
    let base = base.strip_suffix(b"/").unwrap_or(base);
    let rest = path.strip_prefix(base)?.strip_prefix(b"/")?;
    (!rest.is_empty()).then(|| Path::new(std::ffi::OsStr::from_bytes(rest)))
}

fn plan_host_root(host: &Path, hostname: &str, steps: &mut Vec<Step>) -> io::Result<()> {
    for name in HOST_TOP_LEVEL {
        plan_top_level_entry(&host.join(name), Path::new("/").join(name), steps)?;
    }

    let host_etc = resolve_host_path(&host.join("etc"))?;
    plan_generated_etc(
        PASSWD_TEMPLATE.to_owned(),
        GROUP_TEMPLATE.to_owned(),
        hostname,
        steps,
    );
    for name in etc_names_from_host() {
        plan_etc_bind(&host_etc.join(name), name, steps);
    }
    Ok(())
}

/// Names listed in `rootfs/host/etc-from-host.txt`, without comments.
fn etc_names_from_host() -> impl Iterator<Item = &'static str> {
    ETC_FROM_HOST
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

fn plan_image_root(
    image: &Path,
    host: &Path,
    hostname: &str,
    steps: &mut Vec<Step>,
) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(image)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let Some(text) = name.to_str() else { continue };
        if GENERATED_TOP_LEVEL.contains(&text) || text == "workspace" {
            continue;
        }
        plan_top_level_entry(&image.join(&name), Path::new("/").join(&name), steps)?;
    }

    let image_etc = image.join("etc");
    // An image whose /etc is a link is not followed out of the image.
    let image_etc_is_dir = fs::symlink_metadata(&image_etc).is_ok_and(|m| m.is_dir());
    let read_image_file = |name: &str| {
        image_etc_is_dir
            .then(|| read_regular_file(&image_etc.join(name)))
            .flatten()
            .unwrap_or_default()
    };
    let passwd = read_image_file("passwd");
    let group = read_image_file("group");
    plan_generated_etc(
        with_runner(&passwd, PASSWD_TEMPLATE),
        with_runner(&group, GROUP_TEMPLATE),
        hostname,
        steps,
    );

    let entries = fs::read_dir(&image_etc).ok().filter(|_| image_etc_is_dir);
    if let Some(entries) = entries {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| !matches!(n.as_str(), "passwd" | "group" | "hosts" | "resolv.conf"))
            .collect();
        names.sort();
        for name in &names {
            plan_image_etc_entry(&image_etc.join(name), name, steps);
        }
    }
    // The network configuration comes from the host the sandbox runs on.
    let host_etc = resolve_host_path(&host.join("etc"))?;
    for name in ["hosts", "resolv.conf"] {
        plan_etc_bind(&host_etc.join(name), name, steps);
    }
    Ok(())
}

/// Largest image `/etc/passwd` or `/etc/group` that is read.
const MAX_ACCOUNT_FILE_BYTES: u64 = 1 << 20;

/// Reads an image's account file: only a regular file, never through a
/// symbolic link, and at most [`MAX_ACCOUNT_FILE_BYTES`]. An image could
/// otherwise name a host file (`etc/passwd -> /etc/shadow`) that htci,
/// perhaps as root, would read and show inside the sandbox.
fn read_regular_file(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_ACCOUNT_FILE_BYTES {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_ACCOUNT_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Plans one entry of an image's `/etc`. A symbolic link becomes the same
/// link in the sandbox, where it resolves inside the image. Resolved on
/// the host, it could point at host files (`etc/leak ->
/// /root/.ssh/id_ed25519`). Anything else is planned as a host `/etc`
/// entry is.
fn plan_image_etc_entry(source: &Path, name: &str, steps: &mut Vec<Step>) {
    match fs::symlink_metadata(source) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if let Ok(link) = fs::read_link(source) {
                steps.push(Step::Symlink {
                    link,
                    path: Path::new("/etc").join(name),
                });
            }
        }
        Ok(_) => plan_etc_bind(source, name, steps),
        Err(_) => {}
    }
}

/// Adds the `runner` lines of `template` to `existing`, replacing any
/// entry with the same name or id 1000.
fn with_runner(existing: &str, template: &str) -> String {
    let runner: Vec<&str> = template
        .lines()
        .filter(|l| l.starts_with("runner:"))
        .collect();
    let mut out = String::new();
    for line in existing.lines() {
        let mut fields = line.split(':');
        let name = fields.next().unwrap_or_default();
        let id = fields.nth(1).unwrap_or_default();
        if name == "runner" || id == "1000" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    for line in runner {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Plans one top-level entry: directories are bound read-only, symbolic
/// links recreated (so merged-/usr links stay links), anything else and
/// missing entries skipped.
fn plan_top_level_entry(source: &Path, target: PathBuf, steps: &mut Vec<Step>) -> io::Result<()> {
    let Ok(meta) = fs::symlink_metadata(source) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        steps.push(Step::Symlink {
            link: fs::read_link(source)?,
            path: target,
        });
    } else if meta.is_dir() {
        steps.push(Step::Bind {
            source: source.to_path_buf(),
            target,
            writable: false,
        });
    }
    Ok(())
}

fn plan_generated_etc(passwd: String, group: String, hostname: &str, steps: &mut Vec<Step>) {
    steps.push(Step::Mkdir {
        path: "/etc".into(),
        mode: 0o755,
    });
    steps.push(Step::WriteFile {
        path: "/etc/passwd".into(),
        contents: passwd,
    });
    steps.push(Step::WriteFile {
        path: "/etc/group".into(),
        contents: group,
    });
    steps.push(Step::Symlink {
        link: "/proc/self/mounts".into(),
        path: "/etc/mtab".into(),
    });
    steps.push(Step::WriteFile {
        path: "/etc/hostname".into(),
        contents: format!("{hostname}\n"),
    });
}

/// Plans one `/etc` entry: a small regular file is copied into the root
/// tmpfs, which becomes read-only with it, and anything else is bound
/// read-only. Copying costs less than a mount and its teardown, and /etc
/// contains a few dozen such files. Symbolic links are resolved on the host
/// now, because an absolute link target would otherwise be resolved
/// against the staging root when the step runs.
///
/// `source`'s parent directory must be free of symbolic links already.
fn plan_etc_bind(source: &Path, name: &str, steps: &mut Vec<Step>) {
    let Ok(mut meta) = fs::symlink_metadata(source) else {
        return;
    };
    let mut resolved = source.to_path_buf();
    if meta.file_type().is_symlink() {
        let Ok(target) = fs::canonicalize(source) else {
            return;
        };
        let Ok(target_meta) = fs::metadata(&target) else {
            return;
        };
        (resolved, meta) = (target, target_meta);
    }
    let target = Path::new("/etc").join(name);
    // A copy belongs to the sandbox's user, so only files everyone may read
    // are copied. Others keep their owner through a bind.
    let mode = meta.permissions().mode();
    let copyable = meta.is_file() && meta.len() <= MAX_COPIED_FILE_BYTES && mode & 0o004 != 0;
    if copyable {
        steps.push(Step::CopyFile {
            source: resolved,
            target,
            mode: mode & 0o777,
            version: FileVersion::of(&meta),
        });
    } else {
        steps.push(Step::Bind {
            source: resolved,
            target,
            writable: false,
        });
    }
}

/// Resolves every symbolic link of a bind source now, while the host root
/// is `/`: during the setup an absolute link would resolve against the
/// staging root instead.
fn resolve_host_path(path: &Path) -> io::Result<PathBuf> {
    fs::canonicalize(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Assembles the root from `steps` and pivots into it, detaching the host
/// root. Runs in pid 1 of the sandbox, which has every capability of the
/// new user namespace.
pub fn enter(steps: &[Step]) -> Result<(), InitError> {
    // The modes in the steps are exact while the umask is 0, and the
    // command gets the caller's umask back afterwards.
    // SAFETY: umask takes an integer and changes only this process.
    let umask = unsafe { libc::umask(0) };
    let result = build_and_pivot(steps);
    // SAFETY: as above.
    unsafe { libc::umask(umask) };
    result
}

fn build_and_pivot(steps: &[Step]) -> Result<(), InitError> {
    stage()?;
    for step in steps {
        execute(step)?;
    }

    // Every mount point exists now, so the root tmpfs itself can become
    // read-only: writes outside /tmp, /home/runner, /workspace and the
    // writable binds fail with EROFS.
    let flags =
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(None, Path::new(NEW_ROOT), None, flags, None)
        .map_err(|e| InitError::new("remount the new root read-only", e))?;
    pivot_into_new_root()
}

/// Makes every mount private and moves the host root aside.
fn stage() -> Result<(), InitError> {
    // Mount events must not propagate back to the host: the new mount
    // namespace starts with copies of the host's shared peer groups, and
    // pivot_root also refuses a root with shared propagation.
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .map_err(|e| InitError::new("make / private (MS_REC|MS_PRIVATE)", e))?;

    let staging = Path::new(STAGING_MOUNT);
    sys::mount(
        Some(Path::new("tmpfs")),
        staging,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(|e| InitError::at("mount the staging tmpfs", staging, e))?;
    let new_root = staging.join(&NEW_ROOT[1..]);
    let old_root = staging.join(&OLD_ROOT[1..]);
    for dir in [&new_root, &old_root] {
        fs::create_dir(dir).map_err(|e| InitError::at("create directory", dir, e))?;
    }
    sys::mount(
        Some(Path::new("tmpfs")),
        &new_root,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("mode=0755,size={ROOT_TMPFS_SIZE}")),
    )
    .map_err(|e| InitError::at("mount the root tmpfs", &new_root, e))?;

    // pivot_root needs the new root to be a mount point and the old root
    // below it, so the staging tmpfs becomes the root for the duration of
    // the setup, with the host at /oldroot.
    sys::pivot_root(staging, &old_root)
        .map_err(|e| InitError::at("pivot_root into", staging, e))?;
    std::env::set_current_dir("/").map_err(|e| InitError::at("change directory", Path::new("/"), e))
}

/// Moves into the assembled root and detaches everything else.
fn pivot_into_new_root() -> Result<(), InitError> {
    let new_root = Path::new(NEW_ROOT);
    std::env::set_current_dir(new_root)
        .map_err(|e| InitError::at("change directory", new_root, e))?;

    // pivot_root(".", ".") stacks the old root on top of the new one at
    // "/". Detaching "." then removes the old root with every host mount
    // below it, so no path leads back to the host file system.
    let here = Path::new(".");
    sys::pivot_root(here, here).map_err(|e| InitError::at("pivot_root into", new_root, e))?;
    sys::umount2(here, libc::MNT_DETACH).map_err(|e| InitError::new("detach the old root", e))?;
    std::env::set_current_dir("/").map_err(|e| InitError::at("change directory", Path::new("/"), e))
}

/// Maps a sandbox path to its place under the new root.
fn in_new_root(path: &Path) -> PathBuf {
    Path::new(NEW_ROOT).join(path.strip_prefix("/").unwrap_or(path))
}

/// Maps a host path to its place under the moved host root.
fn in_old_root(path: &Path) -> PathBuf {
    Path::new(OLD_ROOT).join(path.strip_prefix("/").unwrap_or(path))
}

fn execute(step: &Step) -> Result<(), InitError> {
    tracing::debug!(?step, "sandbox setup step");
    match step {
        Step::Mkdir { path, mode } => make_dir(&in_new_root(path), *mode),
        Step::Tmpfs {
            target,
            mode,
            size_bytes,
            read_only,
            noexec,
        } => mount_tmpfs(
            &in_new_root(target),
            *mode,
            *size_bytes,
            *read_only,
            *noexec,
        ),
        Step::Bind {
            source,
            target,
            writable,
        } => bind(&in_old_root(source), &in_new_root(target), *writable),
        Step::RemountSubmount { target, writable } => {
            remount_keeping_locked_flags(&in_new_root(target), bind_flags(*writable))
        }
        Step::BindDevice { source, target } => {
            bind_device(&in_old_root(source), &in_new_root(target))
        }
        Step::Symlink { link, path } => {
            let path = in_new_root(path);
            make_parent(&path)?;
            std::os::unix::fs::symlink(link, &path)
                .map_err(|e| InitError::at("create symbolic link", &path, e))
        }
        Step::WriteFile { path, contents } => write_file(&in_new_root(path), contents),
        Step::CopyFile {
            source,
            target,
            mode,
            ..
        } => copy_file(&in_old_root(source), &in_new_root(target), *mode),
        Step::Proc { target } => proc::mount_proc(&in_new_root(target)),
        Step::Sysfs { target } => proc::mount_sysfs(&in_new_root(target)),
        Step::Devpts { target } => dev::mount_devpts(&in_new_root(target)),
        Step::Mask { target, directory } => mask(&in_new_root(target), *directory),
        Step::ReadOnly { target } => make_read_only(&in_new_root(target)),
    }
}

thread_local! {
    /// Directories of the new root known to exist, so the many files and
    /// mount points below the same directory cost one mkdir, not one each.
    static KNOWN_DIRS: RefCell<HashSet<PathBuf>> = RefCell::new(HashSet::new());
}

fn make_dir(path: &Path, mode: u32) -> Result<(), InitError> {
    if KNOWN_DIRS.with_borrow(|known| known.contains(path)) {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| InitError::at("create directory", path, e))?;
    KNOWN_DIRS.with_borrow_mut(|known| known.extend(path.ancestors().map(Path::to_path_buf)));
    Ok(())
}

fn make_parent(path: &Path) -> Result<(), InitError> {
    match path.parent() {
        Some(parent) => make_dir(parent, 0o755),
        None => Ok(()),
    }
}

fn write_file(path: &Path, contents: &str) -> Result<(), InitError> {
    create_file(path, contents.as_bytes(), 0o644)
}

/// Copies a small file with plain reads and writes, which costs fewer
/// system calls than fs::copy's copy_file_range and sendfile attempts.
fn copy_file(source: &Path, target: &Path, mode: u32) -> Result<(), InitError> {
    let contents = fs::read(source).map_err(|e| InitError::at("read", source, e))?;
    create_file(target, &contents, mode)
}

/// Creates `path` with `contents` and permission bits `mode`, exact
/// because [`enter`] clears the umask while it runs.
fn create_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), InitError> {
    make_parent(path)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| InitError::at("create file", path, e))?;
    file.write_all(contents)
        .map_err(|e| InitError::at("write file", path, e))
}

/// Creates an empty file or directory to mount over, matching `source`.
/// Returns whether `source` is a directory.
fn make_mount_point(source: &Path, target: &Path) -> Result<bool, InitError> {
    let meta = fs::metadata(source).map_err(|e| InitError::at("inspect bind source", source, e))?;
    if meta.is_dir() {
        make_dir(target, 0o755)?;
        return Ok(true);
    }
    make_parent(target)?;
    if fs::symlink_metadata(target).is_err() {
        fs::File::create(target).map_err(|e| InitError::at("create mount point", target, e))?;
    }
    Ok(false)
}

fn mount_tmpfs(
    target: &Path,
    mode: u32,
    size: Option<u64>,
    read_only: bool,
    noexec: bool,
) -> Result<(), InitError> {
    make_dir(target, 0o755)?;
    let mut options = format!("mode={mode:o}");
    if let Some(size) = size {
        options.push_str(&format!(",size={size}"));
    }
    let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
    if read_only {
        flags |= libc::MS_RDONLY;
    }
    if noexec {
        flags |= libc::MS_NOEXEC;
    }
    sys::mount(
        Some(Path::new("tmpfs")),
        target,
        Some("tmpfs"),
        flags,
        Some(&options),
    )
    .map_err(|e| InitError::at("mount tmpfs on", target, e))
}

/// Binds `source` onto `target` recursively; a read-only bind is then
/// remounted read-only together with every mount below it.
/// Binds `source` onto `target` recursively and remounts it with
/// [`bind_flags`]. Mounts copied from below the source get the same flags
/// from the [`Step::RemountSubmount`] steps that follow.
fn bind(source: &Path, target: &Path, writable: bool) -> Result<(), InitError> {
    make_mount_point(source, target)?;
    // MS_REC: inside a user namespace the kernel refuses a non-recursive
    // bind of a mount that has locked submounts (EINVAL).
    sys::mount(
        Some(source),
        target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|e| InitError::at(&format!("bind {} onto", source.display()), target, e))?;
    add_mount_flags(target, bind_flags(writable))
}

/// Adds the `MS_*` mount flags `flags` (read-only, nosuid, nodev,
/// noexec) to `target` and, where the kernel has mount_setattr, to every
/// mount below it in one call. Otherwise `target` is remounted alone, and
/// the plan has [`Step::RemountSubmount`] steps for the mounts below it.
fn add_mount_flags(target: &Path, flags: libc::c_ulong) -> Result<(), InitError> {
    if !sys::mount_setattr_available() {
        return remount_keeping_locked_flags(target, flags);
    }
    let attributes = [
        (libc::MS_RDONLY, sys::MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, sys::MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, sys::MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),
    ];
    let set = attributes
        .iter()
        .filter(|(flag, _)| flags & flag != 0)
        .fold(0, |set, (_, attribute)| set | attribute);
    sys::add_mount_flags_recursively(target, set)
        .map_err(|e| InitError::at("set mount flags (mount_setattr) on", target, e))
}

/// Returns the flags of a bind: never setuid or device files, read-only
/// unless `writable`.
fn bind_flags(writable: bool) -> libc::c_ulong {
    let read_only = if writable { 0 } else { libc::MS_RDONLY };
    libc::MS_NOSUID | libc::MS_NODEV | read_only
}

fn bind_device(source: &Path, target: &Path) -> Result<(), InitError> {
    make_mount_point(source, target)?;
    sys::mount(Some(source), target, None, libc::MS_BIND, None)
        .map_err(|e| InitError::at(&format!("bind device {} onto", source.display()), target, e))
}

fn make_read_only(target: &Path) -> Result<(), InitError> {
    let bound = sys::mount(
        Some(target),
        target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    );
    match bound {
        // This kernel has no such file: nothing to protect.
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        result => result.map_err(|e| InitError::at("bind onto itself", target, e))?,
    }
    // The targets are inside the sandbox's fresh proc, which has no mounts
    // below them, so the remount alone covers them on older kernels.
    add_mount_flags(
        target,
        libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
    )
}

/// Hides `target`, which the plan expects to be a directory or not. A
/// path this kernel lacks is skipped, and a path of the other kind gets
/// the other mask, so no stat is needed first.
fn mask(target: &Path, directory: bool) -> Result<(), InitError> {
    let result = if directory {
        mask_directory(target)
    } else {
        mask_file(target)
    };
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) if error.raw_os_error() == Some(libc::ENOTDIR) && directory => {
            mask_file(target).map_err(|e| InitError::at("mask file", target, e))
        }
        Err(error) if error.raw_os_error() == Some(libc::ENOTDIR) => {
            mask_directory(target).map_err(|e| InitError::at("mask directory", target, e))
        }
        result => result.map_err(|e| InitError::at("mask", target, e)),
    }
}

fn mask_directory(target: &Path) -> io::Result<()> {
    sys::mount(
        Some(Path::new("tmpfs")),
        target,
        Some("tmpfs"),
        libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some("size=0,mode=0555"),
    )
}

fn mask_file(target: &Path) -> io::Result<()> {
    let null = in_old_root(Path::new("/dev/null"));
    sys::mount(Some(&null), target, None, libc::MS_BIND, None)
}

/// Remounts a bind mount with `flags` added to the flags it already has.
fn remount_keeping_locked_flags(target: &Path, flags: libc::c_ulong) -> Result<(), InitError> {
    let existing = locked_flags(target).map_err(|e| InitError::at("statvfs", target, e))?;
    // A read-only bind needs this second call: the kernel ignores
    // MS_RDONLY on the MS_BIND call that creates the mount.
    let all = libc::MS_REMOUNT | libc::MS_BIND | flags | existing;
    sys::mount(None, target, None, all, None).map_err(|e| InitError::at("remount", target, e))
}

/// Returns the per-mount flags of `path` that a remount must keep. Inside
/// a user namespace the kernel locks the read-only, nosuid, nodev, noexec
/// and atime flags of mounts inherited from the parent namespace, and a
/// remount that would clear one fails with EPERM.
fn locked_flags(path: &Path) -> io::Result<libc::c_ulong> {
    let cpath = sys::cstring(path)?;
    // SAFETY: an all-zero statvfs is a valid buffer to be overwritten.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `cpath` is a valid C string and `stat` a writable buffer.
    sys::check(unsafe { libc::statvfs(cpath.as_ptr(), &mut stat) })?;
    let table = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    Ok(table
        .iter()
        .filter(|(st, _)| stat.f_flag & st != 0)
        .fold(0, |acc, (_, ms)| acc | ms))
}

/// Extracts the mount point field (the fifth) of each mountinfo line,
/// decoding the octal escapes the kernel uses for spaces and similar.
fn parse_mount_points(info: &str) -> Vec<PathBuf> {
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_octal(field)))
        .collect()
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let Some(digits) = escape {
            let value = digits
                .iter()
                .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            out.push(value as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Bind;

    fn fake_host() -> tempfile::TempDir {
        let host = tempfile::tempdir().unwrap();
        fs::create_dir_all(host.path().join("usr/bin")).unwrap();
        fs::create_dir_all(host.path().join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/bin", host.path().join("bin")).unwrap();
        std::os::unix::fs::symlink("usr/lib", host.path().join("lib")).unwrap();
        fs::create_dir_all(host.path().join("etc/ssl")).unwrap();
        fs::write(host.path().join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        fs::write(host.path().join("etc/shadow"), "root:secret\n").unwrap();
        host
    }

    #[test]
    fn host_root_binds_dirs_and_keeps_symlinks() {
        let host = fake_host();
        let steps = plan(&SandboxConfig::default(), host.path()).unwrap();
        assert!(steps.contains(&Step::Bind {
            source: host.path().join("usr"),
            target: "/usr".into(),
            writable: false,
        }));
        assert!(steps.contains(&Step::Symlink {
            link: "usr/bin".into(),
            path: "/bin".into(),
        }));
        let lib64 = steps
            .iter()
            .any(|s| matches!(s, Step::Bind { target, .. } if target == Path::new("/lib64")));
        assert!(!lib64, "missing host entries are skipped");
    }

    #[test]
    fn host_etc_takes_only_listed_entries() {
        let host = fake_host();
        let steps = plan(&SandboxConfig::default(), host.path()).unwrap();
        let etc_targets: Vec<_> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Bind { target, .. } | Step::CopyFile { target, .. }
                    if target.starts_with("/etc") =>
                {
                    Some(target.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            etc_targets,
            vec![PathBuf::from("/etc/hosts"), PathBuf::from("/etc/ssl")]
        );
    }

    #[test]
    fn generated_passwd_has_runner_1000() {
        let host = fake_host();
        let steps = plan(&SandboxConfig::default(), host.path()).unwrap();
        let passwd = steps
            .iter()
            .find_map(|s| match s {
                Step::WriteFile { path, contents } if path == Path::new("/etc/passwd") => {
                    Some(contents.clone())
                }
                _ => None,
            })
            .unwrap();
        assert!(
            passwd.contains("runner:x:1000:1000:runner:/home/runner:"),
            "{passwd}"
        );
    }

    #[test]
    fn image_passwd_gets_runner_replacing_uid_1000() {
        let merged = with_runner(
            "root:x:0:0::/root:/bin/sh\nubuntu:x:1000:1000::/home/ubuntu:/bin/sh\n",
            PASSWD_TEMPLATE,
        );
        assert!(merged.starts_with("root:x:0:0::/root:/bin/sh\n"));
        assert!(!merged.contains("ubuntu"));
        assert!(merged.contains("runner:x:1000:1000:"));
    }

    #[test]
    fn workspace_and_binds_follow_the_root() {
        let host = fake_host();
        let config = SandboxConfig {
            workspace: Some(host.path().join("usr")),
            binds: vec![Bind {
                source: host.path().join("etc"),
                target: "/data".into(),
                writable: true,
            }],
            ..SandboxConfig::default()
        };
        let steps = plan(&config, host.path()).unwrap();
        let workspace = steps.iter().position(|s| matches!(s, Step::Bind { target, writable: true, .. } if target == Path::new("/workspace")));
        let extra = steps.iter().position(|s| matches!(s, Step::Bind { target, writable: true, .. } if target == Path::new("/data")));
        let usr = steps
            .iter()
            .position(|s| matches!(s, Step::Bind { target, .. } if target == Path::new("/usr")));
        assert!(usr < workspace, "{steps:?}");
        assert!(workspace < extra, "{steps:?}");
    }

    #[test]
    fn tmp_gets_the_size_limit() {
        let host = fake_host();
        let mut config = SandboxConfig::default();
        config.limits.tmp_size_bytes = Some(1 << 20);
        let steps = plan(&config, host.path()).unwrap();
        assert!(steps.contains(&Step::Tmpfs {
            target: "/tmp".into(),
            mode: 0o1777,
            size_bytes: Some(1 << 20),
            read_only: false,
            noexec: false,
        }));
    }

    #[test]
    fn submounts_of_a_bind_are_remounted() {
        let steps = vec![Step::Bind {
            source: "/usr".into(),
            target: "/usr".into(),
            writable: false,
        }];
        let host_mounts = [
            PathBuf::from("/"),
            PathBuf::from("/usr"),
            PathBuf::from("/usr/local"),
            PathBuf::from("/usrx"),
        ];
        let steps = with_submount_steps(steps, &host_mounts);
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!(
            steps[1],
            Step::RemountSubmount {
                target: "/usr/local".into(),
                writable: false,
            }
        );
    }

    /// Creates an image whose /etc links point at host files.
    fn hostile_image(host: &Path) -> tempfile::TempDir {
        let image = tempfile::tempdir().unwrap();
        fs::create_dir_all(image.path().join("etc")).unwrap();
        fs::create_dir_all(image.path().join("usr")).unwrap();
        let secret = host.join("secret");
        fs::write(&secret, "host secret\n").unwrap();
        std::os::unix::fs::symlink(&secret, image.path().join("etc/leak")).unwrap();
        std::os::unix::fs::symlink("../../../..", image.path().join("etc/up")).unwrap();
        std::os::unix::fs::symlink(&secret, image.path().join("etc/passwd")).unwrap();
        fs::write(image.path().join("etc/group"), "wheel:x:10:\n").unwrap();
        image
    }

    #[test]
    fn image_etc_links_stay_links() {
        let host = fake_host();
        let image = hostile_image(host.path());
        let config = SandboxConfig {
            root: RootFs::Dir(image.path().to_path_buf()),
            ..SandboxConfig::default()
        };
        let steps = plan(&config, host.path()).unwrap();
        assert!(steps.contains(&Step::Symlink {
            link: host.path().join("secret"),
            path: "/etc/leak".into(),
        }));
        assert!(steps.contains(&Step::Symlink {
            link: "../../../..".into(),
            path: "/etc/up".into(),
        }));
        let sources: Vec<&PathBuf> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Bind { source, .. } | Step::CopyFile { source, .. } => Some(source),
                _ => None,
            })
            .collect();
        let secret = host.path().join("secret");
        assert!(!sources.contains(&&secret), "{sources:?}");
    }

    #[test]
    fn image_account_files_are_not_read_through_links() {
        let host = fake_host();
        let image = hostile_image(host.path());
        let config = SandboxConfig {
            root: RootFs::Dir(image.path().to_path_buf()),
            ..SandboxConfig::default()
        };
        let steps = plan(&config, host.path()).unwrap();
        let written = |name: &str| {
            steps
                .iter()
                .find_map(|s| match s {
                    Step::WriteFile { path, contents } if path == Path::new(name) => {
                        Some(contents.clone())
                    }
                    _ => None,
                })
                .unwrap()
        };
        let passwd = written("/etc/passwd");
        assert!(!passwd.contains("host secret"), "{passwd}");
        assert!(passwd.starts_with("runner:x:1000:1000:"), "{passwd}");
        assert!(written("/etc/group").starts_with("wheel:x:10:\nrunner:x:1000:"));
    }

    #[test]
    fn path_below_takes_only_strict_descendants() {
        let below = |path: &str, base: &str| {
            path_below(Path::new(path), Path::new(base)).map(Path::to_path_buf)
        };
        assert_eq!(below("/usr/local", "/usr"), Some("local".into()));
        assert_eq!(below("/usr/local/lib", "/usr"), Some("local/lib".into()));
        assert_eq!(below("/usr", "/usr"), None);
        assert_eq!(below("/usrx", "/usr"), None);
        assert_eq!(below("/us", "/usr"), None);
        assert_eq!(below("/proc", "/"), Some("proc".into()));
        assert_eq!(below("/", "/"), None);
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        let info = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n";
        assert_eq!(
            parse_mount_points(info),
            vec![PathBuf::from("/mnt/with space")]
        );
    }
}
