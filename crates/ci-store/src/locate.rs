//! Location of a repository's results: its owner npub and repository path.
//!
//! - Owner: the `org_npub` of the repository's `.hashtree/ci.toml`, or,
//!   without one, the runner's own npub (a developer's results for their
//!   own checkout).
//! - Repository path: the path of the `origin` remote URL without a
//!   trailing `.git` (`https://github.com/tools/htci.git` and
//!   `git@github.com:tools/htci.git` both give `tools/htci`,
//!   `htree://npub1…/htci` gives `htci`). Without an `origin` remote, or
//!   for an `origin` that is a local path, the name of the repository's
//!   folder. Characters outside `A-Z a-z 0-9 . _ -` become `_`, and a
//!   leading dot is dropped.
//!
//! `repo_hash` is then the SHA-256 of `<owner-npub>/<repo-path>`
//! ([`ci_core::hash::repo_hash`]).

use std::path::Path;
use std::process::Command;

use ci_core::config::RepoCiConfig;

use crate::error::StoreError;
use crate::path::{MAX_REPO_SEGMENTS, sanitize_segment, validate_npub, validate_repo_path};

/// The owner and path of a repository in the result space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoLocation {
    /// NIP-19 `npub` of the owner.
    pub owner_npub: String,
    /// Repository path below the owner.
    pub repo_path: String,
    /// Source of the owner npub.
    pub owner_source: OwnerSource,
    /// The `origin` URL the path came from; `None` when the folder name
    /// was used.
    pub origin_url: Option<String>,
}

/// Source of [`RepoLocation::owner_npub`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerSource {
    /// `org_npub` in `.hashtree/ci.toml`.
    RepoConfig,
    /// The runner's own npub.
    Runner,
}

impl RepoLocation {
    /// Returns the `repo_hash` of the repository.
    pub fn repo_hash(&self) -> String {
        ci_core::hash::repo_hash(&self.owner_npub, &self.repo_path)
    }
}

/// Finds the owner and path of the repository at `repo_root` for a runner
/// whose npub is `runner_npub`. Runs `git config --get remote.origin.url`.
pub fn locate_repo(repo_root: &Path, runner_npub: &str) -> Result<RepoLocation, StoreError> {
    let config = RepoCiConfig::load(repo_root)?;
    let (owner_npub, owner_source) = match config.org_npub {
        Some(org) => (org, OwnerSource::RepoConfig),
        None => (runner_npub.to_string(), OwnerSource::Runner),
    };
    validate_npub("owner npub", &owner_npub)?;

    let origin_url = origin_url(repo_root);
    let from_url = origin_url.as_deref().and_then(repo_path_from_url);
    let (repo_path, origin_url) = match from_url {
        Some(path) => (path, origin_url),
        None => (folder_name(repo_root), None),
    };
    validate_repo_path(&repo_path)?;

    Ok(RepoLocation {
        owner_npub,
        repo_path,
        owner_source,
        origin_url,
    })
}

/// Returns the `origin` URL, or `None` when git is missing, the folder is
/// no repository or there is no such remote.
fn origin_url(repo_root: &Path) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo_root)
        .args(["config", "--get", "remote.origin.url"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let url = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!url.is_empty()).then_some(url)
}

/// Extracts the repository path from a remote URL: the URL path for
/// `scheme://host/path` and `user@host:path`, `None` for a local path.
pub fn repo_path_from_url(url: &str) -> Option<String> {
    let raw_path = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme == "file" {
            return None;
        }
        // Drop the authority (user, host, port).
        rest.split_once('/').map(|(_, path)| path)?
    } else if let Some((host, path)) = url.split_once(':') {
        // scp-like syntax `user@host:path`; a `/` before the colon means a
        // local path containing a colon.
        if host.contains('/') {
            return None;
        }
        path
    } else {
        return None;
    };

    let trimmed = raw_path.trim_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    let segments: Vec<String> = trimmed
        .split('/')
        .filter(|segment| !segment.is_empty() && *segment != "." && *segment != "..")
        .map(|segment| sanitize_segment(segment, "_"))
        .collect();
    if segments.is_empty() || segments.len() > MAX_REPO_SEGMENTS {
        return None;
    }
    Some(segments.join("/"))
}

fn folder_name(repo_root: &Path) -> String {
    let absolute = repo_root
        .canonicalize()
        .unwrap_or_else(|_| repo_root.to_path_buf());
    let name = absolute
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    sanitize_segment(&name, "repository")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPUB_3: &str = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";
    const NPUB_7: &str = "npub1tj7lqerwtk6w4guc7djl96n6pc75rxm7qvcw888f90w7mjkylx7qmwjus6";

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?} failed");
    }

    #[test]
    fn url_forms() {
        let cases = [
            ("https://github.com/tools/htci.git", Some("tools/htci")),
            ("https://github.com/tools/htci", Some("tools/htci")),
            ("https://user:pw@example.org:8443/a/b/c.git/", Some("a/b/c")),
            ("git@github.com:tools/htci.git", Some("tools/htci")),
            ("ssh://git@example.org/srv/repo.git", Some("srv/repo")),
            (&format!("htree://{NPUB_3}/htci"), Some("htci")),
            ("https://example.org/../../etc", Some("etc")),
            ("https://example.org/my repo.git", Some("my_repo")),
            ("/srv/git/repo.git", None),
            ("file:///srv/git/repo.git", None),
            ("./relative/repo", None),
            ("https://example.org/", None),
        ];
        for (url, expected) in cases {
            assert_eq!(repo_path_from_url(url).as_deref(), expected, "{url}");
        }
    }

    #[test]
    fn locate_uses_origin_and_runner() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("checkout");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q"]);
        git(
            &repo,
            &[
                "remote",
                "add",
                "origin",
                "https://github.com/tools/htci.git",
            ],
        );
        let location = locate_repo(&repo, NPUB_3).unwrap();
        assert_eq!(location.owner_npub, NPUB_3);
        assert_eq!(location.owner_source, OwnerSource::Runner);
        assert_eq!(location.repo_path, "tools/htci");
        assert_eq!(
            location.origin_url.as_deref(),
            Some("https://github.com/tools/htci.git")
        );
        assert_eq!(
            location.repo_hash(),
            ci_core::hash::repo_hash(NPUB_3, "tools/htci")
        );
    }

    #[test]
    fn locate_prefers_org_npub() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("my.project");
        std::fs::create_dir_all(repo.join(".hashtree")).unwrap();
        std::fs::write(
            repo.join(".hashtree/ci.toml"),
            format!("[ci]\norg_npub = \"{NPUB_7}\"\n"),
        )
        .unwrap();
        git(&repo, &["init", "-q"]);
        let location = locate_repo(&repo, NPUB_3).unwrap();
        assert_eq!(location.owner_npub, NPUB_7);
        assert_eq!(location.owner_source, OwnerSource::RepoConfig);
        assert_eq!(location.repo_path, "my.project");
        assert_eq!(location.origin_url, None);
    }

    #[test]
    fn locate_without_git_uses_folder_name() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("plain folder");
        std::fs::create_dir(&repo).unwrap();
        let location = locate_repo(&repo, NPUB_3).unwrap();
        assert_eq!(location.repo_path, "plain_folder");
    }

    #[test]
    fn locate_rejects_invalid_runner_npub() {
        let dir = tempfile::tempdir().unwrap();
        let error = locate_repo(dir.path(), "npub1bad").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid owner npub \"npub1bad\"")
        );
    }
}
