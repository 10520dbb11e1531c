//! Pid 1 of the sandbox and the command it executes.
//!
//! Pid 1 assembles the root file system (mounting proc needs a process of
//! the new pid namespace), then starts the command in a child that shares
//! its memory until execve, and stays behind as its reaper. When the command exits, or the wall-time limit passes, pid 1
//! kills every process left in the namespace with `kill(-1, SIGKILL)`, so
//! a background process never outlives its command.
//!
//! The command child hardens itself in the order the OCI runtimes use:
//! new session, parent-death signal, descriptors closed, working
//! directory, rlimits, signal state reset, no_new_privs and capabilities
//! dropped. The seccomp filter comes last, because it may forbid the calls
//! before it, and then execve.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Network, SandboxConfig};
use crate::init::{FORWARDED_SIGNALS, InitError, SETUP_FAILED_EXIT, exit_code_of};
use crate::protocol::{InitRequest, Report, Reporter};
use crate::sandbox::ExitOutcome;
use crate::{capabilities, limits, network, rootfs, seccomp, sys};

/// Exit status when the command could not be executed.
const EXEC_FAILED_EXIT: i32 = 127;

/// Runs pid 1 and exits with the command's exit status.
pub fn run_pid1(request: &InitRequest, reporter: &Reporter, init_pidfd: &OwnedFd) -> ! {
    let code = match pid1(request, reporter, init_pidfd) {
        Ok(code) => code,
        Err(error) => {
            reporter.send(&Report::SetupFailed {
                message: error.to_string(),
            });
            SETUP_FAILED_EXIT
        }
    };
    std::process::exit(code)
}

fn pid1(
    request: &InitRequest,
    reporter: &Reporter,
    init_pidfd: &OwnedFd,
) -> Result<i32, InitError> {
    // The init is single-threaded, so this fires exactly when it exits,
    // and the kernel then kills everything in this pid namespace.
    sys::set_parent_death_signal(libc::SIGKILL)
        .map_err(|e| InitError::new("set the parent-death signal of pid 1", e))?;
    // An init that died before the call above sent no signal; its pidfd
    // is readable once it exited.
    if has_exited(init_pidfd) {
        return Err(InitError::new(
            "start pid 1",
            io::Error::other("the sandbox init exited before pid 1 started"),
        ));
    }

    let config = &request.config;
    // Compiled before the fork so the child only installs it, and before
    // the pivot so a policy file on the host can be read.
    let policy = seccomp::load_policy(&config.seccomp_policy).map_err(|e| {
        InitError::new(
            &format!("load seccomp policy {}", config.seccomp_policy),
            io::Error::other(e.to_string()),
        )
    })?;
    // Planned while the host root is still visible at `/`.
    let steps = rootfs::plan(config, Path::new("/"))
        .map_err(|e| InitError::new("plan the root file system", e))?;
    rootfs::enter(&steps)?;
    set_hostname(&config.hostname)?;
    if config.network != Network::Host {
        network::bring_up_loopback()
            .map_err(|e| InitError::new("bring up the loopback interface lo", e))?;
    }

    // CVE-2019-5736: a non-dumpable pid 1 cannot be ptraced and its
    // /proc/1/exe cannot be opened by the sandboxed processes, so they
    // cannot reach (and overwrite) the htci binary through it.
    sys::set_dumpable(false).map_err(|e| InitError::new("clear the dumpable flag of pid 1", e))?;

    let command = PreparedCommand::new(config, &request.argv)?;

    let (status_read, status_write) =
        pipe().map_err(|e| InitError::new("create the exec status pipe", e))?;
    let child = spawn_command(&CommandChild {
        request,
        command: &command,
        policy: &policy,
        status_fd: status_write.as_raw_fd(),
    })
    .map_err(|e| InitError::new("start the command", e))?;
    drop(status_write);

    if let Some(report) = read_child_failure(status_read, &command.program_name) {
        let _ = sys::wait_pid(child);
        let code = match &report {
            Report::ExecFailed { errno, .. } if *errno == libc::ENOENT => EXEC_FAILED_EXIT,
            Report::ExecFailed { .. } => 126,
            _ => SETUP_FAILED_EXIT,
        };
        reporter.send(&report);
        return Ok(code);
    }
    reporter.send(&Report::Started);

    let deadline = config.limits.wall_time.map(|t| Instant::now() + t);
    let outcome =
        reap_until_exit(child, deadline).map_err(|e| InitError::new("supervise the command", e))?;
    reporter.send(&Report::Finished(outcome));
    Ok(outcome.exit_code())
}

/// Returns whether the process behind `pidfd` has exited, without waiting.
fn has_exited(pidfd: &OwnedFd) -> bool {
    let mut entry = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `entry` is one valid pollfd; a zero timeout never blocks.
    let ready = unsafe { libc::poll(&mut entry, 1, 0) };
    ready == 1 && entry.revents & libc::POLLIN != 0
}

fn set_hostname(hostname: &str) -> Result<(), InitError> {
    // SAFETY: the pointer and length describe the bytes of `hostname`.
    let ret = unsafe { libc::sethostname(hostname.as_ptr().cast(), hostname.len()) };
    sys::check(ret)
        .map(drop)
        .map_err(|e| InitError::new(&format!("set host name {hostname}"), e))
}

/// Forwards signals to the command and reaps every child until the
/// command exits or `deadline` passes, then kills what is left.
fn reap_until_exit(command: libc::pid_t, deadline: Option<Instant>) -> io::Result<ExitOutcome> {
    let mut waited = FORWARDED_SIGNALS.to_vec();
    waited.push(libc::SIGCHLD);
    let set = sys::signal_set(&waited);

    loop {
        // A SIGCHLD that arrived before the wait is still pending, so
        // reaping first and then waiting loses no exit.
        if let Some(status) = reap_children(command)? {
            kill_everything_else();
            return Ok(ExitOutcome::from_wait_status(status));
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            kill_everything_else();
            return Ok(ExitOutcome::TimedOut);
        }
        match sys::wait_for_signal(&set, timeout)? {
            None => {
                kill_everything_else();
                return Ok(ExitOutcome::TimedOut);
            }
            Some(signal) if FORWARDED_SIGNALS.contains(&signal) => {
                let _ = sys::kill(command, signal);
            }
            Some(_) => {}
        }
    }
}

/// Reaps every exited child; returns the command's status once it exited.
fn reap_children(command: libc::pid_t) -> io::Result<Option<libc::c_int>> {
    let mut command_status = None;
    loop {
        match sys::reap_any() {
            Ok(Some((pid, status))) if pid == command => command_status = Some(status),
            Ok(Some(_)) => {}
            Ok(None) => return Ok(command_status),
            Err(error) if error.raw_os_error() == Some(libc::ECHILD) => return Ok(command_status),
            Err(error) => return Err(error),
        }
    }
}

/// Kills every other process of the pid namespace and reaps them.
fn kill_everything_else() {
    // From pid 1, kill(-1) reaches every process of the namespace except
    // pid 1 itself, including daemons that left the command's session.
    let _ = sys::kill(-1, libc::SIGKILL);
    while sys::wait_pid(-1).is_ok() {}
}

/// The command's execve arguments and working directory, built before
/// the command child starts.
struct PreparedCommand {
    program_name: String,
    program: Option<CString>,
    cwd: PathBuf,
    cwd_c: CString,
    // The strings own the memory the pointer arrays point into.
    _argv: Vec<CString>,
    _env: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    env_ptrs: Vec<*const libc::c_char>,
}

impl PreparedCommand {
    fn new(config: &SandboxConfig, argv: &[String]) -> Result<Self, InitError> {
        let to_c = |s: &str| {
            CString::new(s).map_err(|_| {
                InitError::new(
                    &format!("pass argument {s:?}"),
                    io::Error::from(io::ErrorKind::InvalidInput),
                )
            })
        };
        let argv_c = argv
            .iter()
            .map(|a| to_c(a))
            .collect::<Result<Vec<_>, _>>()?;
        let env_c = config
            .env
            .iter()
            .map(|(k, v)| to_c(&format!("{k}={v}")))
            .collect::<Result<Vec<_>, _>>()?;
        let path = config
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        let program = find_program(&argv[0], path.unwrap_or("/usr/bin:/bin"), &config.cwd)
            .map(|p| CString::new(p.as_os_str().as_bytes()))
            .transpose()
            .map_err(|_| {
                InitError::new(
                    "resolve the program path",
                    io::Error::from(io::ErrorKind::InvalidInput),
                )
            })?;

        let mut argv_ptrs: Vec<_> = argv_c.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut env_ptrs: Vec<_> = env_c.iter().map(|e| e.as_ptr()).collect();
        env_ptrs.push(std::ptr::null());
        Ok(Self {
            program_name: argv[0].clone(),
            program,
            cwd: config.cwd.clone(),
            cwd_c: sys::cstring(&config.cwd)
                .map_err(|e| InitError::at("pass the working directory", &config.cwd, e))?,
            _argv: argv_c,
            _env: env_c,
            argv_ptrs,
            env_ptrs,
        })
    }
}

/// Resolves `name` like execvp, through the sandbox's `PATH`. Relative
/// `PATH` entries are relative to `cwd`, the command's working directory,
/// as they are for execvp in the command.
fn find_program(name: &str, path: &str, cwd: &Path) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| cwd.join(dir).join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The arguments of the command child, in pid 1's memory.
struct CommandChild<'a> {
    request: &'a InitRequest,
    command: &'a PreparedCommand,
    policy: &'a seccomp::CompiledPolicy,
    status_fd: libc::c_int,
}

/// Size of the command child's stack until execve.
const CHILD_STACK_BYTES: usize = 256 << 10;

/// Starts the command child and returns its pid once it executed the
/// command or gave up.
///
/// The child shares pid 1's memory until execve, as `posix_spawn` and
/// `vfork` children do (clone with CLONE_VM | CLONE_VFORK), and pid 1
/// waits meanwhile. A fork would copy pid 1's page tables and fault in a
/// copy of every page either process then writes, and execve would tear
/// that copy down again. The child has its own descriptors, signal
/// actions, credentials and seccomp filter, and it only makes system
/// calls on its own stack. It allocates only to report a failure, which
/// is safe because pid 1 is stopped outside the allocator.
fn spawn_command(child: &CommandChild) -> io::Result<libc::pid_t> {
    // SAFETY: an anonymous private mapping with these flags has no
    // preconditions; the result is checked below.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            CHILD_STACK_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }

    // The lowest page stays inaccessible, so an overflow faults instead of
    // writing below the stack.
    // SAFETY: the page lies at the start of the mapping made above.
    let guarded = unsafe { libc::mprotect(stack, 4096, libc::PROT_NONE) };
    let result = if guarded == -1 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: the stack grows down from the end of a mapping that
        // outlives the child's use of it: with CLONE_VFORK, clone returns
        // only after the child executed the command or exited. `child`
        // stays borrowed, and so valid, until then.
        let pid = unsafe {
            libc::clone(
                run_command_child,
                stack.cast::<u8>().add(CHILD_STACK_BYTES).cast(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (child as *const CommandChild).cast_mut().cast(),
            )
        };
        sys::check(pid)
    };

    // SAFETY: the mapping is the one made above, and the child no longer
    // runs on it.
    unsafe { libc::munmap(stack, CHILD_STACK_BYTES) };
    result
}

/// Entry point of the command child on its own stack.
extern "C" fn run_command_child(argument: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `spawn_command` passes a pointer to a CommandChild that stays
    // valid while pid 1 waits for this child.
    let child = unsafe { &*argument.cast::<CommandChild>() };
    let failure = exec_command(child.request, child.command, child.policy, child.status_fd);
    send_child_failure(child.status_fd, failure);
    // SAFETY: _exit ends the child without running atexit handlers, which
    // belong to pid 1, whose memory this child shares.
    unsafe { libc::_exit(EXEC_FAILED_EXIT) }
}

/// The reason the command child did not reach execve.
enum ChildFailure {
    Setup(String),
    Exec(i32),
}

/// Hardens the forked child and executes the command. Returns only on
/// failure.
fn exec_command(
    request: &InitRequest,
    command: &PreparedCommand,
    policy: &seccomp::CompiledPolicy,
    status_fd: libc::c_int,
) -> ChildFailure {
    let setup = |step: &str, error: io::Error| ChildFailure::Setup(format!("{step}: {error}"));

    // A new session detaches the command from the runner's terminal job
    // control, and its process group from the init's.
    // SAFETY: setsid takes no arguments.
    if let Err(error) = sys::check(unsafe { libc::setsid() }) {
        return setup("setsid", error);
    }
    // pid 1 is single-threaded, so this fires exactly when pid 1 exits.
    if let Err(error) = sys::set_parent_death_signal(libc::SIGKILL) {
        return setup("set the parent-death signal", error);
    }
    if let Err(error) = close_inherited_fds(status_fd) {
        return setup("close inherited descriptors", error);
    }
    // SAFETY: `cwd_c` is a valid C string owned by `command`.
    if let Err(error) = sys::check(unsafe { libc::chdir(command.cwd_c.as_ptr()) }) {
        return setup(
            &format!("change directory to {}", command.cwd.display()),
            error,
        );
    }
    if let Err(error) = limits::apply_rlimits(&request.config.limits, request.pids_by_rlimit) {
        return setup("set resource limits", error);
    }
    if let Err(error) = sys::reset_signals() {
        return setup("reset signal handlers", error);
    }
    // no_new_privs before the filter: an unprivileged process may only
    // install a seccomp filter with it set, and it stops setuid binaries
    // from regaining what the next step drops.
    if let Err(error) = sys::set_no_new_privs() {
        return setup("set no_new_privs", error);
    }
    if let Err(error) = capabilities::drop_all() {
        return ChildFailure::Setup(format!("drop capabilities: {error}"));
    }
    let Some(program) = &command.program else {
        return ChildFailure::Exec(libc::ENOENT);
    };
    // Last, because the filter may forbid any of the calls above.
    if let Err(error) = seccomp::apply(policy) {
        return ChildFailure::Setup(format!("install the seccomp filter: {error}"));
    }
    let error = sys::execve(program, &command.argv_ptrs, &command.env_ptrs);
    ChildFailure::Exec(error.raw_os_error().unwrap_or(libc::ENOEXEC))
}

/// Closes every descriptor except stdin, stdout, stderr and `keep`, which
/// is close-on-exec and so never reaches the command.
fn close_inherited_fds(keep: libc::c_int) -> io::Result<()> {
    let keep = keep as libc::c_uint;
    if keep > 3 {
        // SAFETY: close_range takes integers only; nothing in this child
        // uses the closed descriptors afterwards.
        let ret = unsafe { libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32) };
        sys::check(ret as libc::c_int)?;
    }
    sys::close_from(keep + 1)
}

/// Writes a child failure to the exec status pipe: `E` and the errno, or
/// `S` and a message.
fn send_child_failure(fd: libc::c_int, failure: ChildFailure) {
    let _ = match failure {
        ChildFailure::Exec(errno) => {
            let mut bytes = [b'E', 0, 0, 0, 0];
            bytes[1..].copy_from_slice(&errno.to_le_bytes());
            sys::write_all(fd, &bytes)
        }
        ChildFailure::Setup(message) => sys::write_all(fd, format!("S{message}").as_bytes()),
    };
}

/// Reads the exec status pipe; end of file without data means execve
/// succeeded (the pipe is close-on-exec).
fn read_child_failure(pipe: OwnedFd, program: &str) -> Option<Report> {
    use std::io::Read;
    let mut bytes = Vec::new();
    let _ = std::fs::File::from(pipe).read_to_end(&mut bytes);
    match bytes.split_first() {
        Some((b'E', errno)) if errno.len() == 4 => Some(Report::ExecFailed {
            program: program.to_owned(),
            errno: i32::from_le_bytes(errno.try_into().expect("four bytes")),
        }),
        Some((_, message)) => Some(Report::SetupFailed {
            message: String::from_utf8_lossy(message).into_owned(),
        }),
        None => None,
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints.
    sys::check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned these two new descriptors.
    Ok(unsafe {
        (
            std::os::fd::FromRawFd::from_raw_fd(fds[0]),
            std::os::fd::FromRawFd::from_raw_fd(fds[1]),
        )
    })
}

impl ExitOutcome {
    /// Converts a raw wait status into an outcome.
    pub fn from_wait_status(status: libc::c_int) -> Self {
        if libc::WIFSIGNALED(status) {
            ExitOutcome::Signaled {
                signal: libc::WTERMSIG(status),
            }
        } else {
            ExitOutcome::Exited {
                code: exit_code_of(status),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_with_slash_is_taken_as_is() {
        assert_eq!(
            find_program("./run.sh", "", Path::new("/")),
            Some(PathBuf::from("./run.sh"))
        );
    }

    #[test]
    fn program_is_found_on_path() {
        assert_eq!(
            find_program("sh", "/nonexistent:/bin", Path::new("/tmp")),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(
            find_program("no-such-program-xyz", "/bin", Path::new("/")),
            None
        );
    }

    #[test]
    fn relative_path_entries_start_at_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("tools");
        std::fs::create_dir(&tools).unwrap();
        let program = tools.join("prog");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();

        assert_eq!(
            find_program("prog", "tools:/bin", dir.path()),
            Some(program)
        );
        assert_eq!(find_program("prog", "tools", Path::new("/")), None);
    }
}
