//! What the runner asks of one sandbox.
//!
//! [`SandboxConfig`] is plain data: the runner builds it, [`crate::Sandbox`]
//! serializes it to JSON and hands it to the re-executed init process
//! through a pipe, so every field must survive a serde round trip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// The user id and group id of the user `runner` inside the sandbox.
pub const SANDBOX_UID: u32 = 1000;

/// Home directory of the user `runner` inside the sandbox.
pub const SANDBOX_HOME: &str = "/home/runner";

/// Where the job's checkout appears inside the sandbox.
pub const WORKSPACE_DIR: &str = "/workspace";

/// The whole description of one sandbox.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// Source of the read-only root filesystem.
    pub root: RootFs,
    /// Host directory mounted writable at `/workspace`.
    pub workspace: Option<PathBuf>,
    /// Extra bind mounts, applied after the root and the workspace.
    pub binds: Vec<Bind>,
    /// Working directory of the command, inside the sandbox.
    pub cwd: PathBuf,
    /// The command's whole environment: nothing from the runner leaks in.
    pub env: Vec<(String, String)>,
    /// Host name inside the sandbox's UTS namespace.
    pub hostname: String,
    /// Network access of the sandbox.
    pub network: Network,
    /// Resource limits.
    pub limits: Limits,
    /// Seccomp policy: `default`, `strict` or the path of a policy file.
    pub seccomp_policy: String,
    /// Standard input of the command.
    pub stdin: StdinMode,
    /// Host directory where the generated `/etc` files are kept between
    /// sandboxes (see `etc_cache`), or `None` to write them into each
    /// sandbox.
    pub etc_cache: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            root: RootFs::Host,
            workspace: None,
            binds: Vec::new(),
            cwd: PathBuf::from(SANDBOX_HOME),
            env: default_env(),
            hostname: "sandbox".to_owned(),
            network: Network::None,
            limits: Limits::default(),
            seccomp_policy: "default".to_owned(),
            stdin: StdinMode::Null,
            etc_cache: None,
        }
    }
}

/// The environment a command gets when the runner sets none of its own.
pub fn default_env() -> Vec<(String, String)> {
    [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", SANDBOX_HOME),
        ("USER", "runner"),
        ("LOGNAME", "runner"),
        ("SHELL", "/bin/sh"),
        ("LANG", "C.UTF-8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Source of the sandbox's root filesystem, always mounted read-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootFs {
    /// The host's `/usr`, `/bin`, `/lib*`, `/sbin` and a subset of `/etc`.
    Host,
    /// A directory holding an unpacked image.
    Dir(PathBuf),
}

/// One bind mount from the host into the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// Host path (file or directory).
    pub source: PathBuf,
    /// Absolute path inside the sandbox.
    pub target: PathBuf,
    /// Whether the sandbox may write through this mount.
    pub writable: bool,
}

/// Network access of the sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// A new network namespace holding only the loopback interface.
    #[default]
    None,
    /// The host's network namespace, shared.
    Host,
    /// A new network namespace connected by `pasta` (package `passt`).
    Pasta(PastaOptions),
}

/// Options of the `pasta` user-mode network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastaOptions {
    /// TCP ports on the sandbox's loopback that pasta forwards to the same
    /// ports on the host's loopback (pasta `-T`). Empty forwards none.
    pub host_loopback_tcp_ports: Vec<u16>,
}

/// Resource limits. `None` leaves a resource unlimited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock time after which every process of the sandbox is killed.
    pub wall_time: Option<Duration>,
    /// Maximum number of processes (and threads) in the sandbox.
    pub pids: Option<u64>,
    /// Maximum number of open descriptors per process (RLIMIT_NOFILE).
    pub open_files: Option<u64>,
    /// Size of the `/tmp` tmpfs in bytes.
    pub tmp_size_bytes: Option<u64>,
    /// Maximum memory of the sandbox in bytes (cgroup memory limit).
    pub memory_bytes: Option<u64>,
    /// Maximum CPU time as a number of cores (cgroup CPU quota).
    pub cpu_quota: Option<f64>,
}

/// Standard input of the sandboxed command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StdinMode {
    /// `/dev/null`.
    #[default]
    Null,
    /// The runner's own standard input.
    Inherit,
    /// A pipe, available from [`crate::SandboxChild::take_stdin`].
    Piped,
}

impl SandboxConfig {
    /// Checks the parts of the configuration the sandbox cannot repair.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let invalid = |message: String| Err(SandboxError::InvalidConfig(message));

        if let RootFs::Dir(dir) = &self.root {
            if !dir.is_dir() {
                return invalid(format!(
                    "image directory {} does not exist or is not a directory",
                    dir.display()
                ));
            }
        }
        if let Some(workspace) = &self.workspace {
            if !workspace.is_dir() {
                return invalid(format!(
                    "workspace {} does not exist or is not a directory",
                    workspace.display()
                ));
            }
        }
        for bind in &self.binds {
            validate_bind(bind)?;
        }
        if !self.cwd.is_absolute() {
            return invalid(format!(
                "working directory {} must be an absolute path inside the sandbox",
                self.cwd.display()
            ));
        }
        for (key, value) in &self.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
                return invalid(format!(
                    "environment variable {key:?} must be a non-empty name without '=' or NUL"
                ));
            }
        }
        validate_hostname(&self.hostname)?;
        self.limits.validate()
    }
}

fn validate_bind(bind: &Bind) -> Result<(), SandboxError> {
    if !bind.source.exists() {
        return Err(SandboxError::InvalidConfig(format!(
            "bind source {} does not exist",
            bind.source.display()
        )));
    }
    if !is_clean_absolute(&bind.target) || bind.target == Path::new("/") {
        return Err(SandboxError::InvalidConfig(format!(
            "bind target {} must be an absolute path other than / without `..`",
            bind.target.display()
        )));
    }
    Ok(())
}

fn validate_hostname(hostname: &str) -> Result<(), SandboxError> {
    let valid_chars = hostname
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if hostname.is_empty() || hostname.len() > 64 || !valid_chars {
        return Err(SandboxError::InvalidConfig(format!(
            "host name {hostname:?} must be 1 to 64 letters, digits, '-' or '.'"
        )));
    }
    Ok(())
}

impl Limits {
    fn validate(&self) -> Result<(), SandboxError> {
        let invalid = |message: String| Err(SandboxError::InvalidConfig(message));
        if self.pids == Some(0) {
            return invalid("pids limit must be at least 1".to_owned());
        }
        if self.open_files.is_some_and(|n| n < 3) {
            return invalid("open files limit must be at least 3 (stdin, stdout, stderr)".into());
        }
        if self.tmp_size_bytes == Some(0) {
            return invalid("/tmp size must be at least 1 byte".to_owned());
        }
        if let Some(cores) = self.cpu_quota {
            if !(cores.is_finite() && cores > 0.0) {
                return invalid(format!(
                    "cpu quota {cores} must be a positive number of cores"
                ));
            }
        }
        Ok(())
    }
}

/// Whether `path` is absolute and has no `.` or `..` components.
pub fn is_clean_absolute(path: &Path) -> bool {
    use std::path::Component;
    path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_json() {
        let config = SandboxConfig {
            network: Network::Pasta(PastaOptions {
                host_loopback_tcp_ports: vec![8080],
            }),
            limits: Limits {
                wall_time: Some(Duration::from_millis(1500)),
                pids: Some(64),
                ..Limits::default()
            },
            ..SandboxConfig::default()
        };
        let json = serde_json::to_string(&config).unwrap();
        let back: SandboxConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.network, config.network);
        assert_eq!(back.limits, config.limits);
        assert_eq!(back.env, config.env);
    }

    #[test]
    fn bind_target_with_dotdot_is_rejected() {
        let bind = Bind {
            source: PathBuf::from("/"),
            target: PathBuf::from("/a/../etc"),
            writable: false,
        };
        let error = validate_bind(&bind).unwrap_err().to_string();
        assert!(error.contains("/a/../etc"), "{error}");
    }

    #[test]
    fn relative_cwd_is_rejected() {
        let config = SandboxConfig {
            cwd: PathBuf::from("work"),
            ..SandboxConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("working directory work"), "{error}");
    }

    #[test]
    fn env_name_with_equals_is_rejected() {
        let config = SandboxConfig {
            env: vec![("A=B".into(), "c".into())],
            ..SandboxConfig::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn hostname_with_slash_is_rejected() {
        assert!(validate_hostname("a/b").is_err());
        assert!(validate_hostname("ci-box.local").is_ok());
    }
}
