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
//! | `home/` (HOME)                 | `/home/runner`         |
//!
//! [`Launcher::visible_path`] performs this mapping, so every path the
//! executor puts into a spec is one the step can open. Killing a step
//! kills its sandbox, which takes every process of the step with it: a
//! background process never outlives its step, unlike on the host.
//!
//! The job's home directory persists across its steps, as on GitHub's
//! runners, so `git config --global` in one step stays in effect in the next.
//!
//! Limits come from runner.toml and the job: wall time (the job's time
//! limit, as a backstop behind the executor's own timer), pids, open
//! files, the size of `/tmp`, memory and CPU. [`ci_sandbox::probe`] and
//! each sandbox's [`ci_sandbox::Enforcement`] decide which of them this
//! host enforces, and a job's result records only those in force.

mod image;
mod limits;
mod process;
mod settings;

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ci_core::config::{ContainerRuntime, RunnerConfig};
use ci_sandbox::config::SANDBOX_HOME;
use ci_sandbox::{Bind, Enforcement, Limits, Sandbox, SandboxConfig};
use serde_json::{Value, json};

use crate::executor::job::JobPlan;
use crate::launcher::{LaunchError, LaunchSpec, Launcher, Process};
use crate::workspace::JobDirs;
use image::{is_executable_file, resolve_in_image};
use limits::{limit_name, predict_enforcement};
use process::SandboxProcess;

pub use image::Image;
pub use settings::{
    DEFAULT_OPEN_FILES, DEFAULT_PIDS, DEFAULT_TMP_SIZE, SandboxOptions, SandboxSettings,
    SandboxSetupError, job_labels, literal_labels,
};

/// Mount point of the job's runner directories inside the sandbox.
pub const RUNNER_DIR: &str = "/runner";

/// `PATH` of a step in the sandbox before `GITHUB_PATH` additions.
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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
/// replaces.
fn runtime_warning(runtime: ContainerRuntime) -> Option<String> {
    match runtime {
        ContainerRuntime::Sandbox => None,
        ContainerRuntime::Docker | ContainerRuntime::Podman => Some(format!(
            "[runner.container] runtime = \"{}\" is not available in htci; every step runs in the built-in rootless sandbox instead (set runtime = \"sandbox\" to silence this warning)",
            runtime.as_str()
        )),
    }
}

/// Returns the variables a sandboxed step starts from in place of the
/// runner's own ([`crate::executor::contexts::PASSTHROUGH_ENV`]), because
/// host paths such as the runner's `HOME` mean nothing inside the sandbox.
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
    /// Binds of the git alternates, read at the job's first launch.
    /// Steps can rewrite the workspace's alternates file, so it is read
    /// before any step ran and never again.
    alternates: OnceLock<Vec<Bind>>,
}

impl SandboxLauncher {
    /// Creates the run-wide launcher.
    pub fn new(settings: SandboxSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            job: None,
        }
    }

    /// Returns the job's mounts as (host directory, path inside), the
    /// workspace first.
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
            (job_home(&job.dirs), PathBuf::from(SANDBOX_HOME)),
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
        let alternates = job
            .alternates
            .get_or_init(|| git_alternates(&job.dirs.workspace));
        binds.extend(alternates.iter().cloned());

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
            etc_cache: ci_core::dirs::sandbox_etc_cache().ok(),
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
}

/// Returns the host directory of the job's home, `/home/runner` inside.
fn job_home(dirs: &JobDirs) -> PathBuf {
    dirs.root.join("home")
}

/// Creates the job's home directory, private to the runner's user.
fn create_home(home: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;

    match std::fs::DirBuilder::new().mode(0o700).create(home) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(format!(
            "failed to create the job's home directory {}: {error}",
            home.display()
        )),
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
            "limits": limits::limits_record(&self.settings.limits, &enforcement, timeout),
            "unenforced": unenforced,
        })
    }

    fn for_job(self: Arc<Self>, dirs: &JobDirs, plan: &JobPlan) -> Arc<dyn Launcher> {
        let image = self
            .settings
            .image_for(&plan.runs_on)
            .map_err(|e| e.to_string());
        let image = create_home(&job_home(dirs)).and(image);
        Arc::new(SandboxLauncher {
            settings: self.settings.clone(),
            job: Some(JobSandbox {
                dirs: dirs.clone(),
                image,
                timeout: plan.timeout,
                deadline: Instant::now() + plan.timeout,
                observed: Mutex::new(None),
                alternates: OnceLock::new(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_sandbox::CgroupSupport;
    use settings::fixtures::{settings, support};

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
                alternates: OnceLock::new(),
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
            ("home/.gitconfig", "/home/runner/.gitconfig"),
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
