use std::collections::BTreeSet;

use ci_core::signing::npub_of;
use ci_core::{CommitInfo, CommitResult, Status};
use nostr::key::Keys;
use time::macros::datetime;

use crate::fs::tests::{REPO, commit_hash, entry_names, job, keys, other_keys, run, write};
use crate::path::{job_log_path, step_log_path};
use crate::{CommitPath, FsStore, MergedCommit, StoreError, check_commit_folder};

/// Signs a summary over `jobs` with `keys`, as `htci run` does.
fn summarize(
    keys: &Keys,
    commit: &str,
    dirty: bool,
    jobs: &[(String, ci_core::JobResult)],
) -> Result<CommitResult, StoreError> {
    let npub = npub_of(keys);
    let info = CommitInfo {
        runner_npub: npub.clone(),
        owner_npub: npub,
        repo_path: REPO.to_string(),
        commit: commit.to_string(),
        event: "push".to_string(),
        git_ref: Some("refs/heads/main".to_string()),
        dirty,
        runner_tags: vec!["linux".to_string()],
        started_at: datetime!(2026-12-04 16:00:00 UTC),
        finished_at: datetime!(2026-12-04 16:05:00 UTC),
    };
    let mut summary = CommitResult::summarize(info, jobs);
    summary.sign(keys).unwrap();
    Ok(summary)
}

/// Stores one job `id` with `status` by merging, as a partial run would.
fn merge_job(store: &FsStore, path: &CommitPath, id: &str, status: Status) -> MergedCommit {
    let mut result = job(&keys(), path.commit(), id, status);
    result.dirty = path.is_dirty();
    result.sign(&keys()).unwrap();
    let key = format!("ci.{id}");
    let log = format!("log of {id}").into_bytes();

    let mut writer = store.begin_commit(path).unwrap();
    writer.write_log(&job_log_path(&key), &log).unwrap();
    writer
        .write_log(&step_log_path(&key, 1, "Run tests"), &log)
        .unwrap();
    let commit = path.commit().to_string();
    let dirty = path.is_dirty();
    writer
        .finish_merged(vec![(key, result)], |all| {
            summarize(&keys(), &commit, dirty, all)
        })
        .unwrap()
}

fn listed_keys(summary: &CommitResult) -> Vec<String> {
    summary.jobs.iter().map(|job| job.key.clone()).collect()
}

#[test]
fn partial_run_keeps_jobs_it_did_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Failure, Status::Failure],
    );
    write(&store, &first).unwrap();

    let merged = merge_job(&store, &first.path, "job1", Status::Success);

    assert_eq!(merged.kept, ["ci.job0"]);
    assert_eq!(merged.dropped, []);
    let stored = store.read_commit(&first.path).unwrap();
    assert!(stored.is_verified(), "{:?}", stored.problems);
    assert_eq!(stored.summary.result.status, Status::Failure);
    assert_eq!(listed_keys(&stored.summary.result), ["ci.job0", "ci.job1"]);
    assert_eq!(stored.jobs[1].summary.status, Status::Success);
    let folder = check_commit_folder(&merged.dir).unwrap();
    assert!(folder.is_verified(), "{:?}", folder.log_problems);
    assert_eq!(folder.logs_matched, 4);
}

#[test]
fn rerun_of_failed_job_makes_commit_success() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Failure, Status::Success],
    );
    write(&store, &first).unwrap();

    let merged = merge_job(&store, &first.path, "job0", Status::Success);

    assert_eq!(merged.kept, ["ci.job1"]);
    let stored = store.read_commit(&first.path).unwrap();
    assert_eq!(stored.summary.result.status, Status::Success);
    assert_eq!(stored.jobs.len(), 2);
}

#[test]
fn tampered_stored_job_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Failure, Status::Success],
    );
    let commit_dir = write(&store, &first).unwrap();
    let file = commit_dir.join("jobs/ci.job0/result.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"failure\"", "\"success\"")).unwrap();

    let merged = merge_job(&store, &first.path, "job1", Status::Success);

    assert_eq!(merged.kept, Vec::<String>::new());
    assert_eq!(merged.dropped.len(), 1);
    assert_eq!(merged.dropped[0].key, "ci.job0");
    assert_eq!(
        merged.dropped[0].reason,
        format!(
            "signature does not match the content: the result was changed after signing, or \
             was not signed by {}",
            npub_of(&keys())
        )
    );
    let stored = store.read_commit(&first.path).unwrap();
    assert_eq!(listed_keys(&stored.summary.result), ["ci.job1"]);
    assert!(!merged.dir.join("jobs/ci.job0").exists());
}

#[test]
fn stored_job_of_other_runner_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &first).unwrap();
    let foreign = job(&other_keys(), &commit_hash(1), "job5", Status::Success);
    std::fs::create_dir_all(commit_dir.join("jobs/ci.job5")).unwrap();
    std::fs::write(
        commit_dir.join("jobs/ci.job5/result.json"),
        serde_json::to_vec(&foreign).unwrap(),
    )
    .unwrap();

    let merged = merge_job(&store, &first.path, "job1", Status::Success);

    assert_eq!(merged.kept, ["ci.job0"]);
    assert_eq!(merged.dropped.len(), 1);
    assert_eq!(merged.dropped[0].key, "ci.job5");
    assert_eq!(
        merged.dropped[0].reason,
        format!(
            "stored under runner {} but signed by runner {}",
            npub_of(&keys()),
            npub_of(&other_keys())
        )
    );
}

#[test]
fn stored_job_with_changed_log_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &first).unwrap();
    std::fs::write(commit_dir.join("logs/ci.job0/job.log"), b"changed").unwrap();

    let merged = merge_job(&store, &first.path, "job1", Status::Success);

    assert_eq!(merged.kept, Vec::<String>::new());
    assert_eq!(merged.dropped[0].key, "ci.job0");
    assert!(
        merged.dropped[0]
            .reason
            .starts_with("logs/ci.job0/job.log: SHA-256 is "),
        "{}",
        merged.dropped[0].reason
    );
}

#[test]
fn dirty_run_leaves_clean_result() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let clean = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Failure],
    );
    write(&store, &clean).unwrap();
    let dirty_path = clean.path.clone().with_dirty(true);

    let merged = merge_job(&store, &dirty_path, "job0", Status::Success);

    assert_eq!(merged.dir, store.commit_dir(&clean.path).join("dirty"));
    assert_eq!(merged.kept, Vec::<String>::new());
    let stored_clean = store.read_commit(&clean.path).unwrap();
    assert_eq!(stored_clean.summary.result.status, Status::Failure);
    assert!(!stored_clean.summary.result.dirty);
    assert!(stored_clean.is_verified(), "{:?}", stored_clean.problems);
    let stored_dirty = store.read_commit(&dirty_path).unwrap();
    assert_eq!(stored_dirty.summary.result.status, Status::Success);
    assert!(stored_dirty.summary.result.dirty);
    assert!(stored_dirty.is_verified(), "{:?}", stored_dirty.problems);

    // A later clean run keeps the dirty folder.
    merge_job(&store, &clean.path, "job1", Status::Success);
    let stored_dirty = store.read_commit(&dirty_path).unwrap();
    assert!(stored_dirty.is_verified());
    let listing = store.list_results(None, &npub_of(&keys()), REPO).unwrap();
    let folders: Vec<bool> = listing.commits.iter().map(|c| c.path.is_dirty()).collect();
    assert_eq!(folders, [false, true]);
    assert_eq!(listing.unreadable.len(), 0);
}

#[test]
fn dirty_only_commit_lists_without_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let npub = npub_of(&keys());
    let path = CommitPath::new(&npub, &npub, REPO, &commit_hash(2))
        .unwrap()
        .with_dirty(true);

    merge_job(&store, &path, "job0", Status::Success);

    let listing = store.list_results(None, &npub, REPO).unwrap();
    assert_eq!(listing.commits.len(), 1);
    assert!(listing.commits[0].path.is_dirty());
    assert_eq!(listing.unreadable.len(), 0);
}

#[test]
fn dirty_run_rejected_in_clean_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let mut dirty_run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Success],
    );
    dirty_run.summary.dirty = true;
    dirty_run.summary.sign(&keys()).unwrap();

    let error = write(&store, &dirty_run).unwrap_err();

    assert_eq!(
        error.to_string(),
        "cannot store the commit summary: stored as the clean result but signed as a run \
         with uncommitted changes, which belongs in dirty/"
    );
}

#[test]
fn concurrent_runs_keep_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let npub = npub_of(&keys());
    let path = CommitPath::new(&npub, &npub, REPO, &commit_hash(3)).unwrap();

    std::thread::scope(|scope| {
        for n in 0..8 {
            let (store, path) = (&store, &path);
            scope.spawn(move || merge_job(store, path, &format!("job{n}"), Status::Success));
        }
    });

    let stored = store.read_commit(&path).unwrap();
    let keys: BTreeSet<String> = listed_keys(&stored.summary.result).into_iter().collect();
    let expected: BTreeSet<String> = (0..8).map(|n| format!("ci.job{n}")).collect();
    assert_eq!(keys, expected);
    assert!(stored.is_verified());
    assert_eq!(
        entry_names(stored.dir.parent().unwrap()),
        [format!(".{}.lock", commit_hash(3)), commit_hash(3)]
    );
}

#[test]
fn unwritable_root_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"").unwrap();
    let store = FsStore::new(file.join("hashtree-ci"));

    let error = store.check_writable().unwrap_err();

    assert_eq!(
        error.to_string(),
        format!(
            "cannot write the result store {}/hashtree-ci: Not a directory (os error 20); make \
             the folder writable or set XDG_DATA_HOME to a writable folder",
            file.display()
        )
    );
    assert!(
        FsStore::new(dir.path().join("new"))
            .check_writable()
            .is_ok()
    );
    assert_eq!(entry_names(&dir.path().join("new")), Vec::<String>::new());
}

#[test]
fn folder_check_reports_misplaced_and_unlisted() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let first = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &first).unwrap();
    std::fs::create_dir_all(commit_dir.join("jobs/ci.extra")).unwrap();
    let moved = commit_dir.with_file_name(commit_hash(2));
    std::fs::rename(&commit_dir, &moved).unwrap();

    let folder = check_commit_folder(&moved).unwrap();

    assert!(!folder.is_verified());
    assert_eq!(
        folder.folder_problems,
        [
            format!(
                "stored under commit {} but signed for commit {}",
                commit_hash(2),
                commit_hash(1)
            ),
            "jobs/ci.extra: job folder not listed in result.json".to_string(),
        ]
    );
}

#[test]
fn clean_job_rejected_in_dirty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let mut dirty_run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 16:02:00 UTC),
        &[Status::Success],
    );
    dirty_run.path = dirty_run.path.clone().with_dirty(true);
    dirty_run.summary.dirty = true;
    dirty_run.summary.sign(&keys()).unwrap();

    let error = write(&store, &dirty_run).unwrap_err();

    assert_eq!(
        error.to_string(),
        "cannot store the result of job ci.job0: stored in dirty/ but signed as a clean run, \
         which belongs in the commit folder"
    );
    assert!(!store.commit_dir(&dirty_run.path).exists());
}
