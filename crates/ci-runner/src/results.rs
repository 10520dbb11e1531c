//! Result assembly: one signed [`JobResult`] per job and matrix leg, the
//! commit's signed [`CommitResult`] summary, and the logs, written to the
//! result store.
//!
//! A run adds to the stored result of its commit: jobs of an earlier run
//! that this run did not run are kept when they still verify, and the
//! summary is signed again over all of them. A run with uncommitted
//! changes is stored apart, in the commit's `dirty/` folder.
//!
//! Every string taken from a run (step names, outputs, logs) was masked
//! when it was produced. The logs, names and outputs are masked once more
//! before signing, so a value registered late (`::add-mask::`) is hidden
//! everywhere.

use std::path::PathBuf;

use ci_core::Keys;
use ci_core::config::RunnerConfig;
use ci_core::result::{CommitInfo, CommitResult, JobResult, StepResult};
use time::OffsetDateTime;

use crate::executor::log_file::FinishedLog;
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
    #[error("{0}")]
    Store(#[from] ci_store::StoreError),
}

/// Checks that the result store can be written, before any job runs.
pub fn check_store() -> Result<(), ResultError> {
    let store = ci_store::FsStore::default_location()?;
    store.check_writable()?;
    Ok(())
}

/// Everything needed to write the results of a run.
pub struct StoreRequest<'a> {
    pub config: &'a RunnerConfig,
    pub repo: &'a RepoInfo,
    pub event: &'a str,
    pub workflows: &'a [SelectedWorkflow],
    pub legs: &'a [LegResult],
    pub masker: &'a Masker,
    /// `isolation` of jobs that never started; a job that ran records
    /// its launcher's own.
    pub isolation: serde_json::Value,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
}

/// The documents and log files of one run, ready to write.
pub struct Assembled {
    pub owner_npub: String,
    pub repo_path: String,
    /// The run's facts for the summary, which is signed again when stored
    /// jobs are merged in.
    pub info: CommitInfo,
    /// The signed summary of this run's jobs alone.
    pub commit: CommitResult,
    /// `(key, signed job result)`.
    pub jobs: Vec<(String, JobResult)>,
    /// `(path relative to the commit folder, log)`; each log is a file on
    /// the host or a short text, never a whole log in memory.
    pub logs: Vec<(String, FinishedLog)>,
}

/// Builds and signs every document of a run.
pub fn assemble(request: &StoreRequest<'_>) -> Result<Assembled, ResultError> {
    let runner_npub = request.config.npub();
    let location = ci_store::locate_repo(&request.repo.root, &runner_npub)
        .map_err(|e| ResultError::Location(e.to_string()))?;
    let owner_npub = location.owner_npub.clone();
    let repo_path = location.repo_path.clone();
    let repo_hash = location.repo_hash();
    let keys = request.config.keys();

    let mut jobs = Vec::new();
    let mut logs = Vec::new();
    for leg in request.legs {
        let workflow = &request.workflows[leg.workflow_index].info;
        let mut steps = Vec::new();
        for (index, step) in leg.outcome.steps.iter().enumerate() {
            let log_path = ci_store::step_log_path(&leg.key, index + 1, &step.name);
            let log = masked_log(&step.log, request.masker)?;
            let logs_hash = log.sha256().to_string();
            logs.push((log_path.clone(), log));
            steps.push(StepResult {
                name: request.masker.mask(&step.name),
                status: step.status,
                exit_code: step.exit_code,
                duration_secs: step.duration.as_secs_f64(),
                logs_hash,
                outcome: (step.outcome != step.status).then_some(step.outcome),
                id: step.id.clone(),
                log_path: Some(log_path),
            });
        }
        let job_log = masked_log(&leg.outcome.log, request.masker)?;
        let job_logs_hash = job_log.sha256().to_string();
        logs.push((ci_store::job_log_path(&leg.key), job_log));
        if !leg.outcome.summary.is_empty() {
            let path = format!("logs/{}/summary.md", leg.key);
            let summary = FinishedLog::from_text(leg.outcome.summary.clone());
            logs.push((path, masked_log(&summary, request.masker)?));
        }

        let mut result = JobResult {
            job_id: leg.job_id.clone(),
            runner_npub: runner_npub.clone(),
            repo_hash: repo_hash.clone(),
            commit: request.repo.sha.clone(),
            workflow: workflow.name.clone(),
            job_name: request.masker.mask(&leg.display_name),
            status: leg.outcome.status,
            continue_on_error: leg.continue_on_error,
            started_at: leg.outcome.started_at,
            finished_at: leg.outcome.finished_at,
            logs_hash: job_logs_hash,
            steps,
            workflow_file: workflow.path.clone(),
            event: request.event.to_string(),
            git_ref: stored_ref(&request.repo.git_ref),
            dirty: request.repo.dirty,
            matrix: leg.matrix.as_ref().map(|m| request.masker.mask_json(m)),
            outputs: leg
                .outcome
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), request.masker.mask(v)))
                .collect(),
            runner_tags: request.config.tags.clone(),
            isolation: leg
                .outcome
                .isolation
                .clone()
                .unwrap_or_else(|| request.isolation.clone()),
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
        git_ref: stored_ref(&request.repo.git_ref),
        dirty: request.repo.dirty,
        runner_tags: request.config.tags.clone(),
        started_at: request.started_at,
        finished_at: request.finished_at,
    };
    let mut commit = CommitResult::summarize(info.clone(), &jobs);
    commit.sign(&keys).map_err(|e| ResultError::Sign {
        key: "result.json".into(),
        message: e.to_string(),
    })?;

    Ok(Assembled {
        owner_npub,
        repo_path,
        info,
        commit,
        jobs,
        logs,
    })
}

/// Masks a log once more with every value registered by the end of the
/// run, streaming it into a new file when a value came after it began.
fn masked_log(log: &FinishedLog, masker: &Masker) -> Result<FinishedLog, ResultError> {
    log.masked_again(masker).map_err(|e| ResultError::Write {
        path: log.path().map(PathBuf::from).unwrap_or_default(),
        message: e.to_string(),
    })
}

/// Assembles, signs and writes the results; returns the commit folder.
/// Stored jobs that no longer verify are dropped with a warning on stderr.
pub fn store(request: &StoreRequest<'_>) -> Result<PathBuf, ResultError> {
    let assembled = assemble(request)?;
    let merged = write(&assembled, &request.config.keys())?;
    for job in &merged.dropped {
        eprintln!(
            "warning: dropped the stored result of job {} because it does not verify: {}",
            job.key, job.reason
        );
    }
    Ok(merged.dir)
}

/// Writes the run with the store's filesystem backend, merged into the
/// stored result of the commit.
fn write(assembled: &Assembled, keys: &Keys) -> Result<ci_store::MergedCommit, ResultError> {
    let location = |e: ci_store::StoreError| ResultError::Location(e.to_string());
    let store = ci_store::FsStore::default_location().map_err(location)?;
    let path = ci_store::CommitPath::new(
        &assembled.commit.runner_npub,
        &assembled.owner_npub,
        &assembled.repo_path,
        &assembled.commit.commit,
    )
    .map_err(location)?
    .with_dirty(assembled.info.dirty);
    let failed = |e: ci_store::StoreError| ResultError::Write {
        path: store.commit_dir(&path),
        message: e.to_string(),
    };

    let mut writer = store.begin_commit(&path).map_err(failed)?;
    for (log_path, log) in &assembled.logs {
        let mut file = writer.create_log(log_path).map_err(failed)?;
        let copied = log.copy_into(&mut file);
        let short = |copied: u64| format!("copied {copied} of {} bytes", log.size());
        let message = match copied {
            Ok(copied) if copied == log.size() => continue,
            Ok(copied) => short(copied),
            Err(error) => error.to_string(),
        };
        return Err(ResultError::Write {
            path: writer.staging_dir().join(log_path),
            message,
        });
    }
    writer
        .finish_merged(assembled.jobs.clone(), |all| {
            summarize_union(&assembled.info, all, keys)
        })
        .map_err(failed)
}

/// Signs a summary over `jobs`, spanning the earliest start and the latest
/// end among this run and the kept jobs.
fn summarize_union(
    info: &CommitInfo,
    jobs: &[(String, JobResult)],
    keys: &Keys,
) -> Result<CommitResult, ci_store::StoreError> {
    let mut info = info.clone();
    for (_, job) in jobs {
        info.started_at = info.started_at.min(job.started_at);
        info.finished_at = info.finished_at.max(job.finished_at);
    }
    let mut summary = CommitResult::summarize(info, jobs);
    summary
        .sign(keys)
        .map_err(|source| ci_store::StoreError::Mismatch {
            what: "the commit summary".to_string(),
            reason: format!("signing failed: {source}"),
        })?;
    Ok(summary)
}

/// Returns the `ref` of a stored result: `null` for a detached HEAD,
/// which has no branch or tag.
fn stored_ref(git_ref: &str) -> Option<String> {
    (!git_ref.is_empty()).then(|| git_ref.to_string())
}
