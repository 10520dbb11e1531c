//! The filesystem backend: results as files under a root folder, by
//! default `$XDG_DATA_HOME/hashtree-ci/` (`~/.local/share/hashtree-ci/`).
//!
//! [`FsStore::begin_commit`] writes a run of a commit in steps, so logs can
//! stream to disk while jobs run. The files are first written and flushed
//! into a hidden staging folder next to the commit folder, which then
//! replaces the commit folder in one `renameat2(RENAME_EXCHANGE)` step. At
//! any moment, and after a crash, the commit folder contains either the
//! previous complete state or the new one, never a mix.
//!
//! [`CommitWriter::finish_merged`] keeps the jobs of the stored run that
//! this run did not run, so a run of one workflow adds to the commit's
//! result instead of replacing it. Each writer takes an exclusive `flock`
//! on `.<commit>.lock` in the repository folder from reading the stored
//! jobs until the new folder is in place, so concurrent runs of one commit
//! do not lose each other's jobs. A run with uncommitted changes goes to
//! `<commit>/dirty/` and never touches the clean result. Other commits are
//! never touched.
//!
//! Reading verifies every signature on the JSON exactly as stored. It also
//! checks that each document belongs where it was found (runner, commit,
//! repository and clean or dirty folder match the path), because a validly
//! signed result copied into another folder must not pass as that
//! folder's.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use ci_core::result::job_result_path;
use ci_core::{CommitResult, JobResult, JobSummary, VerifyError, verify_value};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::atomic::{exchange, open_regular_file, sync_dir, unique_sibling, write_new_file};
use crate::error::StoreError;
use crate::path::{
    CommitPath, DIRTY_DIR, JOBS_DIR, RESULT_FILE, repo_dir, validate_job_key, validate_log_path,
    validate_npub,
};

/// Largest result file read, in bytes; anything larger is reported as
/// invalid instead of being loaded into memory.
pub const MAX_RESULT_FILE_SIZE: u64 = 64 << 20;

/// A result store in a local folder.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

/// A result file as read from the store.
#[derive(Debug, Clone)]
pub struct StoredDocument<T> {
    /// The file.
    pub file: PathBuf,
    /// The JSON exactly as stored, the form the signature covers.
    pub value: Value,
    /// The parsed result.
    pub result: T,
    /// Whether the signature verifies against the document's `runner_npub`.
    pub signature: Result<(), VerifyError>,
}

/// One job of a stored commit.
#[derive(Debug)]
pub struct StoredJob {
    /// The job's line in the commit summary.
    pub summary: JobSummary,
    /// The job's own result file, or why it could not be read.
    pub document: Result<StoredDocument<JobResult>, StoreError>,
    /// Differences between the job file and the summary or path.
    pub problems: Vec<String>,
}

/// One commit folder as read from the store.
#[derive(Debug)]
pub struct StoredCommit {
    /// Location of the commit in the store.
    pub path: CommitPath,
    /// The commit folder.
    pub dir: PathBuf,
    /// The signed summary, `result.json`.
    pub summary: StoredDocument<CommitResult>,
    /// Every job listed in the summary, in the summary's order.
    pub jobs: Vec<StoredJob>,
    /// Differences between the summary and its path.
    pub problems: Vec<String>,
}

impl StoredCommit {
    /// Returns true when every signature verifies, every job file was read
    /// and no document disagrees with its place.
    pub fn is_verified(&self) -> bool {
        self.summary.signature.is_ok()
            && self.problems.is_empty()
            && self.jobs.iter().all(|job| {
                job.problems.is_empty()
                    && job
                        .document
                        .as_ref()
                        .is_ok_and(|document| document.signature.is_ok())
            })
    }
}

/// The results of one repository, and the commit folders that could not
/// be read.
#[derive(Debug, Default)]
pub struct Listing {
    /// Readable commits, newest `finished_at` first.
    pub commits: Vec<StoredCommit>,
    /// Commit folders whose `result.json` is missing or invalid.
    pub unreadable: Vec<StoreError>,
}

impl FsStore {
    /// Opens a store at `root`. Nothing is created until the first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsStore { root: root.into() }
    }

    /// Opens the store at `$XDG_DATA_HOME/hashtree-ci/`.
    pub fn default_location() -> Result<Self, StoreError> {
        Ok(FsStore::new(ci_core::dirs::store_root()?))
    }

    /// Returns the root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the folder of a commit's results.
    pub fn commit_dir(&self, path: &CommitPath) -> PathBuf {
        self.root.join(path.relative_dir())
    }

    /// Checks that the root folder can be created and written, so a run
    /// can fail before its first job instead of after its last.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let not_writable = |source| StoreError::NotWritable {
            dir: self.root.clone(),
            source,
        };
        std::fs::create_dir_all(&self.root).map_err(not_writable)?;
        let probe = unique_sibling(&self.root.join("write-check"), "tmp");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(not_writable)?;
        std::fs::remove_file(&probe).map_err(not_writable)
    }

    /// Writes the results of one run of a commit, replacing the stored
    /// jobs of the same commit as a whole, and returns the commit folder.
    /// [`CommitWriter::finish_merged`] keeps the jobs this run did not run.
    ///
    /// `jobs` pairs each job key (its folder below `jobs/`) with its signed
    /// result. `logs` pairs a path relative to the commit folder, starting
    /// with `logs/`, with the log bytes. Every result must be signed by
    /// the runner of `path` and describe the commit and repository of
    /// `path`, and `summary.jobs` must list exactly the given jobs.
    ///
    /// This keeps every log in memory; [`FsStore::begin_commit`] streams
    /// logs to disk while jobs run.
    pub fn write_commit(
        &self,
        path: &CommitPath,
        summary: &CommitResult,
        jobs: &[(String, JobResult)],
        logs: &[(String, Vec<u8>)],
    ) -> Result<PathBuf, StoreError> {
        // Check everything before the first file is created.
        check_documents(path, summary, jobs)?;
        check_log_paths(logs.iter().map(|(log_path, _)| log_path.as_str()))?;

        let mut writer = self.begin_commit(path)?;
        for (log_path, bytes) in logs {
            writer.write_log(log_path, bytes)?;
        }
        writer.finish(summary, jobs)
    }

    /// Starts writing a run of a commit: logs can be written while jobs
    /// run, and [`CommitWriter::finish`] adds the signed results and puts
    /// the folder in place. Until then, readers see the previous run.
    pub fn begin_commit(&self, path: &CommitPath) -> Result<CommitWriter, StoreError> {
        let repo_dir = self.create_repo_dir(path)?;
        remove_stale_folders(&repo_dir);
        CommitWriter::create(path.clone(), repo_dir)
    }

    /// Reads one commit folder and verifies every file in it.
    pub fn read_commit(&self, path: &CommitPath) -> Result<StoredCommit, StoreError> {
        let dir = self.commit_dir(path);
        let summary: StoredDocument<CommitResult> = read_document(&dir.join(RESULT_FILE))?;
        let mut problems = place_problems(
            path,
            &summary.result.runner_npub,
            &summary.result.commit,
            &summary.result.repo_hash,
        );
        problems.extend(dirty_problem(path.is_dirty(), summary.result.dirty));
        problems.extend(unlisted_job_folders(&dir, &summary.result));
        let jobs = summary
            .result
            .jobs
            .iter()
            .map(|entry| read_job(&dir, &summary.result, entry))
            .collect();
        Ok(StoredCommit {
            path: path.clone(),
            dir,
            summary,
            jobs,
            problems,
        })
    }

    /// Lists the stored commits of a repository, newest `finished_at`
    /// first, verifying every file. With `runner_npub` `None`, the results
    /// of every runner in the store are listed.
    pub fn list_results(
        &self,
        runner_npub: Option<&str>,
        owner_npub: &str,
        repo_path: &str,
    ) -> Result<Listing, StoreError> {
        let runners = match runner_npub {
            Some(npub) => {
                validate_npub("runner npub", npub)?;
                vec![npub.to_string()]
            }
            None => self.runner_npubs()?,
        };

        let mut listing = Listing::default();
        for runner in runners {
            for commit in self.commit_names(&runner, owner_npub, repo_path)? {
                let clean = CommitPath::new(&runner, owner_npub, repo_path, &commit)?;
                let dirty = clean.clone().with_dirty(true);
                let has_dirty = self.commit_dir(&dirty).is_dir();
                // A commit run only with uncommitted changes has no clean
                // result.json, which is not an error.
                let has_clean = self.commit_dir(&clean).join(RESULT_FILE).exists() || !has_dirty;
                let folders = [(has_clean, clean), (has_dirty, dirty)];
                for path in folders
                    .into_iter()
                    .filter_map(|(has, path)| has.then_some(path))
                {
                    match self.read_commit(&path) {
                        Ok(stored) => listing.commits.push(stored),
                        Err(error) => listing.unreadable.push(error),
                    }
                }
            }
        }
        listing.commits.sort_by(|a, b| {
            b.summary
                .result
                .finished_at
                .cmp(&a.summary.result.finished_at)
                .then_with(|| a.path.commit().cmp(b.path.commit()))
                .then_with(|| a.path.is_dirty().cmp(&b.path.is_dirty()))
        });
        Ok(listing)
    }

    /// Returns the runner folders of the store: names that are valid npubs.
    fn runner_npubs(&self) -> Result<Vec<String>, StoreError> {
        let mut runners: Vec<String> = read_dir_names(&self.root)?
            .into_iter()
            .filter(|name| validate_npub("runner npub", name).is_ok())
            .collect();
        runners.sort();
        Ok(runners)
    }

    /// Returns the commit folder names of a repository.
    fn commit_names(
        &self,
        runner: &str,
        owner_npub: &str,
        repo_path: &str,
    ) -> Result<Vec<String>, StoreError> {
        // Validates the components before they become a path.
        CommitPath::new(runner, owner_npub, repo_path, &"0".repeat(40))?;
        let dir = self.root.join(repo_dir(runner, owner_npub, repo_path));
        let names = read_dir_names(&dir)?
            .into_iter()
            .filter(|name| crate::path::validate_commit(name).is_ok())
            .filter(|name| dir.join(name).is_dir())
            .collect();
        Ok(names)
    }

    /// Creates the repository folder and the folders above it, flushing
    /// each parent that gained an entry.
    fn create_repo_dir(&self, path: &CommitPath) -> Result<PathBuf, StoreError> {
        let relative = repo_dir(path.runner_npub(), path.owner_npub(), path.repo_path());
        let mut dir = self.root.clone();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("create folder", &dir, e))?;
        for component in relative.components() {
            let parent = dir.clone();
            dir.push(component);
            match std::fs::create_dir(&dir) {
                Ok(()) => sync_dir(&parent)?,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(StoreError::io("create folder", &dir, error)),
            }
        }
        Ok(dir)
    }
}

/// Checks that every result is signed, belongs at `path`, and that the
/// summary lists exactly the given jobs.
fn check_documents(
    path: &CommitPath,
    summary: &CommitResult,
    jobs: &[(String, JobResult)],
) -> Result<(), StoreError> {
    check_document(path, "the commit summary", summary, |s| {
        (&s.runner_npub, &s.commit, &s.repo_hash)
    })?;
    if let Some(reason) = dirty_problem(path.is_dirty(), summary.dirty) {
        return Err(StoreError::Mismatch {
            what: "the commit summary".to_string(),
            reason,
        });
    }

    let mut keys = HashSet::new();
    for (key, job) in jobs {
        validate_job_key(key)?;
        if !keys.insert(key.as_str()) {
            return Err(StoreError::Duplicate {
                what: "job key",
                value: key.clone(),
            });
        }
        let what = format!("the result of job {key}");
        check_document(path, &what, job, |j| {
            (&j.runner_npub, &j.commit, &j.repo_hash)
        })?;
        if let Some(reason) = dirty_problem(path.is_dirty(), job.dirty) {
            return Err(StoreError::Mismatch { what, reason });
        }
    }

    let listed: HashSet<&str> = summary.jobs.iter().map(|job| job.key.as_str()).collect();
    if listed != keys || summary.jobs.len() != jobs.len() {
        return Err(StoreError::Mismatch {
            what: "the commit summary".to_string(),
            reason: "its jobs list does not name exactly the job results given".to_string(),
        });
    }

    Ok(())
}

/// Checks that every log path is valid and unique, and that none is the
/// folder of another.
fn check_log_paths<'a>(log_paths: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for log_path in log_paths {
        validate_log_path(log_path)?;
        if !seen.insert(log_path) {
            return Err(StoreError::Duplicate {
                what: "log path",
                value: log_path.to_string(),
            });
        }
    }
    check_log_paths_do_not_nest(&seen)
}

/// Rejects a log path that is also a folder of another log path, such as
/// `logs/a` next to `logs/a/b.log`, which could not both be files.
fn check_log_paths_do_not_nest(paths: &HashSet<&str>) -> Result<(), StoreError> {
    for path in paths {
        let mut prefix = String::new();
        for segment in path.split('/') {
            if !prefix.is_empty() && paths.contains(prefix.as_str()) {
                return Err(StoreError::Duplicate {
                    what: "log path",
                    value: prefix,
                });
            }
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(segment);
        }
    }
    Ok(())
}

/// Verifies a document's signature and that it describes `path`.
fn check_document<T: serde::Serialize>(
    path: &CommitPath,
    what: &str,
    document: &T,
    fields: impl Fn(&T) -> (&String, &String, &String),
) -> Result<(), StoreError> {
    ci_core::signing::verify_serializable(document).map_err(|source| StoreError::Unsigned {
        what: what.to_string(),
        source,
    })?;
    let (runner, commit, repo_hash) = fields(document);
    match place_problems(path, runner, commit, repo_hash)
        .into_iter()
        .next()
    {
        None => Ok(()),
        Some(reason) => Err(StoreError::Mismatch {
            what: what.to_string(),
            reason,
        }),
    }
}

/// Lists how a document's runner, commit and repository differ from the
/// path it is stored at.
fn place_problems(path: &CommitPath, runner: &str, commit: &str, repo_hash: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if runner != path.runner_npub() {
        problems.push(format!(
            "stored under runner {} but signed by runner {runner}",
            path.runner_npub()
        ));
    }
    if commit != path.commit() {
        problems.push(format!(
            "stored under commit {} but signed for commit {commit}",
            path.commit()
        ));
    }
    let expected_hash = path.repo_hash();
    if repo_hash != expected_hash {
        problems.push(format!(
            "stored under repository {}/{} (repo_hash {expected_hash}) but signed for repo_hash \
             {repo_hash}",
            path.owner_npub(),
            path.repo_path()
        ));
    }
    problems
}

/// Describes a summary stored in the clean folder of a commit but signed
/// as a dirty run, or the reverse.
pub(crate) fn dirty_problem(in_dirty_folder: bool, signed_dirty: bool) -> Option<String> {
    match (in_dirty_folder, signed_dirty) {
        (false, true) => Some(format!(
            "stored as the clean result but signed as a run with uncommitted changes, which \
             belongs in {DIRTY_DIR}/"
        )),
        (true, false) => Some(format!(
            "stored in {DIRTY_DIR}/ but signed as a clean run, which belongs in the commit folder"
        )),
        _ => None,
    }
}

/// Lists the folders below `jobs/` that the summary does not name, each
/// as a one-line problem.
pub(crate) fn unlisted_job_folders(dir: &Path, summary: &CommitResult) -> Vec<String> {
    let listed: HashSet<&str> = summary.jobs.iter().map(|job| job.key.as_str()).collect();
    let jobs_dir = dir.join(JOBS_DIR);
    let mut names = match read_dir_names(&jobs_dir) {
        Ok(names) => names,
        Err(error) => return vec![error.to_string()],
    };
    names.sort();
    names
        .into_iter()
        .filter(|name| !listed.contains(name.as_str()))
        .map(|name| format!("{JOBS_DIR}/{name}: job folder not listed in {RESULT_FILE}"))
        .collect()
}

/// Reads the job result that `entry` of the summary points to and
/// compares it with the summary. The summary itself is compared with its
/// path by the caller, so a job that matches the summary also matches the
/// path.
pub(crate) fn read_job(dir: &Path, summary: &CommitResult, entry: &JobSummary) -> StoredJob {
    let unreadable = |error: StoreError| StoredJob {
        summary: entry.clone(),
        document: Err(error),
        problems: Vec::new(),
    };
    // The entry comes from a file that may have been tampered with, so its
    // key is validated before it becomes a path.
    if let Err(error) = validate_job_key(&entry.key) {
        return unreadable(error);
    }
    let expected_path = job_result_path(&entry.key);
    if entry.path != expected_path {
        return unreadable(StoreError::InvalidDocument {
            path: dir.join(RESULT_FILE),
            reason: format!(
                "job {} has path {:?}, expected {expected_path:?}",
                entry.key, entry.path
            ),
        });
    }

    let document = match read_document::<JobResult>(&dir.join(&expected_path)) {
        Ok(document) => document,
        Err(error) => return unreadable(error),
    };
    let job = &document.result;
    let mut problems = Vec::new();
    if job.status != entry.status {
        problems.push(format!(
            "status is {} but the commit summary lists {}",
            job.status, entry.status
        ));
    }
    if job.logs_hash != entry.logs_hash {
        problems.push("logs_hash differs from the commit summary".to_string());
    }
    for (field, in_job, in_summary) in [
        ("runner_npub", &job.runner_npub, &summary.runner_npub),
        ("commit", &job.commit, &summary.commit),
        ("repo_hash", &job.repo_hash, &summary.repo_hash),
    ] {
        if in_job != in_summary {
            problems.push(format!(
                "{field} is {in_job} but the commit summary has {in_summary}"
            ));
        }
    }
    StoredJob {
        summary: entry.clone(),
        document: Ok(document),
        problems,
    }
}

/// Reads a result file, parses it and verifies its signature.
pub fn read_document<T: DeserializeOwned>(file: &Path) -> Result<StoredDocument<T>, StoreError> {
    let opened = open_regular_file(file).map_err(|e| StoreError::io("read", file, e))?;
    let mut bytes = Vec::new();
    // One byte more than the limit tells a file at the limit from a larger
    // one without trusting the size the metadata reports.
    opened
        .take(MAX_RESULT_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io("read", file, e))?;
    let invalid = |reason: String| StoreError::InvalidDocument {
        path: file.to_path_buf(),
        reason,
    };
    if bytes.len() as u64 > MAX_RESULT_FILE_SIZE {
        return Err(invalid(format!(
            "larger than the limit of {MAX_RESULT_FILE_SIZE} bytes"
        )));
    }

    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
    let result: T = serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
    let signature = verify_value(&value);
    Ok(StoredDocument {
        file: file.to_path_buf(),
        value,
        result,
        signature,
    })
}

fn write_json<T: serde::Serialize>(file: &Path, document: &T) -> Result<(), StoreError> {
    let mut bytes =
        serde_json::to_vec_pretty(document).map_err(|e| StoreError::InvalidDocument {
            path: file.to_path_buf(),
            reason: format!("cannot serialize: {e}"),
        })?;
    bytes.push(b'\n');
    write_new_file(file, &bytes)
}

/// Moves `staging` to `final_dir`, replacing an existing folder in one
/// step where the file system allows it.
pub(crate) fn replace_dir(staging: &Path, final_dir: &Path) -> Result<(), StoreError> {
    if !final_dir.exists() {
        return std::fs::rename(staging, final_dir)
            .map_err(|e| StoreError::io("rename", final_dir, e));
    }
    if exchange(staging, final_dir)? {
        // `staging` now contains the previous run.
        return remove_old(staging);
    }

    // NOTE: without RENAME_EXCHANGE the commit folder is missing between
    // the two renames. A crash there leaves the previous run in a hidden
    // `.replaced` folder.
    let old = unique_sibling(final_dir, "replaced");
    std::fs::rename(final_dir, &old).map_err(|e| StoreError::io("rename", final_dir, e))?;
    std::fs::rename(staging, final_dir).map_err(|e| StoreError::io("rename", final_dir, e))?;
    remove_old(&old)
}

pub(crate) fn remove_old(dir: &Path) -> Result<(), StoreError> {
    std::fs::remove_dir_all(dir).map_err(|e| StoreError::io("remove old folder", dir, e))
}

/// Removes the staging and replaced folders that a killed writer left in
/// `repo_dir`: hidden folders named `.<commit>.staging-<pid>-<n>` or
/// `.<commit>.replaced-<pid>-<n>` whose process no longer exists.
///
/// NOTE: liveness is checked through `/proc/<pid>`, so a leftover whose
/// pid was reused by an unrelated process stays until that process ends.
fn remove_stale_folders(repo_dir: &Path) {
    let Ok(names) = read_dir_names(repo_dir) else {
        return;
    };
    for name in names {
        let Some(pid) = writer_pid(&name) else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let dir = repo_dir.join(&name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(dir = %dir.display(), "removed a folder left by a killed run"),
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot remove a stale folder")
            }
        }
    }
}

/// Returns the writer's pid from a staging or replaced folder name.
fn writer_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, rest) = name
        .split_once(".staging-")
        .or_else(|| name.split_once(".replaced-"))?;
    rest.split_once('-')?.0.parse().ok()
}

/// Returns the UTF-8 entry names of a folder; a missing folder has none.
pub(crate) fn read_dir_names(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(StoreError::io("list", dir, error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

mod merge;
mod writer;

pub use merge::{DroppedJob, MergedCommit};

pub use writer::CommitWriter;

#[cfg(test)]
pub(crate) mod tests;
