//! Result assembly: one signed [`JobResult`] per job and matrix leg, the
//! commit's signed [`CommitResult`] summary, and the logs, written to the
//! result store.
//!
//! Every string taken from a run (step names, outputs, logs) was masked
//! when it was produced; the documents are masked once more as a whole
//! before signing, so a value registered late (`::add-mask::`) is hidden
//! everywhere.

use std::path::PathBuf;

use ci_core::config::RunnerConfig;
use ci_core::hash::sha256_hex;
use ci_core::result::{CommitInfo, CommitResult, JobResult, StepResult};
use serde_json::json;
use time::OffsetDateTime;

use crate::git::RepoInfo;
use crate::mask::Masker;
use crate::scheduler::{LegResult, SelectedWorkflow};

/// Errors of storing results.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    #[error("failed to sign the result of `{key}`: {message}")]
    Sign { key: String, message: String },
    #[error("failed to write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("invalid result location: {0}")]
    Location(String),
}

/// Everything needed to write the results of a run.
pub struct StoreRequest<'a> {
    pub config: &'a RunnerConfig,
    pub repo: &'a RepoInfo,
    pub event: &'a str,
    pub workflows: &'a [SelectedWorkflow],
    pub legs: &'a [LegResult],
    pub masker: &'a Masker,
    pub isolation: &'a str,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
}

/// The documents and log files of one run, ready to write.
pub struct Assembled {
    pub owner_npub: String,
    pub repo_path: String,
    pub commit: CommitResult,
    /// `(key, signed job result)`.
    pub jobs: Vec<(String, JobResult)>,
    /// `(path relative to the commit folder, bytes)`.
    pub logs: Vec<(String, Vec<u8>)>,
}

/// Builds and signs every document of a run.
pub fn assemble(request: &StoreRequest<'_>) -> Result<Assembled, ResultError> {
    let runner_npub = request.config.npub();
    let owner_npub = owner_npub(request.repo, &runner_npub);
    let repo_path = repo_path(&request.repo.repository);
    let repo_hash = ci_core::hash::repo_hash(&owner_npub, &repo_path);
    let keys = request.config.keys();

    let mut jobs = Vec::new();
    let mut logs = Vec::new();
    for leg in request.legs {
        let workflow = &request.workflows[leg.workflow_index].info;
        let mut steps = Vec::new();
        for (index, step) in leg.outcome.steps.iter().enumerate() {
            let log_path = step_log_path(&leg.key, index + 1, &step.name);
            logs.push((log_path.clone(), step.log.clone()));
            steps.push(StepResult {
                name: request.masker.mask(&step.name),
                status: step.status,
                exit_code: step.exit_code,
                duration_secs: step.duration.as_secs_f64(),
                logs_hash: sha256_hex(&step.log),
                outcome: (step.outcome != step.status).then_some(step.outcome),
                id: step.id.clone(),
                log_path: Some(log_path),
            });
        }
        logs.push((job_log_path(&leg.key), leg.outcome.log.clone()));

        let mut result = JobResult {
            job_id: leg.job_id.clone(),
            runner_npub: runner_npub.clone(),
            repo_hash: repo_hash.clone(),
            commit: request.repo.sha.clone(),
            workflow: workflow.name.clone(),
            job_name: request.masker.mask(&leg.display_name),
            status: leg.outcome.status,
            started_at: leg.outcome.started_at,
            finished_at: leg.outcome.finished_at,
            logs_hash: sha256_hex(&leg.outcome.log),
            steps,
            workflow_file: workflow.path.clone(),
            event: request.event.to_string(),
            git_ref: Some(request.repo.git_ref.clone()),
            dirty: request.repo.dirty,
            matrix: leg.matrix.as_ref().map(|m| request.masker.mask_json(m)),
            outputs: leg
                .outcome
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), request.masker.mask(v)))
                .collect(),
            runner_tags: request.config.tags.clone(),
            isolation: json!({ "kind": request.isolation }),
            owner_npub: owner_npub.clone(),
            repo_path: repo_path.clone(),
            signature: None,
        };
        result.sign(&keys).map_err(|e| ResultError::Sign {
            key: leg.key.clone(),
            message: e.to_string(),
        })?;
        jobs.push((leg.key.clone(), result));
    }

    let info = CommitInfo {
        runner_npub,
        owner_npub: owner_npub.clone(),
        repo_path: repo_path.clone(),
        commit: request.repo.sha.clone(),
        event: request.event.to_string(),
        git_ref: Some(request.repo.git_ref.clone()),
        dirty: request.repo.dirty,
        runner_tags: request.config.tags.clone(),
        started_at: request.started_at,
        finished_at: request.finished_at,
    };
    let mut commit = CommitResult::summarize(info, &jobs);
    commit.sign(&keys).map_err(|e| ResultError::Sign {
        key: "result.json".into(),
        message: e.to_string(),
    })?;

    let logs = logs
        .into_iter()
        .map(|(path, bytes)| {
            let masked = request
                .masker
                .mask(&String::from_utf8_lossy(&bytes))
                .into_bytes();
            (path, masked)
        })
        .collect();
    Ok(Assembled {
        owner_npub,
        repo_path,
        commit,
        jobs,
        logs,
    })
}

/// The owner of the result path: the repository's `.hashtree/ci.toml`
/// `org_npub` when set, else the runner itself.
fn owner_npub(repo: &RepoInfo, runner_npub: &str) -> String {
    ci_core::config::RepoCiConfig::load(&repo.root)
        .ok()
        .and_then(|config| config.org_npub)
        .unwrap_or_else(|| runner_npub.to_string())
}

/// The repository path below the owner: `owner/name` with unsafe
/// characters replaced.
pub fn repo_path(repository: &str) -> String {
    repository
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let cleaned: String = segment
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let cleaned = cleaned.trim_start_matches('.').to_string();
            if cleaned.is_empty() {
                "_".to_string()
            } else {
                cleaned
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn job_log_path(key: &str) -> String {
    format!("logs/{key}/job.log")
}

fn step_log_path(key: &str, index: usize, name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(60).collect();
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "step" } else { slug };
    format!("logs/{key}/{index:02}-{slug}.log")
}

/// Assembles, signs and writes the results; returns the commit folder.
pub fn store(request: &StoreRequest<'_>) -> Result<PathBuf, ResultError> {
    let assembled = assemble(request)?;
    write(&assembled)
}

/// Writes the documents under the store root.
fn write(assembled: &Assembled) -> Result<PathBuf, ResultError> {
    let root = ci_core::dirs::store_root().map_err(|e| ResultError::Location(e.to_string()))?;
    let mut dir = root
        .join(&assembled.commit.runner_npub)
        .join("ci")
        .join(&assembled.owner_npub);
    for segment in assembled.repo_path.split('/') {
        dir.push(segment);
    }
    dir.push(&assembled.commit.commit);

    let write_file = |relative: &str, bytes: &[u8]| -> Result<(), ResultError> {
        let path = dir.join(relative);
        let error = |message: String| ResultError::Write {
            path: path.clone(),
            message,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| error(e.to_string()))?;
        }
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, bytes).map_err(|e| error(e.to_string()))?;
        std::fs::rename(&temp, &path).map_err(|e| error(e.to_string()))
    };

    for (path, bytes) in &assembled.logs {
        write_file(path, bytes)?;
    }
    for (key, job) in &assembled.jobs {
        let text = serde_json::to_vec_pretty(job).unwrap_or_default();
        write_file(&format!("jobs/{key}/result.json"), &text)?;
    }
    let text = serde_json::to_vec_pretty(&assembled.commit).unwrap_or_default();
    write_file("result.json", &text)?;
    Ok(dir)
}
