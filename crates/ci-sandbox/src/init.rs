//! The re-executed init process that creates the namespaces.
//!
//! The kernel refuses `unshare(CLONE_NEWUSER)` in a multithreaded process,
//! and the runner has threads. So [`crate::Sandbox`] starts the runner's
//! own binary again with the argument `__sandbox-init`, and the binary's
//! `main` calls [`run_if_requested`] before anything else, while it still
//! has a single thread. The init then
//!
//! 1. reads the request (the sandbox configuration) from the request pipe,
//! 2. joins the cgroups the runner prepared,
//! 3. unshares the user, mount, pid, network, UTS, IPC and cgroup
//!    namespaces and maps the caller to uid and gid 1000,
//! 4. starts `pasta` for the pasta network, from a helper it forked
//!    before step 3 so that pasta runs in the host's namespaces,
//! 5. forks pid 1 of the new pid namespace, which builds the root and
//!    runs the command,
//! 6. supervises it: forwards termination signals, and kills it when the
//!    runner dies (end of file on the request pipe).
//!
//! Process tree: runner → init → pid 1 → command. Each link has its own
//! parent-death guard: the request pipe for the runner (a parent-death
//! signal would fire when the runner's spawning *thread* exits), and
//! PR_SET_PDEATHSIG for the single-threaded init and pid 1.
//!
//! A single-threaded caller that exits after its one sandbox (`htci
//! sandbox`) may skip the separate init: [`start_in_place`] makes the
//! caller the init, and the tree is caller → pid 1 → command. It is only
//! used when there is no cgroup to remove and no pasta to stop, because
//! both need the init to outlive pid 1.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::config::Network;
use crate::namespaces;
use crate::network::PastaHelper;
use crate::process;
use crate::protocol::{INIT_MARKER, InitRequest, Report, Reporter, read_request};
use crate::sys;

/// Exit status of the init when the sandbox could not be set up.
pub const SETUP_FAILED_EXIT: i32 = 125;

/// Signals the init and pid 1 pass on to the command.
pub const FORWARDED_SIGNALS: &[libc::c_int] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// A failed setup step inside the sandbox: the step, its error and,
/// where known, how to fix the host.
#[derive(Debug)]
pub struct InitError {
    step: String,
    source: io::Error,
    hint: Option<String>,
}

impl InitError {
    /// Creates the error of a failed `step`.
    pub fn new(step: &str, source: io::Error) -> Self {
        Self {
            step: step.to_owned(),
            source,
            hint: None,
        }
    }

    /// Creates the error of a failed `step` on `path`.
    pub fn at(step: &str, path: &Path, source: io::Error) -> Self {
        Self::new(&format!("{step} {}", path.display()), source)
    }

    /// Adds advice for the user.
    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.source)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Runs the sandbox init and exits when the first argument is
/// `__sandbox-init`, and returns at once otherwise. Call it first thing in `main`, before any
/// thread is started, because unshare(CLONE_NEWUSER) fails with EINVAL in
/// a multithreaded process.
pub fn run_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(INIT_MARKER)) {
        return;
    }
    let parse_fd = |arg: Option<std::ffi::OsString>| -> Option<libc::c_int> {
        arg?.to_str()?.parse().ok().filter(|fd| *fd > 2)
    };
    let (Some(request_fd), Some(report_fd)) = (parse_fd(args.next()), parse_fd(args.next())) else {
        eprintln!("htci: {INIT_MARKER} is internal: it expects two descriptor numbers");
        std::process::exit(SETUP_FAILED_EXIT);
    };
    std::process::exit(init_main(request_fd, report_fd));
}

/// Runs the init on the two inherited pipe descriptors and returns its
/// exit status. Called after re-execution or directly in a forked child.
pub(crate) fn init_main(request_fd: libc::c_int, report_fd: libc::c_int) -> i32 {
    let reporter = Reporter::new(report_fd);
    if let Err(error) = take_over_signals() {
        reporter.send(&Report::SetupFailed {
            message: format!("block signals: {error}"),
        });
        return SETUP_FAILED_EXIT;
    }
    for fd in [request_fd, report_fd] {
        // Nothing the init executes may inherit these pipes.
        if let Err(error) = sys::set_cloexec(fd, true) {
            reporter.send(&Report::SetupFailed {
                message: format!("set close-on-exec on descriptor {fd}: {error}"),
            });
            return SETUP_FAILED_EXIT;
        }
    }
    // SAFETY: the runner passed this descriptor for the init to own, and
    // nothing else in this process refers to it.
    let mut request_pipe = unsafe { File::from_raw_fd(request_fd) };

    let result = read_request(&mut request_pipe)
        .map_err(|e| InitError::new("read the sandbox request", e))
        .and_then(|request| run(&request, &mut request_pipe, &reporter));
    match result {
        Ok(code) => code,
        Err(error) => {
            reporter.send(&Report::SetupFailed {
                message: error.to_string(),
            });
            SETUP_FAILED_EXIT
        }
    }
}

fn run(
    request: &InitRequest,
    request_pipe: &mut File,
    reporter: &Reporter,
) -> Result<i32, InitError> {
    // Joined before unsharing, so the new cgroup namespace's root is the
    // sandbox's own cgroup and every later process starts inside it.
    let pid = std::process::id().to_string();
    for procs in &request.cgroup_procs {
        std::fs::write(procs, &pid).map_err(|e| InitError::at("join cgroup", procs, e))?;
    }

    // SAFETY: getuid and getgid cannot fail and take no arguments.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let own_network = request.config.network != Network::Host;
    // Forked before unsharing: pasta must join the sandbox's namespaces
    // from the host's, with the runner's credentials.
    let mut pasta = request.pasta.as_ref().map(PastaHelper::fork).transpose()?;
    namespaces::unshare(namespaces::clone_flags(own_network))?;
    namespaces::map_ids(uid, gid)?;

    if let Some(helper) = &mut pasta {
        helper.start()?;
    }

    // pid 1 cannot name the init (it is outside the new pid namespace), so
    // it gets a pidfd of the init to check that the init still lives.
    let init_pidfd = pidfd_open(std::process::id() as libc::pid_t)
        .map_err(|e| InitError::new("pidfd_open the init", e))?;
    sys::set_cloexec(init_pidfd.as_raw_fd(), true).map_err(|e| InitError::new("fcntl", e))?;

    // CLONE_NEWPID applies to children only: the first child is pid 1.
    let pid1 = sys::fork().map_err(|e| InitError::new("fork pid 1", e))?;
    if pid1 == 0 {
        process::run_pid1(request, reporter, &init_pidfd);
    }
    drop(init_pidfd);
    // Dropping `pasta` afterwards stops it.
    supervise_pid1(pid1, request_pipe.as_raw_fd())
}

/// Makes the calling process the sandbox's init and starts pid 1, for a
/// single-threaded caller (`htci sandbox`) that needs no cgroup and no
/// pasta. Returns pid 1's host pid; pid 1 sends its reports to
/// `report_write`.
///
/// This saves the init's own process: one fork of the caller. The caller
/// joins every new namespace but the mount namespace, which pid 1 creates
/// for itself. So the caller keeps the host's file system when pid 1
/// pivots into the sandbox's root, and pid 1, not the caller, pays for
/// unmounting that root when it exits. pid 1 dies with the caller through
/// its parent-death signal, as it does with the separate init.
pub(crate) fn start_in_place(
    request: &InitRequest,
    report_write: OwnedFd,
) -> Result<libc::pid_t, InitError> {
    let pid1_signals = pid1_signals();
    // Blocked before the fork, so that pid 1 loses no signal before it
    // waits for them. The caller's own mask is restored afterwards.
    let old_mask =
        sys::block_signals(&pid1_signals).map_err(|e| InitError::new("block signals", e))?;

    // SAFETY: getuid and getgid cannot fail and take no arguments.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let own_network = request.config.network != Network::Host;
    let result = namespaces::unshare(namespaces::clone_flags(own_network) & !libc::CLONE_NEWNS)
        .and_then(|()| namespaces::map_ids(uid, gid))
        .and_then(|()| {
            pidfd_open(std::process::id() as libc::pid_t)
                .map_err(|e| InitError::new("pidfd_open the init", e))
        })
        .and_then(|init_pidfd| {
            sys::set_cloexec(init_pidfd.as_raw_fd(), true)
                .map_err(|e| InitError::new("fcntl", e))?;
            let pid1 = sys::fork().map_err(|e| InitError::new("fork pid 1", e))?;
            if pid1 == 0 {
                run_pid1_in_place(request, &report_write, &init_pidfd, &pid1_signals);
            }
            Ok(pid1)
        });
    // SAFETY: `old_mask` is the valid set that block_signals returned.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
    result
}

/// Runs the child side of [`start_in_place`]: resets the actions of
/// `pid1_signals`, which stay blocked, creates the mount namespace and
/// runs pid 1.
fn run_pid1_in_place(
    request: &InitRequest,
    report_write: &OwnedFd,
    init_pidfd: &OwnedFd,
    pid1_signals: &[libc::c_int],
) -> ! {
    let reporter = Reporter::new(report_write.as_raw_fd());
    // The sandboxed processes may read /proc/1/cmdline, which would show
    // the caller's whole command line.
    crate::sandbox::replace_command_line(INIT_MARKER.as_bytes());
    reset_blocked_actions(pid1_signals);
    let setup = sys::set_cloexec(report_write.as_raw_fd(), true)
        .map_err(|e| InitError::new("fcntl", e))
        .and_then(|()| namespaces::unshare(libc::CLONE_NEWNS));
    if let Err(error) = setup {
        reporter.send(&Report::SetupFailed {
            message: error.to_string(),
        });
        // SAFETY: _exit ends the forked child without running the
        // caller's atexit handlers or flushing its copied stdio buffers.
        unsafe { libc::_exit(SETUP_FAILED_EXIT) };
    }
    process::run_pid1(request, &reporter, init_pidfd)
}

/// Blocks the forwarded signals and SIGCHLD, then resets their handlers.
/// The mask is inherited by pid 1, so no signal is lost before pid 1 waits
/// for them. The reset matters because a signal ignored by the runner
/// (htci sandbox ignores ^C) stays ignored across execve, and the kernel
/// discards an ignored signal instead of queueing it for signalfd.
fn take_over_signals() -> io::Result<()> {
    let blocked = pid1_signals();
    sys::block_signals(&blocked)?;
    reset_blocked_actions(&blocked);
    Ok(())
}

/// Returns the signals pid 1 waits for: the forwarded ones and SIGCHLD.
fn pid1_signals() -> Vec<libc::c_int> {
    let mut signals = FORWARDED_SIGNALS.to_vec();
    signals.push(libc::SIGCHLD);
    signals
}

/// Sets the actions of `signals`, which the caller blocked, to the default.
fn reset_blocked_actions(signals: &[libc::c_int]) {
    for &signal in signals {
        // SAFETY: SIG_DFL is a valid disposition, and the signal is
        // blocked, so the default action cannot run before pid 1 waits.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}

/// Waits for pid 1 while forwarding signals to it; kills it when the
/// runner's end of the request pipe closes. Returns pid 1's exit status.
fn supervise_pid1(pid1: libc::pid_t, lifeline: libc::c_int) -> Result<i32, InitError> {
    let pidfd = pidfd_open(pid1).map_err(|e| InitError::new("pidfd_open pid 1", e))?;
    let signals = signal_fd(FORWARDED_SIGNALS).map_err(|e| InitError::new("signalfd", e))?;

    loop {
        let mut fds = [
            poll_entry(pidfd.as_raw_fd()),
            poll_entry(signals.as_raw_fd()),
            poll_entry(lifeline),
        ];
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready == -1 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(InitError::new("poll", error));
        }

        if fds[0].revents != 0 {
            let status = sys::wait_pid(pid1).map_err(|e| InitError::new("wait for pid 1", e))?;
            return Ok(exit_code_of(status));
        }
        if fds[1].revents != 0 {
            let signal = read_signal(signals.as_raw_fd());
            if let Some(signal) = signal {
                let _ = sys::kill(pid1, signal);
            }
        }
        if fds[2].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            // The runner is gone: take the sandbox down with it. Killing
            // pid 1 makes the kernel kill every process of its namespace.
            let _ = sys::kill(pid1, libc::SIGKILL);
            let status = sys::wait_pid(pid1).map_err(|e| InitError::new("wait for pid 1", e))?;
            return Ok(exit_code_of(status));
        }
    }
}

fn poll_entry(fd: libc::c_int) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Shell convention: the exit code, or 128 plus the signal number.
pub fn exit_code_of(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        SETUP_FAILED_EXIT
    }
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags only.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = sys::check(fd as libc::c_int)?;
    // SAFETY: the kernel just returned this new descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn signal_fd(signals: &[libc::c_int]) -> io::Result<OwnedFd> {
    let set = sys::signal_set(signals);
    // SAFETY: `set` is a valid sigset, and -1 requests a new descriptor.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    let fd = sys::check(fd)?;
    // SAFETY: the kernel just returned this new descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn read_signal(fd: libc::c_int) -> Option<libc::c_int> {
    // SAFETY: an all-zero signalfd_siginfo is valid to overwrite.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: `info` is a writable buffer of exactly `size` bytes.
    let read = unsafe { libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
    (read as usize == size).then_some(info.ssi_signo as libc::c_int)
}
