//! The environment files a step writes to talk back to the runner:
//! `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY`.
//!
//! `GITHUB_OUTPUT` and `GITHUB_ENV` hold `NAME=value` lines and
//! `NAME<<DELIMITER` blocks whose value runs up to a line equal to the
//! delimiter. As in GitHub's runner, an unterminated block is an error,
//! and so is a value line that contains the delimiter. `GITHUB_PATH`
//! contains one directory per line.

use std::path::{Path, PathBuf};

/// Errors in an environment file, naming the file and the line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileCommandError {
    #[error(
        "{file}:{line}: block `{name}<<{delimiter}` has no closing `{delimiter}` line; end the block with a line holding only the delimiter"
    )]
    Unterminated {
        file: String,
        line: usize,
        name: String,
        delimiter: String,
    },
    #[error(
        "{file}:{line}: the value of `{name}` contains its delimiter `{delimiter}`; choose a delimiter that does not occur in the value"
    )]
    DelimiterInValue {
        file: String,
        line: usize,
        name: String,
        delimiter: String,
    },
    #[error("{file}:{line}: invalid line `{text}`; expected `NAME=value` or `NAME<<DELIMITER`")]
    InvalidLine {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file}:{line}: empty name; write `NAME=value`")]
    EmptyName { file: String, line: usize },
}

/// Parses the `NAME=value` / `NAME<<DELIMITER` format. `file` names the
/// file in errors (for example `GITHUB_OUTPUT`). Pairs come in file order,
/// so a later assignment of the same name wins when collected into a map.
pub fn parse_key_values(
    file: &str,
    content: &str,
) -> Result<Vec<(String, String)>, FileCommandError> {
    let lines: Vec<&str> = content
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut pairs = Vec::new();
    let mut index = 0;

    while index < lines.len() {
        let text = lines[index];
        let line_number = index + 1;
        index += 1;
        if text.trim().is_empty() {
            continue;
        }

        let heredoc = text.find("<<");
        let equals = text.find('=');
        let is_heredoc = match (heredoc, equals) {
            (Some(h), Some(e)) => h < e,
            (Some(_), None) => true,
            _ => false,
        };

        if is_heredoc {
            let position = heredoc.unwrap_or_default();
            let name = text[..position].to_string();
            let delimiter = text[position + 2..].to_string();
            if name.is_empty() {
                return Err(FileCommandError::EmptyName {
                    file: file.to_string(),
                    line: line_number,
                });
            }
            if delimiter.is_empty() {
                return Err(FileCommandError::InvalidLine {
                    file: file.to_string(),
                    line: line_number,
                    text: text.to_string(),
                });
            }

            let mut value_lines = Vec::new();
            let mut closed = false;
            while index < lines.len() {
                let value_line = lines[index];
                index += 1;
                if value_line == delimiter {
                    closed = true;
                    break;
                }
                if value_line.contains(&delimiter) {
                    return Err(FileCommandError::DelimiterInValue {
                        file: file.to_string(),
                        line: index,
                        name,
                        delimiter,
                    });
                }
                value_lines.push(value_line);
            }
            if !closed {
                return Err(FileCommandError::Unterminated {
                    file: file.to_string(),
                    line: line_number,
                    name,
                    delimiter,
                });
            }
            pairs.push((name, value_lines.join("\n")));
            continue;
        }

        let Some(position) = equals else {
            return Err(FileCommandError::InvalidLine {
                file: file.to_string(),
                line: line_number,
                text: text.to_string(),
            });
        };
        let name = &text[..position];
        if name.is_empty() {
            return Err(FileCommandError::EmptyName {
                file: file.to_string(),
                line: line_number,
            });
        }
        pairs.push((name.to_string(), text[position + 1..].to_string()));
    }

    Ok(pairs)
}

/// Parses `GITHUB_PATH`: one directory per non-empty line, in file order.
pub fn parse_path_file(content: &str) -> Vec<String> {
    content
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// The four files of one step, created empty before the step runs.
#[derive(Debug, Clone)]
pub struct StepFiles {
    pub output: PathBuf,
    pub env: PathBuf,
    pub path: PathBuf,
    pub summary: PathBuf,
}

impl StepFiles {
    /// Creates fresh, empty files for step number `index` under `dir`.
    pub fn create(dir: &Path, index: usize) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let files = Self {
            output: dir.join(format!("output_{index}")),
            env: dir.join(format!("env_{index}")),
            path: dir.join(format!("path_{index}")),
            summary: dir.join(format!("step_summary_{index}")),
        };
        for file in [&files.output, &files.env, &files.path, &files.summary] {
            crate::untrusted_fs::write_new_file(file, b"")?;
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(content: &str) -> Vec<(String, String)> {
        parse_key_values("GITHUB_OUTPUT", content).unwrap()
    }

    #[test]
    fn simple_assignments() {
        assert_eq!(
            pairs("a=1\nb=x=y\n\nc=\n"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x=y".into()),
                ("c".into(), "".into())
            ]
        );
    }

    #[test]
    fn heredoc_block() {
        assert_eq!(
            pairs("text<<EOF\nline one\nline two\nEOF\nafter=1\n"),
            vec![
                ("text".into(), "line one\nline two".into()),
                ("after".into(), "1".into())
            ]
        );
    }

    #[test]
    fn empty_heredoc_block() {
        assert_eq!(pairs("v<<END\nEND\n"), vec![("v".into(), "".into())]);
    }

    #[test]
    fn crlf_lines() {
        assert_eq!(
            pairs("a=1\r\nb<<E\r\nx\r\nE\r\n"),
            vec![("a".into(), "1".into()), ("b".into(), "x".into())]
        );
    }

    #[test]
    fn unterminated_block_names_line() {
        let error = parse_key_values("GITHUB_ENV", "ok=1\nbig<<EOF\nvalue\n").unwrap_err();
        assert_eq!(
            error,
            FileCommandError::Unterminated {
                file: "GITHUB_ENV".into(),
                line: 2,
                name: "big".into(),
                delimiter: "EOF".into()
            }
        );
        assert!(error.to_string().starts_with("GITHUB_ENV:2: "));
    }

    #[test]
    fn delimiter_inside_value_rejected() {
        let error = parse_key_values("GITHUB_OUTPUT", "v<<EOF\nsome EOF here\nEOF\n").unwrap_err();
        assert!(matches!(
            error,
            FileCommandError::DelimiterInValue { line: 2, .. }
        ));
    }

    #[test]
    fn line_without_equals_rejected() {
        let error = parse_key_values("GITHUB_OUTPUT", "nonsense\n").unwrap_err();
        assert!(matches!(
            error,
            FileCommandError::InvalidLine { line: 1, .. }
        ));
    }

    #[test]
    fn empty_name_rejected() {
        let error = parse_key_values("GITHUB_OUTPUT", "=v\n").unwrap_err();
        assert!(matches!(error, FileCommandError::EmptyName { line: 1, .. }));
    }

    #[test]
    fn path_file_lines() {
        assert_eq!(parse_path_file("/a\n\n /b \n"), vec!["/a", "/b"]);
    }
}
