//! The runner's side: starting a sandbox and waiting for it.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use crate::config::{Network, SandboxConfig, StdinMode};
use crate::error::{Result, SandboxError};
use crate::limits::{self, Enforcement, SandboxCgroups};
use crate::network::{self, PastaLaunch};
use crate::protocol::{INIT_MARKER, InitRequest, Report, write_request};
use crate::sys;

/// The end of a sandboxed command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitOutcome {
    /// The command exited with `code`.
    Exited { code: i32 },
    /// The command was killed by `signal`.
    Signaled { signal: i32 },
    /// The wall-time limit passed; every process was killed.
    TimedOut,
}

/// Exit status for a timed-out command, as timeout(1) uses.
pub const TIMED_OUT_EXIT: i32 = 124;

impl ExitOutcome {
    /// Returns the shell's exit status for the outcome: the exit code,
    /// 128 plus the signal number, or 124 for a timeout.
    pub fn exit_code(&self) -> i32 {
        match *self {
            ExitOutcome::Exited { code } => code,
            ExitOutcome::Signaled { signal } => 128 + signal,
            ExitOutcome::TimedOut => TIMED_OUT_EXIT,
        }
    }

    /// Returns whether the command exited with code 0.
    pub fn success(&self) -> bool {
        *self == ExitOutcome::Exited { code: 0 }
    }
}

/// Starts sandboxes by re-executing a binary that calls
/// [`crate::init::run_if_requested`] first thing in `main`.
#[derive(Clone, Debug)]
pub struct Sandbox {
    init_exe: PathBuf,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            init_exe: PathBuf::from("/proc/self/exe"),
        }
    }
}

impl Sandbox {
    /// Runs `argv` in a new sandbox described by `config`, re-executing the
    /// current binary (`/proc/self/exe`) as the sandbox's init.
    pub fn spawn(
        config: &SandboxConfig,
        argv: &[String],
        stdout: Stdio,
        stderr: Stdio,
    ) -> Result<SandboxChild> {
        Self::default().start(config, argv, stdout, stderr)
    }

    /// Creates a launcher that re-executes `exe` instead of the current
    /// binary, for callers (such as tests) whose own `main` is not `htci`'s.
    pub fn with_init_exe(exe: impl Into<PathBuf>) -> Self {
        Self {
            init_exe: exe.into(),
        }
    }

    /// Runs `argv` in a new sandbox described by `config`.
    pub fn start(
        &self,
        config: &SandboxConfig,
        argv: &[String],
        stdout: Stdio,
        stderr: Stdio,
    ) -> Result<SandboxChild> {
        let prepared = prepare(config, argv)?;
        let (request_read, request_write) = pipe()?;
        let (report_read, report_write) = pipe()?;
        let init = self.exec_init(config.stdin, stdout, stderr, request_read, report_write)?;
        finish_start(prepared, init, request_write, report_read)
    }

    /// Runs `argv` in a new sandbox with the caller's stdout and stderr.
    ///
    /// When the calling process has a single thread, as `htci sandbox` does,
    /// the init is forked without executing the binary again, which saves
    /// an execve and the dynamic loader's work. Otherwise this is
    /// [`Sandbox::start`] with inherited output.
    pub fn start_inheriting_output(
        &self,
        config: &SandboxConfig,
        argv: &[String],
    ) -> Result<SandboxChild> {
        if config.stdin == StdinMode::Piped || !is_single_threaded() {
            return self.start(config, argv, Stdio::inherit(), Stdio::inherit());
        }
        let prepared = prepare(config, argv)?;
        if prepared.cgroups.is_none() && prepared.request.pasta.is_none() {
            return start_in_place(prepared);
        }
        let (request_read, request_write) = pipe()?;
        let (report_read, report_write) = pipe()?;
        let init = fork_init(
            config.stdin,
            request_read,
            report_write,
            [&request_write, &report_read],
        )?;
        finish_start(prepared, init, request_write, report_read)
    }

    /// Starts the init by executing `init_exe` with the init marker.
    fn exec_init(
        &self,
        stdin: StdinMode,
        stdout: Stdio,
        stderr: Stdio,
        request_read: OwnedFd,
        report_write: OwnedFd,
    ) -> Result<InitProcess> {
        let mut command = Command::new(&self.init_exe);
        command
            .arg(INIT_MARKER)
            .arg(request_read.as_raw_fd().to_string())
            .arg(report_write.as_raw_fd().to_string())
            .env_clear()
            .stdin(match stdin {
                StdinMode::Null => Stdio::null(),
                StdinMode::Inherit => Stdio::inherit(),
                StdinMode::Piped => Stdio::piped(),
            })
            .stdout(stdout)
            .stderr(stderr);
        // A sandbox that does not read the terminal gets its own process
        // group, so a terminal's ^C reaches only the caller, which decides.
        if stdin != StdinMode::Inherit {
            command.process_group(0);
        }
        let inherited = [request_read.as_raw_fd(), report_write.as_raw_fd()];
        // SAFETY: the closure only calls fcntl, which is async-signal-safe,
        // on descriptors that stay open until after the spawn.
        unsafe {
            command.pre_exec(move || {
                for fd in inherited {
                    sys::set_cloexec(fd, false)?;
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|source| SandboxError::SpawnInit {
            exe: self.init_exe.clone(),
            source,
        })?;
        Ok(InitProcess::Spawned(child))
    }
}

/// The request and the host-side state of a sandbox about to start.
struct Prepared {
    request: InitRequest,
    cgroups: Option<SandboxCgroups>,
    enforcement: Enforcement,
}

/// Validates `config`, probes the host where needed, and creates the
/// cgroups.
fn prepare(config: &SandboxConfig, argv: &[String]) -> Result<Prepared> {
    config.validate()?;
    if argv.is_empty() {
        return Err(SandboxError::InvalidConfig(
            "the command is empty: pass the program to run and its arguments".to_owned(),
        ));
    }

    // The host's support only matters for cgroup limits and pasta, and
    // each lookup costs a few dozen file accesses.
    let limits = &config.limits;
    let needs_cgroups =
        limits.pids.is_some() || limits.memory_bytes.is_some() || limits.cpu_quota.is_some();
    let needs_pasta = matches!(config.network, Network::Pasta(_));
    let support = crate::probe::probe_parts(needs_cgroups, needs_pasta);
    let mut enforcement = Enforcement::default();
    let id = network::unique_name("sandbox", "d")
        .trim_end_matches(".d")
        .to_owned();
    let cgroups = SandboxCgroups::create(&config.limits, &support.cgroups, &id, &mut enforcement)?;
    warn_once_about(&enforcement);

    let pasta = match &config.network {
        Network::Pasta(options) => Some(PastaLaunch::prepare(options, support.pasta.as_deref())?),
        _ => None,
    };
    let pids_by_rlimit = enforcement
        .enforced
        .iter()
        .any(|(k, how)| *k == limits::LimitKind::Pids && how == "RLIMIT_NPROC");
    let request = InitRequest {
        config: config.clone(),
        argv: argv.to_vec(),
        cgroup_procs: cgroups
            .as_ref()
            .map(SandboxCgroups::procs_files)
            .unwrap_or_default(),
        pasta,
        pids_by_rlimit,
    };
    Ok(Prepared {
        request,
        cgroups,
        enforcement,
    })
}

/// Makes the calling process the init (see [`init::start_in_place`]) and
/// waits until the command runs. Only for a single-threaded caller that
/// exits after the sandbox, and only without cgroups and pasta, which the
/// init must clean up after pid 1 exited.
fn start_in_place(prepared: Prepared) -> Result<SandboxChild> {
    let (report_read, report_write) = pipe()?;
    let pid1 = crate::init::start_in_place(&prepared.request, report_write)
        .map_err(|error| SandboxError::Setup(error.to_string()))?;
    let mut child = SandboxChild {
        init: InitProcess::InPlace { pid1, status: None },
        reports: BufReader::new(File::from(report_read)),
        lifeline: None,
        cgroups: None,
        has_pasta: false,
        outcome: None,
        enforcement: prepared.enforcement,
        kill_requested: false,
        waited: false,
    };
    child.await_start()?;
    Ok(child)
}

/// Sends the request to a started init and waits until the command runs.
fn finish_start(
    prepared: Prepared,
    init: InitProcess,
    request_write: OwnedFd,
    report_read: OwnedFd,
) -> Result<SandboxChild> {
    let mut child = SandboxChild {
        init,
        reports: BufReader::new(File::from(report_read)),
        lifeline: Some(File::from(request_write)),
        cgroups: prepared.cgroups,
        has_pasta: prepared.request.pasta.is_some(),
        outcome: None,
        enforcement: prepared.enforcement,
        kill_requested: false,
        waited: false,
    };
    child.handshake(&prepared.request)?;
    Ok(child)
}

/// Returns whether the calling process has exactly one thread, so that a
/// forked child may allocate and take locks.
fn is_single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| tasks.count() == 1)
}

/// Forks the init from a single-threaded caller. The child closes the
/// caller's ends of the pipes (`parent_ends`), sets up stdin, runs the
/// init and exits.
fn fork_init(
    stdin: StdinMode,
    request_read: OwnedFd,
    report_write: OwnedFd,
    parent_ends: [&OwnedFd; 2],
) -> Result<InitProcess> {
    let parent_fds = parent_ends.map(AsRawFd::as_raw_fd);
    let pid = sys::fork().map_err(|source| SandboxError::SpawnInit {
        exe: PathBuf::from("(fork)"),
        source,
    })?;
    if pid != 0 {
        return Ok(InitProcess::Forked { pid, status: None });
    }

    // The child. The runner's end of the request pipe must close here, or
    // the init would never see the runner die.
    for fd in parent_fds {
        // SAFETY: the child owns its copies of these descriptors and
        // never uses them.
        unsafe { libc::close(fd) };
    }
    if stdin == StdinMode::Null {
        redirect_stdin_to_null();
    }
    replace_command_line(INIT_MARKER.as_bytes());
    let code = crate::init::init_main(request_read.into_raw_fd(), report_write.into_raw_fd());
    // SAFETY: _exit ends the forked child without running the caller's
    // atexit handlers or flushing its copied stdio buffers.
    unsafe { libc::_exit(code) }
}

/// Overwrites this process's argument area, which /proc/PID/cmdline
/// shows, with `text`. The forked init and pid 1 would otherwise show the
/// caller's whole command line (workspace path, bind sources, --env
/// values) to the sandboxed processes, which may read /proc/1/cmdline.
pub(crate) fn replace_command_line(text: &[u8]) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the parenthesised command name start with field 3, so
    // arg_start (field 48) and arg_end (field 49) are at 45 and 46.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let parse = |index: usize| fields.get(index)?.parse::<usize>().ok();
    let (Some(start), Some(end)) = (parse(45), parse(46)) else {
        return;
    };
    if end <= start {
        return;
    }
    // SAFETY: the kernel reports [arg_start, arg_end) as this process's
    // argument strings, on its own stack and writable. The process has a
    // single thread, and the only other reader, std's saved argv, reads
    // NUL-terminated strings on demand, which stay terminated here.
    let area = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    area.fill(0);
    let length = text.len().min(area.len() - 1);
    area[..length].copy_from_slice(&text[..length]);
}

fn redirect_stdin_to_null() {
    // SAFETY: the path is a valid C string; dup2 and close take integers.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
}

/// The init process, started one way or the other.
#[derive(Debug)]
enum InitProcess {
    /// Executed through `std::process::Command`.
    Spawned(Child),
    /// Forked from a single-threaded caller; `status` once reaped.
    Forked {
        pid: libc::pid_t,
        status: Option<ExitStatus>,
    },
    /// The caller itself is the init; `pid1` is its child, pid 1 of the
    /// sandbox, and `status` its exit status once reaped.
    InPlace {
        pid1: libc::pid_t,
        status: Option<ExitStatus>,
    },
}

impl InitProcess {
    fn id(&self) -> u32 {
        match self {
            InitProcess::Spawned(child) => child.id(),
            InitProcess::Forked { pid, .. } => *pid as u32,
            InitProcess::InPlace { pid1, .. } => *pid1 as u32,
        }
    }

    fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            InitProcess::Spawned(child) => child.wait(),
            InitProcess::Forked {
                status: Some(status),
                ..
            }
            | InitProcess::InPlace {
                status: Some(status),
                ..
            } => Ok(*status),
            InitProcess::Forked { pid, status } | InitProcess::InPlace { pid1: pid, status } => {
                let raw = sys::wait_pid(*pid)?;
                let reaped = ExitStatus::from_raw(raw);
                *status = Some(reaped);
                Ok(reaped)
            }
        }
    }

    /// Kills pid 1, and with it the whole sandbox, when the caller is
    /// the init. A separate init does that itself once its lifeline
    /// closes.
    fn kill_in_place(&self) {
        if let InitProcess::InPlace { pid1, status: None } = self {
            let _ = sys::kill(*pid1, libc::SIGKILL);
        }
    }

    fn spawned(&mut self) -> Option<&mut Child> {
        match self {
            InitProcess::Spawned(child) => Some(child),
            InitProcess::Forked { .. } | InitProcess::InPlace { .. } => None,
        }
    }
}

/// Warns once per process for each limit the host cannot enforce.
fn warn_once_about(enforcement: &Enforcement) {
    // One bit per LimitKind, set once its warning is out.
    static WARNED: AtomicU32 = AtomicU32::new(0);
    for (kind, reason) in &enforcement.not_enforced {
        let bit = 1 << (*kind as u32);
        if WARNED.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            tracing::warn!(limit = ?kind, reason, "sandbox limit not enforced on this host");
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints.
    sys::check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }).map_err(|source| {
        SandboxError::Protocol {
            operation: "create a pipe for",
            source,
        }
    })?;
    // SAFETY: the kernel just returned these two new descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A running sandbox. Dropping it kills every process of the sandbox.
#[derive(Debug)]
pub struct SandboxChild {
    init: InitProcess,
    reports: BufReader<File>,
    /// The runner's end of the request pipe; closing it kills the sandbox.
    lifeline: Option<File>,
    cgroups: Option<SandboxCgroups>,
    /// Whether the init starts a pasta process on the host, which it
    /// stops only after pid 1 exited.
    has_pasta: bool,
    /// Set by [`SandboxChild::kill`], so that `wait` reports SIGKILL.
    kill_requested: bool,
    /// Whether `wait` collected the init.
    waited: bool,
    outcome: Option<ExitOutcome>,
    enforcement: Enforcement,
}

impl SandboxChild {
    /// Returns the host pid of the sandbox's init process.
    pub fn pid(&self) -> u32 {
        self.init.id()
    }

    /// Returns which requested limits are in force, and which this host
    /// cannot enforce.
    pub fn enforcement(&self) -> &Enforcement {
        &self.enforcement
    }

    /// Takes the command's stdin, present with [`StdinMode::Piped`].
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.init.spawned()?.stdin.take()
    }

    /// Takes the command's stdout, present when spawned with `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.init.spawned()?.stdout.take()
    }

    /// Takes the command's stderr, present when spawned with `Stdio::piped()`.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.init.spawned()?.stderr.take()
    }

    /// Sends the request and waits until the command runs.
    fn handshake(&mut self, request: &InitRequest) -> Result<()> {
        let lifeline = self.lifeline.as_mut().expect("lifeline is open until wait");
        if let Err(source) = write_request(&mut *lifeline, request) {
            // The init died early, and its report contains the reason.
            return Err(self.failure_after_eof().unwrap_or(SandboxError::Protocol {
                operation: "send the request to",
                source,
            }));
        }
        self.await_start()
    }

    /// Waits for the first report: the command runs, or why it does not.
    fn await_start(&mut self) -> Result<()> {
        match self.next_report()? {
            Some(Report::Started) => Ok(()),
            Some(Report::SetupFailed { message }) => {
                self.reap();
                Err(SandboxError::Setup(message))
            }
            Some(Report::ExecFailed { program, errno }) => {
                self.reap();
                Err(SandboxError::Exec {
                    program,
                    source: io::Error::from_raw_os_error(errno),
                })
            }
            Some(Report::Finished(outcome)) => {
                self.outcome = Some(outcome);
                Ok(())
            }
            None => Err(self
                .failure_after_eof()
                .unwrap_or_else(|| self.unexplained_exit())),
        }
    }

    fn next_report(&mut self) -> Result<Option<Report>> {
        let mut line = String::new();
        let read = self
            .reports
            .read_line(&mut line)
            .map_err(|source| SandboxError::Protocol {
                operation: "read a report from",
                source,
            })?;
        if read == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| SandboxError::Protocol {
                operation: "parse a report from",
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })
    }

    /// Returns the setup failure the init reported before its reports
    /// ended, if any.
    fn failure_after_eof(&mut self) -> Option<SandboxError> {
        while let Ok(Some(report)) = self.next_report() {
            if let Report::SetupFailed { message } = report {
                self.reap();
                return Some(SandboxError::Setup(message));
            }
        }
        None
    }

    fn unexplained_exit(&mut self) -> SandboxError {
        let status = self
            .init
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        SandboxError::Setup(format!(
            "the sandbox init process ended without a report ({status})"
        ))
    }

    fn reap(&mut self) {
        self.lifeline = None;
        let _ = self.init.wait();
        self.waited = true;
        self.cleanup();
    }

    fn cleanup(&mut self) {
        if let Some(mut cgroups) = self.cgroups.take() {
            cgroups.remove();
        }
    }

    /// Waits for the command to end. Every other process of the sandbox
    /// is killed by then. Returns the same outcome when called again.
    pub fn wait(&mut self) -> Result<ExitOutcome> {
        if let (true, Some(outcome)) = (self.waited, self.outcome) {
            return Ok(outcome);
        }
        self.read_final_report()?;
        self.lifeline = None;
        let status = self.init.wait().map_err(|source| SandboxError::Protocol {
            operation: "wait for",
            source,
        })?;
        self.cleanup();

        // Without a final report pid 1 was killed, by kill() or from
        // outside, which took the command with it.
        let outcome = self.outcome.unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            if self.kill_requested {
                return ExitOutcome::Signaled {
                    signal: libc::SIGKILL,
                };
            }
            match status.signal() {
                Some(signal) => ExitOutcome::Signaled { signal },
                None => ExitOutcome::Exited {
                    code: status.code().unwrap_or(crate::init::SETUP_FAILED_EXIT),
                },
            }
        });
        self.outcome = Some(outcome);
        self.waited = true;
        Ok(outcome)
    }

    /// Reads reports until pid 1's final one and returns its outcome, or
    /// `None` when the reports end without it (pid 1 was killed).
    fn read_final_report(&mut self) -> Result<Option<ExitOutcome>> {
        while self.outcome.is_none() {
            match self.next_report()? {
                Some(Report::Finished(outcome)) => self.outcome = Some(outcome),
                Some(_) => {}
                None => break,
            }
        }
        Ok(self.outcome)
    }

    /// Waits for the command to end, like [`SandboxChild::wait`], but
    /// does not wait for the init and pid 1 to exit, for a caller that
    /// exits right after.
    ///
    /// The final report comes from pid 1 after it killed and reaped every
    /// other process of the sandbox, so nothing the command started runs
    /// any more. What remains is the exit of the init and pid 1, where the
    /// kernel tears down the namespaces and unmounts the root. That costs
    /// about half a millisecond and the caller does not need it, so the
    /// orphaned init finishes it alone (bubblewrap's parent likewise
    /// returns when its pid 1 reports the exit status). When the runner
    /// still has to remove the sandbox's cgroups, which needs every
    /// process gone, or the init still has to stop pasta, this waits as
    /// [`SandboxChild::wait`] does.
    pub fn wait_detached(mut self) -> Result<ExitOutcome> {
        if self.cgroups.is_some() || self.has_pasta {
            return self.wait();
        }
        let Some(outcome) = self.read_final_report()? else {
            return self.wait();
        };
        // Marked as waited so that Drop does not wait for the init. Drop
        // still closes the lifeline, and the init, already ending, then
        // kills a pid 1 that is exiting anyway.
        self.waited = true;
        Ok(outcome)
    }

    /// Kills every process of the sandbox. [`SandboxChild::wait`] then
    /// returns `Signaled { signal: 9 }`, unless the command had already
    /// ended.
    pub fn kill(&mut self) -> Result<()> {
        if self.waited {
            return Ok(());
        }
        self.kill_requested = true;
        // Closing the lifeline makes the init kill pid 1, which makes the
        // kernel kill every process of the pid namespace, and then stop
        // pasta. Killing the init itself would leave that to parent-death
        // signals, which pasta may have cleared.
        self.lifeline = None;
        self.init.kill_in_place();
        Ok(())
    }

    /// Asks the command to stop by sending it SIGTERM through the init
    /// and pid 1.
    pub fn terminate(&self) -> Result<()> {
        sys::kill(self.init.id() as i32, libc::SIGTERM).map_err(|source| SandboxError::Protocol {
            operation: "signal",
            source,
        })
    }
}

impl Drop for SandboxChild {
    fn drop(&mut self) {
        if !self.waited {
            self.lifeline = None;
            self.init.kill_in_place();
            let _ = self.init.wait();
        }
        self.cleanup();
    }
}
