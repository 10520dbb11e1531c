//! `htci check`: validates workflow files and prints their diagnostics like
//! a linter, one `file:line:column: severity: message` per line, followed
//! by a count.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ci_workflow::diagnostic::{Diagnostic, Severity};
use ci_workflow::load::{LoadError, discover_workflows, load_workflow_file};
use clap::Args;

/// Exit status when the workflows have errors.
const EXIT_ERRORS: u8 = 1;
/// Exit status when there is nothing to check: a missing path or a
/// repository without workflows.
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

    let mut diagnostics = Vec::new();
    for (path, display_path) in &files {
        diagnostics.extend(check_file(path, display_path));
    }

    for diagnostic in &diagnostics {
        println!("{diagnostic}");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    println!(
        "checked {}: {}, {}",
        plural(files.len(), "workflow file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    );

    if errors > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Lists the files to check with the path to show for each: relative to
/// the repository for a repository, as given for a single file.
fn workflow_files(path: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    if path.is_file() {
        return Ok(vec![(path.to_path_buf(), path.display().to_string())]);
    }
    if !path.is_dir() {
        return Err(format!(
            "{} does not exist; pass a repository directory or a workflow file",
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

/// Loads one file and returns its diagnostics, errors and warnings sorted
/// by position. Diagnostics show `display_path`.
fn check_file(path: &Path, display_path: &str) -> Vec<Diagnostic> {
    let mut diagnostics = match load_workflow_file(path) {
        Ok(loaded) => loaded.warnings,
        Err(LoadError::Read { source, .. }) => vec![Diagnostic {
            path: path.display().to_string(),
            line: 1,
            column: 1,
            severity: Severity::Error,
            message: format!("failed to read the file: {source}"),
        }],
        Err(error) => error.diagnostics(),
    };
    for diagnostic in &mut diagnostics {
        diagnostic.path = display_path.to_string();
    }
    diagnostics
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
