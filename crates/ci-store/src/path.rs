//! Result paths and the validation of their components.
//!
//! A commit's results live at
//! `<runner-npub>/ci/<owner-npub>/<repo-path>/<commit>/`:
//!
//! ```text
//! result.json                       signed CommitResult (the summary)
//! jobs/<job-key>/result.json        signed JobResult, one per job or matrix leg
//! logs/<job-key>/job.log            the whole job log
//! logs/<job-key>/<NN>-<step>.log    one log per step, NN counting from 01
//! dirty/                            the latest run with uncommitted changes,
//!                                   in the same layout
//! ```
//!
//! Every component comes from outside (a remote URL, a workflow file, a
//! stored `result.json`), so each one is checked before it becomes part of
//! a file system path. The checks reject `..`, absolute paths and NUL.
//! Repository path segments and keys may only use `A-Z a-z 0-9 . _ -` and
//! never start with a dot, because dot names are reserved for the store's
//! temporary folders.

use std::fmt;
use std::path::PathBuf;

use ci_core::signing::parse_npub;

use crate::error::StoreError;

/// Name of the result file in a commit folder and in each job folder.
pub const RESULT_FILE: &str = "result.json";

/// Folder of the job results below a commit folder.
pub const JOBS_DIR: &str = "jobs";

/// Folder of the logs below a commit folder.
pub const LOGS_DIR: &str = "logs";

/// Folder below a commit folder that contains the latest run made with
/// uncommitted changes, so it never replaces the clean result.
pub const DIRTY_DIR: &str = "dirty";

/// Maximum length of one path segment, in bytes.
pub const MAX_SEGMENT_LEN: usize = 100;

/// Maximum number of segments of a repository path.
pub const MAX_REPO_SEGMENTS: usize = 8;

/// The location of one commit's results in the store, with every
/// component validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommitPath {
    runner_npub: String,
    owner_npub: String,
    repo_path: String,
    commit: String,
    dirty: bool,
}

impl CommitPath {
    /// Validates and builds a commit path.
    pub fn new(
        runner_npub: &str,
        owner_npub: &str,
        repo_path: &str,
        commit: &str,
    ) -> Result<Self, StoreError> {
        validate_npub("runner npub", runner_npub)?;
        validate_npub("owner npub", owner_npub)?;
        validate_repo_path(repo_path)?;
        validate_commit(commit)?;
        Ok(CommitPath {
            runner_npub: runner_npub.to_string(),
            owner_npub: owner_npub.to_string(),
            repo_path: repo_path.to_string(),
            commit: commit.to_string(),
            dirty: false,
        })
    }

    /// Returns the same location for a run with uncommitted changes
    /// (`dirty` true), whose folder is `<commit>/dirty/`, or for a clean
    /// run.
    pub fn with_dirty(mut self, dirty: bool) -> Self {
        self.dirty = dirty;
        self
    }

    /// True for the folder of runs with uncommitted changes.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// NIP-19 `npub` of the runner.
    pub fn runner_npub(&self) -> &str {
        &self.runner_npub
    }

    /// NIP-19 `npub` of the repository owner.
    pub fn owner_npub(&self) -> &str {
        &self.owner_npub
    }

    /// Repository path below the owner, such as `tools/htci`.
    pub fn repo_path(&self) -> &str {
        &self.repo_path
    }

    /// Full commit hash.
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// Returns the `repo_hash` that results stored at this path must carry.
    pub fn repo_hash(&self) -> String {
        ci_core::hash::repo_hash(&self.owner_npub, &self.repo_path)
    }

    /// Returns the commit folder relative to the store root.
    pub fn relative_dir(&self) -> PathBuf {
        let dir = repo_dir(&self.runner_npub, &self.owner_npub, &self.repo_path).join(&self.commit);
        if self.dirty { dir.join(DIRTY_DIR) } else { dir }
    }
}

impl fmt::Display for CommitPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/ci/{}/{}/{}{}",
            self.runner_npub,
            self.owner_npub,
            self.repo_path,
            self.commit,
            if self.dirty { "/dirty" } else { "" }
        )
    }
}

/// Returns `<runner-npub>/ci/<owner-npub>/<repo-path>` relative to the store
/// root. The components must already be validated.
pub(crate) fn repo_dir(runner_npub: &str, owner_npub: &str, repo_path: &str) -> PathBuf {
    let mut dir = PathBuf::from(runner_npub);
    dir.push("ci");
    dir.push(owner_npub);
    for segment in repo_path.split('/') {
        dir.push(segment);
    }
    dir
}

/// Checks a NIP-19 npub used as a folder name.
pub fn validate_npub(what: &'static str, npub: &str) -> Result<(), StoreError> {
    parse_npub(npub)
        .map(|_| ())
        .map_err(|reason| StoreError::InvalidComponent {
            what,
            value: npub.to_string(),
            reason: format!("not a NIP-19 npub ({reason})"),
        })
}

/// Checks a commit hash: 40 (SHA-1) or 64 (SHA-256) lowercase hex
/// characters.
pub fn validate_commit(commit: &str) -> Result<(), StoreError> {
    let hex = commit
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex && (commit.len() == 40 || commit.len() == 64) {
        Ok(())
    } else {
        Err(StoreError::InvalidComponent {
            what: "commit",
            value: commit.to_string(),
            reason: "expected a full commit hash of 40 or 64 lowercase hex characters".to_string(),
        })
    }
}

/// Checks a repository path: 1 to 8 `/`-separated safe segments.
pub fn validate_repo_path(repo_path: &str) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidComponent {
        what: "repository path",
        value: repo_path.to_string(),
        reason,
    };
    if repo_path.is_empty() {
        return Err(invalid("the path is empty".to_string()));
    }
    let segments: Vec<&str> = repo_path.split('/').collect();
    if segments.len() > MAX_REPO_SEGMENTS {
        return Err(invalid(format!("more than {MAX_REPO_SEGMENTS} segments")));
    }
    for segment in segments {
        check_segment(segment).map_err(&invalid)?;
        if is_commit_like(segment) {
            // A segment that looks like a commit hash would mix with the
            // commit folders of the parent repository.
            return Err(invalid(format!(
                "segment {segment:?} looks like a commit hash"
            )));
        }
    }
    Ok(())
}

/// Checks a job key, the folder name of one job below `jobs/` and `logs/`.
pub fn validate_job_key(key: &str) -> Result<(), StoreError> {
    check_segment(key).map_err(|reason| StoreError::InvalidComponent {
        what: "job key",
        value: key.to_string(),
        reason,
    })
}

/// Checks a log path relative to the commit folder: `logs/` followed by
/// one or more safe segments.
pub fn validate_log_path(path: &str) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidComponent {
        what: "log path",
        value: path.to_string(),
        reason,
    };
    let Some(rest) = path.strip_prefix("logs/") else {
        return Err(invalid(
            "expected a path relative to the commit folder starting with logs/".to_string(),
        ));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.len() > MAX_REPO_SEGMENTS {
        return Err(invalid(format!("more than {MAX_REPO_SEGMENTS} segments")));
    }
    segments
        .into_iter()
        .try_for_each(check_segment)
        .map_err(invalid)
}

/// Checks one path segment and returns the reason when it is unsafe.
fn check_segment(segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err("empty segment (a leading, trailing or doubled /)".to_string());
    }
    if segment == "." || segment == ".." {
        return Err(format!("segment {segment:?} is not allowed"));
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err(format!("segment longer than {MAX_SEGMENT_LEN} bytes"));
    }
    if segment.starts_with('.') {
        return Err(format!(
            "segment {segment:?} starts with a dot, which the store reserves"
        ));
    }
    match segment.chars().find(|c| !is_safe_char(*c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "character {c:?} is not allowed; use only A-Z, a-z, 0-9, '.', '_' and '-'"
        )),
    }
}

fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn is_commit_like(segment: &str) -> bool {
    (segment.len() == 40 || segment.len() == 64)
        && segment
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Replaces every unsafe character with `_` and trims the result to a
/// valid segment; returns `fallback` when nothing usable is left.
pub fn sanitize_segment(text: &str, fallback: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if is_safe_char(c) { c } else { '_' })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    out.truncate(MAX_SEGMENT_LEN);
    if out.is_empty() || out == "." || out == ".." || is_commit_like(&out) {
        fallback.to_string()
    } else {
        out
    }
}

/// Builds the key of a job or matrix leg: `<workflow file stem>.<job id>`,
/// plus `.<leg>` (1-based) for a leg of a matrix job. Unsafe characters
/// become `_`.
///
/// For example, job `test` of `.github/workflows/ci.yml`, second matrix
/// leg, has the key `ci.test.2`.
pub fn job_key(workflow_file: &str, job_id: &str, matrix_leg: Option<usize>) -> String {
    let file_name = workflow_file.rsplit('/').next().unwrap_or(workflow_file);
    let stem = file_name
        .strip_suffix(".yml")
        .or_else(|| file_name.strip_suffix(".yaml"))
        .unwrap_or(file_name);
    let mut key = format!(
        "{}.{}",
        sanitize_segment(stem, "workflow"),
        sanitize_segment(job_id, "job")
    );
    if let Some(leg) = matrix_leg {
        key.push_str(&format!(".{leg}"));
    }
    if key.len() > MAX_SEGMENT_LEN {
        // Keep the end, which contains the job id and leg.
        key = key.split_off(key.len() - MAX_SEGMENT_LEN);
        key = sanitize_segment(&key, "job");
    }
    key
}

/// Returns the path of a job's whole log, relative to the commit folder:
/// `logs/<job-key>/job.log`.
pub fn job_log_path(job_key: &str) -> String {
    format!("{LOGS_DIR}/{job_key}/job.log")
}

/// Returns the path of a step's log, relative to the commit folder:
/// `logs/<job-key>/<NN>-<step-slug>.log` with `index` counting from 1.
pub fn step_log_path(job_key: &str, index: usize, step_name: &str) -> String {
    format!(
        "{LOGS_DIR}/{job_key}/{index:02}-{}.log",
        step_slug(step_name)
    )
}

/// Lower-case slug of a step name: runs of other characters become one
/// `-`, at most 60 characters, `step` when nothing is left.
fn step_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let trimmed: String = slug.trim_matches('-').chars().take(60).collect();
    let trimmed = trimmed.trim_end_matches('-');
    if trimmed.is_empty() {
        "step".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPUB: &str = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";
    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn commit_path_layout() {
        let path = CommitPath::new(NPUB, NPUB, "tools/htci", COMMIT).unwrap();
        assert_eq!(
            path.relative_dir(),
            PathBuf::from(format!("{NPUB}/ci/{NPUB}/tools/htci/{COMMIT}"))
        );
        assert_eq!(
            path.to_string(),
            format!("{NPUB}/ci/{NPUB}/tools/htci/{COMMIT}")
        );
        assert_eq!(
            path.repo_hash(),
            ci_core::hash::repo_hash(NPUB, "tools/htci")
        );
    }

    #[test]
    fn repo_path_attacks_are_rejected() {
        for bad in [
            "",
            "..",
            "a/../b",
            "/etc",
            "a//b",
            "a/",
            "a/./b",
            "a\0b",
            ".hidden",
            "a b",
            "a\\b",
            "a/b/c/d/e/f/g/h/i",
            "ünïcode",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert!(validate_repo_path(bad).is_err(), "accepted {bad:?}");
        }
        let long = "a".repeat(MAX_SEGMENT_LEN + 1);
        assert!(validate_repo_path(&long).is_err());
    }

    #[test]
    fn repo_path_accepts_safe_segments() {
        for good in ["htci", "tools/htci", "My_Repo-2.0", "a/b/c/d/e/f/g/h"] {
            validate_repo_path(good).unwrap();
        }
    }

    #[test]
    fn commit_must_be_full_lowercase_hex() {
        validate_commit(COMMIT).unwrap();
        validate_commit(&"a".repeat(64)).unwrap();
        for bad in ["abc123", &COMMIT.to_uppercase(), "../x", &"g".repeat(40)] {
            assert!(validate_commit(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn npub_components_must_parse() {
        validate_npub("runner npub", NPUB).unwrap();
        assert!(validate_npub("runner npub", "npub1x/../..").is_err());
        assert!(validate_npub("runner npub", "..").is_err());
    }

    #[test]
    fn error_names_value_and_reason() {
        let error = validate_repo_path("a/../b").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid repository path \"a/../b\": segment \"..\" is not allowed"
        );
    }

    #[test]
    fn log_paths_stay_under_logs() {
        validate_log_path("logs/ci.build/01-test.log").unwrap();
        for bad in [
            "logs/../result.json",
            "result.json",
            "/logs/x",
            "logs/",
            "logs/a/../../x",
            "jobs/x/result.json",
        ] {
            assert!(validate_log_path(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn job_keys() {
        assert_eq!(
            job_key(".github/workflows/ci.yml", "build", None),
            "ci.build"
        );
        assert_eq!(
            job_key(".github/workflows/ci.yaml", "test", Some(2)),
            "ci.test.2"
        );
        assert_eq!(job_key("w/my flow.yml", "a/b", None), "my_flow.a_b");
        assert_eq!(job_key("..yml", "..", None), "workflow.job");
        let long = job_key("ci.yml", &"x".repeat(300), Some(3));
        validate_job_key(&long).unwrap();
        assert!(long.ends_with(".3"));
    }

    #[test]
    fn log_path_helpers() {
        assert_eq!(job_log_path("ci.build"), "logs/ci.build/job.log");
        assert_eq!(
            step_log_path("ci.build", 3, "Run cargo test --all"),
            "logs/ci.build/03-run-cargo-test-all.log"
        );
        assert_eq!(step_log_path("k", 12, "???"), "logs/k/12-step.log");
        validate_log_path(&step_log_path("k", 1, &"é".repeat(99))).unwrap();
    }

    #[test]
    fn sanitize_replaces_unsafe_characters() {
        assert_eq!(sanitize_segment("a b/c", "x"), "a_b_c");
        assert_eq!(sanitize_segment("...", "x"), "x");
        assert_eq!(sanitize_segment(".github", "x"), "github");
    }
}
