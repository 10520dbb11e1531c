//! Diagnostics: errors and warnings about a workflow file, each pointing at
//! a line and column.
//!
//! A diagnostic prints like a compiler or linter message,
//! `path:line:column: severity: message`, so editors and terminals can jump
//! to the place. Errors make a workflow unusable; warnings (such as an
//! unknown key) leave it usable.

use std::fmt;

use serde::Serialize;

use crate::yaml::Position;

/// Severity of a diagnostic. Serializes as `"error"` or `"warning"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The workflow cannot be used.
    Error,
    /// The workflow can be used, but something in it is probably a mistake.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One message about a place in a workflow file. Serializes as a JSON
/// object with the field names below, for tools that read `htci` output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Diagnostic {
    /// The file as it should be shown to the user (usually relative to the
    /// repository root, such as `.github/workflows/ci.yml`).
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub severity: Severity,
    /// Lower-case message without a trailing period.
    pub message: String,
}

impl Diagnostic {
    /// Creates an error at `pos` in `path`.
    pub fn error(path: &str, pos: Position, message: impl Into<String>) -> Self {
        Self::new(path, pos, Severity::Error, message)
    }

    /// Creates a warning at `pos` in `path`.
    pub fn warning(path: &str, pos: Position, message: impl Into<String>) -> Self {
        Self::new(path, pos, Severity::Warning, message)
    }

    fn new(path: &str, pos: Position, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_string(),
            line: pos.line,
            column: pos.column,
            severity,
            message: message.into(),
        }
    }

    /// Returns the position the diagnostic points at.
    pub fn position(&self) -> Position {
        Position::new(self.line, self.column)
    }

    /// Returns true for an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// Formats as `path:line:column: severity: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.path, self.line, self.column, self.severity, self.message
        )
    }
}

/// Suggests the candidate closest to `word` when it is close enough to be
/// a likely typo: within an edit distance of one third of the word's length
/// (at least 1, at most 3), ignoring case and `-`/`_` differences.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let normalize = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let word_normal = normalize(word);
    let max_distance = (word.chars().count() / 3).clamp(1, 3);

    candidates
        .into_iter()
        .map(|candidate| {
            (
                edit_distance(&word_normal, &normalize(candidate)),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= max_distance)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance between two strings in characters, where an insertion,
/// a deletion, a substitution or a swap of two adjacent characters each
/// count one (the optimal string alignment distance), so that typos such
/// as "wtih" are one edit from "with".
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    let cell = |i: usize, j: usize| i * width + j;

    for i in 0..=a.len() {
        table[cell(i, 0)] = i;
    }
    for j in 0..=b.len() {
        table[cell(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[cell(i - 1, j)] + 1)
                .min(table[cell(i, j - 1)] + 1)
                .min(table[cell(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[cell(i - 2, j - 2)] + 1);
            }
            table[cell(i, j)] = best;
        }
    }
    table[cell(a.len(), b.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_linter_style() {
        let diagnostic = Diagnostic::error(
            ".github/workflows/ci.yml",
            Position::new(12, 7),
            "\"runs-on\" is required in job \"build\"",
        );
        assert_eq!(
            diagnostic.to_string(),
            ".github/workflows/ci.yml:12:7: error: \"runs-on\" is required in job \"build\""
        );
    }

    #[test]
    fn serializes_as_json_object() {
        let diagnostic = Diagnostic::warning("ci.yml", Position::new(3, 5), "unknown key \"x\"");
        let json = serde_json::to_value(&diagnostic).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "path": "ci.yml",
                "line": 3,
                "column": 5,
                "severity": "warning",
                "message": "unknown key \"x\"",
            })
        );
    }

    #[test]
    fn suggestion_for_typo() {
        let keys = ["runs-on", "needs", "steps"];
        assert_eq!(did_you_mean("runs_on", keys), Some("runs-on"));
        assert_eq!(did_you_mean("runson", keys), Some("runs-on"));
        assert_eq!(did_you_mean("step", keys), Some("steps"));
        assert_eq!(did_you_mean("services", keys), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("wtih", "with"), 1);
        assert_eq!(edit_distance("nmae", "name"), 1);
    }
}
