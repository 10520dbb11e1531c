//! Loads the shared workflow corpus (`tests/workflows` at the repository
//! root): every valid file loads without any diagnostic, and every invalid
//! file fails with exactly the diagnostics of its `.expected` file.

use std::fs;
use std::path::{Path, PathBuf};

use ci_workflow::load::{
    LoadError, check_needs_cycles, load_workflow_file, load_workflow_str, sort_diagnostics,
};

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/workflows")
        .join(kind)
}

fn workflow_files(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir(kind))
        .expect("corpus directory exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn valid_corpus_loads_without_diagnostics() {
    let files = workflow_files("valid");
    assert!(files.len() >= 20, "only {} valid workflows", files.len());

    let mut failures = Vec::new();
    for path in &files {
        match load_workflow_file(path) {
            Ok(loaded) => {
                failures.extend(loaded.warnings.iter().map(ToString::to_string));
            }
            Err(error) => match &error {
                LoadError::Invalid { .. } => {
                    failures.extend(error.diagnostics().iter().map(ToString::to_string))
                }
                LoadError::Read { .. } => failures.push(error.to_string()),
            },
        }
    }
    assert!(failures.is_empty(), "diagnostics:\n{}", failures.join("\n"));
}

#[test]
fn invalid_corpus_gives_expected_diagnostics() {
    let files = workflow_files("invalid");
    assert!(files.len() >= 20, "only {} invalid workflows", files.len());

    let mut mismatches = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let display_path = format!(".github/workflows/{name}");
        let text = fs::read_to_string(path).unwrap();
        let expected_path = path.with_extension("expected");
        let expected = fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        let expected: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();

        // The same checks as `htci check` on one file: loading, then the
        // needs cycle check, which loading leaves to the planner.
        let actual: Vec<String> = match load_workflow_str(&display_path, &text) {
            Ok(loaded) => {
                let mut diagnostics = loaded.warnings.clone();
                diagnostics.extend(check_needs_cycles(&loaded.workflow));
                sort_diagnostics(&mut diagnostics);
                diagnostics.iter().map(ToString::to_string).collect()
            }
            Err(error) => error
                .diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        if actual != expected {
            mismatches.push(format!(
                "{name}:\n  expected:\n    {}\n  actual:\n    {}",
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
