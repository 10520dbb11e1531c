//! `htci run` storing its results, end to end on real git repositories: a
//! partial run adds to the commit's result, a dirty run is stored apart
//! from the clean one, `htci verify` checks a folder's name and job
//! folders, and a store that cannot be written fails with exit code 2.

mod run_support;

use std::path::{Path, PathBuf};

use run_support::{TestRepo, read_json};
use serde_json::Value;

const FAILING: &str =
    "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 1\n";
const PASSING: &str =
    "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 0\n";

/// A repository with a.yml (fails) and b.yml (passes), committed.
fn two_workflows() -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.write(".github/workflows/a.yml", FAILING);
    repo.write(".github/workflows/b.yml", PASSING);
    let sha = repo.commit("Add two workflows");
    (repo, sha)
}

/// Returns `(key, status)` of every job the summary lists, in its order.
fn listed(result: &Value) -> Vec<(String, String)> {
    result["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| {
            (
                job["key"].as_str().unwrap().to_string(),
                job["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Returns the sorted entry names of a folder.
fn entry_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn partial_run_keeps_other_jobs() {
    let (repo, sha) = two_workflows();

    let first = repo.run(&[]);
    assert_eq!(first.code, 1, "{}", first.all());
    assert_eq!(repo.result(&sha)["status"], "failure");

    let second = repo.run(&["--workflow", "b"]);
    assert_eq!(second.code, 0, "{}", second.all());

    let result = repo.result(&sha);
    assert_eq!(result["status"], "failure");
    assert_eq!(
        listed(&result),
        pairs(&[("a.test", "failure"), ("b.test", "success")])
    );
    assert_eq!(repo.job(&sha, "a.test")["status"], "failure");
    assert_eq!(repo.job(&sha, "b.test")["status"], "success");
    assert_eq!(
        entry_names(&repo.result_dir(&sha).join("jobs")),
        ["a.test", "b.test"]
    );

    let dir = repo.result_dir(&sha);
    let verify = repo.htci(&["verify", dir.to_str().unwrap()]);
    assert_eq!(verify.code, 0, "{}", verify.all());
    assert!(
        verify.stdout.contains("status: failure\n"),
        "{}",
        verify.all()
    );
    assert!(verify.stdout.contains("jobs: 2\n"), "{}", verify.all());
    assert!(
        verify
            .stdout
            .contains("logs: 4 files match their signed hashes"),
        "{}",
        verify.all()
    );
}

#[test]
fn host_only_rerun_replaces_own_job() {
    run_support::require_host("the step reads a flag file on the host");
    let repo = TestRepo::new();
    let flag = repo.root.join("flag");
    repo.write(
        ".github/workflows/a.yml",
        &format!(
            "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: test -e {}\n",
            flag.display()
        ),
    );
    repo.write(".github/workflows/b.yml", PASSING);
    let sha = repo.commit("Add two workflows");
    assert_eq!(repo.run(&[]).code, 1);
    let b_before = repo.job(&sha, "b.test");

    std::fs::write(&flag, b"").unwrap();
    let rerun = repo.run(&["--workflow", "a"]);
    assert_eq!(rerun.code, 0, "{}", rerun.all());

    let result = repo.result(&sha);
    assert_eq!(result["status"], "success");
    assert_eq!(
        listed(&result),
        pairs(&[("a.test", "success"), ("b.test", "success")])
    );
    assert_eq!(repo.job(&sha, "a.test")["status"], "success");
    assert_eq!(repo.job(&sha, "b.test"), b_before);
}

#[test]
fn tampered_stored_job_is_dropped_with_warning() {
    let (repo, sha) = two_workflows();
    assert_eq!(repo.run(&[]).code, 1);
    let file = repo.result_dir(&sha).join("jobs/a.test/result.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"failure\"", "\"success\"")).unwrap();

    let output = repo.run(&["--workflow", "b"]);

    assert_eq!(output.code, 0, "{}", output.all());
    assert!(
        output.stderr.contains(
            "warning: dropped the stored result of job a.test because it does not verify: \
             signature does not match the content"
        ),
        "{}",
        output.all()
    );
    let result = repo.result(&sha);
    assert_eq!(result["status"], "success");
    assert_eq!(listed(&result), pairs(&[("b.test", "success")]));
    assert!(!repo.result_dir(&sha).join("jobs/a.test").exists());
}

#[test]
fn dirty_run_is_stored_apart() {
    let repo = TestRepo::new();
    repo.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: test -e fixed.txt\n",
    );
    let sha = repo.commit("Add the workflow");
    assert_eq!(repo.run(&[]).code, 1);

    repo.write("fixed.txt", "uncommitted\n");
    let dirty_run = repo.run(&[]);
    assert_eq!(dirty_run.code, 0, "{}", dirty_run.all());

    let clean_dir = repo.result_dir(&sha);
    let clean = read_json(&clean_dir.join("result.json"));
    assert_eq!(clean["status"], "failure");
    assert_eq!(clean["dirty"], false);
    let dirty_dir = clean_dir.join("dirty");
    let dirty = read_json(&dirty_dir.join("result.json"));
    assert_eq!(dirty["status"], "success");
    assert_eq!(dirty["dirty"], true);
    assert_eq!(dirty["commit"], sha.as_str());
    assert_eq!(
        read_json(&dirty_dir.join("jobs/ci.test/result.json"))["status"],
        "success"
    );

    // A later clean run keeps the dirty result.
    std::fs::remove_file(repo.repo.join("fixed.txt")).unwrap();
    assert_eq!(repo.run(&[]).code, 1);
    assert_eq!(
        read_json(&dirty_dir.join("result.json"))["status"],
        "success"
    );

    for dir in [&clean_dir, &dirty_dir] {
        let verify = repo.htci(&["verify", dir.to_str().unwrap()]);
        assert_eq!(verify.code, 0, "{}: {}", dir.display(), verify.all());
    }

    let results = repo.htci(&["results", repo.repo.to_str().unwrap()]);
    assert_eq!(results.code, 0, "{}", results.all());
    let short = &sha[..12];
    let lines: Vec<&str> = results
        .stdout
        .lines()
        .filter(|line| line.starts_with(short))
        .collect();
    assert_eq!(lines.len(), 2, "{}", results.stdout);
    let marked: Vec<bool> = lines.iter().map(|line| line.contains("(dirty)")).collect();
    assert_eq!(marked.iter().filter(|dirty| **dirty).count(), 1);
    assert!(
        lines
            .iter()
            .any(|line| line.contains("failure") && !line.contains("(dirty)")),
        "{}",
        results.stdout
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("success") && line.contains("(dirty)")),
        "{}",
        results.stdout
    );
}

/// Copies the regular files and folders below `from` to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn verify_rejects_folder_of_other_commit() {
    let (repo, sha) = two_workflows();
    assert_eq!(repo.run(&[]).code, 1);
    let dir = repo.result_dir(&sha);
    let other = "ab".repeat(20);
    let misplaced: PathBuf = dir.with_file_name(&other);
    copy_dir(&dir, &misplaced);

    let verify = repo.htci(&["verify", misplaced.to_str().unwrap()]);

    assert_eq!(verify.code, 1, "{}", verify.all());
    assert_eq!(
        verify.stderr,
        format!(
            "error: {}: not verified: 1 problem(s)\n  stored under commit {other} but signed \
             for commit {sha}\n",
            misplaced.display()
        )
    );

    let results = repo.htci(&["results", repo.repo.to_str().unwrap()]);
    assert_eq!(results.code, 1, "{}", results.all());
    let line = results
        .stdout
        .lines()
        .find(|line| line.starts_with(&other[..12]))
        .unwrap();
    assert!(
        line.ends_with(&format!(
            "NOT VERIFIED: stored under commit {other} but signed for commit {sha}"
        )),
        "{line}"
    );
    assert!(!line.contains("signature FAILED"), "{line}");
}

#[test]
fn verify_reports_unlisted_job_folder() {
    let (repo, sha) = two_workflows();
    assert_eq!(repo.run(&[]).code, 1);
    let dir = repo.result_dir(&sha);
    copy_dir(&dir.join("jobs/a.test"), &dir.join("jobs/ghost"));

    let verify = repo.htci(&["verify", dir.to_str().unwrap()]);

    assert_eq!(verify.code, 1, "{}", verify.all());
    assert_eq!(
        verify.stderr,
        format!(
            "error: {}: not verified: 1 problem(s)\n  jobs/ghost: job folder not listed in \
             result.json\n",
            dir.display()
        )
    );
}

#[test]
fn unwritable_store_fails_before_jobs() {
    let repo = TestRepo::new();
    repo.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo job-has-run\n",
    );
    repo.commit("Add the workflow");
    let repo_arg = repo.repo.to_string_lossy().into_owned();

    let output = repo
        .command(&["run", &repo_arg])
        .env("XDG_DATA_HOME", "/proc/ro")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: cannot write the result store /proc/ro/hashtree-ci: No such file or directory \
          (os error 2); make the folder writable or set XDG_DATA_HOME to a writable folder"
        ]
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("job-has-run"), "{stdout}");
}

#[test]
fn store_failure_after_jobs_exits_2() {
    let repo = TestRepo::new();
    repo.write(".github/workflows/ci.yml", PASSING);
    repo.commit("Add the workflow");
    let init = repo.htci(&["init"]);
    assert_eq!(init.code, 0, "{}", init.all());
    let config = repo.config_home().join("hashtree-ci/runner.toml");
    let npub = ci_core::config::RunnerConfig::load(&config).unwrap().npub();
    // The root is writable, but a file sits where the runner's folder goes.
    let root = repo.data_home().join("hashtree-ci");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join(&npub), b"").unwrap();

    let output = repo.run(&[]);

    assert_eq!(output.code, 2, "{}", output.all());
    let row: Vec<&str> = output
        .stdout
        .lines()
        .find(|line| line.starts_with("test "))
        .unwrap_or_else(|| panic!("no summary row: {}", output.all()))
        .split_whitespace()
        .take(2)
        .collect();
    assert_eq!(row, ["test", "success"]);
    let last = output.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: failed to store the results: "),
        "{}",
        output.all()
    );
    assert!(last.contains(&npub), "{last}");
    assert_eq!(
        output
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1
    );
}

#[test]
fn concurrent_partial_runs_keep_both() {
    let (repo, sha) = two_workflows();

    let first = repo.spawn_run(&["--workflow", "a"]);
    let second = repo.spawn_run(&["--workflow", "b"]);
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();

    assert_eq!(first.status.code(), Some(1));
    assert_eq!(second.status.code(), Some(0));
    let result = repo.result(&sha);
    assert_eq!(result["status"], "failure");
    assert_eq!(
        listed(&result),
        pairs(&[("a.test", "failure"), ("b.test", "success")])
    );
}
