//! Full check of one commit folder, logs included.
//!
//! The signed documents carry the SHA-256 of every log (`logs_hash` of a
//! job and of each step), so a folder can be checked end to end. The check
//! covers every signature, the agreement of each job result with the
//! summary, and every log file against its signed hash. Listings skip the logs because they
//! can be large; `htci verify DIR` runs this check.

use std::path::{Path, PathBuf};

use ci_core::{CommitResult, JobResult};
use sha2::{Digest, Sha256};

use crate::atomic::open_regular_file;
use crate::error::StoreError;
use crate::fs::{
    StoredDocument, StoredJob, dirty_problem, read_document, read_job, unlisted_job_folders,
};
use crate::path::{DIRTY_DIR, RESULT_FILE, job_log_path, validate_log_path};

/// The outcome of [`check_commit_folder`].
#[derive(Debug)]
pub struct FolderCheck {
    /// The commit folder.
    pub dir: PathBuf,
    /// The signed summary, `result.json`.
    pub summary: StoredDocument<CommitResult>,
    /// Every job listed in the summary, in the summary's order.
    pub jobs: Vec<StoredJob>,
    /// Log files that are missing or whose hash differs from the signed one.
    pub log_problems: Vec<String>,
    /// Number of log files whose hash matched.
    pub logs_matched: usize,
    /// Differences between the folder and the summary: a folder name that
    /// is not the signed commit, a clean or dirty run in the wrong folder,
    /// job folders the summary does not list.
    pub folder_problems: Vec<String>,
}

impl FolderCheck {
    /// Returns true when every signature verifies, every job agrees with
    /// the summary and every log matches its signed hash.
    pub fn is_verified(&self) -> bool {
        self.summary.signature.is_ok()
            && self.log_problems.is_empty()
            && self.folder_problems.is_empty()
            && self.jobs.iter().all(|job| {
                job.problems.is_empty()
                    && job
                        .document
                        .as_ref()
                        .is_ok_and(|document| document.signature.is_ok())
            })
    }
}

/// Checks a commit folder: `result.json`, every job result it lists and
/// every log those results name.
///
/// The folder must be named after the signed commit, or be the `dirty`
/// folder of it for a run with uncommitted changes. Unlike
/// [`crate::FsStore::read_commit`], the runner and repository folders above
/// are not compared, so a commit folder copied out of a store passes.
pub fn check_commit_folder(dir: &Path) -> Result<FolderCheck, StoreError> {
    let summary: StoredDocument<CommitResult> = read_document(&dir.join(RESULT_FILE))?;
    let jobs: Vec<StoredJob> = summary
        .result
        .jobs
        .iter()
        .map(|entry| read_job(dir, &summary.result, entry))
        .collect();

    let mut log_problems = Vec::new();
    let mut logs_matched = 0;
    for job in &jobs {
        let Ok(document) = &job.document else {
            continue;
        };
        for (log_path, expected) in signed_logs(&job.summary.key, &document.result) {
            match check_log(dir, &log_path, expected) {
                Ok(()) => logs_matched += 1,
                Err(problem) => log_problems.push(problem),
            }
        }
    }

    let mut folder_problems = name_problems(dir, &summary.result);
    folder_problems.extend(unlisted_job_folders(dir, &summary.result));
    Ok(FolderCheck {
        dir: dir.to_path_buf(),
        summary,
        jobs,
        log_problems,
        logs_matched,
        folder_problems,
    })
}

/// Compares the folder's name with the signed commit and dirty flag.
fn name_problems(dir: &Path, summary: &CommitResult) -> Vec<String> {
    // `htci verify .` names the folder only after resolving it.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name = |path: &Path| {
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let folder = name(&dir);
    let in_dirty = folder == DIRTY_DIR;
    let commit_folder = if in_dirty {
        dir.parent().map(name).unwrap_or_default()
    } else {
        folder
    };

    let mut problems = Vec::new();
    if commit_folder != summary.commit {
        problems.push(format!(
            "stored under commit {commit_folder} but signed for commit {}",
            summary.commit
        ));
    }
    problems.extend(dirty_problem(in_dirty, summary.dirty));
    problems
}

/// Lists the log files of a job with their signed hashes: the job log and
/// each step log that has a `log_path`.
pub(crate) fn signed_logs<'a>(key: &str, job: &'a JobResult) -> Vec<(String, &'a str)> {
    let mut logs = vec![(job_log_path(key), job.logs_hash.as_str())];
    for step in &job.steps {
        if let Some(log_path) = &step.log_path {
            logs.push((log_path.clone(), step.logs_hash.as_str()));
        }
    }
    logs
}

/// Compares one log file with its signed hash; the error is a one-line
/// description.
pub(crate) fn check_log(dir: &Path, log_path: &str, expected: &str) -> Result<(), String> {
    // The path comes from a document that may have been tampered with.
    validate_log_path(log_path).map_err(|error| error.to_string())?;

    let file_path = dir.join(log_path);
    let actual = hash_file(&file_path).map_err(|error| format!("{log_path}: {error}"))?;
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "{log_path}: SHA-256 is {actual} but the signed result has {expected}"
        ))
    }
}

/// Hashes a regular file without reading it into memory at once.
fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = open_regular_file(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests;
