//! Property tests: the loader never panics, whatever it is given, and its
//! result keeps its contract (a workflow only without errors, errors never
//! empty, every diagnostic inside the text).

use ci_workflow::diagnostic::Severity;
use ci_workflow::load::{LoadError, load_workflow_str};
use proptest::prelude::*;

/// Keys of the workflow syntax, so that generated mappings often hit the
/// loader's real code paths instead of only the unknown-key warning.
const KEYS: &[&str] = &[
    "on",
    "jobs",
    "name",
    "run-name",
    "env",
    "defaults",
    "run",
    "shell",
    "concurrency",
    "group",
    "cancel-in-progress",
    "permissions",
    "contents",
    "push",
    "pull_request",
    "branches",
    "tags",
    "paths",
    "types",
    "schedule",
    "cron",
    "workflow_dispatch",
    "workflow_call",
    "inputs",
    "outputs",
    "secrets",
    "type",
    "default",
    "options",
    "required",
    "build",
    "test",
    "runs-on",
    "needs",
    "if",
    "strategy",
    "matrix",
    "include",
    "exclude",
    "fail-fast",
    "max-parallel",
    "continue-on-error",
    "timeout-minutes",
    "container",
    "services",
    "image",
    "credentials",
    "ports",
    "volumes",
    "environment",
    "url",
    "steps",
    "uses",
    "with",
    "id",
    "working-directory",
    "labels",
    "<<",
];

const SCALARS: &[&str] = &[
    "push",
    "ubuntu-latest",
    "make",
    "true",
    "false",
    "null",
    "~",
    "0",
    "-1",
    "3.10",
    "0x1F",
    "1e3",
    ".inf",
    "${{ github.sha }}",
    "${{ matrix.os",
    "${{ 1 + }}",
    "'quoted'",
    "\"dq ${{ x }}\"",
    "read-all",
    "write-all",
    "inherit",
    "choice",
    "boolean",
    "actions/checkout@v4",
    "./.github/workflows/x.yml",
    "docker://alpine",
    "*/5 * * * *",
    "",
    "[]",
    "{}",
    "é",
    "on",
    "yes",
];

/// A YAML-like value to render as text.
#[derive(Debug, Clone)]
enum Tree {
    Scalar(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let key = prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-z_][a-z0-9_-]{0,8}",
    ];
    let scalar = prop_oneof![
        4 => prop::sample::select(SCALARS).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
    ];
    scalar
        .prop_map(Tree::Scalar)
        .prop_recursive(6, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Tree::List),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(Tree::Map),
            ]
        })
}

/// Renders a tree in block style, with flow style for some nodes.
fn render(tree: &Tree, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match tree {
        Tree::Scalar(text) => {
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        Tree::List(items) if items.is_empty() => out.push_str(" []\n"),
        Tree::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Tree::List(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&pad);
                out.push('-');
                render(item, indent + 2, out);
            }
        }
        Tree::Map(entries) => {
            out.push('\n');
            for (key, value) in entries {
                out.push_str(&pad);
                out.push_str(key);
                out.push(':');
                render(value, indent + 2, out);
            }
        }
    }
}

fn render_document(entries: &[(String, Tree)]) -> String {
    let mut out = String::new();
    for (key, value) in entries {
        out.push_str(key);
        out.push(':');
        render(value, 2, &mut out);
    }
    out
}

/// Checks the loader's contract on one text.
fn check_contract(text: &str) -> Result<(), TestCaseError> {
    let line_count = text.split('\n').count() + 1;
    match load_workflow_str("p.yml", text) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                prop_assert_eq!(warning.severity, Severity::Warning);
                prop_assert!(warning.line >= 1 && warning.line <= line_count);
                prop_assert!(warning.column >= 1);
            }
            prop_assert!(!loaded.workflow.jobs.is_empty());
        }
        Err(LoadError::Invalid {
            errors, warnings, ..
        }) => {
            prop_assert!(!errors.is_empty());
            for error in &errors {
                prop_assert_eq!(error.severity, Severity::Error);
                prop_assert!(error.line >= 1 && error.line <= line_count, "{}", error);
                prop_assert!(error.column >= 1, "{}", error);
            }
            for warning in &warnings {
                prop_assert_eq!(warning.severity, Severity::Warning);
            }
        }
        Err(LoadError::Read { .. }) => prop_assert!(false, "read error from a string"),
    }
    Ok(())
}

/// Returns the number of cases per property: `PROPTEST_CASES` when set,
/// for longer local runs, else 512.
fn case_count() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(case_count()))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check_contract(&text)?;
    }

    #[test]
    fn yaml_punctuation_never_panics(text in "[-:{}\\[\\],&*!|>'\"#%@` \\n a-z0-9$]{0,300}") {
        check_contract(&text)?;
    }

    #[test]
    fn workflow_shaped_documents_never_panic(
        entries in prop::collection::vec(
            (prop::sample::select(KEYS).prop_map(str::to_string), tree()),
            0..6,
        )
    ) {
        check_contract(&render_document(&entries))?;
    }

    #[test]
    fn valid_skeleton_with_random_job_never_panics(
        job in prop::collection::vec(
            (prop::sample::select(KEYS).prop_map(str::to_string), tree()),
            0..8,
        )
    ) {
        let mut text = "on: push\njobs:\n  build:\n".to_string();
        for (key, value) in &job {
            text.push_str("    ");
            text.push_str(key);
            text.push(':');
            render(value, 6, &mut text);
        }
        check_contract(&text)?;
    }
}
