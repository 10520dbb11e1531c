//! `htci`: runs GitHub Actions workflows without Docker and without root,
//! signs the results with the runner's Nostr key and stores them.

mod commands;
mod executor;
mod git;
mod launcher;
mod mask;
mod output;
mod results;
mod sandbox_launcher;
mod scheduler;
mod untrusted_fs;
mod workspace;

use std::ffi::OsStr;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "htci", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the workflows of a repository (or one workflow file).
    Check(commands::check::CheckArgs),
    /// Evaluate one `${{ }}` expression and print the result as JSON.
    Expr(commands::expr::ExprArgs),
    /// Create this runner's identity: a Nostr key pair in runner.toml.
    Init(commands::init::InitArgs),
    /// List the stored results of a repository and verify their signatures.
    Results(commands::results::ResultsArgs),
    /// Run the workflows of a repository on this machine.
    Run(commands::run::RunArgs),
    #[command(about = SANDBOX_ABOUT)]
    Sandbox(commands::sandbox::SandboxArgs),
    /// Check the signature of a stored result file.
    Verify(commands::verify::VerifyArgs),
    /// Print this runner's npub, name and tags.
    Whoami(commands::whoami::WhoamiArgs),
}

/// Help text of `htci sandbox`, shared by both of its parsers.
const SANDBOX_ABOUT: &str = "Run one command in the sandbox (rootless namespaces, read-only root)";

fn main() -> ExitCode {
    // First, while the process has one thread: may become the sandbox init.
    ci_sandbox::init::run_if_requested();
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new("sandbox")) {
        return commands::sandbox::execute(&parse_sandbox_args());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => commands::check::execute(&args),
        Command::Expr(args) => commands::expr::execute(&args),
        Command::Init(args) => commands::init::execute(&args),
        Command::Results(args) => commands::results::execute(&args),
        Command::Run(args) => commands::run::execute(&args),
        Command::Sandbox(args) => commands::sandbox::execute(&args),
        Command::Verify(args) => commands::verify::execute(&args),
        Command::Whoami(args) => commands::whoami::execute(&args),
    }
}

/// Parses `htci sandbox ...` with a parser of that subcommand alone.
/// `htci sandbox` is timed against bubblewrap, and building the parser of
/// every subcommand took about 0.15 ms of its start-up. Help and errors
/// read as with the whole parser.
fn parse_sandbox_args() -> commands::sandbox::SandboxArgs {
    let program = std::env::args_os()
        .next()
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name().map(OsStr::to_owned))
        .map_or_else(
            || "htci".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
    let command = commands::sandbox::SandboxArgs::augment_args(clap::Command::new("sandbox"))
        .bin_name(format!("{program} sandbox"))
        .about(SANDBOX_ABOUT);
    let matches = command.get_matches_from(std::env::args_os().skip(1));
    commands::sandbox::SandboxArgs::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}
