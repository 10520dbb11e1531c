//! `hashFiles(patterns...)`: one SHA-256 digest over a set of workspace
//! files.
//!
//! Each argument contains one or more glob patterns, one per line, relative
//! to the workspace root. A leading `/` also means the workspace root. `*`
//! and `?` stay within one path component, `**` crosses directories, and a
//! pattern that matches a directory matches every file below it. A pattern
//! starting with `!` excludes what it matches. The patterns apply in order,
//! so a later pattern can include again what an earlier `!` pattern
//! excluded. The matched files are sorted by their path relative to the
//! workspace, and the result is the lower-case hex SHA-256 of the
//! concatenated binary SHA-256 digests of their contents. When no file
//! matches, the result is the empty string.
//!
//! Only regular files inside the workspace are read. A symbolic link to a
//! file counts when it resolves to a regular file inside the workspace.
//! Links to directories are followed only when the first argument is
//! `--follow-symbolic-links`, as on GitHub, and then only into directories
//! inside the workspace. Unlike GitHub's runner, a link that points outside
//! the workspace is skipped rather than read.

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::error::ExprError;

/// One compiled pattern line.
struct PatternLine {
    matcher: GlobMatcher,
    exclude: bool,
    /// The leading path components without glob characters, relative to
    /// the workspace root: the only directory the pattern can match in.
    literal_prefix: String,
}

/// Whether the walk follows symbolic links to directories.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Links {
    Skip,
    Follow,
}

/// Computes `hashFiles` over `workspace` for the given arguments: an
/// optional `--follow-symbolic-links` followed by pattern arguments.
pub(crate) fn hash_files(
    workspace: Option<&Path>,
    arguments: &[String],
) -> Result<String, ExprError> {
    let (links, patterns) = split_option(arguments)?;
    let workspace = workspace.ok_or_else(|| {
        error(
            "no workspace directory is set, so there are no files to hash; \
         pass one with --workspace or run inside a job"
                .to_owned(),
        )
    })?;
    let root = workspace.canonicalize().map_err(|source| {
        error(format!(
            "cannot open the workspace {}: {source}",
            workspace.display()
        ))
    })?;
    let lines = compile_patterns(&root, patterns)?;

    let mut files = Vec::new();
    for start in walk_starts(&root, &lines, links) {
        files.extend(matching_files(&root, &start, &lines, links)?);
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Ok(String::new());
    }

    let mut outer = Sha256::new();
    for (_, path) in &files {
        outer.update(hash_file(path)?);
    }
    Ok(hex::encode(outer.finalize()))
}

fn error(message: String) -> ExprError {
    ExprError::Function {
        function: "hashFiles",
        message,
    }
}

/// Splits off the `--follow-symbolic-links` option, which GitHub accepts as
/// the first argument only.
fn split_option(arguments: &[String]) -> Result<(Links, &[String]), ExprError> {
    match arguments.first() {
        Some(first) if first.starts_with("--") => {
            if first.eq_ignore_ascii_case("--follow-symbolic-links") {
                Ok((Links::Follow, &arguments[1..]))
            } else {
                Err(error(format!(
                    "invalid option '{first}'; the only option is '--follow-symbolic-links'"
                )))
            }
        }
        _ => Ok((Links::Skip, arguments)),
    }
}

fn compile_patterns(root: &Path, arguments: &[String]) -> Result<Vec<PatternLine>, ExprError> {
    let mut lines = Vec::new();
    for line in arguments.iter().flat_map(|argument| argument.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (exclude, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, line),
        };
        let relative = relative_pattern(root, pattern);
        let matcher = GlobBuilder::new(&relative)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|source| error(format!("invalid pattern '{pattern}': {source}")))?
            .compile_matcher();
        let literal_prefix = literal_prefix(&relative);
        lines.push(PatternLine {
            matcher,
            exclude,
            literal_prefix,
        });
    }
    Ok(lines)
}

/// Turns a pattern into one relative to the workspace root. A pattern that
/// starts with the workspace's absolute path loses that prefix, and any
/// other leading `/` means the workspace root, as in GitHub's
/// `hashFiles('/src/*.js')`.
fn relative_pattern(root: &Path, pattern: &str) -> String {
    let root = root.to_string_lossy();
    let mut pattern = match pattern.strip_prefix(root.as_ref()) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => pattern,
    };
    loop {
        let stripped = pattern.trim_start_matches('/');
        let stripped = stripped.strip_prefix("./").unwrap_or(stripped);
        if stripped == pattern {
            break;
        }
        pattern = stripped;
    }
    let trimmed = pattern.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        "**".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Returns the leading components of a relative pattern that contain no
/// glob characters, joined with `/`. The last component is left out, because
/// it may name a file.
fn literal_prefix(pattern: &str) -> String {
    let components: Vec<&str> = pattern.split('/').collect();
    let literal = components[..components.len() - 1]
        .iter()
        .take_while(|component| !component.contains(['*', '?', '[', ']', '{', '}', '\\']))
        .copied()
        .collect::<Vec<_>>();
    literal.join("/")
}

/// Returns the directories to walk: the literal prefixes of the include
/// patterns, or the whole workspace when one pattern starts with a glob. A
/// prefix that leaves the workspace or does not exist is dropped, because no
/// file below it can be selected, and so is one that passes through a
/// symbolic link unless links are followed.
fn walk_starts(root: &Path, lines: &[PatternLine], links: Links) -> Vec<PathBuf> {
    let prefixes: Vec<&str> = lines
        .iter()
        .filter(|line| !line.exclude)
        .map(|line| line.literal_prefix.as_str())
        .collect();
    if prefixes.contains(&"") {
        return vec![root.to_owned()];
    }

    let mut starts: Vec<PathBuf> = Vec::new();
    for prefix in prefixes {
        if prefix
            .split('/')
            .any(|component| component == ".." || component == ".")
        {
            continue;
        }
        let start = root.join(prefix);
        let Ok(canonical) = start.canonicalize() else {
            continue;
        };
        let allowed = match links {
            Links::Skip => canonical == start,
            Links::Follow => canonical.starts_with(root),
        };
        if allowed && canonical.is_dir() {
            starts.push(start);
        }
    }
    starts.sort();
    starts.dedup();
    let nested = |start: &PathBuf, all: &[PathBuf]| {
        all.iter()
            .any(|other| other != start && start.starts_with(other))
    };
    let all = starts.clone();
    starts.retain(|start| !nested(start, &all));
    starts
}

/// Walks `start` and returns `(relative path, path to read)` for every
/// matched regular file below it.
fn matching_files(
    root: &Path,
    start: &Path,
    lines: &[PatternLine],
    links: Links,
) -> Result<Vec<(String, PathBuf)>, ExprError> {
    let walk = WalkDir::new(start)
        .follow_links(links == Links::Follow)
        .min_depth(1)
        .into_iter()
        // Never descend into a directory outside the workspace, which a
        // followed link could lead to.
        .filter_entry(|entry| !entry.path_is_symlink() || resolves_inside(root, entry.path()));

    let mut files = Vec::new();
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            // A link cycle only repeats files that the walk already visits.
            Err(error) if error.loop_ancestor().is_some() => continue,
            Err(source) => return Err(error(format!("cannot list the workspace: {source}"))),
        };
        if entry.file_type().is_dir() {
            continue;
        }
        let Some(relative) = relative_slash_path(root, entry.path()) else {
            continue;
        };
        if !is_selected(&relative, lines) {
            continue;
        }
        if entry.path_is_symlink() || links == Links::Follow {
            if let Some(target) = resolve_inside(root, entry.path()) {
                files.push((relative, target));
            }
        } else if entry.file_type().is_file() {
            files.push((relative, entry.path().to_owned()));
        }
    }
    Ok(files)
}

fn relative_slash_path(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// Applies the pattern lines in order to a path and to each of its parent
/// directories: the last line that matches decides.
fn is_selected(relative: &str, lines: &[PatternLine]) -> bool {
    let mut selected = false;
    for line in lines {
        if line.exclude == selected && matches_path_or_parent(relative, &line.matcher) {
            selected = !line.exclude;
        }
    }
    selected
}

fn matches_path_or_parent(relative: &str, matcher: &GlobMatcher) -> bool {
    if matcher.is_match(relative) {
        return true;
    }
    relative
        .match_indices('/')
        .any(|(position, _)| matcher.is_match(&relative[..position]))
}

fn resolves_inside(root: &Path, path: &Path) -> bool {
    path.canonicalize()
        .is_ok_and(|target| target.starts_with(root))
}

/// Resolves a path that may pass through symbolic links and returns the
/// target when that is a regular file inside the workspace.
// NOTE: a link swapped between this check and the read could still point
// elsewhere; the workspace belongs to the job, whose own files these are.
fn resolve_inside(root: &Path, link: &Path) -> Option<PathBuf> {
    let target = link.canonicalize().ok()?;
    let metadata = target.metadata().ok()?;
    (target.starts_with(root) && metadata.is_file()).then_some(target)
}

fn hash_file(path: &Path) -> Result<[u8; 32], ExprError> {
    let read_error = |source: io::Error| error(format!("cannot read {}: {source}", path.display()));
    let mut file = File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(read_error)?;
    Ok(hasher.finalize().into())
}
