use time::macros::datetime;

use super::*;
use crate::FsStore;
use crate::fs::tests::{commit_hash, keys, run, write};
use ci_core::Status;

#[test]
fn written_run_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success, Status::Failure],
    );
    let commit_dir = write(&store, &run).unwrap();

    let check = check_commit_folder(&commit_dir).unwrap();
    assert!(check.is_verified(), "{:?}", check.log_problems);
    assert_eq!(check.logs_matched, 4);
    assert_eq!(check.jobs.len(), 2);
}

#[test]
fn changed_log_byte_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &run).unwrap();
    std::fs::write(
        commit_dir.join("logs/ci.job0/01-run-tests.log"),
        "log of jobX",
    )
    .unwrap();

    let check = check_commit_folder(&commit_dir).unwrap();
    assert!(!check.is_verified());
    assert_eq!(check.logs_matched, 1);
    assert_eq!(check.log_problems.len(), 1);
    assert!(
        check.log_problems[0].starts_with("logs/ci.job0/01-run-tests.log: SHA-256 is "),
        "{:?}",
        check.log_problems
    );
}

#[test]
fn missing_job_log_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &run).unwrap();
    std::fs::remove_file(commit_dir.join("logs/ci.job0/job.log")).unwrap();

    let check = check_commit_folder(&commit_dir).unwrap();
    assert!(!check.is_verified());
    assert_eq!(check.log_problems.len(), 1);
    assert!(
        check.log_problems[0].starts_with("logs/ci.job0/job.log: "),
        "{:?}",
        check.log_problems
    );
}

#[test]
fn signed_log_path_outside_logs_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let mut run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    // A result signed by the runner itself, but naming a file outside logs/.
    run.jobs[0].1.steps[0].log_path = Some("logs/../../../../etc/hostname".to_string());
    run.jobs[0].1.sign(&keys()).unwrap();
    let commit_dir = write(&store, &run).unwrap();

    let check = check_commit_folder(&commit_dir).unwrap();
    assert!(!check.is_verified());
    assert_eq!(check.log_problems.len(), 1);
    assert!(
        check.log_problems[0].starts_with("invalid log path"),
        "{:?}",
        check.log_problems
    );
}

#[test]
fn folder_without_summary_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = check_commit_folder(dir.path()).unwrap_err();
    assert!(error.to_string().starts_with("cannot read "), "{error}");
}

#[test]
fn fifo_and_symlink_logs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &run).unwrap();

    // A FIFO would block a plain open forever.
    let job_log = commit_dir.join("logs/ci.job0/job.log");
    std::fs::remove_file(&job_log).unwrap();
    let job_log_c = std::ffi::CString::new(job_log.to_str().unwrap()).unwrap();
    // SAFETY: the pointer comes from a CString that lives across the call.
    assert_eq!(unsafe { libc::mkfifo(job_log_c.as_ptr(), 0o644) }, 0);

    let step_log = commit_dir.join("logs/ci.job0/01-run-tests.log");
    let outside = dir.path().join("outside.log");
    std::fs::rename(&step_log, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &step_log).unwrap();

    let check = check_commit_folder(&commit_dir).unwrap();
    assert!(!check.is_verified());
    assert_eq!(check.logs_matched, 0);
    assert_eq!(check.log_problems.len(), 2, "{:?}", check.log_problems);
    assert!(
        check.log_problems[0].contains("not a regular file"),
        "{:?}",
        check.log_problems
    );
}

#[test]
fn symlinked_summary_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    let run = run(
        &keys(),
        &commit_hash(1),
        datetime!(2026-12-04 10:00:00 UTC),
        &[Status::Success],
    );
    let commit_dir = write(&store, &run).unwrap();
    let summary = commit_dir.join("result.json");
    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::rename(&summary, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &summary).unwrap();

    let error = check_commit_folder(&commit_dir).unwrap_err();
    assert!(error.to_string().starts_with("cannot read "), "{error}");
}
