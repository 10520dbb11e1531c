//! Signed results: one [`JobResult`] per job or matrix leg, and one
//! [`CommitResult`] that summarizes every job of a commit.
//!
//! These are the documents other software reads (status badges, web UIs),
//! so the field names are fixed: `job_id, runner_npub, repo_hash, commit,
//! workflow, job_name, status, started_at, finished_at, logs_hash,
//! steps[{name, status, exit_code, duration_secs, logs_hash}]`. Times are
//! RFC 3339 in UTC; `logs_hash` is the bare lowercase hex SHA-256 of the
//! log bytes. New fields may be added; readers ignore fields they do not
//! know, and fields added later carry `#[serde(default)]` so older
//! documents still parse.
//!
//! Both documents carry a `signature` made by [`crate::signing`] over every
//! other field. `docs/RESULT_FORMAT.md` describes the format for readers
//! outside Rust.

use std::collections::BTreeMap;

use nostr::key::Keys;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::signing::{self, SignError, VerifyError};
use crate::status::Status;

/// The result of one step of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// Display name: the step's `name:`, or GitHub's default such as
    /// `Run cargo test` for a `run:` step without one.
    pub name: String,
    /// Conclusion of the step, after `continue-on-error` is applied.
    pub status: Status,
    /// Exit code of the step's process; `null` when no process ran (skipped
    /// step) or it was killed by a signal.
    pub exit_code: Option<i32>,
    /// Wall-clock duration in seconds.
    pub duration_secs: f64,
    /// Lowercase hex SHA-256 of the step's log bytes.
    pub logs_hash: String,
    /// Status before `continue-on-error` is applied (GitHub's `outcome`);
    /// absent when it equals `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Status>,
    /// The step's `id:`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Path of the step's log file, relative to the commit folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_path: Option<String>,
}

/// The signed result of one job, or of one leg of a matrix job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// The job's key in the workflow's `jobs:` map, such as `build`.
    pub job_id: String,
    /// NIP-19 `npub` of the runner that ran the job and signed this result.
    pub runner_npub: String,
    /// See [`crate::hash::repo_hash`].
    pub repo_hash: String,
    /// Full commit hash (lowercase hex).
    pub commit: String,
    /// The workflow's `name:`, or its file path when it has none.
    pub workflow: String,
    /// Display name of the job; for a matrix leg, GitHub's form with the
    /// matrix values, such as `test (ubuntu, 18)`.
    pub job_name: String,
    /// Conclusion of the job.
    pub status: Status,
    /// True when the job has `continue-on-error: true`, so a `failure`
    /// here does not fail the commit: see [`JobResult::counted_status`].
    #[serde(default)]
    pub continue_on_error: bool,
    /// Time the job started, RFC 3339 in UTC.
    #[serde(with = "crate::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Time the job finished, RFC 3339 in UTC.
    #[serde(with = "crate::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// Lowercase hex SHA-256 of the whole job log.
    pub logs_hash: String,
    /// Every step in order, skipped steps included.
    pub steps: Vec<StepResult>,
    /// Path of the workflow file relative to the repository root, such as
    /// `.github/workflows/ci.yml`.
    #[serde(default)]
    pub workflow_file: String,
    /// Name of the event that triggered the run, such as `push`.
    #[serde(default)]
    pub event: String,
    /// Git ref that was run, such as `refs/heads/main`; `null` for a
    /// detached commit.
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    /// True when the run used uncommitted changes of the working tree, so
    /// the result does not describe `commit` exactly.
    #[serde(default)]
    pub dirty: bool,
    /// Matrix values of this leg as a JSON object; `null` for a job without
    /// a matrix.
    #[serde(default)]
    pub matrix: Option<Value>,
    /// The job's `outputs:` after evaluation.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// Tags (labels) of the runner, such as `["linux", "x64"]`.
    #[serde(default)]
    pub runner_tags: Vec<String>,
    /// Isolation of the job, such as `{"kind":"host"}` or
    /// `{"kind":"sandbox","network":"none",...}`; see [`host_isolation`].
    #[serde(default)]
    pub isolation: Value,
    /// NIP-19 `npub` of the repository owner, first component of the
    /// result path.
    #[serde(default)]
    pub owner_npub: String,
    /// Repository path below the owner, such as `tools/htci`.
    #[serde(default)]
    pub repo_path: String,
    /// BIP-340 signature, 128 hex characters; absent before signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Returns the `isolation` value of a job that ran directly on the host.
pub fn host_isolation() -> Value {
    serde_json::json!({ "kind": "host" })
}

/// The repository, commit and run that a [`CommitResult`] describes.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitInfo {
    /// NIP-19 `npub` of the runner.
    pub runner_npub: String,
    /// NIP-19 `npub` of the repository owner.
    pub owner_npub: String,
    /// Repository path below the owner.
    pub repo_path: String,
    /// Full commit hash (lowercase hex).
    pub commit: String,
    /// Name of the triggering event.
    pub event: String,
    /// Git ref that was run, if any.
    pub git_ref: Option<String>,
    /// True when uncommitted changes were part of the run.
    pub dirty: bool,
    /// Tags (labels) of the runner.
    pub runner_tags: Vec<String>,
    /// Start of the whole run.
    pub started_at: OffsetDateTime,
    /// End of the whole run.
    pub finished_at: OffsetDateTime,
}

/// One line of [`CommitResult::jobs`]: where a job's own result is and how
/// it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// Folder name of the job below `jobs/`, unique within the commit.
    pub key: String,
    /// The job's key in the workflow.
    pub job_id: String,
    /// Display name of the job.
    pub job_name: String,
    /// The workflow the job belongs to.
    pub workflow: String,
    /// Conclusion of the job.
    pub status: Status,
    /// Time the job started.
    #[serde(with = "crate::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Time the job finished.
    #[serde(with = "crate::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// SHA-256 of the job log.
    pub logs_hash: String,
    /// Matrix values of the leg, or `null`.
    #[serde(default)]
    pub matrix: Option<Value>,
    /// Path of the job's signed result, relative to the commit folder, such
    /// as `jobs/ci.build/result.json`.
    pub path: String,
}

/// The signed summary of every job run for one commit, stored as the
/// commit folder's `result.json`.
///
/// The top level repeats the fields of the worst job (`job_id`,
/// `job_name`, `workflow`, `steps`, `logs_hash`) so that a reader that
/// only reads the [`JobResult`] fields shows the job that decided the
/// overall `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitResult {
    /// NIP-19 `npub` of the runner that signed this summary.
    pub runner_npub: String,
    /// See [`crate::hash::repo_hash`].
    pub repo_hash: String,
    /// Full commit hash (lowercase hex).
    pub commit: String,
    /// Worst status of all jobs (see [`Status::severity`]); `skipped`
    /// when no job ran.
    pub status: Status,
    /// Start of the run.
    #[serde(with = "crate::rfc3339")]
    pub started_at: OffsetDateTime,
    /// End of the run.
    #[serde(with = "crate::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// Workflow of the worst job; empty when no job ran.
    pub workflow: String,
    /// Every workflow that had a job in this run, sorted, without repeats.
    pub workflows: Vec<String>,
    /// `job_id` of the worst job; empty when no job ran.
    pub job_id: String,
    /// `job_name` of the worst job; empty when no job ran.
    pub job_name: String,
    /// `logs_hash` of the worst job; SHA-256 of no bytes when no job ran.
    pub logs_hash: String,
    /// `steps` of the worst job.
    pub steps: Vec<StepResult>,
    /// Every job and matrix leg, worst first; jobs of equal status keep
    /// the order in which they were given.
    pub jobs: Vec<JobSummary>,
    /// Name of the triggering event.
    #[serde(default)]
    pub event: String,
    /// Git ref that was run, if any.
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    /// True when uncommitted changes were part of the run.
    #[serde(default)]
    pub dirty: bool,
    /// Tags (labels) of the runner.
    #[serde(default)]
    pub runner_tags: Vec<String>,
    /// NIP-19 `npub` of the repository owner.
    #[serde(default)]
    pub owner_npub: String,
    /// Repository path below the owner.
    #[serde(default)]
    pub repo_path: String,
    /// BIP-340 signature, 128 hex characters; absent before signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Returns the path of a job's result file relative to the commit folder:
/// `jobs/<key>/result.json`.
pub fn job_result_path(key: &str) -> String {
    format!("jobs/{key}/result.json")
}

impl CommitResult {
    /// Builds the unsigned summary of `jobs`, given as `(key, result)` pairs
    /// where `key` names the job's folder below `jobs/`.
    pub fn summarize(info: CommitInfo, jobs: &[(String, JobResult)]) -> CommitResult {
        let mut summaries: Vec<(JobSummary, &JobResult)> = jobs
            .iter()
            .map(|(key, job)| (summarize_job(key, job), job))
            .collect();
        // A stable sort, so jobs of equal status keep the caller's order. A
        // failed job with continue-on-error sorts as a success.
        summaries
            .sort_by(|a, b| Status::cmp_worst_first(&a.1.counted_status(), &b.1.counted_status()));

        let mut workflows: Vec<String> = jobs.iter().map(|(_, job)| job.workflow.clone()).collect();
        workflows.sort();
        workflows.dedup();

        let worst = summaries.first().map(|(_, job)| *job);
        CommitResult {
            repo_hash: crate::hash::repo_hash(&info.owner_npub, &info.repo_path),
            runner_npub: info.runner_npub,
            commit: info.commit,
            status: worst.map_or(Status::Skipped, JobResult::counted_status),
            started_at: info.started_at,
            finished_at: info.finished_at,
            workflow: worst.map(|job| job.workflow.clone()).unwrap_or_default(),
            workflows,
            job_id: worst.map(|job| job.job_id.clone()).unwrap_or_default(),
            job_name: worst.map(|job| job.job_name.clone()).unwrap_or_default(),
            logs_hash: worst
                .map_or_else(|| crate::hash::sha256_hex(b""), |job| job.logs_hash.clone()),
            steps: worst.map(|job| job.steps.clone()).unwrap_or_default(),
            jobs: summaries.into_iter().map(|(summary, _)| summary).collect(),
            event: info.event,
            git_ref: info.git_ref,
            dirty: info.dirty,
            runner_tags: info.runner_tags,
            owner_npub: info.owner_npub,
            repo_path: info.repo_path,
            signature: None,
        }
    }

    /// Signs the summary with the runner key; see [`signing::sign_value`].
    pub fn sign(&mut self, keys: &Keys) -> Result<(), SignError> {
        self.signature = Some(signing::signature_of(&*self, keys)?);
        Ok(())
    }

    /// Verifies the signature against `runner_npub`.
    ///
    /// This re-serializes the struct, so fields this version does not know
    /// are lost; verify a stored file with [`signing::verify_value`] on the
    /// JSON as read.
    pub fn verify(&self) -> Result<(), VerifyError> {
        signing::verify_serializable(self)
    }
}

impl JobResult {
    /// Returns the status the job contributes to its commit's summary: a
    /// failed job with `continue-on-error` counts as `success`, because
    /// GitHub lets the workflow run pass when such a job fails.
    pub fn counted_status(&self) -> Status {
        if self.continue_on_error && self.status == Status::Failure {
            Status::Success
        } else {
            self.status
        }
    }

    /// Signs the result with the runner key; see [`signing::sign_value`].
    pub fn sign(&mut self, keys: &Keys) -> Result<(), SignError> {
        self.signature = Some(signing::signature_of(&*self, keys)?);
        Ok(())
    }

    /// Verifies the signature against `runner_npub`, with the same caveat
    /// as [`CommitResult::verify`].
    pub fn verify(&self) -> Result<(), VerifyError> {
        signing::verify_serializable(self)
    }
}

fn summarize_job(key: &str, job: &JobResult) -> JobSummary {
    JobSummary {
        key: key.to_string(),
        job_id: job.job_id.clone(),
        job_name: job.job_name.clone(),
        workflow: job.workflow.clone(),
        status: job.status,
        started_at: job.started_at,
        finished_at: job.finished_at,
        logs_hash: job.logs_hash.clone(),
        matrix: job.matrix.clone(),
        path: job_result_path(key),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::hash::sha256_hex;

    const RUNNER: &str = "npub1runner";
    const OWNER: &str = "npub1owner";

    fn step(name: &str, status: Status, exit_code: Option<i32>) -> StepResult {
        StepResult {
            name: name.to_string(),
            status,
            exit_code,
            duration_secs: 1.5,
            logs_hash: sha256_hex(name.as_bytes()),
            outcome: None,
            id: None,
            log_path: None,
        }
    }

    fn job(job_id: &str, workflow: &str, status: Status) -> JobResult {
        JobResult {
            job_id: job_id.to_string(),
            runner_npub: RUNNER.to_string(),
            repo_hash: crate::hash::repo_hash(OWNER, "tools/htci"),
            commit: "a".repeat(40),
            workflow: workflow.to_string(),
            job_name: job_id.to_string(),
            status,
            continue_on_error: false,
            started_at: datetime!(2026-12-04 16:00:00 UTC),
            finished_at: datetime!(2026-12-04 16:01:30 UTC),
            logs_hash: sha256_hex(job_id.as_bytes()),
            steps: vec![step(&format!("Run {job_id}"), status, Some(0))],
            workflow_file: ".github/workflows/ci.yml".to_string(),
            event: "push".to_string(),
            git_ref: Some("refs/heads/main".to_string()),
            dirty: false,
            matrix: None,
            outputs: BTreeMap::new(),
            runner_tags: vec!["linux".to_string(), "x64".to_string()],
            isolation: host_isolation(),
            owner_npub: OWNER.to_string(),
            repo_path: "tools/htci".to_string(),
            signature: None,
        }
    }

    fn info() -> CommitInfo {
        CommitInfo {
            runner_npub: RUNNER.to_string(),
            owner_npub: OWNER.to_string(),
            repo_path: "tools/htci".to_string(),
            commit: "a".repeat(40),
            event: "push".to_string(),
            git_ref: Some("refs/heads/main".to_string()),
            dirty: true,
            runner_tags: vec!["linux".to_string()],
            started_at: datetime!(2026-12-04 16:00:00 UTC),
            finished_at: datetime!(2026-12-04 16:02:00 UTC),
        }
    }

    #[test]
    fn job_result_field_names() {
        let value = serde_json::to_value(job("build", "CI", Status::Success)).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for required in [
            "job_id",
            "runner_npub",
            "repo_hash",
            "commit",
            "workflow",
            "job_name",
            "status",
            "started_at",
            "finished_at",
            "logs_hash",
            "steps",
            "event",
            "ref",
            "dirty",
            "matrix",
            "outputs",
            "runner_tags",
            "isolation",
            "owner_npub",
            "repo_path",
        ] {
            assert!(keys.contains(&required), "missing field {required}");
        }
        assert!(!keys.contains(&"git_ref"));
        assert!(!keys.contains(&"signature"));
        assert_eq!(value["started_at"], "2026-12-04T16:00:00Z");
        assert_eq!(value["status"], "success");
        assert_eq!(value["matrix"], Value::Null);
        assert_eq!(value["isolation"], serde_json::json!({"kind": "host"}));
        let step_keys: Vec<&str> = value["steps"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            step_keys,
            ["name", "status", "exit_code", "duration_secs", "logs_hash"]
        );
    }

    #[test]
    fn job_result_round_trips() {
        let mut original = job("build", "CI", Status::Failure);
        original.matrix = Some(serde_json::json!({"os": "ubuntu", "node": 18}));
        original.steps[0].outcome = Some(Status::Failure);
        original.steps[0].exit_code = None;
        let text = serde_json::to_string(&original).unwrap();
        let back: JobResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn job_result_parses_minimal_document() {
        let text = r#"{"job_id":"b","runner_npub":"npub1x","repo_hash":"00","commit":"c",
            "workflow":"CI","job_name":"b","status":"skipped",
            "started_at":"2026-12-04T16:00:00Z","finished_at":"2026-12-04T16:00:00Z",
            "logs_hash":"00","steps":[],"unknown_field":1}"#;
        let parsed: JobResult = serde_json::from_str(text).unwrap();
        assert_eq!(parsed.status, Status::Skipped);
        assert_eq!(parsed.git_ref, None);
        assert!(!parsed.dirty);
        assert_eq!(parsed.isolation, Value::Null);
    }

    #[test]
    fn summarize_puts_worst_first() {
        let jobs = vec![
            ("ci.lint".to_string(), job("lint", "CI", Status::Success)),
            ("ci.test".to_string(), job("test", "CI", Status::Failure)),
            (
                "docs.build".to_string(),
                job("build", "Docs", Status::Skipped),
            ),
            ("ci.fmt".to_string(), job("fmt", "CI", Status::Success)),
        ];
        let summary = CommitResult::summarize(info(), &jobs);
        assert_eq!(summary.status, Status::Failure);
        assert_eq!(summary.job_id, "test");
        assert_eq!(summary.workflow, "CI");
        assert_eq!(summary.steps, jobs[1].1.steps);
        assert_eq!(summary.logs_hash, jobs[1].1.logs_hash);
        let keys: Vec<&str> = summary.jobs.iter().map(|j| j.key.as_str()).collect();
        assert_eq!(keys, ["ci.test", "ci.lint", "ci.fmt", "docs.build"]);
        assert_eq!(summary.jobs[0].path, "jobs/ci.test/result.json");
        assert_eq!(summary.workflows, ["CI", "Docs"]);
        assert_eq!(
            summary.repo_hash,
            crate::hash::repo_hash(OWNER, "tools/htci")
        );
        assert!(summary.dirty);
    }

    #[test]
    fn summarize_counts_allowed_failure_as_success() {
        let mut allowed = job("allowed", "CI", Status::Failure);
        allowed.continue_on_error = true;
        let jobs = vec![
            ("ci.allowed".to_string(), allowed),
            ("ci.lint".to_string(), job("lint", "CI", Status::Success)),
            ("ci.docs".to_string(), job("docs", "CI", Status::Skipped)),
        ];
        let summary = CommitResult::summarize(info(), &jobs);
        assert_eq!(summary.status, Status::Success);
        assert_eq!(summary.job_id, "allowed");
        assert_eq!(summary.jobs[0].status, Status::Failure);
        let keys: Vec<&str> = summary.jobs.iter().map(|j| j.key.as_str()).collect();
        assert_eq!(keys, ["ci.allowed", "ci.lint", "ci.docs"]);
    }

    #[test]
    fn summarize_without_jobs_is_skipped() {
        let summary = CommitResult::summarize(info(), &[]);
        assert_eq!(summary.status, Status::Skipped);
        assert_eq!(summary.job_id, "");
        assert!(summary.jobs.is_empty());
        assert_eq!(summary.logs_hash, sha256_hex(b""));
    }

    #[test]
    fn commit_result_top_level_fields() {
        let jobs = vec![("ci.build".to_string(), job("build", "CI", Status::Success))];
        let value = serde_json::to_value(CommitResult::summarize(info(), &jobs)).unwrap();
        for field in [
            "runner_npub",
            "repo_hash",
            "commit",
            "status",
            "started_at",
            "finished_at",
            "workflow",
            "workflows",
            "job_id",
            "job_name",
            "logs_hash",
            "steps",
            "jobs",
            "ref",
        ] {
            assert!(value.get(field).is_some(), "missing field {field}");
        }
        assert_eq!(value["jobs"][0]["path"], "jobs/ci.build/result.json");
        assert_eq!(value["jobs"][0]["status"], "success");
        assert_eq!(value["finished_at"], "2026-12-04T16:02:00Z");
    }
}
