//! `htci verify` and `htci results` through the real binary: signed
//! results verify, and every kind of tampering is caught.
//!
//! `tests/data/results/` contains a commit summary and a job result signed by
//! the fixed test key 0x…03 with all-zero BIP-340 auxiliary data, so the
//! files are reproducible. Set `HTCI_REGENERATE_FIXTURES=1` to rewrite
//! them after a format change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ci_core::result::{JobResult, StepResult, host_isolation};
use ci_core::signing::{npub_of, sign_value, sign_value_with_aux};
use ci_core::{CommitInfo, CommitResult, Keys, Status};
use ci_store::{CommitPath, FsStore, job_log_path};
use serde_json::Value;

/// The fixed test key (secret 3). Never use it for anything real.
const TEST_SECRET_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000003";
const TEST_NPUB: &str = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn htci() -> PathBuf {
    std::env::var_os("HTCI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_htci")))
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/results")
}

fn test_keys() -> Keys {
    Keys::parse(TEST_SECRET_HEX).unwrap()
}

fn verify(file: &Path, extra: &[&str]) -> Output {
    Command::new(htci())
        .arg("verify")
        .arg(file)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn time(text: &str) -> time::OffsetDateTime {
    ci_core::rfc3339::parse(text).unwrap()
}

/// Builds the unsigned job result of the fixtures.
fn fixture_job(keys: &Keys, repo_path: &str, commit: &str) -> JobResult {
    let npub = npub_of(keys);
    let log = b"running tests\n1 test failed\n";
    JobResult {
        job_id: "test".to_string(),
        runner_npub: npub.clone(),
        repo_hash: ci_core::hash::repo_hash(&npub, repo_path),
        commit: commit.to_string(),
        workflow: "CI".to_string(),
        job_name: "test".to_string(),
        status: Status::Failure,
        continue_on_error: false,
        started_at: time("2026-12-04T16:00:00Z"),
        finished_at: time("2026-12-04T16:01:30.5Z"),
        logs_hash: ci_core::hash::sha256_hex(log),
        steps: vec![
            StepResult {
                name: "Build".to_string(),
                status: Status::Success,
                exit_code: Some(0),
                duration_secs: 12.25,
                logs_hash: ci_core::hash::sha256_hex(b"running tests\n"),
                outcome: None,
                id: None,
                log_path: Some("logs/ci.test/01-build.log".to_string()),
            },
            StepResult {
                name: "Test".to_string(),
                status: Status::Failure,
                exit_code: Some(1),
                duration_secs: 78.0,
                logs_hash: ci_core::hash::sha256_hex(b"1 test failed\n"),
                outcome: None,
                id: Some("test".to_string()),
                log_path: Some("logs/ci.test/02-test.log".to_string()),
            },
        ],
        workflow_file: ".github/workflows/ci.yml".to_string(),
        event: "push".to_string(),
        git_ref: Some("refs/heads/main".to_string()),
        dirty: false,
        matrix: None,
        outputs: BTreeMap::new(),
        runner_tags: vec!["linux".to_string(), "x64".to_string()],
        isolation: host_isolation(),
        owner_npub: npub,
        repo_path: repo_path.to_string(),
        signature: None,
    }
}

fn fixture_summary(keys: &Keys, repo_path: &str, commit: &str, job: &JobResult) -> CommitResult {
    let npub = npub_of(keys);
    let info = CommitInfo {
        runner_npub: npub.clone(),
        owner_npub: npub,
        repo_path: repo_path.to_string(),
        commit: commit.to_string(),
        event: "push".to_string(),
        git_ref: Some("refs/heads/main".to_string()),
        dirty: false,
        runner_tags: vec!["linux".to_string(), "x64".to_string()],
        started_at: time("2026-12-04T16:00:00Z"),
        finished_at: time("2026-12-04T16:01:31Z"),
    };
    CommitResult::summarize(info, &[("ci.test".to_string(), job.clone())])
}

/// Serializes and signs with zero auxiliary data, so the output is fixed.
fn signed_fixture<T: serde::Serialize>(document: &T) -> String {
    let mut value = serde_json::to_value(document).unwrap();
    sign_value_with_aux(&mut value, &test_keys(), &[0u8; 32]).unwrap();
    serde_json::to_string_pretty(&value).unwrap() + "\n"
}

#[test]
fn fixtures_are_current() {
    let job = fixture_job(&test_keys(), "tools/htci", COMMIT);
    let summary = fixture_summary(&test_keys(), "tools/htci", COMMIT, &job);
    for (name, text) in [
        ("result.json", signed_fixture(&summary)),
        ("job-result.json", signed_fixture(&job)),
    ] {
        let path = data_dir().join(name);
        if std::env::var_os("HTCI_REGENERATE_FIXTURES").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap();
        assert_eq!(stored, text, "{name} is stale; see the module docs");
    }
}

#[test]
fn fixture_summary_verifies() {
    let output = verify(&data_dir().join("result.json"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(
        text.lines().next(),
        Some(format!("verified: signed by {TEST_NPUB}").as_str())
    );
    assert!(text.contains("status: failure"), "{text}");
    assert!(text.contains("jobs: 1"), "{text}");
}

#[test]
fn fixture_job_result_verifies() {
    let output = verify(&data_dir().join("job-result.json"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("job: CI / test"));
}

#[test]
fn fixture_fields_are_what_readers_expect() {
    let text = std::fs::read_to_string(data_dir().join("result.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["status"], "failure");
    assert_eq!(value["runner_npub"], TEST_NPUB);
    assert_eq!(value["finished_at"], "2026-12-04T16:01:31Z");
    assert_eq!(value["steps"][1]["status"], "failure");
    assert_eq!(value["steps"][1]["exit_code"], 1);
    assert_eq!(value["jobs"][0]["path"], "jobs/ci.test/result.json");
    assert_eq!(value["signature"].as_str().unwrap().len(), 128);
}

#[test]
fn freshly_signed_result_verifies() {
    let keys = Keys::generate();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("result.json");
    let mut job = fixture_job(&keys, "tools/htci", COMMIT);
    job.sign(&keys).unwrap();
    std::fs::write(&file, serde_json::to_vec(&job).unwrap()).unwrap();

    let output = verify(&file, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).lines().next().unwrap(),
        format!("verified: signed by {}", npub_of(&keys))
    );

    let pinned = verify(&file, &["--npub", &npub_of(&keys)]);
    assert_eq!(pinned.status.code(), Some(0), "{}", stderr(&pinned));
}

/// Writes `text` to a temporary file and runs `htci verify` on it.
fn verify_text(text: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("result.json");
    std::fs::write(&file, text).unwrap();
    verify(&file, extra)
}

fn fixture_text() -> String {
    std::fs::read_to_string(data_dir().join("result.json")).unwrap()
}

#[test]
fn one_byte_of_step_status_changed_fails() {
    let text = fixture_text();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["steps"][0]["status"], "success");

    // Change one byte inside the first step's status value.
    let step_start = text.find("\"steps\"").unwrap();
    let offset = step_start + text[step_start..].find("\"success\"").unwrap() + 1;
    let mut bytes = text.into_bytes();
    bytes[offset] = b'S';
    let tampered = String::from_utf8(bytes).unwrap();
    let parsed: Value = serde_json::from_str(&tampered).unwrap();
    assert_eq!(parsed["steps"][0]["status"], "Success");

    let output = verify_text(&tampered, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not verified: signature does not match the content"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn changed_status_value_fails() {
    let mut value: Value = serde_json::from_str(&fixture_text()).unwrap();
    value["status"] = Value::from("success");
    let output = verify_text(&value.to_string(), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("signature does not match the content"));
}

#[test]
fn swapped_runner_npub_fails() {
    let other = Keys::generate();
    let mut value: Value = serde_json::from_str(&fixture_text()).unwrap();
    value["runner_npub"] = Value::from(npub_of(&other));
    let output = verify_text(&value.to_string(), &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("signature does not match the content"),
        "{message}"
    );
    assert!(message.contains(&npub_of(&other)), "{message}");
}

#[test]
fn signature_of_another_key_fails() {
    // Another key signs the same content under its own npub; its signature
    // is then presented as the test key's.
    let other = Keys::generate();
    let mut forged: Value = serde_json::from_str(&fixture_text()).unwrap();
    forged["runner_npub"] = Value::from(npub_of(&other));
    sign_value(&mut forged, &other).unwrap();
    forged["runner_npub"] = Value::from(TEST_NPUB);

    let output = verify_text(&forged.to_string(), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("signature does not match the content"));
}

#[test]
fn valid_signature_of_unexpected_runner_fails_with_npub() {
    let output = verify(
        &data_dir().join("result.json"),
        &["--npub", &npub_of(&Keys::generate())],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!(
            "signed by {TEST_NPUB}, not by the expected runner"
        )),
        "{}",
        stderr(&output)
    );
}

/// An edit applied to a copy of the fixture.
type Change = dyn Fn(&mut Value);

#[test]
fn malformed_signatures_name_the_reason() {
    let base: Value = serde_json::from_str(&fixture_text()).unwrap();
    let cases: [(&str, Box<Change>, &str); 4] = [
        (
            "missing",
            Box::new(|v: &mut Value| {
                v.as_object_mut().unwrap().remove("signature");
            }),
            "missing signature",
        ),
        (
            "short",
            Box::new(|v: &mut Value| v["signature"] = Value::from("abcd")),
            "bad signature hex",
        ),
        (
            "not hex",
            Box::new(|v: &mut Value| v["signature"] = Value::from("z".repeat(128))),
            "bad signature hex",
        ),
        (
            "bad npub",
            Box::new(|v: &mut Value| v["runner_npub"] = Value::from("npub1invalid")),
            "npub invalid",
        ),
    ];
    for (name, change, expected) in cases {
        let mut value = base.clone();
        change(&mut value);
        let output = verify_text(&value.to_string(), &[]);
        assert_eq!(output.status.code(), Some(1), "{name}");
        assert!(
            stderr(&output).contains(expected),
            "{name}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn unreadable_or_invalid_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let output = verify(&missing, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(&missing.display().to_string()));

    let device = verify(Path::new("/dev/zero"), &[]);
    assert_eq!(device.status.code(), Some(2));
    assert!(
        stderr(&device).contains("cannot read /dev/zero: not a regular file"),
        "{}",
        stderr(&device)
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"status\": ").unwrap();
    let output = verify(&broken, &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains(&broken.display().to_string()), "{message}");
    assert!(message.contains("invalid JSON"), "{message}");
}

/// A repository checkout, a runner identity and a store, all temporary.
struct Setup {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    home: PathBuf,
    config: PathBuf,
    data: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("checkout");
        std::fs::create_dir(&repo).unwrap();

        let status = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["init", "-q"])
            .status()
            .unwrap();
        assert!(status.success());
        let status = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args([
                "remote",
                "add",
                "origin",
                "https://example.org/tools/htci.git",
            ])
            .status()
            .unwrap();
        assert!(status.success());

        let setup = Setup {
            repo,
            home: dir.path().join("home"),
            config: dir.path().join("config"),
            data: dir.path().join("data"),
            _dir: dir,
        };
        std::fs::create_dir(&setup.home).unwrap();

        let init = setup.htci(&["init", "--name", "results-test"]);
        assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
        setup
    }

    fn htci(&self, args: &[&str]) -> Output {
        Command::new(htci())
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.config)
            .env("XDG_DATA_HOME", &self.data)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn keys(&self) -> Keys {
        let path = self.config.join("hashtree-ci/runner.toml");
        ci_core::config::RunnerConfig::load(&path).unwrap().keys()
    }

    /// Stores one signed run of `commit` and returns its folder.
    fn store_run(&self, commit: &str, finished_at: &str, status: Status) -> PathBuf {
        self.store_run_with(commit, finished_at, status, false)
    }

    /// Stores one signed run, optionally marked as made from a dirty tree.
    fn store_run_with(
        &self,
        commit: &str,
        finished_at: &str,
        status: Status,
        dirty: bool,
    ) -> PathBuf {
        let keys = self.keys();
        let npub = npub_of(&keys);
        let mut job = fixture_job(&keys, "tools/htci", commit);
        job.status = status;
        job.finished_at = time(finished_at);
        job.dirty = dirty;
        job.sign(&keys).unwrap();
        let mut summary = fixture_summary(&keys, "tools/htci", commit, &job);
        summary.finished_at = time(finished_at);
        summary.dirty = dirty;
        summary.sign(&keys).unwrap();

        let store = FsStore::new(self.data.join("hashtree-ci"));
        let path = CommitPath::new(&npub, &npub, "tools/htci", commit)
            .unwrap()
            .with_dirty(dirty);
        let logs = vec![
            (
                job_log_path("ci.test"),
                b"running tests\n1 test failed\n".to_vec(),
            ),
            (
                "logs/ci.test/01-build.log".to_string(),
                b"running tests\n".to_vec(),
            ),
            (
                "logs/ci.test/02-test.log".to_string(),
                b"1 test failed\n".to_vec(),
            ),
        ];
        store
            .write_commit(&path, &summary, &[("ci.test".to_string(), job)], &logs)
            .unwrap()
    }
}

#[test]
fn results_lists_newest_first_and_verified() {
    let setup = Setup::new();
    let older = "1".repeat(40);
    let newer = "2".repeat(40);
    setup.store_run(&older, "2026-12-04T10:00:00Z", Status::Success);
    setup.store_run(&newer, "2026-12-04T12:00:00Z", Status::Failure);

    let output = setup.htci(&["results", setup.repo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("results for tools/htci (owner npub1"),
        "{text}"
    );
    let newer_line = text
        .find("222222222222  failure")
        .expect("newer commit listed");
    let older_line = text
        .find("111111111111  success")
        .expect("older commit listed");
    assert!(newer_line < older_line, "{text}");
    assert_eq!(text.matches("signature ok").count(), 4, "{text}");

    let json_output = setup.htci(&["results", setup.repo.to_str().unwrap(), "--json"]);
    assert_eq!(json_output.status.code(), Some(0));
    let document: Value = serde_json::from_slice(&json_output.stdout).unwrap();
    assert_eq!(document["repo_path"], "tools/htci");
    assert_eq!(document["commits"][0]["commit"], newer.as_str());
    assert_eq!(document["commits"][0]["status"], "failure");
    assert_eq!(document["commits"][0]["verified"], true);
    assert_eq!(document["commits"][0]["jobs"][0]["status"], "failure");
    assert_eq!(document["commits"][1]["commit"], older.as_str());
}

#[test]
fn results_filters_by_commit_prefix() {
    let setup = Setup::new();
    setup.store_run(&"1".repeat(40), "2026-12-04T10:00:00Z", Status::Success);
    setup.store_run(&"2".repeat(40), "2026-12-04T12:00:00Z", Status::Success);
    let output = setup.htci(&[
        "results",
        setup.repo.to_str().unwrap(),
        "--commit",
        "1111",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let commits = document["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0]["commit"], "1".repeat(40).as_str());

    let none = setup.htci(&["results", setup.repo.to_str().unwrap(), "--commit", "abcd"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(
        stdout(&none).contains("no stored results for a commit starting with abcd"),
        "{}",
        stdout(&none)
    );

    let invalid = setup.htci(&["results", setup.repo.to_str().unwrap(), "--commit", "xyz"]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(
        stderr(&invalid).contains("invalid --commit \"xyz\""),
        "{}",
        stderr(&invalid)
    );
}

#[test]
fn results_flags_tampered_job_file() {
    let setup = Setup::new();
    let dir = setup.store_run(&"3".repeat(40), "2026-12-04T10:00:00Z", Status::Failure);
    let job_file = dir.join("jobs/ci.test/result.json");
    let text = std::fs::read_to_string(&job_file).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["status"], "failure");
    std::fs::write(&job_file, text.replacen("\"failure\"", "\"success\"", 1)).unwrap();

    let output = setup.htci(&["results", setup.repo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("signature FAILED: signature does not match the content"),
        "{text}"
    );

    let verify_output = verify(&job_file, &[]);
    assert_eq!(verify_output.status.code(), Some(1));
}

#[test]
fn results_of_repository_without_runs_is_empty() {
    let setup = Setup::new();
    let output = setup.htci(&["results", setup.repo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("no stored results in"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn results_of_missing_path_exits_2() {
    let setup = Setup::new();
    let missing = setup.repo.join("missing");
    let output = setup.htci(&["results", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is not a directory"));
}

/// Writes a workflow with a passing job and a two-leg matrix job whose
/// second leg fails, and commits it.
fn commit_workflow(repo: &Path) {
    let workflows = repo.join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(
        workflows.join("ci.yml"),
        "name: CI\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      \
         - run: echo built\n  test:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        \
         n: [1, 2]\n    steps:\n      - run: test ${{ matrix.n }} = 1\n",
    )
    .unwrap();

    for args in [
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.org",
            "commit",
            "-q",
            "-m",
            "add workflow",
        ][..],
    ] {
        let status = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
}

#[test]
fn results_of_htci_run_verify() {
    let setup = Setup::new();
    commit_workflow(&setup.repo);
    let run = setup.htci(&["run", setup.repo.to_str().unwrap()]);
    assert!(run.status.code().is_some(), "htci run was killed");

    let output = setup.htci(&["results", setup.repo.to_str().unwrap(), "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "results: {}\nrun: {}",
        stderr(&output),
        stderr(&run)
    );
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let commits = document["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1, "{document}");
    let commit = &commits[0];
    assert_eq!(commit["status"], "failure");
    assert_eq!(commit["verified"], true);
    let jobs = commit["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[0]["status"], "failure");
    assert_eq!(jobs[0]["job_id"], "test");
    assert!(jobs.iter().all(|job| job["verified"] == true), "{document}");

    let dir = PathBuf::from(commit["dir"].as_str().unwrap());
    let folder = verify(&dir, &[]);
    assert_eq!(folder.status.code(), Some(0), "{}", stderr(&folder));
    assert!(stdout(&folder).contains("logs: "), "{}", stdout(&folder));

    let summary_file = dir.join("result.json");
    let verified = verify(&summary_file, &[]);
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));

    let text = std::fs::read_to_string(&summary_file).unwrap();
    let tampered = text.replacen("\"failure\"", "\"success\"", 1);
    assert_ne!(tampered, text);
    std::fs::write(&summary_file, tampered).unwrap();
    assert_eq!(verify(&summary_file, &[]).status.code(), Some(1));
    let relisted = setup.htci(&["results", setup.repo.to_str().unwrap()]);
    assert_eq!(relisted.status.code(), Some(1));
}

#[test]
fn commit_folder_verifies_with_logs() {
    let setup = Setup::new();
    let dir = setup.store_run(&"4".repeat(40), "2026-12-04T10:00:00Z", Status::Failure);

    let output = verify(&dir, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("verified: signed by npub1"), "{text}");
    assert!(
        text.contains("logs: 3 files match their signed hashes"),
        "{text}"
    );

    let expected = npub_of(&setup.keys());
    let pinned = verify(&dir, &["--npub", &expected]);
    assert_eq!(pinned.status.code(), Some(0), "{}", stderr(&pinned));
}

#[test]
fn commit_folder_with_changed_log_fails() {
    let setup = Setup::new();
    let dir = setup.store_run(&"5".repeat(40), "2026-12-04T10:00:00Z", Status::Failure);
    std::fs::write(dir.join("logs/ci.test/02-test.log"), "0 tests failed\n").unwrap();

    let output = verify(&dir, &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("not verified: 1 problem(s)"), "{message}");
    assert!(
        message.contains("logs/ci.test/02-test.log: SHA-256 is "),
        "{message}"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn commit_folder_with_changed_job_fails() {
    let setup = Setup::new();
    let dir = setup.store_run(&"6".repeat(40), "2026-12-04T10:00:00Z", Status::Failure);
    let job_file = dir.join("jobs/ci.test/result.json");
    let text = std::fs::read_to_string(&job_file).unwrap();
    std::fs::write(&job_file, text.replacen("\"failure\"", "\"success\"", 1)).unwrap();

    let output = verify(&dir, &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("jobs/ci.test/result.json: signature does not match the content"),
        "{message}"
    );
    assert!(
        message.contains(
            "jobs/ci.test/result.json: status is success but the commit summary lists failure"
        ),
        "{message}"
    );
}

#[test]
fn empty_folder_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = verify(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("result.json"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn results_marks_dirty_runs() {
    let setup = Setup::new();
    setup.store_run_with(
        &"7".repeat(40),
        "2026-12-04T10:00:00Z",
        Status::Success,
        true,
    );
    let output = setup.htci(&["results", setup.repo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("push refs/heads/main (dirty)  signature ok"),
        "{text}"
    );
}
