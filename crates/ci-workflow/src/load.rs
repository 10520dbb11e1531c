//! Loading workflow files into the [`model`](crate::model).
//!
//! Loading is all or nothing: [`load_workflow_str`] returns a [`Workflow`]
//! only when the file has no error, together with its warnings. Otherwise
//! it returns every error it found, so a user can fix them in one pass, and
//! no job of a broken file ever runs.
//!
//! Errors are what GitHub rejects: YAML syntax, wrong types, missing
//! required keys, invalid ids, unknown `needs`, expression syntax, invalid
//! filters and cron entries. Warnings are what is valid but probably
//! wrong: unknown keys, numbers that read differently than written
//! (`3.10` is 3.1), references such as `steps.<id>` that name nothing,
//! `if:` conditions that are always true, and contexts read where GitHub
//! does not provide them. Two checks need more than one file or the
//! planner's graph and are separate functions: [`check_local_calls`] and
//! [`check_needs_cycles`].
//!
//! ```
//! use ci_workflow::load::load_workflow_str;
//!
//! let loaded = load_workflow_str(
//!     ".github/workflows/ci.yml",
//!     "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo test\n",
//! )
//! .unwrap();
//! assert_eq!(loaded.workflow.jobs.keys().collect::<Vec<_>>(), ["test"]);
//! assert!(loaded.warnings.is_empty());
//! ```

mod calls;
mod checks;
mod contexts;
mod job;
mod on;
mod reader;
mod references;
mod workflow;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::model::Workflow;
use crate::yaml::{self, Limits};

pub use calls::check_local_calls;
pub use checks::check_needs_cycles;
use reader::Reader;

/// A workflow that loaded without errors, and the warnings about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub workflow: Workflow,
    /// Warnings, sorted by position.
    pub warnings: Vec<Diagnostic>,
}

/// Error from loading a workflow file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("failed to read workflow file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file has errors; each one is a diagnostic with its position.
    #[error("workflow file {path} has {} error(s), the first: {}", errors.len(), first_message(errors))]
    Invalid {
        path: String,
        /// Errors, sorted by position; never empty.
        errors: Vec<Diagnostic>,
        /// Warnings found along the way, sorted by position.
        warnings: Vec<Diagnostic>,
    },
}

fn first_message(errors: &[Diagnostic]) -> String {
    errors.first().map(ToString::to_string).unwrap_or_default()
}

impl LoadError {
    /// Returns every diagnostic (errors and warnings) sorted by position,
    /// or an empty list for a read error.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            LoadError::Read { .. } => Vec::new(),
            LoadError::Invalid {
                errors, warnings, ..
            } => {
                let mut all: Vec<Diagnostic> = errors.iter().chain(warnings).cloned().collect();
                sort_diagnostics(&mut all);
                all
            }
        }
    }
}

/// Reads and loads the workflow file at `path`. Diagnostics show the path
/// as given. A path that is not a regular file (a directory, a device such
/// as `/dev/zero`, a pipe) is an error, and at most
/// [`Limits::max_bytes`] are read, so a file that grows while being read
/// cannot exhaust memory either.
pub fn load_workflow_file(path: &Path) -> Result<Loaded, LoadError> {
    let display_path = path.display().to_string();
    let limits = Limits::default();
    match read_text(path, &display_path, &limits)? {
        Ok(text) => load_with_limits(&display_path, &text, &limits),
        Err(diagnostic) => Err(invalid(&display_path, vec![diagnostic])),
    }
}

/// Reads a workflow file as UTF-8 text. The outer error is an I/O
/// failure; the inner one a diagnostic for a file that cannot be a
/// workflow.
fn read_text(
    path: &Path,
    display_path: &str,
    limits: &Limits,
) -> Result<Result<String, Diagnostic>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let start = yaml::Position::new(1, 1);
    let too_large = |size: String| {
        let message = format!(
            "file is {size} bytes, larger than the limit of {} bytes",
            limits.max_bytes
        );
        Diagnostic::error(display_path, start, message)
    };

    let metadata = fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        let message =
            "not a regular file: a workflow must be a file, not a directory, device or pipe";
        return Ok(Err(Diagnostic::error(display_path, start, message)));
    }
    if metadata.len() > limits.max_bytes as u64 {
        return Ok(Err(too_large(metadata.len().to_string())));
    }

    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|file| {
            file.take(limits.max_bytes as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(read_error)?;
    if bytes.len() > limits.max_bytes {
        return Ok(Err(too_large(format!("more than {}", limits.max_bytes))));
    }
    Ok(String::from_utf8(bytes).map_err(|error| utf8_diagnostic(display_path, &error)))
}

/// Points at the first byte that is not valid UTF-8.
fn utf8_diagnostic(display_path: &str, error: &std::string::FromUtf8Error) -> Diagnostic {
    let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&valid[line_start..])
        .chars()
        .count()
        + 1;
    Diagnostic::error(
        display_path,
        yaml::Position::new(line, column),
        "file is not valid UTF-8; save it as UTF-8",
    )
}

/// Loads a workflow from `text`. `display_path` is the path shown in
/// diagnostics, usually relative to the repository root.
pub fn load_workflow_str(display_path: &str, text: &str) -> Result<Loaded, LoadError> {
    load_with_limits(display_path, text, &Limits::default())
}

/// Loads a workflow from `text` with explicit parser limits.
pub fn load_with_limits(
    display_path: &str,
    text: &str,
    limits: &Limits,
) -> Result<Loaded, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(diagnostic) = control_character_diagnostic(display_path, text) {
        return Err(invalid(display_path, vec![diagnostic]));
    }
    let document = match yaml::parse(text, limits) {
        Ok(document) => document,
        Err(error) => {
            let diagnostic = Diagnostic::error(display_path, error.pos, error.message);
            return Err(invalid(display_path, vec![diagnostic]));
        }
    };

    let mut reader = Reader::new(display_path, text);
    for duplicate in &document.duplicate_keys {
        reader.error(duplicate.pos, duplicate.message.clone());
    }
    let workflow = match &document.root {
        Some(root) if !root.is_null() => {
            checks::check_merge_keys(&mut reader, root);
            workflow::read_workflow(&mut reader, root)
        }
        _ => {
            reader.error(
                yaml::Position::new(1, 1),
                "workflow file is empty; it needs at least \"on\" and \"jobs\"",
            );
            None
        }
    };

    let (mut errors, mut warnings): (Vec<_>, Vec<_>) = reader
        .diagnostics
        .into_iter()
        .partition(Diagnostic::is_error);
    sort_diagnostics(&mut errors);
    sort_diagnostics(&mut warnings);

    match workflow {
        Some(workflow) if errors.is_empty() => Ok(Loaded { workflow, warnings }),
        _ => {
            if errors.is_empty() {
                // NOTE: every path that returns no workflow records an error;
                // this keeps the contract (errors never empty) if one is
                // missed.
                errors.push(Diagnostic::error(
                    display_path,
                    yaml::Position::new(1, 1),
                    "workflow could not be read",
                ));
            }
            Err(LoadError::Invalid {
                path: display_path.to_string(),
                errors,
                warnings,
            })
        }
    }
}

/// Points at the first control character that YAML 1.2 excludes from a
/// stream: C0 controls other than tab, line feed and carriage return, and
/// DEL. The parser would keep a NUL or an escape sequence in a plain
/// scalar and pass it on to a shell script or a log.
fn control_character_diagnostic(display_path: &str, text: &str) -> Option<Diagnostic> {
    let is_forbidden = |c: char| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r');
    let offset = text.find(is_forbidden)?;
    let character = text[offset..].chars().next()?;

    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let code = u32::from(character);
    Some(Diagnostic::error(
        display_path,
        yaml::Position::new(line, column),
        format!(
            "file contains the control character U+{code:04X}, which YAML does not allow; \
             remove it or write it as an escape such as \"\\x{code:02x}\" in a double-quoted \
             string"
        ),
    ))
}

fn invalid(path: &str, errors: Vec<Diagnostic>) -> LoadError {
    LoadError::Invalid {
        path: path.to_string(),
        errors,
        warnings: Vec::new(),
    }
}

/// Sorts diagnostics by file, line and column, keeping the order of
/// diagnostics at the same place.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
}

/// Lists the workflow files of a repository: `.github/workflows/*.yml` and
/// `*.yaml`, sorted by path. Subdirectories are not searched, as GitHub
/// does not search them. A repository without the directory has none.
///
/// A symbolic link counts only when it points to a regular file inside the
/// repository. An untrusted repository could otherwise link a "workflow"
/// to a file of the runner, such as its key file, and have parts of it
/// echoed in diagnostics.
pub fn discover_workflows(repo_root: &Path) -> Vec<PathBuf> {
    let directory = repo_root.join(".github").join("workflows");
    let Ok(entries) = fs::read_dir(&directory) else {
        return Vec::new();
    };
    let root = fs::canonicalize(repo_root).unwrap_or_else(|_| repo_root.to_path_buf());

    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let path = entry.path();
            let is_yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml") | Some("yaml")
            );
            is_yaml && is_workflow_file(entry, &root)
        })
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    paths
}

/// Returns true for a regular file, or a symbolic link to a regular file,
/// whose resolved path is inside `root` (a canonical path). The resolved
/// path is checked for plain files too, because `.github` or
/// `.github/workflows` may itself be a link out of the repository.
fn is_workflow_file(entry: &fs::DirEntry, root: &Path) -> bool {
    let Ok(file_type) = entry.file_type() else {
        return false;
    };
    if !file_type.is_file() && !file_type.is_symlink() {
        return false;
    }
    match fs::canonicalize(entry.path()) {
        Ok(target) => target.starts_with(root) && target.is_file(),
        Err(_) => false,
    }
}
