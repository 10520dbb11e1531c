//! Network of the sandbox: loopback only, the host's, or `pasta`.
//!
//! With [`Network::None`](crate::Network::None) the sandbox gets a new
//! network namespace in which pid 1 brings up `lo`, so programs can talk
//! to themselves but to nothing else. With `Pasta`, the runner starts
//! `pasta` (package `passt`) attached to the sandbox's namespaces: pasta
//! creates a tap interface, configures it from the host's addresses, and
//! translates the sandbox's traffic into ordinary sockets of the runner's
//! user on the host.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::config::PastaOptions;
use crate::error::SandboxError;
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
    use std::os::fd::AsRawFd;
    // SAFETY: `request` is a valid ifreq naming `lo`, written by the kernel.
    sys::check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) })?;
    // SAFETY: after SIOCGIFFLAGS the union contains the interface flags.
    unsafe { request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    // SAFETY: `request` is a valid ifreq with the new flags.
    sys::check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) })?;
    Ok(())
}

/// A running `pasta` daemon serving one sandbox.
#[derive(Debug)]
pub struct Pasta {
    pid_file: PathBuf,
}

impl Pasta {
    /// Attaches pasta to the user and network namespace of `pid` and waits
    /// until the namespace's network is configured.
    pub fn attach(pid: i32, options: &PastaOptions) -> Result<Self, SandboxError> {
        check_tun_access()?;
        let pid_file = std::env::temp_dir().join(unique_name("htci-pasta", "pid"));
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
        let mut command = Command::new("pasta");
        command
            .args(["--config-net", "--quiet", "--no-map-gw"])
            // No DHCP, NDP, DHCPv6 or router advertisements, because
            // --config-net already configured the addresses.
            .args(["--no-dhcp", "--no-ndp", "--no-dhcpv6", "--no-ra"])
            // No port of the host forwarded into the sandbox; only the
            // requested loopback ports forwarded from it to the host.
            .args(["-t", "none", "-u", "none", "-U", "none", "-T", &tcp_to_host])
            .args(runas_args())
            .arg("--pid")
            .arg(&pid_file)
            .arg(pid.to_string())
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());

        // pasta forks into the background once the namespace is ready, so
        // the foreground process exiting means the network is usable.
        let output = command.output().map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                SandboxError::Pasta(
                    "pasta is not installed; install the passt package (`apt-get install passt`) \
                     or choose network none or host"
                        .to_owned(),
                )
            } else {
                SandboxError::Pasta(format!("failed to run pasta: {error}"))
            }
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(SandboxError::Pasta(format!(
                "pasta exited with {}: {}",
                output.status,
                stderr.trim()
            )));
        }
        Ok(Self { pid_file })
    }

    /// Stops the daemon if it still runs.
    pub fn stop(&self) {
        if let Some(pid) = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let _ = sys::kill(pid, libc::SIGTERM);
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

impl Drop for Pasta {
    fn drop(&mut self) {
        self.stop();
    }
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
