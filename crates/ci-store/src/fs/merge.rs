//! Merging a run into the stored result of its commit: the commit lock,
//! the stored jobs that may be kept, and copying stored files.
//!
//! The result space only adds: a run of one workflow must not hide the
//! jobs that an earlier run of the same commit stored. A stored job is
//! kept only when it still verifies, because the new summary vouches for
//! every job it lists under the runner's signature.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ci_core::JobResult;
use ci_core::result::job_result_path;

use super::{dirty_problem, place_problems, read_dir_names, read_document};
use crate::check::signed_logs;
use crate::error::StoreError;
use crate::path::{JOBS_DIR, LOGS_DIR, validate_job_key, validate_log_path};

/// A stored run of a commit after a merge.
#[derive(Debug)]
pub struct MergedCommit {
    /// The commit folder.
    pub dir: PathBuf,
    /// Keys of the stored jobs that were kept because this run did not
    /// run them.
    pub kept: Vec<String>,
    /// Stored jobs that did not verify and were left out.
    pub dropped: Vec<DroppedJob>,
}

/// A stored job left out of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedJob {
    /// The job key.
    pub key: String,
    /// Reason the stored job does not verify.
    pub reason: String,
}

/// A stored job that verified, with the log files to copy.
pub(crate) struct KeptJob {
    pub key: String,
    pub job: JobResult,
    pub logs: Vec<String>,
}

/// An exclusive `flock` on `.<commit>.lock` in the repository folder,
/// released when dropped (the descriptor closes).
pub(crate) struct CommitLock {
    _file: File,
}

impl CommitLock {
    /// Waits for and takes the lock of one commit.
    pub fn acquire(repo_dir: &Path, commit: &str) -> Result<Self, StoreError> {
        let path = repo_dir.join(format!(".{commit}.lock"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(|e| StoreError::io("open lock file", &path, e))?;
        loop {
            // SAFETY: the descriptor belongs to `file`, which stays open
            // for the lifetime of the lock; flock takes no pointers.
            let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if result == 0 {
                break;
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(StoreError::io("lock", &path, error));
            }
        }
        Ok(CommitLock { _file: file })
    }
}

/// Reads the stored jobs of `stored_dir` whose keys are not in
/// `new_keys` and splits them into those that verify and those that do
/// not. The job folders below `jobs/` are listed, not the stored summary,
/// so a damaged summary loses no job.
///
/// NOTE: a job that this run no longer has, such as a matrix leg
/// `ci.test.3` after the matrix shrank to two legs, is kept because it
/// verifies; only a run that contains its key replaces it.
pub(crate) fn stored_jobs_to_keep(
    path: &crate::CommitPath,
    stored_dir: &Path,
    new_keys: &HashSet<&str>,
) -> (Vec<KeptJob>, Vec<DroppedJob>) {
    let mut names = match read_dir_names(&stored_dir.join(JOBS_DIR)) {
        Ok(names) => names,
        Err(error) => {
            tracing::warn!(dir = %stored_dir.display(), %error, "failed to list the stored jobs, so none are kept");
            return (Vec::new(), Vec::new());
        }
    };
    names.sort();

    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for key in names {
        if new_keys.contains(key.as_str()) || key.starts_with('.') {
            continue;
        }
        match verify_stored_job(path, stored_dir, &key) {
            Ok((job, logs)) => kept.push(KeptJob { key, job, logs }),
            Err(reason) => dropped.push(DroppedJob { key, reason }),
        }
    }
    (kept, dropped)
}

/// Verifies one stored job and returns it with the log files to copy.
fn verify_stored_job(
    path: &crate::CommitPath,
    stored_dir: &Path,
    key: &str,
) -> Result<(JobResult, Vec<String>), String> {
    validate_job_key(key).map_err(|e| e.to_string())?;
    let document = read_document::<JobResult>(&stored_dir.join(job_result_path(key)))
        .map_err(|e| e.to_string())?;
    document.signature.map_err(|e| e.to_string())?;
    let job = document.result;
    let problems = place_problems(path, &job.runner_npub, &job.commit, &job.repo_hash);
    if let Some(problem) = problems.into_iter().next() {
        return Err(problem);
    }
    if let Some(problem) = dirty_problem(path.is_dirty(), job.dirty) {
        return Err(problem);
    }

    let own_logs = format!("{LOGS_DIR}/{key}/");
    let mut logs = Vec::new();
    for (log_path, expected) in signed_logs(key, &job) {
        if !log_path.starts_with(&own_logs) {
            return Err(format!("log {log_path} is outside {own_logs}"));
        }
        crate::check::check_log(stored_dir, &log_path, expected)?;
        logs.push(log_path);
    }
    // The step summary is not covered by a hash; it is copied when present.
    let summary = format!("{own_logs}summary.md");
    if validate_log_path(&summary).is_ok() && stored_dir.join(&summary).is_file() {
        logs.push(summary);
    }
    Ok((job, logs))
}

/// Copies the folders and regular files below `from` to `to`, which must
/// not exist, skipping symbolic links and other file types. Returns the
/// folders created, for flushing.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<Vec<PathBuf>, StoreError> {
    std::fs::create_dir(to).map_err(|e| StoreError::io("create folder", to, e))?;
    let mut created = vec![to.to_path_buf()];
    for name in read_dir_names(from)? {
        let source = from.join(&name);
        let target = to.join(&name);
        let kind = std::fs::symlink_metadata(&source)
            .map_err(|e| StoreError::io("inspect", &source, e))?
            .file_type();
        if kind.is_dir() {
            created.extend(copy_tree(&source, &target)?);
        } else if kind.is_file() {
            let bytes = std::fs::read(&source).map_err(|e| StoreError::io("read", &source, e))?;
            crate::atomic::write_new_file(&target, &bytes)?;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests;
