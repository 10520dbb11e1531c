//! `htci check` end to end over the workflow corpus in `tests/workflows`:
//! every valid workflow passes with exit status 0 and no diagnostic, and
//! every broken workflow fails with exit status 1 and exactly the lines of
//! its `.expected` file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn htci() -> Command {
    let binary = std::env::var("HTCI_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_htci").into());
    Command::new(binary)
}

fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/workflows")
        .join(kind)
}

/// Lists the `*.yml` files of a corpus folder, sorted.
fn corpus_files(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus(kind))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// Creates a repository directory holding `files` under
/// `.github/workflows/`.
fn repo_with(files: &[PathBuf]) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    let workflows = repo.path().join(".github/workflows");
    fs::create_dir_all(&workflows).unwrap();
    for file in files {
        fs::copy(file, workflows.join(file.file_name().unwrap())).unwrap();
    }
    repo
}

fn check(args: &[&Path]) -> Output {
    htci().arg("check").args(args).output().unwrap()
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn valid_corpus_passes_as_repository() {
    let files = corpus_files("valid");
    assert!(files.len() >= 20, "only {} valid workflows", files.len());
    let repo = repo_with(&files);

    let output = check(&[repo.path()]);

    let lines = stdout_lines(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{lines:#?}\n{stderr}");
    assert_eq!(
        lines,
        [format!(
            "checked {} workflow files: 0 errors, 0 warnings",
            files.len()
        )]
    );
}

#[test]
fn each_valid_file_passes_alone() {
    for file in corpus_files("valid") {
        let output = check(&[&file]);
        let lines = stdout_lines(&output);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {lines:#?}",
            file.display()
        );
        assert_eq!(
            lines,
            ["checked 1 workflow file: 0 errors, 0 warnings"],
            "{}",
            file.display()
        );
    }
}

#[test]
fn each_invalid_file_gives_expected_lines() {
    let files = corpus_files("invalid");
    assert!(files.len() >= 20, "only {} invalid workflows", files.len());

    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let expected_text = fs::read_to_string(file.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{name} has no .expected file"));
        let expected: Vec<&str> = expected_text.lines().collect();
        let errors = expected.iter().filter(|l| l.contains(": error: ")).count();
        let warnings = expected
            .iter()
            .filter(|l| l.contains(": warning: "))
            .count();
        assert!(errors > 0, "{name}: the .expected file lists no error");
        let repo = repo_with(std::slice::from_ref(&file));

        let output = check(&[repo.path()]);

        let lines = stdout_lines(&output);
        assert_eq!(output.status.code(), Some(1), "{name}: {lines:#?}");
        let (count_line, diagnostics) = lines.split_last().expect("output has a count line");
        assert_eq!(diagnostics, expected.as_slice(), "{name}");
        assert_eq!(
            count_line,
            &format!(
                "checked 1 workflow file: {errors} error{}, {warnings} warning{}",
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" }
            ),
            "{name}"
        );
    }
}

#[test]
fn single_file_shows_given_path() {
    let file = corpus("invalid").join("missing-runs-on.yml");

    let output = check(&[&file]);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output),
        [
            format!(
                "{}:4:3: error: \"runs-on\" is required in job \"build\"",
                file.display()
            ),
            "checked 1 workflow file: 1 error, 0 warnings".to_string(),
        ]
    );
}

#[test]
fn warnings_alone_exit_zero() {
    let repo = tempfile::tempdir().unwrap();
    let workflows = repo.path().join(".github/workflows");
    fs::create_dir_all(&workflows).unwrap();
    fs::write(
        workflows.join("ci.yaml"),
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    timeout: 5\n    steps:\n      - run: make\n",
    )
    .unwrap();

    let output = check(&[repo.path()]);

    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout_lines(&output),
        [
            ".github/workflows/ci.yaml:5:5: warning: unknown key \"timeout\" in job \"build\"",
            "checked 1 workflow file: 0 errors, 1 warning",
        ]
    );
}

#[test]
fn errors_in_one_file_of_many_fail() {
    let mut files = corpus_files("valid")[..2].to_vec();
    files.push(corpus("invalid").join("empty-jobs.yml"));
    let repo = repo_with(&files);

    let output = check(&[repo.path()]);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output),
        [
            ".github/workflows/empty-jobs.yml:3:1: error: \"jobs\" must contain at least one job",
            "checked 3 workflow files: 1 error, 0 warnings",
        ]
    );
}

#[test]
fn missing_path_is_invalid_invocation() {
    let missing = tempfile::tempdir().unwrap().path().join("nowhere");

    let output = check(&[&missing]);

    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        format!(
            "error: {} does not exist; pass a repository directory or a workflow file",
            missing.display()
        )
    );
}

#[test]
fn repository_without_workflows_is_invalid_invocation() {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir_all(repo.path().join(".github/workflows")).unwrap();
    fs::write(repo.path().join(".github/workflows/README.md"), "notes\n").unwrap();

    let output = check(&[repo.path()]);

    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        format!(
            "error: no workflow files in {}: expected .github/workflows/*.yml or *.yaml",
            repo.path().join(".github/workflows").display()
        )
    );
}

#[test]
fn default_path_is_current_directory() {
    let repo = repo_with(&[corpus("valid").join("rust-ci.yml")]);

    let output = htci()
        .arg("check")
        .current_dir(repo.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout_lines(&output),
        ["checked 1 workflow file: 0 errors, 0 warnings"]
    );
}

#[test]
fn calls_between_workflows_are_checked() {
    let repo = tempfile::tempdir().unwrap();
    let workflows = repo.path().join(".github/workflows");
    fs::create_dir_all(&workflows).unwrap();
    fs::write(
        workflows.join("called.yml"),
        "on:\n  workflow_call:\n    inputs:\n      target:\n        type: string\n        required: true\njobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n",
    )
    .unwrap();
    fs::write(
        workflows.join("caller.yml"),
        "on: push\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n    with:\n      tagret: linux\n  gone:\n    uses: ./.github/workflows/gone.yml\n",
    )
    .unwrap();

    let output = check(&[repo.path()]);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output),
        [
            ".github/workflows/caller.yml:4:11: error: job \"call\" does not pass the required input \"target\" of \"./.github/workflows/called.yml\"",
            ".github/workflows/caller.yml:6:7: error: input \"tagret\" in job \"call\" is not defined by \"./.github/workflows/called.yml\"; it defines \"target\"",
            ".github/workflows/caller.yml:8:11: error: reusable workflow \"./.github/workflows/gone.yml\" called by job \"gone\" does not exist",
            "checked 2 workflow files: 3 errors, 0 warnings",
        ]
    );
}

#[test]
fn closed_stdout_exits_without_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let invalid = corpus("invalid").join("missing-runs-on.yml");

    let output = htci()
        .arg("check")
        .arg(&invalid)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn device_path_is_invalid_invocation() {
    let output = check(&[Path::new("/dev/null")]);

    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        "error: /dev/null is not a regular file or a directory; pass a repository directory \
         or a workflow file"
    );
}
