//! `htci verify FILE`: checks the signature of a stored result (a commit
//! summary or a job result) against the `runner_npub` it names.
//!
//! A valid signature proves that the holder of that npub's key signed
//! exactly this content. It does not prove that the npub belongs to a
//! runner you trust; `--npub` checks that too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ci_core::signing::{RUNNER_NPUB_FIELD, parse_npub, verify_value};
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
                  2 when FILE cannot be read or is not valid JSON."
)]
pub struct VerifyArgs {
    /// A signed result: a commit's `result.json` or a job's result file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Also require that the result was signed by this runner npub.
    #[arg(long, value_name = "NPUB")]
    pub npub: Option<String>,
}

pub fn execute(args: &VerifyArgs) -> ExitCode {
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

/// Reads and parses the file; the error names it.
fn read_json(file: &Path) -> Result<Value, String> {
    let bytes =
        std::fs::read(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
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
