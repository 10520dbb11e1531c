use std::collections::BTreeMap;

use ci_core::result::host_isolation;
use ci_core::signing::npub_of;
use ci_core::{CommitInfo, StepResult};
use ci_core::{Status, hash::sha256_hex};
use nostr::key::Keys;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::path::{job_log_path, step_log_path};

pub(crate) const REPO: &str = "tools/htci";

pub(crate) fn keys() -> Keys {
    Keys::parse("0000000000000000000000000000000000000000000000000000000000000003").unwrap()
}

pub(crate) fn other_keys() -> Keys {
    Keys::parse("0000000000000000000000000000000000000000000000000000000000000007").unwrap()
}

pub(crate) fn commit_hash(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

pub(crate) fn job(keys: &Keys, commit: &str, job_id: &str, status: Status) -> JobResult {
    let npub = npub_of(keys);
    let log = format!("log of {job_id}");
    let mut job = JobResult {
        job_id: job_id.to_string(),
        runner_npub: npub.clone(),
        repo_hash: ci_core::hash::repo_hash(&npub, REPO),
        commit: commit.to_string(),
        workflow: "CI".to_string(),
        job_name: job_id.to_string(),
        status,
        continue_on_error: false,
        started_at: datetime!(2026-12-04 16:00:00 UTC),
        finished_at: datetime!(2026-12-04 16:01:00 UTC),
        logs_hash: sha256_hex(log.as_bytes()),
        steps: vec![StepResult {
            name: "Run tests".to_string(),
            status,
            exit_code: Some(if status == Status::Success { 0 } else { 1 }),
            duration_secs: 0.25,
            logs_hash: sha256_hex(log.as_bytes()),
            outcome: None,
            id: None,
            log_path: Some(step_log_path(&format!("ci.{job_id}"), 1, "Run tests")),
        }],
        workflow_file: ".github/workflows/ci.yml".to_string(),
        event: "push".to_string(),
        git_ref: Some("refs/heads/main".to_string()),
        dirty: false,
        matrix: None,
        outputs: BTreeMap::new(),
        runner_tags: vec!["linux".to_string()],
        isolation: host_isolation(),
        owner_npub: npub,
        repo_path: REPO.to_string(),
        signature: None,
    };
    job.sign(keys).unwrap();
    job
}

pub(crate) struct Run {
    pub(crate) path: CommitPath,
    pub(crate) summary: CommitResult,
    pub(crate) jobs: Vec<(String, JobResult)>,
    pub(crate) logs: Vec<(String, Vec<u8>)>,
}

pub(crate) fn run(
    keys: &Keys,
    commit: &str,
    finished_at: OffsetDateTime,
    statuses: &[Status],
) -> Run {
    let npub = npub_of(keys);
    let jobs: Vec<(String, JobResult)> = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| {
            let id = format!("job{i}");
            (format!("ci.{id}"), job(keys, commit, &id, *status))
        })
        .collect();
    let info = CommitInfo {
        runner_npub: npub.clone(),
        owner_npub: npub.clone(),
        repo_path: REPO.to_string(),
        commit: commit.to_string(),
        event: "push".to_string(),
        git_ref: Some("refs/heads/main".to_string()),
        dirty: false,
        runner_tags: vec!["linux".to_string()],
        started_at: datetime!(2026-12-04 16:00:00 UTC),
        finished_at,
    };
    let mut summary = CommitResult::summarize(info, &jobs);
    summary.sign(keys).unwrap();
    let logs = jobs
        .iter()
        .flat_map(|(key, job)| {
            let log = format!("log of {}", job.job_id).into_bytes();
            [
                (job_log_path(key), log.clone()),
                (step_log_path(key, 1, "Run tests"), log),
            ]
        })
        .collect();
    Run {
        path: CommitPath::new(&npub, &npub, REPO, commit).unwrap(),
        summary,
        jobs,
        logs,
    }
}

pub(crate) fn write(store: &FsStore, run: &Run) -> Result<PathBuf, StoreError> {
    store.write_commit(&run.path, &run.summary, &run.jobs, &run.logs)
}

#[test]
fn write_then_read_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Success, Status::Failure],
    );
    let commit_dir = write(&store, &run).unwrap();
    assert_eq!(commit_dir, store.commit_dir(&run.path));
    assert!(commit_dir.join("result.json").is_file());
    assert!(commit_dir.join("jobs/ci.job0/result.json").is_file());
    assert_eq!(
        std::fs::read(commit_dir.join("logs/ci.job1/job.log")).unwrap(),
        b"log of job1"
    );
    assert_eq!(
        std::fs::read(commit_dir.join("logs/ci.job1/01-run-tests.log")).unwrap(),
        b"log of job1"
    );

    let stored = store.read_commit(&run.path).unwrap();
    assert!(stored.is_verified());
    assert_eq!(stored.summary.result, run.summary);
    assert_eq!(stored.summary.result.status, Status::Failure);
    assert_eq!(stored.jobs.len(), 2);
    assert_eq!(stored.jobs[0].summary.key, "ci.job1");
    let first = stored.jobs[0].document.as_ref().unwrap();
    assert_eq!(first.result, run.jobs[1].1);
    assert_eq!(first.signature, Ok(()));
}

#[test]
fn stored_files_are_the_only_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &run).unwrap();
    let mut files: Vec<String> = walk(&commit_dir);
    files.sort();
    assert_eq!(
        files,
        [
            "jobs/ci.job0/result.json",
            "logs/ci.job0/01-run-tests.log",
            "logs/ci.job0/job.log",
            "result.json"
        ]
    );
    let repo_dir = commit_dir.parent().unwrap();
    assert_eq!(
        entry_names(repo_dir),
        [format!(".{}.lock", commit_hash(1)), commit_hash(1)],
        "staging folder left behind"
    );
}

/// Returns the sorted entry names of a folder.
pub(crate) fn entry_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

#[test]
fn rewrite_replaces_the_whole_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let commit = commit_hash(1);
    let first = run(
        &keys(),
        &commit,
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Failure, Status::Success],
    );
    write(&store, &first).unwrap();
    let second = run(
        &keys(),
        &commit,
        datetime!(2026-12-04 17:00:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &second).unwrap();

    assert!(!commit_dir.join("jobs/ci.job1").exists(), "stale job kept");
    let stored = store.read_commit(&second.path).unwrap();
    assert_eq!(stored.summary.result.status, Status::Success);
    assert_eq!(stored.jobs.len(), 1);
    assert!(stored.is_verified());
    assert_eq!(
        entry_names(commit_dir.parent().unwrap()),
        [format!(".{commit}.lock"), commit.clone()],
        "old run left behind"
    );
}

#[test]
fn list_is_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let older = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let newer = run(
        &keys(),
        &commit_hash(2),
        datetime!(2026-12-04 12:00:00 UTC),
        &[Status::Failure],
    );
    let middle = run(
        &keys(),
        &commit_hash(3),
        datetime!(2026-12-04 11:00:00 UTC),
        &[Status::Success],
    );
    for r in [&older, &newer, &middle] {
        write(&store, r).unwrap();
    }
    let npub = npub_of(&keys());
    let listing = store.list_results(Some(&npub), &npub, REPO).unwrap();
    let commits: Vec<&str> = listing.commits.iter().map(|c| c.path.commit()).collect();
    assert_eq!(commits, [commit_hash(2), commit_hash(3), commit_hash(1)]);
    assert!(listing.unreadable.is_empty());

    let all_runners = store.list_results(None, &npub, REPO).unwrap();
    assert_eq!(all_runners.commits.len(), 3);
}

#[test]
fn list_of_unknown_repo_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path().join("missing"));
    let npub = npub_of(&keys());
    let listing = store.list_results(None, &npub, "nothing/here").unwrap();
    assert!(listing.commits.is_empty());
    assert!(listing.unreadable.is_empty());
}

#[test]
fn list_rejects_traversal_in_repo_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let npub = npub_of(&keys());
    let error = store
        .list_results(Some(&npub), &npub, "../../etc")
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidComponent { .. }));
}

#[test]
fn list_reports_corrupt_summary() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let good = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let bad = run(
        &keys(),
        &commit_hash(2),
        datetime!(2026-12-04 11:00:00 UTC),
        &[Status::Success],
    );
    write(&store, &good).unwrap();
    let bad_dir = write(&store, &bad).unwrap();
    std::fs::write(bad_dir.join("result.json"), "{not json").unwrap();

    let npub = npub_of(&keys());
    let listing = store.list_results(Some(&npub), &npub, REPO).unwrap();
    assert_eq!(listing.commits.len(), 1);
    assert_eq!(listing.unreadable.len(), 1);
    let message = listing.unreadable[0].to_string();
    assert!(message.contains(&commit_hash(2)), "{message}");
    assert!(message.contains("invalid JSON"), "{message}");
}

#[test]
fn tampered_job_file_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Failure],
    );
    let commit_dir = write(&store, &run).unwrap();
    let job_file = commit_dir.join("jobs/ci.job0/result.json");
    let text = std::fs::read_to_string(&job_file).unwrap();
    std::fs::write(&job_file, text.replacen("\"failure\"", "\"success\"", 1)).unwrap();

    let stored = store.read_commit(&run.path).unwrap();
    assert!(!stored.is_verified());
    assert_eq!(stored.summary.signature, Ok(()));
    let job = stored.jobs[0].document.as_ref().unwrap();
    assert!(matches!(job.signature, Err(VerifyError::Mismatch { .. })));
    assert_eq!(
        stored.jobs[0].problems,
        ["status is success but the commit summary lists failure"]
    );
}

#[test]
fn result_copied_to_other_repo_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &run).unwrap();

    let npub = npub_of(&keys());
    let other_path = CommitPath::new(&npub, &npub, "other/repo", &commit_hash(1)).unwrap();
    let other_dir = store.commit_dir(&other_path);
    std::fs::create_dir_all(other_dir.join("jobs/ci.job0")).unwrap();
    for file in ["result.json", "jobs/ci.job0/result.json"] {
        std::fs::copy(commit_dir.join(file), other_dir.join(file)).unwrap();
    }

    let stored = store.read_commit(&other_path).unwrap();
    assert_eq!(stored.summary.signature, Ok(()));
    assert!(!stored.is_verified());
    assert_eq!(stored.problems.len(), 1);
    assert_eq!(
        stored.problems[0],
        format!(
            "stored under repository {npub}/other/repo (repo_hash {}) but signed for repo_hash {}",
            other_path.repo_hash(),
            run.path.repo_hash()
        )
    );
}

#[test]
fn summary_with_traversal_job_path_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let mut run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &run).unwrap();

    // A summary signed by the runner itself but naming a hostile key.
    run.summary.jobs[0].key = "../../../../secret".to_string();
    run.summary.sign(&keys()).unwrap();
    let text = serde_json::to_string(&run.summary).unwrap();
    std::fs::write(commit_dir.join("result.json"), text).unwrap();

    let stored = store.read_commit(&run.path).unwrap();
    assert!(!stored.is_verified());
    let error = stored.jobs[0].document.as_ref().unwrap_err();
    assert!(matches!(
        error,
        StoreError::InvalidComponent {
            what: "job key",
            ..
        }
    ));
}

#[test]
fn write_rejects_unsigned_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let mut run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    run.jobs[0].1.signature = None;
    let error = write(&store, &run).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot store the result of job ci.job0: missing signature: the result has no \"signature\" field"
    );
    assert!(!store.commit_dir(&run.path).exists());
}

#[test]
fn write_rejects_result_of_other_runner() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let theirs = run(
        &other_keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let ours = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let error = store
        .write_commit(&ours.path, &theirs.summary, &ours.jobs, &ours.logs)
        .unwrap_err();
    assert!(matches!(error, StoreError::Mismatch { .. }), "{error}");
}

#[test]
fn write_rejects_bad_keys_and_log_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let base = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );

    let mut bad_key = base.jobs.clone();
    bad_key[0].0 = "../escape".to_string();
    let error = store
        .write_commit(&base.path, &base.summary, &bad_key, &[])
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::InvalidComponent {
            what: "job key",
            ..
        }
    ));

    for log_path in [
        "../../outside.log",
        "/tmp/x.log",
        "result.json",
        "logs/../result.json",
    ] {
        let logs = vec![(log_path.to_string(), b"x".to_vec())];
        let error = store
            .write_commit(&base.path, &base.summary, &base.jobs, &logs)
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::InvalidComponent {
                    what: "log path",
                    ..
                }
            ),
            "{log_path}: {error}"
        );
    }

    let duplicate = vec![
        ("logs/a.log".to_string(), b"1".to_vec()),
        ("logs/a.log".to_string(), b"2".to_vec()),
    ];
    let error = store
        .write_commit(&base.path, &base.summary, &base.jobs, &duplicate)
        .unwrap_err();
    assert!(matches!(error, StoreError::Duplicate { .. }));

    let nested = vec![
        ("logs/a".to_string(), b"1".to_vec()),
        ("logs/a/b.log".to_string(), b"2".to_vec()),
    ];
    let error = store
        .write_commit(&base.path, &base.summary, &base.jobs, &nested)
        .unwrap_err();
    assert!(matches!(error, StoreError::Duplicate { .. }));
    assert!(!store.commit_dir(&base.path).exists());
}

#[test]
fn write_rejects_jobs_missing_from_summary() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let base = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success, Status::Success],
    );
    let error = store
        .write_commit(&base.path, &base.summary, &base.jobs[..1], &[])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot store the commit summary: its jobs list does not name exactly the job results given"
    );
}

#[test]
fn failed_write_keeps_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    write(&store, &first).unwrap();

    let mut second = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 11:00:00 UTC),
        &[Status::Failure],
    );
    second.jobs[0].1.signature = Some("0".repeat(128));
    assert!(write(&store, &second).is_err());

    let stored = store.read_commit(&first.path).unwrap();
    assert_eq!(stored.summary.result, first.summary);
    assert!(stored.is_verified());
}

#[test]
fn streamed_logs_are_stored() {
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );

    let mut writer = store.begin_commit(&run.path).unwrap();
    let staging = writer.staging_dir().to_path_buf();
    assert!(staging.is_dir());
    let mut log = writer.create_log(&job_log_path("ci.job0")).unwrap();
    log.write_all(b"line 1\n").unwrap();
    log.write_all(b"line 2\n").unwrap();
    drop(log);
    writer
        .write_log(&step_log_path("ci.job0", 1, "Run tests"), b"step")
        .unwrap();

    // Nothing is visible until finish.
    assert!(!store.commit_dir(&run.path).exists());
    let listing = store
        .list_results(None, run.path.owner_npub(), REPO)
        .unwrap();
    assert!(listing.commits.is_empty());
    assert!(listing.unreadable.is_empty());

    let commit_dir = writer.finish(&run.summary, &run.jobs).unwrap();
    assert!(!staging.exists());
    assert_eq!(
        std::fs::read(commit_dir.join("logs/ci.job0/job.log")).unwrap(),
        b"line 1\nline 2\n"
    );
    assert!(store.read_commit(&run.path).unwrap().is_verified());
}

#[test]
fn unfinished_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let mut writer = store.begin_commit(&run.path).unwrap();
    let staging = writer.staging_dir().to_path_buf();
    writer
        .write_log("logs/ci.job0/job.log", b"partial")
        .unwrap();
    drop(writer);

    assert!(!staging.exists());
    let repo_dir = store.commit_dir(&run.path).parent().unwrap().to_path_buf();
    assert_eq!(std::fs::read_dir(repo_dir).unwrap().count(), 0);
}

#[test]
fn writer_rejects_bad_log_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let mut writer = store.begin_commit(&run.path).unwrap();

    let error = writer.create_log("logs/../../escape.log").unwrap_err();
    assert!(matches!(
        error,
        StoreError::InvalidComponent {
            what: "log path",
            ..
        }
    ));
    writer.write_log("logs/a.log", b"1").unwrap();
    let error = writer.write_log("logs/a.log", b"2").unwrap_err();
    assert!(matches!(error, StoreError::Duplicate { .. }));
    let error = writer.write_log("logs/a.log/b.log", b"3").unwrap_err();
    assert!(matches!(error, StoreError::Duplicate { .. }));
}

#[test]
fn failed_finish_keeps_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    write(&store, &first).unwrap();

    let mut writer = store.begin_commit(&first.path).unwrap();
    writer.write_log("logs/ci.job0/job.log", b"new").unwrap();
    let mut unsigned = first.summary.clone();
    unsigned.signature = None;
    assert!(writer.finish(&unsigned, &first.jobs).is_err());

    let stored = store.read_commit(&first.path).unwrap();
    assert!(stored.is_verified());
    assert_eq!(
        std::fs::read(stored.dir.join("logs/ci.job0/job.log")).unwrap(),
        b"log of job0"
    );
    let repo_dir = stored.dir.parent().unwrap();
    assert_eq!(
        entry_names(repo_dir),
        [format!(".{}.lock", commit_hash(1)), commit_hash(1)]
    );
}

#[test]
fn stale_staging_of_dead_writer_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    write(&store, &run).unwrap();
    let repo_dir = store.commit_dir(&run.path).parent().unwrap().to_path_buf();

    // Pids never exceed 2^22 on Linux, so 999999999 is never alive.
    let dead = repo_dir.join(format!(".{}.staging-999999999-0", commit_hash(2)));
    let dead_replaced = repo_dir.join(format!(".{}.replaced-999999999-3", commit_hash(1)));
    let alive = repo_dir.join(format!(
        ".{}.staging-{}-77",
        commit_hash(3),
        std::process::id()
    ));
    for folder in [&dead, &dead_replaced, &alive] {
        std::fs::create_dir_all(folder.join("logs")).unwrap();
    }

    let writer = store.begin_commit(&run.path).unwrap();
    assert!(!dead.exists());
    assert!(!dead_replaced.exists());
    assert!(alive.exists());
    drop(writer);
    assert!(store.commit_dir(&run.path).exists());
}

#[test]
fn writer_pid_parsing() {
    assert_eq!(writer_pid(".abc.staging-123-4"), Some(123));
    assert_eq!(writer_pid(".abc.replaced-55-0"), Some(55));
    assert_eq!(writer_pid("abc.staging-123-4"), None);
    assert_eq!(writer_pid(".abc.tmp-123-4"), None);
    assert_eq!(writer_pid(".abc.staging-x-4"), None);
}
