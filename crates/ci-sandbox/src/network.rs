//! Network of the sandbox: loopback only, the host's, or `pasta`.
//!
//! With [`Network::None`](crate::Network::None) the sandbox gets a new
//! network namespace in which pid 1 brings up `lo`, so programs can talk
//! to themselves but to nothing else. With `Pasta`, the init starts
//! `pasta` (package `passt`) attached to the sandbox's namespaces. pasta
//! creates a tap interface, configures it from the host's addresses, and
//! translates the sandbox's traffic into ordinary sockets of the runner's
//! user on the host.

use std::ffi::{CString, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::PastaOptions;
use crate::error::SandboxError;
use crate::init::InitError;
use crate::sys;

/// Sets the `lo` interface of the current network namespace up.
pub fn bring_up_loopback() -> io::Result<()> {
    // SAFETY: socket takes integers only.
    let fd = sys::check(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: the kernel just returned this new descriptor.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };

    // SAFETY: an all-zero ifreq is a valid request to fill in.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: `request` is a valid ifreq naming `lo`, written by the kernel.
    sys::check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) })?;
    // SAFETY: after SIOCGIFFLAGS the union contains the interface flags.
    unsafe { request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    // SAFETY: `request` is a valid ifreq with the new flags.
    sys::check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) })?;
    Ok(())
}

/// How the init starts `pasta`: the executable and its options, to which
/// the init appends `--pid FILE` and its own pid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastaLaunch {
    /// Absolute path of the `pasta` executable.
    pub program: PathBuf,
    /// Options before `--pid`.
    pub args: Vec<String>,
    /// File where pasta writes its pid once the network is configured.
    pub pid_file: PathBuf,
}

impl PastaLaunch {
    /// Checks that pasta can run for this user and builds its options.
    /// Runs in the runner, so a missing package fails before any process
    /// starts.
    pub fn prepare(options: &PastaOptions, installed: Option<&Path>) -> Result<Self, SandboxError> {
        let Some(program) = installed else {
            return Err(SandboxError::Pasta(
                "pasta is not installed; install the passt package (`apt-get install passt`) \
                 or choose network none or host"
                    .to_owned(),
            ));
        };
        check_tun_access()?;

        let tcp_to_host = if options.host_loopback_tcp_ports.is_empty() {
            "none".to_owned()
        } else {
            let ports: Vec<String> = options
                .host_loopback_tcp_ports
                .iter()
                .map(u16::to_string)
                .collect();
            ports.join(",")
        };
        let mut args: Vec<String> = [
            "--config-net",
            "--quiet",
            // In the foreground pasta stays the init's child, so the init
            // can stop it and the parent-death signal reaches it.
            "--foreground",
            "--no-map-gw",
            // No DHCP, NDP, DHCPv6 or router advertisements, because
            // --config-net already configured the addresses.
            "--no-dhcp",
            "--no-ndp",
            "--no-dhcpv6",
            "--no-ra",
            // No port of the host forwarded into the sandbox, and only the
            // requested loopback ports forwarded from it to the host.
            "-t",
            "none",
            "-u",
            "none",
            "-U",
            "none",
            "-T",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        args.push(tcp_to_host);
        args.extend(runas_args());
        Ok(Self {
            program: program.to_path_buf(),
            args,
            pid_file: std::env::temp_dir().join(unique_name("htci-pasta", "pid")),
        })
    }
}

/// A `pasta` process forked by the init before it creates the namespaces,
/// so that pasta stays in the host's namespaces with the runner's
/// credentials, which it needs to join the sandbox's user namespace.
pub struct PastaHelper {
    pid: libc::pid_t,
    go: File,
    stderr: File,
    pid_file: PathBuf,
}

/// Longest wait for pasta to configure the sandbox's network.
const PASTA_START_TIMEOUT: Duration = Duration::from_secs(10);

impl PastaHelper {
    /// Forks the helper, which waits for [`PastaHelper::start`] and then
    /// executes pasta for the namespaces of the calling process (the init).
    pub fn fork(launch: &PastaLaunch) -> Result<Self, InitError> {
        let init_pid = std::process::id();
        let mut argv = vec![launch.program.as_os_str().to_owned()];
        argv.extend(launch.args.iter().map(OsString::from));
        argv.extend([
            OsString::from("--pid"),
            launch.pid_file.clone().into_os_string(),
        ]);
        argv.push(OsString::from(init_pid.to_string()));
        let argv: Vec<CString> = argv
            .into_iter()
            .map(|a| CString::new(a.into_vec()))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                InitError::new(
                    "pass pasta arguments",
                    io::Error::from(io::ErrorKind::InvalidInput),
                )
            })?;

        let (go_read, go_write) = pipe().map_err(|e| InitError::new("create the pasta pipe", e))?;
        let (err_read, err_write) =
            pipe().map_err(|e| InitError::new("create the pasta pipe", e))?;
        let pid = sys::fork().map_err(|e| InitError::new("fork the pasta helper", e))?;
        if pid == 0 {
            drop(go_write);
            drop(err_read);
            run_helper(init_pid, go_read, err_write, &argv);
        }
        Ok(Self {
            pid,
            go: File::from(go_write),
            stderr: File::from(err_read),
            pid_file: launch.pid_file.clone(),
        })
    }

    /// Lets pasta start and waits until it configured the network, which
    /// it signals by writing its pid file.
    pub fn start(&mut self) -> Result<(), InitError> {
        self.go
            .write_all(b"g")
            .map_err(|e| InitError::new("start pasta", e))?;
        let deadline = Instant::now() + PASTA_START_TIMEOUT;
        loop {
            if fs::metadata(&self.pid_file).is_ok_and(|m| m.len() > 0) {
                let _ = fs::remove_file(&self.pid_file);
                return Ok(());
            }
            if let Some(status) = self.try_reap() {
                let mut message = String::new();
                let _ = self.stderr.read_to_string(&mut message);
                let message = message
                    .lines()
                    .filter(|l| !l.contains("syslog"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let error =
                    io::Error::other(format!("pasta exited with status {status}: {message}"));
                return Err(InitError::new("start pasta", error));
            }
            if Instant::now() > deadline {
                self.stop();
                let error = io::Error::from(io::ErrorKind::TimedOut);
                return Err(InitError::new(
                    "wait for pasta to configure the network",
                    error,
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn try_reap(&mut self) -> Option<i32> {
        let mut status = 0;
        // SAFETY: `status` is a valid writable int.
        let pid = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        (pid == self.pid).then(|| crate::init::exit_code_of(status))
    }

    /// Stops pasta and reaps it.
    pub fn stop(&mut self) {
        if self.pid > 0 {
            let _ = sys::kill(self.pid, libc::SIGTERM);
            let _ = sys::wait_pid(self.pid);
            self.pid = 0;
        }
        let _ = fs::remove_file(&self.pid_file);
    }
}

impl Drop for PastaHelper {
    /// Stops pasta when the init returns early with an error. Forked
    /// copies of the init (pid 1, the command) never run this, because
    /// they leave through exit or execve, which run no destructors.
    fn drop(&mut self) {
        self.stop();
    }
}

/// The helper process: waits for the go byte, then executes pasta.
fn run_helper(init_pid: u32, go: OwnedFd, stderr: OwnedFd, argv: &[CString]) -> ! {
    // The init is single-threaded, so this fires exactly when it exits.
    let _ = sys::set_parent_death_signal(libc::SIGKILL);
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } as u32 != init_pid {
        // SAFETY: _exit ends the forked child without running destructors.
        unsafe { libc::_exit(1) };
    }
    // SAFETY: both descriptors are open; dup2 replaces stderr.
    unsafe { libc::dup2(stderr.as_raw_fd(), 2) };
    let mut byte = [0u8; 1];
    if File::from(go).read_exact(&mut byte).is_err() {
        // SAFETY: as above.
        unsafe { libc::_exit(0) };
    }
    // The Rust runtime ignores SIGPIPE, and an ignored signal stays
    // ignored across execve; pasta (2023-03 release) then fails with
    // "Couldn't install signal handlers".
    let _ = sys::reset_signals();
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // pasta gets an empty environment: a forked init still has the
    // runner's, which may hold secrets.
    let environment: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: the pointers refer to C strings in `argv`, alive for the
    // call, and both arrays end with a null pointer.
    unsafe { libc::execve(argv[0].as_ptr(), pointers.as_ptr(), environment.as_ptr()) };
    let error = io::Error::last_os_error();
    let _ = sys::write_all(2, format!("execute {:?}: {error}\n", argv[0]).as_bytes());
    // SAFETY: as above.
    unsafe { libc::_exit(127) }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints.
    sys::check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned these two new descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// pasta opens the tun device from inside the namespace with the
/// runner's credentials; a clear error beats pasta's "failed to open tun
/// socket in namespace".
fn check_tun_access() -> Result<(), SandboxError> {
    let tun = c"/dev/net/tun";
    // SAFETY: `tun` is a valid C string.
    if unsafe { libc::access(tun.as_ptr(), libc::R_OK | libc::W_OK) } == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    Err(SandboxError::Pasta(format!(
        "pasta needs read and write access to /dev/net/tun, which this user lacks ({error}); \
         most distributions make it mode 0666 (`chmod 0666 /dev/net/tun`)"
    )))
}

/// pasta started by root switches to the user nobody before joining the
/// namespaces, and nobody may not enter a user namespace owned by root.
/// So a root runner keeps pasta as root; others need no option.
fn runas_args() -> Vec<String> {
    // SAFETY: geteuid and getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        vec!["--runas".to_owned(), format!("{uid}:{gid}")]
    } else {
        Vec::new()
    }
}

/// Returns a file name unique within this host: `prefix-PID-N.ext`.
pub fn unique_name(prefix: &str, extension: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}.{extension}", std::process::id())
}
