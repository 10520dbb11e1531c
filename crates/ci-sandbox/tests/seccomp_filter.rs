//! The built-in seccomp policies, installed in the real kernel.
//!
//! Each test forks the test process, installs a policy in the child and
//! makes raw system calls there. The child sets no_new_privs through
//! `seccomp::apply`, so no root is needed. The child reports each result
//! through a pipe as fixed-size records and exits; it allocates nothing
//! after the fork.
//!
//! Denied calls get invalid pointers and arguments, so that without the
//! filter they would fail with EFAULT, EINVAL or EBADF and never act. One
//! test swaps the policy's errno for a marker value, which proves that the
//! filter, and not a permission check of the kernel, rejected each call
//! whatever the privileges of the user running the tests.

use std::os::fd::RawFd;

use ci_sandbox::seccomp::{self, CompiledPolicy};

/// An address in the unmapped first page, so the kernel faults on it.
const BAD: libc::c_long = 8;

/// `errno` returned by the marker policy: EHWPOISON, which none of these
/// calls returns on its own.
const MARKER_ERRNO: i32 = libc::EHWPOISON;

/// `CLONE_SIGHAND` without `CLONE_VM`: the kernel rejects it with EINVAL,
/// so a clone that slipped through the filter would not create a process.
const CLONE_SIGHAND: libc::c_long = 0x800;

/// A system call and its arguments.
struct Call {
    name: String,
    nr: libc::c_long,
    args: [libc::c_long; 6],
}

fn call(name: impl Into<String>, nr: libc::c_long, args: [libc::c_long; 6]) -> Call {
    Call {
        name: name.into(),
        nr,
        args,
    }
}

/// Lists every call that the `default` policy denies with EPERM.
fn denied_calls() -> Vec<Call> {
    let mut calls = vec![
        call("keyctl", libc::SYS_keyctl, [0x7fff_ffff, 0, 0, 0, 0, 0]),
        call("add_key", libc::SYS_add_key, [BAD, BAD, BAD, 0, 0, 0]),
        call(
            "request_key",
            libc::SYS_request_key,
            [BAD, BAD, BAD, 0, 0, 0],
        ),
        call("bpf", libc::SYS_bpf, [0, BAD, 8, 0, 0, 0]),
        call(
            "perf_event_open",
            libc::SYS_perf_event_open,
            [BAD, 0, -1, -1, 0, 0],
        ),
        call(
            "userfaultfd",
            libc::SYS_userfaultfd,
            [1 | 0x8000, 0, 0, 0, 0, 0],
        ),
        call(
            "open_by_handle_at",
            libc::SYS_open_by_handle_at,
            [-1, BAD, 0, 0, 0, 0],
        ),
        call(
            "name_to_handle_at",
            libc::SYS_name_to_handle_at,
            [-1, BAD, BAD, BAD, 0x7fff, 0],
        ),
        call("mount", libc::SYS_mount, [BAD, BAD, BAD, 0, BAD, 0]),
        call("umount2", libc::SYS_umount2, [BAD, 0x100, 0, 0, 0, 0]),
        call(
            "move_mount",
            libc::SYS_move_mount,
            [-1, BAD, -1, BAD, 0xffff_ffff, 0],
        ),
        call(
            "open_tree",
            libc::SYS_open_tree,
            [-1, BAD, 0xffff_ffff, 0, 0, 0],
        ),
        call("fsopen", libc::SYS_fsopen, [BAD, 0xffff, 0, 0, 0, 0]),
        call("fsconfig", libc::SYS_fsconfig, [-1, 0xffff, BAD, BAD, 0, 0]),
        call("fsmount", libc::SYS_fsmount, [-1, 0xffff, 0xffff, 0, 0, 0]),
        call("fspick", libc::SYS_fspick, [-1, BAD, 0xffff, 0, 0, 0]),
        call(
            "mount_setattr",
            libc::SYS_mount_setattr,
            [-1, BAD, 0xffff_ffff, BAD, 0, 0],
        ),
        call("pivot_root", libc::SYS_pivot_root, [BAD, BAD, 0, 0, 0, 0]),
        call("chroot", libc::SYS_chroot, [BAD, 0, 0, 0, 0, 0]),
        call("ptrace", libc::SYS_ptrace, [0xffff, 0, 0, 0, 0, 0]),
        call(
            "process_vm_readv",
            libc::SYS_process_vm_readv,
            [0, BAD, 1, BAD, 1, 0xff],
        ),
        call(
            "process_vm_writev",
            libc::SYS_process_vm_writev,
            [0, BAD, 1, BAD, 1, 0xff],
        ),
        call("pidfd_getfd", libc::SYS_pidfd_getfd, [-1, -1, 1, 0, 0, 0]),
        call("kcmp", libc::SYS_kcmp, [0, 0, 99, 0, 0, 0]),
        call(
            "kexec_load",
            libc::SYS_kexec_load,
            [0, 0, BAD, 0xffff_ffff, 0, 0],
        ),
        call(
            "kexec_file_load",
            libc::SYS_kexec_file_load,
            [-1, -1, 0, BAD, 0xffff, 0],
        ),
        call("init_module", libc::SYS_init_module, [BAD, 0, BAD, 0, 0, 0]),
        call(
            "finit_module",
            libc::SYS_finit_module,
            [-1, BAD, 0xffff, 0, 0, 0],
        ),
        call(
            "delete_module",
            libc::SYS_delete_module,
            [BAD, 0, 0, 0, 0, 0],
        ),
        call("setns", libc::SYS_setns, [-1, 0, 0, 0, 0, 0]),
        call(
            "unshare",
            libc::SYS_unshare,
            [libc::CLONE_NEWUSER as libc::c_long, 0, 0, 0, 0, 0],
        ),
        call("reboot", libc::SYS_reboot, [0, 0, 0, 0, 0, 0]),
        call("swapon", libc::SYS_swapon, [BAD, 0, 0, 0, 0, 0]),
        call("swapoff", libc::SYS_swapoff, [BAD, 0, 0, 0, 0, 0]),
        call("acct", libc::SYS_acct, [BAD, 0, 0, 0, 0, 0]),
        call(
            "lookup_dcookie",
            libc::SYS_lookup_dcookie,
            [0, BAD, 0, 0, 0, 0],
        ),
        call("quotactl", libc::SYS_quotactl, [0, BAD, 0, BAD, 0, 0]),
        call("quotactl_fd", libc::SYS_quotactl_fd, [-1, 0, 0, BAD, 0, 0]),
        call("nfsservctl", libc::SYS_nfsservctl, [0, 0, 0, 0, 0, 0]),
        // ADDR_NO_RANDOMIZE.
        call(
            "personality",
            libc::SYS_personality,
            [0x0040000, 0, 0, 0, 0, 0],
        ),
        call("syslog", libc::SYS_syslog, [9999, 0, 0, 0, 0, 0]),
        call(
            "settimeofday",
            libc::SYS_settimeofday,
            [BAD, BAD, 0, 0, 0, 0],
        ),
        call(
            "clock_settime",
            libc::SYS_clock_settime,
            [0xffff, BAD, 0, 0, 0, 0],
        ),
        call(
            "clock_adjtime",
            libc::SYS_clock_adjtime,
            [0xffff, BAD, 0, 0, 0, 0],
        ),
        call("adjtimex", libc::SYS_adjtimex, [BAD, 0, 0, 0, 0, 0]),
        call("vhangup", libc::SYS_vhangup, [0, 0, 0, 0, 0, 0]),
        call(
            "fanotify_init",
            libc::SYS_fanotify_init,
            [0xffff_ffff, 0, 0, 0, 0, 0],
        ),
        call(
            "io_uring_setup",
            libc::SYS_io_uring_setup,
            [0, BAD, 0, 0, 0, 0],
        ),
        call(
            "io_uring_enter",
            libc::SYS_io_uring_enter,
            [-1, 0, 0, 0, 0, 0],
        ),
        call(
            "io_uring_register",
            libc::SYS_io_uring_register,
            [-1, 0, 0, 0, 0, 0],
        ),
        call(
            "ioctl(TIOCSTI)",
            libc::SYS_ioctl,
            [-1, 0x5412, BAD, 0, 0, 0],
        ),
        call(
            "ioctl(TIOCSTI with high bits)",
            libc::SYS_ioctl,
            [-1, 0xffff_ffff_0000_5412_u64 as libc::c_long, BAD, 0, 0, 0],
        ),
        call(
            "ioctl(TIOCLINUX)",
            libc::SYS_ioctl,
            [-1, 0x541c, BAD, 0, 0, 0],
        ),
        // An invalid socket type, so a socket that got through fails.
        call(
            "socket(AF_VSOCK)",
            libc::SYS_socket,
            [libc::AF_VSOCK.into(), 0xff, 0, 0, 0, 0],
        ),
    ];
    calls.extend(set_id_mode_calls());
    for (flag, name) in [
        (libc::CLONE_NEWNS, "clone(CLONE_NEWNS)"),
        (libc::CLONE_NEWCGROUP, "clone(CLONE_NEWCGROUP)"),
        (libc::CLONE_NEWUTS, "clone(CLONE_NEWUTS)"),
        (libc::CLONE_NEWIPC, "clone(CLONE_NEWIPC)"),
        (libc::CLONE_NEWUSER, "clone(CLONE_NEWUSER)"),
        (libc::CLONE_NEWPID, "clone(CLONE_NEWPID)"),
        (libc::CLONE_NEWNET, "clone(CLONE_NEWNET)"),
        (0x80, "clone(CLONE_NEWTIME)"),
    ] {
        let flags = flag as libc::c_long | CLONE_SIGHAND;
        calls.push(call(name, libc::SYS_clone, [flags, 0, 0, 0, 0, 0]));
    }
    calls.extend(arch_only_denied_calls());
    calls
}

/// `AT_FDCWD`: paths relative to the working directory.
const AT_FDCWD: libc::c_long = libc::AT_FDCWD as libc::c_long;

/// `fchmodat2` (Linux 6.6), which libc names on x86_64 only.
const SYS_FCHMODAT2: libc::c_long = 452;

/// Calls that would give a file a set-user-id or set-group-id mode.
fn set_id_mode_calls() -> Vec<Call> {
    let create = (libc::O_CREAT | libc::O_WRONLY) as libc::c_long;
    let tmpfile = (libc::O_TMPFILE | libc::O_WRONLY) as libc::c_long;
    let regular = libc::S_IFREG as libc::c_long;
    let mut calls = Vec::new();
    for (mode, name) in [(0o4755, "S_ISUID"), (0o2755, "S_ISGID")] {
        let named = |call_name: &str| format!("{call_name}({name})");
        calls.extend([
            call(named("fchmod"), libc::SYS_fchmod, [-1, mode, 0, 0, 0, 0]),
            call(
                named("fchmodat"),
                libc::SYS_fchmodat,
                [AT_FDCWD, BAD, mode, 0, 0, 0],
            ),
            call(
                named("fchmodat2"),
                SYS_FCHMODAT2,
                [AT_FDCWD, BAD, mode, 0, 0, 0],
            ),
            call(
                named("mknodat"),
                libc::SYS_mknodat,
                [AT_FDCWD, BAD, regular | mode, 0, 0, 0],
            ),
            call(
                named("openat O_CREAT"),
                libc::SYS_openat,
                [AT_FDCWD, BAD, create, mode, 0, 0],
            ),
            call(
                named("openat O_TMPFILE"),
                libc::SYS_openat,
                [AT_FDCWD, BAD, tmpfile, mode, 0, 0],
            ),
        ]);
        #[cfg(target_arch = "x86_64")]
        calls.extend([
            call(named("chmod"), libc::SYS_chmod, [BAD, mode, 0, 0, 0, 0]),
            call(named("creat"), libc::SYS_creat, [BAD, mode, 0, 0, 0, 0]),
            call(
                named("mknod"),
                libc::SYS_mknod,
                [BAD, regular | mode, 0, 0, 0, 0],
            ),
            call(
                named("open O_CREAT"),
                libc::SYS_open,
                [BAD, create, mode, 0, 0, 0],
            ),
        ]);
    }
    calls
}

#[cfg(target_arch = "x86_64")]
fn arch_only_denied_calls() -> Vec<Call> {
    vec![
        call("iopl", libc::SYS_iopl, [99, 0, 0, 0, 0, 0]),
        call(
            "ioperm",
            libc::SYS_ioperm,
            [libc::c_long::MAX, 1, 1, 0, 0, 0],
        ),
        call("uselib", libc::SYS_uselib, [BAD, 0, 0, 0, 0, 0]),
        call("ustat", libc::SYS_ustat, [0, BAD, 0, 0, 0, 0]),
        call("sysfs", libc::SYS_sysfs, [99, 0, 0, 0, 0, 0]),
        call("_sysctl", libc::SYS__sysctl, [BAD, 0, 0, 0, 0, 0]),
        // Numbers from the x86_64 table; libc does not name them.
        call("create_module", 174, [BAD, 0, 0, 0, 0, 0]),
        call("get_kernel_syms", 177, [BAD, 0, 0, 0, 0, 0]),
        call("query_module", 178, [BAD, 0, 0, 0, 0, 0]),
    ]
}

#[cfg(not(target_arch = "x86_64"))]
fn arch_only_denied_calls() -> Vec<Call> {
    Vec::new()
}

/// Forks; the child runs `body` with the write end of a pipe and exits
/// with its return value. Returns what the child wrote and its raw wait
/// status.
fn run_forked(body: impl FnOnce(RawFd) -> i32) -> (Vec<i64>, i32) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [read_fd, write_fd] = fds;

    // SAFETY: the child only makes system calls and writes to the pipe
    // before _exit; it takes no lock that another test thread may hold.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: closing our copy of the read end in the child.
        unsafe { libc::close(read_fd) };
        let code = body(write_fd);
        // SAFETY: _exit ends the child without running the parent's
        // atexit handlers or test harness code.
        unsafe { libc::_exit(code) };
    }

    // SAFETY: the parent no longer needs the write end.
    unsafe { libc::close(write_fd) };
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        // SAFETY: `buffer` is valid for writes of its length.
        let n = unsafe { libc::read(read_fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n <= 0 {
            break;
        }
        bytes.extend_from_slice(&buffer[..n as usize]);
    }
    // SAFETY: closing the read end we own.
    unsafe { libc::close(read_fd) };

    let mut status = 0;
    // SAFETY: `status` is a valid writable int and `pid` is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let values = bytes
        .chunks_exact(8)
        .map(|chunk| i64::from_ne_bytes(chunk.try_into().unwrap()))
        .collect();
    (values, status)
}

/// Writes one value to the pipe, from the child.
fn report(fd: RawFd, value: i64) {
    let bytes = value.to_ne_bytes();
    // SAFETY: `bytes` is a valid buffer of 8 bytes.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

/// Makes a raw system call and returns its result, or minus errno.
fn raw_syscall(nr: libc::c_long, args: &[libc::c_long; 6]) -> i64 {
    // SAFETY: every argument is an integer or an address that the kernel
    // validates itself; the calls are chosen to fail before they act.
    let ret = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if ret == -1 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        ret as i64
    }
}

/// Installs `policy` in a child, makes every call of `calls` and returns
/// each result (minus errno on failure).
fn results_under(policy: &CompiledPolicy, calls: &[Call]) -> Vec<i64> {
    let (results, status) = run_forked(|fd| {
        if seccomp::apply(policy).is_err() {
            return 100;
        }
        for call in calls {
            report(fd, raw_syscall(call.nr, &call.args));
        }
        0
    });
    assert!(
        libc::WIFEXITED(status),
        "child died with status {status:#x}"
    );
    assert_eq!(libc::WEXITSTATUS(status), 0, "installing the policy failed");
    assert_eq!(results.len(), calls.len());
    results
}

fn default_policy() -> CompiledPolicy {
    seccomp::load_policy("default").expect("default policy compiles")
}

#[test]
fn default_policy_denies_each_call_with_eperm() {
    let calls = denied_calls();
    let results = results_under(&default_policy(), &calls);
    for (call, result) in calls.iter().zip(results) {
        assert_eq!(
            result,
            -i64::from(libc::EPERM),
            "{} returned {result}",
            call.name
        );
    }
}

#[test]
fn filter_itself_rejects_each_call() {
    let marked = seccomp::DEFAULT_POLICY_JSON
        .replace(r#""errno": 1"#, &format!(r#""errno": {MARKER_ERRNO}"#));
    assert_ne!(marked, seccomp::DEFAULT_POLICY_JSON);
    let policy =
        seccomp::compile_policy("default with marker errno", &marked, std::env::consts::ARCH)
            .unwrap();

    let calls = denied_calls();
    let results = results_under(&policy, &calls);
    for (call, result) in calls.iter().zip(results) {
        assert_eq!(
            result,
            -i64::from(MARKER_ERRNO),
            "{} returned {result}",
            call.name
        );
    }
}

#[test]
fn clone3_and_openat2_fail_with_enosys() {
    // Calls that got through would fail with EFAULT on the bad address.
    let calls = [
        call("clone3", libc::SYS_clone3, [BAD, 88, 0, 0, 0, 0]),
        call("openat2", libc::SYS_openat2, [AT_FDCWD, BAD, BAD, 24, 0, 0]),
    ];
    let results = results_under(&default_policy(), &calls);
    assert_eq!(
        results,
        [-i64::from(libc::ENOSYS), -i64::from(libc::ENOSYS)]
    );
}

#[test]
fn plain_modes_are_still_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = std::ffi::CString::new(dir.path().join("f").to_str().unwrap()).unwrap();
    let path_arg = path.as_ptr() as libc::c_long;
    let create = (libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC) as libc::c_long;
    let calls = [
        call(
            "openat 0755",
            libc::SYS_openat,
            [AT_FDCWD, path_arg, create, 0o755, 0, 0],
        ),
        call(
            "fchmodat 1777",
            libc::SYS_fchmodat,
            [AT_FDCWD, path_arg, 0o1777, 0, 0, 0],
        ),
        call(
            "fchmodat 0644",
            libc::SYS_fchmodat,
            [AT_FDCWD, path_arg, 0o644, 0, 0, 0],
        ),
    ];
    let results = results_under(&default_policy(), &calls);
    assert!(results[0] >= 0, "openat returned {}", results[0]);
    assert_eq!(results[1..], [0, 0]);
    let mode = std::fs::metadata(dir.path().join("f")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o7777,
        0o644
    );
}

#[test]
fn guard_denies_x32_and_newer_syscalls() {
    let calls = [
        // getpid through the x32 ABI.
        call("x32 getpid", 0x4000_0000 | 39, [0; 6]),
        // open_tree_attr (Linux 6.15), newer than seccompiler's table.
        call("open_tree_attr", 467, [-1, BAD, 0xffff_ffff, BAD, 0, 0]),
    ];
    let results = results_under(&default_policy(), &calls);
    assert_eq!(results[0], -i64::from(libc::EPERM), "x32 getpid");
    assert_eq!(results[1], -i64::from(libc::ENOSYS), "open_tree_attr");
}

#[test]
fn allowed_calls_still_work() {
    let calls = [
        call("getpid", libc::SYS_getpid, [0; 6]),
        call(
            "personality query",
            libc::SYS_personality,
            [0xffff_ffff, 0, 0, 0, 0, 0],
        ),
        call(
            "socket(AF_INET)",
            libc::SYS_socket,
            [libc::AF_INET.into(), libc::SOCK_STREAM.into(), 0, 0, 0, 0],
        ),
        call(
            "socket(AF_NETLINK)",
            libc::SYS_socket,
            [libc::AF_NETLINK.into(), libc::SOCK_RAW.into(), 0, 0, 0, 0],
        ),
        // FIONREAD on standard input fails with an ordinary error or works,
        // but never with EPERM.
        call(
            "ioctl(FIONREAD)",
            libc::SYS_ioctl,
            [0, libc::FIONREAD as libc::c_long, BAD, 0, 0, 0],
        ),
    ];
    let results = results_under(&default_policy(), &calls);
    assert!(results[0] > 0, "getpid returned {}", results[0]);
    assert!(results[1] >= 0, "personality query returned {}", results[1]);
    assert!(results[2] >= 0, "socket(AF_INET) returned {}", results[2]);
    assert!(
        results[3] >= 0,
        "socket(AF_NETLINK) returned {}",
        results[3]
    );
    assert_ne!(results[4], -i64::from(libc::EPERM), "ioctl(FIONREAD)");
}

#[test]
fn status_shows_filters_and_no_new_privs() {
    let policy = default_policy();
    let (values, status) = run_forked(|fd| {
        if seccomp::apply(&policy).is_err() {
            return 100;
        }
        let mut buffer = [0u8; 8192];
        let Some(text) = read_small_file(c"/proc/self/status", &mut buffer) else {
            return 101;
        };
        for key in ["NoNewPrivs:", "Seccomp:", "Seccomp_filters:"] {
            let value = text
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.trim().parse::<i64>().ok())
                .unwrap_or(-1);
            report(fd, value);
        }
        0
    });
    assert_eq!(status, 0, "child status {status:#x}");
    assert_eq!(values[0], 1, "NoNewPrivs");
    assert_eq!(values[1], 2, "Seccomp mode (2 is filter)");
    let filters = policy.filter_names().count() as i64;
    assert_eq!(values[2], filters, "Seccomp_filters");
}

/// Reads a file of at most `buffer.len()` bytes without allocating.
fn read_small_file<'a>(path: &std::ffi::CStr, buffer: &'a mut [u8]) -> Option<&'a str> {
    // SAFETY: `path` is NUL-terminated; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut length = 0;
    while length < buffer.len() {
        let rest = &mut buffer[length..];
        // SAFETY: `rest` is valid for writes of its length.
        let n = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
        if n <= 0 {
            break;
        }
        length += n as usize;
    }
    // SAFETY: `fd` was opened above.
    unsafe { libc::close(fd) };
    std::str::from_utf8(&buffer[..length]).ok()
}

#[test]
fn fork_works_under_filter() {
    let policy = default_policy();
    let (values, status) = run_forked(|fd| {
        if seccomp::apply(&policy).is_err() {
            return 100;
        }
        // SAFETY: the grandchild only calls _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: ends the grandchild at once.
            unsafe { libc::_exit(7) };
        }
        let mut grandchild_status = 0;
        // SAFETY: `grandchild_status` is a valid writable int.
        unsafe { libc::waitpid(pid, &mut grandchild_status, 0) };
        report(fd, i64::from(pid));
        report(fd, i64::from(grandchild_status));
        0
    });
    assert_eq!(status, 0);
    assert!(values[0] > 0, "fork returned {}", values[0]);
    assert!(libc::WIFEXITED(values[1] as i32));
    assert_eq!(libc::WEXITSTATUS(values[1] as i32), 7);
}

extern "C" fn thread_body(argument: *mut libc::c_void) -> *mut libc::c_void {
    // Return the argument plus one to show the thread ran.
    (argument as usize + 1) as *mut libc::c_void
}

#[test]
fn threads_work_under_filter() {
    let policy = default_policy();
    let (values, status) = run_forked(|fd| {
        if seccomp::apply(&policy).is_err() {
            return 100;
        }
        // SAFETY: an all-zero pthread_t is a valid place for the id.
        let mut thread: libc::pthread_t = unsafe { std::mem::zeroed() };
        // SAFETY: `thread_body` matches the start routine signature and
        // ignores its argument's pointer value beyond arithmetic.
        let created = unsafe {
            libc::pthread_create(&mut thread, std::ptr::null(), thread_body, 41 as *mut _)
        };
        report(fd, i64::from(created));
        if created != 0 {
            return 0;
        }
        let mut returned: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: `thread` was created above and is joined once.
        unsafe { libc::pthread_join(thread, &mut returned) };
        report(fd, returned as i64);
        0
    });
    assert_eq!(status, 0);
    assert_eq!(
        values,
        [0, 42],
        "pthread_create result and thread return value"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn int80_syscall_kills_the_process() {
    let policy = default_policy();
    let (_, status) = run_forked(|_| {
        if seccomp::apply(&policy).is_err() {
            return 100;
        }
        // SAFETY: `int 0x80` with eax 20 is the i386 getpid; the filter
        // kills the process because the call's architecture is i386.
        unsafe {
            std::arch::asm!("int 0x80", inlateout("eax") 20 => _, options(nostack));
        }
        0
    });
    assert!(libc::WIFSIGNALED(status), "child status {status:#x}");
    assert_eq!(libc::WTERMSIG(status), libc::SIGSYS);
}

#[test]
fn strict_policy_limits_sockets_and_personality() {
    let policy = seccomp::load_policy("strict").unwrap();
    let calls = [
        call(
            "socket(AF_INET)",
            libc::SYS_socket,
            [libc::AF_INET.into(), 1, 0, 0, 0, 0],
        ),
        call(
            "socket(AF_UNIX)",
            libc::SYS_socket,
            [libc::AF_UNIX.into(), 1, 0, 0, 0, 0],
        ),
        call(
            "socket(NETLINK_ROUTE)",
            libc::SYS_socket,
            [libc::AF_NETLINK.into(), 3, 0, 0, 0, 0],
        ),
        call(
            "socket(AF_PACKET)",
            libc::SYS_socket,
            [libc::AF_PACKET.into(), 3, 0, 0, 0, 0],
        ),
        call(
            "socket(NETLINK_AUDIT)",
            libc::SYS_socket,
            [libc::AF_NETLINK.into(), 3, 9, 0, 0, 0],
        ),
        call(
            "socket(raw AF_INET)",
            libc::SYS_socket,
            [libc::AF_INET.into(), 3, 1, 0, 0, 0],
        ),
        call(
            "personality query",
            libc::SYS_personality,
            [0xffff_ffff, 0, 0, 0, 0, 0],
        ),
    ];
    let results = results_under(&policy, &calls);
    let eperm = -i64::from(libc::EPERM);
    assert!(results[0] >= 0, "socket(AF_INET) returned {}", results[0]);
    assert!(results[1] >= 0, "socket(AF_UNIX) returned {}", results[1]);
    assert!(
        results[2] >= 0,
        "socket(NETLINK_ROUTE) returned {}",
        results[2]
    );
    assert_eq!(results[3], eperm, "socket(AF_PACKET)");
    assert_eq!(results[4], eperm, "socket(NETLINK_AUDIT)");
    assert_eq!(results[5], eperm, "socket(raw AF_INET)");
    assert_eq!(results[6], eperm, "personality query");
}
