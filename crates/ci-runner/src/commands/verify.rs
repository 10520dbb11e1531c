//! `htci verify PATH`: checks the signature of a stored result (a commit
//! summary or a job result) against the `runner_npub` it names. Given a
//! commit folder, it checks the summary, every job result and every log
//! against the hashes the results sign, that the folder is named after
//! the signed commit (or is its `dirty/` folder for a run with
//! uncommitted changes), and that every job folder is listed.
//!
//! A valid signature proves that the holder of that npub's key signed
//! exactly this content. It does not prove that the npub belongs to a
//! runner you trust; `--npub` checks that too.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ci_core::signing::{RUNNER_NPUB_FIELD, parse_npub, verify_value};
use ci_store::fs::MAX_RESULT_FILE_SIZE;
use ci_store::{FolderCheck, check_commit_folder};
use clap::Args;
use serde_json::Value;

/// Exit status when the signature does not verify.
const EXIT_NOT_VERIFIED: u8 = 1;
/// Exit status when the file cannot be read or is not JSON.
const EXIT_UNREADABLE: u8 = 2;

#[derive(Args)]
#[command(
    after_help = "Exit status: 0 when the signature verifies, 1 when it does not (the content \
                  was changed, the signature or npub is missing or invalid, or --npub differs), \
                  2 when PATH cannot be read or is not valid JSON. For a commit folder, any \
                  job result or log that does not match, a folder name that is not the signed commit, or a \
                  job folder the summary does not list also gives 1."
)]
pub struct VerifyArgs {
    /// A signed result file (a commit's `result.json` or a job's result
    /// file), or a commit folder to check with its job results and logs.
    #[arg(value_name = "PATH")]
    pub file: PathBuf,

    /// Also require that the result was signed by this runner npub.
    #[arg(long, value_name = "NPUB")]
    pub npub: Option<String>,
}

pub fn execute(args: &VerifyArgs) -> ExitCode {
    if args.file.is_dir() {
        return verify_folder(&args.file, args.npub.as_deref());
    }
    let document = match read_json(&args.file) {
        Ok(document) => document,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };

    match check(&document, args.npub.as_deref()) {
        Ok(signer) => {
            println!("verified: signed by {signer}");
            print_summary(&document);
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("error: {}: not verified: {reason}", args.file.display());
            ExitCode::from(EXIT_NOT_VERIFIED)
        }
    }
}

/// Checks a commit folder: the summary, every job result and every log.
fn verify_folder(dir: &Path, expected_npub: Option<&str>) -> ExitCode {
    let folder = match check_commit_folder(dir) {
        Ok(folder) => folder,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let signer = check(&folder.summary.value, expected_npub);
    let problems = folder_problems(&folder, &signer);
    if let (Ok(signer), true) = (&signer, problems.is_empty()) {
        println!("verified: signed by {signer}");
        print_summary(&folder.summary.value);
        println!(
            "logs: {} files match their signed hashes",
            folder.logs_matched
        );
        return ExitCode::SUCCESS;
    }

    eprintln!(
        "error: {}: not verified: {} problem(s)",
        dir.display(),
        problems.len()
    );
    for problem in &problems {
        eprintln!("  {problem}");
    }
    ExitCode::from(EXIT_NOT_VERIFIED)
}

/// Lists every problem of a checked folder, one line each.
fn folder_problems(folder: &FolderCheck, signer: &Result<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(reason) = signer {
        problems.push(format!("result.json: {reason}"));
    }
    for job in &folder.jobs {
        let path = &job.summary.path;
        match &job.document {
            Err(error) => problems.push(format!("{path}: {error}")),
            Ok(document) => {
                if let Err(error) = &document.signature {
                    problems.push(format!("{path}: {error}"));
                }
            }
        }
        problems.extend(
            job.problems
                .iter()
                .map(|problem| format!("{path}: {problem}")),
        );
    }
    problems.extend(folder.log_problems.iter().cloned());
    problems.extend(folder.folder_problems.iter().cloned());
    problems
}

/// Reads and parses the file; the error names it.
///
/// A symbolic link given on the command line is followed, but the target
/// must be a regular file of at most [`MAX_RESULT_FILE_SIZE`] bytes, so a
/// FIFO or a device such as `/dev/zero` cannot hang the command.
fn read_json(file: &Path) -> Result<Value, String> {
    let cannot_read = |error: std::io::Error| format!("cannot read {}: {error}", file.display());
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)
        .map_err(cannot_read)?;
    if !opened.metadata().map_err(cannot_read)?.is_file() {
        return Err(format!(
            "cannot read {}: not a regular file",
            file.display()
        ));
    }

    let mut bytes = Vec::new();
    opened
        .take(MAX_RESULT_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_RESULT_FILE_SIZE {
        return Err(format!(
            "{}: larger than the limit of {MAX_RESULT_FILE_SIZE} bytes for a result",
            file.display()
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|error| format!("{}: invalid JSON: {error}", file.display()))
}

/// Verifies the signature and the expected signer; returns the signer's
/// npub.
fn check(document: &Value, expected_npub: Option<&str>) -> Result<String, String> {
    verify_value(document).map_err(|error| error.to_string())?;
    let signer = document
        .get(RUNNER_NPUB_FIELD)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();

    if let Some(expected) = expected_npub {
        parse_npub(expected).map_err(|reason| format!("invalid --npub {expected:?}: {reason}"))?;
        if expected != signer {
            return Err(format!(
                "signed by {signer}, not by the expected runner {expected}"
            ));
        }
    }
    Ok(signer)
}

/// Prints the status, commit and jobs of the verified document.
fn print_summary(document: &Value) {
    let field = |name: &str| document.get(name).and_then(Value::as_str).unwrap_or("?");
    println!("status: {}", field("status"));
    println!("commit: {}", field("commit"));
    match document.get("jobs").and_then(Value::as_array) {
        Some(jobs) => {
            println!("jobs: {}", jobs.len());
            for job in jobs {
                let text = |name: &str| job.get(name).and_then(Value::as_str).unwrap_or("?");
                println!(
                    "  {:<9} {} / {}",
                    text("status"),
                    text("workflow"),
                    text("job_name")
                );
            }
        }
        None => println!("job: {} / {}", field("workflow"), field("job_name")),
    }
}
