//! Writing one run of a commit in steps: logs while jobs run, then the
//! signed results.
//!
//! Everything goes into a hidden staging folder next to the commit folder
//! (`.<commit>.staging-<pid>-<n>`), which listings skip. `finish` flushes
//! every file and folder and then swaps the staging folder with the commit
//! folder, so readers see the previous run until the new one is complete.
//! Dropping an unfinished writer removes the staging folder.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ci_core::result::job_result_path;
use ci_core::{CommitResult, JobResult};

use super::{check_documents, check_log_paths, replace_dir, write_json};
use crate::atomic::{sync_dir, unique_sibling};
use crate::error::StoreError;
use crate::path::{CommitPath, RESULT_FILE};

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
        let staging = unique_sibling(&repo_dir.join(path.commit()), "staging");
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
    /// puts the run in place of any earlier run of the commit. Returns the
    /// commit folder.
    ///
    /// The documents are checked as in [`super::FsStore::write_commit`];
    /// on any error the earlier run stays untouched.
    pub fn finish(
        mut self,
        summary: &CommitResult,
        jobs: &[(String, JobResult)],
    ) -> Result<PathBuf, StoreError> {
        check_documents(&self.path, summary, jobs)?;

        write_json(&self.staging.join(RESULT_FILE), summary)?;
        for (key, job) in jobs {
            let file = self.staging.join(job_result_path(key));
            self.create_parents(&file)?;
            write_json(&file, job)?;
        }
        self.flush_logs()?;
        self.flush_dirs()?;

        let final_dir = self.repo_dir.join(self.path.commit());
        replace_dir(&self.staging, &final_dir)?;
        self.finished = true;
        sync_dir(&self.repo_dir)?;
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
