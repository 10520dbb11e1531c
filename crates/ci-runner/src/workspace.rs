//! Job directories and workspaces.
//!
//! Each job gets its own directory under the run directory:
//!
//! ```text
//! <run-dir>/<job-key>/
//!   workspace/    a git checkout of the commit (GITHUB_WORKSPACE)
//!   temp/         RUNNER_TEMP: step scripts, event.json
//!   files/        the per-step GITHUB_OUTPUT, GITHUB_ENV, ... files
//!   tool-cache/   RUNNER_TOOL_CACHE
//! ```
//!
//! Every file a step's process uses lives in this one directory, so a
//! sandbox can bind-mount it. The workspace is a real checkout made with
//! `git clone --shared --no-checkout` and a checkout of the commit; for a
//! dirty tree the changed and untracked (not ignored) files of the user's
//! working tree are copied over it. The user's checkout is only read.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::git::{self, GitError, RepoInfo};

/// Errors of preparing a job directory.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("failed to create job directory {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to check out {sha} into {path}: {source}")]
    Checkout {
        sha: String,
        path: PathBuf,
        #[source]
        source: GitError,
    },
    #[error("failed to copy changed file {path} into the workspace: {source}")]
    Overlay {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The directories of one job on the host.
#[derive(Debug, Clone)]
pub struct JobDirs {
    pub root: PathBuf,
    pub workspace: PathBuf,
    pub temp: PathBuf,
    pub files: PathBuf,
    pub tool_cache: PathBuf,
}

impl JobDirs {
    /// Creates the (empty) directories of a job under `run_dir`.
    pub fn create(run_dir: &Path, job_key: &str) -> Result<Self, WorkspaceError> {
        let root = run_dir.join(sanitize(job_key));
        let dirs = Self {
            workspace: root.join("workspace"),
            temp: root.join("temp"),
            files: root.join("files"),
            tool_cache: root.join("tool-cache"),
            root,
        };
        for dir in [&dirs.workspace, &dirs.temp, &dirs.files, &dirs.tool_cache] {
            fs::create_dir_all(dir).map_err(|source| WorkspaceError::Create {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(dirs)
    }
}

/// Makes a job key usable as one path component.
pub fn sanitize(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "job".into()
    } else {
        cleaned
    }
}

/// Checks out the commit of `repo` into `dest` (created if missing). With
/// `overlay_dirty`, the working tree's changes are copied on top.
pub fn checkout(repo: &RepoInfo, dest: &Path, overlay_dirty: bool) -> Result<(), WorkspaceError> {
    let checkout_error = |source| WorkspaceError::Checkout {
        sha: repo.sha.clone(),
        path: dest.to_path_buf(),
        source,
    };

    fs::create_dir_all(dest).map_err(|source| WorkspaceError::Create {
        path: dest.to_path_buf(),
        source,
    })?;
    let parent = dest.parent().unwrap_or(dest);
    let source = repo.root.to_string_lossy().into_owned();
    let target = dest.to_string_lossy().into_owned();
    git::git(
        parent,
        &[
            "clone",
            "--quiet",
            "--shared",
            "--no-checkout",
            // No template: a job needs no sample hooks, and fewer files make
            // the checkout and its removal faster.
            "--template=",
            &source,
            &target,
        ],
    )
    .map_err(checkout_error)?;

    let branch_args;
    let args: &[&str] = if repo.ref_type == "branch" && repo.ref_name != "HEAD" {
        branch_args = [
            "checkout",
            "--quiet",
            "--force",
            "-B",
            &repo.ref_name,
            &repo.sha,
        ];
        &branch_args
    } else {
        &["checkout", "--quiet", "--force", "--detach", &repo.sha]
    };
    git::git(dest, args).map_err(checkout_error)?;

    if overlay_dirty && repo.dirty {
        overlay_changes(&repo.root, dest)?;
    }
    Ok(())
}

/// Copies changed and untracked files of `source_root` into `dest` and
/// removes files deleted there.
fn overlay_changes(source_root: &Path, dest: &Path) -> Result<(), WorkspaceError> {
    let changed = git::changed_paths(source_root).map_err(|source| WorkspaceError::Checkout {
        sha: "working tree".into(),
        path: dest.to_path_buf(),
        source,
    })?;

    for change in changed {
        let from = source_root.join(&change.path);
        let to = dest.join(&change.path);
        let result = if change.exists {
            copy_entry(&from, &to)
        } else {
            match fs::remove_file(&to) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        };
        result.map_err(|source| WorkspaceError::Overlay { path: from, source })?;
    }
    Ok(())
}

/// Copies one file or symlink, keeping the permission bits.
fn copy_entry(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    let meta = from.symlink_metadata()?;
    if to.symlink_metadata().is_ok() {
        fs::remove_file(to)?;
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_job_keys() {
        assert_eq!(sanitize("build (linux, 1)"), "build__linux__1_");
        assert_eq!(sanitize("../x"), "___x");
        assert_eq!(sanitize(""), "job");
    }
}
