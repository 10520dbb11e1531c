//! `htci results [PATH]`: lists the stored results of a repository, newest
//! first, with the status of every job and whether each signature
//! verified. Every file is verified on listing. A commit's run with
//! uncommitted changes, stored in its `dirty/` folder, is listed next to
//! the clean result and marked `(dirty)`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ci_core::config::{ConfigError, RepoCiConfig, RunnerConfig};
use ci_core::dirs::display_path;
use ci_store::{FsStore, Listing, RepoLocation, StoredCommit, StoredJob, locate_repo};
use clap::Args;
use serde_json::{Value, json};

/// Exit status when a stored file does not verify or cannot be read.
const EXIT_NOT_VERIFIED: u8 = 1;
/// Exit status for a missing repository, identity or store.
const EXIT_ERROR: u8 = 2;

/// Shortest commit prefix accepted by `--commit`.
const MIN_COMMIT_PREFIX: usize = 4;

#[derive(Args)]
#[command(
    after_help = "Exit status: 0 when every listed file verifies (or nothing is stored), 1 when \
                  a signature does not verify or a stored file cannot be read, 2 when PATH or \
                  the configuration cannot be read."
)]
pub struct ResultsArgs {
    /// The repository whose results are listed.
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: PathBuf,

    /// Show only the commit with this hash or hash prefix (at least 4
    /// characters).
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn execute(args: &ResultsArgs) -> ExitCode {
    let (location, store, listing) = match load_listing(args) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_ERROR);
        }
    };

    if args.json {
        println!("{}", listing_json(&location, &store, &listing));
    } else {
        print_listing(&location, &store, &listing, args.commit.as_deref());
    }

    let all_verified =
        listing.unreadable.is_empty() && listing.commits.iter().all(StoredCommit::is_verified);
    if all_verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_VERIFIED)
    }
}

fn load_listing(args: &ResultsArgs) -> Result<(RepoLocation, FsStore, Listing), String> {
    if !args.path.is_dir() {
        return Err(format!(
            "{} is not a directory; pass the repository whose results to list",
            args.path.display()
        ));
    }
    let commit_filter = match &args.commit {
        Some(prefix) => Some(validate_prefix(prefix)?),
        None => None,
    };

    let runner_npub = owner_fallback(&args.path)?;
    let location = locate_repo(&args.path, &runner_npub).map_err(|e| e.to_string())?;
    let store = FsStore::default_location().map_err(|e| e.to_string())?;
    let mut listing = store
        .list_results(None, &location.owner_npub, &location.repo_path)
        .map_err(|e| e.to_string())?;
    if let Some(prefix) = commit_filter {
        listing
            .commits
            .retain(|commit| commit.path.commit().starts_with(&prefix));
    }
    Ok((location, store, listing))
}

/// Returns the npub that owns the repository's results when its
/// `.hashtree/ci.toml` names no `org_npub`: this runner's own npub. No
/// identity is created, because listing only reads.
fn owner_fallback(repo: &Path) -> Result<String, String> {
    let repo_config = RepoCiConfig::load(repo).map_err(|e| e.to_string())?;
    if let Some(org) = repo_config.org_npub {
        return Ok(org);
    }
    let path = RunnerConfig::default_path().map_err(|e| e.to_string())?;
    match RunnerConfig::load(&path) {
        Ok(config) => Ok(config.npub()),
        Err(ConfigError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(format!(
                "{}: no runner identity, and {} names no org_npub, so the owner of the results \
                 is unknown; run htci init or set [ci] org_npub",
                display_path(&path),
                RepoCiConfig::path_in(repo).display()
            ))
        }
        Err(error) => Err(error.to_string()),
    }
}

fn validate_prefix(prefix: &str) -> Result<String, String> {
    let lower = prefix.to_ascii_lowercase();
    let hex = lower.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && (MIN_COMMIT_PREFIX..=64).contains(&lower.len()) {
        Ok(lower)
    } else {
        Err(format!(
            "invalid --commit {prefix:?}: expected {MIN_COMMIT_PREFIX} to 64 hex characters of a \
             commit hash"
        ))
    }
}

fn print_listing(
    location: &RepoLocation,
    store: &FsStore,
    listing: &Listing,
    commit_filter: Option<&str>,
) {
    println!(
        "results for {} (owner {}, repo_hash {})",
        location.repo_path,
        location.owner_npub,
        location.repo_hash()
    );
    if listing.commits.is_empty() && listing.unreadable.is_empty() {
        match commit_filter {
            Some(prefix) => println!(
                "no stored results for a commit starting with {prefix} in {}",
                display_path(store.root())
            ),
            None => println!("no stored results in {}", display_path(store.root())),
        }
    }

    for commit in &listing.commits {
        let summary = &commit.summary.result;
        println!();
        println!(
            "{}  {:<9} {}  {}{}{}  {}",
            short(commit.path.commit()),
            summary.status,
            ci_core::rfc3339::format(summary.finished_at),
            summary.event,
            summary
                .git_ref
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default(),
            if summary.dirty { " (dirty)" } else { "" },
            verdict(&commit.summary.signature, &commit.problems),
        );
        println!("  runner {}", summary.runner_npub);
        for job in &commit.jobs {
            println!(
                "  {:<9} {} / {}  {}",
                job.summary.status,
                job.summary.workflow,
                job.summary.job_name,
                job_verdict(job)
            );
        }
    }
    for error in &listing.unreadable {
        println!();
        println!("unreadable: {error}");
    }
}

fn short(commit: &str) -> &str {
    &commit[..12.min(commit.len())]
}

/// Describes whether a document verified: a bad signature first, else
/// the first way it disagrees with where it is stored.
fn verdict(signature: &Result<(), ci_core::VerifyError>, problems: &[String]) -> String {
    match (signature, problems.first()) {
        (Err(error), _) => format!("signature FAILED: {error}"),
        (Ok(()), Some(problem)) => format!("NOT VERIFIED: {problem}"),
        (Ok(()), None) => "signature ok".to_string(),
    }
}

fn job_verdict(job: &StoredJob) -> String {
    match &job.document {
        Ok(document) => verdict(&document.signature, &job.problems),
        Err(error) => format!("NOT VERIFIED: {error}"),
    }
}

fn listing_json(location: &RepoLocation, store: &FsStore, listing: &Listing) -> Value {
    json!({
        "owner_npub": location.owner_npub,
        "repo_path": location.repo_path,
        "repo_hash": location.repo_hash(),
        "store": store.root(),
        "commits": listing.commits.iter().map(commit_json).collect::<Vec<_>>(),
        "unreadable": listing.unreadable.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
    })
}

fn commit_json(commit: &StoredCommit) -> Value {
    let summary = &commit.summary.result;
    json!({
        "commit": commit.path.commit(),
        "folder": if commit.path.is_dirty() { "dirty" } else { "clean" },
        "status": summary.status,
        "started_at": ci_core::rfc3339::format(summary.started_at),
        "finished_at": ci_core::rfc3339::format(summary.finished_at),
        "event": summary.event,
        "ref": summary.git_ref,
        "dirty": summary.dirty,
        "runner_npub": summary.runner_npub,
        "dir": commit.dir,
        "verified": commit.is_verified(),
        "signature_error": commit.summary.signature.as_ref().err().map(|e| e.to_string()),
        "problems": commit.problems,
        "jobs": commit.jobs.iter().map(job_json).collect::<Vec<_>>(),
    })
}

fn job_json(job: &StoredJob) -> Value {
    let error = match &job.document {
        Ok(document) => document.signature.as_ref().err().map(|e| e.to_string()),
        Err(error) => Some(error.to_string()),
    };
    json!({
        "key": job.summary.key,
        "job_id": job.summary.job_id,
        "job_name": job.summary.job_name,
        "workflow": job.summary.workflow,
        "status": job.summary.status,
        "path": job.summary.path,
        "verified": error.is_none() && job.problems.is_empty(),
        "error": error,
        "problems": job.problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_prefix_rules() {
        assert_eq!(validate_prefix("ABCD").unwrap(), "abcd");
        assert!(validate_prefix("abc").is_err());
        assert!(validate_prefix("xyz0").is_err());
        assert!(validate_prefix(&"a".repeat(65)).is_err());
    }

    #[test]
    fn verdict_texts() {
        assert_eq!(verdict(&Ok(()), &[]), "signature ok");
        assert_eq!(
            verdict(&Ok(()), &["commit differs".to_string()]),
            "NOT VERIFIED: commit differs"
        );
        assert_eq!(
            verdict(&Err(ci_core::VerifyError::MissingSignature), &[]),
            "signature FAILED: missing signature: the result has no \"signature\" field"
        );
    }
}
