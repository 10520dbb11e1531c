//! `htci check`: validates workflow files and prints their diagnostics like
//! a linter, one `file:line:column: severity: message` per line, followed
//! by a count. For a repository it also checks the calls between its
//! workflows: a local reusable workflow must exist and declare the inputs
//! and secrets passed to it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ci_workflow::diagnostic::{Diagnostic, Severity};
use ci_workflow::load::{
    LoadError, check_local_calls, check_needs_cycles, discover_workflows, load_workflow_file,
    sort_diagnostics,
};
use ci_workflow::model::Workflow;
use clap::Args;

/// Exit status when the workflows have errors.
const EXIT_ERRORS: u8 = 1;
/// Exit status when there is nothing to check (a missing path or a
/// repository without workflows) or the report cannot be written.
const EXIT_INVALID: u8 = 2;

#[derive(Args)]
#[command(
    after_help = "Exit status: 0 when no workflow has an error (warnings allowed), \
                        1 when a workflow has an error, 2 when PATH does not exist or \
                        contains no workflow."
)]
pub struct CheckArgs {
    /// A repository (every `.github/workflows/*.yml` and `*.yaml` in it is
    /// checked) or one workflow file.
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: PathBuf,
}

pub fn execute(args: &CheckArgs) -> ExitCode {
    let files = match workflow_files(&args.path) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_INVALID);
        }
    };

    let mut checked: Vec<CheckedFile> = files
        .iter()
        .map(|(path, display_path)| check_file(path, display_path))
        .collect();
    if args.path.is_dir() {
        add_call_diagnostics(&args.path, &mut checked);
    }

    let mut report = String::new();
    let mut errors = 0;
    let mut warnings = 0;
    for file in &mut checked {
        sort_diagnostics(&mut file.diagnostics);
        for diagnostic in &file.diagnostics {
            report.push_str(&format!("{diagnostic}\n"));
            if diagnostic.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
        }
    }
    report.push_str(&format!(
        "checked {}: {}, {}\n",
        plural(files.len(), "workflow file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    ));
    if let Err(error) = write_stdout(&report) {
        eprintln!("error: failed to write the diagnostics to standard output: {error}");
        return ExitCode::from(EXIT_INVALID);
    }

    if errors > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// One checked file: its diagnostics, and its workflow when it loaded.
struct CheckedFile {
    diagnostics: Vec<Diagnostic>,
    workflow: Option<Workflow>,
}

/// Adds the diagnostics of calls between the repository's workflows (a
/// local reusable workflow that is missing or called with undeclared
/// inputs) to the calling files.
fn add_call_diagnostics(repo_root: &Path, checked: &mut [CheckedFile]) {
    let workflows: Vec<&Workflow> = checked.iter().filter_map(|f| f.workflow.as_ref()).collect();
    let call_diagnostics = check_local_calls(repo_root, &workflows);
    for diagnostic in call_diagnostics {
        let caller = checked.iter_mut().find(|file| {
            file.workflow
                .as_ref()
                .is_some_and(|workflow| workflow.path == diagnostic.path)
        });
        if let Some(caller) = caller {
            caller.diagnostics.push(diagnostic);
        }
    }
}

/// Lists the files to check with the path to show for each: relative to
/// the repository for a repository, as given for a single file.
fn workflow_files(path: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    if path.is_file() {
        return Ok(vec![(path.to_path_buf(), path.display().to_string())]);
    }
    if !path.is_dir() {
        let problem = if path.exists() {
            "is not a regular file or a directory"
        } else {
            "does not exist"
        };
        return Err(format!(
            "{} {problem}; pass a repository directory or a workflow file",
            path.display()
        ));
    }

    let files = discover_workflows(path);
    if files.is_empty() {
        return Err(format!(
            "no workflow files in {}: expected .github/workflows/*.yml or *.yaml",
            path.join(".github").join("workflows").display()
        ));
    }
    Ok(files
        .into_iter()
        .map(|file| {
            let display = file
                .strip_prefix(path)
                .unwrap_or(&file)
                .display()
                .to_string();
            (file, display)
        })
        .collect())
}

/// Loads one file. Diagnostics and the workflow's path show
/// `display_path`.
fn check_file(path: &Path, display_path: &str) -> CheckedFile {
    let (mut diagnostics, workflow) = match load_workflow_file(path) {
        Ok(loaded) => (loaded.warnings, Some(loaded.workflow)),
        Err(LoadError::Read { source, .. }) => {
            let diagnostic = Diagnostic {
                path: display_path.to_string(),
                line: 1,
                column: 1,
                severity: Severity::Error,
                message: format!("failed to read the file: {source}"),
            };
            (vec![diagnostic], None)
        }
        Err(error) => (error.diagnostics(), None),
    };
    for diagnostic in &mut diagnostics {
        diagnostic.path = display_path.to_string();
    }
    let workflow = workflow.map(|mut workflow| {
        workflow.path = display_path.to_string();
        workflow
    });
    if let Some(cycle) = workflow.as_ref().and_then(check_needs_cycles) {
        diagnostics.push(cycle);
    }
    CheckedFile {
        diagnostics,
        workflow,
    }
}

/// Writes `text` to standard output. A reader that closed the pipe early,
/// as `htci check | head` does, is not an error: the exit status still
/// reports the diagnostics.
pub(crate) fn write_stdout(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
