//! Sandbox launcher: runs every step of a job in its own rootless sandbox.
//!
//! With `htci run --sandbox` (or `[runner.container] enabled = true`) the
//! executor hands its [`LaunchSpec`]s to a [`SandboxLauncher`] instead of
//! the host launcher. Each step gets a fresh [`ci_sandbox::Sandbox`] over
//! a read-only root filesystem (the host's or an unpacked image
//! directory), with these host directories of the job bound writable:
//!
//! | host (under the job directory) | inside the sandbox     |
//! |--------------------------------|------------------------|
//! | `workspace/`                   | `/workspace`           |
//! | `temp/` (RUNNER_TEMP)          | `/runner/temp`         |
//! | `files/` (GITHUB_OUTPUT, ...)  | `/runner/files`        |
//! | `tool-cache/`                  | `/runner/tool-cache`   |
//!
//! [`Launcher::visible_path`] performs this mapping, so every path the
//! executor puts into a spec is one the step can open. Killing a step
//! kills its sandbox, which takes every process of the step with it: a
//! background process never outlives its step, unlike on the host.
//!
//! Limits come from runner.toml and the job: wall time (the job's time
//! limit, as a backstop behind the executor's own timer), pids, open
//! files, the size of `/tmp` and `/home/runner`, memory and CPU. Which of
//! them this host can enforce is decided by [`ci_sandbox::probe`] and by
//! each sandbox's [`ci_sandbox::Enforcement`]; a job's result records
//! only the limits that were in force.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ci_core::config::{ContainerConfig, ContainerRuntime, RunnerConfig};
use ci_sandbox::{
    Bind, CgroupSupport, Enforcement, ExitOutcome, HostSupport, LimitKind, Limits, Network,
    PastaOptions, RootFs, Sandbox, SandboxChild, SandboxConfig,
};
use ci_workflow::model::RunsOn;
use nix::sys::signal::Signal;
use serde_json::{Map, Value, json};

use crate::executor::eval::{self, Contexts};
use crate::executor::job::JobPlan;
use crate::launcher::{ExitKind, LaunchError, LaunchSpec, Launcher, Process};
use crate::workspace::JobDirs;

/// Mount point of the job's runner directories inside the sandbox.
pub const RUNNER_DIR: &str = "/runner";

/// `PATH` of a step in the sandbox before `GITHUB_PATH` additions.
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Maximum number of processes and threads of one step.
// NOTE: runner.toml has no keys for pids, open files and /tmp size yet,
// so these defaults apply to every sandboxed step.
pub const DEFAULT_PIDS: u64 = 4096;

/// Maximum number of open files per process of a step. It is lowered to
/// the runner's own hard limit, which an unprivileged process cannot raise.
pub const DEFAULT_OPEN_FILES: u64 = 65536;

/// Size of the `/tmp` and `/home/runner` tmpfs of a step, in bytes.
pub const DEFAULT_TMP_SIZE: u64 = 1 << 30;

/// Extra time the sandbox's own wall-time limit gives a step beyond the
/// job's time limit, so the executor's timer (which records a timeout)
/// fires first and the sandbox's limit only backs it up.
const WALL_TIME_SLACK: Duration = Duration::from_secs(10);

/// Seccomp policy of every step.
const SECCOMP_POLICY: &str = "default";

/// Top-level directories of the sandbox that an extra bind must not
/// cover, because the root filesystem or the job's mounts own them.
const RESERVED_TOP_LEVEL: &[&str] = &[
    "usr",
    "bin",
    "sbin",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "etc",
    "proc",
    "dev",
    "sys",
    "run",
    "workspace",
    "runner",
];

/// Errors of setting up sandboxed runs; each is a configuration problem
/// reported with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SandboxSetupError {
    #[error("invalid network `{value}` ({origin}): expected none, host or pasta")]
    InvalidNetwork { value: String, origin: &'static str },
    #[error(
        "image directory {path} ({origin}) does not exist or is not a directory; give `host` or a directory holding an unpacked root filesystem"
    )]
    MissingImage { path: PathBuf, origin: String },
    #[error(
        "network pasta needs the `pasta` program (package passt), which is not in PATH; install it or use --network none"
    )]
    PastaMissing,
    #[error(
        "network pasta needs read and write access to /dev/net/tun ({0}); most distributions make it mode 0666 (`chmod 0666 /dev/net/tun`), or use --network none"
    )]
    TunDenied(nix::errno::Errno),
    #[error("the sandbox cannot run on this host: {0}")]
    UserNamespacesBlocked(String),
    #[error(
        "--image and --network apply to sandboxed runs; add --sandbox or set [runner.container] enabled = true"
    )]
    NotSandboxed,
}

/// The root filesystem of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// The host's `/usr`, `/bin`, `/lib*`, `/sbin` and an `/etc` subset.
    Host,
    /// A directory holding an unpacked root filesystem.
    Dir(PathBuf),
}

impl Image {
    /// Parses `host` or a directory; `origin` names where the value came
    /// from in errors (`--image`, `[runner.images] ubuntu-latest`).
    pub fn parse(value: &str, origin: &str) -> Result<Self, SandboxSetupError> {
        let value = value.trim();
        if value == "host" {
            return Ok(Image::Host);
        }
        let path = PathBuf::from(value);
        if !path.is_dir() {
            return Err(SandboxSetupError::MissingImage {
                path,
                origin: origin.to_string(),
            });
        }
        let path = path.canonicalize().unwrap_or(path);
        Ok(Image::Dir(path))
    }

    /// Returns the name recorded in results: `host` or the directory.
    pub fn name(&self) -> String {
        match self {
            Image::Host => "host".to_string(),
            Image::Dir(path) => path.display().to_string(),
        }
    }

    fn root(&self) -> RootFs {
        match self {
            Image::Host => RootFs::Host,
            Image::Dir(path) => RootFs::Dir(path.clone()),
        }
    }
}

/// The command-line options of `htci run` that concern the sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// `--image`.
    pub image: Option<String>,
    /// `--network`.
    pub network: Option<String>,
}

/// Settings shared by every sandbox of a run.
#[derive(Debug)]
pub struct SandboxSettings {
    image_override: Option<Image>,
    /// `[runner.images]`: `runs-on` label to image value.
    images: BTreeMap<String, String>,
    default_image: String,
    network: Network,
    network_name: &'static str,
    /// Limits of every step, without the wall time.
    limits: Limits,
    support: HostSupport,
}

impl SandboxSettings {
    /// Builds the settings from the command line and runner.toml, and
    /// checks that this host can run the sandbox with them.
    pub fn new(
        options: &SandboxOptions,
        container: &ContainerConfig,
        images: &BTreeMap<String, String>,
    ) -> Result<Self, SandboxSetupError> {
        let support = ci_sandbox::probe();
        if let Some(reason) = &support.user_namespaces_blocked {
            return Err(SandboxSetupError::UserNamespacesBlocked(reason.clone()));
        }

        let (network, network_name) = match &options.network {
            Some(value) => parse_network(value, "--network")?,
            None => parse_network(container.network.as_str(), "[runner.container] network")?,
        };
        if network_name == "pasta" {
            check_pasta(&support)?;
        }

        let image_override = options
            .image
            .as_deref()
            .map(|value| Image::parse(value, "--image"))
            .transpose()?;
        if image_override.is_none() {
            Image::parse(&container.default_image, "[runner.container] default_image")?;
        }

        Ok(Self {
            image_override,
            images: images.clone(),
            default_image: container.default_image.clone(),
            network,
            network_name,
            limits: Limits {
                wall_time: None,
                pids: Some(DEFAULT_PIDS),
                open_files: Some(open_files_limit()),
                tmp_size_bytes: Some(DEFAULT_TMP_SIZE),
                memory_bytes: container.memory_limit,
                cpu_quota: container.cpu_limit,
            },
            support,
        })
    }

    /// Chooses the image of a job: `--image`, else the first `runs-on`
    /// label listed in `[runner.images]`, else `default_image`.
    pub fn image_for(&self, labels: &[String]) -> Result<Image, SandboxSetupError> {
        if let Some(image) = &self.image_override {
            return Ok(image.clone());
        }
        for label in labels {
            if let Some(value) = self.images.get(label) {
                return Image::parse(value, &format!("[runner.images] {label}"));
            }
        }
        Image::parse(&self.default_image, "[runner.container] default_image")
    }

    /// Returns the limits that this host cannot enforce, as
    /// `"<limit>: <reason>"`, predicted from the host probe.
    pub fn unenforced(&self) -> Vec<String> {
        predict_enforcement(&self.limits, &self.support)
            .not_enforced
            .iter()
            .map(|(kind, reason)| format!("{}: {reason}", limit_name(*kind)))
            .collect()
    }
}

/// Builds the sandbox launcher of a run, or returns `None` when steps run
/// on the host: without `--sandbox` (`requested`) and with
/// `[runner.container] enabled = false`. Prints the run's warnings (a
/// runtime other than the built-in sandbox, limits this host cannot
/// enforce) to stderr, once each.
pub fn for_run(
    options: &SandboxOptions,
    requested: bool,
    config: &RunnerConfig,
) -> Result<Option<SandboxLauncher>, SandboxSetupError> {
    let container = &config.container;
    if !requested && !container.enabled {
        if options.image.is_some() || options.network.is_some() {
            return Err(SandboxSetupError::NotSandboxed);
        }
        return Ok(None);
    }
    if let Some(warning) = runtime_warning(container.runtime) {
        eprintln!("warning: {warning}");
    }
    let settings = SandboxSettings::new(options, container, &config.images)?;
    for limit in settings.unenforced() {
        eprintln!("warning: sandbox limit not enforced on this host: {limit}");
    }
    Ok(Some(SandboxLauncher::new(settings)))
}

/// Returns the warning for a configured runtime that the built-in sandbox
/// stands in for.
fn runtime_warning(runtime: ContainerRuntime) -> Option<String> {
    match runtime {
        ContainerRuntime::Sandbox => None,
        ContainerRuntime::Docker | ContainerRuntime::Podman => Some(format!(
            "[runner.container] runtime = \"{}\" is not available in htci; every step runs in the built-in rootless sandbox instead (set runtime = \"sandbox\" to silence this warning)",
            runtime.as_str()
        )),
    }
}

/// The variables a sandboxed step starts from in place of the runner's
/// own (see [`crate::executor::contexts::PASSTHROUGH_ENV`]): host paths
/// such as the runner's `HOME` mean nothing inside the sandbox.
pub fn passthrough_env() -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_string(), SANDBOX_PATH.to_string()),
        (
            "HOME".to_string(),
            ci_sandbox::config::SANDBOX_HOME.to_string(),
        ),
        ("USER".to_string(), "runner".to_string()),
        ("LOGNAME".to_string(), "runner".to_string()),
    ];
    for name in ["LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_string(), value));
        }
    }
    env
}

impl SandboxLauncher {
    /// Checks the images of jobs whose `runs-on` labels need no
    /// expression, so a missing image directory stops the run before it
    /// starts. Labels from expressions are checked when their job starts.
    pub fn check_images(
        &self,
        label_sets: impl Iterator<Item = Vec<String>>,
    ) -> Result<(), SandboxSetupError> {
        for labels in label_sets {
            self.settings.image_for(&labels)?;
        }
        Ok(())
    }
}

/// Checks that pasta can run for this user: installed, and the tun device
/// it opens from inside the namespace accessible. Failing here stops the
/// run before any step instead of failing every step.
fn check_pasta(support: &HostSupport) -> Result<(), SandboxSetupError> {
    use nix::unistd::{AccessFlags, access};

    if support.pasta.is_none() {
        return Err(SandboxSetupError::PastaMissing);
    }
    access("/dev/net/tun", AccessFlags::R_OK | AccessFlags::W_OK)
        .map_err(SandboxSetupError::TunDenied)
}

/// The runner's hard limit of open files, capped at [`DEFAULT_OPEN_FILES`].
fn open_files_limit() -> u64 {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => hard.min(DEFAULT_OPEN_FILES),
        Err(_) => 1024,
    }
}

fn parse_network(
    value: &str,
    origin: &'static str,
) -> Result<(Network, &'static str), SandboxSetupError> {
    match value.trim() {
        "none" => Ok((Network::None, "none")),
        "host" => Ok((Network::Host, "host")),
        "pasta" => Ok((Network::Pasta(PastaOptions::default()), "pasta")),
        other => Err(SandboxSetupError::InvalidNetwork {
            value: other.to_string(),
            origin,
        }),
    }
}

/// The name of a limit in results and warnings.
fn limit_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::WallTime => "wall_time",
        LimitKind::Pids => "pids",
        LimitKind::OpenFiles => "open_files",
        LimitKind::TmpSize => "tmp_size",
        LimitKind::Memory => "memory",
        LimitKind::Cpu => "cpu",
    }
}

/// Predicts which of `limits` a sandbox on this host enforces, with the
/// same rules as the sandbox: wall time, open files and /tmp size always;
/// pids, memory and CPU through a cgroup controller, pids otherwise
/// through RLIMIT_NPROC where the kernel applies it.
fn predict_enforcement(limits: &Limits, support: &HostSupport) -> Enforcement {
    let mut enforcement = Enforcement::default();
    let fixed = [
        (
            LimitKind::WallTime,
            limits.wall_time.is_some(),
            "pid 1 timer",
        ),
        (
            LimitKind::TmpSize,
            limits.tmp_size_bytes.is_some(),
            "tmpfs size",
        ),
        (
            LimitKind::OpenFiles,
            limits.open_files.is_some(),
            "RLIMIT_NOFILE",
        ),
    ];
    for (kind, requested, how) in fixed {
        if requested {
            enforcement.enforced.push((kind, how.to_string()));
        }
    }

    let by_cgroup = [
        (LimitKind::Pids, limits.pids.is_some(), "pids"),
        (LimitKind::Memory, limits.memory_bytes.is_some(), "memory"),
        (LimitKind::Cpu, limits.cpu_quota.is_some(), "cpu"),
    ];
    for (kind, requested, controller) in by_cgroup {
        if !requested {
            continue;
        }
        let (available, reason, how) = match &support.cgroups {
            CgroupSupport::V1Root { controllers } => (
                controllers.iter().any(|c| c == controller),
                "the cgroup v1 controller is not mounted".to_string(),
                "cgroup v1",
            ),
            CgroupSupport::V2Delegated { controllers, .. } => (
                controllers.iter().any(|c| c == controller),
                "the cgroup v2 controller is not delegated".to_string(),
                "cgroup v2",
            ),
            CgroupSupport::Unavailable { reason } => (false, reason.clone(), ""),
        };
        if available {
            enforcement.enforced.push((kind, how.to_string()));
        } else if kind == LimitKind::Pids && support.rlimit_nproc {
            enforcement
                .enforced
                .push((kind, "RLIMIT_NPROC".to_string()));
        } else {
            enforcement.not_enforced.push((kind, reason));
        }
    }
    enforcement
}

/// Evaluates a job's `runs-on` labels. A label whose expression fails is
/// left out, because the image choice then falls back to the default.
pub fn job_labels(runs_on: Option<&RunsOn>, contexts: &Contexts) -> Vec<String> {
    let templates = match runs_on {
        None => return Vec::new(),
        Some(RunsOn::Labels(labels)) => labels,
        Some(RunsOn::Group { labels, .. }) => labels,
    };
    let mut labels = Vec::new();
    for template in templates {
        match eval::value(&template.value, contexts) {
            Ok(Value::Array(items)) => {
                labels.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            Ok(Value::String(label)) => labels.push(label),
            Ok(other) => labels.push(other.to_string()),
            Err(_) => {}
        }
    }
    labels
}

/// Returns the `runs-on` labels written without expressions, which can be
/// checked before the run starts.
pub fn literal_labels(runs_on: Option<&RunsOn>) -> Vec<String> {
    let templates = match runs_on {
        None => return Vec::new(),
        Some(RunsOn::Labels(labels)) => labels,
        Some(RunsOn::Group { labels, .. }) => labels,
    };
    templates
        .iter()
        .filter(|t| !t.value.contains("${{"))
        .map(|t| t.value.clone())
        .collect()
}

/// Runs steps in sandboxes. The run-wide launcher only describes the
/// isolation; [`Launcher::for_job`] returns the one that runs a job.
pub struct SandboxLauncher {
    settings: Arc<SandboxSettings>,
    job: Option<JobSandbox>,
}

/// The per-job part: directories, image and deadline.
struct JobSandbox {
    dirs: JobDirs,
    image: Result<Image, String>,
    /// The job's time limit.
    timeout: Duration,
    deadline: Instant,
    /// Limits in force in every sandbox of the job so far, and the
    /// reasons of those that were not.
    observed: Mutex<Option<Enforcement>>,
}

impl SandboxLauncher {
    /// Creates the run-wide launcher.
    pub fn new(settings: SandboxSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            job: None,
        }
    }

    /// The job's mounts: host directory and path inside, most specific
    /// first.
    fn mounts(&self) -> Vec<(PathBuf, PathBuf)> {
        let Some(job) = &self.job else {
            return Vec::new();
        };
        let runner = Path::new(RUNNER_DIR);
        vec![
            (
                job.dirs.workspace.clone(),
                PathBuf::from(ci_sandbox::config::WORKSPACE_DIR),
            ),
            (job.dirs.temp.clone(), runner.join("temp")),
            (job.dirs.files.clone(), runner.join("files")),
            (job.dirs.tool_cache.clone(), runner.join("tool-cache")),
        ]
    }

    /// Maps a path inside the sandbox back to the host, for looking up
    /// programs. Returns `None` for paths that only exist inside.
    fn host_path_of(&self, inside: &Path, image: &Image) -> Option<PathBuf> {
        for (host, visible) in self.mounts() {
            if let Ok(rest) = inside.strip_prefix(&visible) {
                return Some(host.join(rest));
            }
        }
        let relative = inside.strip_prefix("/").ok()?;
        let top = relative.components().next()?.as_os_str().to_str()?;
        match image {
            Image::Host => ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"]
                .contains(&top)
                .then(|| inside.to_path_buf()),
            Image::Dir(root) => resolve_in_image(root, relative),
        }
    }

    fn map_value(&self, value: &str) -> String {
        let mut mapped = value.to_string();
        for (host, visible) in self.mounts() {
            let host = host.to_string_lossy();
            if mapped.contains(host.as_ref()) {
                mapped = mapped.replace(host.as_ref(), &visible.to_string_lossy());
            }
        }
        mapped
    }

    fn sandbox_config(&self, job: &JobSandbox, image: &Image, spec: &LaunchSpec) -> SandboxConfig {
        let mut binds: Vec<Bind> = self
            .mounts()
            .into_iter()
            .skip(1)
            .map(|(source, target)| Bind {
                source,
                target,
                writable: true,
            })
            .collect();
        binds.extend(git_alternates(&job.dirs.workspace));

        let left = job.deadline.saturating_duration_since(Instant::now());
        SandboxConfig {
            root: image.root(),
            workspace: Some(job.dirs.workspace.clone()),
            binds,
            cwd: spec.working_dir.clone(),
            env: spec
                .env
                .iter()
                .map(|(key, value)| (key.clone(), self.map_value(value)))
                .collect(),
            hostname: "htci".to_string(),
            network: self.settings.network.clone(),
            limits: Limits {
                wall_time: Some(left + WALL_TIME_SLACK),
                ..self.settings.limits.clone()
            },
            seccomp_policy: SECCOMP_POLICY.to_string(),
            stdin: ci_sandbox::StdinMode::Null,
        }
    }

    /// Merges the enforcement of one sandbox into the job's record: a
    /// limit counts as in force only if every sandbox enforced it.
    fn observe(&self, enforcement: &Enforcement) {
        let Some(job) = &self.job else { return };
        let mut observed = job.observed.lock().unwrap_or_else(|e| e.into_inner());
        let merged = match observed.take() {
            None => enforcement.clone(),
            Some(mut so_far) => {
                so_far
                    .enforced
                    .retain(|(kind, _)| enforcement.is_enforced(*kind));
                for (kind, reason) in &enforcement.not_enforced {
                    if !so_far.not_enforced.iter().any(|(k, _)| k == kind) {
                        so_far.not_enforced.push((*kind, reason.clone()));
                    }
                }
                so_far
            }
        };
        *observed = Some(merged);
    }

    fn limits_record(&self, enforcement: &Enforcement, timeout: Option<Duration>) -> Value {
        let limits = &self.settings.limits;
        let mut record = Map::new();
        for (kind, _) in &enforcement.enforced {
            let value = match kind {
                LimitKind::WallTime => timeout.map(|t| json!(t.as_secs_f64())),
                LimitKind::Pids => limits.pids.map(|v| json!(v)),
                LimitKind::OpenFiles => limits.open_files.map(|v| json!(v)),
                LimitKind::TmpSize => limits.tmp_size_bytes.map(|v| json!(v)),
                LimitKind::Memory => limits.memory_bytes.map(|v| json!(v)),
                LimitKind::Cpu => limits.cpu_quota.map(|v| json!(v)),
            };
            if let Some(value) = value {
                record.insert(limit_key(*kind).to_string(), value);
            }
        }
        Value::Object(record)
    }
}

/// Returns whether `path` is a regular file with an execute bit.
fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Maximum number of symbolic links followed while resolving one path,
/// the kernel's limit (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Resolves `relative` (a path inside the sandbox without its leading
/// `/`) in the image directory `root` the way the sandbox will see it:
/// absolute symbolic links lead back into `root`, not to the host.
/// Returns `None` when more than [`MAX_SYMLINKS`] links are followed.
fn resolve_in_image(root: &Path, relative: &Path) -> Option<PathBuf> {
    use std::path::Component;

    let mut pending: Vec<std::ffi::OsString> = relative
        .components()
        .rev()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == "." {
            continue;
        }
        if part == ".." {
            // As in the kernel, `..` at the root stays at the root.
            resolved.pop();
            continue;
        }
        let candidate = resolved
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&part);
        let Ok(target) = std::fs::read_link(&candidate) else {
            resolved.push(part);
            continue;
        };
        links += 1;
        if links > MAX_SYMLINKS {
            return None;
        }
        if target.is_absolute() {
            resolved.clear();
        }
        pending.extend(
            target
                .components()
                .filter(|c| !matches!(c, Component::RootDir))
                .rev()
                .map(|c| c.as_os_str().to_os_string()),
        );
    }
    Some(resolved.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

/// The key of a limit in the `limits` object of a result, with its unit.
fn limit_key(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::WallTime => "wall_time_secs",
        LimitKind::Pids => "pids",
        LimitKind::OpenFiles => "open_files",
        LimitKind::TmpSize => "tmp_size_bytes",
        LimitKind::Memory => "memory_bytes",
        LimitKind::Cpu => "cpus",
    }
}

/// Read-only binds of the object directories that the workspace's git
/// repository borrows from (`git clone --shared` writes them to
/// `.git/objects/info/alternates`), at the same paths, so git works
/// inside the sandbox. Paths the sandbox reserves are left out.
// NOTE: this shows every object of the source repository to the steps,
// other branches included, read-only.
fn git_alternates(workspace: &Path) -> Vec<Bind> {
    let file = workspace.join(".git/objects/info/alternates");
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(PathBuf::from)
        .filter(|path| ci_sandbox::config::is_clean_absolute(path) && path.is_dir())
        .filter(|path| {
            let top = path
                .components()
                .nth(1)
                .and_then(|c| c.as_os_str().to_str())
                .unwrap_or_default();
            !RESERVED_TOP_LEVEL.contains(&top)
                && !path.starts_with(ci_sandbox::config::SANDBOX_HOME)
        })
        .map(|path| Bind {
            source: path.clone(),
            target: path,
            writable: false,
        })
        .collect()
}

impl Launcher for SandboxLauncher {
    fn launch(&self, spec: &LaunchSpec) -> Result<Box<dyn Process>, LaunchError> {
        let spawn_error = |source: io::Error| LaunchError::Spawn {
            program: spec.program.clone(),
            working_dir: spec.working_dir.clone(),
            source,
        };
        let Some(job) = &self.job else {
            return Err(spawn_error(io::Error::other(
                "the sandbox launcher runs steps only through for_job",
            )));
        };
        let image = job
            .image
            .as_ref()
            .map_err(|e| spawn_error(io::Error::other(e.clone())))?;

        let config = self.sandbox_config(job, image, spec);
        let mut argv = vec![spec.program.clone()];
        argv.extend(spec.args.iter().cloned());
        let child =
            Sandbox::spawn(&config, &argv, Stdio::piped(), Stdio::piped()).map_err(|error| {
                match error {
                    ci_sandbox::SandboxError::Exec { source, .. } => spawn_error(source),
                    other => spawn_error(io::Error::other(other.to_string())),
                }
            })?;
        self.observe(child.enforcement());
        Ok(Box::new(SandboxProcess::new(child)))
    }

    fn visible_path(&self, host_path: &Path) -> PathBuf {
        for (host, visible) in self.mounts() {
            match host_path.strip_prefix(&host) {
                Ok(rest) if rest.as_os_str().is_empty() => return visible,
                Ok(rest) => return visible.join(rest),
                Err(_) => {}
            }
        }
        host_path.to_path_buf()
    }

    fn has_program(&self, program: &str, path_var: &str) -> bool {
        let image = match self.job.as_ref().map(|job| &job.image) {
            Some(Ok(image)) => image.clone(),
            _ => return false,
        };
        path_var
            .split(':')
            .filter(|dir| !dir.is_empty())
            .filter_map(|dir| self.host_path_of(&Path::new(dir).join(program), &image))
            .any(|path| is_executable_file(&path))
    }

    fn isolation_kind(&self) -> &'static str {
        "sandbox"
    }

    fn isolation(&self) -> Value {
        let (image, timeout, enforcement) = match &self.job {
            Some(job) => {
                let observed = job.observed.lock().unwrap_or_else(|e| e.into_inner());
                let enforcement = observed.clone().unwrap_or_else(|| {
                    let limits = Limits {
                        wall_time: Some(job.timeout),
                        ..self.settings.limits.clone()
                    };
                    predict_enforcement(&limits, &self.settings.support)
                });
                let image = match &job.image {
                    Ok(image) => image.name(),
                    Err(_) => "none".to_string(),
                };
                (image, Some(job.timeout), enforcement)
            }
            None => {
                let image = self
                    .settings
                    .image_for(&[])
                    .map(|i| i.name())
                    .unwrap_or_else(|_| "none".into());
                let enforcement =
                    predict_enforcement(&self.settings.limits, &self.settings.support);
                (image, None, enforcement)
            }
        };
        let unenforced: Vec<String> = enforcement
            .not_enforced
            .iter()
            .map(|(kind, reason)| format!("{}: {reason}", limit_name(*kind)))
            .collect();
        json!({
            "kind": "sandbox",
            "image": image,
            "network": self.settings.network_name,
            "seccomp": SECCOMP_POLICY,
            "limits": self.limits_record(&enforcement, timeout),
            "unenforced": unenforced,
        })
    }

    fn for_job(self: Arc<Self>, dirs: &JobDirs, plan: &JobPlan) -> Arc<dyn Launcher> {
        let image = self
            .settings
            .image_for(&plan.runs_on)
            .map_err(|e| e.to_string());
        Arc::new(SandboxLauncher {
            settings: self.settings.clone(),
            job: Some(JobSandbox {
                dirs: dirs.clone(),
                image,
                timeout: plan.timeout,
                deadline: Instant::now() + plan.timeout,
                observed: Mutex::new(None),
            }),
        })
    }
}

/// A step running in a sandbox. The sandbox's init is a child of the
/// runner; its exit means every process of the sandbox is gone.
struct SandboxProcess {
    child: Mutex<SandboxChild>,
    pid: u32,
    exit: Option<ExitKind>,
}

impl SandboxProcess {
    fn new(child: SandboxChild) -> Self {
        Self {
            pid: child.pid(),
            child: Mutex::new(child),
            exit: None,
        }
    }

    fn child(&self) -> std::sync::MutexGuard<'_, SandboxChild> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(support: HostSupport) -> SandboxSettings {
        SandboxSettings {
            image_override: None,
            images: BTreeMap::from([("tiny".to_string(), "/nonexistent/tiny".to_string())]),
            default_image: "host".to_string(),
            network: Network::None,
            network_name: "none",
            limits: Limits {
                wall_time: None,
                pids: Some(DEFAULT_PIDS),
                open_files: Some(1024),
                tmp_size_bytes: Some(DEFAULT_TMP_SIZE),
                memory_bytes: Some(1 << 30),
                cpu_quota: Some(1.5),
            },
            support,
        }
    }

    fn support(cgroups: CgroupSupport, rlimit_nproc: bool) -> HostSupport {
        HostSupport {
            user_namespaces_blocked: None,
            cgroups,
            rlimit_nproc,
            pasta: None,
        }
    }

    fn job_launcher() -> SandboxLauncher {
        let root = PathBuf::from("/tmp/htci-run-1/001-ci.build");
        let dirs = JobDirs {
            workspace: root.join("workspace"),
            temp: root.join("temp"),
            files: root.join("files"),
            tool_cache: root.join("tool-cache"),
            root,
        };
        let unavailable = CgroupSupport::Unavailable {
            reason: "none here".into(),
        };
        SandboxLauncher {
            settings: Arc::new(settings(support(unavailable, true))),
            job: Some(JobSandbox {
                dirs,
                image: Ok(Image::Host),
                timeout: Duration::from_secs(60),
                deadline: Instant::now() + Duration::from_secs(60),
                observed: Mutex::new(None),
            }),
        }
    }

    #[test]
    fn job_paths_map_inside() {
        let launcher = job_launcher();
        let base = Path::new("/tmp/htci-run-1/001-ci.build");
        let cases = [
            ("workspace", "/workspace"),
            ("workspace/src/lib.rs", "/workspace/src/lib.rs"),
            ("temp/step-1.sh", "/runner/temp/step-1.sh"),
            ("files/output_1", "/runner/files/output_1"),
            ("tool-cache", "/runner/tool-cache"),
        ];
        for (host, inside) in cases {
            assert_eq!(launcher.visible_path(&base.join(host)), Path::new(inside));
        }
        assert_eq!(
            launcher.visible_path(Path::new("/usr/bin")),
            Path::new("/usr/bin")
        );
    }

    #[test]
    fn env_values_map_host_paths() {
        let launcher = job_launcher();
        let value = "/tmp/htci-run-1/001-ci.build/temp/bin:/usr/bin";
        assert_eq!(launcher.map_value(value), "/runner/temp/bin:/usr/bin");
        assert_eq!(launcher.map_value("plain"), "plain");
    }

    #[test]
    fn programs_found_in_host_image() {
        let launcher = job_launcher();
        assert!(launcher.has_program("sh", "/usr/bin:/bin"));
        assert!(!launcher.has_program("sh", "/tmp:/home/runner"));
    }

    #[test]
    fn enforcement_follows_cgroup_support() {
        let limits = settings(support(
            CgroupSupport::Unavailable { reason: "r".into() },
            true,
        ))
        .limits;
        let v1 = CgroupSupport::V1Root {
            controllers: vec!["pids".into(), "memory".into()],
        };
        let enforcement = predict_enforcement(&limits, &support(v1, false));
        assert!(enforcement.is_enforced(LimitKind::Memory));
        assert!(enforcement.is_enforced(LimitKind::Pids));
        let missing: Vec<_> = enforcement.not_enforced.iter().map(|(k, _)| *k).collect();
        assert_eq!(missing, vec![LimitKind::Cpu]);

        let none = CgroupSupport::Unavailable {
            reason: "no cgroup".into(),
        };
        let enforcement = predict_enforcement(&limits, &support(none.clone(), true));
        assert!(enforcement.is_enforced(LimitKind::Pids));
        let missing: Vec<_> = enforcement.not_enforced.iter().map(|(k, _)| *k).collect();
        assert_eq!(missing, vec![LimitKind::Memory, LimitKind::Cpu]);

        let enforcement = predict_enforcement(&limits, &support(none, false));
        let missing: Vec<_> = enforcement.not_enforced.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            missing,
            vec![LimitKind::Pids, LimitKind::Memory, LimitKind::Cpu]
        );
    }

    #[test]
    fn unknown_network_names_value() {
        let error = parse_network("wifi", "--network").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid network `wifi` (--network): expected none, host or pasta"
        );
        assert_eq!(parse_network(" host ", "--network").unwrap().1, "host");
    }

    #[test]
    fn image_choice_order() {
        let settings = settings(support(
            CgroupSupport::Unavailable { reason: "r".into() },
            true,
        ));
        assert_eq!(
            settings.image_for(&["ubuntu-latest".into()]).unwrap(),
            Image::Host
        );
        let error = settings
            .image_for(&["self-hosted".into(), "tiny".into()])
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/tiny"), "{error}");
        assert!(error.contains("[runner.images] tiny"), "{error}");
    }

    #[test]
    fn image_links_resolve_inside_image() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/tool"), "").unwrap();
        std::os::unix::fs::symlink("/usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("../bin/tool", root.join("usr/bin/alias")).unwrap();
        std::os::unix::fs::symlink("/loop", root.join("loop")).unwrap();

        let resolve = |path: &str| resolve_in_image(root, Path::new(path));
        assert_eq!(resolve("bin/tool"), Some(root.join("usr/bin/tool")));
        assert_eq!(resolve("bin/alias"), Some(root.join("usr/bin/tool")));
        assert_eq!(resolve("../../bin/tool"), Some(root.join("usr/bin/tool")));
        assert_eq!(resolve("loop/x"), None);
    }

    #[test]
    fn alternates_bound_outside_reserved_paths() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("ws");
        let info = workspace.join(".git/objects/info");
        std::fs::create_dir_all(&info).unwrap();
        let objects = dir.path().join("src/.git/objects");
        std::fs::create_dir_all(&objects).unwrap();
        let text = format!("{}\n/usr/lib\nrelative/path\n", objects.display());
        std::fs::write(info.join("alternates"), text).unwrap();

        let binds = git_alternates(&workspace);
        assert_eq!(binds.len(), 1, "{binds:?}");
        assert_eq!(binds[0].source, objects);
        assert_eq!(binds[0].target, objects);
        assert!(!binds[0].writable);
    }
}
