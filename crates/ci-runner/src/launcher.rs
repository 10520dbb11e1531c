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
//! Paths in a spec are produced by [`Launcher::visible_path`], which maps
//! a path under the job directory on the host to the path the process
//! opens, so the executor never hands a host-only path to a process.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
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

/// Runs processes directly on this machine, each in its own process group
/// so that a timeout or cancellation can kill everything a step started.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostLauncher;

impl Launcher for HostLauncher {
    fn launch(&self, spec: &LaunchSpec) -> Result<Box<dyn Process>, LaunchError> {
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
        std::os::unix::process::CommandExt::process_group(&mut command, 0);

        let child = command.spawn().map_err(|source| LaunchError::Spawn {
            program: spec.program.clone(),
            working_dir: spec.working_dir.clone(),
            source,
        })?;
        Ok(Box::new(HostProcess { child }))
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
        self
    }
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
    fn missing_program_is_spawn_error() {
        let mut missing = spec("");
        missing.program = "/nonexistent/htci-test-program".into();
        let error = HostLauncher.launch(&missing).err().unwrap();
        assert!(error.to_string().contains("/nonexistent/htci-test-program"));
    }
}
