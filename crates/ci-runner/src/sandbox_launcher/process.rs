//! A step's process, backed by a sandbox, behind the executor's
//! [`Process`] trait.

use std::io::{self, Read};
use std::sync::{Mutex, MutexGuard};

use ci_sandbox::{ExitOutcome, SandboxChild};
use nix::sys::signal::Signal;

use crate::launcher::{ExitKind, LaunchError, Process};

/// A step running in a sandbox. The sandbox's init is a child of the
/// runner; its exit means every process of the sandbox is gone.
pub(super) struct SandboxProcess {
    child: Mutex<SandboxChild>,
    pid: u32,
    exit: Option<ExitKind>,
}

impl SandboxProcess {
    pub(super) fn new(child: SandboxChild) -> Self {
        Self {
            pid: child.pid(),
            child: Mutex::new(child),
            exit: None,
        }
    }

    fn child(&self) -> MutexGuard<'_, SandboxChild> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns whether the init process has exited, without reaping it,
    /// so that [`SandboxChild::wait`] can still collect its status.
    fn init_exited(&self) -> bool {
        if self.exit.is_some() {
            return true;
        }
        // SAFETY: an all-zero siginfo_t is a valid value for waitid to fill.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is valid for writing; WNOWAIT leaves the child
        // waitable, so this never reaps the init that `child` owns.
        let result = unsafe {
            libc::waitid(
                libc::P_PID,
                self.pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if result != 0 {
            // ECHILD: already reaped.
            return true;
        }
        // SAFETY: waitid filled `info`; si_pid is 0 while the child runs.
        unsafe { info.si_pid() != 0 }
    }
}

impl Process for SandboxProcess {
    fn take_stdout(&mut self) -> Option<Box<dyn Read + Send>> {
        self.child()
            .take_stdout()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>)
    }

    fn take_stderr(&mut self) -> Option<Box<dyn Read + Send>> {
        self.child()
            .take_stderr()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>)
    }

    fn try_wait(&mut self) -> Result<Option<ExitKind>, LaunchError> {
        if self.exit.is_some() || !self.init_exited() {
            return Ok(self.exit);
        }
        let outcome = self.child().wait().map_err(|error| LaunchError::Wait {
            pid: self.pid,
            source: io::Error::other(error.to_string()),
        })?;
        let exit = match outcome {
            ExitOutcome::Exited { code } => ExitKind::Code(code),
            ExitOutcome::Signaled { signal } => ExitKind::Signal(signal),
            ExitOutcome::TimedOut => ExitKind::Code(ci_sandbox::TIMED_OUT_EXIT),
        };
        self.exit = Some(exit);
        Ok(self.exit)
    }

    fn signal_group(&self, signal: Signal) {
        if self.init_exited() {
            return;
        }
        let result = match signal {
            Signal::SIGKILL => self.child().kill(),
            Signal::SIGTERM | Signal::SIGINT => self.child().terminate(),
            // The init forwards only termination signals; SIGCONT for a
            // stopped step is not needed because SIGKILL follows.
            _ => Ok(()),
        };
        if let Err(error) = result {
            tracing::warn!(pid = self.pid, %signal, %error, "failed to signal the sandbox");
        }
    }

    fn group_alive(&self) -> bool {
        !self.init_exited()
    }
}
