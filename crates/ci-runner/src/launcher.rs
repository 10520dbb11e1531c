//! Process launcher: the seam between the step executor and the place
//! where a step's process runs.
//!
//! The executor describes a process with a [`LaunchSpec`] (program,
//! arguments, the complete environment and the working directory, all as
//! the process will see them) and hands it to a [`Launcher`]. The
//! [`HostLauncher`] runs it directly on this machine in a new process
//! group. A sandbox launcher implements the same trait to run the spec
//! inside namespaces, with the job directory bind-mounted.
//!
//! On the host, a step may leave processes that escape its process group
//! (a `setsid` daemon). So, like GitHub's runner, the host launcher puts
//! `RUNNER_TRACKING_ID` in the environment of every process of a job and
//! kills every process of this user that still carries the job's id when
//! the job ends. The id names the pid of the `htci` process, so a later run
//! finds and kills what a killed run left (see [`sweep_stale_runs`]). The
//! step's own process also gets `PR_SET_PDEATHSIG(SIGKILL)`, so it ends
//! with the runner. A process that removes the variable from its
//! environment before `exec` escapes the tracking, as on GitHub.
//!
//! Paths in a spec are produced by [`Launcher::visible_path`], which maps
//! a path under the job directory on the host to the path the process
//! opens, so the executor never hands a host-only path to a process.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::executor::job::JobPlan;
use crate::workspace::JobDirs;

/// How long a process group has between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// One process to start, with every path and variable as the process
/// will read them.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Program name (looked up in the `PATH` of `env`) or absolute path.
    pub program: String,
    pub args: Vec<String>,
    /// The complete environment: nothing is inherited from the runner.
    pub env: Vec<(String, String)>,
    pub working_dir: PathBuf,
}

/// The exit of a process: a code or a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Code(i32),
    Signal(i32),
}

impl ExitKind {
    /// Returns the exit code a shell would report: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Code(code) => code,
            ExitKind::Signal(signal) => 128 + signal,
        }
    }
}

/// Errors of starting or supervising a process.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("failed to start `{program}` in {working_dir}: {source}")]
    Spawn {
        program: String,
        working_dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to wait for process {pid}: {source}")]
    Wait {
        pid: u32,
        #[source]
        source: io::Error,
    },
}

/// A started process. Its output pipes are taken once by the caller.
pub trait Process: Send {
    fn take_stdout(&mut self) -> Option<Box<dyn Read + Send>>;
    fn take_stderr(&mut self) -> Option<Box<dyn Read + Send>>;
    /// Returns the exit once the process has ended, without blocking.
    fn try_wait(&mut self) -> Result<Option<ExitKind>, LaunchError>;
    /// Sends `signal` to the whole process group of the process.
    fn signal_group(&self, signal: Signal);
    /// Returns whether any process of the group is still alive, the group
    /// leader included until it is reaped.
    fn group_alive(&self) -> bool;
}

/// Starts processes for the executor.
pub trait Launcher: Send + Sync {
    fn launch(&self, spec: &LaunchSpec) -> Result<Box<dyn Process>, LaunchError>;

    /// Maps a path on the host (under the job directory) to the path that
    /// the launched process opens for it.
    fn visible_path(&self, host_path: &Path) -> PathBuf;

    /// Returns whether `program` can be found in `path_var` (a `PATH`
    /// value) where processes run.
    fn has_program(&self, program: &str, path_var: &str) -> bool;

    /// Returns the isolation name stored in results as `{"kind": "<name>"}`.
    fn isolation_kind(&self) -> &'static str;

    /// Returns the `isolation` object stored in each job's result.
    fn isolation(&self) -> serde_json::Value {
        serde_json::json!({ "kind": self.isolation_kind() })
    }

    /// Returns the launcher for one job whose files live in `dirs`. A
    /// sandbox launcher binds the job directory here, maps its paths in
    /// [`Launcher::visible_path`] and picks the image for the job's
    /// `runs-on`; the host launcher needs nothing.
    fn for_job(self: Arc<Self>, dirs: &JobDirs, plan: &JobPlan) -> Arc<dyn Launcher>;
}

/// Environment variable that marks every process of a host job.
pub const TRACKING_ENV: &str = "RUNNER_TRACKING_ID";

/// Prefix of the tracking ids of `htci`: `htci_<runner pid>_<job number>`.
const TRACKING_PREFIX: &str = "htci_";

/// Runs processes directly on this machine, each in its own process group
/// so that a timeout or cancellation can kill everything a step started.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostLauncher;

impl Launcher for HostLauncher {
    fn launch(&self, spec: &LaunchSpec) -> Result<Box<dyn Process>, LaunchError> {
        launch_on_host(spec)
    }

    fn visible_path(&self, host_path: &Path) -> PathBuf {
        host_path.to_path_buf()
    }

    fn has_program(&self, program: &str, path_var: &str) -> bool {
        find_in_path(program, path_var).is_some()
    }

    fn isolation_kind(&self) -> &'static str {
        "host"
    }

    fn for_job(self: Arc<Self>, _dirs: &JobDirs, _plan: &JobPlan) -> Arc<dyn Launcher> {
        Arc::new(HostJobLauncher::new())
    }
}

/// The host launcher of one job: every process gets the job's tracking id,
/// and dropping the launcher at the end of the job kills every process that
/// still carries it.
#[derive(Debug)]
pub struct HostJobLauncher {
    tracking_id: String,
}

impl HostJobLauncher {
    /// Creates a launcher with a tracking id new to this `htci` process.
    pub fn new() -> Self {
        static NEXT_JOB: AtomicU64 = AtomicU64::new(1);
        let number = NEXT_JOB.fetch_add(1, Ordering::Relaxed);
        Self {
            tracking_id: format!("{TRACKING_PREFIX}{}_{number}", std::process::id()),
        }
    }
}

impl Default for HostJobLauncher {
    fn default() -> Self {
        Self::new()
    }
}

impl Launcher for HostJobLauncher {
    fn launch(&self, spec: &LaunchSpec) -> Result<Box<dyn Process>, LaunchError> {
        let mut spec = spec.clone();
        spec.env.retain(|(key, _)| key != TRACKING_ENV);
        spec.env
            .push((TRACKING_ENV.to_string(), self.tracking_id.clone()));
        launch_on_host(&spec)
    }

    fn visible_path(&self, host_path: &Path) -> PathBuf {
        HostLauncher.visible_path(host_path)
    }

    fn has_program(&self, program: &str, path_var: &str) -> bool {
        HostLauncher.has_program(program, path_var)
    }

    fn isolation_kind(&self) -> &'static str {
        HostLauncher.isolation_kind()
    }

    fn for_job(self: Arc<Self>, _dirs: &JobDirs, _plan: &JobPlan) -> Arc<dyn Launcher> {
        Arc::new(HostJobLauncher::new())
    }
}

impl Drop for HostJobLauncher {
    fn drop(&mut self) {
        let killed = kill_tracked(|id| id == self.tracking_id);
        if killed > 0 {
            tracing::info!(tracking_id = %self.tracking_id, killed, "killed processes left by the job");
        }
    }
}

/// Starts `spec` in a new process group. The process gets
/// `PR_SET_PDEATHSIG(SIGKILL)`: the kernel sends the signal when the
/// thread that forked it exits, which is the job thread that also waits
/// for the process (see `executor::capture::run_captured`), so the signal
/// fires only when the runner dies.
fn launch_on_host(spec: &LaunchSpec) -> Result<Box<dyn Process>, LaunchError> {
    use std::os::unix::process::CommandExt;

    let program = resolve_program(&spec.program, &spec.env);
    let mut command = Command::new(&program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.working_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.process_group(0);
    let runner_pid = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls
    // only prctl and getppid, which are async-signal-safe system calls.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The runner may have died between fork and prctl, which the
            // death signal no longer catches.
            if libc::getppid() as u32 != runner_pid {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }

    let child = command.spawn().map_err(|source| LaunchError::Spawn {
        program: spec.program.clone(),
        working_dir: spec.working_dir.clone(),
        source,
    })?;
    Ok(Box::new(HostProcess { child }))
}

/// Lists the processes of this user, other than this one, whose
/// environment contains an `htci` tracking id, with that id.
fn tracked_processes() -> Vec<(i32, String)> {
    use std::os::unix::fs::MetadataExt;

    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let uid = nix::unistd::geteuid().as_raw();
    let own = std::process::id();
    let needle = format!("{TRACKING_ENV}={TRACKING_PREFIX}");
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            if pid == own || entry.metadata().ok()?.uid() != uid {
                return None;
            }
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let id = environ
                .split(|&byte| byte == 0)
                .find_map(|var| var.strip_prefix(needle.as_bytes()))?;
            let id = format!("{TRACKING_PREFIX}{}", String::from_utf8_lossy(id));
            Some((i32::try_from(pid).ok()?, id))
        })
        .collect()
}

/// Kills with SIGKILL every process of this user whose tracking id passes
/// `selected`, in rounds until none is left, because a process may fork
/// between a scan and the kill. Returns how many processes were killed.
pub fn kill_tracked(selected: impl Fn(&str) -> bool) -> usize {
    const MAX_ROUNDS: usize = 50;

    let mut killed = 0;
    for _ in 0..MAX_ROUNDS {
        let targets: Vec<i32> = tracked_processes()
            .into_iter()
            .filter(|(_, id)| selected(id))
            .map(|(pid, _)| pid)
            .collect();
        if targets.is_empty() {
            break;
        }
        for pid in targets {
            if nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    killed
}

/// Returns the pid of the `htci` process named in tracking id `id`.
fn runner_pid_of(id: &str) -> Option<u32> {
    let rest = id.strip_prefix(TRACKING_PREFIX)?;
    rest.split('_').next()?.parse().ok()
}

/// Kills what earlier host runs that died (SIGKILL, a crash) left
/// running: every process of this user carrying an `htci` tracking id
/// whose runner pid is gone. Then removes the run directories of such
/// runs in `temp_dir` (`htci-run-<pid>-<id>`), which hold the expanded
/// step scripts. Directories are kept when `HTCI_KEEP_RUN_DIR` is set.
///
/// NOTE: a reused pid makes a dead run look alive, so its leftovers stay
/// until that pid is free again; a live run is never touched.
pub fn sweep_stale_runs(temp_dir: &Path) {
    let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();
    let killed = kill_tracked(|id| runner_pid_of(id).is_some_and(|pid| !alive(pid)));
    if killed > 0 {
        tracing::info!(killed, "killed processes left by earlier runs");
    }
    if std::env::var_os("HTCI_KEEP_RUN_DIR").is_some() {
        return;
    }
    for dir in stale_run_dirs(temp_dir, alive) {
        if let Err(error) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), %error, "failed to remove a stale run directory");
        }
    }
}

/// Lists the directories `htci-run-<pid>-<id>` in `temp_dir` that belong
/// to this user and whose pid is not `alive`.
fn stale_run_dirs(temp_dir: &Path, alive: impl Fn(u32) -> bool) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;

    let Ok(entries) = std::fs::read_dir(temp_dir) else {
        return Vec::new();
    };
    let uid = nix::unistd::geteuid().as_raw();
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|name| name.strip_prefix("htci-run-"))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                return false;
            };
            // symlink_metadata: a link named like a run directory is
            // never followed.
            let owned_dir = std::fs::symlink_metadata(entry.path())
                .is_ok_and(|meta| meta.is_dir() && meta.uid() == uid);
            owned_dir && !alive(pid)
        })
        .map(|entry| entry.path())
        .collect()
}

/// Resolves a bare program name with the `PATH` of the process's own
/// environment, not the runner's, because `Command` would use the latter.
fn resolve_program(program: &str, env: &[(String, String)]) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.as_str())
        .unwrap_or("/usr/bin:/bin");
    find_in_path(program, path_var).unwrap_or_else(|| PathBuf::from(program))
}

/// Finds an executable file named `program` in the directories of `path_var`.
pub fn find_in_path(program: &str, path_var: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;

    path_var
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

struct HostProcess {
    child: Child,
}

impl Process for HostProcess {
    fn take_stdout(&mut self) -> Option<Box<dyn Read + Send>> {
        self.child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>)
    }

    fn take_stderr(&mut self) -> Option<Box<dyn Read + Send>> {
        self.child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>)
    }

    fn try_wait(&mut self) -> Result<Option<ExitKind>, LaunchError> {
        use std::os::unix::process::ExitStatusExt;

        let status = self.child.try_wait().map_err(|source| LaunchError::Wait {
            pid: self.child.id(),
            source,
        })?;
        Ok(status.map(|status| match (status.code(), status.signal()) {
            (Some(code), _) => ExitKind::Code(code),
            (None, Some(signal)) => ExitKind::Signal(signal),
            (None, None) => ExitKind::Code(1),
        }))
    }

    fn signal_group(&self, signal: Signal) {
        signal_process_group(self.child.id(), signal);
    }

    fn group_alive(&self) -> bool {
        process_group_alive(self.child.id())
    }
}

/// Sends `signal` to the process group led by `pgid`. A group that is
/// already gone is not an error.
fn signal_process_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else {
        return;
    };
    if let Err(error) = killpg(Pid::from_raw(raw), signal)
        && error != nix::errno::Errno::ESRCH
    {
        tracing::warn!(pgid, %signal, %error, "failed to signal process group");
    }
}

/// Returns whether any process of group `pgid` is still alive (zombies
/// included, because they still hold the group).
fn process_group_alive(pgid: u32) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    killpg(Pid::from_raw(raw), None).is_ok()
}

/// Terminates the process group of `process`: SIGTERM, up to
/// [`KILL_GRACE`] for it to exit, then SIGKILL. The leader is reaped while
/// waiting so that it does not linger as a zombie.
pub fn terminate(process: &mut dyn Process) {
    process.signal_group(Signal::SIGCONT);
    process.signal_group(Signal::SIGTERM);
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        let _ = process.try_wait();
        if !process.group_alive() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    process.signal_group(Signal::SIGKILL);

    // SIGKILL cannot be ignored; wait briefly so that the group is gone
    // (apart from zombies that init has yet to reap) before returning.
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        let _ = process.try_wait();
        if !process.group_alive() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(script: &str) -> LaunchSpec {
        LaunchSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("ONLY".into(), "this".into()),
            ],
            working_dir: std::env::temp_dir(),
        }
    }

    fn wait(process: &mut Box<dyn Process>) -> ExitKind {
        loop {
            if let Some(exit) = process.try_wait().unwrap() {
                return exit;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn host_launcher_uses_only_given_env() {
        let mut process = HostLauncher
            .launch(&spec("test \"$ONLY\" = this && test -z \"$HOME\""))
            .unwrap();
        assert_eq!(wait(&mut process), ExitKind::Code(0));
    }

    #[test]
    fn host_launcher_reports_exit_code() {
        let mut process = HostLauncher.launch(&spec("exit 7")).unwrap();
        assert_eq!(wait(&mut process), ExitKind::Code(7));
    }

    #[test]
    fn terminate_group_kills_children() {
        let mut process = HostLauncher
            .launch(&spec("sleep 30 & sleep 30; wait"))
            .unwrap();
        thread::sleep(Duration::from_millis(50));
        terminate(process.as_mut());
        assert!(matches!(wait(&mut process), ExitKind::Signal(_)));
        thread::sleep(Duration::from_millis(50));
        assert!(!process.group_alive());
    }

    #[test]
    fn job_launcher_sets_tracking_id() {
        let launcher = HostJobLauncher::new();
        let expected = launcher.tracking_id.clone();
        assert!(expected.starts_with(&format!("htci_{}_", std::process::id())));
        let mut process = launcher
            .launch(&spec(&format!("test \"$RUNNER_TRACKING_ID\" = {expected}")))
            .unwrap();
        assert_eq!(wait(&mut process), ExitKind::Code(0));
    }

    #[test]
    fn job_end_kills_escaped_daemon() {
        let launcher = HostJobLauncher::new();
        let mut process = launcher
            .launch(&spec(
                "setsid sleep 997 >/dev/null 2>&1 </dev/null & echo $!",
            ))
            .unwrap();
        let mut out = String::new();
        process
            .take_stdout()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        wait(&mut process);
        let pid: i32 = out.trim().parse().unwrap();
        let tracking_id = launcher.tracking_id.clone();
        assert!(tracked_processes().contains(&(pid, tracking_id)));

        drop(launcher);
        // The daemon is a zombie until init reaps it, or gone.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let gone = state.is_empty()
            || state
                .rsplit(") ")
                .next()
                .is_some_and(|s| s.starts_with('Z'));
        assert!(gone, "{state}");
    }

    #[test]
    fn runner_pid_parsed_from_id() {
        assert_eq!(runner_pid_of("htci_4242_7"), Some(4242));
        assert_eq!(runner_pid_of("github_4242"), None);
        assert_eq!(runner_pid_of("htci_x_1"), None);
    }

    #[test]
    fn stale_run_dirs_only_dead_and_owned() {
        let temp = tempfile::tempdir().unwrap();
        for name in [
            "htci-run-111-5",
            "htci-run-222-6",
            "htci-run-x-1",
            "other-333",
        ] {
            std::fs::create_dir(temp.path().join(name)).unwrap();
        }
        std::os::unix::fs::symlink(temp.path(), temp.path().join("htci-run-444-1")).unwrap();
        let stale = stale_run_dirs(temp.path(), |pid| pid == 222);
        assert_eq!(stale, [temp.path().join("htci-run-111-5")]);
    }

    #[test]
    fn missing_program_is_spawn_error() {
        let mut missing = spec("");
        missing.program = "/nonexistent/htci-test-program".into();
        let error = HostLauncher.launch(&missing).err().unwrap();
        assert!(error.to_string().contains("/nonexistent/htci-test-program"));
    }
}
