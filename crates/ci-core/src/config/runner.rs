//! The runner's identity and settings: `runner.toml`.
//!
//! ```toml
//! [runner]
//! name = "ci-1"
//! nsec = "nsec1..."            # the signing key; the file is mode 0600
//! tags = ["linux", "x64"]
//!
//! [runner.limits]
//! max_concurrent_jobs = 4      # default: number of CPUs
//! job_timeout_secs = 21600     # default: 6 hours, as on GitHub
//! max_artifact_size = "1G"     # bytes, or a number with K, M, G or T
//!
//! [runner.container]
//! enabled = false              # true: every job runs in the sandbox
//! runtime = "sandbox"          # the built-in rootless sandbox
//! default_image = "host"       # root filesystem for jobs without an image
//! network = "none"             # none | pasta | host
//! memory_limit = "4G"          # optional
//! cpu_limit = 2.0              # optional, in CPUs
//! rootless = true
//!
//! [runner.images]
//! ubuntu-latest = "host"       # runs-on label -> image
//!
//! [[runner.allowed_repos]]
//! owner_npub = "npub1..."
//! repo_pattern = "tools/*"     # `*` within a path segment, `**` across
//! ```
//!
//! The file is created with mode 0600 in a directory of mode 0700, and the
//! secret key never appears in `Debug` output or errors.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nostr::key::Keys;

use super::table::{Section, parse_document};
use super::{ConfigError, read_optional};
use crate::dirs::{display_path, runner_config_path};
use crate::identity::{SecretKey, default_runner_name, default_tags};
use crate::signing::parse_npub;

/// Default `job_timeout_secs`: 6 hours, GitHub's default job timeout.
pub const DEFAULT_JOB_TIMEOUT_SECS: u64 = 6 * 60 * 60;

/// Default `max_artifact_size`: 1 GiB.
pub const DEFAULT_MAX_ARTIFACT_SIZE: u64 = 1 << 30;

/// The contents of `runner.toml`.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Human-readable name of the runner.
    pub name: String,
    /// The signing key.
    pub secret_key: SecretKey,
    /// Labels matched against a job's `runs-on`.
    pub tags: Vec<String>,
    /// `[runner.limits]`.
    pub limits: Limits,
    /// `[runner.container]`.
    pub container: ContainerConfig,
    /// `[runner.images]`: `runs-on` label to image.
    pub images: BTreeMap<String, String>,
    /// `[[runner.allowed_repos]]`; empty means every repository.
    pub allowed_repos: Vec<AllowedRepo>,
}

/// `[runner.limits]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Maximum number of jobs running at the same time, at least 1.
    pub max_concurrent_jobs: usize,
    /// Time after which a job is cancelled, in seconds.
    pub job_timeout_secs: u64,
    /// Largest artifact a job may upload, in bytes.
    pub max_artifact_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent_jobs: std::thread::available_parallelism().map_or(1, usize::from),
            job_timeout_secs: DEFAULT_JOB_TIMEOUT_SECS,
            max_artifact_size: DEFAULT_MAX_ARTIFACT_SIZE,
        }
    }
}

/// `[runner.container]`: how jobs are isolated.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerConfig {
    /// True to run every job in the sandbox, as `htci run --sandbox` does.
    pub enabled: bool,
    /// The isolation mechanism.
    pub runtime: ContainerRuntime,
    /// Root filesystem for jobs whose `runs-on` label has no entry in
    /// `[runner.images]`: `host` or an image reference.
    pub default_image: String,
    /// Network access inside the sandbox.
    pub network: NetworkMode,
    /// Memory limit per job in bytes; `None` for no limit.
    pub memory_limit: Option<u64>,
    /// CPU limit per job in CPUs; `None` for no limit.
    pub cpu_limit: Option<f64>,
    /// True to run without root privileges (the only mode the built-in
    /// sandbox supports).
    pub rootless: bool,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            enabled: false,
            runtime: ContainerRuntime::Sandbox,
            default_image: "host".to_string(),
            network: NetworkMode::None,
            memory_limit: None,
            cpu_limit: None,
            rootless: true,
        }
    }
}

/// `[runner.container] runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerRuntime {
    /// htci's built-in rootless sandbox (namespaces, seccomp, no
    /// capabilities).
    Sandbox,
    /// Docker, as configurations for other hashtree-ci runners name it;
    /// htci runs the built-in sandbox in its place.
    Docker,
    /// Podman, as configurations for other hashtree-ci runners name it;
    /// htci runs the built-in sandbox in its place.
    Podman,
}

impl ContainerRuntime {
    /// Returns the name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerRuntime::Sandbox => "sandbox",
            ContainerRuntime::Docker => "docker",
            ContainerRuntime::Podman => "podman",
        }
    }
}

/// `[runner.container] network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// A new network namespace with only the loopback interface.
    None,
    /// Outbound access through the user-mode network stack `pasta`.
    Pasta,
    /// The host's network namespace, without network isolation.
    Host,
}

impl NetworkMode {
    /// Returns the name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Pasta => "pasta",
            NetworkMode::Host => "host",
        }
    }
}

/// `[[runner.allowed_repos]]`: repositories this runner accepts jobs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedRepo {
    /// NIP-19 `npub` of the repository owner.
    pub owner_npub: String,
    /// Pattern for the repository path: `*` matches within one path
    /// segment, `**` matches across segments, `?` one character.
    pub repo_pattern: String,
}

impl RunnerConfig {
    /// Creates a configuration with a fresh key and default settings.
    pub fn generate(name: &str, tags: Vec<String>) -> Self {
        RunnerConfig {
            name: name.to_string(),
            secret_key: SecretKey::generate(),
            tags,
            limits: Limits::default(),
            container: ContainerConfig::default(),
            images: BTreeMap::new(),
            allowed_repos: Vec::new(),
        }
    }

    /// Returns the default location, `$XDG_CONFIG_HOME/hashtree-ci/runner.toml`.
    pub fn default_path() -> Result<PathBuf, ConfigError> {
        Ok(runner_config_path()?)
    }

    /// Returns the signing key pair.
    pub fn keys(&self) -> Keys {
        self.secret_key.keys()
    }

    /// Returns the runner's NIP-19 `npub`.
    pub fn npub(&self) -> String {
        self.secret_key.npub()
    }

    /// Reads `runner.toml` from `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::read(path, error))?;
        warn_if_readable_by_others(path);
        Self::parse(&text, &display_path(path))
    }

    /// Reads the identity at `path` (default location when `None`), or
    /// creates one with the host name and default tags when the file does
    /// not exist. Returns the path when it created the file.
    ///
    /// A file that exists but cannot be read or parsed is an error; it is
    /// never replaced.
    pub fn load_or_create_default(
        path: Option<&Path>,
    ) -> Result<(Self, Option<PathBuf>), ConfigError> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => Self::default_path()?,
        };
        if let Some(text) = read_optional(&path)? {
            warn_if_readable_by_others(&path);
            return Ok((Self::parse(&text, &display_path(&path))?, None));
        }

        let config = Self::generate(&default_runner_name(), default_tags());
        match config.write(&path, false) {
            Ok(()) => Ok((config, Some(path))),
            // Another process created it between the read and the write.
            Err(ConfigError::AlreadyExists { .. }) => Ok((Self::load(&path)?, None)),
            Err(error) => Err(error),
        }
    }

    /// Parses the text of `runner.toml`; `path` names the file in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let document = parse_document(path, text)?;
        let root = Section::new(path, "top level", &document);
        root.check_known(&["runner"])?;
        let runner = root
            .table("runner", "[runner]")?
            .ok_or_else(|| root.invalid("[runner]", "missing; expected a [runner] table"))?;
        parse_runner(&runner)
    }

    /// Writes the configuration to `path` with mode 0600, creating missing
    /// directories with mode 0700. Without `overwrite`, an existing file
    /// is an error.
    ///
    /// The file is written to a temporary name in the same directory and
    /// renamed into place, so it is never half-written, and it has mode
    /// 0600 from its creation.
    pub fn write(&self, path: &Path, overwrite: bool) -> Result<(), ConfigError> {
        if !overwrite && path.exists() {
            return Err(ConfigError::AlreadyExists {
                path: display_path(path),
            });
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|error| ConfigError::write(parent, error))?;
        }
        let temp = temp_path(path);
        let result = write_private_file(&temp, self.to_toml().as_bytes())
            .and_then(|()| rename_into_place(&temp, path, overwrite));
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result.map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => ConfigError::AlreadyExists {
                path: display_path(path),
            },
            _ => ConfigError::write(path, error),
        })
    }

    /// Renders the file, secret key included.
    pub fn to_toml(&self) -> String {
        let text = |value: &str| toml::Value::String(value.to_string()).to_string();
        let list = |values: &[String]| {
            toml::Value::Array(
                values
                    .iter()
                    .map(|v| toml::Value::String(v.clone()))
                    .collect(),
            )
            .to_string()
        };

        let mut out = String::new();
        out.push_str("# hashtree-ci runner identity. Keep this file private: nsec is the key\n");
        out.push_str("# that signs this runner's results.\n\n[runner]\n");
        out.push_str(&format!("name = {}\n", text(&self.name)));
        out.push_str(&format!("nsec = {}\n", text(&self.secret_key.to_nsec())));
        out.push_str(&format!("tags = {}\n", list(&self.tags)));

        let limits = &self.limits;
        out.push_str("\n[runner.limits]\n");
        if limits.max_concurrent_jobs == Limits::default().max_concurrent_jobs {
            // Left unset, so the default follows the CPU count of the
            // machine the file is used on.
            out.push_str(&format!(
                "# max_concurrent_jobs = {} (default: number of CPUs)\n",
                limits.max_concurrent_jobs
            ));
        } else {
            out.push_str(&format!(
                "max_concurrent_jobs = {}\n",
                limits.max_concurrent_jobs
            ));
        }
        out.push_str(&format!("job_timeout_secs = {}\n", limits.job_timeout_secs));
        out.push_str(&format!(
            "max_artifact_size = {}\n",
            limits.max_artifact_size
        ));

        let container = &self.container;
        out.push_str("\n[runner.container]\n");
        out.push_str(&format!("enabled = {}\n", container.enabled));
        out.push_str(&format!("runtime = \"{}\"\n", container.runtime.as_str()));
        out.push_str(&format!(
            "default_image = {}\n",
            text(&container.default_image)
        ));
        out.push_str(&format!("network = \"{}\"\n", container.network.as_str()));
        match container.memory_limit {
            Some(bytes) => out.push_str(&format!("memory_limit = {bytes}\n")),
            None => out.push_str("# memory_limit = \"4G\"\n"),
        }
        match container.cpu_limit {
            Some(cpus) => out.push_str(&format!("cpu_limit = {}\n", toml::Value::Float(cpus))),
            None => out.push_str("# cpu_limit = 2.0\n"),
        }
        out.push_str(&format!("rootless = {}\n", container.rootless));

        out.push_str("\n# runs-on label = image (\"host\" or an OCI image)\n[runner.images]\n");
        for (label, image) in &self.images {
            out.push_str(&format!("{} = {}\n", toml_key(label), text(image)));
        }

        for allowed in &self.allowed_repos {
            out.push_str("\n[[runner.allowed_repos]]\n");
            out.push_str(&format!("owner_npub = {}\n", text(&allowed.owner_npub)));
            out.push_str(&format!("repo_pattern = {}\n", text(&allowed.repo_pattern)));
        }
        out
    }

    /// Returns true when this runner accepts jobs of the repository:
    /// when `allowed_repos` is empty, or an entry has the same owner and a
    /// pattern matching `repo_path`.
    pub fn allows_repo(&self, owner_npub: &str, repo_path: &str) -> bool {
        self.allowed_repos.is_empty()
            || self.allowed_repos.iter().any(|allowed| {
                allowed.owner_npub == owner_npub
                    && pattern_matches(&allowed.repo_pattern, repo_path)
            })
    }
}

fn parse_runner(runner: &Section<'_>) -> Result<RunnerConfig, ConfigError> {
    runner.check_known(&[
        "name",
        "nsec",
        "tags",
        "limits",
        "container",
        "images",
        "allowed_repos",
    ])?;
    let name = runner.required_string("name", "name = \"ci-1\"")?;
    let nsec_example = "nsec = \"nsec1...\" (run htci init --force to create a new key)";
    let nsec = runner.required_string("nsec", nsec_example)?;
    let secret_key = SecretKey::from_nsec(nsec.trim()).map_err(|error| {
        runner.invalid(
            "nsec",
            format!("{error}; run htci init --force to create a new key"),
        )
    })?;
    let tags = runner
        .string_list("tags", "tags = [\"linux\", \"x64\"]")?
        .unwrap_or_default();

    Ok(RunnerConfig {
        name,
        secret_key,
        tags,
        limits: match runner.table("limits", "[runner.limits]")? {
            Some(section) => parse_limits(&section)?,
            None => Limits::default(),
        },
        container: match runner.table("container", "[runner.container]")? {
            Some(section) => parse_container(&section)?,
            None => ContainerConfig::default(),
        },
        images: match runner.table("images", "[runner.images]")? {
            Some(section) => parse_images(&section)?,
            None => BTreeMap::new(),
        },
        allowed_repos: runner
            .table_array("allowed_repos", "runner.allowed_repos")?
            .iter()
            .map(parse_allowed_repo)
            .collect::<Result<_, _>>()?,
    })
}

fn parse_limits(section: &Section<'_>) -> Result<Limits, ConfigError> {
    section.check_known(&[
        "max_concurrent_jobs",
        "job_timeout_secs",
        "max_artifact_size",
    ])?;
    let defaults = Limits::default();
    Ok(Limits {
        max_concurrent_jobs: section
            .integer("max_concurrent_jobs", 1, "max_concurrent_jobs = 4")?
            .map_or(defaults.max_concurrent_jobs, |n| n as usize),
        job_timeout_secs: section
            .integer("job_timeout_secs", 1, "job_timeout_secs = 21600")?
            .unwrap_or(defaults.job_timeout_secs),
        max_artifact_size: section
            .size("max_artifact_size", "max_artifact_size = \"1G\"")?
            .unwrap_or(defaults.max_artifact_size),
    })
}

fn parse_container(section: &Section<'_>) -> Result<ContainerConfig, ConfigError> {
    section.check_known(&[
        "enabled",
        "runtime",
        "default_image",
        "network",
        "memory_limit",
        "cpu_limit",
        "rootless",
    ])?;
    let defaults = ContainerConfig::default();

    let runtime = match section
        .string("runtime", "runtime = \"sandbox\"")?
        .as_deref()
    {
        None | Some("sandbox") => ContainerRuntime::Sandbox,
        Some("docker") => ContainerRuntime::Docker,
        Some("podman") => ContainerRuntime::Podman,
        Some(other) => {
            return Err(section.invalid(
                "runtime",
                format!(
                    "unknown runtime \"{other}\": expected \"sandbox\", \"docker\" or \"podman\", like runtime = \"sandbox\""
                ),
            ));
        }
    };
    let network = match section.string("network", "network = \"none\"")?.as_deref() {
        None | Some("none") => NetworkMode::None,
        Some("pasta") => NetworkMode::Pasta,
        Some("host") => NetworkMode::Host,
        Some(other) => {
            return Err(section.invalid(
                "network",
                format!(
                    "unknown network \"{other}\": expected one of \"none\", \"pasta\", \"host\", like network = \"none\""
                ),
            ));
        }
    };
    let default_image = section
        .string("default_image", "default_image = \"host\"")?
        .unwrap_or(defaults.default_image);
    if default_image.trim().is_empty() {
        return Err(section.invalid(
            "default_image",
            "expected \"host\" or an image reference, like default_image = \"host\"",
        ));
    }

    Ok(ContainerConfig {
        enabled: section
            .boolean("enabled", "enabled = true")?
            .unwrap_or(defaults.enabled),
        runtime,
        default_image,
        network,
        memory_limit: section.size("memory_limit", "memory_limit = \"4G\"")?,
        cpu_limit: section.positive_float("cpu_limit", "cpu_limit = 2.0")?,
        rootless: section
            .boolean("rootless", "rootless = true")?
            .unwrap_or(defaults.rootless),
    })
}

fn parse_images(section: &Section<'_>) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut images = BTreeMap::new();
    for (label, value) in section.entries() {
        match value {
            toml::Value::String(image) if !image.trim().is_empty() => {
                images.insert(label.clone(), image.clone());
            }
            _ => {
                return Err(section.invalid(
                    label,
                    format!(
                        "expected an image as a string, like {} = \"host\"",
                        toml_key(label)
                    ),
                ));
            }
        }
    }
    Ok(images)
}

fn parse_allowed_repo(section: &Section<'_>) -> Result<AllowedRepo, ConfigError> {
    section.check_known(&["owner_npub", "repo_pattern"])?;
    let example = "owner_npub = \"npub1...\"";
    let owner_npub = section.required_string("owner_npub", example)?;
    if let Err(reason) = parse_npub(&owner_npub) {
        return Err(section.invalid(
            "owner_npub",
            format!("invalid npub ({reason}); expected a NIP-19 npub, like {example}"),
        ));
    }
    let repo_pattern = section
        .string("repo_pattern", "repo_pattern = \"tools/*\"")?
        .unwrap_or_else(|| "**".to_string());
    if repo_pattern.is_empty() {
        return Err(section.invalid(
            "repo_pattern",
            "expected a non-empty pattern, like repo_pattern = \"tools/*\" or \"**\" for all",
        ));
    }
    Ok(AllowedRepo {
        owner_npub,
        repo_pattern,
    })
}

/// Matches a repository path against a pattern where `*` matches any run
/// of characters except `/`, `**` any run including `/`, and `?` one
/// character except `/`.
///
/// Runs in `pattern length × path length` steps (dynamic programming), so
/// no pattern can make it slow.
pub fn pattern_matches(pattern: &str, path: &str) -> bool {
    let tokens = tokenize_pattern(pattern);
    let chars: Vec<char> = path.chars().collect();

    // matched[j]: the tokens so far match the first j characters.
    let mut matched = vec![false; chars.len() + 1];
    matched[0] = true;
    for token in &tokens {
        let mut next = vec![false; chars.len() + 1];
        for j in 0..=chars.len() {
            match token {
                PatternToken::Literal(c) => {
                    next[j] = j > 0 && matched[j - 1] && chars[j - 1] == *c;
                }
                PatternToken::One => next[j] = j > 0 && matched[j - 1] && chars[j - 1] != '/',
                PatternToken::Star => {
                    next[j] = matched[j] || (j > 0 && next[j - 1] && chars[j - 1] != '/');
                }
                PatternToken::DoubleStar => next[j] = matched[j] || (j > 0 && next[j - 1]),
            }
        }
        matched = next;
    }
    matched[chars.len()]
}

enum PatternToken {
    Literal(char),
    One,
    Star,
    DoubleStar,
}

fn tokenize_pattern(pattern: &str) -> Vec<PatternToken> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                PatternToken::DoubleStar
            }
            '*' => PatternToken::Star,
            '?' => PatternToken::One,
            other => PatternToken::Literal(other),
        });
    }
    tokens
}

/// Quotes a table key unless it is a bare TOML key.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_string()
    } else {
        toml::Value::String(key.to_string()).to_string()
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "runner.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn rename_into_place(temp: &Path, path: &Path, overwrite: bool) -> std::io::Result<()> {
    if overwrite {
        std::fs::rename(temp, path)?;
    } else {
        // A hard link fails when the target exists, unlike a rename, so two
        // first runs at the same time cannot replace each other's key.
        std::fs::hard_link(temp, path)?;
        std::fs::remove_file(temp)?;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Returns a warning when other users can access the identity file, which
/// contains the secret key: any permission bit for group or others.
pub fn permission_warning(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{}: mode {mode:o} lets other users access the secret key; run chmod 600 {}",
            display_path(path),
            path.display()
        )
    })
}

fn warn_if_readable_by_others(path: &Path) {
    if let Some(warning) = permission_warning(path) {
        tracing::warn!("{warning}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPUB_OF_3: &str = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";

    fn sample_text(nsec: &str) -> String {
        format!(
            r#"
[runner]
name = "ci-1"
nsec = "{nsec}"
tags = ["linux", "x64", "gpu"]

[runner.limits]
max_concurrent_jobs = 3
job_timeout_secs = 600
max_artifact_size = "512M"

[runner.container]
enabled = true
runtime = "sandbox"
default_image = "host"
network = "pasta"
memory_limit = "4G"
cpu_limit = 1.5
rootless = true

[runner.images]
ubuntu-latest = "host"
"ubuntu-22.04" = "oci:/images/ubuntu"

[[runner.allowed_repos]]
owner_npub = "{NPUB_OF_3}"
repo_pattern = "tools/*"
"#
        )
    }

    #[test]
    fn parses_every_section() {
        let key = SecretKey::generate();
        let config = RunnerConfig::parse(&sample_text(&key.to_nsec()), "runner.toml").unwrap();
        assert_eq!(config.name, "ci-1");
        assert_eq!(config.npub(), key.npub());
        assert_eq!(config.tags, ["linux", "x64", "gpu"]);
        assert_eq!(config.limits.max_concurrent_jobs, 3);
        assert_eq!(config.limits.job_timeout_secs, 600);
        assert_eq!(config.limits.max_artifact_size, 512 << 20);
        assert!(config.container.enabled);
        assert_eq!(config.container.network, NetworkMode::Pasta);
        assert_eq!(config.container.memory_limit, Some(4 << 30));
        assert_eq!(config.container.cpu_limit, Some(1.5));
        assert_eq!(config.images["ubuntu-22.04"], "oci:/images/ubuntu");
        assert_eq!(config.allowed_repos.len(), 1);
        assert_eq!(config.allowed_repos[0].repo_pattern, "tools/*");
    }

    #[test]
    fn defaults_apply_to_minimal_file() {
        let key = SecretKey::generate();
        let text = format!("[runner]\nname = \"x\"\nnsec = \"{}\"\n", key.to_nsec());
        let config = RunnerConfig::parse(&text, "runner.toml").unwrap();
        assert!(config.tags.is_empty());
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.limits.job_timeout_secs, 21600);
        assert_eq!(config.container, ContainerConfig::default());
        assert_eq!(config.container.network, NetworkMode::None);
        assert_eq!(config.container.default_image, "host");
        assert!(config.container.rootless);
        assert!(config.limits.max_concurrent_jobs >= 1);
    }

    #[test]
    fn rendered_file_parses_back() {
        let mut config = RunnerConfig::generate("name with \"quotes\"", vec!["linux".into()]);
        config.container.memory_limit = Some(1 << 30);
        config.container.cpu_limit = Some(2.0);
        config.images.insert("ubuntu-22.04".into(), "host".into());
        config.allowed_repos.push(AllowedRepo {
            owner_npub: NPUB_OF_3.into(),
            repo_pattern: "**".into(),
        });
        let back = RunnerConfig::parse(&config.to_toml(), "runner.toml").unwrap();
        assert_eq!(back.name, config.name);
        assert_eq!(back.npub(), config.npub());
        assert_eq!(back.tags, config.tags);
        assert_eq!(back.limits, config.limits);
        assert_eq!(back.container, config.container);
        assert_eq!(back.images, config.images);
        assert_eq!(back.allowed_repos, config.allowed_repos);
    }

    #[test]
    fn default_concurrency_is_left_unset() {
        let mut config = RunnerConfig::generate("x", vec![]);
        let cpus = Limits::default().max_concurrent_jobs;
        assert!(config.to_toml().contains(&format!(
            "# max_concurrent_jobs = {cpus} (default: number of CPUs)\n"
        )));

        config.limits.max_concurrent_jobs = cpus + 1;
        let text = config.to_toml();
        assert!(text.contains(&format!("\nmax_concurrent_jobs = {}\n", cpus + 1)));
        let back = RunnerConfig::parse(&text, "runner.toml").unwrap();
        assert_eq!(back.limits.max_concurrent_jobs, cpus + 1);
    }

    #[test]
    fn debug_hides_the_nsec() {
        let config = RunnerConfig::generate("x", vec![]);
        let nsec = config.secret_key.to_nsec();
        let debug = format!("{config:?}");
        assert!(!debug.contains(&nsec));
        assert!(debug.contains("nsec1***"));
    }

    #[test]
    fn errors_name_file_key_and_form() {
        let key = SecretKey::generate();
        let cases = [
            (
                "tags = \"linux\"",
                "runner.toml: [runner] tags: expected a list of strings, like tags = [\"linux\", \"x64\"]",
            ),
            (
                "[runner.limits]\nmax_concurrent_jobs = 0",
                "runner.toml: [runner.limits] max_concurrent_jobs: expected a whole number of at least 1, like max_concurrent_jobs = 4",
            ),
            (
                "[runner.container]\nnetwork = \"bridge\"",
                "runner.toml: [runner.container] network: unknown network \"bridge\": expected one of \"none\", \"pasta\", \"host\", like network = \"none\"",
            ),
            (
                "[runner.container]\nmemory_limit = \"lots\"",
                "runner.toml: [runner.container] memory_limit: expected a size in bytes or with a unit K, M, G or T, like memory_limit = \"4G\"",
            ),
            (
                "[[runner.allowed_repos]]\nowner_npub = \"npub1bad\"",
                "runner.toml: [[runner.allowed_repos]] #1 owner_npub: invalid npub",
            ),
            (
                "[runner.limits]\ntimeout = 5",
                "runner.toml: [runner.limits]: unknown key \"timeout\"",
            ),
        ];
        for (extra, expected) in cases {
            let text = format!(
                "[runner]\nname = \"x\"\nnsec = \"{}\"\n{extra}\n",
                key.to_nsec()
            );
            let error = RunnerConfig::parse(&text, "runner.toml").unwrap_err();
            let message = error.to_string();
            assert!(message.starts_with(expected), "{message}");
            assert!(!message.contains(&key.to_nsec()), "{message}");
        }
    }

    #[test]
    fn invalid_nsec_is_not_echoed() {
        let text = "[runner]\nname = \"x\"\nnsec = \"nsec1secretbutbroken\"\n";
        let message = RunnerConfig::parse(text, "runner.toml")
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("runner.toml: [runner] nsec: invalid secret key"));
        assert!(!message.contains("nsec1secretbutbroken"));
    }

    #[test]
    fn missing_runner_table() {
        let message = RunnerConfig::parse("", "runner.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "runner.toml: top level [runner]: missing; expected a [runner] table"
        );
    }

    #[test]
    fn write_creates_private_file_and_rejects_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/runner.toml");
        let config = RunnerConfig::generate("x", vec![]);
        config.write(&path, false).unwrap();

        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777;
        assert_eq!(dir_mode & 0o077, 0);

        let other = RunnerConfig::generate("y", vec![]);
        let error = other.write(&path, false).unwrap_err();
        assert!(matches!(error, ConfigError::AlreadyExists { .. }));
        assert_eq!(RunnerConfig::load(&path).unwrap().npub(), config.npub());

        other.write(&path, true).unwrap();
        assert_eq!(RunnerConfig::load(&path).unwrap().npub(), other.npub());
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn permission_warning_for_shared_file() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.toml");
        RunnerConfig::generate("x", vec![])
            .write(&path, false)
            .unwrap();
        assert_eq!(permission_warning(&path), None);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let warning = permission_warning(&path).unwrap();
        assert!(warning.contains("mode 640"), "{warning}");
        assert!(warning.ends_with(&format!("run chmod 600 {}", path.display())));
    }

    #[test]
    fn load_or_create_creates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.toml");
        let (first, created) = RunnerConfig::load_or_create_default(Some(&path)).unwrap();
        assert_eq!(created.as_deref(), Some(path.as_path()));
        assert_eq!(first.tags, default_tags());

        let (second, created) = RunnerConfig::load_or_create_default(Some(&path)).unwrap();
        assert_eq!(created, None);
        assert_eq!(second.npub(), first.npub());
    }

    #[test]
    fn load_or_create_keeps_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.toml");
        std::fs::write(&path, "[runner\nname=").unwrap();
        let error = RunnerConfig::load_or_create_default(Some(&path)).unwrap_err();
        assert!(matches!(error, ConfigError::Syntax { .. }));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[runner\nname=");
    }

    #[test]
    fn allowed_repo_patterns() {
        assert!(pattern_matches("tools/*", "tools/htci"));
        assert!(!pattern_matches("tools/*", "tools/a/b"));
        assert!(pattern_matches("tools/**", "tools/a/b"));
        assert!(pattern_matches("**", "a/b/c"));
        assert!(pattern_matches("ht?i", "htci"));
        assert!(!pattern_matches("ht?i", "ht/i"));
        assert!(!pattern_matches("tools", "tools2"));
        assert!(!pattern_matches(&"*a".repeat(30), &"a".repeat(29)));
    }

    #[test]
    fn allows_repo_checks_owner_and_pattern() {
        let mut config = RunnerConfig::generate("x", vec![]);
        assert!(config.allows_repo("npub1any", "any/repo"));
        config.allowed_repos.push(AllowedRepo {
            owner_npub: NPUB_OF_3.into(),
            repo_pattern: "tools/*".into(),
        });
        assert!(config.allows_repo(NPUB_OF_3, "tools/htci"));
        assert!(!config.allows_repo(NPUB_OF_3, "other/htci"));
        assert!(!config.allows_repo("npub1other", "tools/htci"));
    }
}
