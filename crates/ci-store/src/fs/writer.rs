//! Writing one run of a commit in steps: logs while jobs run, then the
//! signed results.
//!
//! Everything goes into a hidden staging folder in the repository folder
//! (`.<commit>.staging-<pid>-<n>`, or `.<commit>.dirty.staging-<pid>-<n>`
//! for a dirty run), which listings skip. `finish` flushes every file and
//! folder and then swaps the staging folder with the commit folder, so
//! readers see the previous state until the new one is complete. A clean
//! run copies the commit's `dirty/` folder into its staging folder first,
//! so the swap keeps it. Dropping an unfinished writer removes the staging
//! folder.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ci_core::result::job_result_path;
use ci_core::{CommitResult, JobResult};

use super::merge::{CommitLock, DroppedJob, MergedCommit, copy_tree, stored_jobs_to_keep};
use super::{check_documents, check_log_paths, replace_dir, write_json};
use crate::atomic::{sync_dir, unique_sibling};
use crate::error::StoreError;
use crate::path::{CommitPath, DIRTY_DIR, RESULT_FILE};

/// A run of a commit being written. Create it with
/// [`super::FsStore::begin_commit`].
#[derive(Debug)]
pub struct CommitWriter {
    path: CommitPath,
    repo_dir: PathBuf,
    staging: PathBuf,
    created_dirs: HashSet<PathBuf>,
    log_paths: Vec<String>,
    finished: bool,
}

impl CommitWriter {
    pub(super) fn create(path: CommitPath, repo_dir: PathBuf) -> Result<Self, StoreError> {
        let base = if path.is_dirty() {
            format!("{}.{DIRTY_DIR}", path.commit())
        } else {
            path.commit().to_string()
        };
        let staging = unique_sibling(&repo_dir.join(base), "staging");
        std::fs::create_dir(&staging).map_err(|e| StoreError::io("create folder", &staging, e))?;
        let mut created_dirs = HashSet::new();
        created_dirs.insert(staging.clone());
        Ok(CommitWriter {
            path,
            repo_dir,
            staging,
            created_dirs,
            log_paths: Vec::new(),
            finished: false,
        })
    }

    /// Returns the hidden folder the files are written to until
    /// [`CommitWriter::finish`].
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// Creates an empty log file and returns it for writing. `log_path` is
    /// relative to the commit folder and starts with `logs/`, such as
    /// [`crate::step_log_path`] returns. The file is flushed to disk by
    /// `finish`.
    pub fn create_log(&mut self, log_path: &str) -> Result<File, StoreError> {
        let mut all = self.log_paths.clone();
        all.push(log_path.to_string());
        check_log_paths(all.iter().map(String::as_str))?;

        let file_path = self.staging.join(log_path);
        self.create_parents(&file_path)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&file_path)
            .map_err(|e| StoreError::io("create", &file_path, e))?;
        self.log_paths = all;
        Ok(file)
    }

    /// Writes a whole log file at once; see [`CommitWriter::create_log`].
    pub fn write_log(&mut self, log_path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;

        let mut file = self.create_log(log_path)?;
        let file_path = self.staging.join(log_path);
        file.write_all(bytes)
            .map_err(|e| StoreError::io("write", &file_path, e))
    }

    /// Writes the signed summary and job results, flushes everything and
    /// puts the run in place of the stored jobs of the commit, which are
    /// dropped. Returns the commit folder.
    ///
    /// The documents are checked as in [`super::FsStore::write_commit`];
    /// on any error the earlier run stays untouched.
    pub fn finish(
        self,
        summary: &CommitResult,
        jobs: &[(String, JobResult)],
    ) -> Result<PathBuf, StoreError> {
        check_documents(&self.path, summary, jobs)?;
        let _lock = CommitLock::acquire(&self.repo_dir, self.path.commit())?;
        self.install(summary, jobs)
    }

    /// Adds this run's jobs to the stored result of the commit and returns
    /// the folder with the jobs kept and dropped.
    ///
    /// A clean run keeps every stored job whose key `jobs` does not
    /// contain, when its signature verifies, it was signed by the runner
    /// of the path for this commit and repository, and its logs match
    /// their signed hashes. Stored jobs that fail these checks are dropped
    /// with a warning. `summarize` receives the union (this run's jobs
    /// first) and returns the new signed summary. A dirty run replaces the
    /// stored dirty run as a whole, because two dirty runs may have run
    /// different uncommitted changes.
    pub fn finish_merged<F>(
        mut self,
        jobs: Vec<(String, JobResult)>,
        summarize: F,
    ) -> Result<MergedCommit, StoreError>
    where
        F: FnOnce(&[(String, JobResult)]) -> Result<CommitResult, StoreError>,
    {
        let _lock = CommitLock::acquire(&self.repo_dir, self.path.commit())?;
        let final_dir = self.final_dir();
        let (mut kept, mut dropped) = (Vec::new(), Vec::new());
        if !self.path.is_dirty() {
            let new_keys: HashSet<&str> = jobs.iter().map(|(key, _)| key.as_str()).collect();
            let (candidates, unverified) = stored_jobs_to_keep(&self.path, &final_dir, &new_keys);
            dropped = unverified;
            for candidate in candidates {
                match self.copy_logs(&final_dir, &candidate.logs) {
                    Ok(()) => kept.push((candidate.key, candidate.job)),
                    Err(error) => dropped.push(DroppedJob {
                        key: candidate.key,
                        reason: error.to_string(),
                    }),
                }
            }
        }
        for job in &dropped {
            tracing::warn!(key = %job.key, reason = %job.reason, "dropped a stored job that does not verify");
        }

        let kept_keys = kept.iter().map(|(key, _)| key.clone()).collect();
        let mut all = jobs;
        all.extend(kept);
        let summary = summarize(&all)?;
        check_documents(&self.path, &summary, &all)?;
        let dir = self.install(&summary, &all)?;
        Ok(MergedCommit {
            dir,
            kept: kept_keys,
            dropped,
        })
    }

    /// Returns the folder the run goes to: `<commit>` or `<commit>/dirty`
    /// in the repository folder.
    fn final_dir(&self) -> PathBuf {
        let commit = self.repo_dir.join(self.path.commit());
        if self.path.is_dirty() {
            commit.join(DIRTY_DIR)
        } else {
            commit
        }
    }

    /// Copies the given log files of a kept job from the stored folder
    /// into the staging folder.
    fn copy_logs(&mut self, stored: &Path, log_paths: &[String]) -> Result<(), StoreError> {
        for log_path in log_paths {
            let source = stored.join(log_path);
            let bytes = std::fs::read(&source).map_err(|e| StoreError::io("read", &source, e))?;
            self.write_log(log_path, &bytes)?;
        }
        Ok(())
    }

    /// Writes the documents, flushes everything and swaps the staging
    /// folder into place. The caller holds the commit's lock.
    fn install(
        mut self,
        summary: &CommitResult,
        jobs: &[(String, JobResult)],
    ) -> Result<PathBuf, StoreError> {
        write_json(&self.staging.join(RESULT_FILE), summary)?;
        for (key, job) in jobs {
            let file = self.staging.join(job_result_path(key));
            self.create_parents(&file)?;
            write_json(&file, job)?;
        }
        let final_dir = self.final_dir();
        if self.path.is_dirty() {
            let commit_dir = self.repo_dir.join(self.path.commit());
            match std::fs::create_dir(&commit_dir) {
                Ok(()) => sync_dir(&self.repo_dir)?,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(StoreError::io("create folder", &commit_dir, error)),
            }
        } else {
            let dirty = final_dir.join(DIRTY_DIR);
            if dirty.is_dir() {
                let copied = copy_tree(&dirty, &self.staging.join(DIRTY_DIR))?;
                self.created_dirs.extend(copied);
            }
        }
        self.flush_logs()?;
        self.flush_dirs()?;

        replace_dir(&self.staging, &final_dir)?;
        self.finished = true;
        if let Some(parent) = final_dir.parent() {
            sync_dir(parent)?;
        }
        tracing::debug!(dir = %final_dir.display(), jobs = jobs.len(), "stored commit results");
        Ok(final_dir)
    }

    /// Creates the folders between the staging folder and `file`.
    fn create_parents(&mut self, file: &Path) -> Result<(), StoreError> {
        let Some(parent) = file.parent() else {
            return Ok(());
        };
        let relative = parent.strip_prefix(&self.staging).unwrap_or(Path::new(""));
        let mut dir = self.staging.clone();
        for component in relative.components() {
            dir.push(component);
            if self.created_dirs.contains(&dir) {
                continue;
            }
            std::fs::create_dir(&dir).map_err(|e| StoreError::io("create folder", &dir, e))?;
            self.created_dirs.insert(dir.clone());
        }
        Ok(())
    }

    /// Flushes the log files, which callers of `create_log` may not have
    /// done.
    fn flush_logs(&self) -> Result<(), StoreError> {
        for log_path in &self.log_paths {
            let file_path = self.staging.join(log_path);
            File::open(&file_path)
                .and_then(|file| file.sync_all())
                .map_err(|e| StoreError::io("fsync", &file_path, e))?;
        }
        Ok(())
    }

    /// Flushes every folder, deepest first, so each entry is durable
    /// before the staging folder is renamed into place.
    fn flush_dirs(&self) -> Result<(), StoreError> {
        let mut dirs: Vec<&PathBuf> = self.created_dirs.iter().collect();
        dirs.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
        dirs.into_iter().try_for_each(|dir| sync_dir(dir))
    }
}

impl Drop for CommitWriter {
    fn drop(&mut self) {
        if !self.finished
            && let Err(error) = std::fs::remove_dir_all(&self.staging)
        {
            tracing::warn!(
                dir = %self.staging.display(),
                %error,
                "cannot remove the staging folder of an unfinished run; delete it by hand"
            );
        }
    }
}
