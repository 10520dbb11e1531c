//! Shared helpers of the `htci run` end-to-end tests: a real git
//! repository in a temporary directory, a private HOME and XDG
//! directories, the `htci` binary, and readers for the stored results.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Returns the `htci` binary: `HTCI_BIN` when set, else the one Cargo built.
pub fn htci_bin() -> PathBuf {
    std::env::var_os("HTCI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_htci")))
}

/// Returns whether the run tests run every step in the sandbox: set by
/// `HTCI_TEST_SANDBOX=1`, so the same tests cover `htci run --sandbox`.
pub fn sandboxed() -> bool {
    std::env::var_os("HTCI_TEST_SANDBOX").is_some_and(|value| value == "1")
}

/// The `isolation` kind that results of this test run record.
pub fn expected_isolation() -> &'static str {
    if sandboxed() { "sandbox" } else { "host" }
}

/// Fails the calling test when the tests run sandboxed, because it needs
/// the host for `reason`. Such tests are named `host_only_*`, and the
/// sandboxed re-run in scripts/test.sh skips them with `--skip host_only_`.
pub fn require_host(reason: &str) {
    assert!(
        !sandboxed(),
        "host-only test started with HTCI_TEST_SANDBOX=1 ({reason}); skip it with --skip host_only_"
    );
}

/// A repository and a private home for one test.
pub struct TestRepo {
    _dir: TempDir,
    pub root: PathBuf,
    pub repo: PathBuf,
    pub home: PathBuf,
}

/// The result of one `htci` invocation.
#[derive(Debug)]
pub struct RunOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    fn from_output(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_SYSTEM", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

impl TestRepo {
    /// Creates an empty repository on branch `main` with no commit yet.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("htci-run-test")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let repo = root.join("repo");
        let home = root.join("home");
        fs::create_dir_all(&repo).unwrap();
        fs::create_dir_all(&home).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["config", "user.name", "Test Author"]);
        git(&repo, &["config", "user.email", "author@example.invalid"]);
        git(&repo, &["config", "commit.gpgsign", "false"]);
        Self {
            _dir: dir,
            root,
            repo,
            home,
        }
    }

    /// Creates a repository with `workflow` committed as
    /// `.github/workflows/ci.yml`.
    pub fn with_workflow(workflow: &str) -> Self {
        let repo = Self::new();
        repo.write(".github/workflows/ci.yml", workflow);
        repo.commit("Add the workflow");
        repo
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.repo.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// Commits everything and returns the commit hash.
    pub fn commit(&self, message: &str) -> String {
        git(&self.repo, &["add", "-A"]);
        git(&self.repo, &["commit", "-q", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.repo, &["rev-parse", "HEAD"])
    }

    pub fn data_home(&self) -> PathBuf {
        self.home.join(".local/share")
    }

    pub fn config_home(&self) -> PathBuf {
        self.home.join(".config")
    }

    /// Builds an `htci` command with this test's HOME and XDG directories.
    /// With `HTCI_TEST_SANDBOX=1`, `htci run` gets `--sandbox`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut args = args.to_vec();
        if sandboxed() && args.first() == Some(&"run") && !args.contains(&"--sandbox") {
            args.insert(1, "--sandbox");
        }
        let mut command = Command::new(htci_bin());
        command
            .args(args)
            .current_dir(&self.root)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("XDG_DATA_HOME", self.data_home())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("HTCI_KEEP_RUN_DIR")
            .stdin(Stdio::null());
        command
    }

    /// Creates the runner identity with `htci init` and sets the given
    /// `[runner.limits]` values in its runner.toml.
    pub fn set_limits(&self, limits: &[(&str, u64)]) {
        let output = self.htci(&["init"]);
        assert_eq!(output.code, 0, "htci init: {}", output.all());

        let path = self.config_home().join("hashtree-ci/runner.toml");
        let mut text = fs::read_to_string(&path).unwrap();
        for (key, value) in limits {
            let line = text
                .lines()
                .find(|line| {
                    line.trim_start_matches("# ")
                        .starts_with(&format!("{key} ="))
                })
                .unwrap_or_else(|| panic!("no {key} in {text}"))
                .to_string();
            text = text.replace(&line, &format!("{key} = {value}"));
        }
        fs::write(&path, text).unwrap();
    }

    /// Runs `htci` with `args` and waits for it.
    pub fn htci(&self, args: &[&str]) -> RunOutput {
        let output = self.command(args).output().expect("htci runs");
        RunOutput::from_output(output)
    }

    /// Runs `htci run <repo> <args>`.
    pub fn run(&self, args: &[&str]) -> RunOutput {
        let repo = self.repo.to_string_lossy().into_owned();
        let mut all = vec!["run", repo.as_str()];
        all.extend_from_slice(args);
        self.htci(&all)
    }

    /// Starts `htci run <repo> <args>` without waiting.
    pub fn spawn_run(&self, args: &[&str]) -> Child {
        let repo = self.repo.to_string_lossy().into_owned();
        let mut all = vec!["run", repo.as_str()];
        all.extend_from_slice(args);
        self.command(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("htci starts")
    }

    /// Finds the commit folder that contains `result.json` for `commit`.
    pub fn result_dir(&self, commit: &str) -> PathBuf {
        let found: Vec<PathBuf> = walk(&self.data_home())
            .into_iter()
            .filter(|path| path.file_name().is_some_and(|n| n == "result.json"))
            .filter_map(|path| path.parent().map(Path::to_path_buf))
            .filter(|dir| dir.file_name().is_some_and(|n| n == commit))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one result folder for {commit}, found {found:?}"
        );
        found[0].clone()
    }

    /// Reads the commit's `result.json`.
    pub fn result(&self, commit: &str) -> Value {
        read_json(&self.result_dir(commit).join("result.json"))
    }

    /// Reads the `result.json` of the commit's `dirty/` folder, where runs
    /// with uncommitted changes are stored.
    pub fn dirty_result(&self, commit: &str) -> Value {
        read_json(&self.dirty_dir(commit).join("result.json"))
    }

    /// Reads the result of job `key` of the commit's `dirty/` folder.
    pub fn dirty_job(&self, commit: &str, key: &str) -> Value {
        let path = self.dirty_dir(commit).join("jobs").join(key);
        read_json(&path.join("result.json"))
    }

    /// Finds the `dirty/` folder below the folder named `commit`.
    fn dirty_dir(&self, commit: &str) -> PathBuf {
        let found: Vec<PathBuf> = walk(&self.data_home())
            .into_iter()
            .filter(|path| path.file_name().is_some_and(|n| n == "result.json"))
            .filter_map(|path| path.parent().map(Path::to_path_buf))
            .filter(|dir| dir.file_name().is_some_and(|n| n == "dirty"))
            .filter(|dir| {
                dir.parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == commit)
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one dirty folder for {commit}, found {found:?}"
        );
        found[0].clone()
    }

    /// Reads the result of job `key` (such as `ci.build` or `ci.test.2`).
    pub fn job(&self, commit: &str, key: &str) -> Value {
        read_json(
            &self
                .result_dir(commit)
                .join("jobs")
                .join(key)
                .join("result.json"),
        )
    }

    /// Reads the whole log of job `key`.
    pub fn job_log(&self, commit: &str, key: &str) -> String {
        let path = self
            .result_dir(commit)
            .join("logs")
            .join(key)
            .join("job.log");
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Lists every file under the data directory whose bytes contain `needle`.
    pub fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        walk(&self.data_home())
            .into_iter()
            .filter(|path| {
                fs::read(path)
                    .map(|bytes| contains(&bytes, needle.as_bytes()))
                    .unwrap_or(false)
            })
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

pub fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Lists every regular file below `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files
}

/// Returns the step of a job result with the given name.
pub fn step<'a>(job: &'a Value, name: &str) -> &'a Value {
    job["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no step named {name:?} in {job:#}"))
}

/// Returns the summary entry of job `key` in a commit's `result.json`.
pub fn summary_job<'a>(result: &'a Value, key: &str) -> &'a Value {
    result["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["key"] == key))
        .unwrap_or_else(|| panic!("no job {key:?} in {result:#}"))
}

/// Process ids whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|bytes| {
                    let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
                    text.contains(marker)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Waits up to `limit` for `check` to hold.
pub fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    check()
}

/// Returns a number unique to this test process and `seed`, used as the
/// argument of `sleep` processes searched in /proc.
pub fn marker(seed: u32) -> String {
    format!("{}", 900_000 + (std::process::id() % 1000) * 100 + seed)
}
