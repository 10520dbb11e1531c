//! Escape attempts against `htci sandbox`, from inside.
//!
//! Each test runs the attack program `tests/data/escape/escape.c` through
//! the real `htci sandbox -- ...` command and compares every line it
//! prints (`attempt: result`) with the exact outcome expected. The program
//! is compiled with `cc` into a temporary directory at test time, and each
//! test gets its own temporary workspace, so the suite also runs as an
//! unprivileged user with `HTCI_BIN` pointing to a copied `htci`.
//!
//! Where the expected outcome depends on the host (root or not, files that
//! exist on this kernel), the test computes it from the host first, and it
//! never accepts "any error".

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Source of the attack program, embedded so that the test binary needs
/// no access to the source tree.
const ATTACK_SOURCE: &str = include_str!("data/escape/escape.c");

/// Upper bound for one sandbox run, so that a broken sandbox fails the
/// test instead of hanging it. Not a timing assertion.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

fn htci() -> PathBuf {
    std::env::var_os("HTCI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_htci")))
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Compiles the attack program once per test process and returns the
/// executable's bytes. The build directory is removed at once, because a
/// static is never dropped.
fn attack_program() -> &'static [u8] {
    static PROGRAM: OnceLock<Vec<u8>> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("htci-escape-build-")
            .tempdir()
            .unwrap();
        let source = dir.path().join("escape.c");
        let program = dir.path().join("escape");
        fs::write(&source, ATTACK_SOURCE).unwrap();
        let output = Command::new("cc")
            .args(["-O1", "-Wall", "-o"])
            .arg(&program)
            .arg(&source)
            .output()
            .expect("cc must be installed to build the attack program");
        assert!(
            output.status.success(),
            "cc failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        fs::read(&program).unwrap()
    })
}

/// A temporary workspace holding a copy of the attack program.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("htci-escape-ws-")
            .tempdir()
            .unwrap();
        let program = dir.path().join("escape");
        fs::write(&program, attack_program()).unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `htci sandbox --workspace DIR OPTIONS -- /workspace/escape ATTACK`.
    fn command(&self, options: &[&str], attack: &[&str]) -> Command {
        let mut command = Command::new(htci());
        command
            .arg("sandbox")
            .arg("--workspace")
            .arg(self.path())
            .args(options)
            .arg("--")
            .arg("/workspace/escape")
            .args(attack)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs an attack and waits for it, at most [`RUN_DEADLINE`].
    fn run(&self, options: &[&str], attack: &[&str]) -> Run {
        let child = self.command(options, attack).spawn().unwrap();
        wait_with_deadline(child)
    }
}

/// Output and exit code of one sandbox run.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Parses the `attempt: result` lines into a map.
    fn results(&self) -> BTreeMap<String, String> {
        self.stdout
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(name, result)| (name.to_owned(), result.trim().to_owned()))
            .collect()
    }

    /// Returns the result of one attempt, and fails the test when it is missing.
    fn result(&self, attempt: &str) -> String {
        self.results().remove(attempt).unwrap_or_else(|| {
            panic!(
                "no result for {attempt:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Returns the value of a `/proc/self/status` line such as
    /// `CapEff:\t0000...`, which uses a tab instead of ": ".
    fn status_field(&self, key: &str) -> String {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .map(|rest| rest.trim().to_owned())
            .unwrap_or_else(|| panic!("no {key} line in:\n{}", self.stdout))
    }

    fn assert_exit(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }
}

fn wait_with_deadline(mut child: Child) -> Run {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });

    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > RUN_DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("htci sandbox still running after {RUN_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code(),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Pids of host processes whose command line contains `marker`.
fn host_processes_with(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            pids.push(pid);
        }
    }
    pids
}

/// Waits until no host process has `marker` in its command line, at most
/// `deadline`. Returns the pids still alive then.
fn wait_for_no_process_with(marker: &str, deadline: Duration) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let pids = host_processes_with(marker);
        if pids.is_empty() || start.elapsed() > deadline {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn unique_marker(name: &str) -> String {
    format!("htci-escape-{name}-{}-{}", std::process::id(), nanos())
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Lists the files below `dir` with a set-user-id or set-group-id bit.
fn set_id_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let mode = entry.metadata().unwrap().permissions().mode();
        if mode & 0o6000 != 0 {
            found.push(entry.path());
        }
    }
    found
}

/// Returns the errno that a sandboxed write to a read-only host file gets.
/// The kernel checks permissions before the read-only mount, and only the
/// host's root (mapped to uid 1000 inside) passes the permission check.
fn read_only_host_file_errno() -> &'static str {
    if is_root() { "EROFS" } else { "EACCES" }
}

#[test]
fn runner_binary_cannot_be_overwritten() {
    // CVE-2019-5736: runc's binary was overwritten through /proc/self/exe.
    let workspace = Workspace::new();
    let runner = htci();
    let runner = runner.to_str().unwrap();
    let before = fs::read(runner).unwrap();

    let run = workspace.run(&[], &["write-exe", runner]);

    run.assert_exit(0);
    // The program's own binary is busy while it runs.
    assert_eq!(run.result("open /proc/self/exe for writing"), "ETXTBSY");
    assert_eq!(run.result("open /proc/self/exe with O_PATH"), "ok");
    assert_eq!(run.result("reopen /proc/self/exe for writing"), "ETXTBSY");
    // Pid 1 is htci itself: its executable is out of reach.
    assert_eq!(run.result("open /proc/1/exe for writing"), "EACCES");
    assert_eq!(run.result("open /proc/1/exe with O_PATH"), "EACCES");
    assert_eq!(run.result("execute /proc/1/exe"), "EACCES");
    // The host path of the runner does not exist inside, unless it lies
    // in a directory the host root file system shares read-only.
    let shared = ["/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/"];
    let expected = if shared.iter().any(|dir| runner.starts_with(dir)) {
        "EROFS"
    } else {
        "ENOENT"
    };
    assert_eq!(run.result(&format!("open {runner} for writing")), expected);
    assert!(
        fs::read(runner).unwrap() == before,
        "the runner binary changed"
    );
}

#[test]
fn leaked_descriptor_does_not_reach_host() {
    // CVE-2024-21626: a host directory descriptor leaked into the
    // container and served as its working directory.
    let workspace = Workspace::new();
    // SAFETY: open takes a valid C string; no O_CLOEXEC, so children
    // inherit the descriptor.
    let raw = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    assert!(raw > 2, "open / failed");
    // SAFETY: `raw` is a new descriptor owned here.
    let leaked = unsafe { OwnedFd::from_raw_fd(raw) };

    // Control: a process started the same way outside the sandbox inherits it.
    let control = Command::new("ls").arg("/proc/self/fd").output().unwrap();
    let control_fds = String::from_utf8(control.stdout).unwrap();
    assert!(
        control_fds.lines().any(|fd| fd == raw.to_string()),
        "descriptor {raw} was not inherited by a child: {control_fds}"
    );

    let run = workspace.run(&[], &["leaked-fd"]);
    run.assert_exit(0);
    assert_eq!(run.result("cwd"), "/workspace");
    assert_eq!(run.result("open descriptors"), "0 1 2");
    assert_eq!(run.result("chdir through /proc/self/fd reached"), "0");
    assert!(!run.stdout.contains("escaped to"), "{}", run.stdout);

    // The same descriptor as the working directory of the command.
    let cwd = format!("/proc/self/fd/{raw}");
    let run = workspace.run(&["--cwd", &cwd], &["leaked-fd"]);
    run.assert_exit(125);
    assert!(
        run.stderr.contains(&format!(
            "change directory to {cwd}: No such file or directory"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    drop(leaked);
}

#[test]
fn ptrace_of_any_process_is_denied() {
    let run = Workspace::new().run(&[], &["ptrace"]);
    run.assert_exit(0);
    for attempt in [
        "ptrace attach pid 1",
        "ptrace seize pid 1",
        "ptrace attach own child",
        "ptrace traceme",
        "process_vm_readv pid 1",
    ] {
        assert_eq!(run.result(attempt), "EPERM", "{attempt}");
    }
    assert_eq!(run.result("open /proc/1/mem"), "EACCES");
}

/// Opens a pty pair in raw mode, so injected characters can be read back
/// without a newline, and returns (master, slave).
fn open_pty() -> (OwnedFd, OwnedFd) {
    use nix::sys::termios;
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let mut attributes = termios::tcgetattr(&pty.slave).unwrap();
    termios::cfmakeraw(&mut attributes);
    termios::tcsetattr(&pty.slave, termios::SetArg::TCSANOW, &attributes).unwrap();
    (pty.master, pty.slave)
}

/// Reads what is waiting on the pty's input queue, without blocking.
fn pending_input(slave: &OwnedFd) -> Vec<u8> {
    // SAFETY: F_GETFL/F_SETFL take integer arguments on an open descriptor.
    unsafe {
        let flags = libc::fcntl(slave.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(slave.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut buffer = [0u8; 64];
    // SAFETY: `buffer` is valid for writes of its length.
    let n = unsafe { libc::read(slave.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
    if n <= 0 {
        Vec::new()
    } else {
        buffer[..n as usize].to_vec()
    }
}

/// What TIOCSTI returns outside the sandbox on the controlling terminal.
fn tiocsti_outside_sandbox() -> String {
    let legacy = fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map(|text| text.trim() == "1")
        .unwrap_or(true);
    if legacy || is_root() { "ok" } else { "EIO" }.to_owned()
}

#[test]
fn tiocsti_cannot_inject_terminal_input() {
    // CVE-2017-5226 (TIOCSTI) and CVE-2019-10063 (the high-bits bypass).
    let workspace = Workspace::new();

    // Control: the same program outside the sandbox on its own pty.
    let (_control_master, control_slave) = open_pty();
    let control = Command::new(workspace.path().join("escape"))
        .arg("tiocsti")
        .stdin(Stdio::from(control_slave.try_clone().unwrap()))
        .output()
        .unwrap();
    let control_stdout = String::from_utf8(control.stdout).unwrap();
    let expected_outside = tiocsti_outside_sandbox();
    assert!(
        control_stdout.contains(&format!("TIOCSTI: {expected_outside}\n")),
        "control run outside the sandbox: {control_stdout}"
    );
    if expected_outside == "ok" {
        // The kernel compares only the low 32 bits of the request, so all
        // three variants typed an `x`.
        assert_eq!(pending_input(&control_slave), b"xxx", "{control_stdout}");
    }

    let (_master, slave) = open_pty();
    let mut command = workspace.command(&[], &["tiocsti"]);
    command.stdin(Stdio::from(slave.try_clone().unwrap()));
    let run = wait_with_deadline(command.spawn().unwrap());

    run.assert_exit(0);
    assert_eq!(run.result("isatty stdin"), "ok");
    assert_eq!(run.result("setsid"), "ok");
    assert_eq!(run.result("TIOCSCTTY"), "ok");
    assert_eq!(run.result("TIOCSTI"), "EPERM");
    assert_eq!(run.result("TIOCSTI with high bits"), "EPERM");
    assert_eq!(run.result("TIOCSTI with bit 32"), "EPERM");
    assert_eq!(run.result("TIOCLINUX"), "EPERM");
    assert_eq!(run.result("TIOCGWINSZ"), "ok");
    assert_eq!(
        pending_input(&slave),
        b"",
        "characters reached the terminal"
    );
}

#[test]
fn denied_syscalls_fail_with_eperm() {
    let run = Workspace::new().run(&[], &["syscalls"]);
    run.assert_exit(0);
    let results = run.results();
    let expected_count = if cfg!(target_arch = "x86_64") { 71 } else { 62 };
    assert_eq!(results.len(), expected_count, "{}", run.stdout);
    for (attempt, result) in &results {
        let expected = if attempt == "clone3" {
            "ENOSYS"
        } else {
            "EPERM"
        };
        assert_eq!(result, expected, "{attempt}");
    }
}

#[test]
fn strict_policy_denies_more_than_default() {
    let workspace = Workspace::new();
    // The default policy allows these calls, so inside it they behave as
    // on the host, which the control run outside the sandbox shows.
    let control = Command::new(workspace.path().join("escape"))
        .arg("strict-probe")
        .output()
        .unwrap();
    let control = Run {
        code: control.status.code(),
        stdout: String::from_utf8(control.stdout).unwrap(),
        stderr: String::from_utf8(control.stderr).unwrap(),
    };
    let default = workspace.run(&["--policy", "default"], &["strict-probe"]);
    let strict = workspace.run(&["--policy", "strict"], &["strict-probe"]);

    control.assert_exit(0);
    default.assert_exit(0);
    strict.assert_exit(0);
    // (attempt, whether strict denies it)
    let attempts = [
        ("personality query", true),
        ("socket NETLINK_AUDIT", true),
        ("socket NETLINK_ROUTE", false),
        ("socket AF_UNIX", false),
        ("socketpair AF_INET", true),
        ("mbind", true),
    ];
    for (attempt, denied_by_strict) in attempts {
        let outside = control.result(attempt);
        assert_ne!(outside, "EPERM", "outside the sandbox: {attempt}");
        assert_eq!(default.result(attempt), outside, "default: {attempt}");
        let expected = if denied_by_strict {
            "EPERM"
        } else {
            outside.as_str()
        };
        assert_eq!(strict.result(attempt), expected, "strict: {attempt}");
    }
}

#[test]
fn unknown_policy_stops_the_sandbox() {
    let run = Workspace::new().run(&["--policy", "permissive"], &["strict-probe"]);
    run.assert_exit(125);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(
            "seccomp policy \"permissive\" not found: use `default`, `strict` or the path"
        ),
        "{}",
        run.stderr
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn other_syscall_abis_are_stopped() {
    let run = Workspace::new().run(&[], &["abi"]);
    run.assert_exit(0);
    // The filters kill the process on any call of a foreign architecture.
    assert_eq!(run.result("int 0x80 getpid"), "killed by SYS");
    assert_eq!(run.result("x32 getpid"), "EPERM");
    assert_eq!(run.result("x32 mount"), "EPERM");
    assert_eq!(run.result("syscall 467"), "ENOSYS");
}

#[test]
fn nested_user_namespaces_are_denied() {
    let workspace = Workspace::new();
    let run = workspace.run(&[], &["userns"]);
    run.assert_exit(0);
    for attempt in [
        "unshare CLONE_NEWUSER",
        "unshare CLONE_NEWNS",
        "unshare CLONE_NEWNET",
        "clone CLONE_NEWUSER",
        "clone CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID",
        "setns own mount namespace",
    ] {
        assert_eq!(run.result(attempt), "EPERM", "{attempt}");
    }
    assert_eq!(run.result("open /proc/self/ns/user"), "ok");

    // The same through util-linux's unshare(1), as a job would try it.
    let output = Command::new(htci())
        .args(["sandbox", "--", "unshare", "-U", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unshare failed: Operation not permitted"),
        "{stderr}"
    );
}

#[test]
fn mounting_anything_is_denied() {
    let host_agent = Path::new("/sys/fs/cgroup/memory/release_agent");
    let agent_before = fs::read(host_agent).ok();

    let run = Workspace::new().run(&[], &["mount"]);
    run.assert_exit(0);
    for attempt in [
        "mount tmpfs",
        "mount proc",
        "mount bind /",
        "remount / read-write",
        "mount cgroup v1 memory",
        "mount cgroup v1 rdma",
        "mount cgroup2",
        "umount /proc",
        "fsopen cgroup",
    ] {
        assert_eq!(run.result(attempt), "EPERM", "{attempt}");
    }
    // No cgroup file system is mounted inside, so no release_agent exists.
    for agent in [
        "/sys/fs/cgroup/release_agent",
        "/sys/fs/cgroup/memory/release_agent",
        "/sys/fs/cgroup/pids/release_agent",
        "/sys/fs/cgroup/systemd/release_agent",
        "/tmp/escape-mnt/release_agent",
    ] {
        assert_eq!(run.result(&format!("write {agent}")), "ENOENT", "{agent}");
    }
    assert_eq!(
        fs::read(host_agent).ok(),
        agent_before,
        "host release_agent changed"
    );
}

#[test]
fn masked_paths_are_empty() {
    let files = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ];
    let directories = ["/sys/firmware", "/proc/acpi"];
    let mut attack = vec!["masked"];
    attack.extend(files);
    attack.extend(directories);

    let run = Workspace::new().run(&[], &attack);
    run.assert_exit(0);
    // A path the host kernel does not have stays absent; one it has is
    // masked with /dev/null (files) or an empty file system (directories).
    for file in files {
        let expected = if Path::new(file).exists() {
            "0 bytes"
        } else {
            "ENOENT"
        };
        assert_eq!(run.result(file), expected, "{file}");
    }
    for directory in directories {
        let expected = if Path::new(directory).exists() {
            "0 entries"
        } else {
            "ENOENT"
        };
        assert_eq!(run.result(directory), expected, "{directory}");
    }
    let host_firmware = fs::read_dir("/sys/firmware")
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        host_firmware > 0,
        "the host's /sys/firmware is empty: nothing was tested"
    );
}

#[test]
fn proc_sys_and_sysrq_are_read_only() {
    let core_pattern = "/proc/sys/kernel/core_pattern";
    let before = fs::read_to_string(core_pattern).unwrap();
    let targets = [
        core_pattern,
        "/proc/sys/vm/drop_caches",
        "/proc/sys/kernel/hostname",
        "/proc/sysrq-trigger",
    ];
    let mut attack = vec!["write"];
    attack.extend(targets);

    let run = Workspace::new().run(&[], &attack);
    run.assert_exit(0);
    for target in targets {
        let expected = if Path::new(target).exists() {
            read_only_host_file_errno()
        } else {
            "ENOENT"
        };
        assert_eq!(run.result(&format!("write {target}")), expected, "{target}");
    }
    assert_eq!(fs::read_to_string(core_pattern).unwrap(), before);
}

#[test]
fn sysfs_is_read_only() {
    // Writing "1" is harmless even if it got through: both files reject it.
    let targets = [
        "/sys/kernel/uevent_helper",
        "/sys/kernel/mm/transparent_hugepage/enabled",
    ];
    let workspace = Workspace::new();
    let probe = workspace.run(&[], &["masked", "/sys/kernel"]);
    let mut attack = vec!["write"];
    attack.extend(targets);
    let run = workspace.run(&[], &attack);

    probe.assert_exit(0);
    run.assert_exit(0);
    // The sandbox leaves /sys out where the kernel refuses to mount it.
    // Otherwise the sandbox's sysfs is a new instance mounted read-only, so
    // the kernel fails every write with EROFS before it checks permissions.
    let sysfs_mounted = probe.result("/sys/kernel") != "ENOENT";
    for target in targets {
        let expected = if sysfs_mounted { "EROFS" } else { "ENOENT" };
        assert_eq!(run.result(&format!("write {target}")), expected, "{target}");
    }
}

#[test]
fn setuid_binary_gains_no_privilege() {
    let mount = "/usr/bin/mount";
    let mode = fs::metadata(mount).unwrap().permissions().mode();
    assert!(mode & 0o4000 != 0, "{mount} is not setuid: nothing to test");

    let run = Workspace::new().run(&[], &["setuid", mount, "-t", "tmpfs", "none", "/tmp"]);
    run.assert_exit(0);
    assert_eq!(run.status_field("Uid:"), "1000\t1000\t1000\t1000");
    for set in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert_eq!(run.status_field(set), "0000000000000000", "{set}");
    }
    assert_eq!(run.status_field("NoNewPrivs:"), "1");
    assert_eq!(run.status_field("Seccomp:"), "2");
    // The guard, deny and ENOSYS filters of the default policy.
    assert_eq!(run.status_field("Seccomp_filters:"), "3");
    assert_eq!(run.result("euid"), "1000");
    // util-linux mount exits with 32 (mount failure) when not root.
    assert_eq!(run.result(&format!("{mount} exit")), "32");
    assert!(
        run.stderr.contains("must be superuser to use mount"),
        "{}",
        run.stderr
    );
}

#[test]
fn setid_file_cannot_be_planted() {
    // The workspace is a host directory: a set-id file made there stays
    // set-id on the host, owned by the user running htci (root in CI).
    let workspace = Workspace::new();
    let run = workspace.run(&[], &["plant-setid"]);

    run.assert_exit(0);
    for attempt in [
        "open O_CREAT 04755",
        "open O_CREAT 02755",
        "open O_TMPFILE 04755",
        "creat 04755",
        "mknod 04755",
        "chmod 04755",
        "chmod 02755",
        "chmod 06777",
        "fchmod 04755",
        "fchmodat 04755",
        "fchmodat2 04755",
    ] {
        assert_eq!(run.result(attempt), "EPERM", "{attempt}");
    }
    assert_eq!(run.result("setxattr security.capability"), "EPERM");
    assert_eq!(run.result("openat2 O_CREAT 04755"), "ENOSYS");
    assert_eq!(run.result("open O_CREAT 0755"), "ok");
    assert_eq!(run.result("chmod 01777"), "ok");
    assert_eq!(run.result("chmod 0700"), "ok");

    assert_eq!(set_id_files(workspace.path()), Vec::<PathBuf>::new());
    let mode = fs::metadata(workspace.path().join("setid-chmod"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
    assert!(!workspace.path().join("setid-created").exists());

    let plain =
        std::ffi::CString::new(workspace.path().join("setid-chmod").to_str().unwrap()).unwrap();
    // SAFETY: both strings are NUL-terminated; a null buffer of size 0
    // asks only for the attribute's size.
    let size = unsafe {
        libc::getxattr(
            plain.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    assert_eq!(size, -1, "the file has file capabilities on the host");
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ENODATA)
    );
}

#[test]
fn network_reaches_no_host_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();

    let run = Workspace::new().run(&[], &["network", &port]);
    run.assert_exit(0);
    // The sandbox has its own loopback interface, where nothing listens.
    assert_eq!(
        run.result(&format!("connect 127.0.0.1:{port}")),
        "ECONNREFUSED"
    );
    assert_eq!(run.result(&format!("connect [::1]:{port}")), "ECONNREFUSED");
    assert_eq!(run.result("interfaces"), "lo");
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the host listener accepted a connection: {accepted:?}"
    );
}

#[test]
fn host_processes_are_invisible() {
    // `sleep` takes a fractional duration; its text marks the process.
    let duration = format!("300.{}", nanos() % 1_000_000_007);
    let mut host_process = Command::new("sleep").arg(&duration).spawn().unwrap();
    // The spawned child may not have executed `sleep` yet.
    let start = Instant::now();
    while host_processes_with(&duration).is_empty() && start.elapsed() < RUN_DEADLINE {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(host_processes_with(&duration), [host_process.id()]);

    let run = Workspace::new().run(&[], &["processes"]);
    host_process.kill().unwrap();
    host_process.wait().unwrap();

    run.assert_exit(0);
    assert!(!run.stdout.contains(&duration), "{}", run.stdout);
    assert_eq!(run.result("processes"), "2", "{}", run.stdout);
    assert!(
        run.result("process 1").contains("__sandbox-init"),
        "{}",
        run.stdout
    );
    assert_eq!(run.result("process 2"), "/workspace/escape processes");
}

#[test]
fn writes_outside_workspace_and_tmp_fail() {
    let name = unique_marker("write");
    let outside: Vec<String> = ["", "/usr", "/etc", "/home", "/bin", "/lib"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .collect();
    let inside = [format!("/workspace/{name}"), format!("/tmp/{name}")];
    let mut attack = vec!["write".to_owned()];
    attack.extend(outside.iter().cloned());
    attack.extend(inside.iter().cloned());
    let attack: Vec<&str> = attack.iter().map(String::as_str).collect();

    let workspace = Workspace::new();
    let run = workspace.run(&[], &attack);
    run.assert_exit(0);
    for path in &outside {
        assert_eq!(run.result(&format!("write {path}")), "EROFS", "{path}");
        assert!(!Path::new(path).exists(), "{path} appeared on the host");
    }
    for path in &inside {
        assert_eq!(run.result(&format!("write {path}")), "ok", "{path}");
    }
    assert_eq!(
        fs::read_to_string(workspace.path().join(&name)).unwrap(),
        "1"
    );
}

#[test]
fn fork_bomb_is_stopped_by_pids_limit() {
    let workspace = Workspace::new();
    let run = workspace.run(&["--pids", "32"], &["fork-bomb", "256"]);

    run.assert_exit(0);
    assert!(
        !run.stderr.contains("limit not enforced"),
        "the pids limit is not enforced: {}",
        run.stderr
    );
    // `fork failed after N children: EAGAIN`, with N below the limit
    // because pid 1 and the program itself count too.
    let (children, errno) = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("fork failed after "))
        .and_then(|rest| rest.split_once(" children: "))
        .unwrap_or_else(|| panic!("the fork bomb was not stopped: {}", run.stdout));
    assert_eq!(errno, "EAGAIN");
    let children: u32 = children.parse().unwrap();
    assert!(children < 32, "{children} children under a limit of 32");

    // The host is fine: a new sandbox and a host process start normally.
    let after = workspace.run(&[], &["processes"]);
    after.assert_exit(0);
    assert_eq!(after.result("processes"), "2");
    assert!(Command::new("true").status().unwrap().success());
}

#[test]
fn memory_hog_is_stopped_or_reported() {
    let workspace = Workspace::new();
    let limit = (128u64 << 20).to_string();
    let run = workspace.run(&["--memory", &limit], &["memory-hog", "512"]);

    let host_can_enforce = is_root() && Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists();
    let reported = run.stderr.contains("Memory limit not enforced");
    if reported {
        // The host offers no usable memory cgroup to this user, so the
        // sandbox must print a warning, and the hog runs to its own bound.
        assert!(
            !host_can_enforce,
            "root on cgroup v1 must enforce memory: {}",
            run.stderr
        );
        run.assert_exit(0);
        assert!(
            run.stdout.contains("memory hog not stopped after 512 MiB"),
            "{}",
            run.stdout
        );
    } else {
        // Enforced: the kernel's OOM killer ends the hog with SIGKILL
        // (exit code 128 + 9) well before its own bound.
        run.assert_exit(137);
        assert!(!run.stdout.contains("not stopped"), "{}", run.stdout);
        let touched: Vec<u64> = run
            .stdout
            .lines()
            .filter_map(|line| line.strip_prefix("touched "))
            .filter_map(|rest| rest.strip_suffix(" MiB")?.parse().ok())
            .collect();
        let max = touched.iter().max().copied().unwrap_or(0);
        assert!(max < 128, "touched {max} MiB under a 128 MiB limit");
    }
}

#[test]
fn timeout_kills_step_ignoring_sigterm() {
    let marker = unique_marker("timeout");
    let run = Workspace::new().run(&["--timeout", "2"], &["ignore-term", "60", &marker]);

    run.assert_exit(124);
    assert_eq!(run.stdout, "ignoring SIGTERM\n");
    assert!(
        run.stderr.contains("command timed out and was killed"),
        "{}",
        run.stderr
    );
    let survivors = wait_for_no_process_with(&marker, Duration::from_secs(10));
    assert_eq!(
        survivors,
        Vec::<u32>::new(),
        "processes survived the timeout"
    );
}

#[test]
fn nothing_survives_runner_sigkill() {
    let marker = unique_marker("sigkill");
    let workspace = Workspace::new();
    let mut child = workspace
        .command(&[], &["linger", &marker, "120"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "lingering children started\n");

    // htci, the program and its three children carry the marker; htci's
    // init and pid 1 do not.
    let before = host_processes_with(&marker);
    assert_eq!(before.len(), 5, "processes with the marker: {before:?}");
    assert!(before.contains(&child.id()));

    child.kill().unwrap();
    child.wait().unwrap();
    let survivors = wait_for_no_process_with(&marker, Duration::from_secs(30));
    assert_eq!(
        survivors,
        Vec::<u32>::new(),
        "processes survived SIGKILL of htci"
    );
}

/// Creates an image whose /etc links point at host files: `leak` and
/// `passwd` at a secret the test writes outside the image, `up` at the
/// host's root through `..`. The image has no programs of its own, so the
/// test binds the host's /usr in, and the image has the merged-/usr links.
fn image_linking_out(secret: &Path) -> tempfile::TempDir {
    let image = tempfile::Builder::new()
        .prefix("htci-escape-image-")
        .tempdir()
        .unwrap();
    let root = image.path();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("usr")).unwrap();
    for name in ["bin", "lib", "lib64", "sbin"] {
        if let Ok(link) = fs::read_link(Path::new("/").join(name)) {
            std::os::unix::fs::symlink(link, root.join(name)).unwrap();
        }
    }
    std::os::unix::fs::symlink(secret, root.join("etc/leak")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", root.join("etc/up")).unwrap();
    std::os::unix::fs::symlink(secret, root.join("etc/passwd")).unwrap();
    image
}

#[test]
fn image_etc_links_do_not_reach_host_files() {
    let secrets = tempfile::Builder::new()
        .prefix("htci-escape-secret-")
        .tempdir()
        .unwrap();
    let secret = secrets.path().join("key");
    fs::write(&secret, "host-secret-value\n").unwrap();
    // Readable only by its owner, the caller of htci.
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let image = image_linking_out(&secret);
    let image_arg = image.path().to_str().unwrap();

    let output = Command::new(htci())
        .args(["sandbox", "--image", image_arg, "--bind", "/usr:/usr", "--"])
        .args([
            "sh",
            "-c",
            "cat /etc/leak; ls /etc/up/ | grep -c htci-escape-secret; cat /etc/passwd",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.contains("host-secret-value"), "{stdout}");
    assert!(!stderr.contains("host-secret-value"), "{stderr}");
    // Inside, the links resolve in the sandbox: the secret's path does not
    // exist there, and `up` leads to the sandbox's own root.
    assert!(
        stderr.contains("cat: /etc/leak: No such file or directory"),
        "{stderr}"
    );
    assert_eq!(
        stdout, "0\nrunner:x:1000:1000:runner:/home/runner:/bin/bash\n",
        "{stderr}"
    );
}
