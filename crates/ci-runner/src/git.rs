//! Reading the repository under test with the `git` command.
//!
//! Every command runs with `--no-optional-locks`, so that reading the
//! status never rewrites the user's index: the user's checkout is only
//! read, never modified.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Errors of reading the repository.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("repository path {0} does not exist; pass the path of a git checkout")]
    Missing(PathBuf),
    #[error("{0} is not a git repository; run `git init` and commit, or pass a checkout")]
    NotARepository(PathBuf),
    #[error(
        "{0} is a bare git repository, without a working tree; clone it with git clone {0} and \
         run htci there"
    )]
    Bare(PathBuf),
    #[error("repository {0} has no commit yet; commit once before `htci run`")]
    NoCommit(PathBuf),
    #[error("failed to run `git {args}` in {dir}: {source}")]
    Spawn {
        args: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`git {args}` failed in {dir}: {stderr}")]
    Failed {
        args: String,
        dir: PathBuf,
        stderr: String,
    },
}

/// Facts about the commit under test and its repository.
#[derive(Debug, Clone)]
pub struct RepoInfo {
    /// Top level of the working tree.
    pub root: PathBuf,
    pub sha: String,
    /// Parent commit, or forty zeros for a root commit.
    pub before: String,
    /// Full ref, such as `refs/heads/main`.
    pub git_ref: String,
    pub ref_name: String,
    /// `branch` or `tag`.
    pub ref_type: String,
    /// `owner/name`.
    pub repository: String,
    pub owner: String,
    pub commit_message: String,
    pub commit_timestamp: String,
    pub author_name: String,
    pub author_email: String,
    /// Whether the working tree differs from the commit (untracked files
    /// that are not ignored count).
    pub dirty: bool,
}

/// Runs `git` in `dir` and returns its standard output.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = Command::new("git")
        .arg("--no-optional-locks")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|source| GitError::Spawn {
            args: args.join(" "),
            dir: dir.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            dir: dir.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Reads the commit, ref, repository name and dirtiness of `path`.
pub fn inspect(path: &Path) -> Result<RepoInfo, GitError> {
    if !path.exists() {
        return Err(GitError::Missing(path.to_path_buf()));
    }
    let root = git(path, &["rev-parse", "--show-toplevel"]).map_err(|_| {
        let bare = git(path, &["rev-parse", "--is-bare-repository"]);
        if bare.is_ok_and(|answer| answer.trim() == "true") {
            GitError::Bare(path.to_path_buf())
        } else {
            GitError::NotARepository(path.to_path_buf())
        }
    })?;
    let root = PathBuf::from(root.trim());

    let sha = git(
        &root,
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )
    .map_err(|_| GitError::NoCommit(root.clone()))?
    .trim()
    .to_string();

    let log = git(
        &root,
        &["log", "-1", "--format=%P%x00%cI%x00%an%x00%ae%x00%B", &sha],
    )?;
    let mut fields = log.splitn(5, '\0');
    let parents = fields.next().unwrap_or_default();
    let before = parents
        .split_whitespace()
        .next()
        .map(str::to_string)
        .unwrap_or_else(|| "0".repeat(40));
    let commit_timestamp = fields.next().unwrap_or_default().to_string();
    let author_name = fields.next().unwrap_or_default().to_string();
    let author_email = fields.next().unwrap_or_default().to_string();
    let commit_message = fields.next().unwrap_or_default().trim_end().to_string();

    let (git_ref, ref_name, ref_type) = resolve_ref(&root)?;
    let (owner, name) = repository_name(&root);
    let dirty = !changed_paths(&root)?.is_empty();

    Ok(RepoInfo {
        root,
        sha,
        before,
        git_ref,
        ref_name,
        ref_type,
        repository: format!("{owner}/{name}"),
        owner,
        commit_message,
        commit_timestamp,
        author_name,
        author_email,
        dirty,
    })
}

/// Resolves the ref: the branch checked out, else a tag at HEAD. A
/// detached HEAD at no tag has no ref, all three values empty: GitHub sets
/// `GITHUB_REF` only when a branch or tag is available, and a branch or tag
/// filter under `on:` then matches nothing.
fn resolve_ref(root: &Path) -> Result<(String, String, String), GitError> {
    if let Ok(full) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        let full = full.trim().to_string();
        let name = full
            .strip_prefix("refs/heads/")
            .unwrap_or(&full)
            .to_string();
        return Ok((full, name, "branch".into()));
    }
    let tags = git(root, &["tag", "--points-at", "HEAD"])?;
    if let Some(tag) = tags.lines().next().filter(|t| !t.is_empty()) {
        return Ok((format!("refs/tags/{tag}"), tag.to_string(), "tag".into()));
    }
    Ok((String::new(), String::new(), String::new()))
}

/// `(owner, name)` from the `origin` remote URL, else `local` and the
/// directory name.
fn repository_name(root: &Path) -> (String, String) {
    let dir_name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repository".into());
    let Ok(url) = git(root, &["config", "--get", "remote.origin.url"]) else {
        return ("local".into(), dir_name);
    };
    parse_remote_url(url.trim()).unwrap_or(("local".into(), dir_name))
}

/// Parses `owner/name` out of `https://host/owner/name.git`,
/// `git@host:owner/name.git` or `/path/owner/name`.
pub fn parse_remote_url(url: &str) -> Option<(String, String)> {
    let path = if let Some((_, rest)) = url.split_once("://") {
        rest.split_once('/').map(|(_, path)| path)?
    } else if let Some((_, path)) = url.split_once(':').filter(|(host, _)| !host.contains('/')) {
        path
    } else {
        url
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.rsplit('/').filter(|p| !p.is_empty());
    let name = parts.next()?;
    let owner = parts.next()?;
    Some((owner.to_string(), name.to_string()))
}

/// A path that differs between the commit and the working tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedPath {
    /// Relative to the repository root.
    pub path: String,
    /// False when the path was deleted from the working tree.
    pub exists: bool,
}

/// Tracked files changed against HEAD (staged or not, deleted included)
/// and untracked files that are not ignored.
pub fn changed_paths(root: &Path) -> Result<Vec<ChangedPath>, GitError> {
    let tracked = git(root, &["diff", "HEAD", "--name-only", "--no-renames", "-z"])?;
    let untracked = git(root, &["ls-files", "--others", "--exclude-standard", "-z"])?;

    let mut paths: Vec<String> = tracked
        .split('\0')
        .chain(untracked.split('\0'))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    paths.sort();
    paths.dedup();

    Ok(paths
        .into_iter()
        .map(|path| {
            let exists = root.join(&path).symlink_metadata().is_ok();
            ChangedPath { path, exists }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_url_forms() {
        let expected = Some(("octo".to_string(), "repo".to_string()));
        assert_eq!(
            parse_remote_url("https://github.com/octo/repo.git"),
            expected
        );
        assert_eq!(parse_remote_url("https://github.com/octo/repo"), expected);
        assert_eq!(parse_remote_url("git@github.com:octo/repo.git"), expected);
        assert_eq!(
            parse_remote_url("ssh://git@host:22/octo/repo.git"),
            expected
        );
        assert_eq!(parse_remote_url("/srv/git/octo/repo.git"), expected);
        assert_eq!(parse_remote_url("repo"), None);
    }
}
