//! Settings of sandboxed runs from the command line and runner.toml, and
//! the checks that stop a run before it starts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ci_core::config::ContainerConfig;
use ci_sandbox::{HostSupport, Limits, Network, PastaOptions};
use ci_workflow::model::RunsOn;
use serde_json::Value;

use super::Image;
use super::limits::{limit_name, predict_enforcement};
use crate::executor::eval::{self, Contexts};

/// Maximum number of processes and threads of one step.
// NOTE: runner.toml has no keys for pids, open files and /tmp size yet,
// so these defaults apply to every sandboxed step.
pub const DEFAULT_PIDS: u64 = 4096;

/// Maximum number of open files per process of a step. It is lowered to
/// the runner's own hard limit, which an unprivileged process cannot raise.
pub const DEFAULT_OPEN_FILES: u64 = 65536;

/// Size of the `/tmp` tmpfs of a step, in bytes.
pub const DEFAULT_TMP_SIZE: u64 = 1 << 30;

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
    pub(super) image_override: Option<Image>,
    /// `[runner.images]`: `runs-on` label to image value.
    pub(super) images: BTreeMap<String, String>,
    pub(super) default_image: String,
    pub(super) network: Network,
    pub(super) network_name: &'static str,
    /// Limits of every step, without the wall time.
    pub(super) limits: Limits,
    pub(super) support: HostSupport,
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

/// Returns the runner's hard limit of open files, capped at
/// [`DEFAULT_OPEN_FILES`].
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

/// Settings and host support for unit tests, without probing this host.
#[cfg(test)]
pub(super) mod fixtures {
    use super::*;
    use ci_sandbox::CgroupSupport;

    pub(in crate::sandbox_launcher) fn settings(support: HostSupport) -> SandboxSettings {
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

    pub(in crate::sandbox_launcher) fn support(
        cgroups: CgroupSupport,
        rlimit_nproc: bool,
    ) -> HostSupport {
        HostSupport {
            user_namespaces_blocked: None,
            cgroups,
            rlimit_nproc,
            pasta: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{settings, support};
    use super::*;
    use ci_sandbox::CgroupSupport;

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
}
