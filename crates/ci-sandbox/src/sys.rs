//! Thin wrappers over the raw system calls the sandbox needs.
//!
//! Each wrapper turns the C return convention into an `io::Result` so
//! callers can attach the operation and path to the error. They allocate
//! only to build C strings from paths, and the callers run them in
//! single-threaded processes (the init, pid 1 and the command before
//! `execve`), where allocating after `fork` is safe.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Converts a C return value into `io::Result`, reading `errno` on -1.
pub fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Converts a path into a C string, rejecting interior NUL bytes.
pub fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// `MOUNT_ATTR_RDONLY` and friends from `<linux/mount.h>`.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// No set-user-ID and set-group-ID execution.
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
/// No device files.
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
/// No execution.
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// `struct mount_attr` from `<linux/mount.h>`, version 0.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `AT_RECURSIVE` from `<linux/fcntl.h>`.
const AT_RECURSIVE: libc::c_int = 0x8000;

/// Adds the `MOUNT_ATTR_*` flags `set` to the mount at `path` and every
/// mount below it, with mount_setattr(2) (Linux 5.12). Flags the mounts
/// already have, including the ones a user namespace locks, stay.
pub fn add_mount_flags_recursively(path: &Path, set: u64) -> io::Result<()> {
    let cpath = cstring(path)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `cpath` and `attr` are valid for the call, and the size
    // passed is the size of `attr`.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            cpath.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(ret as libc::c_int).map(drop)
}

/// Returns whether the kernel has mount_setattr(2) and lets this process
/// call it: a call with a size of 0 fails with EINVAL then, and with
/// ENOSYS or EPERM (a container's seccomp filter) otherwise.
pub fn mount_setattr_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(probe_mount_setattr)
}

fn probe_mount_setattr() -> bool {
    // SAFETY: a null attribute pointer with size 0 is rejected before
    // the kernel reads anything.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            -1,
            c"".as_ptr(),
            0,
            std::ptr::null::<MountAttr>(),
            0usize,
        )
    };
    ret == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL)
}

/// Calls mount(2). `source` and `fstype` may be absent.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(cstring).transpose()?;
    let target = cstring(target)?;
    let fstype = fstype.map(|t| CString::new(t).expect("file system type has no NUL"));
    let data = data.map(|d| CString::new(d).expect("mount options have no NUL"));
    let ptr_or_null = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());

    // SAFETY: every pointer is either null or points to a NUL-terminated
    // string that outlives the call; mount(2) only reads them.
    let ret = unsafe {
        libc::mount(
            ptr_or_null(&source),
            target.as_ptr(),
            ptr_or_null(&fstype),
            flags,
            ptr_or_null(&data).cast(),
        )
    };
    check(ret).map(drop)
}

/// Calls umount2(2).
pub fn umount2(target: &Path, flags: libc::c_int) -> io::Result<()> {
    let target = cstring(target)?;
    // SAFETY: `target` is a valid NUL-terminated string for the call.
    check(unsafe { libc::umount2(target.as_ptr(), flags) }).map(drop)
}

/// Calls pivot_root(2), which has no glibc wrapper.
pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    let new_root = cstring(new_root)?;
    let put_old = cstring(put_old)?;
    // SAFETY: both arguments are valid NUL-terminated strings; the
    // system call only reads them.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    check(ret as libc::c_int).map(drop)
}

/// Calls unshare(2) with `CLONE_*` flags.
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes no pointers; the caller is single-threaded,
    // which CLONE_NEWUSER requires.
    check(unsafe { libc::unshare(flags) }).map(drop)
}

/// Forks the calling process. Returns 0 in the child and the child's pid
/// in the parent.
///
/// Callers are single-threaded, so the child may allocate and take locks.
pub fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: the sandbox forks only from single-threaded processes (the
    // init re-executed for this purpose, and pid 1), so no lock held by
    // another thread can be copied into the child in a locked state.
    let pid = unsafe { libc::fork() };
    check(pid)
}

/// Sends `signal` to `pid` (or to a group or every process for pid <= 0).
pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes no pointers.
    check(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Sets the signal the kernel sends to the caller when its parent thread
/// exits.
pub fn set_parent_death_signal(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes an integer argument only.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// Sets or clears the dumpable flag, which also controls who may open
/// `/proc/<pid>` files of the caller.
pub fn set_dumpable(dumpable: bool) -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes an integer argument only.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_DUMPABLE,
            libc::c_ulong::from(dumpable),
            0,
            0,
            0,
        )
    })
    .map(drop)
}

/// Sets no_new_privs, so execve can never grant privileges again.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// Closes every descriptor from `first` upwards.
pub fn close_from(first: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range takes integers only; the caller owns no Rust
    // object wrapping these descriptors that it uses afterwards.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) };
    check(ret as libc::c_int).map(drop)
}

/// Sets the close-on-exec flag of `fd` to `cloexec`.
pub fn set_cloexec(fd: libc::c_int, cloexec: bool) -> io::Result<()> {
    let flags = if cloexec { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: F_SETFD takes an integer argument only.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) }).map(drop)
}

/// Calls setrlimit(2) with the same soft and hard value.
pub fn set_rlimit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `limit` is a valid rlimit value that outlives the call.
    check(unsafe { libc::setrlimit(resource, &limit) }).map(drop)
}

/// Blocks `signals` for the calling thread and returns the previous mask.
pub fn block_signals(signals: &[libc::c_int]) -> io::Result<libc::sigset_t> {
    let set = signal_set(signals);
    // SAFETY: an all-zero sigset_t is a valid value to be overwritten.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are valid for the duration of the call.
    let ret = unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) };
    check(ret)?;
    Ok(old)
}

/// Unblocks every signal and resets every handler to its default, so the
/// command starts with the signal state a fresh process expects.
pub fn reset_signals() -> io::Result<()> {
    // execve resets caught signals by itself but keeps ignored ones, so
    // only those need a call. /proc/self/status names them in one read
    // where asking the kernel signal by signal takes 64 calls.
    let mut ignored = [u64::MAX];
    if read_status_masks(&["SigIgn"], &mut ignored).is_err() {
        ignored = [u64::MAX];
    }
    for signal in 1..=64 {
        let bit = 1u64 << (signal - 1);
        if signal == libc::SIGKILL || signal == libc::SIGSTOP || ignored[0] & bit == 0 {
            continue;
        }
        set_default_action(signal);
    }
    let empty = signal_set(&[]);
    // SAFETY: `empty` is a valid set for the duration of the call.
    check(unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) }).map(drop)
}

/// The kernel's `struct sigaction` on x86_64 and aarch64, which both
/// have `sa_restorer`.
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: libc::sighandler_t,
    mask: u64,
}

/// Sets the action of `signal` to the default with the raw system call,
/// because glibc refuses the signals it reserves (32 and 33), which a
/// parent may still have set to ignored. Errors are ignored: the only
/// failure is EINVAL for SIGKILL and SIGSTOP, which are always default.
fn set_default_action(signal: libc::c_int) {
    let action = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: `action` is a valid kernel sigaction for the duration of the
    // call, the old action is not requested, and 8 is the kernel's
    // sigset size on both architectures.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            &action as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        )
    };
}

/// Reads the hexadecimal masks called `names` (such as `SigIgn` or
/// `CapBnd`) from `/proc/self/status` into `masks`, without allocating.
/// Fails when the file cannot be read or lacks one of the names.
pub fn read_status_masks(names: &[&str], masks: &mut [u64]) -> io::Result<()> {
    // The whole file is about 1.5 KiB.
    let mut buffer = [0u8; 8192];
    // SAFETY: the path is a valid C string and the flags are constants.
    let fd = check(unsafe {
        libc::open(
            c"/proc/self/status".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    })?;
    let mut length = 0;
    let result = loop {
        let free = &mut buffer[length..];
        if free.is_empty() {
            break Err(io::Error::other("/proc/self/status is larger than 8 KiB"));
        }
        // SAFETY: `free` is a writable buffer of the given length.
        let read = unsafe { libc::read(fd, free.as_mut_ptr().cast(), free.len()) };
        match read {
            -1 => break Err(io::Error::last_os_error()),
            0 => break Ok(()),
            n => length += n as usize,
        }
    };
    // SAFETY: `fd` was opened above and is not used afterwards.
    unsafe { libc::close(fd) };
    result?;

    for (name, mask) in names.iter().zip(masks.iter_mut()) {
        *mask = status_mask(&buffer[..length], name.as_bytes()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a mask is missing in /proc/self/status",
            )
        })?;
    }
    Ok(())
}

/// Finds the line `<name>:\t<hex>` in `status` and parses the number.
fn status_mask(status: &[u8], name: &[u8]) -> Option<u64> {
    let line = status.split(|byte| *byte == b'\n').find(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.first() == Some(&b':'))
    })?;
    let value = line[name.len() + 1..].trim_ascii();
    let text = std::str::from_utf8(value).ok()?;
    u64::from_str_radix(text, 16).ok()
}

/// Builds a signal set holding `signals`.
pub fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is valid and sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &signal in signals {
        // SAFETY: `set` is valid and `signal` is a signal number.
        unsafe { libc::sigaddset(&mut set, signal) };
    }
    set
}

/// Waits for a signal of `set` for at most `timeout` (forever on `None`).
/// Returns `None` when the timeout passed.
pub fn wait_for_signal(
    set: &libc::sigset_t,
    timeout: Option<std::time::Duration>,
) -> io::Result<Option<libc::c_int>> {
    let spec = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |s| s as *const _);
    // SAFETY: `set` is a valid sigset, the info pointer may be null, and
    // `spec_ptr` is null or points to `spec`, alive for the call.
    let ret = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), spec_ptr) };
    if ret == -1 {
        let error = io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::EAGAIN) => Ok(None),
            Some(libc::EINTR) => Ok(Some(0)),
            _ => Err(error),
        };
    }
    Ok(Some(ret))
}

/// Non-blocking waitpid for any child. Returns `None` when no child has
/// changed state, and the pid and raw wait status otherwise.
pub fn reap_any() -> io::Result<Option<(libc::pid_t, libc::c_int)>> {
    let mut status = 0;
    // SAFETY: `status` is a valid writable int.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some((pid, status))),
    }
}

/// Blocking waitpid for `pid`, retried on EINTR. Returns the raw status.
pub fn wait_pid(pid: libc::pid_t) -> io::Result<libc::c_int> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid writable int.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == -1 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        return Ok(status);
    }
}

/// Writes all of `bytes` to `fd`, retrying on EINTR and short writes.
pub fn write_all(fd: libc::c_int, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid readable buffer of the given length.
        let ret = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if ret == -1 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        bytes = &bytes[ret as usize..];
    }
    Ok(())
}

/// Calls execve(2) with prepared null-terminated pointer arrays. Returns
/// only on failure, without allocating.
pub fn execve(
    program: &CStr,
    argv: &[*const libc::c_char],
    env: &[*const libc::c_char],
) -> io::Error {
    debug_assert!(argv.last().is_some_and(|p| p.is_null()));
    debug_assert!(env.last().is_some_and(|p| p.is_null()));
    // SAFETY: the caller builds both arrays from C strings that outlive
    // the call and ends each with a null pointer, as execve requires.
    unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), env.as_ptr()) };
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &[u8] = b"Name:\tsh\nSigIgn:\t0000000000384004\nCapInh:\t0000000000000000\n\
CapBndX:\t0000000000000007\nCapBnd:\t000001ffffffffff\n";

    #[test]
    fn status_mask_parses_the_named_line() {
        assert_eq!(status_mask(STATUS, b"SigIgn"), Some(0x384004));
        assert_eq!(status_mask(STATUS, b"CapInh"), Some(0));
        assert_eq!(status_mask(STATUS, b"CapBnd"), Some(0x1ff_ffff_ffff));
        assert_eq!(status_mask(STATUS, b"CapAmb"), None);
        assert_eq!(status_mask(STATUS, b"Name"), None);
    }

    #[test]
    fn status_masks_match_the_kernel_answers() {
        let mut masks = [0u64; 2];
        read_status_masks(&["SigIgn", "CapBnd"], &mut masks).unwrap();

        // glibc refuses sigaction for the signals it reserves (32, 33),
        // so the comparison covers the signals where sigaction succeeds.
        let (mut ignored, mut queried) = (0u64, 0u64);
        for signal in 1..=64 {
            // SAFETY: an all-zero sigaction is a valid buffer to overwrite.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: a null new action only reads the current one.
            let ret = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
            if ret == 0 {
                queried |= 1 << (signal - 1);
                if old.sa_sigaction == libc::SIG_IGN {
                    ignored |= 1 << (signal - 1);
                }
            }
        }
        assert_eq!(masks[0] & queried, ignored);

        let bounding = crate::capabilities::read_masks().unwrap().bounding;
        assert_eq!(masks[1], bounding);
    }

    #[test]
    fn missing_status_mask_is_an_error() {
        let mut masks = [0u64; 1];
        let error = read_status_masks(&["NoSuchMask"], &mut masks).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
