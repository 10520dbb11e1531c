//! Messages between the runner and the sandbox's init process.
//!
//! The runner re-executes its own binary as `<exe> __sandbox-init
//! REQUEST_FD REPORT_FD`. On the request pipe it writes the
//! [`InitRequest`] as JSON behind an 8-byte little-endian length. The
//! runner keeps its end of that pipe open for the sandbox's lifetime, so
//! end of file there means the runner died or wants the sandbox killed. On the report pipe the init,
//! pid 1 and the command's pre-exec code each write [`Report`]s as single
//! JSON lines shorter than `PIPE_BUF`, so concurrent writes never mix.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::SandboxConfig;
use crate::network::PastaLaunch;
use crate::sandbox::ExitOutcome;
use crate::sys;

/// argv[1] that turns the process into the sandbox's init.
pub const INIT_MARKER: &str = "__sandbox-init";

/// Largest request the init accepts, against a corrupt length prefix.
const MAX_REQUEST_BYTES: u64 = 16 << 20;

/// Everything the init process needs.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitRequest {
    /// The sandbox to build.
    pub config: SandboxConfig,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// `cgroup.procs` files the init joins before creating namespaces.
    pub cgroup_procs: Vec<PathBuf>,
    /// How to start `pasta`, for the pasta network.
    pub pasta: Option<PastaLaunch>,
    /// Whether RLIMIT_NPROC enforces the pids limit (no pids cgroup).
    pub pids_by_rlimit: bool,
}

/// A progress or failure message from inside the sandbox.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub enum Report {
    /// The command was executed.
    Started,
    /// A setup step failed.
    SetupFailed { message: String },
    /// execve (or the path lookup) of the command failed with `errno`.
    ExecFailed { program: String, errno: i32 },
    /// The command ended and every process of the sandbox was killed.
    Finished(ExitOutcome),
}

/// Writes reports to the report pipe.
pub struct Reporter {
    fd: libc::c_int,
}

impl Reporter {
    /// Wraps the inherited descriptor `fd`.
    pub fn new(fd: libc::c_int) -> Self {
        Self { fd }
    }

    /// Sends `report`. Errors are ignored: a runner that stopped reading
    /// has died, and the lifeline pipe will end the sandbox.
    pub fn send(&self, report: &Report) {
        let mut line = serde_json::to_string(report).unwrap_or_default();
        // A report must fit in one atomic pipe write.
        line.truncate(libc::PIPE_BUF - 1);
        line.push('\n');
        let _ = sys::write_all(self.fd, line.as_bytes());
    }
}

/// Writes `request` with its length prefix.
pub fn write_request(mut pipe: impl Write, request: &InitRequest) -> io::Result<()> {
    let body = serde_json::to_vec(request).map_err(io::Error::other)?;
    pipe.write_all(&(body.len() as u64).to_le_bytes())?;
    pipe.write_all(&body)
}

/// Reads one length-prefixed request.
pub fn read_request(mut pipe: impl Read) -> io::Result<InitRequest> {
    let mut length = [0u8; 8];
    pipe.read_exact(&mut length)?;
    let length = u64::from_le_bytes(length);
    if length > MAX_REQUEST_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("sandbox request of {length} bytes exceeds {MAX_REQUEST_BYTES}"),
        ));
    }
    let mut body = vec![0u8; length as usize];
    pipe.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips() {
        let request = InitRequest {
            config: SandboxConfig::default(),
            argv: vec!["id".into(), "-u".into()],
            cgroup_procs: vec![],
            pasta: None,
            pids_by_rlimit: false,
        };
        let mut buffer = Vec::new();
        write_request(&mut buffer, &request).unwrap();
        let back = read_request(&buffer[..]).unwrap();
        assert_eq!(back.argv, request.argv);
        assert!(back.pasta.is_none());
    }

    #[test]
    fn oversized_request_is_rejected() {
        let buffer = u64::MAX.to_le_bytes();
        let error = read_request(&buffer[..]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn report_is_one_line() {
        let line =
            serde_json::to_string(&Report::Finished(ExitOutcome::Exited { code: 3 })).unwrap();
        assert!(!line.contains('\n'));
        let back: Report = serde_json::from_str(&line).unwrap();
        assert_eq!(back, Report::Finished(ExitOutcome::Exited { code: 3 }));
    }
}
